//! `JobLog`: one line of console output captured from a job.

use std::sync::Arc;

use async_graphql::{Context, Json, Object, Result};
use entity::job_logs;
use uuid::Uuid;

use super::enums::LogLevel;
use super::{JobExecution, node};
use crate::graphql::fast::Fast;
use crate::graphql::load_parent;
use crate::graphql::loaders::JobExecutionKey;
use crate::graphql::scalars::DateTime;

#[derive(Clone)]
pub struct JobLog(pub Arc<job_logs::Model>);

node!(JobLog, job_logs, async_fields: ["jobExecution"], batched: {});

/// One line of console output (`console.log`, `console.error`, …) captured from a job.
#[Object]
impl JobLog {
    /// Unique id.
    async fn id(&self) -> Uuid {
        self.0.id
    }

    /// Id of the job execution that wrote the line.
    async fn job_execution_id(&self) -> Uuid {
        self.0.job_execution_id
    }

    /// Console level.
    async fn level(&self) -> LogLevel {
        self.0.level.into()
    }

    /// The logged text.
    async fn message(&self) -> &str {
        &self.0.message
    }

    /// Structured data logged with the line.
    async fn data(&self) -> Option<Json<serde_json::Value>> {
        self.0.data.clone().map(Json)
    }

    /// Where the line originated.
    async fn source(&self) -> Option<&str> {
        self.0.source.as_deref()
    }

    /// When the line was captured.
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }

    /// The job execution that wrote the line.
    async fn job_execution(&self, ctx: &Context<'_>) -> Result<Fast<JobExecution>> {
        Ok(load_parent(ctx, JobExecutionKey::new(self.0.job_execution_id)).await.map(|row| Fast(JobExecution(row)))?)
    }
}
