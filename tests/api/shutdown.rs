//! Graceful shutdown: in-flight requests finish, new connections are refused, subscriptions
//! are closed with a close frame, and a request that never ends cannot hold the server up
//! longer than the grace period.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use uuid::Uuid;

use crate::helpers::TestApp;

/// One NDJSON line starting an invocation.
fn line(id: Uuid) -> Bytes {
    let tree = json!({ "id": id, "sourceFunction": "drain", "status": "RUNNING", "createdAt": "2026-11-20T10:00:00Z" });
    Bytes::from(format!("{tree}\n"))
}

/// Starts a streamed `POST /ingest` whose body is fed through the returned sender.
fn streamed_ingest(app: &TestApp) -> (mpsc::UnboundedSender<Bytes>, tokio::task::JoinHandle<reqwest::Result<String>>) {
    let (sender, receiver) = mpsc::unbounded_channel::<Bytes>();
    let body = reqwest::Body::wrap_stream(UnboundedReceiverStream::new(receiver).map(Ok::<_, std::io::Error>));
    let request = app.client.post(app.url("/ingest")).header("content-type", "application/x-ndjson").body(body);
    let response = tokio::spawn(async move { request.send().await?.text().await });
    (sender, response)
}

#[tokio::test]
async fn in_flight_requests_finish_and_new_connections_are_refused() {
    let mut app = TestApp::spawn().await;
    let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
    let (body, response) = streamed_ingest(&app);
    body.send(line(first)).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    app.begin_shutdown();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The server no longer accepts connections…
    let fresh = reqwest::Client::new().get(app.url("/healthz")).send().await;
    assert!(fresh.is_err(), "a new connection was served during shutdown: {fresh:?}");

    // …but the request that was under way completes, with every line it sends.
    body.send(line(second)).unwrap();
    drop(body);
    let text = tokio::time::timeout(Duration::from_secs(10), response).await.expect("answer").unwrap().unwrap();
    let summary: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(summary["summary"]["accepted"], 2, "{text}");
    tokio::time::timeout(Duration::from_secs(10), app.stopped()).await.expect("server stopped");
    assert_eq!(app.row_count().await.invocations, 2);
}

#[tokio::test]
async fn a_request_that_never_ends_cannot_hold_the_server_past_the_grace_period() {
    let mut app = TestApp::spawn_with(|config| config.shutdown_grace_secs = 1).await;
    let (body, _response) = streamed_ingest(&app);
    body.send(line(Uuid::new_v4())).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.begin_shutdown();
    // Generous bound: the grace period is 1 s; without one the server would wait forever.
    tokio::time::timeout(Duration::from_secs(15), app.stopped()).await.expect("the server outlived its grace period");
    drop(body);
}

#[tokio::test]
async fn subscriptions_are_closed_with_a_going_away_frame() {
    let mut app = TestApp::spawn().await;
    let mut subscription =
        app.subscribe("subscription { invocationUpdated { kind invocation { id } } }", json!({})).await;
    app.begin_shutdown();
    let frame = subscription.close_frame().await;
    assert_eq!(frame, Some((1001, "server shutting down".to_owned())));
    tokio::time::timeout(Duration::from_secs(10), app.stopped()).await.expect("server stopped");
}

/// Requests run on request threads, each with a runtime of its own, and on PostgreSQL with a
/// connection pool of its own: a connection does its I/O through the runtime that opened it,
/// so one opened by a request thread is dead once the server stops. Whatever the requests did
/// (reads, writes, analytics, probes, several at a time), the pool the server was given must
/// still work after it stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_database_pool_outlives_its_request_threads() {
    let mut app = TestApp::spawn_with(|config| config.request_threads = 2).await;
    let requests = (0..12).map(|i| {
        let body = match i % 3 {
            0 => json!({ "query": format!("mutation {{ startInvocation(input: {{sourceFunction: \"f{i}\"}}) {{ id }} }}") }),
            1 => json!({ "query": "{ invocations(first: 5) { totalCount nodes { id eventExecutions { id } } } }" }),
            _ => json!({ "query": "{ stuckInvocations(olderThanMinutes: 1) { id } }" }),
        };
        let client = reqwest::Client::new();
        let url = app.url("/graphql");
        async move { client.post(url).json(&body).send().await.expect("answer").json::<Value>().await.expect("JSON") }
    });
    for body in futures::future::join_all(requests).await {
        assert!(body.get("errors").is_none(), "{body:#}");
    }
    for path in ["/readyz", "/metrics"] {
        assert!(app.client.get(app.url(path)).send().await.expect("answer").status().is_success(), "{path}");
    }
    app.begin_shutdown();
    tokio::time::timeout(Duration::from_secs(10), app.stopped()).await.expect("server stopped");

    // As many statements at once as the pool has connections: every one of them must work.
    let counts = (0..16).map(|_| app.row_count());
    for count in futures::future::join_all(counts).await {
        assert_eq!(count.invocations, 4);
    }
}
