//! GraphQL enums. Status enums mirror the stored lowercase strings of `entity::status`.

use async_graphql::Enum;
use entity::status;

/// Where an invocation is in its lifecycle.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[graphql(remote = "status::InvocationStatus")]
pub enum InvocationStatus {
    /// Started and not yet finished (or its function died before reporting the end).
    Running,
    /// Finished; individual jobs may still have failed (see `totalJobsFailed`).
    Completed,
    /// Ended with an error outside the jobs.
    Failed,
}

/// Where a job execution is in its lifecycle.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[graphql(remote = "status::JobExecutionStatus")]
pub enum JobExecutionStatus {
    /// Started and not yet finished.
    Running,
    /// Returned a result.
    Completed,
    /// Threw an error (see `errorMessage` and `errorStack`).
    Failed,
}

/// Where the check of one event module is in its lifecycle.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[graphql(remote = "status::EventExecutionStatus")]
pub enum EventExecutionStatus {
    /// The detector function is running.
    Detecting,
    /// The detector ran and did not detect the event; nothing else happens.
    NotDetected,
    /// The event was detected and its handler is running jobs.
    Handling,
    /// The handler finished (individual jobs may have failed).
    Completed,
    /// The detector or the handler threw (see `detectionError` and `handlerError`).
    Failed,
}

/// Console level of a captured log line, from least to most severe.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[graphql(remote = "status::LogLevel")]
pub enum LogLevel {
    /// `console.debug`.
    Debug,
    /// `console.log` and `console.info`.
    Info,
    /// `console.warn`.
    Warn,
    /// `console.error`.
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
