//! Request-scoped data loaders: one SQL statement per level of a query, whatever the number
//! of parents.
//!
//! Every resolver that needs a related row or list asks the request's `DataLoader<DbLoader>`
//! with a key; the loader collects the keys of all sibling resolvers and answers them with one
//! statement (children lists group keys by their filter/limit arguments, so aliases with
//! different arguments get a statement each).
//!
//! When to run a batch is decided by [`run_batched`]: async-graphql's loader would otherwise wait
//! a fixed delay (1 ms by default) and hope every sibling has asked by then. Instead the loader's
//! batches are queued to the request's own task and run only once the query has made all the
//! progress it can without them, so every sibling has asked, deterministically and with no added
//! latency.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context as GraphQLContext, InputType, ServerResult};
use entity::{event_executions, invocations, job_executions, job_logs};
use futures::channel::mpsc;
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use sea_orm::{Condition, DatabaseConnection, DbErr, EntityName, EntityTrait};
use tracing::Instrument;
use uuid::Uuid;

use super::filter::{EventExecutionFilter, JobExecutionFilter, JobLogFilter, ToCondition};
use crate::db::request::RequestDb;
use crate::db::{self, Keyed};

/// Type of the loader every request carries (shared by the operations of a batch request).
pub type RequestLoader = Arc<DataLoader<DbLoader>>;

/// Answers loader keys from the database.
pub struct DbLoader {
    db: RequestDb,
}

impl DbLoader {
    /// The request's database, for the root fields that read it directly.
    pub fn db(&self) -> &RequestDb {
        &self.db
    }
}

type Model<E> = <E as EntityTrait>::Model;

/// Key: the row of table `E` with this id.
pub struct ById<E>(pub Uuid, PhantomData<fn() -> E>);

impl<E> ById<E> {
    pub fn new(id: Uuid) -> Self {
        Self(id, PhantomData)
    }
}

impl<E> Clone for ById<E> {
    fn clone(&self) -> Self {
        Self::new(self.0)
    }
}

impl<E> PartialEq for ById<E> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<E> Eq for ById<E> {}

impl<E> Hash for ById<E> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state)
    }
}

// Values are shared (`Arc`): the loader hands every caller its own copy of the value.
impl<E: Keyed> Loader<ById<E>> for DbLoader
where
    Model<E>: Send + Sync,
{
    type Value = Arc<Model<E>>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[ById<E>]) -> Result<HashMap<ById<E>, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let span = tracing::debug_span!("load_by_id", table = E::default().table_name(), keys = ids.len());
        let rows = db::related::by_ids::<E>(&self.db, &ids).instrument(span).await?;
        Ok(rows.into_iter().map(|row| (ById::new(E::id_of(&row)), Arc::new(row))).collect())
    }
}

/// A parent → children relation served as a nested list.
pub trait Relation: Send + Sync + 'static {
    type Child: Keyed;
    type Filter: InputType + ToCondition + Clone + Eq + Hash + Send + Sync + 'static;
    /// The child's foreign key to the parent.
    fn parent_column() -> <Self::Child as EntityTrait>::Column;
    fn parent_of(child: &Model<Self::Child>) -> Uuid;

    /// The list field's `filter` and `limit` arguments (the field of `ctx`).
    fn arguments(ctx: &GraphQLContext<'_>) -> ServerResult<(Option<Self::Filter>, Option<i32>)> {
        Ok((ctx.param_value("filter", None)?.1, ctx.param_value("limit", None)?.1))
    }
}

/// Arguments of a nested list, shared by all its parents' keys.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ListArgs<F> {
    pub filter: Option<F>,
    pub limit: u64,
    /// Large columns nobody selected (see `db::select`).
    pub omit: u8,
}

/// Key: the children of `parent` under relation `R`, filtered and limited by `args`.
pub struct ChildrenOf<R: Relation> {
    pub parent: Uuid,
    pub args: Arc<ListArgs<R::Filter>>,
}

impl<R: Relation> Clone for ChildrenOf<R> {
    fn clone(&self) -> Self {
        Self { parent: self.parent, args: self.args.clone() }
    }
}

impl<R: Relation> PartialEq for ChildrenOf<R> {
    fn eq(&self, other: &Self) -> bool {
        self.parent == other.parent && self.args == other.args
    }
}

