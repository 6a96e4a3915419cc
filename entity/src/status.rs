//! Status and level values, stored as the data model's lowercase strings.
//!
//! The database also enforces these sets with CHECK constraints (see the migration), so a row
//! written by any client can always be read back into these enums.

use sea_orm::Iterable;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Lifecycle of an invocation and of a job execution: `running` until it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum InvocationStatus {
    #[sea_orm(string_value = "running")]
    Running,
    #[sea_orm(string_value = "completed")]
    Completed,
    #[sea_orm(string_value = "failed")]
    Failed,
}

/// Lifecycle of a job execution: the same three states as an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum JobExecutionStatus {
    #[sea_orm(string_value = "running")]
    Running,
    #[sea_orm(string_value = "completed")]
    Completed,
    #[sea_orm(string_value = "failed")]
    Failed,
}

/// Lifecycle of one event module's check: detecting, then either not detected or handling,
/// and handling ends completed or failed (a detector error also ends failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum EventExecutionStatus {
    #[sea_orm(string_value = "detecting")]
    Detecting,
    #[sea_orm(string_value = "not_detected")]
    NotDetected,
    #[sea_orm(string_value = "handling")]
    Handling,
    #[sea_orm(string_value = "completed")]
    Completed,
    #[sea_orm(string_value = "failed")]
    Failed,
}

/// Console level of a captured job log line.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    #[sea_orm(string_value = "debug")]
    Debug,
    #[sea_orm(string_value = "info")]
    Info,
    #[sea_orm(string_value = "warn")]
    Warn,
    #[sea_orm(string_value = "error")]
    Error,
}

/// The stored strings of an enum, in declaration order; the migration's CHECK constraints use them.
pub fn db_values<E: ActiveEnum<Value = String> + Iterable>() -> Vec<String> {
    E::iter().map(|v| v.to_value()).collect()
}

/// Decoding straight from sqlx rows (the read path's `sqlx::FromRow`), on any backend that
/// stores text: the serde names are the stored strings (a test below holds them equal), so
/// decoding borrows the text and allocates nothing.
macro_rules! decode_as_text {
    ($($status:ty),*) => {$(
        impl<DB: sqlx::Database> sqlx::Type<DB> for $status
        where
            str: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $status
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
                let deserializer = serde::de::value::BorrowedStrDeserializer::<serde::de::value::Error>::new(text);
                Ok(<$status as Deserialize>::deserialize(deserializer)?)
            }
        }
    )*};
}

decode_as_text!(InvocationStatus, JobExecutionStatus, EventExecutionStatus, LogLevel);

#[cfg(test)]
mod tests {
    use super::*;

    fn serde_names_are_stored_strings<E: ActiveEnum<Value = String> + Iterable + Serialize>() {
        for value in E::iter() {
            assert_eq!(serde_json::to_value(&value).unwrap(), serde_json::Value::String(value.to_value()));
        }
    }

    #[test]
    fn serde_names_are_the_stored_strings_of_every_status() {
        serde_names_are_stored_strings::<InvocationStatus>();
        serde_names_are_stored_strings::<JobExecutionStatus>();
        serde_names_are_stored_strings::<EventExecutionStatus>();
        serde_names_are_stored_strings::<LogLevel>();
    }
}
