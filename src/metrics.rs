//! The server's own metrics, served at `GET /metrics` in the Prometheus text format.
//!
//! Counters and histograms are updated as requests run; gauges that describe current state
//! (pool connections, subscribers, rollup lag) are read when scraped.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// Distinct operation names kept as label values; later ones are counted as `other`.
const MAX_OPERATION_NAMES: usize = 200;

/// What the server is doing now, read when the metrics are scraped.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub connections_in_use: i64,
    pub connections_idle: i64,
    pub subscriptions: i64,
    /// Times any subscriber overflowed its buffer since the server started.
    pub lagged_total: u64,
    /// Seconds since the rollup watermark; None before the first run.
    pub rollup_lag_seconds: Option<f64>,
}

#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    statements: Histogram,
    ingested: IntCounterVec,
    lagged: IntCounter,
    gauges: IntGaugeVec,
    rollup_lag: prometheus::Gauge,
    operations: Mutex<HashSet<String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("runlens".into()), None).expect("valid registry");
        let requests = IntCounterVec::new(
            Opts::new("graphql_requests_total", "GraphQL operations by operation name and outcome (ok, error)"),
            &["operation", "outcome"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new("graphql_request_duration_seconds", "Time to answer a GraphQL operation")
                .buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            &["operation"],
        )
        .expect("valid metric");
        let statements = Histogram::with_opts(
            HistogramOpts::new("graphql_sql_statements", "SQL statements run per GraphQL request")
                .buckets(vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 50.0]),
        )
        .expect("valid metric");
        let ingested = IntCounterVec::new(
            Opts::new("ingested_rows_total", "Rows written by the write path, by table"),
            &["table"],
        )
        .expect("valid metric");
        let lagged = IntCounter::new(
            "subscription_lagged_total",
            "Times a subscriber fell more than its buffer behind and missed commits",
        )
        .expect("valid metric");
        let gauges = IntGaugeVec::new(
            Opts::new("state", "Current state: db_connections_in_use, db_connections_idle, subscriptions"),
            &["what"],
        )
        .expect("valid metric");
        let rollup_lag = prometheus::Gauge::new(
            "rollup_lag_seconds",
            "Seconds since the rollup's watermark (how stale the rollups are); -1 before the first run",
        )
        .expect("valid metric");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(statements.clone()),
            Box::new(ingested.clone()),
            Box::new(lagged.clone()),
            Box::new(gauges.clone()),
            Box::new(rollup_lag.clone()),
        ] {
            registry.register(collector).expect("metrics register once");
        }
        Self {
            inner: Arc::new(Inner {
                registry,
                requests,
                latency,
                statements,
                ingested,
                lagged,
                gauges,
                rollup_lag,
                operations: Mutex::new(HashSet::new()),
            }),
        }
    }

    /// A bounded label for an operation name.
    fn operation(&self, name: Option<&str>) -> String {
        let name = name.filter(|n| !n.is_empty()).unwrap_or("anonymous");
        let Ok(mut known) = self.inner.operations.lock() else { return "other".into() };
        if known.contains(name) {
            return name.to_owned();
        }
        if known.len() < MAX_OPERATION_NAMES {
            known.insert(name.to_owned());
            return name.to_owned();
        }
        "other".into()
    }

    /// Records one answered GraphQL operation.
    pub fn request(&self, operation: Option<&str>, ok: bool, seconds: f64) {
        let operation = self.operation(operation);
        self.inner.requests.with_label_values(&[operation.as_str(), if ok { "ok" } else { "error" }]).inc();
        self.inner.latency.with_label_values(&[operation.as_str()]).observe(seconds);
    }

    /// Records the SQL statements one HTTP request ran.
    pub fn statements(&self, statements: u64) {
        self.inner.statements.observe(statements as f64);
    }

    pub fn ingested(&self, table: &str, rows: u64) {
        if rows > 0 {
            self.inner.ingested.with_label_values(&[table]).inc_by(rows);
        }
    }

    /// The text exposition, with the current state.
    pub fn render(&self, state: &State) -> String {
        let gauges = &self.inner.gauges;
        gauges.with_label_values(&["db_connections_in_use"]).set(state.connections_in_use);
        gauges.with_label_values(&["db_connections_idle"]).set(state.connections_idle);
        gauges.with_label_values(&["subscriptions"]).set(state.subscriptions);
        let lagged = &self.inner.lagged;
        lagged.inc_by(state.lagged_total.saturating_sub(lagged.get()));
        self.inner.rollup_lag.set(state.rollup_lag_seconds.unwrap_or(-1.0));
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.inner.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}
