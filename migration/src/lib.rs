//! Schema migrations for runlens, applied in order by `runlens migrate` and on every server start.

pub use sea_orm_migration::prelude::*;

mod m20261120_000001_create_execution_tables;
mod m20261120_000002_row_counts;
mod m20261121_000003_rollups;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261120_000001_create_execution_tables::Migration),
            Box::new(m20261120_000002_row_counts::Migration),
            Box::new(m20261121_000003_rollups::Migration),
        ]
    }
}
