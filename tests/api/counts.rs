//! The unfiltered `totalCount` of every connection, read from the trigger-kept `row_counts`
//! table, equals a real `COUNT(*)` of its table after inserts, direct and cascaded deletes, on
//! empty pages and on pages after or before a cursor.

use entity::status::LogLevel;
use runlens::seed::Tree;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::fixtures::{at, event, invocation, job, log, lone};
use crate::helpers::TestApp;

/// Connections and the tables behind them.
const LISTS: [(&str, &str); 4] = [
    ("invocations", "invocations"),
    ("eventExecutions", "event_executions"),
    ("jobExecutions", "job_executions"),
    ("jobLogs", "job_logs"),
];

/// A tree with `events` events of `jobs` jobs of `logs` log lines each, from `function`.
fn tree(function: &str, minute: i64, events: usize, jobs: usize, logs: usize) -> Tree {
    let inv = invocation(at(minute));
    let inv = entity::invocations::Model { source_function: function.to_owned(), ..inv };
    let mut tree = Tree { invocation: Some(inv.clone()), ..Tree::default() };
    for e in 0..events {
        let ev = event(&inv, &format!("event.{e}"), at(minute));
        for j in 0..jobs {
            let jb = job(&ev, &format!("job{j}"), at(minute));
            tree.logs.extend((0..logs).map(|l| log(&jb, LogLevel::Info, &format!("line {l}"), at(minute))));
            tree.jobs.push(jb);
        }
        tree.events.push(ev);
    }
    tree
}

/// `SELECT COUNT(*)` of `table`.
async fn real_count(app: &TestApp, table: &str) -> i64 {
    let row = app
        .db
        .query_one_raw(Statement::from_string(app.db.get_database_backend(), format!("SELECT COUNT(*) FROM {table}")))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

/// `connection(args) { totalCount nodes { id } pageInfo { startCursor endCursor } }`.
async fn list(app: &TestApp, connection: &str, args: &str, variables: Value) -> Value {
    let params = if args.contains("$c") { "($c: String)" } else { "" };
    let query = format!(
        "query{params} {{ list: {connection}{args} {{
           totalCount nodes {{ id }} pageInfo {{ startCursor endCursor }} }} }}"
    );
    app.data(&query, variables).await["list"].clone()
}

