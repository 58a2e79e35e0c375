//! The GraphQL API: schema assembly and the root types. Resolvers parse
//! IDs, find the viewer, call one domain function and wrap its result.

mod error;
mod ids;
mod invitations;
mod loaders;
mod mutation;
mod query;
mod subscription;
mod types;

use std::sync::Arc;

use async_graphql::{Context, MergedObject, Schema};

use crate::auth::Viewer;
use crate::db::Db;
use crate::domain::invitations::InvitationSettings;
use crate::events::EventBus;
use crate::mail::OutboxHandle;

pub use loaders::Loaders;

pub use query::Query;
pub use subscription::Subscription;

pub type OrgSchema = Schema<Query, Mutation, Subscription>;

/// Every mutation: accounts, organizations and their members, invitations.
#[derive(MergedObject, Default)]
pub struct Mutation(
    mutation::AccountMutation,
    mutation::OrganizationMutation,
    invitations::InvitationMutation,
);

/// What the server shares with every request.
#[derive(Clone)]
pub struct Services {
    pub db: Db,
    pub events: EventBus,
    pub outbox: OutboxHandle,
    pub invitations: InvitationSettings,
}

/// What every resolver of one request can reach.
pub struct RequestContext {
    pub db: Db,
    pub events: EventBus,
    pub outbox: OutboxHandle,
    pub invitations: InvitationSettings,
    pub viewer: Option<Viewer>,
    /// Shared with the request's subscription streams, which refresh it per event.
    pub loaders: Arc<Loaders>,
}

impl RequestContext {
    pub fn new(services: &Services, viewer: Option<Viewer>) -> RequestContext {
        let Services {
            db,
            events,
            outbox,
            invitations,
        } = services.clone();
        let loaders = Arc::new(Loaders::new(&db, viewer.map(|v| v.user_id)));
        RequestContext {
            db,
            events,
            outbox,
            invitations,
            viewer,
            loaders,
        }
    }
}

fn context<'a>(ctx: &Context<'a>) -> &'a RequestContext {
    ctx.data_unchecked::<RequestContext>()
}

fn require_viewer(ctx: &Context<'_>) -> async_graphql::Result<Viewer> {
    context(ctx).viewer.ok_or_else(error::unauthenticated)
}

pub fn build_schema() -> OrgSchema {
    Schema::build(Query, Mutation::default(), Subscription).finish()
}

/// The global ID clients use for an organization.
pub fn organization_id(id: i64) -> async_graphql::ID {
    ids::encode(ids::Kind::Organization, id)
}

/// The schema in SDL, as `schema.graphql` holds it.
pub fn print_schema() -> String {
    build_schema().sdl()
}
