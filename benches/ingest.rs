//! Ingestion benchmark: rows per second through the `ingest` mutation and through
//! `POST /ingest`, in batches of 100 realistic trees (~34 rows each), on PostgreSQL and SQLite;
//! and the lag from a write to a subscriber receiving it.
//!
//!     cargo bench --bench ingest
//!
//! Environment: `BENCH_PG` (PostgreSQL server URL without database, default
//! `postgres://postgres@127.0.0.1:5432`), `BENCH_BACKENDS` (`postgres,sqlite`), `BENCH_TREES`
//! (trees per path, default 20000), `BENCH_CLIENTS` (concurrent writers, default 4).
//!
//! The server runs in this process on its own runtime threads; the clients are plain HTTP and
//! WebSocket clients over loopback. Throughput counts rows the server reports as inserted.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use runlens::app::Application;
use runlens::config::{DatabaseConfig, ServeConfig};
use runlens::db;
use runlens::seed::{self, SeedPlan};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const TREES_PER_BATCH: usize = 100;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    runlens::telemetry::init(&runlens::config::TelemetryConfig {
        log_filter: std::env::var("RUNLENS_LOG").unwrap_or_else(|_| "warn".into()),
        log_format: runlens::config::LogFormat::Text,
    });
    let pg = std::env::var("BENCH_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "postgres,sqlite".into());
    let trees: usize = std::env::var("BENCH_TREES").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let clients: usize = std::env::var("BENCH_CLIENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(4);

    println!("ingestion: {trees} trees per path, batches of {TREES_PER_BATCH} trees, {clients} concurrent clients");
    println!("{:<12} {:<22} {:>10} {:>12} {:>10}", "backend", "path", "rows", "rows/s", "seconds");
    let mut lags = Vec::new();
    for backend in backends.split(',').map(str::trim).filter(|b| !b.is_empty()) {
        let url = match backend {
            "postgres" => {
                let admin = Database::connect(format!("{pg}/postgres")).await?;
                admin.execute_unprepared("DROP DATABASE IF EXISTS runlens_bench_ingest WITH (FORCE)").await?;
                admin.execute_unprepared("CREATE DATABASE runlens_bench_ingest").await?;
                format!("{pg}/runlens_bench_ingest?sslmode=disable")
            }
            "sqlite" => {
                let path = std::env::temp_dir().join("runlens-bench-ingest.db");
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
                format!("sqlite://{}?mode=rwc", path.display())
            }
            other => anyhow::bail!("unknown backend {other}"),
        };
        let database = db::connect(&DatabaseConfig::for_url(&url)).await?;
        db::migrate(&database).await?;
        let app = Application::with_database(database, ServeConfig::for_bind("127.0.0.1:0".parse()?)).await?;
        let base = format!("http://{}", app.local_addr()?);
        let server = tokio::spawn(app.run_until(std::future::pending()));
        let http = reqwest::Client::new();

        let mut generated = seed::trees(&SeedPlan {
            invocations: (trees * 2) as u32,
            days: 30,
            random_seed: 11,
            now: chrono::Utc::now(),
        })
        .map(|tree| tree.to_input());

        // The `ingest` mutation: batches of 100 trees from `clients` writers.
        let batches: Vec<Vec<Value>> = {
            let all: Vec<Value> = generated.by_ref().take(trees).collect();
            all.chunks(TREES_PER_BATCH).map(<[Value]>::to_vec).collect()
        };
        let started = Instant::now();
        let rows = run_concurrently(clients, batches, |batch| {
            let (http, base) = (http.clone(), base.clone());
            async move { ingest_batch(&http, &base, batch).await }
        })
        .await?;
        report(backend, "ingest mutation", rows, started.elapsed());

        // Replaying a batch must change nothing.
        let replay: Vec<Value> =
            seed::trees(&SeedPlan { invocations: 1, days: 30, random_seed: 11, now: chrono::Utc::now() })
                .map(|t| t.to_input())
                .collect();
        let _ = ingest_batch(&http, &base, replay.clone()).await?;
        assert_eq!(ingest_batch(&http, &base, replay).await?, 0, "a replayed batch inserted rows");

        // `POST /ingest`: the next trees as NDJSON, one request per writer, 100 lines per transaction.
        let lines: Vec<Value> = generated.by_ref().take(trees).collect();
        let per_client = lines.len().div_ceil(clients).max(1);
        let bodies: Vec<String> = lines
            .chunks(per_client)
            .map(|chunk| chunk.iter().map(|tree| format!("{tree}\n")).collect::<String>())
            .collect();
        let started = Instant::now();
        let rows = run_concurrently(clients, bodies, |body| {
            let (http, base) = (http.clone(), base.clone());
            async move { ingest_ndjson(&http, &base, body).await }
        })
        .await?;
        report(backend, "POST /ingest (NDJSON)", rows, started.elapsed());

        lags.push((backend.to_owned(), subscription_lag(&http, &base).await?));
        server.abort();
    }
    println!();
    println!("lag from a write's response to a subscriber receiving it (300 invocations, one at a time)");
    println!("{:<12} {:>12} {:>12} {:>16} {:>16}", "backend", "p50", "p99", "p50 from send", "p99 from send");
    for (backend, (after_response, after_send)) in lags {
        println!(
            "{:<12} {:>12} {:>12} {:>16} {:>16}",
            backend,
            millis(percentile(&after_response, 0.50)),
            millis(percentile(&after_response, 0.99)),
            millis(percentile(&after_send, 0.50)),
            millis(percentile(&after_send, 0.99)),
        );
    }
    Ok(())
}

fn report(backend: &str, path: &str, rows: u64, elapsed: Duration) {
    let seconds = elapsed.as_secs_f64();
    println!("{backend:<12} {path:<22} {rows:>10} {:>12.0} {seconds:>10.2}", rows as f64 / seconds);
}

/// Runs `job` over `items` with at most `clients` at a time; sums what they return.
async fn run_concurrently<T, F, Fut>(clients: usize, items: Vec<T>, job: F) -> anyhow::Result<u64>
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<u64>>,
{
    let mut total = 0;
    let mut results = futures::stream::iter(items.into_iter().map(job)).buffer_unordered(clients);
    while let Some(rows) = results.next().await {
        total += rows?;
    }
    Ok(total)
}

/// Sends one `ingest` mutation; returns the rows inserted.
async fn ingest_batch(http: &reqwest::Client, base: &str, batch: Vec<Value>) -> anyhow::Result<u64> {
    let query = "mutation($batch: [InvocationTreeInput!]!) { ingest(batch: $batch) {
        invocations { inserted } eventExecutions { inserted } jobExecutions { inserted } jobLogs { inserted } } }";
    let body: Value = http
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": query, "variables": { "batch": batch } }))
        .send()
        .await?
        .json()
        .await?;
    anyhow::ensure!(body.get("errors").is_none(), "ingest failed: {body}");
    let counts = &body["data"]["ingest"];
    Ok(["invocations", "eventExecutions", "jobExecutions", "jobLogs"]
        .iter()
        .map(|t| counts[t]["inserted"].as_u64().unwrap_or(0))
        .sum())
}

