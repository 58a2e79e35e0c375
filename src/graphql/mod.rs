//! The GraphQL API: schema assembly and the root types. Resolvers parse
//! IDs, find the viewer, call one domain function and wrap its result.

mod error;
mod ids;
mod invitations;
mod limits;
mod loaders;
mod mutation;
mod query;
mod subscription;
mod types;

use std::net::IpAddr;
use std::sync::Arc;

use async_graphql::{Context, ErrorExtensions, MergedObject, Schema};

use crate::auth::Viewer;
use crate::db::Db;
use crate::domain::invitations::InvitationSettings;
use crate::events::EventBus;
use crate::mail::OutboxHandle;
use crate::rate_limit::AttemptLimiter;

pub use error::{code_uncoded, limit_exceeded, request_error};
pub use limits::QueryLimits;
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
    pub attempts: Arc<AttemptLimiter>,
}

/// What every resolver of one request can reach.
pub struct RequestContext {
    pub db: Db,
    pub events: EventBus,
    pub outbox: OutboxHandle,
    pub invitations: InvitationSettings,
    pub viewer: Option<Viewer>,
    /// The client's address, which limits its attempts at secrets.
    pub client_ip: Option<IpAddr>,
    pub attempts: Arc<AttemptLimiter>,
    /// Shared with the request's subscription streams, which refresh it per event.
    pub loaders: Arc<Loaders>,
}

impl RequestContext {
    pub fn new(
        services: &Services,
        viewer: Option<Viewer>,
        client_ip: Option<IpAddr>,
    ) -> RequestContext {
        let Services {
            db,
            events,
            outbox,
            invitations,
            attempts,
        } = services.clone();
        let loaders = Arc::new(Loaders::new(&db, viewer.map(|v| v.user_id)));
        RequestContext {
            db,
            events,
            outbox,
            invitations,
            viewer,
            client_ip,
            attempts,
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

/// A guard for fields that test a secret (a password, an invitation
/// token): each call spends one of the client's attempts.
fn secret_attempt(ctx: &Context<'_>) -> async_graphql::Result<()> {
    let state = context(ctx);
    let Some(address) = state.client_ip else {
        return Ok(());
    };
    state.attempts.attempt(address).map_err(|wait| {
        let seconds = wait.as_secs().max(1);
        async_graphql::Error::new(format!(
            "too many attempts from this address: try again in {seconds} s"
        ))
        .extend_with(|_, e| {
            e.set("code", "LIMIT_EXCEEDED");
            e.set("retryAfter", seconds);
        })
    })
}

/// The schema; without introspection (production), no `__schema`/`__type`
/// and no "did you mean" hints.
pub fn build_schema(introspection: bool) -> OrgSchema {
    let builder = Schema::build(Query, Mutation::default(), Subscription);
    match introspection {
        true => builder.finish(),
        false => builder
            .disable_introspection()
            .disable_suggestions()
            .finish(),
    }
}

/// The global ID clients use for an organization.
pub fn organization_id(id: i64) -> async_graphql::ID {
    ids::encode(ids::Kind::Organization, id)
}

/// The schema in SDL, as `schema.graphql` holds it.
pub fn print_schema() -> String {
    build_schema(true).sdl()
}
