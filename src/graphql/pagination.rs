//! Relay connection arguments: page sizes, opaque cursors, and the `orderBy` inputs of each
//! connection mapped onto sortable columns.
//!
//! A cursor is base64url of `{"k": <order field>, "v": <sort value>, "id": <row id>}`. Clients
//! must treat it as opaque; the server refuses one that is malformed or made for another order.

use async_graphql::{Enum, InputObject, InputType};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use entity::{event_executions, invocations, job_executions, job_logs};
use sea_orm::{ActiveEnum, EntityTrait, Value};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::types::enums::SortDirection;
use crate::config::ApiConfig;
use crate::db::Keyed;
use crate::db::page::{PageRequest, Position, SortKey, SortKind};
use crate::error::{ApiError, ApiResult};

/// The four Relay arguments, as the client sent them.
#[derive(Debug, Default)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

impl PageArgs {
    /// Validates the arguments and decodes the cursors for ordering by `key`.
    pub fn request<E: EntityTrait>(&self, key: SortKey<E>, limits: &ApiConfig) -> ApiResult<PageRequest> {
        let size = |name: &str, value: i32| -> ApiResult<u64> {
            if value < 0 || value as u32 > limits.max_page_size {
                return Err(ApiError::bad_field(
                    name,
                    format!("`{name}` must be between 0 and {}, got {value}", limits.max_page_size),
                ));
            }
            Ok(value as u64)
        };
        let (limit, from_end) = match (self.first, self.last) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_field("last", "pass either `first` or `last`, not both"));
            }
            (Some(first), None) => (size("first", first)?, false),
            (None, Some(last)) => (size("last", last)?, true),
            (None, None) => (u64::from(limits.default_page_size), false),
        };
        Ok(PageRequest {
            limit,
            from_end,
            after: self.after.as_deref().map(|c| decode_cursor(key, c, "after")).transpose()?,
            before: self.before.as_deref().map(|c| decode_cursor(key, c, "before")).transpose()?,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct CursorData {
    k: String,
    v: serde_json::Value,
    id: Uuid,
}

/// The cursor of `model`'s position when ordering by `key`.
pub fn encode_cursor<E: Keyed>(key: SortKey<E>, model: &E::Model) -> String {
    let data = CursorData { k: key.name.to_owned(), v: (key.value)(model), id: E::id_of(model) };
    // Serialising a struct of a string, a JSON value and a UUID cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&data).unwrap_or_default())
}

fn decode_cursor<E: EntityTrait>(key: SortKey<E>, cursor: &str, arg: &str) -> ApiResult<Position> {
    let invalid = || ApiError::bad_field(arg, format!("`{arg}` is not a valid cursor"));
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim_end_matches('=')).map_err(|_| invalid())?;
    let data: CursorData = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if data.k != key.name {
        return Err(ApiError::bad_field(
            arg,
            format!("`{arg}` is a cursor for ordering by {}, but this query orders by {}", data.k, key.name),
        ));
    }
    let value = match (&data.v, key.kind) {
        (serde_json::Value::Null, _) if key.nullable => None,
        (serde_json::Value::String(s), SortKind::Time) => {
            Some(Value::from(DateTime::parse_from_rfc3339(s).map_err(|_| invalid())?.with_timezone(&Utc)))
        }
        (serde_json::Value::Number(n), SortKind::Int) => Some(Value::from(n.as_i64().ok_or_else(invalid)?)),
        (serde_json::Value::String(s), SortKind::Text) => Some(Value::from(s.clone())),
        _ => return Err(invalid()),
    };
    Ok(Position { value, id: data.id })
}

/// The cursor form of a timestamp: RFC 3339 with microseconds, the precision both backends keep.
pub fn time_value(t: &DateTime<Utc>) -> serde_json::Value {
    json!(t.to_rfc3339_opts(SecondsFormat::Micros, true))
}

/// An `orderBy` argument: one field and a direction.
#[derive(InputObject, Clone, Copy, Debug, Default)]
#[graphql(concrete(name = "InvocationOrder", params(InvocationOrderField)))]
#[graphql(concrete(name = "EventExecutionOrder", params(EventExecutionOrderField)))]
#[graphql(concrete(name = "JobExecutionOrder", params(JobExecutionOrderField)))]
#[graphql(concrete(name = "JobLogOrder", params(JobLogOrderField)))]
pub struct OrderBy<F: InputType + Default> {
    /// The field to sort by; ties are broken by id in the same direction.
    #[graphql(default)]
    pub field: F,
    /// The direction to sort in.
    #[graphql(default)]
    pub direction: SortDirection,
}

/// Fields invocations can be sorted by.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum InvocationOrderField {
    /// Start time.
    #[default]
    CreatedAt,
    /// End-to-end duration; running invocations (no duration yet) sort as the longest.
    TotalDurationMs,
    /// Status, alphabetically (`COMPLETED`, `FAILED`, `RUNNING`).
    Status,
    /// Source function name, alphabetically.
    SourceFunction,
}

