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

    /// Threads of the main runtime, which runs commands and, under `serve`, accepts connections
    /// and runs background work; 0 means one per CPU core.
    #[arg(long, env = "RUNLENS_WORKER_THREADS", default_value_t = 0, global = true)]
    pub worker_threads: usize,

    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

// `Serve` is much larger than the others; a `Command` is parsed once, at start.
#[allow(clippy::large_enum_variant)]
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
    /// Delete execution history and rollups older than their retention period, once.
    Prune(RetentionConfig),
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

    #[command(flatten)]
    pub retention: RetentionConfig,

    #[command(flatten)]
    pub access: AccessConfig,

    #[command(flatten)]
    pub limits: LimitsConfig,

    /// Origins (`https://dash.example.com`, or `*`) whose browser pages may call the API;
    /// none by default.
    #[arg(long = "cors-origin", env = "RUNLENS_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Threads that serve HTTP connections, each with a runtime of its own and, on PostgreSQL,
    /// a pool of its own (`--db-max-connections` shared between them); 0 means one per CPU core.
    #[arg(long, env = "RUNLENS_REQUEST_THREADS", default_value_t = 0)]
    pub request_threads: usize,

    /// Seconds in-flight requests get to finish after SIGTERM or ctrl-c before the server
    /// stops anyway.
    #[arg(long, env = "RUNLENS_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,

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
            retention: RetentionConfig::default(),
            access: AccessConfig::default(),
            limits: LimitsConfig::default(),
            cors_origins: Vec::new(),
            request_threads: 0,
            shutdown_grace_secs: 30,
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

/// API keys (see `crate::auth`).
#[derive(Debug, Clone, Default, Args)]
pub struct AccessConfig {
    /// An API key as `ROLE:KEY`, ROLE being `read`, `ingest` or `admin`; repeatable. With no
    /// key configured the server is open and serves only on a loopback address.
    #[arg(long = "api-key", env = "RUNLENS_API_KEYS", value_delimiter = ',', hide_env_values = true)]
    pub api_keys: Vec<String>,

    /// A file of API keys, one `ROLE KEY` or `ROLE sha256:HEX` per line (`#` comments).
    #[arg(long, env = "RUNLENS_API_KEYS_FILE")]
    pub api_keys_file: Option<std::path::PathBuf>,
}

/// Limits every GraphQL operation is checked against before any SQL runs.
#[derive(Debug, Clone, Args)]
pub struct LimitsConfig {
    /// Deepest nesting of selections an operation may have.
    #[arg(long, env = "RUNLENS_MAX_DEPTH", default_value_t = 12)]
    pub max_depth: usize,

    /// Highest cost an operation may have: every field costs 1, and a list or connection costs
    /// its page size (`first`, `last`, `limit`) times what it selects.
    #[arg(long, env = "RUNLENS_MAX_COMPLEXITY", default_value_t = 250_000)]
    pub max_complexity: usize,

    /// Most aliased fields an operation may have, fragments expanded.
    #[arg(long, env = "RUNLENS_MAX_ALIASES", default_value_t = 30)]
    pub max_aliases: usize,

    /// Most fields an operation may select at its root, fragments expanded.
    #[arg(long, env = "RUNLENS_MAX_ROOT_FIELDS", default_value_t = 20)]
    pub max_root_fields: usize,

    /// Most field selections an operation may have once its fragments are expanded (stops
    /// fragment bombs before they are validated).
    #[arg(long, env = "RUNLENS_MAX_SELECTIONS", default_value_t = 2_000)]
    pub max_selections: usize,

    /// Longest GraphQL document (the query text, not its variables), in bytes.
    #[arg(long, env = "RUNLENS_MAX_QUERY_BYTES", default_value_t = 128 * 1024)]
    pub max_query_bytes: usize,

    /// Most operations one batched request may carry.
    #[arg(long, env = "RUNLENS_MAX_BATCH", default_value_t = 10)]
    pub max_batch: usize,

    /// Longest a request may run before it is cancelled, in milliseconds.
    #[arg(long, env = "RUNLENS_REQUEST_TIMEOUT_MS", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_ms: u64,

    /// Whether the schema answers introspection (`__schema`, `__type`); code generators and
    /// GraphiQL need it.
    #[arg(long, env = "RUNLENS_INTROSPECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub introspection: bool,

    /// Automatic persisted queries remembered (by SHA-256) per server.
    #[arg(long, env = "RUNLENS_PERSISTED_QUERIES", default_value_t = 1_000)]
    pub persisted_queries: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_depth: 12,
            max_complexity: 250_000,
            max_aliases: 30,
            max_root_fields: 20,
            max_selections: 2_000,
            max_query_bytes: 128 * 1024,
            max_batch: 10,
            request_timeout_ms: 30_000,
            introspection: true,
            persisted_queries: 1_000,
        }
    }
}

impl LimitsConfig {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}

/// How long data is kept.
#[derive(Debug, Clone, Args)]
pub struct RetentionConfig {
    /// Days execution history (whole invocation trees, by the invocation's start) is kept;
    /// 0 keeps it forever.
    #[arg(long, env = "RUNLENS_RETENTION_DAYS", default_value_t = 90)]
    pub retention_days: u32,

    /// Days rollups (hourly and daily metrics) are kept; 0 keeps them forever.
    #[arg(long, env = "RUNLENS_ROLLUP_RETENTION_DAYS", default_value_t = 400)]
    pub rollup_retention_days: u32,

    /// Invocation trees deleted per transaction, so that no statement holds locks for long.
    #[arg(long, env = "RUNLENS_PRUNE_BATCH", default_value_t = 500)]
    pub prune_batch: u32,

    /// Seconds between background prune runs; 0 turns background pruning off on this server.
    #[arg(long, env = "RUNLENS_PRUNE_INTERVAL_SECS", default_value_t = 3_600)]
    pub prune_interval_secs: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self { retention_days: 90, rollup_retention_days: 400, prune_batch: 500, prune_interval_secs: 3_600 }
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
