//! GraphQL object types: one file per type, each a newtype over an entity model.

pub mod connection;
pub mod enums;
pub mod event_execution;
pub mod invocation;
pub mod job_execution;
pub mod job_log;
pub mod timeline;

pub use connection::{Connection, Node};
pub use event_execution::EventExecution;
pub use invocation::Invocation;
pub use job_execution::JobExecution;
pub use job_log::JobLog;

macro_rules! node {
    ($type:ident, $module:ident, async_fields: [$($field:literal),*]) => {
        impl crate::graphql::fast::Resolved for $type {
            const ASYNC_FIELDS: &'static [&'static str] = &[$($field),*];
        }

        impl crate::graphql::types::Node for $type {
            type Entity = entity::$module::Entity;
            fn from_model(model: entity::$module::Model) -> Self {
                Self(std::sync::Arc::new(model))
            }
            fn model(&self) -> &entity::$module::Model {
                &self.0
            }
        }
    };
}

pub(crate) use node;
