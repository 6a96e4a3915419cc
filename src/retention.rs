//! Retention: deletes execution history, and later the rollups, once they are older than their
//! retention period (`RetentionConfig`).
//!
//! Execution history goes a whole invocation tree at a time, by the invocation's start
//! (`invocations.created_at`): deleting an invocation takes its event executions, job executions
//! and job logs with it through the schema's `ON DELETE CASCADE` foreign keys (enabled on every
//! SQLite connection by `db::connect`), and the trigger-kept `row_counts` follow. The cutoff is
//! `now − retention_days` rounded down to the hour, so an hour of raw rows is never cut in two:
//! the rollup of an hour is either computed from all of its rows or left alone (`rollup::rebuild`
//! keeps the rollups of hours that have no raw rows).
//!
//! Deletes run in bounded batches, each its own short transaction deleting the `prune_batch`
//! oldest invocations (`DELETE … WHERE id IN (SELECT id … ORDER BY created_at LIMIT n)`), until a
//! batch deletes fewer than that. So no statement holds locks, or the SQLite writer, for long:
//! writers queue behind one batch at most, and a run that is cancelled loses only the batch in
//! flight, which rolls back.
//!
//! Rollups (`metrics_hourly`, `metrics_daily`, `job_metrics_hourly`, `job_metrics_daily`) are
//! kept longer (`rollup_retention_days`, 400 days by default, against 90 for the raw rows), so
//! analytics over old windows are still answered from them after their raw rows are gone. A
//! rollup row goes once all of its hour or day is older than the rollup cutoff, in batches of
//! `prune_batch` rows. A retention of 0 days keeps that kind of data forever.
//!
//! On PostgreSQL each batch takes a transaction-scoped advisory lock (`LOCK_KEY`); a server whose
//! batch finds it taken stops its run and reports it skipped, so any number of replicas can run
//! the pruning task and only one deletes at a time. On SQLite each batch holds the in-process
//! writer lock (`db::WriteLock`), so pruning queues with the ingest path instead of failing with
//! `SQLITE_BUSY`.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::{Alias, DeleteStatement, Expr, Order, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::analytics::rollup::{day_of, hour_of};
use crate::config::RetentionConfig;
use crate::db::WriteLock;

/// Advisory lock key of pruning on PostgreSQL ("rlprune!" in ASCII); distinct from the rollup's
/// (`analytics::rollup::LOCK_KEY`), so pruning and the rollup do not wait for each other.
pub const LOCK_KEY: i64 = 0x726c_7072_756e_6521;

/// The longest the background task waits after start before its first run: a server restarted
/// more often than `prune_interval_secs` still prunes.
const FIRST_RUN_AFTER: Duration = Duration::from_secs(10);

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Invocations deleted (each with its whole tree).
    pub invocations: u64,
    /// Rollup rows deleted, hourly and daily, of invocations and of jobs.
    pub rollup_rows: u64,
    /// Batches (transactions) run, including the last one of each table, which deletes fewer
    /// than `prune_batch` rows (possibly none).
    pub batches: u32,
    /// Another server was pruning: this run stopped at its first batch that found the lock
    /// taken (batches before it are counted above).
    pub skipped: bool,
}

impl PruneReport {
    /// Whether the run deleted anything.
    pub fn deleted_any(&self) -> bool {
        self.invocations > 0 || self.rollup_rows > 0
    }
}

/// A table pruned by the instant in one of its columns.
struct Target {
    table: &'static str,
    /// The column holding each row's instant (its start, or its bucket's start).
    time: &'static str,
}

const INVOCATIONS: Target = Target { table: "invocations", time: "created_at" };

/// The rollup tables and the width of their buckets.
const ROLLUPS: [(Target, Granularity); 4] = [
    (Target { table: "metrics_hourly", time: "hour_bucket" }, Granularity::Hour),
    (Target { table: "job_metrics_hourly", time: "hour_bucket" }, Granularity::Hour),
    (Target { table: "metrics_daily", time: "day_bucket" }, Granularity::Day),
    (Target { table: "job_metrics_daily", time: "day_bucket" }, Granularity::Day),
];

#[derive(Clone, Copy)]
enum Granularity {
    Hour,
    Day,
}

/// `now − days`, or `None` when data of that age is kept forever (`days` 0) or cannot exist
/// (before the earliest representable instant).
fn cutoff(now: DateTime<Utc>, days: u32) -> Option<DateTime<Utc>> {
    if days == 0 {
        return None;
    }
    now.checked_sub_signed(TimeDelta::try_days(i64::from(days))?)
}

/// One run: deletes the invocation trees started before `now − retention_days` (rounded down to
/// the hour), then the rollup rows whose whole bucket lies before `now − rollup_retention_days`,
/// each in batches of at most `prune_batch` rows (at least 1).
///
/// Stops at the first batch that finds another server pruning (PostgreSQL), with
/// `skipped: true`; what earlier batches deleted stays deleted.
pub async fn prune_once(
    db: &DatabaseConnection,
    writer: &WriteLock,
    config: &RetentionConfig,
    now: DateTime<Utc>,
) -> anyhow::Result<PruneReport> {
    let batch = config.prune_batch.max(1);
    let mut report = PruneReport::default();
    if let Some(cutoff) = cutoff(now, config.retention_days) {
        match prune_table(db, writer, &INVOCATIONS, hour_of(cutoff), batch, &mut report).await? {
            Some(deleted) => report.invocations = deleted,
            None => return Ok(report),
        }
    }
    if let Some(cutoff) = cutoff(now, config.rollup_retention_days) {
        for (target, granularity) in &ROLLUPS {
            // A bucket goes once all of it is older than the cutoff.
            let before = match granularity {
                Granularity::Hour => hour_of(cutoff),
                Granularity::Day => day_of(cutoff),
            };
            match prune_table(db, writer, target, before, batch, &mut report).await? {
                Some(deleted) => report.rollup_rows += deleted,
                None => return Ok(report),
            }
        }
    }
    Ok(report)
}

