//! API keys and roles: who may read, who may write, over HTTP, NDJSON and WebSocket; keys from
//! a file; and the open mode, which is only allowed on loopback.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use runlens::app::Application;
use runlens::config::ServeConfig;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{RowCount, TestApp};

const READ: &str = "read-key-0123456789abcdef";
const INGEST: &str = "ingest-key-0123456789abcdef";
const ADMIN: &str = "admin-key-0123456789abcdef";
const UNKNOWN: &str = "unknown-key-0123456789abcdef";

const QUERY: &str = "{ invocations { totalCount } }";
const START: &str = "mutation($id: UUID!) { startInvocation(input: {id: $id, sourceFunction: \"f\"}) { id } }";
const I1: &str = "01990000-0000-7000-8000-000000000001";
const I2: &str = "01990000-0000-7000-8000-000000000002";

/// A server with one key of each role.
async fn keyed() -> TestApp {
    TestApp::spawn_with(|config| {
        config.access.api_keys = vec![format!("read:{READ}"), format!("ingest:{INGEST}"), format!("admin:{ADMIN}")];
    })
    .await
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

/// POSTs a GraphQL request with `Authorization: Bearer key` (or no header).
async fn post_as(app: &TestApp, key: Option<&str>, body: Value) -> reqwest::Response {
    let mut request = app.client.post(app.url("/graphql")).json(&body);
    if let Some(key) = key {
        request = request.header("authorization", bearer(key));
    }
    request.send().await.expect("request failed")
}

/// The status and body of a GraphQL POST.
async fn call(app: &TestApp, key: Option<&str>, query: &str, variables: Value) -> (StatusCode, Value) {
    let response = post_as(app, key, json!({ "query": query, "variables": variables })).await;
    let status = response.status();
    (status, response.json().await.expect("JSON body"))
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or_else(|| panic!("expected an error code: {body:#}"))
}

async fn get_as(app: &TestApp, path: &str, key: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(app.url(path));
    if let Some(key) = key {
        request = request.header("authorization", bearer(key));
    }
    request.send().await.expect("request failed")
}

/// `GET /graphql?query=QUERY`.
async fn get_query(app: &TestApp, key: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(app.url("/graphql")).query(&[("query", QUERY)]);
    if let Some(key) = key {
        request = request.header("authorization", bearer(key));
    }
    request.send().await.expect("request failed")
}

async fn ingest_as(app: &TestApp, key: Option<&str>, body: String) -> reqwest::Response {
    let mut request = app.client.post(app.url("/ingest")).header("content-type", "application/x-ndjson").body(body);
    if let Some(key) = key {
        request = request.header("authorization", bearer(key));
    }
    request.send().await.expect("request failed")
}

fn invocations(n: i64) -> RowCount {
    RowCount { invocations: n, ..RowCount::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_known_key_are_unauthenticated() {
    let app = keyed().await;
    for authorization in [None, Some(bearer(UNKNOWN)), Some(format!("Basic {READ}")), Some("Bearer ".to_owned())] {
        let mut request = app.client.post(app.url("/graphql")).json(&json!({ "query": QUERY }));
        if let Some(value) = &authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "Authorization: {authorization:?}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
        assert!(body.get("data").is_none(), "{body}");
    }

    // Over GET too, and a mutation without a key writes nothing.
    let response = app.client.get(app.url("/graphql")).query(&[("query", QUERY)]).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let (status, body) = call(&app, None, START, json!({ "id": I1 })).await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"));
    assert_eq!(app.row_count().await, RowCount::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_keys_read_and_may_not_write() {
    let app = keyed().await;
    let (status, body) = call(&app, Some(READ), QUERY, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({ "data": { "invocations": { "totalCount": 0 } } }));
    let response = get_query(&app, Some(READ)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), body);

    let (status, body) = call(&app, Some(READ), START, json!({ "id": I1 })).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(code(&body), "FORBIDDEN");
    assert!(body["data"].is_null(), "{body}");
    // The batch form is checked operation by operation.
    let response =
        post_as(&app, Some(READ), json!([{ "query": QUERY }, { "query": START, "variables": { "id": I2 } }])).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body[0]["data"]["invocations"]["totalCount"], 0, "{body}");
    assert_eq!(body[1]["errors"][0]["extensions"]["code"], "FORBIDDEN", "{body}");
    assert_eq!(app.row_count().await, RowCount::default(), "a read key wrote nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_keys_write_and_may_not_read() {
    let app = keyed().await;
    let (status, body) = call(&app, Some(INGEST), START, json!({ "id": I1 })).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({ "data": { "startInvocation": { "id": I1 } } }));
    assert_eq!(app.row_count().await, invocations(1));

    let (status, body) = call(&app, Some(INGEST), QUERY, json!({})).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(code(&body), "FORBIDDEN");
    assert!(body["data"].is_null(), "{body}");
    let response = get_query(&app, Some(INGEST)).await;
    assert_eq!(response.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_keys_read_and_write() {
    let app = keyed().await;
    let (status, body) = call(&app, Some(ADMIN), START, json!({ "id": I1 })).await;
    assert_eq!((status, &body), (StatusCode::OK, &json!({ "data": { "startInvocation": { "id": I1 } } })));
    let (status, body) = call(&app, Some(ADMIN), QUERY, json!({})).await;
    assert_eq!((status, &body), (StatusCode::OK, &json!({ "data": { "invocations": { "totalCount": 1 } } })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndjson_ingest_needs_a_writing_key() {
    let app = keyed().await;
    let line = |id: &str| format!("{}\n", json!({ "id": id, "sourceFunction": "f" }));

    let response = ingest_as(&app, None, line(I1)).await;
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let response = ingest_as(&app, Some(READ), line(I1)).await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body), "FORBIDDEN");
    assert_eq!(app.row_count().await, RowCount::default(), "refused lines wrote nothing");

    for (key, id) in [(INGEST, I1), (ADMIN, I2)] {
        let response = ingest_as(&app, Some(key), line(id)).await;
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        assert!(text.contains("\"summary\""), "{text}");
    }
    assert_eq!(app.row_count().await, invocations(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_schema_need_a_reading_key_and_health_stays_open() {
    let app = keyed().await;
    for path in ["/metrics", "/schema.graphql"] {
        let response = get_as(&app, path, None).await;
        assert_eq!(response.status(), 401, "{path}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_eq!(get_as(&app, path, Some(UNKNOWN)).await.status(), 401, "{path}");
        let response = get_as(&app, path, Some(INGEST)).await;
        assert_eq!(response.status(), 403, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(code(&body), "FORBIDDEN");
        for key in [READ, ADMIN] {
            let response = get_as(&app, path, Some(key)).await;
            assert_eq!(response.status(), 200, "{path}");
            assert!(!response.text().await.unwrap().is_empty());
        }
    }
    assert!(get_as(&app, "/schema.graphql", Some(READ)).await.text().await.unwrap().contains("type Query"));

    for path in ["/healthz", "/readyz"] {
        assert_eq!(get_as(&app, path, None).await.status(), 200, "{path}");
    }
    let graphiql = get_as(&app, "/graphql", None).await;
    assert_eq!(graphiql.status(), 200);
    assert!(graphiql.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
}

// ---- WebSocket --------------------------------------------------------------------------------

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What the server sent next.
#[derive(Debug)]
enum Received {
    Message(Value),
    /// A close frame with its code, or the connection ending without one (None).
    Closed(Option<u16>),
}

/// Opens a `graphql-transport-ws` socket, with an `Authorization` header on the upgrade request
/// when given.
async fn open_socket(
    app: &TestApp,
    authorization: Option<&str>,
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    let mut request = format!("ws://{}/graphql/ws", app.address).into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    if let Some(authorization) = authorization {
        request.headers_mut().insert("authorization", authorization.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request).await.map(|(socket, _)| socket)
}

async fn send(socket: &mut Socket, message: Value) {
    socket.send(Message::text(message.to_string())).await.expect("WebSocket send");
}

/// The next protocol message or close (pings answered); a panic after ten seconds.
async fn receive(socket: &mut Socket) -> Received {
    loop {
        let next = tokio::time::timeout(Duration::from_secs(10), socket.next()).await.expect("nothing within 10 s");
        match next {
            None | Some(Err(_)) => return Received::Closed(None),
            Some(Ok(Message::Text(text))) => {
                let message: Value = serde_json::from_str(&text).expect("JSON message");
                if message["type"] == "ping" {
                    send(socket, json!({ "type": "pong" })).await;
                    continue;
                }
                return Received::Message(message);
            }
            Some(Ok(Message::Close(frame))) => return Received::Closed(frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => continue,
        }
    }
}

/// Sends `connection_init` (with `payload` when given) and returns the answer.
async fn init(socket: &mut Socket, payload: Option<Value>) -> Received {
    let message = match payload {
        Some(payload) => json!({ "type": "connection_init", "payload": payload }),
        None => json!({ "type": "connection_init" }),
    };
    send(socket, message).await;
    receive(socket).await
}

fn assert_ack(received: &Received) {
    assert!(matches!(received, Received::Message(m) if m["type"] == "connection_ack"), "expected an ack: {received:?}");
}

const UPDATES: &str = "subscription { invocationUpdated { kind invocation { id } } }";

/// Starts `query` as subscription `id` and gives the server a moment to start it (the protocol
/// does not acknowledge a subscribe).
async fn start(socket: &mut Socket, id: &str, query: &str) {
    send(socket, json!({ "id": id, "type": "subscribe", "payload": { "query": query } })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// The payload of the next `next` message of subscription `id`.
async fn next_payload(socket: &mut Socket, id: &str) -> Value {
    match receive(socket).await {
        Received::Message(message) if message["type"] == "next" && message["id"] == id => message["payload"].clone(),
        other => panic!("expected a result for {id}, got {other:?}"),
    }
}

/// Starts an invocation with the ingest key and checks the socket hears of it.
async fn assert_hears_a_write(app: &TestApp, socket: &mut Socket, id: &str) {
    let (status, body) = call(app, Some(INGEST), START, json!({ "id": id })).await;
    assert_eq!(status, 200, "{body}");
    let payload = next_payload(socket, "1").await;
    assert_eq!(payload, json!({ "data": { "invocationUpdated": { "kind": "CREATED", "invocation": { "id": id } } } }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_key_in_connection_init() {
    let app = keyed().await;
    for (payload, id) in
        [(json!({ "Authorization": bearer(READ) }), I1), (json!({ "headers": { "authorization": bearer(ADMIN) } }), I2)]
    {
        let mut socket = open_socket(&app, None).await.expect("upgrade without a header");
        assert_ack(&init(&mut socket, Some(payload)).await);
        start(&mut socket, "1", UPDATES).await;
        assert_hears_a_write(&app, &mut socket, id).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_without_a_known_key_is_closed_with_4403() {
    let app = keyed().await;
    for payload in [
        None,
        Some(json!({})),
        Some(json!({ "Authorization": bearer(UNKNOWN) })),
        Some(json!({ "Authorization": "Bearer " })),
    ] {
        let mut socket = open_socket(&app, None).await.expect("upgrade");
        let received = init(&mut socket, payload.clone()).await;
        assert!(matches!(received, Received::Closed(Some(4403))), "payload {payload:?}: {received:?}");
    }

    // A refused socket never runs what it sends before being closed.
    let mut socket = open_socket(&app, None).await.expect("upgrade");
    send(&mut socket, json!({ "type": "connection_init", "payload": { "Authorization": bearer(UNKNOWN) } })).await;
    send(&mut socket, json!({ "id": "1", "type": "subscribe", "payload": { "query": UPDATES } })).await;
    let received = receive(&mut socket).await;
    assert!(matches!(received, Received::Closed(Some(4403))), "{received:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_key_in_the_upgrade_header() {
    let app = keyed().await;
    let mut socket = open_socket(&app, Some(&bearer(READ))).await.expect("upgrade with a read key");
    assert_ack(&init(&mut socket, None).await);
    start(&mut socket, "1", UPDATES).await;
    assert_hears_a_write(&app, &mut socket, I1).await;

    // An unknown key in the header is refused before the upgrade.
    match open_socket(&app, Some(&bearer(UNKNOWN))).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        Err(other) => panic!("expected an HTTP 401, got {other}"),
        Ok(_) => panic!("an unknown key in the upgrade request was accepted"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_ingest_keys_may_not_subscribe() {
    let app = keyed().await;
    let mut socket = open_socket(&app, None).await.expect("upgrade");
    assert_ack(&init(&mut socket, Some(json!({ "Authorization": bearer(INGEST) }))).await);
    start(&mut socket, "1", UPDATES).await;
    let payload = next_payload(&mut socket, "1").await;
    assert_eq!(payload["errors"][0]["extensions"]["code"], "FORBIDDEN", "{payload}");
    assert!(payload["data"].is_null(), "{payload}");
    let complete = receive(&mut socket).await;
    assert!(matches!(&complete, Received::Message(m) if m["type"] == "complete" && m["id"] == "1"), "{complete:?}");

    // And the refused subscription hears nothing.
    let (status, _) = call(&app, Some(INGEST), START, json!({ "id": I1 })).await;
    assert_eq!(status, 200);
    let quiet = tokio::time::timeout(Duration::from_millis(500), socket.next()).await;
    assert!(quiet.is_err(), "a refused subscription received {quiet:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_read_keys_may_not_mutate() {
    let app = keyed().await;
    let mut socket = open_socket(&app, None).await.expect("upgrade");
    assert_ack(&init(&mut socket, Some(json!({ "Authorization": bearer(READ) }))).await);
    send(
        &mut socket,
        json!({ "id": "m", "type": "subscribe", "payload": { "query": START, "variables": { "id": I1 } } }),
    )
    .await;
    let payload = next_payload(&mut socket, "m").await;
    assert_eq!(payload["errors"][0]["extensions"]["code"], "FORBIDDEN", "{payload}");
    assert_eq!(app.row_count().await, RowCount::default(), "a read key wrote nothing over WebSocket");

    // The same socket may still query.
    send(&mut socket, json!({ "id": "q", "type": "subscribe", "payload": { "query": QUERY } })).await;
    let payload = loop {
        match receive(&mut socket).await {
            Received::Message(m) if m["type"] == "complete" => continue,
            Received::Message(m) if m["type"] == "next" && m["id"] == "q" => break m["payload"].clone(),
            other => panic!("expected the query's result, got {other:?}"),
        }
    };
    assert_eq!(payload, json!({ "data": { "invocations": { "totalCount": 0 } } }));
}

// ---- Keys from a file, open mode ------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_from_a_file_by_digest_or_in_plain() {
    let hashed_read = "hashed-read-key-0123456789";
    let digest = hex::encode(Sha256::digest(hashed_read.as_bytes()));
    let path = std::env::temp_dir().join(format!("runlens-keys-{}.txt", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, format!("# keys for the tests\n\nread sha256:{digest}\ningest {INGEST}\n")).unwrap();
    let file = path.clone();
    let app = TestApp::spawn_with(move |config| config.access.api_keys_file = Some(file)).await;
    let _ = std::fs::remove_file(&path);

    let (status, body) = call(&app, Some(hashed_read), QUERY, json!({})).await;
    assert_eq!((status, &body), (StatusCode::OK, &json!({ "data": { "invocations": { "totalCount": 0 } } })));
    let (status, body) = call(&app, Some(hashed_read), START, json!({ "id": I1 })).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "FORBIDDEN"), "the hashed key is a read key");
    let (status, body) = call(&app, Some(INGEST), START, json!({ "id": I1 })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.row_count().await, invocations(1));

    // The digest in the file is not itself a key.
    let (status, body) = call(&app, Some(&digest), QUERY, json!({})).await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"));
    let (status, _) = call(&app, None, QUERY, json!({})).await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_mode_needs_no_key_and_only_serves_on_loopback() {
    let app = TestApp::spawn().await;
    let (status, body) = call(&app, None, START, json!({ "id": I1 })).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(&app, None, QUERY, json!({})).await;
    assert_eq!((status, &body), (StatusCode::OK, &json!({ "data": { "invocations": { "totalCount": 1 } } })));
    assert_eq!(get_as(&app, "/metrics", None).await.status(), 200);

    let wildcard = || ServeConfig::for_bind("0.0.0.0:0".parse().unwrap());
    let refused = Application::with_database(app.db.clone(), wildcard()).await;
    let message = format!("{:#}", refused.err().expect("an open server on 0.0.0.0 must not start"));
    assert!(message.contains("no API keys"), "{message}");

    // Keys too short to be secret, or with an unknown role, are refused at start.
    for key in ["read:short", "root:0123456789abcdef0123", "0123456789abcdef0123"] {
        let mut config = ServeConfig::for_bind("127.0.0.1:0".parse().unwrap());
        config.access.api_keys = vec![key.to_owned()];
        assert!(Application::with_database(app.db.clone(), config).await.is_err(), "{key} was accepted");
    }

    // With a key the same address is fine.
    let mut config = wildcard();
    config.access.api_keys = vec![format!("read:{READ}")];
    config.rollup.rollup_interval_secs = 0;
    config.retention.prune_interval_secs = 0;
    config.shutdown_grace_secs = 1;
    let server = Application::with_database(app.db.clone(), config).await.expect("a keyed server starts on 0.0.0.0");
    assert!(server.local_addr().unwrap().ip().is_unspecified());
    server.run_until(std::future::ready(())).await.expect("stops");
}
