//! `event_executions`: one event module checked during an invocation, and its handler run.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::status::EventExecutionStatus;

model! {
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "event_executions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub invocation_id: Uuid,
        pub event_name: String,
        /// `None` while the detector is still running.
        pub detected: Option<bool>,
        pub detection_duration_ms: Option<i32>,
        pub detection_error: Option<String>,
        pub status: EventExecutionStatus,
        pub handler_duration_ms: Option<i32>,
        pub handler_error: Option<String>,
        pub jobs_count: i32,
        pub jobs_succeeded: i32,
        pub jobs_failed: i32,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::invocations::Entity",
        from = "Column::InvocationId",
        to = "super::invocations::Column::Id",
        on_delete = "Cascade"
    )]
    Invocation,
    #[sea_orm(has_many = "super::job_executions::Entity")]
    JobExecutions,
}

impl Related<super::invocations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Invocation.def()
    }
}

impl Related<super::job_executions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::JobExecutions.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