/// Sends one NDJSON request; returns the rows inserted.
async fn ingest_ndjson(http: &reqwest::Client, base: &str, body: String) -> anyhow::Result<u64> {
    let text = http
        .post(format!("{base}/ingest"))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await?
        .text()
        .await?;
    let summary: Value = text.lines().last().map(serde_json::from_str).transpose()?.unwrap_or_default();
    let summary = &summary["summary"];
    anyhow::ensure!(summary["rejected"] == 0 && summary.get("aborted").is_none(), "NDJSON ingest failed: {summary}");
    Ok(["invocations", "eventExecutions", "jobExecutions", "jobLogs"]
        .iter()
        .map(|t| summary["counts"][t]["inserted"].as_u64().unwrap_or(0))
        .sum())
}

/// Starts invocations one at a time while a WebSocket subscriber waits for them. Returns the
/// lags after the writer's response and after its request was sent.
async fn subscription_lag(http: &reqwest::Client, base: &str) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    let ws_url = format!("{}/graphql/ws", base.replacen("http", "ws", 1));
    let mut request = ws_url.into_client_request()?;
    request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    socket.send(Message::text(json!({ "type": "connection_init" }).to_string())).await?;
    loop {
        let Some(message) = socket.next().await else { anyhow::bail!("socket closed before ack") };
        if let Message::Text(text) = message?
            && serde_json::from_str::<Value>(&text)?["type"] == "connection_ack"
        {
            break;
        }
    }
    socket
        .send(Message::text(
            json!({ "id": "1", "type": "subscribe", "payload": {
                "query": "subscription { invocationUpdated(filter: {kind: [CREATED]}) { invocation { id } } }" } })
            .to_string(),
        ))
        .await?;
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let reader = tokio::spawn(async move {
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Text(text) = message
                && let Ok(value) = serde_json::from_str::<Value>(&text)
                && let Some(id) = value["payload"]["data"]["invocationUpdated"]["invocation"]["id"].as_str()
            {
                let _ = events_tx.send((id.to_owned(), Instant::now()));
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut sent = HashMap::new();
    for i in 0..300 {
        let id = uuid::Uuid::now_v7();
        let query = format!(
            r#"mutation {{ startInvocation(input: {{id: "{id}", sourceFunction: "lag-probe-{}"}}) {{ id }} }}"#,
            i % 3
        );
        let before = Instant::now();
        let body: Value =
            http.post(format!("{base}/graphql")).json(&json!({ "query": query })).send().await?.json().await?;
        anyhow::ensure!(body.get("errors").is_none(), "startInvocation failed: {body}");
        sent.insert(id.to_string(), (before, Instant::now()));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut after_response = Vec::new();
    let mut after_send = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while after_response.len() < sent.len() && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(1), events.recv()).await {
            Ok(Some((id, at))) => {
                if let Some((before, after)) = sent.get(&id) {
                    after_response.push(at.saturating_duration_since(*after));
                    after_send.push(at.duration_since(*before));
                }
            }
            _ => break,
        }
    }
    reader.abort();
    anyhow::ensure!(
        after_response.len() == sent.len(),
        "only {} of {} updates arrived",
        after_response.len(),
        sent.len()
    );
    Ok((after_response, after_send))
}

fn percentile(values: &[Duration], p: f64) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or_default()
}

fn millis(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}
