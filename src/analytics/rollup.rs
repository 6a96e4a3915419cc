//! The rollup: keeps `metrics_hourly`/`metrics_daily` (per source function) and
//! `job_metrics_hourly`/`job_metrics_daily` (per job name) equal to what the raw rows say.
//!
//! Incremental: a run recomputes only the (hour, key) groups holding a row written since the
//! last run's watermark (rows created *or updated*, so an old invocation that completes late is
//! counted), less an overlap that covers transactions still in flight when the last run read,
//! and then the days of those hours. A group's figures are computed from all its raw rows, so a
//! run is idempotent: rows whose figures did not change are not written (their `refreshed_at`
//! stays). The watermark lives in `rollup_state`, so runs resume after a restart.
//!
//! On PostgreSQL a run holds a transaction-scoped advisory lock; a server whose run finds it
//! taken skips the run, so any number of replicas can run the rollup task safely.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use chrono::{DateTime, DurationRound, NaiveDateTime, TimeDelta, Utc};
use entity::status::{InvocationStatus, JobExecutionStatus};
use entity::{
    invocations, job_executions, job_metrics_daily, job_metrics_hourly, metrics_daily, metrics_hourly, rollup_state,
};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter, QuerySelect, Set,
    Statement, TransactionTrait,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::figures::{InvocationFigures, InvocationRow, InvocationSample, JobFigures, JobRow, int};
use crate::db::WriteLock;

/// The single row of `rollup_state` this rollup keeps.
pub const STATE: &str = "metrics";
/// Advisory lock key of the rollup on PostgreSQL ("runlens!" in ASCII).
pub const LOCK_KEY: i64 = 0x7275_6e6c_656e_7321;

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Another process was running the rollup; this run did nothing.
    pub skipped: bool,
    /// (hour, key) groups recomputed.
    pub groups: usize,
    /// Rollup rows written (new or changed).
    pub rows_written: usize,
}

/// Start of the UTC hour of `t`.
pub fn hour_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::hours(1)).unwrap_or(t)
}

/// Start of the UTC day of `t`.
pub fn day_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::days(1)).unwrap_or(t)
}

/// One incremental run: recompute every group with rows written since the watermark (less
/// `overlap`), or every group when there is no watermark yet.
pub async fn refresh_once(db: &DatabaseConnection, writer: &WriteLock, overlap: Duration) -> Result<RunReport, DbErr> {
    let _writer = writer.acquire().await;
    let started = Instant::now();
    let now = crate::db::now();
    let txn = db.begin().await?;
    if !crate::db::try_xact_lock(&txn, LOCK_KEY).await? {
        return Ok(RunReport { skipped: true, ..RunReport::default() });
    }
    let state = rollup_state::Entity::find_by_id(STATE).one(&txn).await?;
    let since = state.as_ref().and_then(|s| s.watermark).map(|w| w - TimeDelta::from_std(overlap).unwrap_or_default());
    let invocation_groups = touched(&txn, Table::Invocations, since).await?;
    let job_groups = touched(&txn, Table::Jobs, since).await?;
    let report = recompute(&txn, now, invocation_groups, job_groups).await?;
    save_state(&txn, now, started.elapsed(), report.rows_written, None).await?;
    txn.commit().await?;
    Ok(report)
}

