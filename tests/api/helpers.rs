//! Test harness: a fresh database per test on the backend the environment selects, and the
//! real server on a random port, driven over HTTP.
//!
//! `RUNLENS_TEST_DATABASE_URL` unset (or `sqlite`): each test gets its own SQLite file.
//! `RUNLENS_TEST_DATABASE_URL=postgres://USER@HOST:PORT/DB`: each test creates its own database
//! on that server (named `runlens_test_…`) and drops it afterwards.

use std::net::SocketAddr;
use std::path::PathBuf;

use runlens::app::Application;
use runlens::config::{DatabaseConfig, ServeConfig};
use runlens::db;
use runlens::seed::{self, Tree};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use uuid::Uuid;

pub enum Backend {
    Sqlite,
    Postgres { admin_url: String },
}

pub fn backend() -> Backend {
    match std::env::var("RUNLENS_TEST_DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => Backend::Postgres { admin_url: url },
        _ => Backend::Sqlite,
    }
}

/// A database that exists for one test.
pub struct TestDb {
    pub url: String,
    drop: DropAction,
}

enum DropAction {
    Files(PathBuf),
    Database { admin_url: String, name: String },
}

impl TestDb {
    pub async fn create() -> Self {
        match backend() {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("runlens-test-{}.db", Uuid::new_v4().simple()));
                Self { url: format!("sqlite://{}?mode=rwc", path.display()), drop: DropAction::Files(path) }
            }
            Backend::Postgres { admin_url } => {
                let name = format!("runlens_test_{}", Uuid::new_v4().simple());
                let admin = Database::connect(&admin_url).await.expect("cannot reach the test PostgreSQL server");
                admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create test database");
                admin.close().await.ok();
                Self { url: database_url(&admin_url, &name), drop: DropAction::Database { admin_url, name } }
            }
        }
    }
}

/// `admin_url` with its database name replaced by `name`.
fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = admin_url.split_once('?').map_or((admin_url, None), |(b, q)| (b, Some(q)));
    let base = match base.rfind('/') {
        Some(i) if i > "postgres://".len() => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.drop {
            DropAction::Files(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            DropAction::Database { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // Drop runs outside any runtime we may block on: use a thread with its own.
                let _ = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                    runtime.block_on(async {
                        let admin = Database::connect(&admin_url).await.ok()?;
                        admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.ok()?;
                        admin.close().await.ok()
                    })
                })
                .join();
            }
        }
    }
}

/// Starts the server over `db` on a free loopback port, configured for tests and then by
/// `configure`; it runs until the returned sender fires (or is dropped).
pub async fn serve(
    db: DatabaseConnection,
    configure: impl FnOnce(&mut ServeConfig),
) -> (SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let mut config = ServeConfig::for_bind("127.0.0.1:0".parse().unwrap());
    // Tests run the rollup themselves (`rollup()`), unless they turn the background on.
    config.rollup.rollup_interval_secs = 0;
    config.retention.prune_interval_secs = 0;
    configure(&mut config);
    let app = Application::with_database(db, config).await.expect("build the application");
    let address = app.local_addr().expect("bound address");
    let (shutdown, stopped) = oneshot::channel();
    let server = tokio::spawn(async move {
        app.run_until(async {
            let _ = stopped.await;
        })
        .await
        .expect("server error");
    });
    (address, shutdown, server)
}

/// The server under test, its database and an HTTP client.
pub struct TestApp {
    pub address: SocketAddr,
    pub db: DatabaseConnection,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _database: TestDb,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(configure: impl FnOnce(&mut ServeConfig)) -> Self {
        let database = TestDb::create().await;
        let db_config = DatabaseConfig::for_url(&database.url);
        let db = db::connect(&db_config).await.expect("connect to the test database");
        db::migrate(&db).await.expect("migrate the test database");
        let (address, shutdown, server) = serve(db.clone(), configure).await;
        Self {
            address,
            db,
            client: reqwest::Client::new(),
            shutdown: Some(shutdown),
            server: Some(server),
            _database: database,
        }
    }

    /// Starts the server's shutdown, as SIGTERM would.
    pub fn begin_shutdown(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }

    /// Waits until the server has stopped (after `begin_shutdown`).
    pub async fn stopped(&mut self) {
        if let Some(server) = self.server.take() {
            server.await.expect("the server task ended in a panic");
        }
    }

    /// One incremental rollup run, as the background task would do it.
    pub async fn rollup(&self) -> runlens::analytics::rollup::RunReport {
        let writer = db::WriteLock::for_backend(db::backend(&self.db));
        runlens::analytics::rollup::refresh_once(&self.db, &writer, std::time::Duration::from_secs(120))
            .await
            .expect("rollup run")
    }

