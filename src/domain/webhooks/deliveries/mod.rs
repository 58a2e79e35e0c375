//! The deliveries of webhooks: what the worker claims and records
//! ([`attempts`]) and what the API lists and redelivers ([`listing`]).

mod attempts;
mod listing;

use chrono::NaiveDateTime;
use diesel::deserialize::FromSqlRow;
use diesel::expression::AsExpression;
use diesel::prelude::*;
use diesel::sql_types::Text;

pub use attempts::{Attempt, Deliveries, RETRY};
pub use listing::{
    count_deliveries, deliveries_by_ids, delivery_in_organization, list_deliveries, redeliver,
};

use crate::db::schema::webhook_deliveries;
use crate::domain::text_enum::text_enum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}
text_enum!(DeliveryState { Pending = "PENDING", Delivered = "DELIVERED", Failed = "FAILED" });

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct Delivery {
    pub id: i64,
    pub endpoint_id: i64,
    /// The `webhook-id` header: the same on every attempt.
    pub message_id: String,
    pub event_type: String,
    pub status: DeliveryState,
    pub attempts: i32,
    pub last_response_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
    pub next_attempt_at: NaiveDateTime,
}

impl Delivery {
    /// When the next attempt is due; None once delivered or failed.
    pub fn next_attempt(&self) -> Option<NaiveDateTime> {
        (self.status == DeliveryState::Pending).then_some(self.next_attempt_at)
    }
}
