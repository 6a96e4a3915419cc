//! Faster resolution of the row types (`Invocation`, `EventExecution`, `JobExecution`, `JobLog`)
//! and of the connection types around them.
//!
//! async-graphql resolves every selected field of an object as its own boxed future, and every
//! item of a list as its own future too: a relation of a list of rows (`eventExecutions` of ten
//! invocations) is resolved once per parent — argument parsing, a data-loader key, the list of
//! child futures — and only the loader's batching brings the parents back together. Responses
//! here are trees of rows with many scalar fields (the dashboard query selects ~1,100 fields
//! over ~300 rows in ~120 nested lists), and that machinery was most of the server's CPU.
//!
//! This module keeps each type's `#[Object]` definition — it registers the same types, and
//! every field is still computed by the type's own resolver — but walks the selection itself,
//! a level of the tree at a time ([`resolve_rows`]):
//! - plain fields (the getters) are polled once in place and are ready at once;
//! - relations a type lists in [`Resolved::batch`] are resolved for all rows of the level at
//!   once: arguments parsed once, one statement for every parent, and the children of all
//!   parents resolved together as the next level. They are started before the plain fields, so
//!   the next level's statement is on its way while this level's objects are built;
//! - the other fields of [`Resolved::ASYNC_FIELDS`] (back-links, computed lists) become one
//!   future per row, resolved together so sibling rows still share one loader batch.
//!
//! Error paths, nulls and the order of fields are those async-graphql would give.

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::ops::Range;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};

use async_graphql::indexmap::IndexMap;
use async_graphql::indexmap::map::Entry;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{
    Context, ContextSelectionSet, Name, ObjectType, OutputType, Positioned, ServerError, ServerResult, Value,
};
use futures::future::{BoxFuture, join_all};
use uuid::Uuid;

use super::loaders::{Relation, children_of};
use super::types::Node;
use super::{list_args, loader};
use crate::error::ApiError;

/// An object type resolved through [`Fast`] and [`Rows`].
pub trait Resolved: ObjectType {
    /// Fields that do I/O or take arguments; every other field must be a plain getter.
    const ASYNC_FIELDS: &'static [&'static str];

    /// Resolves the field `ctxs[i].item` of every row `rows[i]` at once, one value or error per
    /// row, or `None` when this field is resolved row by row. All `ctxs` are the same field.
    fn batch<'b>(rows: &'b [&'b Self], ctxs: &'b [Context<'b>]) -> Option<BoxFuture<'b, Vec<ServerResult<Value>>>> {
        let _ = (rows, ctxs);
        None
    }
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
        Ok(resolve_rows(&[&self.0], std::slice::from_ref(ctx)).await.pop().unwrap_or_default())
    }
}

/// A list of `T` (`[T!]!`), resolved a level at a time (see the module documentation).
#[derive(Clone)]
pub struct Rows<T>(pub Vec<T>);

impl<T: Resolved> OutputType for Rows<T> {
    fn type_name() -> Cow<'static, str> {
        Cow::Owned(format!("[{}]", T::qualified_type_name()))
    }

    fn qualified_type_name() -> String {
        format!("[{}]!", T::qualified_type_name())
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry);
        Self::qualified_type_name()
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, _field: &Positioned<Field>) -> ServerResult<Value> {
        let ctxs: Vec<_> = (0..self.0.len()).map(|i| ctx.with_index(i)).collect();
        let rows: Vec<&T> = self.0.iter().collect();
        Ok(Value::List(resolve_rows(&rows, &ctxs).await))
    }
}

/// How a selected field is resolved.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Typename,
    Plain,
    Async,
}

/// A selected field and the place of its response key in the object.
struct Selected<'s> {
    field: &'s Positioned<Field>,
    slot: usize,
    kind: Kind,
}

/// A field's value (or error) for one row, by its index, or for every row of a level in order.
enum Resolution {
    One(usize, ServerResult<Value>),
    All(Vec<ServerResult<Value>>),
}

