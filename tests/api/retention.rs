//! Retention: pruning deletes whole invocation trees older than the retention (children by
//! cascade, `row_counts` kept exact) in bounded batches, and rollup rows older than the rollup
//! retention; newer data, and analytics of pruned windows (from the rollups), are untouched.

use chrono::{DateTime, TimeDelta, Utc};
use entity::status::LogLevel;
use entity::{job_metrics_daily, job_metrics_hourly, metrics_daily, metrics_hourly};
use runlens::analytics::rollup::{day_of, hour_of};
use runlens::config::RetentionConfig;
use runlens::db::{self, WriteLock};
use runlens::retention::{self, PruneReport};
use runlens::seed::Tree;
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, Statement, TransactionTrait};
use serde_json::{Value, json};

use crate::fixtures::{at, event, invocation, job, log};
use crate::helpers::{RowCount, TestApp};

/// A tree started at `t` with `events` events of `jobs` jobs (named `job0`, `job1`, …) of `logs`
/// log lines each, its counters agreeing with its children.
fn tree(t: DateTime<Utc>, events: usize, jobs: usize, logs: usize) -> Tree {
    let mut inv = invocation(t);
    let mut tree = Tree::default();
    for e in 0..events {
        let mut ev = event(&inv, &format!("event.{e}"), t);
        for j in 0..jobs {
            let jb = job(&ev, &format!("job{j}"), t);
            tree.logs.extend((0..logs).map(|l| log(&jb, LogLevel::Info, &format!("line {l}"), t)));
            tree.jobs.push(jb);
            ev.jobs_count += 1;
            ev.jobs_succeeded += 1;
        }
        inv.events_detected_count += 1;
        inv.total_jobs_run += ev.jobs_count;
        inv.total_jobs_succeeded += ev.jobs_succeeded;
        tree.events.push(ev);
    }
    tree.invocation = Some(inv);
    tree
}

fn id_of(tree: &Tree) -> String {
    tree.invocation.as_ref().unwrap().id.to_string()
}

/// Retention settings for a direct `prune_once` (no background task).
fn retention(retention_days: u32, rollup_retention_days: u32, prune_batch: u32) -> RetentionConfig {
    RetentionConfig { retention_days, rollup_retention_days, prune_batch, prune_interval_secs: 0 }
}

async fn prune(app: &TestApp, config: &RetentionConfig, now: DateTime<Utc>) -> PruneReport {
    let writer = WriteLock::for_backend(db::backend(&app.db));
    retention::prune_once(&app.db, &writer, config, now).await.expect("prune run")
}

fn rows(invocations: i64, event_executions: i64, job_executions: i64, job_logs: i64) -> RowCount {
    RowCount { invocations, event_executions, job_executions, job_logs }
}

/// The unfiltered `totalCount` of the four connections (from the trigger-kept `row_counts`).
async fn total_counts(app: &TestApp) -> RowCount {
    let data = app
        .data(
            "{ invocations { totalCount } eventExecutions { totalCount } jobExecutions { totalCount }
               jobLogs { totalCount } }",
            json!({}),
        )
        .await;
    let n = |list: &str| data[list]["totalCount"].as_i64().unwrap();
    rows(n("invocations"), n("eventExecutions"), n("jobExecutions"), n("jobLogs"))
}

/// Rows of the rollup tables: [metrics_hourly, job_metrics_hourly, metrics_daily, job_metrics_daily].
async fn rollup_rows(app: &TestApp) -> [u64; 4] {
    [
        metrics_hourly::Entity::find().count(&app.db).await.unwrap(),
        job_metrics_hourly::Entity::find().count(&app.db).await.unwrap(),
        metrics_daily::Entity::find().count(&app.db).await.unwrap(),
        job_metrics_daily::Entity::find().count(&app.db).await.unwrap(),
    ]
}

/// The whole tree of an invocation, as the API reads it (null when it is gone).
async fn read_tree(app: &TestApp, id: &str) -> Value {
    app.data(
        "query($id: UUID!) { invocation(id: $id) { id
           eventExecutions { id jobExecutions { id logs { id message } } } } }",
        json!({ "id": id }),
    )
    .await["invocation"]
        .clone()
}

