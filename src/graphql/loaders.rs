//! The request's DataLoaders: every related object a page of results needs
//! is fetched in one statement per kind, whatever the page size. A set is
//! made per request, so no cache is shared between requests or viewers.

use std::collections::HashMap;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use futures_util::FutureExt;

use crate::db::{BoxedWork, Db, boxed_work};
use crate::domain::DomainError;
use crate::domain::audit::{self, AuditEvent};
use crate::domain::members::{self, Membership};
use crate::domain::organizations::{self, Organization};
use crate::domain::users::{self, User};

type Loads<V> = DataLoader<BatchLoader<V>, HashMapCache>;

pub struct Loaders {
    pub users: Loads<User>,
    pub organizations: Loads<Organization>,
    pub memberships: Loads<Membership>,
    /// The viewer's own membership in each organization, by organization id.
    pub viewer_memberships: Loads<Membership>,
    /// Each organization's owner, by organization id.
    pub owners: Loads<Membership>,
    pub audit_events: Loads<AuditEvent>,
}

impl Loaders {
    pub fn new(db: &Db, viewer_user_id: Option<i64>) -> Loaders {
        fn loads<V: Send + Sync + Clone + 'static>(
            db: &Db,
            fetch: Fetch<V>,
            key: fn(&V) -> i64,
        ) -> Loads<V> {
            DataLoader::with_cache(
                BatchLoader {
                    db: db.clone(),
                    fetch,
                    key,
                },
                tokio::spawn,
                HashMapCache::default(),
            )
        }
        Loaders {
            users: loads(
                db,
                Box::new(|ids| {
                    boxed_work(move |c| async move { users::by_ids(c, &ids).await }.boxed())
                }),
                |u: &User| u.id,
            ),
            organizations: loads(
                db,
                Box::new(|ids| {
                    boxed_work(move |c| async move { organizations::by_ids(c, &ids).await }.boxed())
                }),
                |o: &Organization| o.id,
            ),
            memberships: loads(
                db,
                Box::new(|ids| {
                    boxed_work(move |c| async move { members::by_ids(c, &ids).await }.boxed())
                }),
                |m: &Membership| m.id,
            ),
            viewer_memberships: loads(
                db,
                Box::new(move |ids| {
                    boxed_work(move |c| {
                        async move {
                            match viewer_user_id {
                                Some(user_id) => members::of_user_in(c, user_id, &ids).await,
                                None => Ok(Vec::new()),
                            }
                        }
                        .boxed()
                    })
                }),
                |m: &Membership| m.organization_id,
            ),
            owners: loads(
                db,
                Box::new(|ids| {
                    boxed_work(move |c| async move { members::owners_of(c, &ids).await }.boxed())
                }),
                |m: &Membership| m.organization_id,
            ),
            audit_events: loads(
                db,
                Box::new(|ids| {
                    boxed_work(move |c| async move { audit::by_ids(c, &ids).await }.boxed())
                }),
                |e: &AuditEvent| e.id,
            ),
        }
    }
}

impl Loaders {
    /// Forgets what was loaded: a mutation has changed it.
    pub fn forget_all(&self) {
        self.users.clear::<i64>();
        self.organizations.clear::<i64>();
        self.memberships.clear::<i64>();
        self.viewer_memberships.clear::<i64>();
        self.owners.clear::<i64>();
        self.audit_events.clear::<i64>();
    }
}

/// The database work that fetches the values of some keys.
type Fetch<V> = Box<dyn Fn(Vec<i64>) -> BoxedWork<Vec<V>, DomainError> + Send + Sync>;

/// Loads values by an i64 key in one statement per batch of keys.
pub struct BatchLoader<V> {
    db: Db,
    fetch: Fetch<V>,
    key: fn(&V) -> i64,
}

impl<V: Send + Sync + Clone + 'static> Loader<i64> for BatchLoader<V> {
    type Value = V;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, V>, async_graphql::Error> {
        let found = self.db.read((self.fetch)(keys.to_vec())).await?;
        Ok(found
            .into_iter()
            .map(|value| ((self.key)(&value), value))
            .collect())
    }
}