impl<R: Relation> Eq for ChildrenOf<R> {}

// Hashing the parent alone is enough: keys that differ only in their arguments (a parent's
// list asked for twice, with different aliases and arguments) are rare, and the loader hashes
// every key several times, where hashing a filter would cost more than the rest of the key.
impl<R: Relation> Hash for ChildrenOf<R> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parent.hash(state);
    }
}

impl<R: Relation> Loader<ChildrenOf<R>> for DbLoader
where
    Model<R::Child>: Send + Sync,
{
    type Value = Vec<Arc<Model<R::Child>>>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[ChildrenOf<R>]) -> Result<HashMap<ChildrenOf<R>, Self::Value>, Self::Error> {
        // Parents by arguments; there are almost always one or two distinct arguments, and the
        // keys of one field share one `Arc`, so a scan is cheaper than hashing the arguments.
        let mut groups: Vec<(Arc<ListArgs<_>>, Vec<Uuid>)> = Vec::new();
        for key in keys {
            match groups.iter_mut().find(|(args, _)| Arc::ptr_eq(args, &key.args) || *args == key.args) {
                Some((_, parents)) => parents.push(key.parent),
                None => groups.push((key.args.clone(), vec![key.parent])),
            }
        }
        let mut found = HashMap::with_capacity(keys.len());
        for (args, parents) in groups {
            for row in children_of::<R>(&self.db, &parents, &args).await? {
                found
                    .entry(ChildrenOf { parent: R::parent_of(&row), args: args.clone() })
                    .or_insert_with(Vec::new)
                    .push(Arc::new(row));
            }
        }
        Ok(found)
    }
}

/// The children of `parents` under relation `R` with the list arguments `args`: one statement,
/// rows grouped by parent, each parent's in time order.
pub async fn children_of<R: Relation>(
    db: &RequestDb,
    parents: &[Uuid],
    args: &ListArgs<R::Filter>,
) -> Result<Vec<Model<R::Child>>, DbErr> {
    let filter = args.filter.as_ref().map_or_else(Condition::all, |f| f.condition(db::backend(db)));
    // One span per level of the tree: each level is one batch, whatever the parents.
    let span = tracing::debug_span!(
        "load_children",
        table = R::Child::default().table_name(),
        parents = parents.len(),
        limit = args.limit
    );
    db::related::children::<R::Child>(db, R::parent_column(), parents, filter, args.limit, args.omit)
        .instrument(span)
        .await
}

/// `Invocation.eventExecutions`.
pub struct EventsOfInvocation;

impl Relation for EventsOfInvocation {
    type Child = event_executions::Entity;
    type Filter = EventExecutionFilter;
    fn parent_column() -> event_executions::Column {
        event_executions::Column::InvocationId
    }
    fn parent_of(child: &event_executions::Model) -> Uuid {
        child.invocation_id
    }
}

/// `Invocation.jobExecutions`.
pub struct JobsOfInvocation;

impl Relation for JobsOfInvocation {
    type Child = job_executions::Entity;
    type Filter = JobExecutionFilter;
    fn parent_column() -> job_executions::Column {
        job_executions::Column::InvocationId
    }
    fn parent_of(child: &job_executions::Model) -> Uuid {
        child.invocation_id
    }
}

/// `EventExecution.jobExecutions`.
pub struct JobsOfEvent;

impl Relation for JobsOfEvent {
    type Child = job_executions::Entity;
    type Filter = JobExecutionFilter;
    fn parent_column() -> job_executions::Column {
        job_executions::Column::EventExecutionId
    }
    fn parent_of(child: &job_executions::Model) -> Uuid {
        child.event_execution_id
    }
}

/// `JobExecution.logs`.
pub struct LogsOfJob;

impl Relation for LogsOfJob {
    type Child = job_logs::Entity;
    type Filter = JobLogFilter;
    fn parent_column() -> job_logs::Column {
        job_logs::Column::JobExecutionId
    }
    fn parent_of(child: &job_logs::Model) -> Uuid {
        child.job_execution_id
    }

