//! `rollup_state`: how far the background rollup has got, one row per rollup.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "rollup_state")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// Rows written up to this instant are reflected in the rollups.
    pub watermark: Option<DateTimeUtc>,
    pub last_run_at: Option<DateTimeUtc>,
    pub last_duration_ms: Option<i32>,
    /// Rollup rows the last run wrote.
    pub rows_refreshed: i32,
    /// Why the last run failed, if it did.
    pub last_error: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
