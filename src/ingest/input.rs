//! What clients send to the write path. One definition serves both the GraphQL inputs and the
//! NDJSON lines of `POST /ingest` (field names in camelCase, enums as in GraphQL: `COMPLETED`;
//! the stored lowercase spelling `completed` is accepted too), so the two can never drift.

use async_graphql::{InputObject, Json};
use serde::Deserialize;
use uuid::Uuid;

use crate::graphql::scalars::DateTime;
use crate::graphql::types::enums::{EventExecutionStatus, InvocationStatus, JobExecutionStatus, LogLevel};

type JsonValue = Json<serde_json::Value>;

/// An invocation with any of its event executions, job executions and log lines, new or already
/// stored. To add children to a stored invocation, give only its `id` and the children.
#[derive(InputObject, Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InvocationTreeInput {
    /// Client-chosen id. Needed to refer to the invocation later and for replays to be
    /// idempotent; a new one is generated when omitted.
    pub id: Option<Uuid>,
    /// The detector function called, e.g. `event-detector-moves`. Required for a new invocation.
    pub source_function: Option<String>,
    /// The system that sent the source event, e.g. `hasura`.
    pub source_system: Option<String>,
    /// The full source event.
    pub source_event_payload: Option<JsonValue>,
    /// Who triggered the source change.
    pub source_user_email: Option<String>,
    /// The triggering user's role.
    pub source_user_role: Option<String>,
    /// Lifecycle status; `RUNNING` for a new invocation when omitted. Only moves forward.
    pub status: Option<InvocationStatus>,
    /// End-to-end execution time in milliseconds.
    pub total_duration_ms: Option<i32>,
    /// Whether event modules were loaded automatically.
    pub auto_load_modules: Option<bool>,
    /// The directory event modules were loaded from.
    pub event_modules_directory: Option<String>,
    /// Custom context passed to the detector.
    pub context_data: Option<JsonValue>,
    /// The larger flow this invocation belongs to.
    pub correlation_id: Option<Uuid>,
    /// When the invocation started; the server's clock when omitted.
    pub created_at: Option<DateTime>,
    /// Event modules checked by this invocation.
    pub event_executions: Option<Vec<EventExecutionTreeInput>>,
}

/// The check of one event module, with the jobs its handler ran.
#[derive(InputObject, Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventExecutionTreeInput {
    /// Client-chosen id (generated when omitted; see `InvocationTreeInput.id`).
    pub id: Option<Uuid>,
    /// The event module's name, e.g. `move.pickup.successful`. Required for a new event execution.
    pub event_name: Option<String>,
    /// Whether the detector detected the event; omit while it is still detecting.
    pub detected: Option<bool>,
    /// Time the detector took, in milliseconds.
    pub detection_duration_ms: Option<i32>,
    /// Error the detector threw.
    pub detection_error: Option<String>,
    /// Lifecycle status. When omitted for a new row it follows from the detection: an error
    /// gives `FAILED`, detected `HANDLING`, not detected `NOT_DETECTED`, unknown `DETECTING`.
    pub status: Option<EventExecutionStatus>,
    /// Time the handler took, in milliseconds.
    pub handler_duration_ms: Option<i32>,
    /// Error the handler threw.
    pub handler_error: Option<String>,
    /// When the check started; the server's clock when omitted.
    pub created_at: Option<DateTime>,
    /// Jobs the handler ran.
    pub job_executions: Option<Vec<JobExecutionTreeInput>>,
}

/// One job run by an event's handler, with its console output.
#[derive(InputObject, Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobExecutionTreeInput {
    /// Client-chosen id (generated when omitted; see `InvocationTreeInput.id`).
    pub id: Option<Uuid>,
    /// The job's name, e.g. `sendNotification`. Required for a new job execution.
    pub job_name: Option<String>,
    /// The actual function name.
    pub job_function_name: Option<String>,
    /// Options passed to the job.
    pub job_options: Option<JsonValue>,
    /// Lifecycle status; `RUNNING` for a new job when omitted. Only moves forward.
    pub status: Option<JobExecutionStatus>,
    /// Execution time in milliseconds.
    pub duration_ms: Option<i32>,
    /// The job's return value.
    pub result: Option<JsonValue>,
    /// Message of the error the job threw.
    pub error_message: Option<String>,
    /// Stack trace of the error the job threw.
    pub error_stack: Option<String>,
    /// Console output as one JSON array, for clients that send it that way.
    pub console_logs: Option<JsonValue>,
    /// Attempt number, 1 (the default) for the first run.
    pub attempt: Option<i32>,
    /// When the job started; the server's clock when omitted.
    pub created_at: Option<DateTime>,
    /// Console lines the job wrote.
    pub logs: Option<Vec<JobLogInput>>,
}