/// Fields event executions can be sorted by.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum EventExecutionOrderField {
    /// Start time.
    #[default]
    CreatedAt,
    /// Event name, alphabetically.
    EventName,
    /// Status, alphabetically.
    Status,
    /// Detector duration; rows without one sort as the longest.
    DetectionDurationMs,
    /// Handler duration; rows without one sort as the longest.
    HandlerDurationMs,
}

/// Fields job executions can be sorted by.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum JobExecutionOrderField {
    /// Start time.
    #[default]
    CreatedAt,
    /// Execution time; running jobs (no duration yet) sort as the longest.
    DurationMs,
    /// Job name, alphabetically.
    JobName,
    /// Status, alphabetically.
    Status,
}

/// Fields job log lines can be sorted by.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum JobLogOrderField {
    /// Capture time.
    #[default]
    CreatedAt,
}

/// A field a connection can be ordered by.
pub trait OrderField: InputType + Copy + Default {
    type Entity: EntityTrait;
    fn key(self) -> SortKey<Self::Entity>;
}

impl OrderField for InvocationOrderField {
    type Entity = invocations::Entity;
    fn key(self) -> SortKey<invocations::Entity> {
        use invocations::Column as C;
        match self {
            Self::CreatedAt => SortKey {
                name: "createdAt",
                column: C::CreatedAt,
                kind: SortKind::Time,
                nullable: false,
                value: |m| time_value(&m.created_at),
            },
            Self::TotalDurationMs => SortKey {
                name: "totalDurationMs",
                column: C::TotalDurationMs,
                kind: SortKind::Int,
                nullable: true,
                value: |m| json!(m.total_duration_ms),
            },
            Self::Status => SortKey {
                name: "status",
                column: C::Status,
                kind: SortKind::Text,
                nullable: false,
                value: |m| json!(m.status.to_value()),
            },
            Self::SourceFunction => SortKey {
                name: "sourceFunction",
                column: C::SourceFunction,
                kind: SortKind::Text,
                nullable: false,
                value: |m| json!(m.source_function),
            },
        }
    }
}

impl OrderField for EventExecutionOrderField {
    type Entity = event_executions::Entity;
    fn key(self) -> SortKey<event_executions::Entity> {
        use event_executions::Column as C;
        match self {
            Self::CreatedAt => SortKey {
                name: "createdAt",
                column: C::CreatedAt,
                kind: SortKind::Time,
                nullable: false,
                value: |m| time_value(&m.created_at),
            },
            Self::EventName => SortKey {
                name: "eventName",
                column: C::EventName,
                kind: SortKind::Text,
                nullable: false,
                value: |m| json!(m.event_name),
            },
            Self::Status => SortKey {
                name: "status",
                column: C::Status,
                kind: SortKind::Text,
                nullable: false,
                value: |m| json!(m.status.to_value()),
            },
            Self::DetectionDurationMs => SortKey {
                name: "detectionDurationMs",
                column: C::DetectionDurationMs,
                kind: SortKind::Int,
                nullable: true,
                value: |m| json!(m.detection_duration_ms),
            },
            Self::HandlerDurationMs => SortKey {
                name: "handlerDurationMs",
                column: C::HandlerDurationMs,
                kind: SortKind::Int,
                nullable: true,
                value: |m| json!(m.handler_duration_ms),
            },
        }
    }
}

impl OrderField for JobExecutionOrderField {
    type Entity = job_executions::Entity;
    fn key(self) -> SortKey<job_executions::Entity> {
        use job_executions::Column as C;
        match self {
            Self::CreatedAt => SortKey {
                name: "createdAt",
                column: C::CreatedAt,
                kind: SortKind::Time,
                nullable: false,
                value: |m| time_value(&m.created_at),
            },
            Self::DurationMs => SortKey {
                name: "durationMs",
                column: C::DurationMs,
                kind: SortKind::Int,
                nullable: true,
                value: |m| json!(m.duration_ms),
            },
            Self::JobName => SortKey {
                name: "jobName",
                column: C::JobName,
                kind: SortKind::Text,
                nullable: false,
                value: |m| json!(m.job_name),
            },
            Self::Status => SortKey {
                name: "status",
                column: C::Status,
                kind: SortKind::Text,
                nullable: false,
                value: |m| json!(m.status.to_value()),
            },
        }
    }
}

impl OrderField for JobLogOrderField {
    type Entity = job_logs::Entity;
    fn key(self) -> SortKey<job_logs::Entity> {
        match self {
            Self::CreatedAt => SortKey {
                name: "createdAt",
                column: job_logs::Column::CreatedAt,
                kind: SortKind::Time,
                nullable: false,
                value: |m| time_value(&m.created_at),
            },
        }
    }
}