/// Trees older than the retention go with all their children; newer ones (from the cutoff on,
/// to the microsecond) stay whole and readable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_trees_go_with_all_their_children() {
    let app = TestApp::spawn().await;
    let now = at(0) + TimeDelta::days(100);
    let cutoff = now - TimeDelta::days(90);
    let old = vec![tree(at(0), 2, 2, 2), tree(at(30), 2, 2, 2), tree(cutoff - TimeDelta::microseconds(1), 2, 2, 2)];
    let new = vec![tree(cutoff, 1, 1, 1), tree(now - TimeDelta::hours(1), 1, 2, 3)];
    app.insert(old.iter().chain(&new).cloned().collect()).await;
    let before = rows(5, 3 * 2 + 2, 3 * 4 + 1 + 2, 3 * 8 + 1 + 6);
    assert_eq!(app.row_count().await, before);
    let mut new_before = Vec::new();
    for t in &new {
        new_before.push(read_tree(&app, &id_of(t)).await);
    }

    let report = prune(&app, &retention(90, 0, 500), now).await;
    assert_eq!(report, PruneReport { invocations: 3, rollup_rows: 0, batches: 1, skipped: false });

    let after = rows(2, 2, 3, 7);
    assert_eq!(app.row_count().await, after);
    assert_eq!(total_counts(&app).await, after, "row_counts follow the cascaded deletes");
    for t in &old {
        assert_eq!(read_tree(&app, &id_of(t)).await, Value::Null);
    }
    for (t, before) in new.iter().zip(&new_before) {
        let read = read_tree(&app, &id_of(t)).await;
        assert_eq!(&read, before, "an invocation newer than the retention is untouched");
        assert!(!read["eventExecutions"][0]["jobExecutions"][0]["logs"].as_array().unwrap().is_empty());
    }
}

/// Each batch deletes at most `prune_batch` trees, oldest first, until one deletes fewer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_bounded() {
    let app = TestApp::spawn().await;
    let now = at(0) + TimeDelta::days(100);
    let mut trees: Vec<Tree> = (0..5).map(|i| tree(at(i * 60), 1, 1, 1)).collect();
    trees.push(tree(now - TimeDelta::days(1), 1, 1, 1));
    app.insert(trees).await;

    let report = prune(&app, &retention(90, 0, 2), now).await;
    assert_eq!(report.invocations, 5);
    assert_eq!(report.batches, 3, "2 + 2 + 1 trees: {report:?}");
    assert!(!report.skipped);
    assert_eq!(app.row_count().await, rows(1, 1, 1, 1));
    assert_eq!(total_counts(&app).await, rows(1, 1, 1, 1));

    // A batch of exactly `prune_batch` is followed by one that finds nothing.
    app.insert((0..4).map(|i| tree(at(i), 1, 0, 0)).collect()).await;
    let report = prune(&app, &retention(90, 0, 2), now).await;
    assert_eq!((report.invocations, report.batches), (4, 3));
    assert_eq!(app.row_count().await, rows(1, 1, 1, 1));
}

/// Rollup rows whose whole hour or day is older than the rollup retention go; the rest, and
/// the raw rows (kept forever here), stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_rollups_go_newer_stay() {
    let app = TestApp::spawn().await;
    let now = at(0) + TimeDelta::days(402);
    let cutoff = now - TimeDelta::days(400); // 3 March 12:00
    app.insert(vec![
        tree(at(0), 1, 1, 0),                               // 1 March 12:00: hour and day go
        tree(at(60), 1, 1, 0),                              // 1 March 13:00: hour and day go
        tree(cutoff - TimeDelta::microseconds(1), 1, 1, 0), // 3 March 11:00: hour goes, day stays
        tree(cutoff, 1, 1, 0),                              // 3 March 12:00: stays
        tree(cutoff + TimeDelta::days(3), 1, 1, 0),         // 6 March 12:00: stays
    ])
    .await;
    app.rollup().await;
    assert_eq!(rollup_rows(&app).await, [5, 5, 3, 3]);
    let raw = app.row_count().await;

    let report = prune(&app, &retention(0, 400, 500), now).await;
    assert_eq!((report.invocations, report.rollup_rows, report.skipped), (0, 3 + 3 + 1 + 1, false));
    assert_eq!(rollup_rows(&app).await, [2, 2, 2, 2]);
    assert_eq!(app.row_count().await, raw, "raw rows are kept forever with a retention of 0");

    let hours: Vec<DateTime<Utc>> =
        metrics_hourly::Entity::find().all(&app.db).await.unwrap().iter().map(|r| r.hour_bucket).collect();
    assert!(hours.iter().all(|h| *h >= hour_of(cutoff)), "{hours:?}");
    let job_hours: Vec<DateTime<Utc>> =
        job_metrics_hourly::Entity::find().all(&app.db).await.unwrap().iter().map(|r| r.hour_bucket).collect();
    assert_eq!(hours.len(), job_hours.len());
    assert!(job_hours.iter().all(|h| *h >= hour_of(cutoff)), "{job_hours:?}");
    let days: Vec<DateTime<Utc>> =
        metrics_daily::Entity::find().all(&app.db).await.unwrap().iter().map(|r| r.day_bucket).collect();
    assert!(days.iter().all(|d| *d == day_of(cutoff) || *d == day_of(cutoff) + TimeDelta::days(3)), "{days:?}");
    let job_days: Vec<DateTime<Utc>> =
        job_metrics_daily::Entity::find().all(&app.db).await.unwrap().iter().map(|r| r.day_bucket).collect();
    assert!(job_days.iter().all(|d| *d >= day_of(cutoff)), "{job_days:?}");

    // Rollup rows are deleted in batches of `prune_batch` rows too.
    let app = TestApp::spawn().await;
    app.insert((0..5).map(|h| tree(at(h * 60), 1, 1, 0)).collect()).await;
    app.rollup().await;
    assert_eq!(rollup_rows(&app).await, [5, 5, 1, 1]);
    let report = prune(&app, &retention(0, 400, 2), now).await;
    assert_eq!(report.rollup_rows, 12);
    // Hourly: 2 + 2 + 1 rows, twice; daily: 1 row, twice.
    assert_eq!(report.batches, 3 + 3 + 1 + 1);
    assert_eq!(rollup_rows(&app).await, [0, 0, 0, 0]);
}

