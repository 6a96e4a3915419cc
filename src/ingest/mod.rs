//! The write path: clients report each step of an invocation's lifecycle, as single mutations or
//! as batches of trees; every call commits in one transaction or not at all.
//!
//! Writes are idempotent and forward-only. Rows are keyed by their UUIDs (log lines by theirs,
//! or by an id derived from their content), so replaying a batch inserts nothing twice and
//! changes nothing. A status only moves forward (`RUNNING` → `COMPLETED`); moving back is an
//! error naming the row. Counters on parents (`jobsCount`, `totalJobsFailed`, …) are derived
//! from the stored children in the same transaction, so they cannot disagree with them.
//!
//! Concurrency: on PostgreSQL the stored rows a batch touches are locked (`FOR UPDATE`) while it
//! is planned and written, and a batch that loses a race (two clients creating the same id) is
//! retried. SQLite allows one writer at a time, so writes queue on a lock in the process.

pub mod input;
pub mod ndjson;
pub mod plan;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::SimpleObject;
use chrono::Utc;
use entity::status::JobExecutionStatus;
use entity::{event_executions, invocations, job_executions, job_logs};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter, QuerySelect,
    TransactionTrait,
};
use serde::Serialize;
use uuid::Uuid;

use crate::config::IngestConfig;
use crate::db::{self, Keyed};
use crate::error::ApiError;
use crate::live::{Broker, Commit, InvocationChange, LogChange};
use crate::metrics::Metrics;
use plan::{Change, Plan, Unit, outcome, referenced};

/// How a rejected request is reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestErrorCode {
    BadUserInput,
    NotFound,
}

/// Why a unit of work was rejected; `path` locates the offending input.
#[derive(Debug, Clone)]
pub struct IngestError {
    pub code: IngestErrorCode,
    pub path: String,
    pub message: String,
}

impl IngestError {
    pub fn bad_input(path: &str, field: &str, message: impl Into<String>) -> Self {
        let path = if field.is_empty() { path.to_owned() } else { format!("{path}.{field}") };
        Self { code: IngestErrorCode::BadUserInput, path, message: message.into() }
    }

    pub fn not_found(path: &str, message: impl Into<String>) -> Self {
        Self { code: IngestErrorCode::NotFound, path: path.to_owned(), message: message.into() }
    }
}

impl From<IngestError> for ApiError {
    fn from(err: IngestError) -> Self {
        let message = format!("{}: {}", err.path, err.message);
        match err.code {
            IngestErrorCode::BadUserInput => ApiError::BadUserInput { message, field: Some(err.path) },
            IngestErrorCode::NotFound => ApiError::NotFound { message, field: Some(err.path) },
        }
    }
}

/// Rows of one table a request inserted, moved forward, or found already as sent.
#[derive(SimpleObject, Serialize, Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RowCounts {
    /// New rows written.
    pub inserted: u64,
    /// Stored rows that changed.
    pub updated: u64,
    /// Rows already stored as sent (a replay).
    pub unchanged: u64,
}

impl RowCounts {
    fn add(&mut self, change: Change) {
        match change {
            Change::Insert => self.inserted += 1,
            Change::Update => self.updated += 1,
            Change::Unchanged => self.unchanged += 1,
        }
    }

    fn merge(&mut self, other: RowCounts) {
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
    }
}

/// What a write did, per table.
#[derive(SimpleObject, Serialize, Debug, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct IngestCounts {
    /// Invocations.
    pub invocations: RowCounts,
    /// Event executions.
    pub event_executions: RowCounts,
    /// Job executions.
    pub job_executions: RowCounts,
    /// Job log lines.
    pub job_logs: RowCounts,
}

impl IngestCounts {
    pub fn merge(&mut self, other: IngestCounts) {
        self.invocations.merge(other.invocations);
        self.event_executions.merge(other.event_executions);
        self.job_executions.merge(other.job_executions);
        self.job_logs.merge(other.job_logs);
    }

