//! Limits on what one request may ask for. Each violation is refused before any SQL runs
//! (`Server-Timing` says `0 SQL statements`), with a code a client can branch on.

use std::time::Duration;

use reqwest::StatusCode;
use runlens::seed::{self, SeedPlan};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, TransactionTrait};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::fixtures::{DASHBOARD, at};
use crate::helpers::{RowCount, TestApp};

/// The status, the SQL statement count from `Server-Timing`, and the body of a POST.
async fn send(app: &TestApp, body: Value) -> (StatusCode, u64, Value) {
    let response = app.post(body).await;
    let status = response.status();
    let timing = response
        .headers()
        .get("server-timing")
        .unwrap_or_else(|| panic!("no Server-Timing header (status {status})"))
        .to_str()
        .unwrap()
        .to_owned();
    let statements = timing
        .split("desc=\"")
        .nth(1)
        .and_then(|desc| desc.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no statement count in {timing:?}"));
    (status, statements, response.json().await.expect("JSON body"))
}

async fn run(app: &TestApp, query: &str) -> (StatusCode, u64, Value) {
    send(app, json!({ "query": query })).await
}

/// Asserts `query` is refused with `code`, before any SQL, and returns the error message.
async fn assert_refused(app: &TestApp, query: &str, code: &str) -> String {
    let (status, statements, body) = run(app, query).await;
    assert_eq!(status, 200, "legacy JSON answers request errors with 200: {body:#}");
    assert!(body["data"].is_null(), "{body:#}");
    let errors = body["errors"].as_array().unwrap_or_else(|| panic!("expected errors: {body:#}"));
    assert_eq!(errors.len(), 1, "{body:#}");
    assert_eq!(errors[0]["extensions"]["code"], code, "{body:#}");
    assert_eq!(statements, 0, "refused before any SQL: {body:#}");
    errors[0]["message"].as_str().unwrap().to_owned()
}

/// Asserts `query` runs without errors and returns its statement count.
async fn assert_runs(app: &TestApp, query: &str) -> u64 {
    let (status, statements, body) = run(app, query).await;
    assert_eq!(status, 200, "{body:#}");
    assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
    statements
}

const DEEP: &str = "{ invocations { nodes { eventExecutions { jobExecutions { id } } } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depth_over_the_limit() {
    let app = TestApp::spawn_with(|config| config.limits.max_depth = 3).await;
    let message = assert_refused(&app, DEEP, "GRAPHQL_VALIDATION_FAILED").await;
    assert!(message.contains("deeper than 3"), "{message}");
    assert!(assert_runs(&app, "{ invocations { nodes { id } } }").await > 0, "three levels are allowed");

    let app = TestApp::spawn().await;
    assert_runs(&app, DEEP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complexity_over_the_limit_but_the_dashboard_query_passes() {
    let app = TestApp::spawn().await;
    let message = assert_refused(
        &app,
        "{ invocations(first: 100) { nodes { eventExecutions(limit: 1000) { jobExecutions(limit: 1000) { id } } } } }",
        "GRAPHQL_VALIDATION_FAILED",
    )
    .await;
    assert!(message.contains("--max-complexity"), "{message}");
    // Page sizes count: the same shape with small pages passes.
    assert_runs(
        &app,
        "{ invocations(first: 10) { nodes { eventExecutions(limit: 10) { jobExecutions(limit: 10) { id } } } } }",
    )
    .await;
    assert_runs(&app, DASHBOARD).await;
}

/// An operation that passed validation runs on a schema that skips the rules it passed; the
/// same document with other variables is validated again, in full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_that_passed_validation_is_checked_again_with_other_variables() {
    let app = TestApp::spawn().await;
    let query = "query Q($first: Int, $limit: Int) { invocations(first: $first) { totalCount nodes { \
                 eventExecutions { jobExecutions { logs(limit: $limit) { id } } } } } }";
    let wrong_type = json!({ "first": "ten", "limit": 5 });
    let too_costly = json!({ "first": 100, "limit": 1000 });
    // Refused before the document was ever valid…
    let refused = [app.query(query, wrong_type.clone()).await, app.query(query, too_costly.clone()).await];
    for body in &refused {
        assert!(body["data"].is_null() && body["errors"].is_array(), "{body:#}");
    }
    assert_eq!(refused[1]["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{:#}", refused[1]);
    // …then valid, twice (the second time on the validated path)…
    for _ in 0..2 {
        let data = app.data(query, json!({ "first": 2, "limit": 5 })).await;
        assert_eq!(data["invocations"]["totalCount"], 0);
    }
    // …and refused again with the same errors.
    assert_eq!(app.query(query, wrong_type).await, refused[0]);
    assert_eq!(app.query(query, too_costly).await, refused[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aliases_over_the_limit() {
    let app = TestApp::spawn_with(|config| config.limits.max_aliases = 2).await;
    assert_runs(&app, "{ a: invocations { totalCount } b: invocations { totalCount } }").await;
    let message = assert_refused(
        &app,
        "{ a: invocations { totalCount } b: invocations { totalCount } c: invocations { totalCount } }",
        "GRAPHQL_VALIDATION_FAILED",
    )
    .await;
    assert!(message.contains("aliases"), "{message}");
    // A request error: 400 for clients that accept application/graphql-response+json.
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": "{ a: invocations { totalCount } b: invocations { totalCount } c: __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    // Aliases inside fragments count too.
    assert_refused(
        &app,
        "{ invocations { nodes { ...A } } } fragment A on Invocation { x: id y: id z: id }",
        "GRAPHQL_VALIDATION_FAILED",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_fields_over_the_limit() {
    let app = TestApp::spawn_with(|config| config.limits.max_root_fields = 2).await;
    assert_runs(&app, "{ invocations { totalCount } eventExecutions { totalCount } }").await;
    let message = assert_refused(
        &app,
        "{ invocations { totalCount } eventExecutions { totalCount } jobExecutions { totalCount } }",
        "GRAPHQL_VALIDATION_FAILED",
    )
    .await;
    assert!(message.contains("root fields"), "{message}");
    // Through a fragment on Query.
    assert_refused(
        &app,
        "{ invocations { totalCount } ...R } fragment R on Query { eventExecutions { totalCount } jobExecutions { totalCount } }",
        "GRAPHQL_VALIDATION_FAILED",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_apply_over_websocket_too() {
    let app = TestApp::spawn_with(|config| {
        config.limits.max_depth = 3;
        config.limits.max_aliases = 1;
    })
    .await;
    for (query, expected) in [
        ("subscription { invocationUpdated { invocation { eventExecutions { id } } } }", "deeper than 3"),
        ("subscription { a: invocationUpdated { kind } b: invocationUpdated { kind } }", "aliases"),
        (DEEP, "deeper than 3"),
    ] {
        let mut sub = app.subscribe(query, json!({})).await;
        let payload = sub.next().await;
        assert!(payload["data"].is_null(), "{payload}");
        assert_eq!(payload["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{payload}");
        assert!(payload["errors"][0]["message"].as_str().unwrap().contains(expected), "{payload}");
    }
}

/// Fragments `F0`..`F{levels}` on Invocation, each spreading the next twice, the last selecting
/// `__typename`: `2^levels` selections once expanded, under a page of invocations.
fn fragment_bomb(levels: usize) -> String {
    let mut query = String::from("{ invocations(first: 1) { nodes { ...F0 } } }\n");
    for i in 0..levels {
        query.push_str(&format!("fragment F{i} on Invocation {{ ...F{next} ...F{next} }}\n", next = i + 1));
    }
    query.push_str(&format!("fragment F{levels} on Invocation {{ __typename }}\n"));
    query
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragment_bombs_are_refused_quickly() {
    let app = TestApp::spawn().await;
    let bomb = fragment_bomb(20);
    let message =
        tokio::time::timeout(Duration::from_secs(5), assert_refused(&app, &bomb, "GRAPHQL_VALIDATION_FAILED"))
            .await
            .expect("a fragment bomb must be answered within seconds");
    assert!(message.contains("--max-selections"), "{message}");
    // The server still answers.
    assert_runs(&app, "{ invocations { totalCount } }").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selections_are_counted_with_fragments_expanded() {
    // 2^5 = 32 typenames plus `invocations` and `nodes`: 34 selections.
    let app = TestApp::spawn_with(|config| config.limits.max_selections = 34).await;
    assert_runs(&app, &fragment_bomb(5)).await;
    assert_refused(&app, &fragment_bomb(6), "GRAPHQL_VALIDATION_FAILED").await;
    // Written out, the same 64 selections are refused as well.
    let flat = format!("{{ invocations(first: 1) {{ nodes {{ {} }} }} }}", "__typename ".repeat(64));
    assert_refused(&app, &flat, "GRAPHQL_VALIDATION_FAILED").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_over_the_limit() {
    let app = TestApp::spawn_with(|config| config.limits.max_batch = 3).await;
    let op = |n: usize| json!({ "query": format!("query Q{n} {{ invocations {{ totalCount }} }}") });

    let (status, statements, body) = send(&app, Value::Array((0..4).map(op).collect())).await;
    assert_eq!(status, 400, "{body:#}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST", "{body:#}");
    assert_eq!(statements, 0);

    let (status, statements, body) = send(&app, Value::Array((0..3).map(op).collect())).await;
    assert_eq!(status, 200, "{body:#}");
    let answers = body.as_array().unwrap_or_else(|| panic!("one answer per operation: {body:#}"));
    assert_eq!(answers.len(), 3);
    for answer in answers {
        assert_eq!(answer, &json!({ "data": { "invocations": { "totalCount": 0 } } }));
    }
    assert!(statements > 0);
}

/// An empty batch is not a request: 400 BAD_REQUEST (async-graphql reads `[]` as a single
/// request with every field defaulted, which has no query).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_batches_are_bad_requests() {
    let app = TestApp::spawn().await;
    let (status, statements, body) = send(&app, json!([])).await;
    assert_eq!(status, 400, "{body:#}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST", "{body:#}");
    assert_eq!(statements, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_sizes_over_the_maximum() {
    let app = TestApp::spawn_with(|config| config.api.max_page_size = 5).await;
    for query in ["{ invocations(first: 6) { totalCount } }", "{ jobLogs(last: 6) { totalCount } }"] {
        let (status, statements, body) = run(&app, query).await;
        assert_eq!(status, 200, "{body:#}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body:#}");
        assert_eq!(statements, 0, "{body:#}");
    }
    assert_runs(&app, "{ invocations(first: 5) { totalCount } }").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_over_the_limit() {
    let app = TestApp::spawn_with(|config| config.ingest.max_request_bytes = 2048).await;
    let mutation = "mutation($f: String!) { startInvocation(input: {sourceFunction: $f}) { id } }";
    let response = app.post(json!({ "query": mutation, "variables": { "f": "x".repeat(4096) } })).await;
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "PAYLOAD_TOO_LARGE", "{body:#}");
    assert_eq!(app.row_count().await, RowCount::default(), "nothing written");

    let (status, _, body) = send(&app, json!({ "query": mutation, "variables": { "f": "f" } })).await;
    assert_eq!(status, 200, "{body:#}");
    assert!(body.get("errors").is_none(), "{body:#}");
    assert_eq!(app.row_count().await.invocations, 1);
}

/// Makes the server's next statements wait. On SQLite: checks out every connection of the
/// server's pool (which the tests share), so they wait for one (up to the pool's 5 s acquire
/// timeout). On PostgreSQL the server's requests use pools of their own (one per request
/// thread, out of the tests' reach): there the tables they read and write are locked instead.
async fn block_server(app: &TestApp) -> Vec<DatabaseTransaction> {
    if app.db.get_database_backend() == DbBackend::Postgres {
        let lock = app.db.begin().await.expect("begin");
        lock.execute_unprepared("LOCK TABLE invocations, row_counts IN ACCESS EXCLUSIVE MODE").await.expect("lock");
        return vec![lock];
    }
    let pool = app.db.get_sqlite_connection_pool();
    let mut held = Vec::new();
    while pool.size() < pool.options().get_max_connections() || pool.num_idle() > 0 {
        let txn = tokio::time::timeout(Duration::from_secs(10), app.db.begin()).await.expect("a connection");
        held.push(txn.expect("begin"));
    }
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_their_time_are_cancelled() {
    let app = TestApp::spawn_with(|config| config.limits.request_timeout_ms = 300).await;
    let read = "{ invocations { totalCount } }";
    let write = "mutation { startInvocation(input: {sourceFunction: \"f\"}) { id } }";
    let held = block_server(&app).await;
    for query in [read, write] {
        let started = std::time::Instant::now();
        let (status, _, body) =
            tokio::time::timeout(Duration::from_secs(10), run(&app, query)).await.expect("an answer");
        assert_eq!(status, 200, "{body:#}");
        assert!(body["data"].is_null(), "{body:#}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "TIMEOUT", "{query}: {body:#}");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("300 ms"), "{body:#}");
        assert!(started.elapsed() < Duration::from_secs(3), "cancelled at its deadline, not the pool's");
    }
    drop(held);
    // A write cancelled while it waited on the lock is rolled back once it gets it.
    tokio::time::sleep(Duration::from_millis(500)).await;

    assert_eq!(app.row_count().await, RowCount::default(), "the cancelled write wrote nothing");
    assert_runs(&app, write).await;
    assert_runs(&app, read).await;
    assert_eq!(app.row_count().await.invocations, 1);
}

/// PostgreSQL only (a SQLite write that finds the write lock taken fails at once rather than
/// waiting): a write cancelled while it waits on a lock inside its transaction is rolled back
/// once the lock is released, not committed behind the client's back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_cancelled_inside_its_transaction_leaves_nothing() {
    let app = TestApp::spawn_with(|config| config.limits.request_timeout_ms = 300).await;
    if app.db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    let write = "mutation { startInvocation(input: {sourceFunction: \"f\"}) { id } }";
    let lock = app.db.begin().await.unwrap();
    lock.execute_unprepared("LOCK TABLE invocations IN EXCLUSIVE MODE").await.unwrap();
    let (_, _, body) = tokio::time::timeout(Duration::from_secs(5), run(&app, write))
        .await
        .expect("answered at its deadline, not when the lock is released");
    assert_eq!(body["errors"][0]["extensions"]["code"], "TIMEOUT", "{body:#}");
    lock.rollback().await.unwrap();

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.row_count().await, RowCount::default(), "a cancelled write was committed");
    assert_runs(&app, write).await;
    assert_eq!(app.row_count().await.invocations, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_over_its_time_is_cancelled() {
    let app = TestApp::spawn_with(|config| config.limits.request_timeout_ms = 1).await;
    seed::run(&app.db, &SeedPlan { invocations: 300, days: 2, random_seed: 7, now: at(0) }).await.unwrap();
    let dashboard = DASHBOARD.replace("first: 10", "first: 100");
    let (status, _, body) = run(&app, &dashboard).await;
    assert_eq!(status, 200, "{body:#}");
    assert!(body["data"].is_null(), "{body:#}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "TIMEOUT", "{body:#}");
}

const INTROSPECTION: &str = "{ __schema { queryType { name } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_can_be_turned_off() {
    let app = TestApp::spawn().await;
    let (status, _, body) = run(&app, INTROSPECTION).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({ "data": { "__schema": { "queryType": { "name": "Query" } } } }));
    let (_, _, body) = run(&app, "{ __type(name: \"Invocation\") { name } }").await;
    assert_eq!(body, json!({ "data": { "__type": { "name": "Invocation" } } }));

    // Off: nothing of the schema is revealed, and other queries still run.
    let app = TestApp::spawn_with(|config| config.limits.introspection = false).await;
    for (query, field) in [(INTROSPECTION, "__schema"), ("{ __type(name: \"Invocation\") { name } }", "__type")] {
        let (_, statements, body) = run(&app, query).await;
        assert!(body["data"][field].is_null(), "{body:#}");
        assert!(!body.to_string().contains("Invocation\"}"), "{body:#}");
        assert_eq!(statements, 0);
    }
    assert_runs(&app, "{ invocations { totalCount } }").await;
}

/// With introspection off, `{ __schema { … } }` is an error (the GraphQL spec has
/// `__schema: __Schema!`, and clients such as GraphiQL need to be told), not a silent null.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_introspection_is_an_error() {
    let app = TestApp::spawn_with(|config| config.limits.introspection = false).await;
    let (_, statements, body) = run(&app, INTROSPECTION).await;
    let errors = body["errors"].as_array().unwrap_or_else(|| panic!("introspection off must be an error: {body:#}"));
    assert_eq!(errors[0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{body:#}");
    assert_eq!(statements, 0);
}

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_persisted_queries() {
    let app = TestApp::spawn().await;
    let query = "query Apq { invocations { totalCount } }";
    let hash = hex::encode(Sha256::digest(query.as_bytes()));
    let expected = json!({ "data": { "invocations": { "totalCount": 0 } } });

    // Unknown hash: the client is told to send the query.
    let (status, statements, body) = send(&app, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND", "{body:#}");
    assert_eq!(statements, 0);

    // A wrong hash for a query is refused and not remembered.
    let wrong = hex::encode(Sha256::digest(b"something else"));
    let (_, statements, body) = send(&app, json!({ "query": query, "extensions": persisted(&wrong) })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST", "{body:#}");
    assert!(body["data"].is_null(), "{body:#}");
    assert_eq!(statements, 0);
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": query, "extensions": persisted(&wrong) }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let (_, _, body) = send(&app, json!({ "extensions": persisted(&wrong) })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND", "{body:#}");

    // Query and hash: runs, and is remembered.
    let (status, _, body) = send(&app, json!({ "query": query, "extensions": persisted(&hash) })).await;
    assert_eq!((status, &body), (StatusCode::OK, &expected));
    // Then the hash alone, in either case, over POST and over GET.
    let (status, _, body) = send(&app, json!({ "extensions": persisted(&hash.to_uppercase()) })).await;
    assert_eq!((status, &body), (StatusCode::OK, &expected));
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[("extensions", persisted(&hash).to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), expected);
}
