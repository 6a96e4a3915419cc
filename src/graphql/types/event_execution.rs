//! `EventExecution`: the check of one event module during an invocation.

use std::sync::Arc;

use async_graphql::{Context, Object, Result};
use entity::event_executions;
use uuid::Uuid;

use super::enums::EventExecutionStatus;
use super::{Invocation, JobExecution, node};
use crate::graphql::fast::{Fast, Rows};
use crate::graphql::filter::JobExecutionFilter;
use crate::graphql::loaders::{InvocationKey, JobsOfEvent};
use crate::graphql::scalars::DateTime;
use crate::graphql::{load_children, load_parent};

#[derive(Clone)]
pub struct EventExecution(pub Arc<event_executions::Model>);

node!(EventExecution, event_executions, async_fields: ["invocation", "jobExecutions"], batched: {"jobExecutions" => JobsOfEvent as JobExecution});

/// The check of one event module during an invocation: whether its detector detected the
/// event and, if so, how its handler and jobs went.
#[Object]
impl EventExecution {
    /// Unique id.
    async fn id(&self) -> Uuid {
        self.0.id
    }

    /// Id of the invocation that checked this event.
    async fn invocation_id(&self) -> Uuid {
        self.0.invocation_id
    }

    /// The event module's name, e.g. `move.pickup.successful`.
    async fn event_name(&self) -> &str {
        &self.0.event_name
    }

    /// Whether the detector detected the event; null while it is still detecting.
    async fn detected(&self) -> Option<bool> {
        self.0.detected
    }

    /// Time the detector took, in milliseconds.
    async fn detection_duration_ms(&self) -> Option<i32> {
        self.0.detection_duration_ms
    }

    /// Error the detector threw, if it did.
    async fn detection_error(&self) -> Option<&str> {
        self.0.detection_error.as_deref()
    }

    /// Lifecycle status.
    async fn status(&self) -> EventExecutionStatus {
        self.0.status.into()
    }

    /// Time the handler took, in milliseconds; null unless detected and handled.
    async fn handler_duration_ms(&self) -> Option<i32> {
        self.0.handler_duration_ms
    }

    /// Error the handler threw, if it did.
    async fn handler_error(&self) -> Option<&str> {
        self.0.handler_error.as_deref()
    }

    /// Jobs the handler scheduled (final once completed).
    async fn jobs_count(&self) -> i32 {
        self.0.jobs_count
    }

    /// Jobs that completed successfully (final once completed).
    async fn jobs_succeeded(&self) -> i32 {
        self.0.jobs_succeeded
    }

    /// Jobs that failed (final once completed).
    async fn jobs_failed(&self) -> i32 {
        self.0.jobs_failed
    }

    /// When the check started.
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }

    /// When the row was last written.
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }

    /// The invocation that checked this event.
    async fn invocation(&self, ctx: &Context<'_>) -> Result<Fast<Invocation>> {
        Ok(load_parent(ctx, InvocationKey::new(self.0.invocation_id)).await.map(|row| Fast(Invocation(row)))?)
    }

    /// The jobs the handler ran, in the order they started.
    #[graphql(complexity = "crate::graphql::list_cost(limit, crate::graphql::ASSUMED_CHILDREN, child_complexity)")]
    async fn job_executions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only job executions matching this filter.")] filter: Option<JobExecutionFilter>,
        #[graphql(desc = "At most this many (default and maximum: the server's list limit, 1000 unless configured).")]
        limit: Option<i32>,
    ) -> Result<Rows<JobExecution>> {
        let rows = load_children::<JobsOfEvent>(ctx, self.0.id, filter, limit).await?;
        Ok(Rows(rows.into_iter().map(JobExecution).collect()))
    }
}