    pub fn rows(&self) -> u64 {
        [self.invocations, self.event_executions, self.job_executions, self.job_logs]
            .iter()
            .map(|c| c.inserted + c.updated)
            .sum()
    }
}

/// The outcome of applying units one by one: per unit, its counts or why it was rejected.
#[derive(Debug)]
pub struct Applied {
    pub results: Vec<Result<IngestCounts, IngestError>>,
}

/// Applies writes and announces what they changed.
#[derive(Clone)]
pub struct Ingestor {
    db: DatabaseConnection,
    config: IngestConfig,
    broker: Broker,
    writer: db::WriteLock,
    metrics: Metrics,
}

/// Attempts of a PostgreSQL transaction that lost a race to another writer.
const ATTEMPTS: usize = 4;

impl Ingestor {
    pub fn new(
        db: DatabaseConnection,
        config: IngestConfig,
        broker: Broker,
        writer: db::WriteLock,
        metrics: Metrics,
    ) -> Self {
        Self { db, config, broker, writer, metrics }
    }

    pub fn config(&self) -> &IngestConfig {
        &self.config
    }

    /// Applies all units in one transaction, or none if any is invalid.
    pub async fn apply_all(&self, units: Vec<Unit>) -> Result<IngestCounts, ApiError> {
        for unit in &units {
            self.check_sizes(unit)?;
        }
        let results = self.write(units, false).await?;
        let mut total = IngestCounts::default();
        for result in results {
            total.merge(result?);
        }
        Ok(total)
    }

    /// Applies each valid unit and reports each invalid one, in one transaction.
    pub async fn apply_each(&self, units: Vec<Unit>) -> Result<Applied, ApiError> {
        let mut results: Vec<Option<Result<IngestCounts, IngestError>>> = vec![None; units.len()];
        let mut valid = Vec::with_capacity(units.len());
        let mut index = Vec::with_capacity(units.len());
        for (i, unit) in units.into_iter().enumerate() {
            match self.check_sizes(&unit) {
                Ok(()) => {
                    valid.push(unit);
                    index.push(i);
                }
                Err(err) => results[i] = Some(Err(err)),
            }
        }
        for (i, result) in index.into_iter().zip(self.write(valid, true).await?) {
            results[i] = Some(result);
        }
        Ok(Applied { results: results.into_iter().map(|r| r.unwrap_or_else(|| Ok(IngestCounts::default()))).collect() })
    }

