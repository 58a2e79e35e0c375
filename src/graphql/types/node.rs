use async_graphql::{ID, Interface};

use super::{
    AuditEvent, CreditHold, CreditLedgerEntry, CreditRequest, Invitation, Member, Organization,
    ServiceKey, User, WebhookDelivery, WebhookEndpoint,
};

#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID"))]
pub enum Node {
    User(User),
    Organization(Organization),
    Member(Member),
    AuditEvent(AuditEvent),
    Invitation(Invitation),
    ServiceKey(ServiceKey),
    WebhookEndpoint(WebhookEndpoint),
    WebhookDelivery(WebhookDelivery),
    CreditLedgerEntry(CreditLedgerEntry),
    CreditHold(CreditHold),
    CreditRequest(CreditRequest),
}
