//! GraphQL over HTTP: media types and status codes, GET, content types, request ids, CORS and
//! the Prometheus metrics.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{RowCount, TestApp};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// POSTs `body` with the given `Accept` (or none) and returns status, content type and body.
async fn post_accepting(app: &TestApp, accept: Option<&str>, body: Value) -> (StatusCode, String, Value) {
    let mut request = app.client.post(app.url("/graphql")).json(&body);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.expect("request failed");
    let status = response.status();
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    (status, content_type, response.json().await.expect("JSON body"))
}

async fn post_json(app: &TestApp, body: Value) -> Value {
    app.post(body).await.json().await.expect("JSON body")
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or_else(|| panic!("expected an error code: {body:#}"))
}

const SYNTAX_ERROR: &str = "{ invocations { ";
const UNKNOWN_FIELD: &str = "{ invocations { nope } }";
/// A resolver error: the argument is a valid string but not a cursor, so the error has a path.
const BAD_CURSOR: &str = "{ invocations(after: \"not-a-cursor\") { totalCount } }";
const BAD_VARIABLE: &str = "query($n: Int) { invocations(first: $n) { totalCount } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_response_media_type_answers_request_errors_with_400() {
    let app = TestApp::spawn().await;
    let accept = Some(GRAPHQL_RESPONSE);

    let (status, content_type, body) =
        post_accepting(&app, accept, json!({ "query": "{ invocations { totalCount } }" })).await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with(GRAPHQL_RESPONSE), "{content_type}");
    assert_eq!(body, json!({ "data": { "invocations": { "totalCount": 0 } } }));

    for (query, variables, expected) in [
        (SYNTAX_ERROR, json!({}), "GRAPHQL_PARSE_FAILED"),
        (UNKNOWN_FIELD, json!({}), "GRAPHQL_VALIDATION_FAILED"),
        (BAD_VARIABLE, json!({ "n": "ten" }), "BAD_USER_INPUT"),
    ] {
        let (status, content_type, body) =
            post_accepting(&app, accept, json!({ "query": query, "variables": variables })).await;
        assert_eq!(status, 400, "{query}: {body:#}");
        assert!(content_type.starts_with(GRAPHQL_RESPONSE), "{content_type}");
        assert_eq!(code(&body), expected, "{query}: {body:#}");
        assert!(body.get("data").is_none_or(Value::is_null), "{body:#}");
    }

    // An error while executing is not a request error: 200, with the error's path.
    let (status, content_type, body) = post_accepting(&app, accept, json!({ "query": BAD_CURSOR })).await;
    assert_eq!(status, 200, "{body:#}");
    assert!(content_type.starts_with(GRAPHQL_RESPONSE), "{content_type}");
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body:#}");
    assert_eq!(body["errors"][0]["path"], json!(["invocations"]), "{body:#}");

    // The client's order decides; q=0 refuses a type.
    for (accept, expected) in [
        ("application/json, application/graphql-response+json", "application/json"),
        ("application/graphql-response+json;q=0, application/json", "application/json"),
        ("text/html, application/graphql-response+json", GRAPHQL_RESPONSE),
    ] {
        let (status, content_type, _) = post_accepting(&app, Some(accept), json!({ "query": UNKNOWN_FIELD })).await;
        assert!(content_type.starts_with(expected), "Accept: {accept}: {content_type}");
        let expected_status = if expected == GRAPHQL_RESPONSE { 400 } else { 200 };
        assert_eq!(status, expected_status, "Accept: {accept}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_json_answers_every_well_formed_request_with_200() {
    let app = TestApp::spawn().await;
    for accept in [Some("application/json"), None, Some("*/*")] {
        for (query, variables, expected) in [
            (SYNTAX_ERROR, json!({}), "GRAPHQL_PARSE_FAILED"),
            (UNKNOWN_FIELD, json!({}), "GRAPHQL_VALIDATION_FAILED"),
            (BAD_VARIABLE, json!({ "n": "ten" }), "BAD_USER_INPUT"),
            (BAD_CURSOR, json!({}), "BAD_USER_INPUT"),
        ] {
            let (status, content_type, body) =
                post_accepting(&app, accept, json!({ "query": query, "variables": variables })).await;
            assert_eq!(status, 200, "Accept {accept:?}, {query}: {body:#}");
            assert!(content_type.starts_with("application/json"), "{content_type}");
            assert_eq!(code(&body), expected, "{query}: {body:#}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_runs_queries_but_not_mutations() {
    let app = TestApp::spawn().await;
    let response =
        app.client.get(app.url("/graphql")).query(&[("query", "{invocations{totalCount}}")]).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({ "data": { "invocations": { "totalCount": 0 } } }));

    let mutation = "mutation { startInvocation(input: {sourceFunction: \"f\"}) { id } }";
    for accept in ["application/json", GRAPHQL_RESPONSE] {
        let response = app
            .client
            .get(app.url("/graphql"))
            .header("accept", accept)
            .query(&[("query", mutation)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "Accept: {accept}");
        assert_eq!(response.headers()["allow"], "POST");
        let body: Value = response.json().await.unwrap();
        assert_eq!(code(&body), "METHOD_NOT_ALLOWED", "{body:#}");
    }
    assert_eq!(app.row_count().await, RowCount::default(), "GET wrote nothing");

    // Nor by the hash of a persisted mutation: registering it over POST runs it once...
    let hash = hex::encode(Sha256::digest(mutation.as_bytes()));
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let body = post_json(&app, json!({ "query": mutation, "extensions": extensions })).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    assert_eq!(app.row_count().await.invocations, 1);
    // ...but GET with the hash alone does not.
    let response =
        app.client.get(app.url("/graphql")).query(&[("extensions", extensions.to_string())]).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    assert_eq!(app.row_count().await.invocations, 1, "GET ran a persisted mutation");
}

/// GraphQL over HTTP names the GET parameter `operationName` (async-graphql's own query string
/// parser reads only `operation_name`, which the server also accepts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_picks_the_operation_named_by_operation_name() {
    let app = TestApp::spawn().await;
    let document = "query Q { invocations { totalCount } } \
                    mutation M { startInvocation(input: {sourceFunction: \"f\"}) { id } }";
    let get = |name: &'static str| {
        app.client.get(app.url("/graphql")).query(&[("query", document), ("operationName", name)]).send()
    };
    let response = get("Q").await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({ "data": { "invocations": { "totalCount": 0 } } }));
    let response = get("M").await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    assert_eq!(app.row_count().await, RowCount::default(), "GET wrote nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_bodies_must_be_json() {
    let app = TestApp::spawn().await;
    let query = json!({ "query": "{ invocations { totalCount } }" }).to_string();
    let post = |content_type: Option<&'static str>, body: String| {
        let mut request = app.client.post(app.url("/graphql")).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send()
    };

    for content_type in [Some("text/plain"), Some("application/x-www-form-urlencoded"), None] {
        let response = post(content_type, query.clone()).await.unwrap();
        assert_eq!(response.status(), 415, "Content-Type {content_type:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(code(&body), "BAD_REQUEST");
    }
    let response = post(Some("application/json; charset=utf-8"), query.clone()).await.unwrap();
    assert_eq!(response.status(), 200);

    for body in ["{not json", "", "42", "{\"query\": 7}"] {
        let response = post(Some("application/json"), body.to_owned()).await.unwrap();
        assert_eq!(response.status(), 400, "body {body:?}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(code(&answer), "BAD_REQUEST", "{answer:#}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn().await;
    let requests = [
        app.client.get(app.url("/healthz")),
        app.client.get(app.url("/nowhere")),
        app.client.post(app.url("/graphql")).json(&json!({ "query": "{ invocations { totalCount } }" })),
        app.client.post(app.url("/graphql")).header("content-type", "text/plain").body("x"),
        app.client.get(app.url("/metrics")),
    ];
    let mut seen = std::collections::HashSet::new();
    for request in requests {
        let response = request.send().await.unwrap();
        let id = response.headers().get("x-request-id").unwrap_or_else(|| panic!("no id: {response:?}"));
        let id = id.to_str().unwrap().to_owned();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "a generated id is a UUID: {id}");
        assert!(seen.insert(id), "each request gets its own id");
    }

    let response = app
        .client
        .post(app.url("/graphql"))
        .header("x-request-id", "client-chosen-42")
        .json(&json!({ "query": UNKNOWN_FIELD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "client-chosen-42");
}

/// A CORS preflight for a POST from `origin`.
async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client
        .request(reqwest::Method::OPTIONS, app.url("/graphql"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type, authorization")
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_only_for_configured_origins() {
    let app = TestApp::spawn_with(|config| config.cors_origins = vec!["https://dash.example".into()]).await;
    let response = preflight(&app, "https://dash.example").await;
    assert!(response.status().is_success(), "{response:?}");
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], "https://dash.example");
    let methods = headers["access-control-allow-methods"].to_str().unwrap().to_ascii_uppercase();
    assert!(methods.contains("POST"), "{methods}");
    let allowed = headers["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"), "{allowed}");

    let response = preflight(&app, "https://evil.example").await;
    assert!(response.headers().get("access-control-allow-origin").is_none(), "{response:?}");

    // The actual request from the dashboard may read the answer and its timing.
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("origin", "https://dash.example")
        .json(&json!({ "query": "{ invocations { totalCount } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], "https://dash.example");
    let exposed = response.headers()["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(exposed.contains("server-timing") && exposed.contains("x-request-id"), "{exposed}");

    let app = TestApp::spawn().await;
    for response in [
        preflight(&app, "https://dash.example").await,
        app.client
            .get(app.url("/graphql?query={invocations{totalCount}}"))
            .header("origin", "https://dash.example")
            .send()
            .await
            .unwrap(),
    ] {
        let cors: Vec<_> =
            response.headers().keys().filter(|name| name.as_str().starts_with("access-control-")).collect();
        assert!(cors.is_empty(), "no CORS without configured origins: {cors:?}");
    }
}

async fn scrape(app: &TestApp) -> String {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    response.text().await.unwrap()
}

/// The value of the sample whose name and labels are exactly `series`.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_in_the_prometheus_text_format() {
    let app = TestApp::spawn().await;
    let before = scrape(&app).await;
    assert_eq!(sample(&before, "runlens_graphql_requests_total{operation=\"Dash\",outcome=\"ok\"}"), None);
    assert_eq!(sample(&before, "runlens_rollup_lag_seconds"), Some(-1.0), "no rollup has run: {before}");
    assert_eq!(sample(&before, "runlens_state{what=\"subscriptions\"}"), Some(0.0), "{before}");

    let data = app.data("query Dash { invocations { totalCount } }", json!({})).await;
    assert_eq!(data["invocations"]["totalCount"], 0);
    app.data("query Dash { invocations { totalCount } }", json!({})).await;
    app.error_codes("query Dash { invocations { nope } }", json!({})).await;
    let lines = app
        .ingest_ndjson(format!(
            "{}\n",
            json!({ "sourceFunction": "f", "eventExecutions": [
        { "eventName": "e", "jobExecutions": [{ "jobName": "j" }] }] })
        ))
        .await;
    assert!(lines[0].get("error").is_none(), "{lines:?}");
    app.rollup().await;
    let sub = app.subscribe("subscription { invocationUpdated { kind } }", json!({})).await;

    let metrics = scrape(&app).await;
    let expect = |series: &str| sample(&metrics, series).unwrap_or_else(|| panic!("no sample {series} in\n{metrics}"));
    assert_eq!(expect("runlens_graphql_requests_total{operation=\"Dash\",outcome=\"ok\"}"), 2.0);
    assert_eq!(expect("runlens_graphql_requests_total{operation=\"Dash\",outcome=\"error\"}"), 1.0);
    assert_eq!(expect("runlens_graphql_request_duration_seconds_count{operation=\"Dash\"}"), 3.0);
    assert_eq!(expect("runlens_ingested_rows_total{table=\"invocations\"}"), 1.0);
    assert_eq!(expect("runlens_ingested_rows_total{table=\"event_executions\"}"), 1.0);
    assert_eq!(expect("runlens_ingested_rows_total{table=\"job_executions\"}"), 1.0);
    assert!(expect("runlens_graphql_sql_statements_count") >= 3.0);
    assert!(expect("runlens_graphql_sql_statements_sum") >= 2.0, "the two successful queries ran SQL");
    assert!(metrics.contains("runlens_graphql_sql_statements_bucket{le=\"0\"}"), "{metrics}");
    assert!(expect("runlens_state{what=\"db_connections_idle\"}") >= 0.0);
    assert!(expect("runlens_state{what=\"db_connections_in_use\"}") >= 0.0);
    assert_eq!(expect("runlens_state{what=\"subscriptions\"}"), 1.0, "one subscription is open");
    let lag = expect("runlens_rollup_lag_seconds");
    assert!((0.0..60.0).contains(&lag), "the rollup just ran: lag {lag}");
    assert_eq!(expect("runlens_subscription_lagged_total"), 0.0);
    assert!(metrics.contains("# TYPE runlens_graphql_requests_total counter"), "{metrics}");

    // Closing the socket ends the subscription.
    drop(sub);
    let mut open = 1.0;
    for _ in 0..50 {
        open = sample(&scrape(&app).await, "runlens_state{what=\"subscriptions\"}").unwrap();
        if open == 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(open, 0.0, "the closed subscription is no longer counted");
}
