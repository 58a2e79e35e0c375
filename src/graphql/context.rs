//! What a resolver can reach: the server's services, and the request's
//! principal, client address and DataLoaders.

use std::net::IpAddr;
use std::sync::Arc;

use async_graphql::Context;

use super::documents::Documents;
use super::error;
use super::loaders::Loaders;
use super::renders::Renders;
use crate::db::{Conn, Db};
use crate::domain::DomainError;
use crate::domain::accounts::AccountSettings;
use crate::domain::attempts::Attempts;
use crate::domain::invitations::InvitationSettings;
use crate::domain::principal::Principal;
use crate::domain::webhooks::WebhookSettings;
use crate::events::EventBus;

/// What the server shares with every request.
pub struct Services {
    pub db: Db,
    pub events: EventBus,
    pub accounts: AccountSettings,
    /// The identity provider's issuer, whose subjects checks may name.
    pub provider_issuer: Option<String>,
    pub invitations: InvitationSettings,
    pub webhooks: WebhookSettings,
    pub attempts: Attempts,
    /// Live events as rendered lately, shared by the subscriptions alike.
    pub renders: Renders,
    /// Query documents as parsed lately, for the requests that send them again.
    pub documents: Documents,
}

/// What every resolver of one request can reach.
pub struct RequestContext {
    pub services: Arc<Services>,
    pub principal: Option<Principal>,
    /// The client's address, which limits its attempts at secrets.
    pub client_ip: Option<IpAddr>,
    /// Shared with the request's subscription streams, which refresh it per event.
    pub loaders: Arc<Loaders>,
}

impl RequestContext {
    pub fn new(
        services: &Arc<Services>,
        principal: Option<Principal>,
        client_ip: Option<IpAddr>,
    ) -> RequestContext {
        let viewer = principal.and_then(|p| p.user_id());
        RequestContext {
            loaders: Arc::new(Loaders::new(&services.db, viewer)),
            services: services.clone(),
            principal,
            client_ip,
        }
    }

    pub fn db(&self) -> &Db {
        &self.services.db
    }

    /// Runs a domain read on one pooled connection:
    /// `state.read(async |c| members::by_ids(c, &ids).await)`.
    pub async fn read<T>(&self, read: impl Read<T>) -> Result<T, DomainError> {
        self.db().read_borrowing(read).await
    }

    /// Runs a domain operation that changes what the loaders may hold (a
    /// membership, an organization, the viewer's standing) and, once it has
    /// committed, forgets all they loaded: its payload, and every field read
    /// after it in this request, see the change.
    pub async fn change<T>(
        &self,
        operation: impl AsyncFnOnce(&Db) -> Result<T, DomainError>,
    ) -> Result<T, DomainError> {
        let changed = operation(self.db()).await?;
        self.loaders.forget_all();
        Ok(changed)
    }
}

/// A read of the domain on one connection, awaited where it is written, so
/// it may borrow what the resolver holds.
pub trait Read<T>: AsyncFnOnce(&mut Conn<'_>) -> Result<T, DomainError> {}
impl<T, F: AsyncFnOnce(&mut Conn<'_>) -> Result<T, DomainError>> Read<T> for F {}

pub(super) fn context<'a>(ctx: &Context<'a>) -> &'a RequestContext {
    ctx.data_unchecked::<RequestContext>()
}

/// The principal of a field that needs one.
pub(super) fn require_principal(ctx: &Context<'_>) -> async_graphql::Result<Principal> {
    context(ctx).principal.ok_or_else(error::unauthenticated)
}

/// The user a mutation is made by, and the request's context.
pub(super) fn actor<'a>(ctx: &Context<'a>) -> async_graphql::Result<(i64, &'a RequestContext)> {
    Ok((require_principal(ctx)?.acting_user()?, context(ctx)))
}

/// A guard for fields that test a secret (a password, an invitation
/// token): each call spends one of the client's attempts.
pub(super) fn secret_attempt(ctx: &Context<'_>) -> async_graphql::Result<()> {
    let state = context(ctx);
    match state.client_ip {
        Some(address) => Ok(state.services.attempts.attempt_from(address)?),
        None => Ok(()),
    }
}
