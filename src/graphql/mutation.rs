//! `MutationRoot`: one mutation per step of an invocation's lifecycle, and `ingest` for batches.
//!
//! Every mutation is a single transaction through `crate::ingest`, idempotent and forward-only,
//! and returns the row as stored afterwards.

use async_graphql::{Context, Object, Result};
use uuid::Uuid;

use super::fast::Fast;
use super::load_parent;
use super::loaders::{EventExecutionKey, InvocationKey, JobExecutionKey};
use super::types::enums::{EventExecutionStatus, InvocationStatus, JobExecutionStatus};
use super::types::{EventExecution, Invocation, JobExecution};
use crate::error::{ApiError, ApiResult};
use crate::ingest::input::{
    AppendJobLogsInput, CompleteEventExecutionInput, CompleteInvocationInput, CompleteJobExecutionInput,
    EventExecutionTreeInput, InvocationTreeInput, JobExecutionTreeInput, Outcome, RecordEventExecutionInput,
    StartInvocationInput, StartJobExecutionInput,
};
use crate::ingest::plan::{EventPatch, InvocationPatch, JobPatch, Unit};
use crate::ingest::{IngestCounts, Ingestor};

pub struct MutationRoot;

/// Reports of the execution history: each step of the lifecycle, or whole batches.
#[Object(name = "Mutation")]
impl MutationRoot {
    /// Step 1: a detector function was called. The invocation is `RUNNING`. Sending it again
    /// changes nothing.
    async fn start_invocation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invocation.")] input: StartInvocationInput,
    ) -> Result<Fast<Invocation>> {
        let id = input.id.unwrap_or_else(Uuid::now_v7);
        let fields = InvocationTreeInput {
            id: Some(id),
            source_function: Some(input.source_function),
            source_system: input.source_system,
            source_event_payload: input.source_event_payload,
            source_user_email: input.source_user_email,
            source_user_role: input.source_user_role,
            auto_load_modules: input.auto_load_modules,
            event_modules_directory: input.event_modules_directory,
            context_data: input.context_data,
            correlation_id: input.correlation_id,
            created_at: input.started_at,
            ..Default::default()
        };
        let unit = Unit {
            invocations: vec![InvocationPatch { path: "input".into(), id, must_exist: false, fields }],
            ..Unit::default()
        };
        write(ctx, unit).await?;
        invocation(ctx, id).await
    }

    /// Step 2: an event module's detector ran. Status follows from the result: `HANDLING` when
    /// detected, `NOT_DETECTED` when not, `FAILED` with a detection error, `DETECTING` while
    /// `detected` is not known yet.
    async fn record_event_execution(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The detection result.")] input: RecordEventExecutionInput,
    ) -> Result<Fast<EventExecution>> {
        let id = input.id.unwrap_or_else(Uuid::now_v7);
        let fields = EventExecutionTreeInput {
            id: Some(id),
            event_name: Some(input.event_name),
            detected: input.detected,
            detection_duration_ms: input.detection_duration_ms,
            detection_error: input.detection_error,
            created_at: input.started_at,
            ..Default::default()
        };
        let patch = EventPatch {
            path: "input".into(),
            id,
            invocation_id: Some(input.invocation_id),
            must_exist: false,
            fields,
        };
        write(ctx, Unit { events: vec![patch], ..Unit::default() }).await?;
        event_execution(ctx, id).await
    }

    /// Step 3: the handler of a detected event started a job. The job is `RUNNING`.
    async fn start_job_execution(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The job.")] input: StartJobExecutionInput,
    ) -> Result<Fast<JobExecution>> {
        let id = input.id.unwrap_or_else(Uuid::now_v7);
        let fields = JobExecutionTreeInput {
            id: Some(id),
            job_name: Some(input.job_name),
            job_function_name: input.job_function_name,
            job_options: input.job_options,
            attempt: input.attempt,
            created_at: input.started_at,
            ..Default::default()
        };
        let patch = JobPatch {
            path: "input".into(),
            id,
            event_execution_id: Some(input.event_execution_id),
            invocation_id: None,
            must_exist: false,
            fields,
        };
        write(ctx, Unit { jobs: vec![patch], ..Unit::default() }).await?;
        job_execution(ctx, id).await
    }

    /// Step 4: a job wrote console lines (any number at once). Lines already stored are left as
    /// they are. Returns the job; its `logs` field lists the lines.
    async fn append_job_logs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The job and its lines.")] input: AppendJobLogsInput,
    ) -> Result<Fast<JobExecution>> {
        let mut unit = Unit::default();
        unit.add_logs(input.job_execution_id, input.logs, "input.logs");
        write(ctx, unit).await?;
        job_execution(ctx, input.job_execution_id).await
    }

    /// Step 5: a job ended. Its event's and invocation's job counts follow.
    async fn complete_job_execution(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How the job ended.")] input: CompleteJobExecutionInput,
    ) -> Result<Fast<JobExecution>> {
        let fields = JobExecutionTreeInput {
            status: Some(match input.status {
                Outcome::Completed => JobExecutionStatus::Completed,
                Outcome::Failed => JobExecutionStatus::Failed,
            }),
            duration_ms: input.duration_ms,
            result: input.result,
            error_message: input.error_message,
            error_stack: input.error_stack,
            console_logs: input.console_logs,
            ..Default::default()
        };
        let patch = JobPatch {
            path: "input".into(),
            id: input.id,
            event_execution_id: None,
            invocation_id: None,
            must_exist: true,
            fields,
        };
        write(ctx, Unit { jobs: vec![patch], ..Unit::default() }).await?;
        job_execution(ctx, input.id).await
    }

    /// Step 6: an event's handler ended. `jobsCount`, `jobsSucceeded` and `jobsFailed` are
    /// derived from its stored jobs.
    async fn complete_event_execution(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How the handler ended.")] input: CompleteEventExecutionInput,
    ) -> Result<Fast<EventExecution>> {
        let fields = EventExecutionTreeInput {
            status: Some(match input.status {
                Outcome::Completed => EventExecutionStatus::Completed,
                Outcome::Failed => EventExecutionStatus::Failed,
            }),
            handler_duration_ms: input.handler_duration_ms,
            handler_error: input.handler_error,
            ..Default::default()
        };
        let patch = EventPatch { path: "input".into(), id: input.id, invocation_id: None, must_exist: true, fields };
        write(ctx, Unit { events: vec![patch], ..Unit::default() }).await?;
        event_execution(ctx, input.id).await
    }

    /// Step 7: the invocation ended. Its counters (`eventsDetectedCount`, `totalJobsRun`,
    /// `totalJobsSucceeded`, `totalJobsFailed`) are derived from its stored children.
    async fn complete_invocation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How the invocation ended.")] input: CompleteInvocationInput,
    ) -> Result<Fast<Invocation>> {
        let fields = InvocationTreeInput {
            status: Some(match input.status {
                Outcome::Completed => InvocationStatus::Completed,
                Outcome::Failed => InvocationStatus::Failed,
            }),
            total_duration_ms: input.total_duration_ms,
            ..Default::default()
        };
        let patch = InvocationPatch { path: "input".into(), id: input.id, must_exist: true, fields };
        write(ctx, Unit { invocations: vec![patch], ..Unit::default() }).await?;
        invocation(ctx, input.id).await
    }

    /// Writes whole or partial trees in one transaction: all of them, or none if any is
    /// invalid (the error names the offending input). Idempotent: sending the same batch again
    /// inserts nothing and changes nothing. Rows move forward only (`RUNNING` → `COMPLETED`).
    async fn ingest(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The trees, each an invocation with any of its events, jobs and log lines.")] batch: Vec<
            InvocationTreeInput,
        >,
    ) -> Result<IngestCounts> {
        let ingestor = ingestor(ctx)?;
        let max = ingestor.config().max_batch_trees;
        if batch.len() > max {
            return Err(ApiError::bad_field(
                "batch",
                format!("a batch holds at most {max} trees, got {}", batch.len()),
            )
            .into());
        }
        let units =
            batch.into_iter().enumerate().map(|(i, tree)| Unit::from_tree(tree, &format!("batch[{i}]"))).collect();
        Ok(ingestor.apply_all(units).await?)
    }
}

fn ingestor<'a>(ctx: &Context<'a>) -> ApiResult<&'a Ingestor> {
    ctx.data::<Ingestor>().map_err(|_| ApiError::internal(anyhow::anyhow!("schema built without an Ingestor")))
}

async fn write(ctx: &Context<'_>, unit: Unit) -> ApiResult<IngestCounts> {
    ingestor(ctx)?.apply_all(vec![unit]).await
}

async fn invocation(ctx: &Context<'_>, id: Uuid) -> Result<Fast<Invocation>> {
    Ok(load_parent(ctx, InvocationKey::new(id)).await.map(|row| Fast(Invocation(row)))?)
}

async fn event_execution(ctx: &Context<'_>, id: Uuid) -> Result<Fast<EventExecution>> {
    Ok(load_parent(ctx, EventExecutionKey::new(id)).await.map(|row| Fast(EventExecution(row)))?)
}

async fn job_execution(ctx: &Context<'_>, id: Uuid) -> Result<Fast<JobExecution>> {
    Ok(load_parent(ctx, JobExecutionKey::new(id)).await.map(|row| Fast(JobExecution(row)))?)
}
