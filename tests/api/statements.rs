//! The dashboard query runs one SQL statement per level, whatever the number of parents.

use runlens::seed::{self, SeedPlan};
use serde_json::json;

use crate::fixtures::{DASHBOARD, at};
use crate::helpers::TestApp;

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
