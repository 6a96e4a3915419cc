//! The reads of one GraphQL request on one pooled connection.
//!
//! A request runs a statement per level of its query, one after another. Taking a connection
//! from the pool for each of them costs more than the statement's own work in the server: sqlx
//! hands a returned connection back through a task of its own, and on a multi-threaded runtime
//! that task and the next acquire wake each other across threads. [`RequestDb`] takes one
//! connection at the request's first statement and keeps it until the request ends, so the
//! request's statements run back to back on it. (Measured with `bench/dashboard.sh` over TCP at
//! concurrency 16: server CPU per request 1.37 → 1.25 ms, 801 → 885 req/s; a bare sqlx handler
//! of the same four statements lost a third of its throughput to a checkout per statement.)
//!
//! Statements of one request that run at the same time (two root fields, two relations of one
//! level) do not wait for each other while the pool has connections to spare: a statement that
//! finds the held connection busy takes a spare one. When there is none it waits for the held
//! connection instead, so no request holds one connection while waiting for another.
//!
//! Only PostgreSQL reads are held. SQLite is embedded (no round trip to save) and writes go
//! through the pool as before.

use std::time::Instant;

use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::{self, Postgres};
use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr,
    Statement,
};
use sea_query_sqlx::SqlxValues;
use tokio::sync::{Mutex, MutexGuard};

use super::stats;

/// A request's view of the database: reads on one held connection (PostgreSQL), everything
/// else as `db` does it.
pub struct RequestDb {
    db: DatabaseConnection,
    /// `None` for contexts that live longer than a request (subscriptions), which must not keep
    /// a connection from the pool.
    held: Option<Mutex<Option<PoolConnection<Postgres>>>>,
}

impl RequestDb {
    /// Reads of one request: held on PostgreSQL.
    pub fn request(db: DatabaseConnection) -> Self {
        let held = (db.get_database_backend() == DbBackend::Postgres).then(|| Mutex::new(None));
        Self { db, held }
    }

    /// Reads of a long-lived context: each statement takes a connection from the pool.
    pub fn pooled(db: DatabaseConnection) -> Self {
        Self { db, held: None }
    }

    async fn fetch_all(
        &self,
        held: &Mutex<Option<PoolConnection<Postgres>>>,
        stmt: Statement,
    ) -> Result<Vec<QueryResult>, DbErr> {
        let pool = self.db.get_postgres_connection_pool();
        let Statement { sql, values, .. } = stmt;
        let values = values.unwrap_or(sea_orm::Values(Vec::new()));
        let query = sqlx::query_with(sqlx::AssertSqlSafe(sql.as_str()), SqlxValues(values));
        let started = Instant::now();
        let rows = match held.try_lock() {
            Ok(slot) => on_held(slot, pool, query).await?,
            // Another statement of this request is running on the held connection: run beside it
            // on a spare connection, or, when the pool has none to spare, wait for the held one
            // (a request never waits for a second connection while it holds one, so requests
            // cannot starve each other of connections).
            Err(_) => match pool.try_acquire() {
                Some(mut connection) => query.fetch_all(&mut *connection).await,
                None => on_held(held.lock().await, pool, query).await?,
            },
        };
        stats::record(started.elapsed());
        let rows = rows.map_err(|err| DbErr::Query(RuntimeErr::SqlxError(err.into())))?;
        Ok(rows.into_iter().map(QueryResult::from).collect())
    }
}

/// Runs `query` on the request's held connection, taking one from the pool first if it holds none.
async fn on_held<'q>(
    mut slot: MutexGuard<'_, Option<PoolConnection<Postgres>>>,
    pool: &sqlx::PgPool,
    query: sqlx::query::Query<'q, Postgres, SqlxValues>,
) -> Result<Result<Vec<sqlx::postgres::PgRow>, sqlx::Error>, DbErr> {
    let connection = match slot.as_mut() {
        Some(connection) => connection,
        None => slot.insert(pool.acquire().await.map_err(acquire_error)?),
    };
    let rows = query.fetch_all(&mut **connection).await;
    if rows.is_err() {
        // Whatever went wrong, the next statement starts from a fresh connection.
        *slot = None;
    }
    Ok(rows)
}

/// The error SeaORM gives for a failed acquire, so callers see the same `DbErr` either way.
fn acquire_error(err: sqlx::Error) -> DbErr {
    match err {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        err => DbErr::Conn(RuntimeErr::SqlxError(err.into())),
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for RequestDb {
    fn get_database_backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.db.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.db.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match &self.held {
            Some(held) => Ok(self.fetch_all(held, stmt).await?.into_iter().next()),
            None => self.db.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match &self.held {
            Some(held) => self.fetch_all(held, stmt).await,
            None => self.db.query_all_raw(stmt).await,
        }
    }
}
