//! Integration tests: the real server over HTTP, on SQLite or PostgreSQL (see `helpers`).

mod fixtures;
mod helpers;

mod analytics;
mod counts;
mod filters;
mod http;
mod ingest;
mod lookups;
mod mutations;
mod ndjson;
mod nested;
mod pagination;
mod schema;
mod statements;
mod subscriptions;