/// Resolves the selection of `ctxs[i]` on `rows[i]`, for every row of one level of the tree.
/// All `ctxs` share one selection set (the rows of one list, or the children of one relation
/// across its parents); each carries its row's path. Errors are reported on the context and
/// leave their field null, as async-graphql does for the row types' fields.
pub async fn resolve_rows<T: Resolved>(rows: &[&T], ctxs: &[ContextSelectionSet<'_>]) -> Vec<Value> {
    let Some(first) = ctxs.first() else { return Vec::new() };
    let mut keys: Vec<&Name> = Vec::new();
    let mut selected = Vec::new();
    plan::<T>(first, first.item, &mut keys, &mut selected);

    // Every row's object starts as a copy of one with the keys in place: copying a map does
    // not hash its keys again.
    let template: IndexMap<Name, Value> = keys.iter().map(|&key| (key.clone(), Value::Null)).collect();
    let mut objects = vec![template; rows.len()];

    // Contexts of the fields that are not plain, for every row; the futures borrow them.
    let asynchronous: Vec<&Selected> = selected.iter().filter(|s| s.kind == Kind::Async).collect();
    let field_ctxs: Vec<Vec<Context<'_>>> =
        asynchronous.iter().map(|s| ctxs.iter().map(|ctx| ctx.with_field(s.field)).collect()).collect();

    // The fields that are not plain first: started before the plain fields are resolved, a
    // level's statement is on its way to the database while this level's objects are built.
    let mut deferred: Vec<BoxFuture<'_, (usize, Resolution)>> = Vec::new();
    for (s, field_ctxs) in asynchronous.iter().zip(&field_ctxs) {
        let slot = s.slot;
        if let Some(batch) = T::batch(rows, field_ctxs) {
            deferred.push(Box::pin(async move { (slot, Resolution::All(batch.await)) }));
            continue;
        }
        for (i, (row, ctx)) in rows.iter().zip(field_ctxs).enumerate() {
            deferred.push(Box::pin(async move {
                (slot, Resolution::One(i, row.resolve_field(ctx).await.map(Option::unwrap_or_default)))
            }));
        }
    }
    let mut started = pin!(join_all(deferred));
    let done_at_once = poll_fn(|cx| Poll::Ready(started.as_mut().poll(cx))).await;

    let mut late: Vec<BoxFuture<'_, (usize, Resolution)>> = Vec::new();
    for s in &selected {
        match s.kind {
            Kind::Typename => {
                for object in &mut objects {
                    put(object, s.slot, Value::String(T::type_name().into_owned()));
                }
            }
            Kind::Plain => {
                for (i, (row, ctx)) in rows.iter().zip(ctxs).enumerate() {
                    match resolve_now(*row, ctx, s.field) {
                        Some(Ok(value)) => put(&mut objects[i], s.slot, value),
                        Some(Err(err)) => ctx.add_error(err),
                        None => {
                            let ctx = ctx.clone();
                            let (row, field, slot) = (*row, s.field, s.slot);
                            late.push(Box::pin(async move {
                                let result = row.resolve_field(&ctx.with_field(field)).await;
                                (slot, Resolution::One(i, result.map(Option::unwrap_or_default)))
                            }));
                        }
                    }
                }
            }
            Kind::Async => {}
        }
    }

    let (resolved, resolved_late) = match done_at_once {
        Poll::Ready(resolved) => (resolved, join_all(late).await),
        Poll::Pending => futures::join!(started, join_all(late)),
    };
    for (slot, resolution) in resolved.into_iter().chain(resolved_late) {
        let mut place = |i: usize, result: ServerResult<Value>| match result {
            Ok(value) => put(&mut objects[i], slot, value),
            Err(err) => ctxs[i].add_error(err),
        };
        match resolution {
            Resolution::One(i, result) => place(i, result),
            Resolution::All(results) => results.into_iter().enumerate().for_each(|(i, result)| place(i, result)),
        }
    }
    objects.into_iter().map(Value::Object).collect()
}

/// Lists the fields of `selection` that apply to `T`, following its fragments, with the slot of
/// each response key (a key selected twice shares one slot, and its values are merged).
fn plan<'s, T: Resolved>(
    ctx: &ContextSelectionSet<'s>,
    selection: &'s Positioned<SelectionSet>,
    keys: &mut Vec<&'s Name>,
    selected: &mut Vec<Selected<'s>>,
) {
    for item in &selection.node.items {
        match &item.node {
            Selection::Field(field) => {
                let key = &field.node.response_key().node;
                let slot = keys.iter().position(|k| *k == key).unwrap_or_else(|| {
                    keys.push(key);
                    keys.len() - 1
                });
                let name = field.node.name.node.as_str();
                let kind = if name == "__typename" {
                    Kind::Typename
                } else if field.node.arguments.is_empty()
                    && field.node.directives.is_empty()
                    && !T::ASYNC_FIELDS.contains(&name)
                {
                    Kind::Plain
                } else {
                    Kind::Async
                };
                selected.push(Selected { field, slot, kind });
            }
            // Validation has checked that every spread names a fragment of the document.
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = ctx.query_env.fragments.get(&spread.node.fragment_name.node)
                    && fragment.node.type_condition.node.on.node.as_str() == T::type_name()
                {
                    plan::<T>(ctx, &fragment.node.selection_set, keys, selected);
                }
            }
            Selection::InlineFragment(fragment) => {
                let applies = fragment
                    .node
                    .type_condition
                    .as_ref()
                    .is_none_or(|condition| condition.node.on.node.as_str() == T::type_name());
                if applies {
                    plan::<T>(ctx, &fragment.node.selection_set, keys, selected);
                }
            }
        }
    }
}