/// Checks every connection's unfiltered `totalCount` against `COUNT(*)` and against `expected`
/// (invocations, events, jobs, logs), on full, empty and cursor pages.
async fn assert_counts(app: &TestApp, expected: [i64; 4], when: &str) {
    for ((connection, table), expected) in LISTS.into_iter().zip(expected) {
        let real = real_count(app, table).await;
        assert_eq!(real, expected, "{when}: COUNT(*) of {table}");
        let full = list(app, connection, "(first: 100)", json!({})).await;
        assert_eq!(full["totalCount"], real, "{when}: {connection} first page");
        assert_eq!(full["nodes"].as_array().unwrap().len() as i64, real.min(100), "{when}: {connection} rows");
        let default = list(app, connection, "", json!({})).await;
        assert_eq!(default["totalCount"], real, "{when}: {connection} default page");
        for args in ["(first: 0)", "(last: 0)", "(filter: {})", "(filter: {and: []})", "(first: 0, filter: {})"] {
            let page = list(app, connection, args, json!({})).await;
            assert_eq!(page["totalCount"], real, "{when}: {connection}{args}");
        }
        let Some(first_cursor) = full["pageInfo"]["startCursor"].as_str().map(str::to_owned) else {
            continue;
        };
        let last = list(app, connection, "(last: 1)", json!({})).await;
        assert_eq!(last["totalCount"], real, "{when}: {connection}(last: 1)");
        let last_cursor = last["pageInfo"]["endCursor"].as_str().unwrap().to_owned();
        for (args, cursor, rows) in [
            // After the first row: all but one row.
            ("(first: 100, after: $c)", &first_cursor, (real - 1).min(100)),
            ("(first: 0, after: $c)", &first_cursor, 0),
            ("(first: 1, after: $c)", &first_cursor, (real - 1).min(1)),
            // After the last row and before the first: empty pages with a cursor.
            ("(first: 10, after: $c)", &last_cursor, 0),
            ("(last: 10, before: $c)", &first_cursor, 0),
            ("(last: 0, before: $c)", &last_cursor, 0),
            // Before the last row.
            ("(last: 100, before: $c)", &last_cursor, (real - 1).min(100)),
        ] {
            let page = list(app, connection, args, json!({ "c": cursor })).await;
            assert_eq!(page["totalCount"], real, "{when}: {connection}{args}");
            assert_eq!(page["nodes"].as_array().unwrap().len() as i64, rows, "{when}: {connection}{args} rows");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn total_count_matches_count_star_through_inserts_and_cascaded_deletes() {
    let app = TestApp::spawn().await;
    assert_counts(&app, [0, 0, 0, 0], "empty").await;

    app.insert(vec![
        tree("keep", 1, 2, 2, 3),        // 1 + 2 + 4 + 12
        tree("doomed", 2, 3, 2, 1),      // 1 + 3 + 6 + 6
        tree("doomed", 3, 1, 1, 2),      // 1 + 1 + 1 + 2
        tree("also-doomed", 4, 2, 1, 0), // 1 + 2 + 2 + 0
        lone(invocation(at(5))),         // 1
    ])
    .await;
    assert_counts(&app, [5, 8, 13, 20], "after inserting").await;

    // One statement deleting two invocations: their events, jobs and logs go by cascade.
    app.db.execute_unprepared("DELETE FROM invocations WHERE source_function = 'doomed'").await.unwrap();
    assert_counts(&app, [3, 4, 6, 12], "after deleting two invocations").await;

    app.db.execute_unprepared("DELETE FROM invocations WHERE source_function = 'also-doomed'").await.unwrap();
    assert_counts(&app, [2, 2, 4, 12], "after deleting one invocation").await;

    // Deletes lower in the tree: one job's logs directly, then a whole event (jobs and logs by cascade).
    app.db.execute_unprepared("DELETE FROM job_logs WHERE message = 'line 0'").await.unwrap();
    assert_counts(&app, [2, 2, 4, 8], "after deleting log lines").await;
    app.db.execute_unprepared("DELETE FROM event_executions WHERE event_name = 'event.1'").await.unwrap();
    assert_counts(&app, [2, 1, 2, 4], "after deleting an event").await;

    // Inserts after deletes are counted too.
    app.insert(vec![tree("late", 6, 1, 1, 1)]).await;
    assert_counts(&app, [3, 2, 3, 5], "after inserting again").await;

    // Everything, by cascade from the top.
    app.db.execute_unprepared("DELETE FROM invocations").await.unwrap();
    assert_counts(&app, [0, 0, 0, 0], "after deleting everything").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn total_count_is_exact_for_many_rows_and_many_statements() {
    let app = TestApp::spawn().await;
    // Several transactions of several trees, so counters are bumped by many statements.
    for batch in 0..5 {
        app.insert((0..10).map(|i| tree(&format!("fn-{}", i % 3), batch * 10 + i, 2, 2, 2)).collect()).await;
    }
    assert_counts(&app, [50, 100, 200, 400], "after 5 batches").await;
    app.db.execute_unprepared("DELETE FROM invocations WHERE source_function = 'fn-0'").await.unwrap();
    // fn-0 owns i = 0, 3, 6, 9 of each batch: 20 invocations.
    assert_counts(&app, [30, 60, 120, 240], "after deleting fn-0").await;
    app.db.execute_unprepared("DELETE FROM job_executions WHERE job_name = 'job1'").await.unwrap();
    assert_counts(&app, [30, 60, 60, 120], "after deleting job1s").await;
}
