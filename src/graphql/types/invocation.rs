//! `Invocation`: one call of a detector function, the root of the execution hierarchy.

use std::sync::Arc;

use async_graphql::{Context, Json, Object, Result};
use entity::invocations;
use uuid::Uuid;

use super::enums::{EventExecutionStatus, InvocationStatus, JobExecutionStatus};
use super::timeline::{TimelineEntry, TimelineKind};
use super::{EventExecution, JobExecution, node};
use crate::graphql::fast::Rows;
use crate::graphql::filter::{EventExecutionFilter, JobExecutionFilter};
use crate::graphql::load_children;
use crate::graphql::loaders::{EventsOfInvocation, JobsOfInvocation};
use crate::graphql::scalars::DateTime;

#[derive(Clone)]
pub struct Invocation(pub Arc<invocations::Model>);

node!(Invocation, invocations, async_fields: ["eventExecutions", "jobExecutions", "timeline"], batched: {"eventExecutions" => EventsOfInvocation as EventExecution, "jobExecutions" => JobsOfInvocation as JobExecution});

/// One call of a detector function (`listenTo()`): the source event it received, the event
/// modules it checked and the jobs it ran.
#[Object]
impl Invocation {
    /// Unique id, chosen by the client that reported the invocation.
    async fn id(&self) -> Uuid {
        self.0.id
    }

    /// The detector function that was called, e.g. `event-detector-moves`.
    async fn source_function(&self) -> &str {
        &self.0.source_function
    }

    /// The system that sent the source event, e.g. `hasura`, `supabase` or `custom`.
    async fn source_system(&self) -> Option<&str> {
        self.0.source_system.as_deref()
    }

    /// The full source event, as received.
    async fn source_event_payload(&self) -> Option<Json<serde_json::Value>> {
        self.0.source_event_payload.clone().map(Json)
    }

    /// Who triggered the source change.
    async fn source_user_email(&self) -> Option<&str> {
        self.0.source_user_email.as_deref()
    }

    /// The triggering user's role in the source system.
    async fn source_user_role(&self) -> Option<&str> {
        self.0.source_user_role.as_deref()
    }

    /// Lifecycle status.
    async fn status(&self) -> InvocationStatus {
        self.0.status.into()
    }

    /// End-to-end execution time in milliseconds; null while running.
    async fn total_duration_ms(&self) -> Option<i32> {
        self.0.total_duration_ms
    }

    /// How many of the checked event modules detected their event (final once completed).
    async fn events_detected_count(&self) -> i32 {
        self.0.events_detected_count
    }

    /// Jobs run across all detected events (final once completed).
    async fn total_jobs_run(&self) -> i32 {
        self.0.total_jobs_run
    }

    /// Jobs that completed successfully (final once completed).
    async fn total_jobs_succeeded(&self) -> i32 {
        self.0.total_jobs_succeeded
    }

    /// Jobs that failed (final once completed).
    async fn total_jobs_failed(&self) -> i32 {
        self.0.total_jobs_failed
    }

    /// Share of jobs that succeeded, from 0 to 1; null when no job ran.
    async fn success_rate(&self) -> Option<f64> {
        (self.0.total_jobs_run > 0).then(|| f64::from(self.0.total_jobs_succeeded) / f64::from(self.0.total_jobs_run))
    }

    /// Whether event modules were loaded automatically from a directory.
    async fn auto_load_modules(&self) -> Option<bool> {
        self.0.auto_load_modules
    }

    /// The directory the event modules were loaded from.
    async fn event_modules_directory(&self) -> Option<&str> {
        self.0.event_modules_directory.as_deref()
    }

    /// Custom context passed to the detector.
    async fn context_data(&self) -> Option<Json<serde_json::Value>> {
        self.0.context_data.clone().map(Json)
    }

    /// Links invocations that belong to one larger flow.
    async fn correlation_id(&self) -> Option<Uuid> {
        self.0.correlation_id
    }