/// Resolves the relation `R` (the field of `ctxs`) for every parent in `parents` at once: one
/// statement for all of them, and their children resolved together as the next level.
/// Arguments are parsed once; an error in them is every parent's error, as it would have been.
pub fn children<'b, R, N>(parents: Vec<Uuid>, ctxs: &'b [Context<'b>]) -> BoxFuture<'b, Vec<ServerResult<Value>>>
where
    R: Relation,
    N: Node<Entity = R::Child> + Resolved,
    <R::Child as sea_orm::EntityTrait>::Model: Send + Sync,
{
    Box::pin(async move {
        let Some(first) = ctxs.first() else { return Vec::new() };
        let everyone = |err: ServerError| ctxs.iter().map(|ctx| Err(ctx.set_error_path(err.clone()))).collect();
        let args = match R::arguments(first).and_then(|(filter, limit)| {
            list_args::<R>(first, filter, limit)
                .map_err(|err| async_graphql::Error::from(err).into_server_error(first.item.pos))
        }) {
            Ok(args) => args,
            Err(err) => return everyone(err),
        };
        // Every parent of the level is here: its statement runs at once, without the data
        // loader's bookkeeping per key.
        let rows = match loader(first) {
            Ok(loader) => children_of::<R>(loader.loader().db(), &parents, &args).await.map_err(ApiError::from),
            Err(err) => Err(err),
        };
        let rows = match rows {
            Ok(rows) => rows,
            Err(err) => return everyone(async_graphql::Error::from(err).into_server_error(first.item.pos)),
        };
        // Rows come grouped by parent: find each parent's run (sorting them first should a
        // parent's rows ever come apart), then lay them out in the order of `parents`.
        let mut rows = rows;
        let runs = match runs::<R>(&rows) {
            Some(runs) => runs,
            None => {
                rows.sort_by_key(R::parent_of);
                runs::<R>(&rows).unwrap_or_default()
            }
        };
        let rows: Vec<N> = rows.into_iter().map(|row| N::from_shared(Arc::new(row))).collect();
        let mut counts = Vec::with_capacity(parents.len());
        let mut children = Vec::with_capacity(rows.len());
        for parent in &parents {
            let run = runs.get(parent).cloned().unwrap_or_default();
            counts.push(run.len());
            children.extend(rows[run].iter());
        }
        let list_ctxs = selections(ctxs);
        let mut child_ctxs = Vec::with_capacity(children.len());
        for (list_ctx, &count) in list_ctxs.iter().zip(&counts) {
            child_ctxs.extend((0..count).map(|i| list_ctx.with_index(i)));
        }
        let mut values = resolve_rows(&children, &child_ctxs).await.into_iter();
        counts.iter().map(|&count| Ok(Value::List(values.by_ref().take(count).collect()))).collect()
    })
}

/// The contexts of the selection sets of the fields of `ctxs` (each keeps its field's path).
pub fn selections<'b>(ctxs: &'b [Context<'b>]) -> Vec<ContextSelectionSet<'b>> {
    ctxs.iter().map(|ctx| ctx.with_selection_set(&ctx.item.node.selection_set)).collect()
}

/// Where each parent's rows are in `rows`, if each parent's rows are contiguous.
fn runs<R: Relation>(rows: &[<R::Child as sea_orm::EntityTrait>::Model]) -> Option<HashMap<Uuid, Range<usize>>> {
    let mut runs = HashMap::with_capacity(rows.len());
    let mut start = 0;
    for end in 1..=rows.len() {
        if end == rows.len() || R::parent_of(&rows[end]) != R::parent_of(&rows[start]) {
            if runs.insert(R::parent_of(&rows[start]), start..end).is_some() {
                return None;
            }
            start = end;
        }
    }
    Some(runs)
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
    match future.poll(&mut TaskContext::from_waker(Waker::noop())) {
        Poll::Ready(result) => Some(result.map(Option::unwrap_or_default)),
        Poll::Pending => {
            debug_assert!(false, "{}.{} is not a plain field", T::type_name(), field.node.name.node);
            None
        }
    }
}

/// Puts a field's value in its slot, merged with what an earlier selection of the same response
/// key put there.
fn put(object: &mut IndexMap<Name, Value>, slot: usize, value: Value) {
    match object.get_index_mut(slot) {
        Some((_, target @ Value::Null)) => *target = value,
        Some((_, target)) => merge(target, value),
        None => {}
    }
}

/// Merges `value` into `target` the way async-graphql merges fields selected twice (objects
/// field by field, lists item by item).
fn merge(target: &mut Value, value: Value) {
    match (target, value) {
        (Value::Object(target), Value::Object(object)) => {
            for (name, value) in object {
                match target.entry(name) {
                    Entry::Occupied(mut previous) => merge(previous.get_mut(), value),
                    Entry::Vacant(entry) => {
                        entry.insert(value);
                    }
                }
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
