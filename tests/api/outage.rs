//! A database outage on PostgreSQL: the server runs through a TCP proxy that can cut every
//! connection to the database and refuse new ones. While it is down `/readyz` fails, GraphQL
//! requests answer promptly with `SERVICE_UNAVAILABLE` (and nothing from the driver), and the
//! process keeps serving; once it is back the server recovers without being restarted.

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use runlens::config::DatabaseConfig;
use runlens::db;
use runlens::seed::{self, Tree};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::fixtures::{at, invocation};
use crate::helpers::{Backend, TestDb, backend, serve};

const LIST: &str = "{ invocations(first: 5) { totalCount nodes { id } } }";

const START_INVOCATION: &str =
    "mutation($input: StartInvocationInput!) { startInvocation(input: $input) { id status } }";

/// How long any one request may take to answer, database up or down.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// Forwards TCP connections to `upstream` while up; going down closes every forwarded
/// connection, and while down new connections are accepted and closed at once.
struct Proxy {
    address: SocketAddr,
    up: watch::Sender<bool>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let address = listener.local_addr().expect("proxy address");
        let (up, state) = watch::channel(true);
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else { continue };
                if !*state.borrow() {
                    continue; // dropped: the client sees its connection closed
                }
                let mut state = state.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = state.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Self { address, up, accept }
    }

    fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.set_up(false);
        self.accept.abort();
    }
}

/// The address `url`'s host and port name.
async fn upstream(url: &str) -> SocketAddr {
    let parsed = reqwest::Url::parse(url).expect("database URL");
    let host = parsed.host_str().expect("database host");
    tokio::net::lookup_host((host, parsed.port().unwrap_or(5432)))
        .await
        .expect("resolve the database host")
        .next()
        .expect("an address for the database host")
}

/// `url` with its host and port replaced by `address`.
fn through(url: &str, address: SocketAddr) -> String {
    let mut parsed = reqwest::Url::parse(url).expect("database URL");
    parsed.set_host(Some(&address.ip().to_string())).expect("set host");
    parsed.set_port(Some(address.port())).expect("set port");
    parsed.to_string()
}

