//! Decoding the read path's rows with sqlx's `FromRow` instead of SeaORM's `FromQueryResult`.
//!
//! SeaORM reads each nullable column by first building an error naming the column and then
//! turning it into `None` when the value is NULL — a formatted string per NULL column per row.
//! A page of the dashboard query reads ~2,000 columns, many of them NULL (unfinished jobs, and
//! the large columns nobody selected), and that was about a third of the server's CPU per
//! request. The entity models implement sqlx's `FromRow` instead (the `model!` macro in the
//! entity crate): NULL checked first, columns read by position, no per-column type lookup.
//! Statements are still built by SeaORM and run through a `ConnectionTrait` (SeaORM's pool, or
//! a request's held connection, see `db::request`); only the rows are decoded here.

use sea_orm::{ConnectionTrait, DbErr, QueryResult, Statement};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

/// A row type sqlx can decode on both backends.
pub trait Decoded: for<'r> sqlx::FromRow<'r, PgRow> + for<'r> sqlx::FromRow<'r, SqliteRow> + Send {}

impl<M> Decoded for M where M: for<'r> sqlx::FromRow<'r, PgRow> + for<'r> sqlx::FromRow<'r, SqliteRow> + Send {}

/// Decodes one row.
pub fn decode<M: Decoded>(row: &QueryResult) -> Result<M, DbErr> {
    let decoded = if let Some(row) = row.try_as_pg_row() {
        M::from_row(row)
    } else if let Some(row) = row.try_as_sqlite_row() {
        M::from_row(row)
    } else {
        return Err(DbErr::Type("unsupported database backend".into()));
    };
    decoded.map_err(|err| DbErr::Type(err.to_string()))
}

/// Runs `statement` and decodes every row it returns.
pub async fn all<M: Decoded>(db: &impl ConnectionTrait, statement: Statement) -> Result<Vec<M>, DbErr> {
    let rows = db.query_all_raw(statement).await?;
    // Sized up front: collecting `Result`s would grow the vector by doubling, copying the rows.
    let mut models = Vec::with_capacity(rows.len());
    for row in &rows {
        models.push(decode(row)?);
    }
    Ok(models)
}
