//! Rollups: what `metrics_hourly` needs to merge across hours (a duration sketch, sum and count),
//! the same figures per day, the job-level rollups per hour and per day, and the rollup's
//! progress (`rollup_state`).
//!
//! Durations are summarised by DDSketch (1 % relative error), stored in its standard binary
//! encoding; sketches of any set of hours merge into the sketch of their union, which is what
//! lets percentiles over any window be computed from stored rollups.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for column in [
            ColumnDef::new(MetricsHourly::DurationSumMs).double().not_null().default(0.0).to_owned(),
            ColumnDef::new(MetricsHourly::DurationCount).integer().not_null().default(0).to_owned(),
            ColumnDef::new(MetricsHourly::DurationSketch).binary().to_owned(),
        ] {
            manager.alter_table(Table::alter().table(MetricsHourly::Table).add_column(column).to_owned()).await?;
        }

        manager
            .create_table(
                invocation_rollup(MetricsDaily::Table, MetricsDaily::DayBucket)
                    .col(ColumnDef::new(MetricsHourly::SourceFunction).text().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_metrics_daily_day_bucket_source_function")
                    .table(MetricsDaily::Table)
                    .col(MetricsDaily::DayBucket)
                    .col(MetricsHourly::SourceFunction)
                    .unique()
                    .to_owned(),
            )
            .await?;

        for (table, bucket, name) in [
            (JobMetrics::Hourly, JobMetrics::HourBucket, "job_metrics_hourly"),
            (JobMetrics::Daily, JobMetrics::DayBucket, "job_metrics_daily"),
        ] {
            manager
                .create_table(
                    Table::create()
                        .table(table.clone())
                        .col(ColumnDef::new(JobMetrics::Id).uuid().not_null().primary_key())
                        .col(ColumnDef::new(bucket.clone()).timestamp_with_time_zone().not_null())
                        .col(ColumnDef::new(JobMetrics::JobName).text().not_null())
                        .col(counter(JobMetrics::Runs))
                        .col(counter(JobMetrics::Succeeded))
                        .col(counter(JobMetrics::Failed))
                        .col(counter(JobMetrics::Running))
                        .col(ColumnDef::new(JobMetrics::AvgDurationMs).double())
                        .col(ColumnDef::new(JobMetrics::MinDurationMs).integer())
                        .col(ColumnDef::new(JobMetrics::MaxDurationMs).integer())
                        .col(ColumnDef::new(JobMetrics::P50DurationMs).double())
                        .col(ColumnDef::new(JobMetrics::P95DurationMs).double())
                        .col(ColumnDef::new(JobMetrics::P99DurationMs).double())
                        .col(ColumnDef::new(JobMetrics::DurationSumMs).double().not_null().default(0.0))
                        .col(counter(JobMetrics::DurationCount))
                        .col(ColumnDef::new(JobMetrics::DurationSketch).binary())
                        .col(ColumnDef::new(JobMetrics::SourceFunctions).json_binary().not_null())
                        .col(ColumnDef::new(JobMetrics::RefreshedAt).timestamp_with_time_zone())
                        .col(ColumnDef::new(JobMetrics::CreatedAt).timestamp_with_time_zone().not_null())
                        .col(ColumnDef::new(JobMetrics::UpdatedAt).timestamp_with_time_zone().not_null())
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(
                    Index::create()
                        .name(format!("uq_{name}_bucket_job_name"))
                        .table(table)
                        .col(bucket)
                        .col(JobMetrics::JobName)
                        .unique()
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(RollupState::Table)
                    .col(ColumnDef::new(RollupState::Name).text().not_null().primary_key())
                    .col(ColumnDef::new(RollupState::Watermark).timestamp_with_time_zone())
                    .col(ColumnDef::new(RollupState::LastRunAt).timestamp_with_time_zone())
                    .col(ColumnDef::new(RollupState::LastDurationMs).integer())
                    .col(ColumnDef::new(RollupState::RowsRefreshed).integer().not_null().default(0))
                    .col(ColumnDef::new(RollupState::LastError).text())
                    .col(ColumnDef::new(RollupState::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            RollupState::Table.into_iden(),
            JobMetrics::Daily.into_iden(),
            JobMetrics::Hourly.into_iden(),
            MetricsDaily::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        for column in [MetricsHourly::DurationSketch, MetricsHourly::DurationCount, MetricsHourly::DurationSumMs] {
            manager.alter_table(Table::alter().table(MetricsHourly::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

/// The columns `metrics_hourly` has, for a table bucketed by `bucket`.
fn invocation_rollup<T: IntoIden, B: IntoIden>(table: T, bucket: B) -> TableCreateStatement {
    Table::create()
        .table(table)
        .col(ColumnDef::new(MetricsHourly::Id).uuid().not_null().primary_key())
        .col(ColumnDef::new(bucket).timestamp_with_time_zone().not_null())
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
        .col(ColumnDef::new(MetricsHourly::CreatedAt).timestamp_with_time_zone().not_null())
        .col(ColumnDef::new(MetricsHourly::UpdatedAt).timestamp_with_time_zone().not_null())
        .col(ColumnDef::new(MetricsHourly::DurationSumMs).double().not_null().default(0.0))
        .col(ColumnDef::new(MetricsHourly::DurationCount).integer().not_null().default(0))
        .col(ColumnDef::new(MetricsHourly::DurationSketch).binary())
        .to_owned()
}

fn counter<C: IntoIden>(col: C) -> ColumnDef {
    ColumnDef::new(col).integer().not_null().default(0).to_owned()
}

#[derive(DeriveIden)]
enum MetricsHourly {
    Table,
    Id,
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
    DurationSumMs,
    DurationCount,
    DurationSketch,
}

#[derive(DeriveIden)]
enum MetricsDaily {
    Table,
    DayBucket,
}

#[derive(DeriveIden, Clone)]
enum JobMetrics {
    #[sea_orm(iden = "job_metrics_hourly")]
    Hourly,
    #[sea_orm(iden = "job_metrics_daily")]
    Daily,
    Id,
    HourBucket,
    DayBucket,
    JobName,
    Runs,
    Succeeded,
    Failed,
    Running,
    AvgDurationMs,
    MinDurationMs,
    MaxDurationMs,
    P50DurationMs,
    P95DurationMs,
    P99DurationMs,
    DurationSumMs,
    DurationCount,
    DurationSketch,
    SourceFunctions,
    RefreshedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RollupState {
    Table,
    Name,
    Watermark,
    LastRunAt,
    LastDurationMs,
    RowsRefreshed,
    LastError,
    UpdatedAt,
}
