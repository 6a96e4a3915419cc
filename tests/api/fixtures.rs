//! Builders for exact rows: every field has a plain default, tests override what they assert on.

use chrono::{DateTime, Duration, TimeZone, Utc};
use entity::status::{EventExecutionStatus, InvocationStatus, JobExecutionStatus, LogLevel};
use entity::{event_executions, invocations, job_executions, job_logs};
use runlens::seed::Tree;
use serde_json::json;
use uuid::Uuid;

/// The README's dashboard query, as `bench/dashboard.sh` runs it (ten invocations a page).
pub const DASHBOARD: &str = include_str!("../../bench/dashboard.graphql");

/// `minutes` after a fixed instant, so expected timestamps are exact.
pub fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap() + Duration::minutes(minutes)
}

/// The RFC 3339 form the API returns for `at(minutes)`.
pub fn at_str(minutes: i64) -> String {
    at(minutes).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

pub fn invocation(created_at: DateTime<Utc>) -> invocations::Model {
    invocations::Model {
        id: Uuid::new_v4(),
        source_function: "event-detector-moves".to_owned(),
        source_system: Some("hasura".to_owned()),
        source_event_payload: Some(json!({ "event": { "op": "UPDATE" } })),
        source_user_email: Some("driver@company.com".to_owned()),
        source_user_role: Some("driver".to_owned()),
        status: InvocationStatus::Completed,
        total_duration_ms: Some(100),
        events_detected_count: 0,
        total_jobs_run: 0,
        total_jobs_succeeded: 0,
        total_jobs_failed: 0,
        auto_load_modules: Some(true),
        event_modules_directory: Some("./events".to_owned()),
        context_data: None,
        correlation_id: None,
        created_at,
        updated_at: created_at,
    }
}

pub fn event(invocation: &invocations::Model, name: &str, created_at: DateTime<Utc>) -> event_executions::Model {
    event_executions::Model {
        id: Uuid::new_v4(),
        invocation_id: invocation.id,
        event_name: name.to_owned(),
        detected: Some(true),
        detection_duration_ms: Some(10),
        detection_error: None,
        status: EventExecutionStatus::Completed,
        handler_duration_ms: Some(50),
        handler_error: None,
        jobs_count: 0,
        jobs_succeeded: 0,
        jobs_failed: 0,
        created_at,
        updated_at: created_at,
    }
}

pub fn job(event: &event_executions::Model, name: &str, created_at: DateTime<Utc>) -> job_executions::Model {
    job_executions::Model {
        id: Uuid::new_v4(),
        invocation_id: event.invocation_id,
        event_execution_id: event.id,
        job_name: name.to_owned(),
        job_function_name: Some(name.to_owned()),
        job_options: Some(json!({ "moveId": 123 })),
        status: JobExecutionStatus::Completed,
        duration_ms: Some(40),
        result: Some(json!({ "ok": true })),
        error_message: None,
        error_stack: None,
        console_logs: None,
        attempt: 1,
        created_at,
        updated_at: created_at,
    }
}

pub fn log(job: &job_executions::Model, level: LogLevel, message: &str, created_at: DateTime<Utc>) -> job_logs::Model {
    job_logs::Model {
        id: Uuid::new_v4(),
        job_execution_id: job.id,
        level,
        message: message.to_owned(),
        data: None,
        source: Some("jobs/test.js".to_owned()),
        created_at,
        updated_at: created_at,
    }
}

/// A tree of only an invocation.
pub fn lone(invocation: invocations::Model) -> Tree {
    Tree { invocation: Some(invocation), ..Tree::default() }
}
