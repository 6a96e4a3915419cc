//! Database access: connecting, migrating, and the queries the API runs.
//!
//! Everything here takes `&impl ConnectionTrait` and speaks SeaORM models and conditions; no
//! GraphQL types. Both SQLite and PostgreSQL are served by the same code unless a function says
//! otherwise.

pub mod page;
pub mod related;
pub mod request;
pub mod rows;
pub mod stats;
pub mod write;

use std::cell::RefCell;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use entity::{event_executions, invocations, job_executions, job_logs};
use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::extension::postgres::PgFunc;
use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};
use sea_orm::sqlx::PgPool;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ColumnTrait, ColumnType, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, IdenStatic, Iterable, QuerySelect, Select, SqlxPostgresConnector,
};
use uuid::Uuid;

use crate::config::DatabaseConfig;

/// Opens a pool for `config.database_url`.
///
/// SQLite runs in WAL mode so readers never wait for the writer, with a busy timeout so
/// concurrent writers queue instead of failing.
pub async fn connect(config: &DatabaseConfig) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(config.database_url.clone());
    options
        .max_connections(config.db_max_connections)
        .min_connections(1)
        .acquire_timeout(config.acquire_timeout())
        .connect_timeout(config.acquire_timeout())
        // Pinging on every checkout would add a round trip to each statement; ping only
        // connections idle long enough to have been dropped by the server or a proxy.
        .test_before_acquire_if_idle_for(Duration::from_secs(30))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .create_if_missing(true)
        });
    let mut db = Database::connect(options).await?;
    stats::install(&mut db);
    Ok(db)
}

thread_local! {
    /// The database of the request thread this is, if it is one (see [`on_this_thread`]).
    static THREAD_DB: RefCell<Option<DatabaseConnection>> = const { RefCell::new(None) };
}

/// The database to use for work on this thread: a request thread's own pool, else `shared`.
///
/// A pooled connection does its I/O through the runtime it was opened on. A request thread
/// (see `crate::serving`) runs a runtime of its own, so it opens and uses connections of its
/// own: its requests' statements are answered on the thread that sent them, and the shared
/// pool only holds connections of the main runtime, which outlives the request threads.
pub fn on_this_thread(shared: &DatabaseConnection) -> DatabaseConnection {
    THREAD_DB.with(|db| db.borrow().clone()).unwrap_or_else(|| shared.clone())
}

/// Gives this thread a pool of its own: `shared`'s settings with a `threads`-th of its
/// connections, none opened before a request needs one; registered in `pools` at `index`.
/// PostgreSQL only: SQLite's connections run on threads of their own whatever the runtime.
/// Call it on the runtime the thread runs, which the pool's upkeep runs on.
pub fn use_own_pool_on_this_thread(shared: &DatabaseConnection, pools: &ThreadPools, index: usize, threads: usize) {
    if backend(shared) != DbBackend::Postgres {
        return;
    }
    let pool = shared.get_postgres_connection_pool();
    let share = pool.options().get_max_connections().div_ceil(threads.clamp(1, u32::MAX as usize) as u32);
    let own = pool.options().clone().max_connections(Ord::max(share, 1)).min_connections(0);
    let own = own.connect_lazy_with((*pool.connect_options()).clone());
    pools.set(index, Some(own.clone()));
    let mut db = SqlxPostgresConnector::from_sqlx_postgres_pool(own);
    stats::install(&mut db);
    THREAD_DB.with(|slot| *slot.borrow_mut() = Some(db));
}

/// The pools of an application's request threads, by thread, for the pool gauges.
#[derive(Clone, Default)]
pub struct ThreadPools(Arc<Mutex<Vec<Option<PgPool>>>>);

impl ThreadPools {
    pub fn set(&self, index: usize, pool: Option<PgPool>) {
        let mut pools = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if pools.len() <= index {
            pools.resize(index + 1, None);
        }
        pools[index] = pool;
    }

    /// Connections open and idle in `shared` and in the request threads' pools together.
    pub fn connections(&self, shared: &DatabaseConnection) -> (u32, usize) {
        let (mut open, mut idle) = match backend(shared) {
            DbBackend::Postgres => {
                let pool = shared.get_postgres_connection_pool();
                (pool.size(), pool.num_idle())
            }
            _ => {
                let pool = shared.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle())
            }
        };
        for pool in self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).iter().flatten() {
            open += pool.size();
            idle += pool.num_idle();
        }
        (open, idle)
    }
}

