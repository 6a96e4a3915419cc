//! `row_counts`: exact row counts of the four execution tables, kept by triggers, so an
//! unfiltered `totalCount` reads a few rows instead of counting millions.
//!
//! The counts change in the same transaction as the rows, so they are exact for every reader.
//! On PostgreSQL the triggers are per statement (one counter update per multi-row insert or
//! delete, including cascaded deletes) and spread over eight shards per table, so concurrent
//! writers rarely wait on the same counter row. SQLite has only row triggers and one writer at a
//! time, so it keeps one shard. Triggers are written per backend because their dialects differ.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: [&str; 4] = ["invocations", "event_executions", "job_executions", "job_logs"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RowCounts::Table)
                    .col(ColumnDef::new(RowCounts::TableName).text().not_null())
                    .col(ColumnDef::new(RowCounts::Shard).integer().not_null())
                    .col(ColumnDef::new(RowCounts::RowCount).big_integer().not_null())
                    .primary_key(Index::create().col(RowCounts::TableName).col(RowCounts::Shard))
                    .to_owned(),
            )
            .await?;
        let conn = manager.get_connection();
        let postgres = manager.get_database_backend() == DbBackend::Postgres;
        if postgres {
            conn.execute_unprepared(
                r#"
                CREATE FUNCTION runlens_count_rows() RETURNS trigger LANGUAGE plpgsql AS $$
                DECLARE delta bigint;
                BEGIN
                    IF TG_OP = 'INSERT' THEN
                        SELECT count(*) INTO delta FROM changed_rows;
                    ELSE
                        SELECT -count(*) INTO delta FROM changed_rows;
                    END IF;
                    IF delta <> 0 THEN
                        INSERT INTO row_counts (table_name, shard, row_count)
                        VALUES (TG_TABLE_NAME, pg_backend_pid() % 8, delta)
                        ON CONFLICT (table_name, shard)
                        DO UPDATE SET row_count = row_counts.row_count + EXCLUDED.row_count;
                    END IF;
                    RETURN NULL;
                END $$;
                CREATE FUNCTION runlens_reset_row_counts() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    DELETE FROM row_counts WHERE table_name = TG_TABLE_NAME;
                    RETURN NULL;
                END $$;
                "#,
            )
            .await?;
        }
        for table in TABLES {
            let sql = if postgres {
                format!(
                    "CREATE TRIGGER {table}_count_insert AFTER INSERT ON {table}
                         REFERENCING NEW TABLE AS changed_rows
                         FOR EACH STATEMENT EXECUTE FUNCTION runlens_count_rows();
                     CREATE TRIGGER {table}_count_delete AFTER DELETE ON {table}
                         REFERENCING OLD TABLE AS changed_rows
                         FOR EACH STATEMENT EXECUTE FUNCTION runlens_count_rows();
                     CREATE TRIGGER {table}_count_truncate AFTER TRUNCATE ON {table}
                         FOR EACH STATEMENT EXECUTE FUNCTION runlens_reset_row_counts();"
                )
            } else {
                format!(
                    "CREATE TRIGGER {table}_count_insert AFTER INSERT ON {table} BEGIN
                         INSERT INTO row_counts (table_name, shard, row_count) VALUES ('{table}', 0, 1)
                         ON CONFLICT (table_name, shard) DO UPDATE SET row_count = row_count + 1;
                     END;
                     CREATE TRIGGER {table}_count_delete AFTER DELETE ON {table} BEGIN
                         UPDATE row_counts SET row_count = row_count - 1 WHERE table_name = '{table}' AND shard = 0;
                     END;"
                )
            };
            conn.execute_unprepared(&sql).await?;
            conn.execute_unprepared(&format!(
                "INSERT INTO row_counts (table_name, shard, row_count) SELECT '{table}', 0, COUNT(*) FROM {table}"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        for table in TABLES {
            for op in ["insert", "delete", "truncate"] {
                if op == "truncate" && manager.get_database_backend() != DbBackend::Postgres {
                    continue;
                }
                let on = if manager.get_database_backend() == DbBackend::Postgres {
                    format!(" ON {table}")
                } else {
                    String::new()
                };
                conn.execute_unprepared(&format!("DROP TRIGGER IF EXISTS {table}_count_{op}{on}")).await?;
            }
        }
        if manager.get_database_backend() == DbBackend::Postgres {
            conn.execute_unprepared(
                "DROP FUNCTION IF EXISTS runlens_count_rows(); DROP FUNCTION IF EXISTS runlens_reset_row_counts();",
            )
            .await?;
        }
        manager.drop_table(Table::drop().table(RowCounts::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum RowCounts {
    Table,
    TableName,
    Shard,
    RowCount,
}
