//! The GraphQL API: schema assembly and the root types. Resolvers parse
//! IDs, find the viewer, call one domain function and wrap its result.

mod error;
mod ids;
mod loaders;
mod mutation;
mod query;
mod types;

use async_graphql::{Context, EmptySubscription, Schema};

use crate::auth::Viewer;
use crate::db::Db;
use crate::events::EventBus;

pub use loaders::Loaders;
pub use mutation::Mutation;
pub use query::Query;

pub type OrgSchema = Schema<Query, Mutation, EmptySubscription>;

/// What every resolver of one request can reach.
pub struct RequestContext {
    pub db: Db,
    pub events: EventBus,
    pub viewer: Option<Viewer>,
    pub loaders: Loaders,
}

impl RequestContext {
    pub fn new(db: &Db, events: &EventBus, viewer: Option<Viewer>) -> RequestContext {
        RequestContext {
            db: db.clone(),
            events: events.clone(),
            viewer,
            loaders: Loaders::new(db, viewer.map(|v| v.user_id)),
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
    Schema::build(Query, Mutation, EmptySubscription).finish()
}

/// The global ID clients use for an organization.
pub fn organization_id(id: i64) -> async_graphql::ID {
    ids::encode(ids::Kind::Organization, id)
}

/// The schema in SDL, as `schema.graphql` holds it.
pub fn print_schema() -> String {
    build_schema().sdl()
}
