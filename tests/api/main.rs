//! Integration tests: the real server over HTTP, on SQLite, or on PostgreSQL
//! when TEST_DATABASE_URL is set.

mod abuse;
mod access;
mod accounts;
mod addresses;
mod authorization;
mod common;
mod concurrency;
mod config;
mod credit_requests;
mod credit_spending;
mod docs;
mod fixtures;
mod identity;
mod input;
mod invitations;
mod limits;
mod live;
mod management;
mod members;
mod nesting;
mod operations;
mod outage;
mod outbox;
mod pg_cluster;
mod resume;
mod schema;
mod services;
mod slow_clients;
mod smtp;
mod transactions;
mod transport;
mod webhooks;
mod ws;
