//! runlens: a GraphQL observability API over an event detector's execution history.

/// Rollups and the analytics computed from them.
pub mod analytics;
/// HTTP application: router, handlers, graceful shutdown.
pub mod app;
/// API keys and roles.
pub mod auth;
/// The schedule background tasks run on.
pub mod background;
/// Command line and environment configuration.
pub mod config;
/// Connecting, migrating, and the SQL the API runs.
pub mod db;
/// The API's error type and its GraphQL error codes.
pub mod error;
/// The GraphQL schema, resolvers and data loaders.
pub mod graphql;
/// The write path: lifecycle mutations, batch and NDJSON ingestion.
pub mod ingest;
/// Committed changes fanned out to subscribers.
pub mod live;
/// The server's own Prometheus metrics.
pub mod metrics;
/// Deleting data older than its retention period.
pub mod retention;
/// Realistic demo data.
pub mod seed;
/// Serving HTTP connections on a runtime per thread.
pub mod serving;
/// Logging and tracing setup.
pub mod telemetry;
