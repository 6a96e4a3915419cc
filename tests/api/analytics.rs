//! Rollups and analytics: the rollup equals a direct computation over raw rows.

use serde_json::json;

use crate::helpers::TestApp;

const OVERVIEW: &str = "query($from: DateTime!, $to: DateTime) { overview(window: {from: $from, to: $to}) {
  totals { invocations completed failed running successRate avgDurationMs p50DurationMs p95DurationMs
           p99DurationMs minDurationMs maxDurationMs eventsDetected jobsRun jobsSucceeded jobsFailed }
  bySourceFunction { sourceFunction invocations completed failed p95DurationMs jobsRun } } }";

/// Whatever the rollups hold, answers equal those computed from the raw rows alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolled_up_answers_equal_raw_answers() {
    let app = TestApp::spawn().await;
    let now = chrono::Utc::now();
    runlens::seed::run(&app.db, &runlens::seed::SeedPlan { invocations: 400, days: 3, random_seed: 4, now })
        .await
        .unwrap();
    let window = json!({ "from": (now - chrono::TimeDelta::days(4)).to_rfc3339(), "to": now.to_rfc3339() });
    let raw = app.data(OVERVIEW, window.clone()).await;
    let report = app.rollup().await;
    assert!(report.rows_written > 0);
    assert_eq!(app.data(OVERVIEW, window.clone()).await, raw);
    assert_eq!(app.rollup().await.rows_written, 0, "a second run changes nothing");
}
