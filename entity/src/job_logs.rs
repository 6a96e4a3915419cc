//! `job_logs`: console output captured from a job (`console.log`, `console.error`, …).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::status::LogLevel;

model! {
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "job_logs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub job_execution_id: Uuid,
        pub level: LogLevel,
        pub message: String,
        pub data: Option<Json>,
        pub source: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::job_executions::Entity",
        from = "Column::JobExecutionId",
        to = "super::job_executions::Column::Id",
        on_delete = "Cascade"
    )]
    JobExecution,
}

impl Related<super::job_executions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::JobExecution.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
