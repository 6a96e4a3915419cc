//! SeaORM entities for runlens: one module per table, plus the status enums the tables share.
//!
//! The hierarchy is invocation → event executions → job executions → job logs; `metrics_hourly`
//! holds the hourly rollups. No GraphQL here: the API layer wraps these models in its own types.

pub mod event_executions;
pub mod invocations;
pub mod job_executions;
pub mod job_logs;
pub mod job_metrics_daily;
pub mod job_metrics_hourly;
pub mod metrics_daily;
pub mod metrics_hourly;
pub mod prelude;
pub mod rollup_state;
pub mod status;
