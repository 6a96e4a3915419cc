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

/// Makes `$type` (a newtype over an `Arc` of `$module`'s model) a [`Node`] resolved through
/// `fast`: `async_fields` are its fields that are not plain getters, and `batched` the nested
/// lists among them, each with its relation and row type, resolved a level at a time.
macro_rules! node {
    ($type:ident, $module:ident, async_fields: [$($field:literal),*],
     batched: {$($list:literal => $relation:ty as $child:ty),* $(,)?}) => {
        impl crate::graphql::fast::Resolved for $type {
            const ASYNC_FIELDS: &'static [&'static str] = &[$($field),*];

            fn batch<'b>(
                rows: &'b [&'b Self],
                ctxs: &'b [async_graphql::Context<'b>],
            ) -> Option<futures::future::BoxFuture<'b, Vec<async_graphql::ServerResult<async_graphql::Value>>>> {
                let _name = ctxs.first()?.item.node.name.node.as_str();
                $(
                    if _name == $list {
                        let parents = rows.iter().map(|row| row.0.id).collect();
                        return Some(crate::graphql::fast::children::<$relation, $child>(parents, ctxs));
                    }
                )*
                let _ = rows;
                None
            }
        }

        impl crate::graphql::types::Node for $type {
            type Entity = entity::$module::Entity;
            fn from_shared(model: std::sync::Arc<entity::$module::Model>) -> Self {
                Self(model)
            }
            fn model(&self) -> &entity::$module::Model {
                &self.0
            }
        }
    };
}

pub(crate) use node;
