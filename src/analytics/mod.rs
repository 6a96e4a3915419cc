//! Answers a dashboard needs: time series, overviews, slowest and failing jobs, error groups,
//! event statistics, stuck invocations and regressions — from rollups kept fresh in the
//! background (`rollup`) and raw rows where rollups are not complete yet (`window`).

pub mod figures;
pub mod rollup;
pub mod window;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use entity::status::{EventExecutionStatus, InvocationStatus, JobExecutionStatus};
use entity::{event_executions, invocations, job_executions};
use regex::Regex;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

/// Per event name: how often it was checked and detected, and how long it took.
#[derive(Debug, Clone, PartialEq)]
pub struct EventFigures {
    pub event_name: String,
    pub checked: i64,
    pub detected: i64,
    pub failed: i64,
    pub avg_detection_ms: Option<f64>,
    pub avg_handler_ms: Option<f64>,
}

/// Event statistics over `[from, to)` (by when the checks started), most checked first.
pub async fn event_stats(
    db: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<EventFigures>, DbErr> {
    use event_executions::Column as C;
    type Row = (String, i64, Option<i64>, Option<i64>, Option<f64>, Option<f64>);
    let failed = sea_orm::ActiveEnum::to_value(&EventExecutionStatus::Failed);
    let rows: Vec<Row> = event_executions::Entity::find()
        .select_only()
        .column(C::EventName)
        .expr(Expr::cust("COUNT(*)"))
        .expr(Expr::cust("CAST(SUM(CASE WHEN detected THEN 1 ELSE 0 END) AS BIGINT)"))
        .expr(Expr::cust(format!("CAST(SUM(CASE WHEN status = '{failed}' THEN 1 ELSE 0 END) AS BIGINT)")))
        .expr(Expr::cust("CAST(AVG(detection_duration_ms) AS DOUBLE PRECISION)"))
        .expr(Expr::cust("CAST(AVG(handler_duration_ms) AS DOUBLE PRECISION)"))
        .filter(C::CreatedAt.gte(from))
        .filter(C::CreatedAt.lt(to))
        .group_by(C::EventName)
        .into_tuple()
        .all(db)
        .await?;
    let mut out: Vec<EventFigures> = rows
        .into_iter()
        .map(|(event_name, checked, detected, failed, avg_detection_ms, avg_handler_ms)| EventFigures {
            event_name,
            checked,
            detected: detected.unwrap_or(0),
            failed: failed.unwrap_or(0),
            avg_detection_ms,
            avg_handler_ms,
        })
        .collect();
    out.sort_by(|a, b| b.checked.cmp(&a.checked).then_with(|| a.event_name.cmp(&b.event_name)));
    Ok(out)
}

/// Invocations still running that started before `before`, oldest first.
pub async fn stuck_invocations(
    db: &impl ConnectionTrait,
    before: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<invocations::Model>, DbErr> {
    invocations::Entity::find()
        .filter(invocations::Column::Status.eq(InvocationStatus::Running))
        .filter(invocations::Column::CreatedAt.lt(before))
        .order_by_asc(invocations::Column::CreatedAt)
        .order_by_asc(invocations::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Job failures that share a normalised message.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorGroup {
    pub pattern: String,
    pub count: i64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub job_names: Vec<String>,
    /// The most recent failures (at most `SAMPLES`).
    pub samples: Vec<Uuid>,
    pub sample_message: String,
}

/// Failures kept as samples per group.
pub const SAMPLES: usize = 3;

/// Job failures in `[from, to)` grouped by normalised message, most frequent first.
pub async fn error_groups(
    db: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<ErrorGroup>, DbErr> {
    use job_executions::Column as C;
    let rows: Vec<(Uuid, String, Option<String>, DateTime<Utc>)> = job_executions::Entity::find()
        .select_only()
        .columns([C::Id, C::JobName, C::ErrorMessage, C::CreatedAt])
        .filter(C::Status.eq(JobExecutionStatus::Failed))
        .filter(C::CreatedAt.gte(from))
        .filter(C::CreatedAt.lt(to))
        .order_by_desc(C::CreatedAt)
        .order_by_desc(C::Id)
        .into_tuple()
        .all(db)
        .await?;
    let mut groups: BTreeMap<String, ErrorGroup> = BTreeMap::new();
    for (id, job_name, message, created_at) in rows {
        let message = message.unwrap_or_default();
        let pattern = normalize_error(&message);
        let group = groups.entry(pattern.clone()).or_insert_with(|| ErrorGroup {
            pattern,
            count: 0,
            first_seen: created_at,
            last_seen: created_at,
            job_names: Vec::new(),
            samples: Vec::new(),
            sample_message: message.clone(),
        });
        group.count += 1;
        group.first_seen = group.first_seen.min(created_at);
        group.last_seen = group.last_seen.max(created_at);
        if !group.job_names.contains(&job_name) {
            group.job_names.push(job_name);
        }
        if group.samples.len() < SAMPLES {
            group.samples.push(id);
        }
    }
    let mut out: Vec<ErrorGroup> = groups.into_values().collect();
    for g in &mut out {
        g.job_names.sort();
    }
    out.sort_by(|a, b| {
        b.count.cmp(&a.count).then_with(|| b.last_seen.cmp(&a.last_seen)).then_with(|| a.pattern.cmp(&b.pattern))
    });
    out.truncate(limit);
    Ok(out)
}

/// An error message with what varies between occurrences replaced: quoted values by `"…"`,
/// UUIDs by `<uuid>`, long hex strings by `<hex>`, numbers by `<n>`; whitespace collapsed.
pub fn normalize_error(message: &str) -> String {
    static QUOTED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#""[^"]*"|'[^']*'"#).expect("valid pattern"));
    static UUID: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
            .expect("valid pattern")
    });
    static HEX: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(?:0x)?[0-9a-fA-F]{8,}\b").expect("valid pattern"));
    static NUMBER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\d+(?:\.\d+)*").expect("valid pattern"));
    static SPACE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s+").expect("valid pattern"));
    let text = QUOTED.replace_all(message, "\"…\"");
    let text = UUID.replace_all(&text, "<uuid>");
    // Long hex strings (ids, hashes) hold both digits and letters; plain words do not.
    let text = HEX.replace_all(&text, |c: &regex::Captures| {
        let word = &c[0];
        if word.bytes().any(|b| b.is_ascii_digit()) && word.bytes().any(|b| b.is_ascii_alphabetic()) {
            "<hex>".to_owned()
        } else {
            word.to_owned()
        }
    });
    let text = NUMBER.replace_all(&text, "<n>");
    SPACE.replace_all(&text, " ").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::normalize_error;

    #[test]
    fn error_messages_are_normalized() {
        for (message, pattern) in [
            ("connect ECONNREFUSED 10.0.3.17:5432", "connect ECONNREFUSED <n>:<n>"),
            ("timeout of 10000ms exceeded", "timeout of <n>ms exceeded"),
            (
                r#"duplicate key value violates unique constraint "moves_pkey""#,
                "duplicate key value violates unique constraint \"…\"",
            ),
            ("invalid input syntax for type uuid: \"123-45\"", "invalid input syntax for type uuid: \"…\""),
            ("row 550e8400-e29b-41d4-a716-446655440000 missing", "row <uuid> missing"),
            ("getaddrinfo ENOTFOUND api.partner-7.example.com", "getaddrinfo ENOTFOUND api.partner-<n>.example.com"),
            ("object 5f3a9c2e1b7d  gone   away", "object <hex> gone away"),
        ] {
            assert_eq!(normalize_error(message), pattern, "{message}");
        }
    }
}