    /// When the invocation started.
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }

    /// When the invocation was last written.
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }

    /// The event modules checked, in the order they started.
    #[graphql(complexity = "crate::graphql::list_cost(limit, crate::graphql::ASSUMED_CHILDREN, child_complexity)")]
    async fn event_executions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only event executions matching this filter.")] filter: Option<EventExecutionFilter>,
        #[graphql(desc = "At most this many (default and maximum: the server's list limit, 1000 unless configured).")]
        limit: Option<i32>,
    ) -> Result<Rows<EventExecution>> {
        let rows = load_children::<EventsOfInvocation>(ctx, self.0.id, filter, limit).await?;
        Ok(Rows(rows.into_iter().map(EventExecution).collect()))
    }

    /// Every job run by this invocation, across its events, in the order they started.
    #[graphql(complexity = "crate::graphql::list_cost(limit, crate::graphql::ASSUMED_CHILDREN, child_complexity)")]
    async fn job_executions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only job executions matching this filter.")] filter: Option<JobExecutionFilter>,
        #[graphql(desc = "At most this many (default and maximum: the server's list limit, 1000 unless configured).")]
        limit: Option<i32>,
    ) -> Result<Rows<JobExecution>> {
        let rows = load_children::<JobsOfInvocation>(ctx, self.0.id, filter, limit).await?;
        Ok(Rows(rows.into_iter().map(JobExecution).collect()))
    }

    /// The invocation, its event checks and its jobs in start order, with each one's offset
    /// from the invocation's start and its duration: what a waterfall view draws.
    async fn timeline(&self, ctx: &Context<'_>) -> Result<Vec<TimelineEntry>> {
        let (events, jobs) = futures::try_join!(
            load_children::<EventsOfInvocation>(ctx, self.0.id, None, None),
            load_children::<JobsOfInvocation>(ctx, self.0.id, None, None),
        )?;
        let start = self.0.created_at;
        let offset = |t: chrono::DateTime<chrono::Utc>| (t - start).num_microseconds().unwrap_or(0) as f64 / 1000.0;
        let entry = |kind, id, parent_id, depth, name: &str, status: String, at, duration_ms: Option<i32>| {
            let start_offset_ms = offset(at);
            TimelineEntry {
                kind,
                id,
                parent_id,
                depth,
                name: name.to_owned(),
                status,
                started_at: at.into(),
                start_offset_ms,
                duration_ms,
                end_offset_ms: duration_ms.map(|d| start_offset_ms + f64::from(d)),
            }
        };
        let name = |v: async_graphql::Value| v.to_string().trim_matches('"').to_owned();
        let mut entries = vec![entry(
            TimelineKind::Invocation,
            self.0.id,
            None,
            0,
            &self.0.source_function,
            name(async_graphql::resolver_utils::enum_value(InvocationStatus::from(self.0.status))),
            start,
            self.0.total_duration_ms,
        )];
        for e in &events {
            let duration = match (e.detection_duration_ms, e.handler_duration_ms) {
                (Some(d), Some(h)) => Some(d + h),
                (d, None) => d,
                (None, h) => h,
            };
            let status = name(async_graphql::resolver_utils::enum_value(EventExecutionStatus::from(e.status)));
            entries.push(entry(
                TimelineKind::EventExecution,
                e.id,
                Some(e.invocation_id),
                1,
                &e.event_name,
                status,
                e.created_at,
                duration,
            ));
        }
        for j in &jobs {
            let status = name(async_graphql::resolver_utils::enum_value(JobExecutionStatus::from(j.status)));
            entries.push(entry(
                TimelineKind::JobExecution,
                j.id,
                Some(j.event_execution_id),
                2,
                &j.job_name,
                status,
                j.created_at,
                j.duration_ms,
            ));
        }
        entries.sort_by(|a, b| a.start_offset_ms.total_cmp(&b.start_offset_ms).then(a.depth.cmp(&b.depth)));
        Ok(entries)
    }
}
