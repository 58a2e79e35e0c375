//! Integration tests: the real server over HTTP, on SQLite, or on PostgreSQL
//! when TEST_DATABASE_URL is set.

mod access;
mod accounts;
mod common;
mod config;
mod docs;
mod members;
mod schema;
mod transactions;
