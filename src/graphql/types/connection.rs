//! Relay connections: a page of a keyset listing, with its cursors,
//! pageInfo and totalCount.

use async_graphql::{ComplexObject, Context, OutputType, Result, SimpleObject};

use super::{
    AuditEvent, CreditHold, CreditLedgerEntry, CreditRequest, Invitation, Member, ServiceKey,
    WebhookDelivery, WebhookEndpoint,
};
use crate::domain::pagination::Page;
use crate::graphql::context::{Read, context};

#[derive(SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

#[derive(SimpleObject, Clone)]
#[graphql(concrete(name = "MemberEdge", params(Member)))]
#[graphql(concrete(name = "AuditEventEdge", params(AuditEvent)))]
#[graphql(concrete(name = "InvitationEdge", params(Invitation)))]
#[graphql(concrete(name = "ServiceKeyEdge", params(ServiceKey)))]
#[graphql(concrete(name = "WebhookEndpointEdge", params(WebhookEndpoint)))]
#[graphql(concrete(name = "WebhookDeliveryEdge", params(WebhookDelivery)))]
#[graphql(concrete(name = "CreditLedgerEntryEdge", params(CreditLedgerEntry)))]
#[graphql(concrete(name = "CreditHoldEdge", params(CreditHold)))]
#[graphql(concrete(name = "CreditRequestEdge", params(CreditRequest)))]
pub struct Edge<N: OutputType> {
    pub cursor: String,
    pub node: N,
}

/// A page of a list, Relay style.
#[derive(SimpleObject)]
#[graphql(complex)]
#[graphql(concrete(name = "MemberConnection", params(Member)))]
#[graphql(concrete(name = "AuditEventConnection", params(AuditEvent)))]
#[graphql(concrete(name = "InvitationConnection", params(Invitation)))]
#[graphql(concrete(name = "ServiceKeyConnection", params(ServiceKey)))]
#[graphql(concrete(name = "WebhookEndpointConnection", params(WebhookEndpoint)))]
#[graphql(concrete(name = "WebhookDeliveryConnection", params(WebhookDelivery)))]
#[graphql(concrete(name = "CreditLedgerEntryConnection", params(CreditLedgerEntry)))]
#[graphql(concrete(name = "CreditHoldConnection", params(CreditHold)))]
#[graphql(concrete(name = "CreditRequestConnection", params(CreditRequest)))]
pub struct Connection<N: OutputType + Clone>
where
    Edge<N>: OutputType,
{
    pub edges: Vec<Edge<N>>,
    pub page_info: PageInfo,
    /// All items that match, on every page.
    pub total_count: i32,
}

#[ComplexObject]
impl<N: OutputType + Clone> Connection<N>
where
    Edge<N>: OutputType,
{
    /// The nodes of `edges`, for clients that need no cursors.
    async fn nodes(&self) -> Vec<&N> {
        // Borrowed: a page's nodes are resolved from the edges, not copied.
        self.edges.iter().map(|e| &e.node).collect()
    }
}

impl<N: OutputType + Clone> Connection<N>
where
    Edge<N>: OutputType,
{
    pub fn new(page: Page<N>, total_count: i64) -> Self {
        let page_info = PageInfo {
            has_next_page: page.has_next_page,
            has_previous_page: page.has_previous_page,
            start_cursor: page.edges.first().map(|(c, _)| c.clone()),
            end_cursor: page.edges.last().map(|(c, _)| c.clone()),
        };
        Connection {
            edges: page
                .edges
                .into_iter()
                .map(|(cursor, node)| Edge { cursor, node })
                .collect(),
            page_info,
            total_count: i32::try_from(total_count).unwrap_or(i32::MAX),
        }
    }
}

/// Reads one page of a connection and, only if the client selected
/// totalCount (which may cost a count), its total, on one connection.
pub async fn read_page<T>(
    ctx: &Context<'_>,
    page: impl Read<Page<T>>,
    total: impl Read<i64>,
) -> Result<(Page<T>, i64)> {
    let wants_total = ctx.look_ahead().field("totalCount").exists();
    let read = context(ctx).read(async |c| {
        let page = page(c).await?;
        let total = if wants_total { total(c).await? } else { 0 };
        Ok((page, total))
    });
    Ok(read.await?)
}

/// A connection field: its page and total read by [`read_page`], each item
/// wrapped by `node`.
pub async fn connection<T, N: OutputType + Clone>(
    ctx: &Context<'_>,
    page: impl Read<Page<T>>,
    total: impl Read<i64>,
    node: impl FnMut(T) -> N,
) -> Result<Connection<N>>
where
    Edge<N>: OutputType,
{
    let (page, total) = read_page(ctx, page, total).await?;
    Ok(Connection::new(page.map(node), total))
}
