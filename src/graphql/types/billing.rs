use async_graphql::{Object, SimpleObject};

use crate::domain::{credits, seats};

/// total = available + distributed. Spent credits leave the organization: they are
/// counted in spent, and total falls by them. At every moment
/// added = available + distributed + spent (the ledger proves it).
pub struct CreditPool(pub credits::CreditPool);

#[Object]
impl CreditPool {
    /// Credits in the pool, not given to any member.
    async fn available(&self) -> i32 {
        self.0.available
    }
    /// Credits members hold (their credits, held ones included).
    async fn distributed(&self) -> i32 {
        self.0.distributed
    }
    async fn total(&self) -> i32 {
        i32::try_from(self.0.total()).unwrap_or(i32::MAX)
    }
    /// Of distributed, what is held for work under way.
    async fn held(&self) -> i32 {
        self.0.held
    }
    /// Spent by members since the organization began.
    async fn spent(&self) -> i32 {
        self.0.spent
    }
    /// Added to the pool since the organization began.
    async fn added(&self) -> i32 {
        self.0.added
    }
}

#[derive(SimpleObject)]
pub struct SeatCount {
    pub limit: i32,
    pub assigned: i32,
}

impl From<seats::SeatCount> for SeatCount {
    fn from(count: seats::SeatCount) -> Self {
        SeatCount {
            limit: count.limit,
            assigned: count.assigned,
        }
    }
}

pub struct SeatInventory(pub seats::SeatInventory);

#[Object]
impl SeatInventory {
    async fn standard(&self) -> SeatCount {
        self.0.standard.into()
    }
    async fn pro(&self) -> SeatCount {
        self.0.pro.into()
    }
}
