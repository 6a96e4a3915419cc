//! Short names for the entities, as SeaORM's generated code has them.

pub use super::event_executions::Entity as EventExecutions;
pub use super::invocations::Entity as Invocations;
pub use super::job_executions::Entity as JobExecutions;
pub use super::job_logs::Entity as JobLogs;
pub use super::metrics_hourly::Entity as MetricsHourly;
pub use super::status::{EventExecutionStatus, InvocationStatus, JobExecutionStatus, LogLevel};