    /// Plans and writes `units`. With `skip_invalid`, invalid units are left out (the plan is
    /// as if they had never been sent); otherwise any invalid unit aborts all.
    async fn write(
        &self,
        units: Vec<Unit>,
        skip_invalid: bool,
    ) -> Result<Vec<Result<IngestCounts, IngestError>>, ApiError> {
        let _writer = self.writer.acquire().await;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.write_once(&units, skip_invalid).await {
                Err(WriteError::Db(err)) if attempt < ATTEMPTS && lost_race(&err) => {
                    tracing::debug!(error = %err, attempt, "write lost a race; retrying");
                }
                Err(WriteError::Db(err)) => return Err(err.into()),
                Err(WriteError::Invalid(err)) => return Err(err.into()),
                Ok((results, commit)) => {
                    if let Some(commit) = commit {
                        self.broker.committed(commit);
                    }
                    self.count_rows(&results);
                    return Ok(results);
                }
            }
        }
    }

    /// Adds the rows a committed write inserted or moved forward to the server's metrics.
    fn count_rows(&self, results: &[Result<IngestCounts, IngestError>]) {
        let mut total = IngestCounts::default();
        for counts in results.iter().flatten() {
            total.merge(*counts);
        }
        for (table, rows) in [
            ("invocations", total.invocations),
            ("event_executions", total.event_executions),
            ("job_executions", total.job_executions),
            ("job_logs", total.job_logs),
        ] {
            self.metrics.ingested(table, rows.inserted + rows.updated);
        }
    }

    async fn write_once(
        &self,
        units: &[Unit],
        skip_invalid: bool,
    ) -> Result<(Vec<Result<IngestCounts, IngestError>>, Option<Commit>), WriteError> {
        let now = db::now();
        let txn = db::on_this_thread(&self.db).begin().await?;
        let mut plan = load(&txn, units).await?;
        let results = plan.apply(units, now);
        if !skip_invalid && let Some(Err(first)) = results.iter().find(|r| r.is_err()) {
            return Err(WriteError::Invalid(first.clone()));
        }
        let commit = store(&txn, plan.take_writes(), now).await?;
        if let Some(commit) = &commit {
            self.broker.stage(&txn, commit).await?;
        }
        txn.commit().await?;
        Ok((results, commit))
    }

    /// Checks what the database would refuse, or what would be too large to keep, before
    /// anything is written: names at most [`MAX_NAME_BYTES`], texts and JSON documents at most
    /// `max_field_bytes`, and no NUL characters anywhere (PostgreSQL cannot store them in text
    /// or JSON).
    fn check_sizes(&self, unit: &Unit) -> Result<(), IngestError> {
        let max = self.config.max_field_bytes;
        let check_json = |value: &Option<async_graphql::Json<serde_json::Value>>, path: &str, field: &str| {
            if let Some(json) = value {
                let size = json_size(&json.0);
                if size > max {
                    return Err(IngestError::bad_input(path, field, format!("is {size} bytes; the limit is {max}")));
                }
                if json_has_nul(&json.0) {
                    return Err(IngestError::bad_input(path, field, "may not contain NUL characters (\\u0000)"));
                }
            }
            Ok(())
        };
        let check_text = |value: Option<&str>, limit: usize, path: &str, field: &str| match value {
            Some(text) if text.len() > limit => {
                Err(IngestError::bad_input(path, field, format!("is {} bytes; the limit is {limit}", text.len())))
            }
            Some(text) if text.contains('\0') => {
                Err(IngestError::bad_input(path, field, "may not contain NUL characters (\\u0000)"))
            }
            _ => Ok(()),
        };
        let name = MAX_NAME_BYTES;
        for p in &unit.invocations {
            let f = &p.fields;
            check_text(f.source_function.as_deref(), name, &p.path, "sourceFunction")?;
            check_text(f.source_system.as_deref(), name, &p.path, "sourceSystem")?;
            check_text(f.source_user_email.as_deref(), name, &p.path, "sourceUserEmail")?;
            check_text(f.source_user_role.as_deref(), name, &p.path, "sourceUserRole")?;
            check_text(f.event_modules_directory.as_deref(), name, &p.path, "eventModulesDirectory")?;
            check_json(&f.source_event_payload, &p.path, "sourceEventPayload")?;
            check_json(&f.context_data, &p.path, "contextData")?;
        }
        for p in &unit.events {
            let f = &p.fields;
            check_text(f.event_name.as_deref(), name, &p.path, "eventName")?;
            check_text(f.detection_error.as_deref(), max, &p.path, "detectionError")?;
            check_text(f.handler_error.as_deref(), max, &p.path, "handlerError")?;
        }
        for p in &unit.jobs {
            let f = &p.fields;
            check_text(f.job_name.as_deref(), name, &p.path, "jobName")?;
            check_text(f.job_function_name.as_deref(), name, &p.path, "jobFunctionName")?;
            check_json(&f.job_options, &p.path, "jobOptions")?;
            check_json(&f.result, &p.path, "result")?;
            check_json(&f.console_logs, &p.path, "consoleLogs")?;
            check_text(f.error_message.as_deref(), max, &p.path, "errorMessage")?;
            check_text(f.error_stack.as_deref(), max, &p.path, "errorStack")?;
        }
        for p in &unit.logs {
            check_text(p.fields.source.as_deref(), name, &p.path, "source")?;
            check_json(&p.fields.data, &p.path, "data")?;
            check_text(Some(&p.fields.message), max, &p.path, "message")?;
        }
        Ok(())
    }
}

/// Longest name (source function, event, job, …) a write may carry, in bytes: names are
/// indexed, and an index entry must fit in a database page.
pub const MAX_NAME_BYTES: usize = 512;

