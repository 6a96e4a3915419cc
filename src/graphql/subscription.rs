//! `SubscriptionRoot`: live updates over WebSocket (`graphql-transport-ws`, at `/graphql/ws`).
//!
//! Each subscription reads committed changes from `crate::live`. A subscriber that falls more
//! than the server's buffer behind gets one error (code `SUBSCRIPTION_LAGGED`, with how many
//! commits it missed) and then continues with the newest changes; it should refetch what it
//! shows. Writers never wait for subscribers.

use async_graphql::{Context, ErrorExtensions, InputObject, Result, SimpleObject, Subscription};
use futures::stream::{self, Stream, StreamExt};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use uuid::Uuid;

use super::fast::Fast;
use super::filter::{StatusFilter, StringFilter};
use super::types::enums::InvocationStatus;
use super::types::{Invocation, JobExecution, JobLog};
use crate::error::{ApiError, ApiResult};
use crate::live::{Broker, Commit, InvocationChangeKind, Topic};

pub struct SubscriptionRoot;

/// An invocation that changed, and how.
#[derive(SimpleObject)]
pub struct InvocationUpdate {
    /// Created, progressed (it or its events, jobs or logs changed) or completed.
    pub kind: InvocationChangeKind,
    /// The invocation as committed.
    pub invocation: Fast<Invocation>,
}

/// Which invocation updates to receive.
#[derive(InputObject, Clone, Debug, Default)]
pub struct InvocationUpdateFilter {
    /// Only invocations of these detector functions.
    pub source_function: Option<StringFilter>,
    /// Only invocations whose status (after the change) matches.
    pub status: Option<StatusFilter<InvocationStatus>>,
    /// Only these kinds of change.
    pub kind: Option<Vec<InvocationChangeKind>>,
    /// Only this invocation.
    pub id: Option<Uuid>,
}

/// Live updates, delivered once the write that made them is committed, in commit order.
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Invocations as they are created, progress and complete.
    async fn invocation_updated(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only updates matching this filter.")] filter: Option<InvocationUpdateFilter>,
    ) -> Result<impl Stream<Item = Result<InvocationUpdate>> + use<>> {
        let filter = filter.unwrap_or_default();
        Ok(follow(broker(ctx)?, Topic::Invocations, move |commit| {
            commit
                .invocations
                .iter()
                .filter(|change| {
                    let row = &change.row;
                    filter.id.is_none_or(|id| id == row.id)
                        && filter.kind.as_ref().is_none_or(|kinds| kinds.contains(&change.kind))
                        && filter.source_function.as_ref().is_none_or(|f| f.matches(Some(&row.source_function)))
                        && filter.status.as_ref().is_none_or(|f| f.matches(row.status.into()))
                })
                .map(|change| InvocationUpdate { kind: change.kind, invocation: Fast(Invocation(change.row.clone())) })
                .collect()
        }))
    }

    /// New console lines, live: of one job execution, or of every job of one invocation. Give
    /// exactly one of the two ids.
    async fn job_log_appended(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Lines of this invocation's jobs.")] invocation_id: Option<Uuid>,
        #[graphql(desc = "Lines of this job execution.")] job_execution_id: Option<Uuid>,
    ) -> Result<impl Stream<Item = Result<Fast<JobLog>>> + use<>> {
        let follows = match (invocation_id, job_execution_id) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(ApiError::bad_field(
                    "invocationId",
                    "give exactly one of `invocationId` and `jobExecutionId`",
                )
                .into());
            }
            (Some(id), None) => Follows::Invocation(id),
            (None, Some(id)) => Follows::Job(id),
        };
        Ok(follow(broker(ctx)?, Topic::Logs, move |commit| {
            commit
                .logs
                .iter()
                .filter(|log| match follows {
                    Follows::Invocation(id) => log.invocation_id == id,
                    Follows::Job(id) => log.row.job_execution_id == id,
                })
                .map(|log| Fast(JobLog(log.row.clone())))
                .collect()
        }))
    }

    /// Job executions of one invocation as they start and end.
    async fn job_execution_updated(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invocation whose jobs to follow.")] invocation_id: Uuid,
    ) -> Result<impl Stream<Item = Result<Fast<JobExecution>>> + use<>> {
        Ok(follow(broker(ctx)?, Topic::Jobs, move |commit| {
            commit
                .jobs
                .iter()
                .filter(|job| job.invocation_id == invocation_id)
                .map(|job| Fast(JobExecution(job.clone())))
                .collect()
        }))
    }
}

#[derive(Clone, Copy)]
enum Follows {
    Invocation(Uuid),
    Job(Uuid),
}

fn broker<'a>(ctx: &Context<'a>) -> ApiResult<&'a Broker> {
    ctx.data::<Broker>().map_err(|_| ApiError::internal(anyhow::anyhow!("schema built without a Broker")))
}

/// The items `select` picks from each commit on `topic`, with one error per overflow.
fn follow<T: Send + 'static, F: Fn(&Commit) -> Vec<T> + Send + 'static>(
    broker: &Broker,
    topic: Topic,
    select: F,
) -> impl Stream<Item = Result<T>> + use<T, F> {
    let (receiver, interest) = broker.subscribe(topic);
    let broker = broker.clone();
    BroadcastStream::new(receiver).flat_map(move |next| {
        // The stream owns the interest, so the topic stays wanted as long as it is followed.
        let _keep = &interest;
        let items: Vec<Result<T>> = match next {
            Ok(commit) => select(&commit).into_iter().map(Ok).collect(),
            Err(BroadcastStreamRecvError::Lagged(missed)) => {
                broker.lagged();
                vec![Err(async_graphql::Error::new(format!(
                    "this subscriber fell behind and missed {missed} commits; refetch and carry on"
                ))
                .extend_with(|_, e| {
                    e.set("code", "SUBSCRIPTION_LAGGED");
                    e.set("missed", missed);
                }))]
            }
        };
        stream::iter(items)
    })
}