/// Deletes the rows of `target` whose instant is before `before`, oldest first, `batch` per
/// transaction, until a batch deletes fewer. Counts the batches in `report`, and returns the rows
/// deleted, or `None` (with `report.skipped` set) when a batch found another server pruning.
async fn prune_table(
    db: &DatabaseConnection,
    writer: &WriteLock,
    target: &Target,
    before: DateTime<Utc>,
    batch: u32,
    report: &mut PruneReport,
) -> Result<Option<u64>, DbErr> {
    let mut deleted = 0;
    loop {
        let Some(n) = delete_batch(db, writer, target, before, batch).await? else {
            report.skipped = true;
            return Ok(None);
        };
        report.batches += 1;
        deleted += n;
        if n < u64::from(batch) {
            return Ok(Some(deleted));
        }
    }
}

/// One batch in its own transaction: `DELETE FROM table WHERE id IN (SELECT id FROM table WHERE
/// time < $1 ORDER BY time LIMIT $2)`. Returns the rows deleted (children removed by cascade not
/// counted), or `None` when another server holds the pruning lock.
async fn delete_batch(
    db: &DatabaseConnection,
    writer: &WriteLock,
    target: &Target,
    before: DateTime<Utc>,
    batch: u32,
) -> Result<Option<u64>, DbErr> {
    // Held for this batch only, so the ingest path's writes go between batches.
    let _writer = writer.acquire().await;
    let txn = db.begin().await?;
    if !crate::db::try_xact_lock(&txn, LOCK_KEY).await? {
        txn.rollback().await?;
        return Ok(None);
    }
    let deleted = txn.execute(&batch_statement(target, before, batch)).await?.rows_affected();
    txn.commit().await?;
    Ok(Some(deleted))
}

/// `DELETE FROM table WHERE id IN (SELECT id FROM table WHERE time < $1 ORDER BY time LIMIT $2)`,
/// the values bound as parameters.
fn batch_statement(target: &Target, before: DateTime<Utc>, batch: u32) -> DeleteStatement {
    use sea_orm::sea_query::ExprTrait;
    let (table, time) = (Alias::new(target.table), Alias::new(target.time));
    let oldest = Query::select()
        .column(Alias::new("id"))
        .from(table.clone())
        .and_where(Expr::col(time.clone()).lt(before))
        .order_by(time, Order::Asc)
        .limit(u64::from(batch))
        .to_owned();
    Query::delete().from_table(table).and_where(Expr::col(Alias::new("id")).in_subquery(oldest)).to_owned()
}

/// Runs `prune_once` every `prune_interval_secs` until `stop`, the first time after that
/// interval or 10 seconds, whichever is shorter. A failed run is logged and the next tick tries
/// again; a run in progress when `stop` fires is abandoned (its batch rolls back). With an
/// interval of 0 the task ends at once.
pub fn spawn(
    db: DatabaseConnection,
    writer: WriteLock,
    config: RetentionConfig,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        if config.prune_interval_secs == 0 {
            return;
        }
        let interval = Duration::from_secs(config.prune_interval_secs);
        let first = tokio::time::Instant::now() + interval.min(FIRST_RUN_AFTER);
        let run = || {
            let (db, writer, config) = (db.clone(), writer.clone(), config.clone());
            async move {
                let started = std::time::Instant::now();
                match prune_once(&db, &writer, &config, crate::db::now()).await {
                    Ok(report) if report.deleted_any() => tracing::info!(
                        invocations = report.invocations,
                        rollup_rows = report.rollup_rows,
                        batches = report.batches,
                        skipped = report.skipped,
                        seconds = started.elapsed().as_secs_f64(),
                        "pruned data older than its retention"
                    ),
                    Ok(report) if report.skipped => tracing::debug!("pruning run by another server"),
                    Ok(_) => tracing::debug!("nothing to prune"),
                    Err(err) => tracing::warn!(error = %err, "pruning failed; retrying next tick"),
                }
            }
        };
        crate::background::every(first, interval, stop, run).await;
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn cutoffs() {
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 30, 0).unwrap();
        assert_eq!(cutoff(now, 0), None);
        assert_eq!(cutoff(now, 1), Some(Utc.with_ymd_and_hms(2026, 2, 28, 12, 30, 0).unwrap()));
        // More days than the calendar holds: nothing is that old.
        assert_eq!(cutoff(now, u32::MAX), None);
    }

    #[test]
    fn batches_are_parameterised_statements() {
        use sea_orm::sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};
        let before = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let delete = batch_statement(&INVOCATIONS, before, 500);
        let (sql, values) = delete.build(PostgresQueryBuilder);
        assert_eq!(
            sql,
            r#"DELETE FROM "invocations" WHERE "id" IN (SELECT "id" FROM "invocations" WHERE "created_at" < $1 ORDER BY "created_at" ASC LIMIT $2)"#
        );
        assert_eq!(values.0.len(), 2);
        let (sql, _) = delete.build(SqliteQueryBuilder);
        assert_eq!(
            sql,
            r#"DELETE FROM "invocations" WHERE "id" IN (SELECT "id" FROM "invocations" WHERE "created_at" < ? ORDER BY "created_at" ASC LIMIT ?)"#
        );
    }

    #[test]
    fn the_lock_keys_differ() {
        assert_ne!(LOCK_KEY, crate::analytics::rollup::LOCK_KEY);
    }
}