/// The in-process lock SQLite writers take before their transaction begins.
///
/// SQLite allows one writer at a time, and a transaction that read before writing fails at
/// once (rather than waiting) when another writer holds the lock. Writers of one process queue
/// here instead. On PostgreSQL this is a no-op: row locks order its writers.
#[derive(Clone, Default)]
pub struct WriteLock(Option<std::sync::Arc<tokio::sync::Mutex<()>>>);

impl WriteLock {
    pub fn for_backend(backend: DbBackend) -> Self {
        WriteLock((backend == DbBackend::Sqlite).then(Default::default))
    }

    pub async fn acquire(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.0 {
            Some(lock) => Some(lock.lock().await),
            None => None,
        }
    }
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Whether the database answers a trivial query.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
}

/// On PostgreSQL, takes the transaction-scoped advisory lock `key` unless another process holds
/// it (false then), so that one server of several does a piece of background work at a time.
/// On SQLite there is one writer at a time anyway: always true.
pub async fn try_xact_lock(txn: &impl ConnectionTrait, key: i64) -> Result<bool, DbErr> {
    if txn.get_database_backend() != DbBackend::Postgres {
        return Ok(true);
    }
    let row = txn
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_try_advisory_xact_lock($1)",
            [key.into()],
        ))
        .await?;
    Ok(row.map(|r| r.try_get_by_index::<bool>(0)).transpose()?.unwrap_or(false))
}

/// `column IN (ids)`. On PostgreSQL it is `column = ANY($1)` with one array parameter, so the
/// statement text is the same for any number of ids and stays in each connection's
/// prepared-statement cache instead of being parsed and planned anew per list length.
pub fn id_in(backend: DbBackend, column: impl ColumnTrait, ids: &[Uuid]) -> SimpleExpr {
    match backend {
        DbBackend::Postgres => Expr::col((column.entity_name(), column)).eq(PgFunc::any(Expr::val(ids.to_vec()))),
        _ => column.is_in(ids.iter().copied()),
    }
}

/// `t` truncated to the microsecond, the precision both backends keep, so what is read back
/// equals what was written.
pub fn micros(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    use chrono::DurationRound;
    t.duration_trunc(chrono::TimeDelta::microseconds(1)).unwrap_or(t)
}

/// The current time, to the microsecond.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    micros(chrono::Utc::now())
}

/// Which SQL dialect a connection speaks.
pub fn backend(db: &impl ConnectionTrait) -> DbBackend {
    db.get_database_backend()
}

/// Tables whose rows are identified by a UUID `id` and ordered in time by `created_at`.
pub trait Keyed: EntityTrait<Model: rows::Decoded> {
    fn id_column() -> Self::Column;
    fn created_at_column() -> Self::Column;
    fn id_of(model: &Self::Model) -> Uuid;
    /// Nullable columns that can be large (JSON documents, stack traces): worth leaving out of a
    /// query when nobody asked for them. At most eight.
    fn large_columns() -> &'static [Self::Column];
}

/// Selects every column of `E`, except that the large columns whose bit is set in `omit` (bit
/// `i` for `E::large_columns()[i]`) come back as NULL: the database neither reads nor sends
/// them, and the client neither receives nor parses them.
pub fn select<E: Keyed>(backend: DbBackend, omit: u8) -> Select<E> {
    if omit == 0 {
        return E::find();
    }
    let omitted = |column: &E::Column| {
        E::large_columns()
            .iter()
            .position(|large| large.as_str() == column.as_str())
            .is_some_and(|i| omit & (1 << i) != 0)
    };
    let mut select = E::find().select_only();
    for column in E::Column::iter() {
        if omitted(&column) {
            let null = match (backend, column.def().get_column_type()) {
                (DbBackend::Postgres, ColumnType::Json | ColumnType::JsonBinary) => "CAST(NULL AS jsonb)",
                (DbBackend::Postgres, _) => "CAST(NULL AS text)",
                _ => "NULL",
            };
            select = select.column_as(Expr::cust(null), column.as_str());
        } else {
            select = select.column(column);
        }
    }
    select
}

macro_rules! keyed {
    ($($module:ident: [$($large:ident),*]),*) => {$(
        impl Keyed for $module::Entity {
            fn large_columns() -> &'static [Self::Column] {
                &[$($module::Column::$large),*]
            }
            fn id_column() -> Self::Column {
                $module::Column::Id
            }
            fn created_at_column() -> Self::Column {
                $module::Column::CreatedAt
            }
            fn id_of(model: &Self::Model) -> Uuid {
                model.id
            }
        }
    )*};
}

keyed!(
    invocations: [SourceEventPayload, ContextData],
    event_executions: [],
    job_executions: [JobOptions, Result, ErrorStack, ConsoleLogs],
    job_logs: [Data]
);