/// Recomputes every group with raw rows created in `[from, to)` (whole hours). Rollups of hours
/// without raw rows are kept: they outlive the raw data on purpose (see retention).
pub async fn rebuild(
    db: &DatabaseConnection,
    writer: &WriteLock,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<RunReport, DbErr> {
    let _writer = writer.acquire().await;
    let now = crate::db::now();
    let (from, to) = (hour_of(from), hour_of(to + TimeDelta::hours(1) - TimeDelta::microseconds(1)));
    let txn = db.begin().await?;
    if !crate::db::try_xact_lock(&txn, LOCK_KEY).await? {
        return Ok(RunReport { skipped: true, ..RunReport::default() });
    }
    let invocation_groups = groups_in(&txn, Table::Invocations, from, to).await?;
    let job_groups = groups_in(&txn, Table::Jobs, from, to).await?;
    let report = recompute(&txn, now, invocation_groups, job_groups).await?;
    txn.commit().await?;
    Ok(report)
}

/// Runs `refresh_once` every `interval` until `stop`; a failed run is logged (and recorded in
/// `rollup_state`) and the next run tries again.
pub fn spawn(
    db: DatabaseConnection,
    writer: WriteLock,
    interval: Duration,
    overlap: Duration,
    stop: CancellationToken,
) -> JoinHandle<()> {
    let run = move || {
        let (db, writer) = (db.clone(), writer.clone());
        async move {
            match refresh_once(&db, &writer, overlap).await {
                Ok(report) if !report.skipped => {
                    tracing::debug!(groups = report.groups, rows = report.rows_written, "rollup refreshed")
                }
                Ok(_) => tracing::debug!("rollup run by another server"),
                Err(err) => {
                    tracing::warn!(error = %err, "rollup run failed; retrying next tick");
                    if let Err(err) = record_failure(&db, &err.to_string()).await {
                        tracing::warn!(error = %err, "could not record the rollup failure");
                    }
                }
            }
        }
    };
    tokio::spawn(crate::background::every(tokio::time::Instant::now(), interval, stop, run))
}

async fn save_state(
    txn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    took: Duration,
    rows: usize,
    error: Option<String>,
) -> Result<(), DbErr> {
    let row = rollup_state::ActiveModel {
        name: Set(STATE.to_owned()),
        watermark: Set(Some(now)),
        last_run_at: Set(Some(now)),
        last_duration_ms: Set(Some(took.as_millis().min(i32::MAX as u128) as i32)),
        rows_refreshed: Set(int(rows as i64)),
        last_error: Set(error),
        updated_at: Set(now),
    };
    rollup_state::Entity::insert(row)
        .on_conflict(
            OnConflict::column(rollup_state::Column::Name)
                .update_columns([
                    rollup_state::Column::Watermark,
                    rollup_state::Column::LastRunAt,
                    rollup_state::Column::LastDurationMs,
                    rollup_state::Column::RowsRefreshed,
                    rollup_state::Column::LastError,
                    rollup_state::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await
        .map(|_| ())
}

async fn record_failure(db: &DatabaseConnection, error: &str) -> Result<(), DbErr> {
    rollup_state::Entity::update_many()
        .col_expr(rollup_state::Column::LastError, Expr::val(error.to_owned()))
        .col_expr(rollup_state::Column::LastRunAt, Expr::val(Utc::now()))
        .filter(rollup_state::Column::Name.eq(STATE))
        .exec(db)
        .await
        .map(|_| ())
}

#[derive(Clone, Copy)]
enum Table {
    Invocations,
    Jobs,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Invocations => "invocations",
            Table::Jobs => "job_executions",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Table::Invocations => "source_function",
            Table::Jobs => "job_name",
        }
    }
}

/// The hour of `column` as text `YYYY-MM-DDTHH`, on either backend.
fn hour_text(backend: DbBackend, column: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24')"),
        // SQLite holds timestamps as RFC 3339 text in UTC.
        _ => format!("substr({column}, 1, 13)"),
    }
}

fn parse_hour(text: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(&format!("{text}:00:00"), "%Y-%m-%dT%H:%M:%S").ok().map(|t| t.and_utc())
}

/// (hour, key) groups with rows written after `since` (all groups when `None`).
async fn touched(
    txn: &impl ConnectionTrait,
    table: Table,
    since: Option<DateTime<Utc>>,
) -> Result<BTreeSet<(DateTime<Utc>, String)>, DbErr> {
    let backend = txn.get_database_backend();
    let mut query = Query::select();
    query
        .distinct()
        .expr(Expr::cust(hour_text(backend, "created_at")))
        .column(Alias::new(table.key()))
        .from(Alias::new(table.name()));
    if let Some(since) = since {
        query.and_where(Expr::col(Alias::new("updated_at")).gt(since));
    }
    groups(txn, &query).await
}

/// (hour, key) groups with rows created in `[from, to)`.
async fn groups_in(
    txn: &impl ConnectionTrait,
    table: Table,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<BTreeSet<(DateTime<Utc>, String)>, DbErr> {
    let backend = txn.get_database_backend();
    let query = Query::select()
        .distinct()
        .expr(Expr::cust(hour_text(backend, "created_at")))
        .column(Alias::new(table.key()))
        .from(Alias::new(table.name()))
        .and_where(Expr::col(Alias::new("created_at")).gte(from))
        .and_where(Expr::col(Alias::new("created_at")).lt(to))
        .to_owned();
    groups(txn, &query).await
}

async fn groups(
    txn: &impl ConnectionTrait,
    query: &sea_orm::sea_query::SelectStatement,
) -> Result<BTreeSet<(DateTime<Utc>, String)>, DbErr> {
    let rows = txn.query_all(query).await?;
    let mut out = BTreeSet::new();
    for row in rows {
        let hour: String = row.try_get_by_index(0)?;
        let key: String = row.try_get_by_index(1)?;
        if let Some(hour) = parse_hour(&hour) {
            out.insert((hour, key));
        }
    }
    Ok(out)
}

/// Runs of consecutive hours covering `hours` (sorted), as `[start, end)` ranges.
fn runs(hours: impl IntoIterator<Item = DateTime<Utc>>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut out: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for hour in hours {
        match out.last_mut() {
            Some((_, end)) if *end == hour => *end = hour + TimeDelta::hours(1),
            Some((_, end)) if *end > hour => {}
            _ => out.push((hour, hour + TimeDelta::hours(1))),
        }
    }
    out
}

/// Recomputes the given groups from raw rows and writes those that changed, then the days
/// they fall in.
async fn recompute(
    txn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    invocation_groups: BTreeSet<(DateTime<Utc>, String)>,
    job_groups: BTreeSet<(DateTime<Utc>, String)>,
) -> Result<RunReport, DbErr> {
    let mut report = RunReport { groups: invocation_groups.len() + job_groups.len(), ..RunReport::default() };

    // Invocations, per (hour, source function).
    let mut figures: BTreeMap<(DateTime<Utc>, String), InvocationFigures> =
        invocation_groups.iter().map(|g| (g.clone(), InvocationFigures::default())).collect();
    for (start, end) in runs(invocation_groups.iter().map(|(h, _)| *h).collect::<BTreeSet<_>>()) {
        for (key, created_at, sample) in invocation_samples(txn, start, end, None).await? {
            if let Some(f) = figures.get_mut(&(hour_of(created_at), key)) {
                f.add(&sample);
            }
        }
    }
    let hours: BTreeSet<DateTime<Utc>> = figures.keys().map(|(h, _)| *h).collect();
    report.rows_written += write_invocation_hours(txn, now, figures).await?;
    report.rows_written += write_invocation_days(txn, now, hours.iter().map(|h| day_of(*h)).collect()).await?;

    // Jobs, per (hour, job name).
    let mut figures: BTreeMap<(DateTime<Utc>, String), JobFigures> =
        job_groups.iter().map(|g| (g.clone(), JobFigures::default())).collect();
    for (start, end) in runs(job_groups.iter().map(|(h, _)| *h).collect::<BTreeSet<_>>()) {
        for (key, created_at, status, duration) in job_samples(txn, start, end, None).await? {
            if let Some(f) = figures.get_mut(&(hour_of(created_at), key)) {
                f.add(status, duration);
            }
        }
        for (hour, job_name, source_function) in job_sources(txn, start, end).await? {
            if let Some(f) = figures.get_mut(&(hour, job_name)) {
                f.source_functions.insert(source_function);
            }
        }
    }
    let hours: BTreeSet<DateTime<Utc>> = figures.keys().map(|(h, _)| *h).collect();
    report.rows_written += write_job_hours(txn, now, figures).await?;
    report.rows_written += write_job_days(txn, now, hours.iter().map(|h| day_of(*h)).collect()).await?;
    Ok(report)
}

/// `(source function, created_at, sample)` of the invocations created in `[from, to)`.
pub async fn invocation_samples(
    db: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    source_function: Option<&str>,
) -> Result<Vec<(String, DateTime<Utc>, InvocationSample)>, DbErr> {
    type Row = (String, DateTime<Utc>, InvocationStatus, Option<i32>, i32, i32, i32, i32);
    use invocations::Column as C;
    let mut query = invocations::Entity::find()
        .select_only()
        .columns([
            C::SourceFunction,
            C::CreatedAt,
            C::Status,
            C::TotalDurationMs,
            C::EventsDetectedCount,
            C::TotalJobsRun,
            C::TotalJobsSucceeded,
            C::TotalJobsFailed,
        ])
        .filter(C::CreatedAt.gte(from))
        .filter(C::CreatedAt.lt(to));
    if let Some(f) = source_function {
        query = query.filter(C::SourceFunction.eq(f));
    }
    let rows: Vec<Row> = query.into_tuple().all(db).await?;
    Ok(rows
        .into_iter()
        .map(|(key, created_at, status, duration_ms, events_detected, jobs_run, jobs_succeeded, jobs_failed)| {
            (
                key,
                created_at,
                InvocationSample { status, duration_ms, events_detected, jobs_run, jobs_succeeded, jobs_failed },
            )
        })
        .collect())
}

/// `(job name, created_at, status, duration)` of the jobs created in `[from, to)`.
pub async fn job_samples(
    db: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    job_name: Option<&str>,
) -> Result<Vec<(String, DateTime<Utc>, JobExecutionStatus, Option<i32>)>, DbErr> {
    use job_executions::Column as C;
    let mut query = job_executions::Entity::find()
        .select_only()
        .columns([C::JobName, C::CreatedAt, C::Status, C::DurationMs])
        .filter(C::CreatedAt.gte(from))
        .filter(C::CreatedAt.lt(to));
    if let Some(name) = job_name {
        query = query.filter(C::JobName.eq(name));
    }
    query.into_tuple().all(db).await
}

/// `(hour, job name, source function)` of the jobs created in `[from, to)`.
pub async fn job_sources(
    db: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(DateTime<Utc>, String, String)>, DbErr> {
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT {hour}, j.job_name, i.source_function FROM job_executions j JOIN invocations i ON i.id = j.invocation_id
         WHERE j.created_at >= {p1} AND j.created_at < {p2} GROUP BY 1, 2, 3",
        hour = hour_text(backend, "j.created_at"),
        p1 = if backend == DbBackend::Postgres { "$1" } else { "?" },
        p2 = if backend == DbBackend::Postgres { "$2" } else { "?" },
    );
    let rows = db.query_all_raw(Statement::from_sql_and_values(backend, sql, [from.into(), to.into()])).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let hour: String = row.try_get_by_index(0)?;
        if let Some(hour) = parse_hour(&hour) {
            out.push((hour, row.try_get_by_index(1)?, row.try_get_by_index(2)?));
        }
    }
    Ok(out)
}

/// Writes (upserts) the groups whose figures differ from the stored row. Returns rows written.
async fn write_invocation_hours(
    txn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    groups: BTreeMap<(DateTime<Utc>, String), InvocationFigures>,
) -> Result<usize, DbErr> {
    if groups.is_empty() {
        return Ok(0);
    }
    let hours: Vec<DateTime<Utc>> = groups.keys().map(|(h, _)| *h).collect::<BTreeSet<_>>().into_iter().collect();
    let stored: HashMap<(DateTime<Utc>, String), metrics_hourly::Model> = stored_rows(
        metrics_hourly::Entity::find().filter(metrics_hourly::Column::HourBucket.is_in(hours)).all(txn).await?,
        |m| (m.hour_bucket, m.source_function.clone()),
    );
    let mut rows = Vec::new();
    for ((hour, key), f) in groups {
        let existing = stored.get(&(hour, key.clone()));
        if existing.is_some_and(|e| e.figures() == f) {
            continue;
        }
        let c = InvocationColumns::of(&f);
        rows.push(metrics_hourly::ActiveModel {
            id: Set(existing.map_or_else(Uuid::now_v7, |e| e.id)),
            hour_bucket: Set(hour),
            source_function: Set(key),
            total_invocations: Set(c.total),
            completed_count: Set(c.completed),
            failed_count: Set(c.failed),
            running_count: Set(c.running),
            avg_duration_ms: Set(c.avg),
            min_duration_ms: Set(c.min),
            max_duration_ms: Set(c.max),
            p50_duration_ms: Set(c.p50),
            p95_duration_ms: Set(c.p95),
            p99_duration_ms: Set(c.p99),
            events_detected: Set(c.events_detected),
            jobs_run: Set(c.jobs_run),
            jobs_succeeded: Set(c.jobs_succeeded),
            jobs_failed: Set(c.jobs_failed),
            refreshed_at: Set(Some(now)),
            created_at: Set(existing.map_or(now, |e| e.created_at)),
            updated_at: Set(now),
            duration_sum_ms: Set(c.sum),
            duration_count: Set(c.count),
            duration_sketch: Set(c.sketch),
        });
    }
    let written = rows.len();
    upsert::<metrics_hourly::Entity, _>(
        txn,
        rows,
        [metrics_hourly::Column::HourBucket, metrics_hourly::Column::SourceFunction],
        metrics_hourly::Column::Id,
    )
    .await?;
    Ok(written)
}

/// Merges the hours of each of `days` into their day rows.
async fn write_invocation_days(
    txn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    days: BTreeSet<DateTime<Utc>>,
) -> Result<usize, DbErr> {
    let mut written = 0;
    for day in days {
        let next = day + TimeDelta::days(1);
        let mut merged: BTreeMap<String, InvocationFigures> = BTreeMap::new();
        for row in metrics_hourly::Entity::find()
            .filter(metrics_hourly::Column::HourBucket.gte(day))
            .filter(metrics_hourly::Column::HourBucket.lt(next))
            .all(txn)
            .await?
        {
            merged.entry(row.source_function.clone()).or_default().merge(&row.figures());
        }
        let stored: HashMap<String, metrics_daily::Model> = stored_rows(
            metrics_daily::Entity::find().filter(metrics_daily::Column::DayBucket.eq(day)).all(txn).await?,
            |m| m.source_function.clone(),
        );
        let mut rows = Vec::new();
        for (key, f) in merged {
            let existing = stored.get(&key);
            if existing.is_some_and(|e| e.figures() == f) {
                continue;
            }
            let c = InvocationColumns::of(&f);
            rows.push(metrics_daily::ActiveModel {
                id: Set(existing.map_or_else(Uuid::now_v7, |e| e.id)),
                day_bucket: Set(day),
                source_function: Set(key),
                total_invocations: Set(c.total),
                completed_count: Set(c.completed),
                failed_count: Set(c.failed),
                running_count: Set(c.running),
                avg_duration_ms: Set(c.avg),
                min_duration_ms: Set(c.min),
                max_duration_ms: Set(c.max),
                p50_duration_ms: Set(c.p50),
                p95_duration_ms: Set(c.p95),
                p99_duration_ms: Set(c.p99),
                events_detected: Set(c.events_detected),
                jobs_run: Set(c.jobs_run),
                jobs_succeeded: Set(c.jobs_succeeded),
                jobs_failed: Set(c.jobs_failed),
                refreshed_at: Set(Some(now)),
                created_at: Set(existing.map_or(now, |e| e.created_at)),
                updated_at: Set(now),
                duration_sum_ms: Set(c.sum),
                duration_count: Set(c.count),
                duration_sketch: Set(c.sketch),
            });
        }
        written += rows.len();
        upsert::<metrics_daily::Entity, _>(
            txn,
            rows,
            [metrics_daily::Column::DayBucket, metrics_daily::Column::SourceFunction],
            metrics_daily::Column::Id,
        )
        .await?;
    }
    Ok(written)
}

async fn write_job_hours(
    txn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    groups: BTreeMap<(DateTime<Utc>, String), JobFigures>,
) -> Result<usize, DbErr> {
    if groups.is_empty() {
        return Ok(0);
    }
    let hours: Vec<DateTime<Utc>> = groups.keys().map(|(h, _)| *h).collect::<BTreeSet<_>>().into_iter().collect();
    let stored: HashMap<(DateTime<Utc>, String), job_metrics_hourly::Model> = stored_rows(
        job_metrics_hourly::Entity::find().filter(job_metrics_hourly::Column::HourBucket.is_in(hours)).all(txn).await?,
        |m| (m.hour_bucket, m.job_name.clone()),
    );
    let mut rows = Vec::new();
    for ((hour, key), f) in groups {
        let existing = stored.get(&(hour, key.clone()));
        if existing.is_some_and(|e| e.figures() == f) {
            continue;
        }
        let c = JobColumns::of(&f);
        rows.push(job_metrics_hourly::ActiveModel {
            id: Set(existing.map_or_else(Uuid::now_v7, |e| e.id)),
            hour_bucket: Set(hour),
            job_name: Set(key),
            runs: Set(c.runs),
            succeeded: Set(c.succeeded),
            failed: Set(c.failed),
            running: Set(c.running),
            avg_duration_ms: Set(c.avg),
            min_duration_ms: Set(c.min),
            max_duration_ms: Set(c.max),
            p50_duration_ms: Set(c.p50),
            p95_duration_ms: Set(c.p95),
            p99_duration_ms: Set(c.p99),
            duration_sum_ms: Set(c.sum),
            duration_count: Set(c.count),
            duration_sketch: Set(c.sketch),
            source_functions: Set(c.source_functions),
            refreshed_at: Set(Some(now)),
            created_at: Set(existing.map_or(now, |e| e.created_at)),
            updated_at: Set(now),
        });
    }
    let written = rows.len();
    upsert::<job_metrics_hourly::Entity, _>(
        txn,
        rows,
        [job_metrics_hourly::Column::HourBucket, job_metrics_hourly::Column::JobName],
        job_metrics_hourly::Column::Id,
    )
    .await?;
    Ok(written)
}

async fn write_job_days(
    txn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    days: BTreeSet<DateTime<Utc>>,
) -> Result<usize, DbErr> {
    let mut written = 0;
    for day in days {
        let next = day + TimeDelta::days(1);
        let mut merged: BTreeMap<String, JobFigures> = BTreeMap::new();
        for row in job_metrics_hourly::Entity::find()
            .filter(job_metrics_hourly::Column::HourBucket.gte(day))
            .filter(job_metrics_hourly::Column::HourBucket.lt(next))
            .all(txn)
            .await?
        {
            merged.entry(row.job_name.clone()).or_default().merge(&row.figures());
        }
        let stored: HashMap<String, job_metrics_daily::Model> = stored_rows(
            job_metrics_daily::Entity::find().filter(job_metrics_daily::Column::DayBucket.eq(day)).all(txn).await?,
            |m| m.job_name.clone(),
        );
        let mut rows = Vec::new();
        for (key, f) in merged {
            let existing = stored.get(&key);
            if existing.is_some_and(|e| e.figures() == f) {
                continue;
            }
            let c = JobColumns::of(&f);
            rows.push(job_metrics_daily::ActiveModel {
                id: Set(existing.map_or_else(Uuid::now_v7, |e| e.id)),
                day_bucket: Set(day),
                job_name: Set(key),
                runs: Set(c.runs),
                succeeded: Set(c.succeeded),
                failed: Set(c.failed),
                running: Set(c.running),
                avg_duration_ms: Set(c.avg),
                min_duration_ms: Set(c.min),
                max_duration_ms: Set(c.max),
                p50_duration_ms: Set(c.p50),
                p95_duration_ms: Set(c.p95),
                p99_duration_ms: Set(c.p99),
                duration_sum_ms: Set(c.sum),
                duration_count: Set(c.count),
                duration_sketch: Set(c.sketch),
                source_functions: Set(c.source_functions),
                refreshed_at: Set(Some(now)),
                created_at: Set(existing.map_or(now, |e| e.created_at)),
                updated_at: Set(now),
            });
        }
        written += rows.len();
        upsert::<job_metrics_daily::Entity, _>(
            txn,
            rows,
            [job_metrics_daily::Column::DayBucket, job_metrics_daily::Column::JobName],
            job_metrics_daily::Column::Id,
        )
        .await?;
    }
    Ok(written)
}

fn stored_rows<K: std::hash::Hash + Eq, M>(rows: Vec<M>, key: impl Fn(&M) -> K) -> HashMap<K, M> {
    rows.into_iter().map(|m| (key(&m), m)).collect()
}

/// Inserts `rows`, replacing every column but the id and `created_at` of rows whose `unique`
/// key exists.
async fn upsert<E: EntityTrait, const N: usize>(
    txn: &impl ConnectionTrait,
    rows: Vec<E::ActiveModel>,
    unique: [E::Column; N],
    id: E::Column,
) -> Result<(), DbErr>
where
    E::ActiveModel: sea_orm::ActiveModelTrait<Entity = E> + Send,
{
    use sea_orm::{IdenStatic, Iterable};
    if rows.is_empty() {
        return Ok(());
    }
    let update: Vec<E::Column> = E::Column::iter()
        .filter(|c| c.as_str() != id.as_str() && c.as_str() != "created_at")
        .filter(|c| !unique.iter().any(|u| u.as_str() == c.as_str()))
        .collect();
    let per_statement = (30_000 / E::Column::iter().count()).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<E::ActiveModel> = rows.by_ref().take(per_statement).collect();
        E::insert_many(chunk)
            .on_conflict(OnConflict::columns(unique).update_columns(update.clone()).to_owned())
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// Figures as the column values of an invocation rollup row.
struct InvocationColumns {
    total: i32,
    completed: i32,
    failed: i32,
    running: i32,
    events_detected: i32,
    jobs_run: i32,
    jobs_succeeded: i32,
    jobs_failed: i32,
    avg: Option<f64>,
    min: Option<i32>,
    max: Option<i32>,
    p50: Option<f64>,
    p95: Option<f64>,
    p99: Option<f64>,
    sum: f64,
    count: i32,
    sketch: Option<Vec<u8>>,
}

impl InvocationColumns {
    fn of(f: &InvocationFigures) -> Self {
        let d = &f.durations;
        Self {
            total: int(f.total),
            completed: int(f.completed),
            failed: int(f.failed),
            running: int(f.running),
            events_detected: int(f.events_detected),
            jobs_run: int(f.jobs_run),
            jobs_succeeded: int(f.jobs_succeeded),
            jobs_failed: int(f.jobs_failed),
            avg: d.average(),
            min: d.min,
            max: d.max,
            p50: d.quantile(0.5),
            p95: d.quantile(0.95),
            p99: d.quantile(0.99),
            sum: d.sum,
            count: int(d.count),
            sketch: d.encode(),
        }
    }
}

/// Figures as the column values of a job rollup row.
struct JobColumns {
    runs: i32,
    succeeded: i32,
    failed: i32,
    running: i32,
    avg: Option<f64>,
    min: Option<i32>,
    max: Option<i32>,
    p50: Option<f64>,
    p95: Option<f64>,
    p99: Option<f64>,
    sum: f64,
    count: i32,
    sketch: Option<Vec<u8>>,
    source_functions: serde_json::Value,
}

impl JobColumns {
    fn of(f: &JobFigures) -> Self {
        let d = &f.durations;
        Self {
            runs: int(f.runs),
            succeeded: int(f.succeeded),
            failed: int(f.failed),
            running: int(f.running),
            avg: d.average(),
            min: d.min,
            max: d.max,
            p50: d.quantile(0.5),
            p95: d.quantile(0.95),
            p99: d.quantile(0.99),
            sum: d.sum,
            count: int(d.count),
            sketch: d.encode(),
            source_functions: serde_json::json!(f.source_functions),
        }
    }
}

/// Seconds from the rollup's watermark to now: how stale the rollups are.
pub fn lag_seconds(watermark: DateTime<Utc>) -> f64 {
    (Utc::now() - watermark).num_milliseconds() as f64 / 1000.0
}

/// The state of the rollup, for `rollupStatus`.
pub async fn state(db: &impl ConnectionTrait) -> Result<Option<rollup_state::Model>, DbErr> {
    rollup_state::Entity::find_by_id(STATE).one(db).await
}