/// A retention of 0 days keeps that data forever, however old.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_zero_keeps_everything() {
    let app = TestApp::spawn().await;
    app.insert(vec![tree(at(0), 2, 2, 2), tree(at(60 * 24), 1, 1, 1)]).await;
    app.rollup().await;
    let (raw, rollups) = (app.row_count().await, rollup_rows(&app).await);

    let far_future = at(0) + TimeDelta::days(100_000);
    let report = prune(&app, &retention(0, 0, 500), far_future).await;
    assert_eq!(report, PruneReport::default());
    assert_eq!(app.row_count().await, raw);
    assert_eq!(rollup_rows(&app).await, rollups);

    // More days than the calendar holds: nothing is that old.
    let report = prune(&app, &retention(u32::MAX, u32::MAX, 500), far_future).await;
    assert_eq!(report, PruneReport::default());
    assert_eq!(app.row_count().await, raw);
}

/// A second run finds nothing more to delete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_deletes_nothing() {
    let app = TestApp::spawn().await;
    let now = at(0) + TimeDelta::days(500);
    app.insert(vec![
        tree(at(0), 1, 1, 1),
        tree(now - TimeDelta::days(200), 1, 1, 1),
        tree(now - TimeDelta::days(1), 1, 1, 1),
    ])
    .await;
    app.rollup().await;
    let config = retention(90, 400, 500);

    let first = prune(&app, &config, now).await;
    assert_eq!((first.invocations, first.rollup_rows), (2, 4));
    let (raw, rollups) = (app.row_count().await, rollup_rows(&app).await);
    assert_eq!(raw, rows(1, 1, 1, 1));
    assert_eq!(rollups, [2, 2, 2, 2]);

    let second = prune(&app, &config, now).await;
    assert_eq!(second, PruneReport { invocations: 0, rollup_rows: 0, batches: 5, skipped: false });
    assert_eq!(app.row_count().await, raw);
    assert_eq!(rollup_rows(&app).await, rollups);
}

