//! `metrics_hourly`: pre-computed figures per hour and source function, kept fresh by the rollup.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "metrics_hourly")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Start of the hour (UTC) the figures cover.
    pub hour_bucket: DateTimeUtc,
    pub source_function: String,
    pub total_invocations: i32,
    pub completed_count: i32,
    pub failed_count: i32,
    pub running_count: i32,
    pub avg_duration_ms: Option<f64>,
    pub min_duration_ms: Option<i32>,
    pub max_duration_ms: Option<i32>,
    pub p50_duration_ms: Option<f64>,
    pub p95_duration_ms: Option<f64>,
    pub p99_duration_ms: Option<f64>,
    pub events_detected: i32,
    pub jobs_run: i32,
    pub jobs_succeeded: i32,
    pub jobs_failed: i32,
    pub refreshed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Sum of the known durations (for averages across hours).
    pub duration_sum_ms: f64,
    /// Invocations with a known duration.
    pub duration_count: i32,
    /// DDSketch of the durations, in its standard binary encoding.
    pub duration_sketch: Option<Vec<u8>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