/// Whether any string or key of a JSON document holds a NUL character.
fn json_has_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(json_has_nul),
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || json_has_nul(v)),
        _ => false,
    }
}

enum WriteError {
    Db(DbErr),
    Invalid(IngestError),
}

impl From<DbErr> for WriteError {
    fn from(err: DbErr) -> Self {
        WriteError::Db(err)
    }
}

/// Whether a PostgreSQL transaction failed only because a concurrent one got there first.
fn lost_race(err: &DbErr) -> bool {
    if matches!(err.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) {
        return true;
    }
    let text = err.to_string();
    text.contains("deadlock detected") || text.contains("could not serialize access")
}

/// Serialized size of a JSON value, without building the string.
fn json_size(value: &serde_json::Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// Loads (and on PostgreSQL locks) the stored rows `units` refer to, and the parents of those
/// rows: a job completed by id still moves its event's and invocation's counters.
///
/// Rows are locked children first (jobs, events, invocations), the same order in every
/// transaction, so concurrent batches wait for each other rather than deadlock.
async fn load(db: &impl ConnectionTrait, units: &[Unit]) -> Result<Plan, DbErr> {
    let ids = referenced(units);
    let jobs = locked::<job_executions::Entity>(db, &ids.jobs).await?;
    let mut event_ids: HashSet<Uuid> = ids.events.into_iter().collect();
    event_ids.extend(jobs.iter().map(|j| j.event_execution_id));
    let events = locked::<event_executions::Entity>(db, &event_ids.into_iter().collect::<Vec<_>>()).await?;
    let mut invocation_ids: HashSet<Uuid> = ids.invocations.into_iter().collect();
    invocation_ids.extend(events.iter().map(|e| e.invocation_id));
    invocation_ids.extend(jobs.iter().map(|j| j.invocation_id));
    let invocations = locked::<invocations::Entity>(db, &invocation_ids.into_iter().collect::<Vec<_>>()).await?;
    let stored_logs = if ids.logs.is_empty() {
        Vec::new()
    } else {
        job_logs::Entity::find()
            .select_only()
            .column(job_logs::Column::Id)
            .filter(db::id_in(db.get_database_backend(), job_logs::Column::Id, &ids.logs))
            .into_tuple()
            .all(db)
            .await?
    };
    Ok(Plan::new(invocations, events, jobs, stored_logs))
}

async fn locked<E: Keyed>(db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<Vec<E::Model>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let query = E::find().filter(db::id_in(db.get_database_backend(), E::id_column(), ids));
    if db.get_database_backend() == DbBackend::Postgres {
        query.lock_exclusive().all(db).await
    } else {
        query.all(db).await
    }
}

/// The rows a plan writes.
pub struct Writes {
    invocations: Vec<(invocations::Model, Change, bool)>,
    events: Vec<(event_executions::Model, Change)>,
    jobs: Vec<(job_executions::Model, Change)>,
    logs: Vec<job_logs::Model>,
    recount_events: HashSet<Uuid>,
    recount_invocations: HashSet<Uuid>,
    /// Invocations touched only through their children.
    touched_invocations: HashSet<Uuid>,
    stored_invocations: HashMap<Uuid, invocations::Model>,
    stored_events: HashMap<Uuid, event_executions::Model>,
    /// The invocation of each job that wrote new lines.
    log_invocations: HashMap<Uuid, Uuid>,
}

impl Plan {
    /// Takes what must be written out of the plan (the per-unit counts stay).
    fn take_writes(&mut self) -> Writes {
        let mut touched_invocations: HashSet<Uuid> = HashSet::new();
        for slot in self.events.values().filter(|s| s.changed) {
            touched_invocations.insert(slot.row.invocation_id);
        }
        for slot in self.jobs.values().filter(|s| s.changed) {
            touched_invocations.insert(slot.row.invocation_id);
        }
        let mut log_invocations = HashMap::new();
        for log in &self.new_logs {
            if let Some(job) = self.jobs.get(&log.job_execution_id) {
                touched_invocations.insert(job.row.invocation_id);
                log_invocations.insert(job.row.id, job.row.invocation_id);
            }
        }
        let mut stored_invocations = HashMap::new();
        let mut invocations = Vec::new();
        for (id, slot) in self.invocations.drain() {
            match slot.change() {
                Change::Unchanged => {
                    stored_invocations.insert(id, slot.row);
                }
                change => invocations.push((slot.row, change, slot.finished)),
            }
        }
        let mut stored_events = HashMap::new();
        let mut events = Vec::new();
        for (id, slot) in self.events.drain() {
            match slot.change() {
                Change::Unchanged => {
                    stored_events.insert(id, slot.row);
                }
                change => events.push((slot.row, change)),
            }
        }
        let jobs = self
            .jobs
            .drain()
            .filter(|(_, s)| s.change() != Change::Unchanged)
            .map(|(_, s)| (s.row.clone(), s.change()))
            .collect();
        Writes {
            invocations,
            events,
            jobs,
            logs: std::mem::take(&mut self.new_logs),
            recount_events: std::mem::take(&mut self.recount_events),
            recount_invocations: std::mem::take(&mut self.recount_invocations),
            touched_invocations,
            stored_invocations,
            stored_events,
            log_invocations,
        }
    }
}

/// Writes a plan's rows (parents first), recomputes the counters of stored parents whose
/// children changed, and returns what the commit will announce.
async fn store(db: &impl ConnectionTrait, mut w: Writes, now: chrono::DateTime<Utc>) -> Result<Option<Commit>, DbErr> {
    let invocation_rows: Vec<(invocations::Model, Change)> =
        w.invocations.iter().map(|(r, c, _)| (r.clone(), *c)).collect();
    let (new_invocations, changed_invocations) = split(invocation_rows);
    db::write::insert::<invocations::Entity>(db, new_invocations).await?;
    db::write::update::<invocations::Entity>(db, changed_invocations).await?;
    let (new_events, changed_events) = split(w.events.clone());
    db::write::insert::<event_executions::Entity>(db, new_events).await?;
    db::write::update::<event_executions::Entity>(db, changed_events).await?;
    let (new_jobs, changed_jobs) = split(w.jobs.clone());
    db::write::insert::<job_executions::Entity>(db, new_jobs).await?;
    db::write::update::<job_executions::Entity>(db, changed_jobs).await?;
    db::write::insert::<job_logs::Entity>(db, w.logs.clone()).await?;

    // Counters of stored parents: recount from every stored child, now that the children are
    // written, and write the parents whose counters moved.
    let mut event_rows: HashMap<Uuid, event_executions::Model> =
        w.events.iter().map(|(r, _)| (r.id, r.clone())).chain(w.stored_events.drain()).collect();
    let mut invocation_rows: HashMap<Uuid, invocations::Model> =
        w.invocations.iter().map(|(r, _, _)| (r.id, r.clone())).chain(w.stored_invocations.drain()).collect();
    let mut recounted_events = Vec::new();
    if !w.recount_events.is_empty() {
        let ids: Vec<Uuid> = w.recount_events.iter().copied().collect();
        let mut tallies: HashMap<Uuid, (i32, i32, i32)> = ids.iter().map(|id| (*id, (0, 0, 0))).collect();
        for (event_id, status, n) in job_tallies(db, job_executions::Column::EventExecutionId, &ids).await? {
            let (ok, failed) = outcome(status);
            let t = tallies.entry(event_id).or_default();
            *t = (t.0 + n, t.1 + ok * n, t.2 + failed * n);
        }
        for (id, (count, ok, failed)) in tallies {
            if let Some(row) = event_rows.get_mut(&id)
                && (row.jobs_count, row.jobs_succeeded, row.jobs_failed) != (count, ok, failed)
            {
                (row.jobs_count, row.jobs_succeeded, row.jobs_failed) = (count, ok, failed);
                row.updated_at = now;
                recounted_events.push(row.clone());
            }
        }
        db::write::update::<event_executions::Entity>(db, recounted_events).await?;
    }
    if !w.recount_invocations.is_empty() {
        let ids: Vec<Uuid> = w.recount_invocations.iter().copied().collect();
        let mut tallies: HashMap<Uuid, (i32, i32, i32, i32)> = ids.iter().map(|id| (*id, (0, 0, 0, 0))).collect();
        for (invocation_id, status, n) in job_tallies(db, job_executions::Column::InvocationId, &ids).await? {
            let (ok, failed) = outcome(status);
            let t = tallies.entry(invocation_id).or_default();
            *t = (t.0, t.1 + n, t.2 + ok * n, t.3 + failed * n);
        }
        let detected: Vec<(Uuid, i64)> = event_executions::Entity::find()
            .select_only()
            .column(event_executions::Column::InvocationId)
            .expr(Expr::cust("COUNT(*)"))
            .filter(db::id_in(db.get_database_backend(), event_executions::Column::InvocationId, &ids))
            .filter(event_executions::Column::Detected.eq(true))
            .group_by(event_executions::Column::InvocationId)
            .into_tuple()
            .all(db)
            .await?;
        for (invocation_id, n) in detected {
            tallies.entry(invocation_id).or_default().0 = n as i32;
        }
        let mut recounted = Vec::new();
        for (id, (detected, run, ok, failed)) in tallies {
            if let Some(row) = invocation_rows.get_mut(&id) {
                let now_counts =
                    (row.events_detected_count, row.total_jobs_run, row.total_jobs_succeeded, row.total_jobs_failed);
                if now_counts != (detected, run, ok, failed) {
                    (row.events_detected_count, row.total_jobs_run, row.total_jobs_succeeded, row.total_jobs_failed) =
                        (detected, run, ok, failed);
                    row.updated_at = now;
                    recounted.push(row.clone());
                }
            }
        }
        db::write::update::<invocations::Entity>(db, recounted).await?;
    }

    // What subscribers hear about.
    let mut changes: Vec<InvocationChange> = Vec::new();
    let mut announced = HashSet::new();
    for (row, change, finished) in &w.invocations {
        announced.insert(row.id);
        let row = invocation_rows.get(&row.id).cloned().unwrap_or_else(|| row.clone());
        changes.push(match (change, finished) {
            (Change::Insert, _) => InvocationChange::created(row),
            (_, true) => InvocationChange::completed(row),
            _ => InvocationChange::progressed(row),
        });
    }
    for id in w.touched_invocations {
        if announced.insert(id)
            && let Some(row) = invocation_rows.remove(&id)
        {
            changes.push(InvocationChange::progressed(row));
        }
    }
    let commit = Commit {
        invocations: changes,
        jobs: w.jobs.into_iter().map(|(row, _)| Arc::new(row)).collect(),
        logs: w
            .logs
            .into_iter()
            .filter_map(|row| {
                let invocation_id = *w.log_invocations.get(&row.job_execution_id)?;
                Some(LogChange { invocation_id, row: Arc::new(row) })
            })
            .collect(),
    };
    Ok((!commit.is_empty()).then_some(commit))
}

/// Rows to insert and rows to update.
fn split<M>(rows: Vec<(M, Change)>) -> (Vec<M>, Vec<M>) {
    let (new, changed): (Vec<_>, Vec<_>) = rows.into_iter().partition(|(_, c)| *c == Change::Insert);
    (new.into_iter().map(|(r, _)| r).collect(), changed.into_iter().map(|(r, _)| r).collect())
}

/// `(parent, status, count)` of the jobs under the given parents.
async fn job_tallies(
    db: &impl ConnectionTrait,
    parent: job_executions::Column,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, JobExecutionStatus, i32)>, DbErr> {
    let rows: Vec<(Uuid, JobExecutionStatus, i64)> = job_executions::Entity::find()
        .select_only()
        .column(parent)
        .column(job_executions::Column::Status)
        .expr(Expr::cust("COUNT(*)"))
        .filter(db::id_in(db.get_database_backend(), parent, ids))
        .group_by(parent)
        .group_by(job_executions::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(id, status, n)| (id, status, n as i32)).collect())
}