/// Analytics of a window whose raw rows were pruned are still answered, from the rollups kept
/// longer, and a later rollup run does not undo them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_of_pruned_windows_come_from_rollups() {
    let app = TestApp::spawn().await;
    let now = db::now();
    // A whole day a month ago, well before the rollup horizon (the hour of the rollup run).
    let day = day_of(now) - TimeDelta::days(30);
    let mut trees = Vec::new();
    for (i, hour) in [1, 1, 5, 13, 23].into_iter().enumerate() {
        let mut t = tree(day + TimeDelta::hours(hour) + TimeDelta::minutes(i as i64), 1, 2, 0);
        let inv = t.invocation.as_mut().unwrap();
        inv.total_duration_ms = Some(100 * (i as i32 + 1));
        if i == 4 {
            inv.source_function = "sf-other".to_owned();
        }
        trees.push(t);
    }
    app.insert(trees).await;
    app.rollup().await;

    let window = json!({ "from": day.to_rfc3339(), "to": (day + TimeDelta::days(1)).to_rfc3339() });
    let overview = "query($window: TimeWindow!) { overview(window: $window) {
        totals { invocations completed avgDurationMs p50DurationMs minDurationMs maxDurationMs jobsRun }
        bySourceFunction { sourceFunction invocations } } }";
    let hourly = "query($window: TimeWindow!) { metrics(window: $window, bucket: HOUR) {
        bucketStart invocations avgDurationMs maxDurationMs jobsRun } }";
    let jobs = "query($window: TimeWindow!) { slowestJobs(window: $window) { jobName runs avgDurationMs } }";
    let vars = json!({ "window": window });
    let answers = [
        app.data(overview, vars.clone()).await,
        app.data(hourly, vars.clone()).await,
        app.data(jobs, vars.clone()).await,
    ];
    assert_eq!(answers[0]["overview"]["totals"]["invocations"], 5);
    assert_eq!(answers[0]["overview"]["totals"]["jobsRun"], 10);
    assert_eq!(answers[2]["slowestJobs"].as_array().unwrap().len(), 2);

    let report = prune(&app, &retention(10, 400, 500), now).await;
    assert_eq!((report.invocations, report.rollup_rows), (5, 0));
    assert_eq!(app.row_count().await, rows(0, 0, 0, 0), "the raw rows are gone");
    let after = [
        app.data(overview, vars.clone()).await,
        app.data(hourly, vars.clone()).await,
        app.data(jobs, vars.clone()).await,
    ];
    assert_eq!(after, answers, "answered from the rollups");

    app.rollup().await;
    let again = [
        app.data(overview, vars.clone()).await,
        app.data(hourly, vars.clone()).await,
        app.data(jobs, vars.clone()).await,
    ];
    assert_eq!(again, answers, "a rollup run after pruning keeps the rollups of pruned hours");
}

/// On PostgreSQL, a run that finds another server pruning (holding the advisory lock) stops
/// without deleting anything and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_skips_while_another_server_prunes() {
    let app = TestApp::spawn().await;
    if app.db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    let now = at(0) + TimeDelta::days(100);
    app.insert(vec![tree(at(0), 1, 1, 1)]).await;

    let other = app.db.begin().await.unwrap();
    let taken = other
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_try_advisory_xact_lock($1)",
            [retention::LOCK_KEY.into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<bool>(0)
        .unwrap();
    assert!(taken);
    let report = prune(&app, &retention(90, 400, 500), now).await;
    assert_eq!(report, PruneReport { skipped: true, ..PruneReport::default() });
    assert_eq!(app.row_count().await, rows(1, 1, 1, 1));

    other.rollback().await.unwrap();
    let report = prune(&app, &retention(90, 400, 500), now).await;
    assert_eq!((report.invocations, report.skipped), (1, false));
    assert_eq!(app.row_count().await, rows(0, 0, 0, 0));
}

/// On SQLite, a batch waits for the process's writer lock instead of competing with the
/// ingest path for the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_wait_for_the_writer_lock() {
    let app = TestApp::spawn().await;
    if app.db.get_database_backend() != DbBackend::Sqlite {
        return;
    }
    app.insert(vec![tree(at(0), 1, 1, 1)]).await;
    let writer = WriteLock::for_backend(DbBackend::Sqlite);
    let held = writer.acquire().await;
    let run = {
        let (db, writer) = (app.db.clone(), writer.clone());
        tokio::spawn(async move {
            retention::prune_once(&db, &writer, &retention(90, 0, 500), at(0) + TimeDelta::days(100)).await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!run.is_finished(), "the run waits for the writer");
    assert_eq!(app.row_count().await.invocations, 1);
    drop(held);
    let report = run.await.unwrap().unwrap();
    assert_eq!(report.invocations, 1);
    assert_eq!(app.row_count().await, rows(0, 0, 0, 0));
}

// needs app wiring: `Application::with_database` starts `retention::spawn` when
// `prune_interval_secs > 0` and a retention is set.
/// The server prunes in the background: the first run comes after `prune_interval_secs`
/// (at most 10 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_task_prunes() {
    let app = TestApp::spawn_with(|c| {
        c.retention.prune_interval_secs = 1;
        c.retention.retention_days = 7;
        c.retention.rollup_retention_days = 0;
    })
    .await;
    let now = Utc::now();
    let new = tree(now - TimeDelta::days(1), 1, 1, 1);
    app.insert(vec![tree(now - TimeDelta::days(30), 1, 1, 1), tree(now - TimeDelta::days(8), 1, 1, 1), new.clone()])
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while app.row_count().await.invocations > 1 {
        assert!(std::time::Instant::now() < deadline, "nothing pruned within 15 s");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(app.row_count().await, rows(1, 1, 1, 1));
    assert_eq!(read_tree(&app, &id_of(&new)).await["id"], id_of(&new));
}
