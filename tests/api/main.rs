//! Integration tests: the real server over HTTP, on SQLite or PostgreSQL (see `helpers`).

mod fixtures;
mod helpers;

mod counts;
mod filters;
mod http;
mod lookups;
mod nested;
mod pagination;
mod schema;
mod statements;
