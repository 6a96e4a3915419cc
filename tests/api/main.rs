//! Integration tests: the real server over HTTP, on SQLite or PostgreSQL (see `helpers`).

mod fixtures;
mod helpers;

mod access;
mod analytics;
mod counts;
mod filters;
mod hostile;
mod http;
mod ingest;
mod limits;
mod lookups;
mod mutations;
mod ndjson;
mod nested;
mod outage;
mod pagination;
mod protocol;
mod retention;
mod schema;
mod shutdown;
mod statements;
mod subscriptions;