/// The server, started over a given database (through the proxy) by `helpers::serve`.
struct Server {
    address: SocketAddr,
    client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Server {
    async fn spawn(db: sea_orm::DatabaseConnection) -> Self {
        let (address, shutdown, task) = serve(db, |_| {}).await;
        Self { address, client: reqwest::Client::new(), shutdown: Some(shutdown), task }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// GETs `path` and returns its status, failing the test unless it answers in time.
    async fn status(&self, path: &str) -> u16 {
        let response = answer(path, self.client.get(self.url(path)).send()).await;
        response.expect("request failed").status().as_u16()
    }

    /// POSTs a GraphQL request and returns the whole response body, failing the test unless it
    /// answers in time.
    async fn graphql(&self, query: &str, variables: Value) -> Value {
        let request = async {
            let response = self
                .client
                .post(self.url("/graphql"))
                .json(&json!({ "query": query, "variables": variables }))
                .send()
                .await?;
            response.json::<Value>().await
        };
        answer(query, request).await.expect("a JSON response")
    }

    async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.graphql(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// Asserts that `body` reports the database as unavailable, and nothing more about why.
    fn assert_unavailable(body: &Value) {
        let errors = body["errors"].as_array().unwrap_or_else(|| panic!("expected errors, got {body:#}"));
        assert!(!errors.is_empty(), "expected errors, got {body:#}");
        for error in errors {
            assert_eq!(error["extensions"]["code"], "SERVICE_UNAVAILABLE", "{body:#}");
            let message = error["message"].as_str().expect("an error message").to_lowercase();
            assert!(message.contains("unavailable"), "{body:#}");
            for leak in ["sqlx", "connection refused", "127.0.0.1", "pool", "postgres", "select", "io error"] {
                assert!(!message.contains(leak), "the message leaks {leak:?}: {body:#}");
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        self.task.abort();
    }
}

/// `request`'s result, or a test failure if it takes longer than `ANSWER_WITHIN`.
async fn answer<T>(what: &str, request: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let result = tokio::time::timeout(ANSWER_WITHIN, request)
        .await
        .unwrap_or_else(|_| panic!("no answer within {ANSWER_WITHIN:?}: {what}"));
    eprintln!("  {:>6} ms  {}", started.elapsed().as_millis(), what.split_whitespace().collect::<Vec<_>>().join(" "));
    result
}

/// Polls `/readyz` until it answers `want`, for at most `within`.
async fn readyz_becomes(server: &Server, want: u16, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let status = server.status("/readyz").await;
        if status == want {
            return;
        }
        assert!(Instant::now() < deadline, "/readyz still answers {status}, not {want}, after {within:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn ids(data: &Value) -> Vec<String> {
    let mut ids: Vec<String> = data["invocations"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| node["id"].as_str().expect("id").to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_rides_out_a_database_outage() {
    if let Backend::Sqlite = backend() {
        eprintln!("skipped: the outage test needs PostgreSQL (SQLite is embedded and cannot go away)");
        return;
    }
    let database = TestDb::create().await;
    let direct = db::connect(&DatabaseConfig::for_url(&database.url)).await.expect("connect directly");
    db::migrate(&direct).await.expect("migrate the test database");
    let seeded = invocation(at(0));
    seed::insert_fixture(&direct, vec![Tree { invocation: Some(seeded.clone()), ..Tree::default() }])
        .await
        .expect("insert fixture");
    direct.close().await.ok();

    let proxy = Proxy::start(upstream(&database.url).await).await;
    let database_url = through(&database.url, proxy.address);
    let db = db::connect(&DatabaseConfig { database_url, db_max_connections: 4, db_acquire_timeout_ms: 1_000 })
        .await
        .expect("connect through the proxy");
    let server = Server::spawn(db).await;

    // Up: ready, and both reads and writes work.
    eprintln!("database up");
    assert_eq!(server.status("/readyz").await, 200);
    let written = "01950000-0000-7000-8000-00000000b001";
    let started = server
        .data(START_INVOCATION, json!({ "input": { "id": written, "sourceFunction": "before-the-outage" } }))
        .await;
    assert_eq!(started["startInvocation"]["id"], written);
    let before = server.data(LIST, json!({})).await;
    assert_eq!(before["invocations"]["totalCount"], 2);
    let mut expected = vec![seeded.id.to_string(), written.to_owned()];
    expected.sort();
    assert_eq!(ids(&before), expected);

    // Down: every connection cut, new ones refused.
    eprintln!("database down");
    proxy.set_up(false);
    readyz_becomes(&server, 503, Duration::from_secs(5)).await;
    for _ in 0..3 {
        let body = server.graphql(LIST, json!({})).await;
        eprintln!("{body}");
        Server::assert_unavailable(&body);
    }
    let refused = "01950000-0000-7000-8000-00000000b002";
    let body = server
        .graphql(START_INVOCATION, json!({ "input": { "id": refused, "sourceFunction": "during-the-outage" } }))
        .await;
    eprintln!("{body}");
    Server::assert_unavailable(&body);
    // The process keeps serving what needs no database.
    assert_eq!(server.status("/healthz").await, 200);
    assert_eq!(server.status("/readyz").await, 503);

    // Up again: ready by itself, and every request works again (more of them than the pool
    // holds connections, so none is handed a connection left over from the outage).
    eprintln!("database back");
    proxy.set_up(true);
    readyz_becomes(&server, 200, Duration::from_secs(20)).await;
    for _ in 0..6 {
        let after = server.data(LIST, json!({})).await;
        assert_eq!(after["invocations"]["totalCount"], 2);
        assert_eq!(ids(&after), expected);
    }
    let recovered = "01950000-0000-7000-8000-00000000b003";
    let started = server
        .data(START_INVOCATION, json!({ "input": { "id": recovered, "sourceFunction": "after-the-outage" } }))
        .await;
    assert_eq!(started["startInvocation"]["id"], recovered);
    let after = server.data(LIST, json!({})).await;
    assert_eq!(after["invocations"]["totalCount"], 3, "the write refused during the outage stays unwritten");
    assert_eq!(server.status("/healthz").await, 200);

    drop(server);
    drop(proxy);
}
