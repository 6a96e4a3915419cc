//! Rollup benchmark on PostgreSQL: a full backfill of 100,000 invocations (~3.4 M rows), one
//! incremental run after 1,000 new invocations, and the latency of `overview` and `metrics`
//! over 30 days.
//!
//!     cargo bench --bench rollup
//!
//! Environment: `BENCH_PG` (server URL without database, default
//! `postgres://postgres@127.0.0.1:5432`), `BENCH_INVOCATIONS` (100000), `BENCH_QUERIES` (200).
//! The data lives in the database `runlens_bench_rollup`, seeded once and reused while it holds
//! the same number of invocations.

use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use runlens::analytics::rollup;
use runlens::app::Application;
use runlens::config::{DatabaseConfig, ServeConfig};
use runlens::db::{self, WriteLock};
use runlens::seed::{self, SeedPlan, Tree};
use sea_orm::{ConnectionTrait, Database, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    runlens::telemetry::init(&runlens::config::TelemetryConfig {
        log_filter: std::env::var("RUNLENS_LOG").unwrap_or_else(|_| "warn".into()),
        log_format: runlens::config::LogFormat::Text,
    });
    let pg = std::env::var("BENCH_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let invocations: u32 = std::env::var("BENCH_INVOCATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let queries: usize = std::env::var("BENCH_QUERIES").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let url = format!("{pg}/runlens_bench_rollup?sslmode=disable");

    let admin = Database::connect(format!("{pg}/postgres")).await?;
    let exists = admin
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT 1 FROM pg_database WHERE datname = 'runlens_bench_rollup'",
        ))
        .await?
        .is_some();
    if !exists {
        admin.execute_unprepared("CREATE DATABASE runlens_bench_rollup").await?;
    }
    let database = db::connect(&DatabaseConfig::for_url(&url)).await?;
    db::migrate(&database).await?;
    let stored = entity::invocations::Entity::find().count(&database).await?;
    let overlap = Duration::from_secs(120);
    if stored != u64::from(invocations) {
        println!("seeding {invocations} invocations (a few minutes)…");
        for table in [
            "invocations",
            "metrics_hourly",
            "metrics_daily",
            "job_metrics_hourly",
            "job_metrics_daily",
            "rollup_state",
        ] {
            database.execute_unprepared(&format!("TRUNCATE {table} CASCADE")).await?;
        }
        seed::run(&database, &SeedPlan { invocations, days: 30, random_seed: 42, now: Utc::now() }).await?;
        database.execute_unprepared("VACUUM ANALYZE").await?;
        // Rows written within the overlap of a run are looked at again by the next run; wait it
        // out so the incremental figure below measures only the new invocations.
        println!("waiting {} s for the seeded rows to leave the rollup overlap…", overlap.as_secs());
        tokio::time::sleep(overlap).await;
    }

    // Backfill: no rollups and no watermark, so a run recomputes every group.
    for table in ["metrics_hourly", "metrics_daily", "job_metrics_hourly", "job_metrics_daily", "rollup_state"] {
        database.execute_unprepared(&format!("DELETE FROM {table}")).await?;
    }
    database.execute_unprepared("VACUUM ANALYZE").await?;
    let writer = WriteLock::for_backend(db::backend(&database));
    let started = Instant::now();
    let backfill = rollup::refresh_once(&database, &writer, overlap).await?;
    let backfill_time = started.elapsed();

    // An incremental run after 1,000 new invocations that arrived in the last hour.
    let now = Utc::now();
    let trees: Vec<Tree> = seed::trees(&SeedPlan { invocations: 1_000, days: 1, random_seed: rand_seed(), now })
        .map(|tree| squeeze(tree, now))
        .collect();
    let added: Vec<uuid::Uuid> = trees.iter().filter_map(|t| t.invocation.as_ref().map(|i| i.id)).collect();
    seed::insert_fixture(&database, trees).await?;
    let started = Instant::now();
    let incremental = rollup::refresh_once(&database, &writer, overlap).await?;
    let incremental_time = started.elapsed();
    let started = Instant::now();
    let idle = rollup::refresh_once(&database, &writer, overlap).await?;
    let idle_time = started.elapsed();

    println!();
    println!("rollup on PostgreSQL, {invocations} invocations over 30 days, {} cores", num_cores());
    println!("{:<44} {:>10} {:>8} {:>8}", "run", "time", "groups", "rows");
    println!(
        "{:<44} {:>10} {:>8} {:>8}",
        "backfill (every group)",
        format!("{:.2} s", backfill_time.as_secs_f64()),
        backfill.groups,
        backfill.rows_written
    );
    println!(
        "{:<44} {:>10} {:>8} {:>8}",
        "incremental after 1,000 new invocations",
        format!("{:.0} ms", incremental_time.as_secs_f64() * 1000.0),
        incremental.groups,
        incremental.rows_written
    );
    println!(
        "{:<44} {:>10} {:>8} {:>8}",
        "incremental with nothing new",
        format!("{:.0} ms", idle_time.as_secs_f64() * 1000.0),
        idle.groups,
        idle.rows_written
    );

    // Query latency through HTTP, one request at a time.
    let app = Application::with_database(database.clone(), ServeConfig::for_bind("127.0.0.1:0".parse()?)).await?;
    let base = format!("http://{}/graphql", app.local_addr()?);
    let server = tokio::spawn(app.run_until(std::future::pending()));
    let http = reqwest::Client::new();
    let from = (Utc::now() - TimeDelta::days(30)).to_rfc3339();
    let cases = [
        (
            "overview, 30 days",
            "query($from: DateTime!) { overview(window: {from: $from}) { totals { invocations failed p50DurationMs p95DurationMs p99DurationMs }
               bySourceFunction { sourceFunction invocations p95DurationMs } } }",
        ),
        (
            "metrics, 30 days, per day",
            "query($from: DateTime!) { metrics(window: {from: $from}, bucket: DAY) { bucketStart invocations failed p95DurationMs } }",
        ),
        (
            "metrics, 30 days, per hour",
            "query($from: DateTime!) { metrics(window: {from: $from}, bucket: HOUR) { bucketStart invocations failed p95DurationMs } }",
        ),
        (
            "slowestJobs, 30 days",
            "query($from: DateTime!) { slowestJobs(window: {from: $from}) { jobName runs avgDurationMs p95DurationMs } }",
        ),
    ];
    println!();
    println!("{:<44} {:>10} {:>10}", "query (sequential HTTP requests)", "p50", "p99");
    for (name, query) in cases {
        let body = json!({ "query": query, "variables": { "from": from } });
        let mut times = Vec::with_capacity(queries);
        for i in 0..queries + 10 {
            let started = Instant::now();
            let response: Value = http.post(&base).json(&body).send().await?.json().await?;
            let took = started.elapsed();
            anyhow::ensure!(response.get("errors").is_none(), "{name} failed: {response}");
            if i >= 10 {
                times.push(took);
            }
        }
        times.sort();
        let pick = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
        println!(
            "{:<44} {:>10} {:>10}",
            name,
            format!("{:.2} ms", pick(0.5).as_secs_f64() * 1000.0),
            format!("{:.2} ms", pick(0.99).as_secs_f64() * 1000.0)
        );
    }
    server.abort();
    // Leave the data set as it was seeded, for the next run.
    entity::invocations::Entity::delete_many()
        .filter(sea_orm::ColumnTrait::is_in(&entity::invocations::Column::Id, added))
        .exec(&database)
        .await?;
    Ok(())
}

/// Moves a tree generated over the last day into the last hour (keeping its shape).
fn squeeze(mut tree: Tree, now: chrono::DateTime<Utc>) -> Tree {
    let shift = |t: chrono::DateTime<Utc>| db::micros(now - (now - t) / 24);
    if let Some(i) = tree.invocation.as_mut() {
        (i.created_at, i.updated_at) = (shift(i.created_at), shift(i.updated_at));
    }
    for e in &mut tree.events {
        (e.created_at, e.updated_at) = (shift(e.created_at), shift(e.updated_at));
    }
    for j in &mut tree.jobs {
        (j.created_at, j.updated_at) = (shift(j.created_at), shift(j.updated_at));
    }
    for l in &mut tree.logs {
        (l.created_at, l.updated_at) = (shift(l.created_at), shift(l.updated_at));
    }
    tree
}

fn rand_seed() -> u64 {
    Utc::now().timestamp_micros() as u64
}

fn num_cores() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(1)
}