/// One console line. Lines are immutable: a line whose id is already stored is left as it is.
#[derive(InputObject, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobLogInput {
    /// Client-chosen id. When omitted, one is derived from the job, `createdAt`, level and
    /// message, so a replayed line is recognised; send `createdAt` (or an id) to keep identical
    /// lines written at different times apart.
    pub id: Option<Uuid>,
    /// Console level.
    pub level: LogLevel,
    /// The logged text.
    pub message: String,
    /// Structured data logged with the line.
    pub data: Option<JsonValue>,
    /// Where the line originated.
    pub source: Option<String>,
    /// When the line was written; the server's clock when omitted.
    pub created_at: Option<DateTime>,
}

/// `startInvocation`: the start of a detector function call.
#[derive(InputObject, Clone, Debug)]
pub struct StartInvocationInput {
    /// Client-chosen id (generated when omitted).
    pub id: Option<Uuid>,
    /// The detector function called, e.g. `event-detector-moves`.
    pub source_function: String,
    /// The system that sent the source event, e.g. `hasura`.
    pub source_system: Option<String>,
    /// The full source event.
    pub source_event_payload: Option<JsonValue>,
    /// Who triggered the source change.
    pub source_user_email: Option<String>,
    /// The triggering user's role.
    pub source_user_role: Option<String>,
    /// Whether event modules are loaded automatically.
    pub auto_load_modules: Option<bool>,
    /// The directory event modules are loaded from.
    pub event_modules_directory: Option<String>,
    /// Custom context passed to the detector.
    pub context_data: Option<JsonValue>,
    /// The larger flow this invocation belongs to.
    pub correlation_id: Option<Uuid>,
    /// When the invocation started; the server's clock when omitted.
    pub started_at: Option<DateTime>,
}

/// `recordEventExecution`: the result of one event module's detector.
#[derive(InputObject, Clone, Debug)]
pub struct RecordEventExecutionInput {
    /// Client-chosen id (generated when omitted).
    pub id: Option<Uuid>,
    /// The invocation that checked the event.
    pub invocation_id: Uuid,
    /// The event module's name, e.g. `move.pickup.successful`.
    pub event_name: String,
    /// Whether the detector detected the event; omit while it is still detecting.
    pub detected: Option<bool>,
    /// Time the detector took, in milliseconds.
    pub detection_duration_ms: Option<i32>,
    /// Error the detector threw (the execution is then `FAILED`).
    pub detection_error: Option<String>,
    /// When the check started; the server's clock when omitted.
    pub started_at: Option<DateTime>,
}

/// `startJobExecution`: a job the handler of a detected event starts.
#[derive(InputObject, Clone, Debug)]
pub struct StartJobExecutionInput {
    /// Client-chosen id (generated when omitted).
    pub id: Option<Uuid>,
    /// The event execution whose handler runs the job.
    pub event_execution_id: Uuid,
    /// The job's name, e.g. `sendNotification`.
    pub job_name: String,
    /// The actual function name.
    pub job_function_name: Option<String>,
    /// Options passed to the job.
    pub job_options: Option<JsonValue>,
    /// Attempt number, 1 (the default) for the first run.
    pub attempt: Option<i32>,
    /// When the job started; the server's clock when omitted.
    pub started_at: Option<DateTime>,
}

/// `appendJobLogs`: console lines a job wrote.
#[derive(InputObject, Clone, Debug)]
pub struct AppendJobLogsInput {
    /// The job execution that wrote the lines.
    pub job_execution_id: Uuid,
    /// The lines, oldest first.
    pub logs: Vec<JobLogInput>,
}

/// How a job or invocation ended.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It finished normally.
    Completed,
    /// It ended with an error.
    Failed,
}

/// `completeJobExecution`: how a job ended.
#[derive(InputObject, Clone, Debug)]
pub struct CompleteJobExecutionInput {
    /// The job execution.
    pub id: Uuid,
    /// `COMPLETED` or `FAILED`.
    pub status: Outcome,
    /// Execution time in milliseconds.
    pub duration_ms: Option<i32>,
    /// The job's return value.
    pub result: Option<JsonValue>,
    /// Message of the error the job threw.
    pub error_message: Option<String>,
    /// Stack trace of the error the job threw.
    pub error_stack: Option<String>,
    /// Console output as one JSON array, for clients that send it that way.
    pub console_logs: Option<JsonValue>,
}

/// `completeEventExecution`: how an event's handling ended. Job counts are derived from the
/// stored jobs.
#[derive(InputObject, Clone, Debug)]
pub struct CompleteEventExecutionInput {
    /// The event execution.
    pub id: Uuid,
    /// `COMPLETED` or `FAILED`.
    pub status: Outcome,
    /// Time the handler took, in milliseconds.
    pub handler_duration_ms: Option<i32>,
    /// Error the handler threw.
    pub handler_error: Option<String>,
}

/// `completeInvocation`: how an invocation ended. Its counters are derived from its children.
#[derive(InputObject, Clone, Debug)]
pub struct CompleteInvocationInput {
    /// The invocation.
    pub id: Uuid,
    /// `COMPLETED` or `FAILED`.
    pub status: Outcome,
    /// End-to-end execution time in milliseconds.
    pub total_duration_ms: Option<i32>,
}
