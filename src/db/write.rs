//! Bulk writes of whole rows.
//!
//! PostgreSQL gets the rows as one JSON document expanded by `jsonb_to_recordset`: a single
//! parameter and a fixed statement text, so the statement is prepared once however many rows a
//! batch holds, and NULLs, JSON and timestamps travel without per-value bind parameters.
//! (SeaORM's multi-row `VALUES` would bind every value separately and produce a new statement
//! text for every batch size.) SQLite, in process, takes multi-row `VALUES` inserts.

use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ColumnType, ConnectionTrait, DbBackend, DbErr, EntityTrait, IdenStatic,
    IntoActiveModel, Iterable, Statement,
};
use serde::Serialize;

use super::Keyed;

/// SQLite's limit is 32766 bound parameters per statement; stay well under it.
const SQLITE_MAX_PARAMETERS: usize = 30_000;

/// Inserts `rows` (which must not exist yet).
pub async fn insert<E>(db: &impl ConnectionTrait, rows: Vec<E::Model>) -> Result<(), DbErr>
where
    E: Keyed,
    E::Model: Serialize + IntoActiveModel<E::ActiveModel>,
    E::ActiveModel: ActiveModelTrait<Entity = E> + Send,
{
    if rows.is_empty() {
        return Ok(());
    }
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let columns = column_list::<E>();
            let sql = format!(
                "INSERT INTO {table} ({columns}) SELECT {columns} FROM jsonb_to_recordset($1) AS r({types})",
                table = E::default().table_name(),
                types = record_types::<E>(),
            );
            execute_json(db, sql, &rows).await
        }
        _ => {
            let per_statement = (SQLITE_MAX_PARAMETERS / E::Column::iter().count()).max(1);
            let mut rows = rows.into_iter().peekable();
            while rows.peek().is_some() {
                let chunk: Vec<E::ActiveModel> =
                    rows.by_ref().take(per_statement).map(IntoActiveModel::into_active_model).collect();
                E::insert_many(chunk).exec_without_returning(db).await?;
            }
            Ok(())
        }
    }
}

/// Overwrites every column of the stored rows with `rows`' values (matched by id).
pub async fn update<E>(db: &impl ConnectionTrait, rows: Vec<E::Model>) -> Result<(), DbErr>
where
    E: Keyed,
    E::Model: Serialize + IntoActiveModel<E::ActiveModel>,
    E::ActiveModel: ActiveModelTrait<Entity = E> + Send,
{
    if rows.is_empty() {
        return Ok(());
    }
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let table = E::default().table_name();
            let id = E::id_column().as_str().to_owned();
            let assignments: Vec<String> = E::Column::iter()
                .map(|c| c.as_str().to_owned())
                .filter(|c| *c != id)
                .map(|c| format!("{c} = r.{c}"))
                .collect();
            let sql = format!(
                "UPDATE {table} SET {assignments} FROM jsonb_to_recordset($1) AS r({types}) WHERE {table}.{id} = r.{id}",
                assignments = assignments.join(", "),
                types = record_types::<E>(),
            );
            execute_json(db, sql, &rows).await
        }
        _ => {
            for row in rows {
                let active = row.into_active_model();
                let id = active.get(E::id_column());
                let mut update = Query::update();
                update.table(E::default().table_ref());
                for column in E::Column::iter() {
                    if column.as_str() != E::id_column().as_str()
                        && let Some(value) = active.get(column).into_value()
                    {
                        update.value(column, value);
                    }
                }
                if let Some(id) = id.into_value() {
                    update.and_where(Expr::col(E::id_column()).eq(id));
                }
                db.execute(&update).await?;
            }
            Ok(())
        }
    }
}

async fn execute_json<M: Serialize>(db: &impl ConnectionTrait, sql: String, rows: &[M]) -> Result<(), DbErr> {
    let json = serde_json::to_value(rows).map_err(|e| DbErr::Json(e.to_string()))?;
    db.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, [json.into()])).await.map(|_| ())
}

fn column_list<E: EntityTrait>() -> String {
    E::Column::iter().map(|c| c.as_str().to_owned()).collect::<Vec<_>>().join(", ")
}

/// The `AS r(column type, …)` list of `jsonb_to_recordset` for `E`'s columns.
fn record_types<E: EntityTrait>() -> String {
    E::Column::iter()
        .map(|c| {
            let ty = match c.def().get_column_type() {
                ColumnType::Uuid => "uuid",
                ColumnType::Json | ColumnType::JsonBinary => "jsonb",
                ColumnType::Integer => "integer",
                ColumnType::BigInteger => "bigint",
                ColumnType::Boolean => "boolean",
                ColumnType::Double => "double precision",
                ColumnType::TimestampWithTimeZone => "timestamptz",
                _ => "text",
            };
            format!("{} {ty}", c.as_str())
        })
        .collect::<Vec<_>>()
        .join(", ")
}
