//! `JobExecution`: one async job run by the handler of a detected event.

use std::sync::Arc;

use async_graphql::{Context, Json, Object, Result};
use entity::job_executions;
use uuid::Uuid;

use super::enums::{JobExecutionStatus, LogLevel};
use super::{EventExecution, Invocation, JobLog, node};
use crate::graphql::fast::{Fast, Rows};
use crate::graphql::filter::JobLogFilter;
use crate::graphql::loaders::{EventExecutionKey, InvocationKey, LogsOfJob};
use crate::graphql::scalars::DateTime;
use crate::graphql::{load_children, load_parent};

#[derive(Clone)]
pub struct JobExecution(pub Arc<job_executions::Model>);

node!(JobExecution, job_executions, async_fields: ["invocation", "eventExecution", "logs"], batched: {"logs" => LogsOfJob as JobLog});

/// One async job run by the handler of a detected event, with its result or error.
#[Object]
impl JobExecution {
    /// Unique id.
    async fn id(&self) -> Uuid {
        self.0.id
    }

    /// Id of the invocation the job belongs to.
    async fn invocation_id(&self) -> Uuid {
        self.0.invocation_id
    }

    /// Id of the event execution whose handler ran the job.
    async fn event_execution_id(&self) -> Uuid {
        self.0.event_execution_id
    }

    /// The job's name (`func.name`), e.g. `sendNotification`.
    async fn job_name(&self) -> &str {
        &self.0.job_name
    }

    /// The actual function name, when it differs from the job name.
    async fn job_function_name(&self) -> Option<&str> {
        self.0.job_function_name.as_deref()
    }

    /// Options passed to the job.
    async fn job_options(&self) -> Option<Json<serde_json::Value>> {
        self.0.job_options.clone().map(Json)
    }

    /// Lifecycle status.
    async fn status(&self) -> JobExecutionStatus {
        self.0.status.into()
    }

    /// Execution time in milliseconds; null while running.
    async fn duration_ms(&self) -> Option<i32> {
        self.0.duration_ms
    }

    /// The job's return value.
    async fn result(&self) -> Option<Json<serde_json::Value>> {
        self.0.result.clone().map(Json)
    }

    /// Message of the error the job threw.
    async fn error_message(&self) -> Option<&str> {
        self.0.error_message.as_deref()
    }

    /// Stack trace of the error the job threw.
    async fn error_stack(&self) -> Option<&str> {
        self.0.error_stack.as_deref()
    }

    /// Console output captured as one JSON array, when the client sent it that way.
    async fn console_logs(&self) -> Option<Json<serde_json::Value>> {
        self.0.console_logs.clone().map(Json)
    }

    /// Attempt number: 1 for the first run, higher for retries.
    async fn attempt(&self) -> i32 {
        self.0.attempt
    }

    /// When the job started.
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }

    /// When the row was last written.
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }

    /// The invocation the job belongs to.
    async fn invocation(&self, ctx: &Context<'_>) -> Result<Fast<Invocation>> {
        Ok(load_parent(ctx, InvocationKey::new(self.0.invocation_id)).await.map(|row| Fast(Invocation(row)))?)
    }

    /// The event execution whose handler ran the job.
    async fn event_execution(&self, ctx: &Context<'_>) -> Result<Fast<EventExecution>> {
        Ok(load_parent(ctx, EventExecutionKey::new(self.0.event_execution_id))
            .await
            .map(|row| Fast(EventExecution(row)))?)
    }

    /// Console output of the job, oldest first.
    #[graphql(complexity = "crate::graphql::list_cost(limit, crate::graphql::ASSUMED_CHILDREN, child_complexity)")]
    async fn logs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only lines of exactly this level.")] level: Option<LogLevel>,
        #[graphql(desc = "Only lines matching this filter.")] filter: Option<JobLogFilter>,
        #[graphql(desc = "At most this many (default and maximum: the server's list limit, 1000 unless configured).")]
        limit: Option<i32>,
    ) -> Result<Rows<JobLog>> {
        let filter = JobLogFilter::with_level(level, filter);
        let rows = load_children::<LogsOfJob>(ctx, self.0.id, filter, limit).await?;
        Ok(Rows(rows.into_iter().map(JobLog).collect()))
    }
}