    /// `logs` also takes `level`, a shorthand for a filter on the level.
    fn arguments(ctx: &GraphQLContext<'_>) -> ServerResult<(Option<JobLogFilter>, Option<i32>)> {
        let level = ctx.param_value("level", None)?.1;
        let filter = ctx.param_value("filter", None)?.1;
        Ok((JobLogFilter::with_level(level, filter), ctx.param_value("limit", None)?.1))
    }
}

/// Keys of rows by id, by table.
pub type InvocationKey = ById<invocations::Entity>;
pub type EventExecutionKey = ById<event_executions::Entity>;
pub type JobExecutionKey = ById<job_executions::Entity>;
pub type JobLogKey = ById<job_logs::Entity>;

/// Where a request's loader queues its batches until [`run_batched`] runs them.
pub struct BatchQueue {
    batches: mpsc::UnboundedReceiver<BoxFuture<'static, ()>>,
}

/// A loader for one request, and the queue its batches wait in.
pub fn request_loader(db: DatabaseConnection) -> (RequestLoader, BatchQueue) {
    let (sender, batches) = mpsc::unbounded();
    let loader = DataLoader::new(DbLoader { db: RequestDb::request(db) }, move |batch: BoxFuture<'static, ()>| {
        // The receiver lives as long as the request; once it is gone nobody awaits the batch.
        let _ = sender.unbounded_send(batch);
    })
    // No timer: `run_batched` decides when a batch is complete. (Without async-graphql's
    // `tokio-timer` feature a zero delay is ready at once instead of waiting for a timer tick.)
    .delay(Duration::ZERO)
    .max_batch_size(20_000);
    (Arc::new(loader), BatchQueue { batches })
}

/// A loader for long-lived contexts (subscriptions), batching by async-graphql's usual delay.
pub fn spawned_loader(db: DatabaseConnection) -> RequestLoader {
    Arc::new(DataLoader::new(DbLoader { db: RequestDb::pooled(db) }, tokio::spawn))
}

/// Runs `query` to completion, running the loader batches it queues whenever it is idle.
pub async fn run_batched<F: Future>(queue: BatchQueue, query: F) -> F::Output {
    Batched { query: Box::pin(query), queue: queue.batches, running: FuturesUnordered::new(), flag: None }.await
}

struct Batched<F: Future> {
    query: Pin<Box<F>>,
    queue: mpsc::UnboundedReceiver<BoxFuture<'static, ()>>,
    running: FuturesUnordered<BoxFuture<'static, ()>>,
    /// The waker handed to the query, kept across polls: the query's many `FuturesUnordered`
    /// re-register their waker whenever it changes.
    flag: Option<Arc<Flag>>,
}

/// Forwards wake-ups and remembers that one happened.
struct Flag {
    woken: AtomicBool,
    waker: Waker,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.waker.wake_by_ref();
    }
}

/// How many times the query is re-polled in one go while it keeps waking itself.
const MAX_QUERY_POLLS: usize = 64;

impl<F: Future> Future for Batched<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        // Poll the query until it is idle: pending without having woken itself. Lists resolve
        // their items through `FuturesUnordered`, which yields (waking itself) after polling
        // each item once, so a single poll is not enough for every sibling to ask.
        let mut idle = false;
        let flag = match &this.flag {
            Some(flag) if flag.waker.will_wake(cx.waker()) => flag.clone(),
            _ => {
                let flag = Arc::new(Flag { woken: AtomicBool::new(false), waker: cx.waker().clone() });
                this.flag = Some(flag.clone());
                flag
            }
        };
        let waker = Waker::from(flag.clone());
        for _ in 0..MAX_QUERY_POLLS {
            // A wake-up from earlier (a finished batch, a socket) only costs one extra poll.
            flag.woken.store(false, Ordering::Release);
            if let Poll::Ready(output) = this.query.as_mut().poll(&mut Context::from_waker(&waker)) {
                return Poll::Ready(output);
            }
            if !flag.woken.load(Ordering::Acquire) {
                idle = true;
                break;
            }
        }
        if !idle {
            // Still busy: let the runtime run others and come back (our waker was woken).
            return Poll::Pending;
        }
        while let Poll::Ready(Some(batch)) = this.queue.poll_next_unpin(cx) {
            this.running.push(batch);
        }
        while let Poll::Ready(Some(())) = this.running.poll_next_unpin(cx) {}
        Poll::Pending
    }
}
