//! The execution hierarchy (invocations → event executions → job executions → job logs) and
//! `metrics_hourly`, with the indexes the read API's queries need.
//!
//! Status columns are TEXT with CHECK constraints rather than PostgreSQL enum types, so the same
//! schema works on SQLite and new values can be added by a migration that only swaps a constraint.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const RUN_STATUSES: &[&str] = &["running", "completed", "failed"];
const EVENT_STATUSES: &[&str] = &["detecting", "not_detected", "handling", "completed", "failed"];
const LOG_LEVELS: &[&str] = &["debug", "info", "warn", "error"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Invocations::Table)
                    .col(uuid_pk(Invocations::Id))
                    .col(text(Invocations::SourceFunction).not_null())
                    .col(text(Invocations::SourceSystem))
                    .col(json(Invocations::SourceEventPayload))
                    .col(text(Invocations::SourceUserEmail))
                    .col(text(Invocations::SourceUserRole))
                    .col(status(Invocations::Status, RUN_STATUSES))
                    .col(ColumnDef::new(Invocations::TotalDurationMs).integer())
                    .col(counter(Invocations::EventsDetectedCount))
                    .col(counter(Invocations::TotalJobsRun))
                    .col(counter(Invocations::TotalJobsSucceeded))
                    .col(counter(Invocations::TotalJobsFailed))
                    .col(ColumnDef::new(Invocations::AutoLoadModules).boolean())
                    .col(text(Invocations::EventModulesDirectory))
                    .col(json(Invocations::ContextData))
                    .col(ColumnDef::new(Invocations::CorrelationId).uuid())
                    .col(timestamp(Invocations::CreatedAt))
                    .col(timestamp(Invocations::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(EventExecutions::Table)
                    .col(uuid_pk(EventExecutions::Id))
                    .col(ColumnDef::new(EventExecutions::InvocationId).uuid().not_null())
                    .col(text(EventExecutions::EventName).not_null())
                    .col(ColumnDef::new(EventExecutions::Detected).boolean())
                    .col(ColumnDef::new(EventExecutions::DetectionDurationMs).integer())
                    .col(text(EventExecutions::DetectionError))
                    .col(status(EventExecutions::Status, EVENT_STATUSES))
                    .col(ColumnDef::new(EventExecutions::HandlerDurationMs).integer())
                    .col(text(EventExecutions::HandlerError))
                    .col(counter(EventExecutions::JobsCount))
                    .col(counter(EventExecutions::JobsSucceeded))
                    .col(counter(EventExecutions::JobsFailed))
                    .col(timestamp(EventExecutions::CreatedAt))
                    .col(timestamp(EventExecutions::UpdatedAt))
                    .foreign_key(&mut cascade(
                        "fk_event_executions_invocation",
                        EventExecutions::Table,
                        EventExecutions::InvocationId,
                        Invocations::Table,
                        Invocations::Id,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(JobExecutions::Table)
                    .col(uuid_pk(JobExecutions::Id))
                    .col(ColumnDef::new(JobExecutions::InvocationId).uuid().not_null())
                    .col(ColumnDef::new(JobExecutions::EventExecutionId).uuid().not_null())
                    .col(text(JobExecutions::JobName).not_null())
                    .col(text(JobExecutions::JobFunctionName))
                    .col(json(JobExecutions::JobOptions))
                    .col(status(JobExecutions::Status, RUN_STATUSES))
                    .col(ColumnDef::new(JobExecutions::DurationMs).integer())
                    .col(json(JobExecutions::Result))
                    .col(text(JobExecutions::ErrorMessage))
                    .col(text(JobExecutions::ErrorStack))
                    .col(json(JobExecutions::ConsoleLogs))
                    .col(
                        ColumnDef::new(JobExecutions::Attempt)
                            .integer()
                            .not_null()
                            .default(1)
                            .check(Expr::col(JobExecutions::Attempt).gte(1)),
                    )
                    .col(timestamp(JobExecutions::CreatedAt))
                    .col(timestamp(JobExecutions::UpdatedAt))
                    .foreign_key(&mut cascade(
                        "fk_job_executions_invocation",
                        JobExecutions::Table,
                        JobExecutions::InvocationId,
                        Invocations::Table,
                        Invocations::Id,
                    ))
                    .foreign_key(&mut cascade(
                        "fk_job_executions_event_execution",
                        JobExecutions::Table,
                        JobExecutions::EventExecutionId,
                        EventExecutions::Table,
                        EventExecutions::Id,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(JobLogs::Table)
                    .col(uuid_pk(JobLogs::Id))
                    .col(ColumnDef::new(JobLogs::JobExecutionId).uuid().not_null())
                    .col(status(JobLogs::Level, LOG_LEVELS))
                    .col(text(JobLogs::Message).not_null())
                    .col(json(JobLogs::Data))
                    .col(text(JobLogs::Source))
                    .col(timestamp(JobLogs::CreatedAt))
                    .col(timestamp(JobLogs::UpdatedAt))
                    .foreign_key(&mut cascade(
                        "fk_job_logs_job_execution",
                        JobLogs::Table,
                        JobLogs::JobExecutionId,
                        JobExecutions::Table,
                        JobExecutions::Id,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MetricsHourly::Table)
                    .col(uuid_pk(MetricsHourly::Id))
                    .col(timestamp(MetricsHourly::HourBucket))
                    .col(text(MetricsHourly::SourceFunction).not_null())
                    .col(counter(MetricsHourly::TotalInvocations))
                    .col(counter(MetricsHourly::CompletedCount))
                    .col(counter(MetricsHourly::FailedCount))
                    .col(counter(MetricsHourly::RunningCount))
                    .col(ColumnDef::new(MetricsHourly::AvgDurationMs).double())
                    .col(ColumnDef::new(MetricsHourly::MinDurationMs).integer())
                    .col(ColumnDef::new(MetricsHourly::MaxDurationMs).integer())
                    .col(ColumnDef::new(MetricsHourly::P50DurationMs).double())
                    .col(ColumnDef::new(MetricsHourly::P95DurationMs).double())
                    .col(ColumnDef::new(MetricsHourly::P99DurationMs).double())
                    .col(counter(MetricsHourly::EventsDetected))
                    .col(counter(MetricsHourly::JobsRun))
                    .col(counter(MetricsHourly::JobsSucceeded))
                    .col(counter(MetricsHourly::JobsFailed))
                    .col(ColumnDef::new(MetricsHourly::RefreshedAt).timestamp_with_time_zone())
                    .col(timestamp(MetricsHourly::CreatedAt))
                    .col(timestamp(MetricsHourly::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        for index in indexes() {
            manager.create_index(index).await?;
        }

        if manager.get_database_backend() == DbBackend::Postgres {
            // PostgreSQL only: GIN indexes make JSONB containment (`@>`) lookups on payloads fast.
            // `jsonb_path_ops` is smaller and faster to maintain than the default operator class,
            // and containment is the only operator we serve from them.
            let conn = manager.get_connection();
            for (table, column) in [
                ("invocations", "source_event_payload"),
                ("invocations", "context_data"),
                ("job_executions", "job_options"),
                ("job_executions", "result"),
                ("job_logs", "data"),
            ] {
                conn.execute_unprepared(&format!(
                    "CREATE INDEX idx_{table}_{column}_gin ON {table} USING GIN ({column} jsonb_path_ops)"
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            MetricsHourly::Table.into_iden(),
            JobLogs::Table.into_iden(),
            JobExecutions::Table.into_iden(),
            EventExecutions::Table.into_iden(),
            Invocations::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

/// Every secondary index, each named for the query it serves.
fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        // Keyset pagination in the default order, and time-range scans.
        index("idx_invocations_created_at_id", Invocations::Table, [Invocations::CreatedAt, Invocations::Id]),
        index("idx_invocations_status_created_at", Invocations::Table, [Invocations::Status, Invocations::CreatedAt]),
        index(
            "idx_invocations_source_function_created_at",
            Invocations::Table,
            [Invocations::SourceFunction, Invocations::CreatedAt],
        ),
        index(
            "idx_invocations_total_duration_ms_id",
            Invocations::Table,
            [Invocations::TotalDurationMs, Invocations::Id],
        ),
        index("idx_invocations_updated_at", Invocations::Table, [Invocations::UpdatedAt]),
        index("idx_invocations_correlation_id", Invocations::Table, [Invocations::CorrelationId]),
        // Children of one parent in time order: the nested lists and their per-parent limits.
        index(
            "idx_event_executions_invocation_id_created_at_id",
            EventExecutions::Table,
            [EventExecutions::InvocationId, EventExecutions::CreatedAt, EventExecutions::Id],
        ),
        index(
            "idx_event_executions_created_at_id",
            EventExecutions::Table,
            [EventExecutions::CreatedAt, EventExecutions::Id],
        ),
        index(
            "idx_event_executions_event_name_created_at",
            EventExecutions::Table,
            [EventExecutions::EventName, EventExecutions::CreatedAt],
        ),
        index(
            "idx_event_executions_status_created_at",
            EventExecutions::Table,
            [EventExecutions::Status, EventExecutions::CreatedAt],
        ),
        index("idx_event_executions_updated_at", EventExecutions::Table, [EventExecutions::UpdatedAt]),
        index(
            "idx_job_executions_event_execution_id_created_at_id",
            JobExecutions::Table,
            [JobExecutions::EventExecutionId, JobExecutions::CreatedAt, JobExecutions::Id],
        ),
        index(
            "idx_job_executions_invocation_id_created_at_id",
            JobExecutions::Table,
            [JobExecutions::InvocationId, JobExecutions::CreatedAt, JobExecutions::Id],
        ),
        index("idx_job_executions_created_at_id", JobExecutions::Table, [JobExecutions::CreatedAt, JobExecutions::Id]),
        index(
            "idx_job_executions_job_name_created_at",
            JobExecutions::Table,
            [JobExecutions::JobName, JobExecutions::CreatedAt],
        ),
        index(
            "idx_job_executions_status_created_at",
            JobExecutions::Table,
            [JobExecutions::Status, JobExecutions::CreatedAt],
        ),
        index("idx_job_executions_updated_at", JobExecutions::Table, [JobExecutions::UpdatedAt]),
        index(
            "idx_job_logs_job_execution_id_created_at_id",
            JobLogs::Table,
            [JobLogs::JobExecutionId, JobLogs::CreatedAt, JobLogs::Id],
        ),
        index("idx_job_logs_created_at_id", JobLogs::Table, [JobLogs::CreatedAt, JobLogs::Id]),
        Index::create()
            .name("uq_metrics_hourly_hour_bucket_source_function")
            .table(MetricsHourly::Table)
            .col(MetricsHourly::HourBucket)
            .col(MetricsHourly::SourceFunction)
            .unique()
            .to_owned(),
        index(
            "idx_metrics_hourly_source_function_hour_bucket",
            MetricsHourly::Table,
            [MetricsHourly::SourceFunction, MetricsHourly::HourBucket],
        ),
    ]
}

fn index<T: IntoIden, C: IntoIden, const N: usize>(name: &str, table: T, cols: [C; N]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(col.into_iden());
    }
    index.to_owned()
}

fn uuid_pk<C: IntoIden>(col: C) -> ColumnDef {
    ColumnDef::new(col).uuid().not_null().primary_key().to_owned()
}

fn text<C: IntoIden>(col: C) -> ColumnDef {
    ColumnDef::new(col).text().to_owned()
}

fn json<C: IntoIden>(col: C) -> ColumnDef {
    ColumnDef::new(col).json_binary().to_owned()
}

fn timestamp<C: IntoIden>(col: C) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().not_null().to_owned()
}

fn counter<C: IntoIden>(col: C) -> ColumnDef {
    ColumnDef::new(col).integer().not_null().default(0).to_owned()
}

/// A NOT NULL text column restricted to `values`.
fn status<C: IntoIden + Clone>(col: C, values: &[&str]) -> ColumnDef {
    ColumnDef::new(col.clone()).text().not_null().check(Expr::col(col).is_in(values.iter().copied())).to_owned()
}

fn cascade<T: IntoIden, C: IntoIden, RT: IntoIden, RC: IntoIden>(
    name: &str,
    table: T,
    col: C,
    ref_table: RT,
    ref_col: RC,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, col)
        .to(ref_table, ref_col)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[derive(DeriveIden, Clone)]
enum Invocations {
    Table,
    Id,
    SourceFunction,
    SourceSystem,
    SourceEventPayload,
    SourceUserEmail,
    SourceUserRole,
    Status,
    TotalDurationMs,
    EventsDetectedCount,
    TotalJobsRun,
    TotalJobsSucceeded,
    TotalJobsFailed,
    AutoLoadModules,
    EventModulesDirectory,
    ContextData,
    CorrelationId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone)]
enum EventExecutions {
    Table,
    Id,
    InvocationId,
    EventName,
    Detected,
    DetectionDurationMs,
    DetectionError,
    Status,
    HandlerDurationMs,
    HandlerError,
    JobsCount,
    JobsSucceeded,
    JobsFailed,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone)]
enum JobExecutions {
    Table,
    Id,
    InvocationId,
    EventExecutionId,
    JobName,
    JobFunctionName,
    JobOptions,
    Status,
    DurationMs,
    Result,
    ErrorMessage,
    ErrorStack,
    ConsoleLogs,
    Attempt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone)]
enum JobLogs {
    Table,
    Id,
    JobExecutionId,
    Level,
    Message,
    Data,
    Source,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone)]
enum MetricsHourly {
    Table,
    Id,
    HourBucket,
    SourceFunction,
    TotalInvocations,
    CompletedCount,
    FailedCount,
    RunningCount,
    AvgDurationMs,
    MinDurationMs,
    MaxDurationMs,
    P50DurationMs,
    P95DurationMs,
    P99DurationMs,
    EventsDetected,
    JobsRun,
    JobsSucceeded,
    JobsFailed,
    RefreshedAt,
    CreatedAt,
    UpdatedAt,
}
