//! Faster resolution of the row types (`Invocation`, `EventExecution`, `JobExecution`, `JobLog`).
//!
//! async-graphql resolves every selected field of an object as its own boxed future driven by a
//! `FuturesUnordered`: an allocation, a task and a waker registration per field. Responses here
//! are lists of rows with many scalar fields (the dashboard query selects ~1,100 fields over
//! ~300 rows), and that machinery was a large share of the server's CPU.
//!
//! `Fast<T>` keeps `T`'s `#[Object]` definition — it registers the same type, and every field is
//! still computed by `T`'s own resolver — but walks the selection set itself: plain fields (the
//! getters) are polled once in place and are ready at once, and only the fields listed in
//! [`Resolved::ASYNC_FIELDS`] (relations, which go through the data loader) become futures,
//! resolved together so sibling rows still share one batch.

use std::borrow::Cow;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use async_graphql::indexmap::IndexMap;
use async_graphql::indexmap::map::Entry;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{ContextSelectionSet, Name, ObjectType, OutputType, Positioned, ServerError, ServerResult, Value};
use futures::future::{BoxFuture, join_all};

/// An object type resolved through [`Fast`].
pub trait Resolved: ObjectType {
    /// Fields that do I/O or take arguments; every other field must be a plain getter.
    const ASYNC_FIELDS: &'static [&'static str];
}

/// `T` as a GraphQL object, resolved with the fast path (see the module documentation).
#[derive(Clone)]
pub struct Fast<T>(pub T);

impl<T: Resolved> OutputType for Fast<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, _field: &Positioned<Field>) -> ServerResult<Value> {
        let mut values = IndexMap::with_capacity(ctx.item.node.items.len());
        let mut deferred = Vec::new();
        collect(&self.0, ctx, ctx.item, &mut values, &mut deferred)?;
        for result in join_all(deferred).await {
            match result {
                Ok((index, value)) => {
                    if let Some((_, target)) = values.get_index_mut(index) {
                        merge(target, value);
                    }
                }
                Err(err) => ctx.add_error(err),
            }
        }
        Ok(Value::Object(values))
    }
}

/// A field resolved later, and the index of its place in the object.
type Deferred<'a> = BoxFuture<'a, ServerResult<(usize, Value)>>;

/// Resolves the plain fields of `selection` into `values` and queues the others in `deferred`,
/// following fragments that apply to `T`.
fn collect<'a, T: Resolved>(
    root: &'a T,
    ctx: &ContextSelectionSet<'a>,
    selection: &'a Positioned<SelectionSet>,
    values: &mut IndexMap<Name, Value>,
    deferred: &mut Vec<Deferred<'a>>,
) -> ServerResult<()> {
    for item in &selection.node.items {
        match &item.node {
            Selection::Field(field) => {
                let key = field.node.response_key().node.clone();
                if field.node.name.node == "__typename" {
                    values.insert(key, Value::String(T::type_name().into_owned()));
                    continue;
                }
                let plain = field.node.arguments.is_empty()
                    && field.node.directives.is_empty()
                    && !T::ASYNC_FIELDS.contains(&field.node.name.node.as_str());
                if plain && let Some(result) = resolve_now(root, ctx, field) {
                    match result {
                        Ok(value) => insert(values, key, value),
                        Err(err) => {
                            ctx.add_error(err);
                            values.entry(key).or_insert(Value::Null);
                        }
                    }
                    continue;
                }
                // Hold the field's place so the response keeps the selection's order (the value
                // goes there by index: the key is hashed once).
                let entry = values.entry(key);
                let index = entry.index();
                entry.or_insert(Value::Null);
                let ctx = ctx.clone();
                deferred.push(Box::pin(async move {
                    let ctx_field = ctx.with_field(field);
                    Ok((index, root.resolve_field(&ctx_field).await?.unwrap_or_default()))
                }));
            }
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                let fragment = ctx
                    .query_env
                    .fragments
                    .get(name)
                    .ok_or_else(|| ServerError::new(format!(r#"Unknown fragment "{name}"."#), Some(spread.pos)))?;
                if fragment.node.type_condition.node.on.node.as_str() == T::type_name() {
                    collect(root, ctx, &fragment.node.selection_set, values, deferred)?;
                }
            }
            Selection::InlineFragment(fragment) => {
                let applies = fragment
                    .node
                    .type_condition
                    .as_ref()
                    .is_none_or(|condition| condition.node.on.node.as_str() == T::type_name());
                if applies {
                    collect(root, ctx, &fragment.node.selection_set, values, deferred)?;
                }
            }
        }
    }
    Ok(())
}

/// Polls a plain field's resolver once. Getters are ready at once; `None` means this one was
/// not (it belongs in `ASYNC_FIELDS`), and it is then resolved as a deferred field instead.
/// Dropping the polled future is harmless: a data-loader key it registered is deduplicated
/// against the deferred one's, and its answer is simply not received.
fn resolve_now<T: Resolved>(
    root: &T,
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
) -> Option<ServerResult<Value>> {
    let ctx_field = ctx.with_field(field);
    let future = pin!(root.resolve_field(&ctx_field));
    match future.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => Some(result.map(Option::unwrap_or_default)),
        Poll::Pending => {
            debug_assert!(false, "{}.{} is not a plain field", T::type_name(), field.node.name.node);
            None
        }
    }
}

/// Adds a field's value, merging it with an earlier selection of the same response key the way
/// async-graphql does (objects field by field, lists item by item).
fn insert(values: &mut IndexMap<Name, Value>, name: Name, value: Value) {
    match values.entry(name) {
        Entry::Occupied(mut previous) => merge(previous.get_mut(), value),
        Entry::Vacant(entry) => {
            entry.insert(value);
        }
    }
}

fn merge(target: &mut Value, value: Value) {
    match (target, value) {
        (Value::Object(target), Value::Object(object)) => {
            for (name, value) in object {
                insert(target, name, value);
            }
        }
        (Value::List(target), Value::List(list)) if target.len() == list.len() => {
            for (target, value) in target.iter_mut().zip(list) {
                merge(target, value);
            }
        }
        (target, value) => *target = value,
    }
}
