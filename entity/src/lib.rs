//! SeaORM entities for runlens: one module per table, plus the status enums the tables share.
//!
//! The hierarchy is invocation → event executions → job executions → job logs; `metrics_hourly`
//! holds the hourly rollups. No GraphQL here: the API layer wraps these models in its own types.

/// Defines a table's `Model` and decodes it from sqlx rows by position (`sqlx::FromRow`), for
/// the read path (see `runlens::db::rows`): the columns must come in field order, as every
/// `SELECT` SeaORM builds for the entity lists them, with any extra columns after them. Debug
/// builds check each column's name, so the tests catch a query that breaks the order.
macro_rules! model {
    ($(#[$meta:meta])* pub struct Model { $($(#[$field_meta:meta])* pub $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        pub struct Model {
            $($(#[$field_meta])* pub $field: $ty,)*
        }

        impl<'r, R: sqlx::Row> sqlx::FromRow<'r, R> for Model
        where
            usize: sqlx::ColumnIndex<R>,
            $($ty: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,)*
        {
            #[allow(unused_assignments)] // the count after the last column
            fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
                let mut position = 0;
                Ok(Model {
                    $($field: {
                        debug_assert_eq!(
                            sqlx::Column::name(sqlx::Row::column(row, position)),
                            stringify!($field),
                            "column {} of a {} row",
                            position,
                            module_path!(),
                        );
                        let value = row.try_get_unchecked(position)?;
                        position += 1;
                        value
                    },)*
                })
            }
        }
    };
}

pub mod event_executions;
pub mod invocations;
pub mod job_executions;
pub mod job_logs;
pub mod job_metrics_daily;
pub mod job_metrics_hourly;
pub mod metrics_daily;
pub mod metrics_hourly;
pub mod prelude;
pub mod rollup_state;
pub mod status;
