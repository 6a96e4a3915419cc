//! `invocations`: one call of a detector function (`listenTo()`), the root of the hierarchy.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::status::InvocationStatus;

model! {
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "invocations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub source_function: String,
        pub source_system: Option<String>,
        pub source_event_payload: Option<Json>,
        pub source_user_email: Option<String>,
        pub source_user_role: Option<String>,
        pub status: InvocationStatus,
        pub total_duration_ms: Option<i32>,
        pub events_detected_count: i32,
        pub total_jobs_run: i32,
        pub total_jobs_succeeded: i32,
        pub total_jobs_failed: i32,
        pub auto_load_modules: Option<bool>,
        pub event_modules_directory: Option<String>,
        pub context_data: Option<Json>,
        pub correlation_id: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::event_executions::Entity")]
    EventExecutions,
    #[sea_orm(has_many = "super::job_executions::Entity")]
    JobExecutions,
}

impl Related<super::event_executions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::EventExecutions.def()
    }
}

impl Related<super::job_executions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::JobExecutions.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