    /// The URL of this test's database, for tests that open their own connection to it (as a
    /// restarted server would).
    pub fn database_url(&self) -> &str {
        &self._database.url
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Inserts exact rows (parents first).
    pub async fn insert(&self, trees: Vec<Tree>) {
        seed::insert_fixture(&self.db, trees).await.expect("insert fixture");
    }

    /// POSTs a GraphQL request and returns the HTTP response.
    pub async fn post(&self, body: Value) -> reqwest::Response {
        self.client.post(self.url("/graphql")).json(&body).send().await.expect("request failed")
    }

    /// Runs a query and returns the whole response body.
    pub async fn query(&self, query: &str, variables: Value) -> Value {
        self.post(json!({ "query": query, "variables": variables })).await.json().await.expect("JSON response")
    }

    /// Runs a query that must succeed and returns its `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.query(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// Runs a query that must fail and returns its errors' `extensions.code`s.
    pub async fn error_codes(&self, query: &str, variables: Value) -> Vec<String> {
        let body = self.query(query, variables).await;
        let errors = body["errors"].as_array().unwrap_or_else(|| panic!("expected errors, got {body:#}"));
        errors.iter().map(|e| e["extensions"]["code"].as_str().unwrap_or("<none>").to_owned()).collect()
    }

    /// Number of SQL statements the server reports (Server-Timing) for a query.
    pub async fn statements(&self, query: &str, variables: Value) -> u64 {
        let response = self.post(json!({ "query": query, "variables": variables })).await;
        let timing =
            response.headers().get("server-timing").expect("Server-Timing header").to_str().unwrap().to_owned();
        let body: Value = response.json().await.unwrap();
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        let desc = timing.split("desc=\"").nth(1).expect("desc");
        desc.split(' ').next().unwrap().parse().expect("statement count")
    }
}

/// Stored rows per table, counted with `SELECT COUNT(*)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RowCount {
    pub invocations: i64,
    pub event_executions: i64,
    pub job_executions: i64,
    pub job_logs: i64,
}

impl TestApp {
    /// Runs a request that must fail and returns its `errors` (with `data` checked to be null).
    pub async fn errors(&self, query: &str, variables: Value) -> Vec<Value> {
        let body = self.query(query, variables).await;
        assert!(body["data"].is_null(), "expected no data, got {body:#}");
        body["errors"].as_array().unwrap_or_else(|| panic!("expected errors, got {body:#}")).clone()
    }

    /// Runs a request that must fail with exactly one error, and returns that error's
    /// `message` and `extensions` (its `locations` and `path` left out).
    pub async fn rejection(&self, query: &str, variables: Value) -> Value {
        let errors = self.errors(query, variables).await;
        assert_eq!(errors.len(), 1, "expected one error, got {errors:#?}");
        json!({ "message": errors[0]["message"], "extensions": errors[0]["extensions"] })
    }

    /// Counts the stored rows of each table, straight from the database.
    pub async fn row_count(&self) -> RowCount {
        let backend = self.db.get_database_backend();
        let mut counts = [0i64; 4];
        for (count, table) in counts.iter_mut().zip(["invocations", "event_executions", "job_executions", "job_logs"]) {
            let row = self
                .db
                .query_one_raw(Statement::from_string(backend, format!("SELECT COUNT(*) AS n FROM {table}")))
                .await
                .expect("count rows")
                .expect("a count");
            *count = row.try_get::<i64>("", "n").expect("COUNT(*) as a 64-bit integer");
        }
        let [invocations, event_executions, job_executions, job_logs] = counts;
        RowCount { invocations, event_executions, job_executions, job_logs }
    }

