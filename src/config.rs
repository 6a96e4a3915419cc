//! Command line and environment configuration: every setting is a flag with a `RUNLENS_…`
//! environment variable (the database URL also honours the conventional `DATABASE_URL`).

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// GraphQL observability API over an event detector's execution history.
#[derive(Debug, Parser)]
#[command(name = "runlens", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub database: DatabaseConfig,

    #[command(flatten)]
    pub telemetry: TelemetryConfig,

    /// Threads that run requests and background work; 0 means one per CPU core.
    #[arg(long, env = "RUNLENS_WORKER_THREADS", default_value_t = 0, global = true)]
    pub worker_threads: usize,

    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the GraphQL API (the default).
    Serve(ServeConfig),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL) and exit.
    Schema,
    /// Insert realistic demo data.
    Seed(SeedConfig),
    /// Refresh the rollups once, or rebuild them for a range of time.
    Rollup(RollupCommand),
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseConfig {
    /// Database URL: `sqlite://FILE?mode=rwc` (embedded, the default) or `postgres://USER@HOST/DB`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://runlens.db?mode=rwc", global = true)]
    pub database_url: String,

    /// Most connections the pool opens.
    #[arg(long, env = "RUNLENS_DB_MAX_CONNECTIONS", default_value_t = 16, global = true)]
    pub db_max_connections: u32,

    /// How long a query waits for a free pooled connection before failing, in milliseconds.
    #[arg(long, env = "RUNLENS_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 5_000, global = true)]
    pub db_acquire_timeout_ms: u64,
}

impl DatabaseConfig {
    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.db_acquire_timeout_ms)
    }

    /// A config for `url` with the default pool settings (used by tests and tools).
    pub fn for_url(url: impl Into<String>) -> Self {
        Self { database_url: url.into(), db_max_connections: 16, db_acquire_timeout_ms: 5_000 }
    }
}

#[derive(Debug, Clone, Args)]
pub struct TelemetryConfig {
    /// Log filter in `tracing` syntax, e.g. `info` or `runlens=debug,sqlx=warn`.
    #[arg(long = "log", env = "RUNLENS_LOG", default_value = "info,sqlx=warn,sea_orm=warn", global = true)]
    pub log_filter: String,

    /// Log line format.
    #[arg(long, env = "RUNLENS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "RUNLENS_BIND", default_value = "127.0.0.1:8000")]
    pub bind: SocketAddr,

    #[command(flatten)]
    pub api: ApiConfig,

    #[command(flatten)]
    pub ingest: IngestConfig,

    #[command(flatten)]
    pub rollup: RollupConfig,

    /// Commits a subscriber may fall behind before it misses the oldest ones.
    #[arg(long, env = "RUNLENS_SUBSCRIPTION_BUFFER", default_value_t = 1024)]
    pub subscription_buffer: usize,

    /// Insert this many demo invocations at start when the database holds none (0: never).
    #[arg(long, env = "RUNLENS_DEMO_INVOCATIONS", default_value_t = 0)]
    pub demo_invocations: u32,
}

/// `serve`'s settings on their own, for when no subcommand is given.
#[derive(Debug, Parser)]
struct ServeOnly {
    #[command(flatten)]
    serve: ServeConfig,
}

impl ServeConfig {
    /// The settings from the environment and defaults alone.
    pub fn from_env() -> Self {
        ServeOnly::parse_from(["runlens"]).serve
    }

    /// Settings for `addr` with every default (used by tests).
    pub fn for_bind(bind: SocketAddr) -> Self {
        Self {
            bind,
            api: ApiConfig::default(),
            ingest: IngestConfig::default(),
            rollup: RollupConfig::default(),
            subscription_buffer: 1024,
            demo_invocations: 0,
        }
    }
}

/// Limits the GraphQL API applies to every request.
#[derive(Debug, Clone, Args)]
pub struct ApiConfig {
    /// Page size of a connection when neither `first` nor `last` is given.
    #[arg(long, env = "RUNLENS_DEFAULT_PAGE_SIZE", default_value_t = 20)]
    pub default_page_size: u32,

