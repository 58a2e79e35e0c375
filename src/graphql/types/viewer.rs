use async_graphql::{Context, Object, Result};

use super::connection::{Connection, read_page};
use super::{Member, MemberConnection, User};
use crate::domain::members;
use crate::domain::pagination::PageArgs;
use crate::graphql::context::context;

/// The signed-in user and their memberships.
pub struct Viewer {
    pub user_id: i64,
}

#[Object]
impl Viewer {
    async fn user(&self, ctx: &Context<'_>) -> Result<User> {
        User::load(ctx, self.user_id).await
    }

    /// The viewer's memberships, each with its role and permissions.
    async fn memberships(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<MemberConnection> {
        let args = PageArgs::new(first, after, last, before);
        let user_id = self.user_id;
        let (page, total) = read_page(
            ctx,
            async |c| members::of_user(c, user_id, &args).await,
            async |c| members::count_of_user(c, user_id).await,
        )
        .await?;
        // These are the viewer's own memberships: their standing in each.
        let mine = page
            .edges
            .iter()
            .map(|(_, m)| (m.organization_id, m.clone()));
        context(ctx)
            .loaders
            .viewer_memberships
            .feed_many(mine)
            .await;
        Ok(Connection::new(page.map(Member::from), total))
    }
}