    /// Asserts that the counters stored on an invocation and on each of its event executions
    /// equal what their children say, and returns the invocation's counters as
    /// `[eventsDetectedCount, totalJobsRun, totalJobsSucceeded, totalJobsFailed]`.
    pub async fn assert_counters_match_children(&self, invocation_id: &str) -> [i64; 4] {
        let data = self
            .data(
                "query($id: UUID!) { invocation(id: $id) {
                   eventsDetectedCount totalJobsRun totalJobsSucceeded totalJobsFailed
                   jobExecutions { status }
                   eventExecutions { id detected jobsCount jobsSucceeded jobsFailed jobExecutions { status } } } }",
                json!({ "id": invocation_id }),
            )
            .await;
        let invocation = &data["invocation"];
        let tally = |jobs: &Value| {
            let jobs = jobs.as_array().expect("jobExecutions");
            let with = |status: &str| jobs.iter().filter(|j| j["status"] == status).count() as i64;
            [jobs.len() as i64, with("COMPLETED"), with("FAILED")]
        };
        let events = invocation["eventExecutions"].as_array().expect("eventExecutions");
        for event in events {
            let stored =
                [&event["jobsCount"], &event["jobsSucceeded"], &event["jobsFailed"]].map(|v| v.as_i64().unwrap());
            assert_eq!(stored, tally(&event["jobExecutions"]), "counters of event execution {}", event["id"]);
        }
        let detected = events.iter().filter(|e| e["detected"] == true).count() as i64;
        let [run, succeeded, failed] = tally(&invocation["jobExecutions"]);
        let stored = ["eventsDetectedCount", "totalJobsRun", "totalJobsSucceeded", "totalJobsFailed"]
            .map(|field| invocation[field].as_i64().unwrap());
        assert_eq!(stored, [detected, run, succeeded, failed], "counters of invocation {invocation_id}");
        stored
    }

    /// POSTs a body to `/ingest` with the given `Content-Type` and returns the HTTP response.
    pub async fn post_ingest(&self, content_type: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client
            .post(self.url("/ingest"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request failed")
    }

    /// POSTs an NDJSON body to `/ingest`, checks the answer is a 200 NDJSON stream, and returns
    /// its lines parsed (one per non-blank input line, then the summary).
    pub async fn ingest_ndjson(&self, body: impl Into<reqwest::Body>) -> Vec<Value> {
        let response = self.post_ingest("application/x-ndjson", body).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/x-ndjson");
        let text = response.text().await.expect("response body");
        assert!(text.ends_with('\n'), "every response line ends with a newline: {text:?}");
        text.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"))).collect()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// A GraphQL subscription over WebSocket (`graphql-transport-ws`).
pub struct Subscription {
    socket: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
}

impl TestApp {
    /// Opens a WebSocket at `path`, acknowledges the connection and starts `query`.
    pub async fn subscribe_at(&self, path: &str, query: &str, variables: Value) -> Subscription {
        use futures::SinkExt;
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{}{path}", self.address).into_client_request().unwrap();
        request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
        let (socket, _) = tokio_tungstenite::connect_async(request).await.expect("WebSocket connection");
        let mut subscription = Subscription { socket };
        subscription.send(json!({ "type": "connection_init" })).await;
        let ack = subscription.message().await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        subscription
            .send(json!({ "id": "1", "type": "subscribe", "payload": { "query": query, "variables": variables } }))
            .await;
        // The protocol does not acknowledge a subscribe; give the server a moment to start it.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let _ = SinkExt::<tokio_tungstenite::tungstenite::Message>::flush(&mut subscription.socket).await;
        subscription
    }

    pub async fn subscribe(&self, query: &str, variables: Value) -> Subscription {
        self.subscribe_at("/graphql/ws", query, variables).await
    }
}

impl Subscription {
    async fn send(&mut self, message: Value) {
        use futures::SinkExt;
        self.socket
            .send(tokio_tungstenite::tungstenite::Message::text(message.to_string()))
            .await
            .expect("WebSocket send");
    }

    /// The next protocol message (pings answered), or a panic after ten seconds.
    pub async fn message(&mut self) -> Value {
        use futures::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        loop {
            let next = tokio::time::timeout(std::time::Duration::from_secs(10), self.socket.next())
                .await
                .expect("no message within 10 s")
                .expect("WebSocket closed")
                .expect("WebSocket error");
            match next {
                Message::Text(text) => {
                    let message: Value = serde_json::from_str(&text).expect("JSON message");
                    if message["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return message;
                }
                Message::Close(frame) => panic!("WebSocket closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// The payload of the next `next` message: `{ "data": … }` or `{ "errors": … }`.
    pub async fn next(&mut self) -> Value {
        let message = self.message().await;
        assert_eq!(message["type"], "next", "expected a result, got {message}");
        message["payload"].clone()
    }

    /// The next `next` payload's data, which must have no errors.
    pub async fn next_data(&mut self) -> Value {
        let payload = self.next().await;
        assert!(payload.get("errors").is_none(), "unexpected errors: {payload}");
        payload["data"].clone()
    }

    /// Waits for the server to close the socket and returns the close frame's code and reason.
    pub async fn close_frame(&mut self) -> Option<(u16, String)> {
        use futures::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        loop {
            let next = tokio::time::timeout(std::time::Duration::from_secs(10), self.socket.next())
                .await
                .expect("no close frame within 10 s");
            match next {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| (u16::from(f.code), f.reason.to_string())),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// Whether a message arrives within `millis` (for asserting that nothing is sent).
    pub async fn receives_within(&mut self, millis: u64) -> bool {
        use futures::StreamExt;
        tokio::time::timeout(std::time::Duration::from_millis(millis), self.socket.next()).await.is_ok()
    }
}
