//! `TimelineEntry`: one bar of an invocation's waterfall.

use async_graphql::{Enum, SimpleObject};
use uuid::Uuid;

use crate::graphql::scalars::DateTime;

/// What a timeline entry is.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum TimelineKind {
    /// The invocation itself (depth 0).
    Invocation,
    /// An event module's check (depth 1).
    EventExecution,
    /// A job of a detected event (depth 2).
    JobExecution,
}

/// One bar of a waterfall: an invocation, one of its event checks or one of its jobs.
#[derive(SimpleObject, Debug, Clone)]
pub struct TimelineEntry {
    /// Invocation, event execution or job execution.
    pub kind: TimelineKind,
    /// Id of the row.
    pub id: Uuid,
    /// Id of the parent row (the invocation of an event, the event of a job); null for the invocation.
    pub parent_id: Option<Uuid>,
    /// Nesting depth: 0 for the invocation, 1 for events, 2 for jobs.
    pub depth: i32,
    /// Source function, event name or job name.
    pub name: String,
    /// Status, as the row's own status enum spells it (`COMPLETED`, `NOT_DETECTED`, …).
    pub status: String,
    /// When it started.
    pub started_at: DateTime,
    /// Milliseconds from the invocation's start to this entry's start.
    pub start_offset_ms: f64,
    /// How long it took, in milliseconds (detection plus handling for events); null while running.
    pub duration_ms: Option<i32>,
    /// `startOffsetMs + durationMs`; null while running.
    pub end_offset_ms: Option<f64>,
}
