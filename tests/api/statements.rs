//! The dashboard query runs one SQL statement per level, whatever the number of parents.

use runlens::config::DatabaseConfig;
use runlens::db;
use runlens::seed::{self, SeedPlan};
use serde_json::json;

use crate::fixtures::{DASHBOARD, at};
use crate::helpers::{TestApp, TestDb, serve};

/// The dashboard query with its page size as a variable.
fn dashboard() -> String {
    let paged = DASHBOARD.replacen("first: 10", "first: $first", 1);
    assert_ne!(paged, DASHBOARD, "the dashboard query names its page size");
    format!("query($first: Int) {paged}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_query_runs_one_statement_per_level() {
    let app = TestApp::spawn().await;
    seed::run(&app.db, &SeedPlan { invocations: 300, days: 2, random_seed: 7, now: at(0) }).await.unwrap();

    let dashboard = dashboard();
    for first in [10, 50, 100] {
        let data = app.data(&dashboard, json!({ "first": first })).await;
        let nodes = data["invocations"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), first);
        let jobs: Vec<_> = nodes
            .iter()
            .flat_map(|n| n["eventExecutions"].as_array().unwrap())
            .flat_map(|e| e["jobExecutions"].as_array().unwrap())
            .collect();
        let logs: usize = jobs.iter().map(|j| j["logs"].as_array().unwrap().len()).sum();
        assert!(jobs.len() > first && logs > first, "the data must reach every level");

        // Levels: invocations, event executions, job executions, job logs; +1 for totalCount.
        let statements = app.statements(&dashboard, json!({ "first": first })).await;
        assert!(statements <= 4 + 1, "{statements} statements for {first} invocations");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aliases_with_other_arguments_get_their_own_statement() {
    let app = TestApp::spawn().await;
    seed::run(&app.db, &SeedPlan { invocations: 40, days: 1, random_seed: 3, now: at(0) }).await.unwrap();
    let query = "{ invocations(first: 20) { nodes {
        all: eventExecutions { id }
        detected: eventExecutions(filter: {detected: true}) { id } } } }";
    // The page, then one statement per distinct argument set of the nested list.
    assert_eq!(app.statements(query, json!({})).await, 3);
}

/// A request's reads share one connection, and statements of one request that run side by side
/// (here three root fields) must not wait for a second connection while holding the first: with
/// a pool of two connections and more requests than that at once, every request still completes,
/// well within the pool's acquire timeout, with the answer it gets alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_share_a_small_pool_without_waiting_on_each_other() {
    let database = TestDb::create().await;
    let config =
        DatabaseConfig { database_url: database.url.clone(), db_max_connections: 2, db_acquire_timeout_ms: 2_000 };
    let db = db::connect(&config).await.expect("connect");
    db::migrate(&db).await.expect("migrate");
    seed::run(&db, &SeedPlan { invocations: 60, days: 1, random_seed: 11, now: at(0) }).await.unwrap();
    let (address, _shutdown, _server) = serve(db, |_| {}).await;

    let query = json!({ "query": "{
        invocations(first: 5) { totalCount nodes { id eventExecutions { eventName jobExecutions { jobName logs(limit: 2) { message } } } } }
        eventExecutions(first: 5, filter: {detected: true}) { nodes { id invocation { id } } }
        jobExecutions(first: 5) { totalCount nodes { id logs { level } } } }" });
    let client = reqwest::Client::new();
    let ask = || async {
        let response = client.post(format!("http://{address}/graphql")).json(&query).send().await.unwrap();
        response.json::<serde_json::Value>().await.unwrap()
    };
    let alone = ask().await;
    assert!(alone.get("errors").is_none(), "{alone}");
    let together = futures::future::join_all((0..12).map(|_| ask())).await;
    for answer in together {
        assert_eq!(answer, alone);
    }
}