    /// Largest `first`/`last` a connection accepts.
    #[arg(long, env = "RUNLENS_MAX_PAGE_SIZE", default_value_t = 100)]
    pub max_page_size: u32,

    /// Largest `limit` of a nested list (and its default), per parent.
    #[arg(long, env = "RUNLENS_MAX_LIST_SIZE", default_value_t = 1_000)]
    pub max_list_size: u32,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self { default_page_size: 20, max_page_size: 100, max_list_size: 1_000 }
    }
}

/// The background rollup and the analytics read from it.
#[derive(Debug, Clone, Args)]
pub struct RollupConfig {
    /// Seconds between rollup runs; 0 turns the background rollup off on this server.
    #[arg(long, env = "RUNLENS_ROLLUP_INTERVAL_SECS", default_value_t = 60)]
    pub rollup_interval_secs: u64,

    /// Seconds before the last run's watermark that a run looks at again, for writes that were
    /// still being committed when the last run read.
    #[arg(long, env = "RUNLENS_ROLLUP_OVERLAP_SECS", default_value_t = 120)]
    pub rollup_overlap_secs: u64,

    /// Longest analytics window a query may ask for, in days.
    #[arg(long, env = "RUNLENS_MAX_WINDOW_DAYS", default_value_t = 400)]
    pub max_window_days: u32,
}

impl Default for RollupConfig {
    fn default() -> Self {
        Self { rollup_interval_secs: 60, rollup_overlap_secs: 120, max_window_days: 400 }
    }
}

impl RollupConfig {
    pub fn overlap(&self) -> Duration {
        Duration::from_secs(self.rollup_overlap_secs)
    }
}

/// `runlens rollup`: one incremental run, or a rebuild of `[from, to)`.
#[derive(Debug, Clone, Args)]
pub struct RollupCommand {
    /// Rebuild the rollups of the hours from this instant (RFC 3339)…
    #[arg(long, requires = "to")]
    pub from: Option<chrono::DateTime<chrono::Utc>>,

    /// …up to this one.
    #[arg(long, requires = "from")]
    pub to: Option<chrono::DateTime<chrono::Utc>>,

    #[command(flatten)]
    pub rollup: RollupConfig,
}

/// Limits of the write path.
#[derive(Debug, Clone, Args)]
pub struct IngestConfig {
    /// Largest JSON document (payload, options, result, log data) or text (message, stack
    /// trace, error) a write may carry, in bytes.
    #[arg(long, env = "RUNLENS_MAX_FIELD_BYTES", default_value_t = 256 * 1024)]
    pub max_field_bytes: usize,

    /// Largest GraphQL request body, and longest NDJSON line, in bytes.
    #[arg(long, env = "RUNLENS_MAX_REQUEST_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_request_bytes: usize,

    /// Most trees one `ingest` mutation may carry.
    #[arg(long, env = "RUNLENS_MAX_BATCH_TREES", default_value_t = 1_000)]
    pub max_batch_trees: usize,

    /// NDJSON lines written per transaction by `POST /ingest`.
    #[arg(long, env = "RUNLENS_INGEST_CHUNK_LINES", default_value_t = 100)]
    pub ingest_chunk_lines: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            max_field_bytes: 256 * 1024,
            max_request_bytes: 16 * 1024 * 1024,
            max_batch_trees: 1_000,
            ingest_chunk_lines: 100,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct SeedConfig {
    /// Number of invocations to generate (each with its events, jobs and logs: ~34 rows).
    #[arg(long, env = "RUNLENS_SEED_INVOCATIONS", default_value_t = 1_000)]
    pub invocations: u32,

    /// Spread the invocations over this many days before now.
    #[arg(long, env = "RUNLENS_SEED_DAYS", default_value_t = 30)]
    pub days: u32,

    /// Random seed, for reproducible data; random when omitted.
    #[arg(long, env = "RUNLENS_SEED_RANDOM_SEED")]
    pub random_seed: Option<u64>,
}
