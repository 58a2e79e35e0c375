//! Every mutation, one file per family. Each parses its input's IDs, asks
//! one domain operation (which checks the principal's permission in its own
//! transaction), and answers with the payload as the change left it. An
//! operation that changes what the request's loaders hold goes through
//! `RequestContext::change`, so that payload reads it afresh.

mod account;
mod addresses;
mod credit_requests;
mod credit_spending;
mod invitation;
mod member_billing;
mod members;
mod organization;
mod service_keys;
mod webhooks;

use async_graphql::MergedObject;

/// Every mutation: accounts (their addresses and passwords too),
/// organizations and their members, invitations, service keys, webhooks,
/// the spending of credits by services, and members' requests for credits.
#[derive(MergedObject, Default)]
pub struct Mutation(
    account::AccountMutation,
    addresses::AddressMutation,
    organization::OrganizationMutation,
    members::MemberMutation,
    member_billing::MemberBillingMutation,
    invitation::InvitationMutation,
    service_keys::ServiceKeyMutation,
    webhooks::WebhookMutation,
    credit_spending::CreditSpendingMutation,
    credit_requests::CreditRequestMutation,
);
