//! GraphQL enums. Status enums mirror the stored lowercase strings of `entity::status`.

use async_graphql::Enum;
use entity::status;
use serde::Deserialize;

/// Where an invocation is in its lifecycle.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
#[graphql(remote = "status::InvocationStatus")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InvocationStatus {
    /// Started and not yet finished (or its function died before reporting the end).
    #[serde(alias = "running")]
    Running,
    /// Finished; individual jobs may still have failed (see `totalJobsFailed`).
    #[serde(alias = "completed")]
    Completed,
    /// Ended with an error outside the jobs.
    #[serde(alias = "failed")]
    Failed,
}

/// Where a job execution is in its lifecycle.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
#[graphql(remote = "status::JobExecutionStatus")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobExecutionStatus {
    /// Started and not yet finished.
    #[serde(alias = "running")]
    Running,
    /// Returned a result.
    #[serde(alias = "completed")]
    Completed,
    /// Threw an error (see `errorMessage` and `errorStack`).
    #[serde(alias = "failed")]
    Failed,
}

/// Where the check of one event module is in its lifecycle.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
#[graphql(remote = "status::EventExecutionStatus")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventExecutionStatus {
    /// The detector function is running.
    #[serde(alias = "detecting")]
    Detecting,
    /// The detector ran and did not detect the event; nothing else happens.
    #[serde(alias = "not_detected")]
    NotDetected,
    /// The event was detected and its handler is running jobs.
    #[serde(alias = "handling")]
    Handling,
    /// The handler finished (individual jobs may have failed).
    #[serde(alias = "completed")]
    Completed,
    /// The detector or the handler threw (see `detectionError` and `handlerError`).
    #[serde(alias = "failed")]
    Failed,
}

/// Console level of a captured log line, from least to most severe.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
#[graphql(remote = "status::LogLevel")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LogLevel {
    /// `console.debug`.
    #[serde(alias = "debug")]
    Debug,
    /// `console.log` and `console.info`.
    #[serde(alias = "info")]
    Info,
    /// `console.warn`.
    #[serde(alias = "warn")]
    Warn,
    /// `console.error`.
    #[serde(alias = "error")]
    Error,
}

/// Sort direction.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash, Default)]
pub enum SortDirection {
    /// Smallest (or oldest) first.
    Asc,
    /// Largest (or newest) first.
    #[default]
    Desc,
}

impl From<SortDirection> for crate::db::page::Direction {
    fn from(direction: SortDirection) -> Self {
        match direction {
            SortDirection::Asc => crate::db::page::Direction::Asc,
            SortDirection::Desc => crate::db::page::Direction::Desc,
        }
    }
}
