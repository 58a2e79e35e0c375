//! The request's DataLoaders: every related object a page of results needs
//! is fetched in one statement per kind, whatever the page size. A set is
//! made per request, so no cache is shared between requests or viewers.

use std::collections::HashMap;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use futures_util::FutureExt;

use crate::db::Db;
use crate::domain::members::{self, Membership};
use crate::domain::organizations::{self, Organization};
use crate::domain::users::{self, User};

pub struct Loaders {
    pub users: DataLoader<UserLoader, HashMapCache>,
    pub organizations: DataLoader<OrganizationLoader, HashMapCache>,
    pub memberships: DataLoader<MembershipLoader, HashMapCache>,
    /// The viewer's own membership in each organization, by organization id.
    pub viewer_memberships: DataLoader<ViewerMembershipLoader, HashMapCache>,
    /// Each organization's owner, by organization id.
    pub owners: DataLoader<OwnerLoader, HashMapCache>,
}

impl Loaders {
    pub fn new(db: &Db, viewer_user_id: Option<i64>) -> Loaders {
        fn loader<T: Send + Sync + 'static>(inner: T) -> DataLoader<T, HashMapCache> {
            DataLoader::with_cache(inner, tokio::spawn, HashMapCache::default())
        }
        Loaders {
            users: loader(UserLoader(db.clone())),
            organizations: loader(OrganizationLoader(db.clone())),
            memberships: loader(MembershipLoader(db.clone())),
            viewer_memberships: loader(ViewerMembershipLoader {
                db: db.clone(),
                user_id: viewer_user_id,
            }),
            owners: loader(OwnerLoader(db.clone())),
        }
    }
}

pub struct UserLoader(Db);
pub struct OrganizationLoader(Db);
pub struct MembershipLoader(Db);
pub struct OwnerLoader(Db);
pub struct ViewerMembershipLoader {
    db: Db,
    user_id: Option<i64>,
}

type Loaded<V> = Result<HashMap<i64, V>, async_graphql::Error>;

impl Loader<i64> for UserLoader {
    type Value = User;
    type Error = async_graphql::Error;

    async fn load(&self, ids: &[i64]) -> Loaded<User> {
        let ids = ids.to_vec();
        let found = self
            .0
            .read(move |c| async move { users::by_ids(c, &ids).await }.boxed())
            .await?;
        Ok(found.into_iter().map(|u| (u.id, u)).collect())
    }
}

impl Loader<i64> for OrganizationLoader {
    type Value = Organization;
    type Error = async_graphql::Error;

    async fn load(&self, ids: &[i64]) -> Loaded<Organization> {
        let ids = ids.to_vec();
        let found = self
            .0
            .read(move |c| async move { organizations::by_ids(c, &ids).await }.boxed())
            .await?;
        Ok(found.into_iter().map(|o| (o.id, o)).collect())
    }
}

impl Loader<i64> for MembershipLoader {
    type Value = Membership;
    type Error = async_graphql::Error;

    async fn load(&self, ids: &[i64]) -> Loaded<Membership> {
        let ids = ids.to_vec();
        let found = self
            .0
            .read(move |c| async move { members::by_ids(c, &ids).await }.boxed())
            .await?;
        Ok(found.into_iter().map(|m| (m.id, m)).collect())
    }
}

impl Loader<i64> for ViewerMembershipLoader {
    type Value = Membership;
    type Error = async_graphql::Error;

    async fn load(&self, organization_ids: &[i64]) -> Loaded<Membership> {
        let Some(user_id) = self.user_id else {
            return Ok(HashMap::new());
        };
        let ids = organization_ids.to_vec();
        let found = self
            .db
            .read(move |c| async move { members::of_user_in(c, user_id, &ids).await }.boxed())
            .await?;
        Ok(found.into_iter().map(|m| (m.organization_id, m)).collect())
    }
}

impl Loader<i64> for OwnerLoader {
    type Value = Membership;
    type Error = async_graphql::Error;

    async fn load(&self, organization_ids: &[i64]) -> Loaded<Membership> {
        let ids = organization_ids.to_vec();
        let found = self
            .0
            .read(move |c| async move { members::owners_of(c, &ids).await }.boxed())
            .await?;
        Ok(found.into_iter().map(|m| (m.organization_id, m)).collect())
    }
}
