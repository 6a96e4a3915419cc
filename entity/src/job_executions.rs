//! `job_executions`: one async job run by the handler of a detected event.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::status::JobExecutionStatus;

model! {
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "job_executions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub invocation_id: Uuid,
        pub event_execution_id: Uuid,
        pub job_name: String,
        pub job_function_name: Option<String>,
        pub job_options: Option<Json>,
        pub status: JobExecutionStatus,
        pub duration_ms: Option<i32>,
        pub result: Option<Json>,
        pub error_message: Option<String>,
        pub error_stack: Option<String>,
        pub console_logs: Option<Json>,
        pub attempt: i32,
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
    #[sea_orm(
        belongs_to = "super::event_executions::Entity",
        from = "Column::EventExecutionId",
        to = "super::event_executions::Column::Id",
        on_delete = "Cascade"
    )]
    EventExecution,
    #[sea_orm(has_many = "super::job_logs::Entity")]
    JobLogs,
}

impl Related<super::invocations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Invocation.def()
    }
}

impl Related<super::event_executions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::EventExecution.def()
    }
}

impl Related<super::job_logs::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::JobLogs.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
