//! `QueryRoot`: lookups by id and the four top-level connections.

use async_graphql::{Context, Object, Result};
use sea_orm::Condition;
use uuid::Uuid;

use super::fast::Fast;
use super::filter::{EventExecutionFilter, InvocationFilter, JobExecutionFilter, JobLogFilter, ToCondition};
use super::loaders::{EventExecutionKey, InvocationKey, JobExecutionKey, JobLogKey};
use super::pagination::{
    EventExecutionOrderField, InvocationOrderField, JobExecutionOrderField, JobLogOrderField, OrderBy, OrderField,
    PageArgs,
};
use super::types::{Connection, EventExecution, Invocation, JobExecution, JobLog, Node};
use super::{api, load_by_id, request_db, unselected_columns};
use crate::db;
use crate::db::page;

#[derive(Default)]
pub struct QueryRoot;

/// Reads over the execution history: invocation → event executions → job executions → job logs.
#[Object]
impl QueryRoot {
    /// The invocation with this id; null when there is none.
    async fn invocation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invocation's id.")] id: Uuid,
    ) -> Result<Option<Fast<Invocation>>> {
        Ok(load_by_id(ctx, InvocationKey::new(id)).await?.map(|row| Fast(Invocation(row))))
    }

    /// The event execution with this id; null when there is none.
    async fn event_execution(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The event execution's id.")] id: Uuid,
    ) -> Result<Option<Fast<EventExecution>>> {
        Ok(load_by_id(ctx, EventExecutionKey::new(id)).await?.map(|row| Fast(EventExecution(row))))
    }

    /// The job execution with this id; null when there is none.
    async fn job_execution(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The job execution's id.")] id: Uuid,
    ) -> Result<Option<Fast<JobExecution>>> {
        Ok(load_by_id(ctx, JobExecutionKey::new(id)).await?.map(|row| Fast(JobExecution(row))))
    }

    /// The job log line with this id; null when there is none.
    async fn job_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The log line's id.")] id: Uuid,
    ) -> Result<Option<Fast<JobLog>>> {
        Ok(load_by_id(ctx, JobLogKey::new(id)).await?.map(|row| Fast(JobLog(row))))
    }

    /// Invocations matching `filter`, a page at a time (newest first unless `orderBy` says otherwise).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "super::list_cost(first.or(last), 20, child_complexity)")]
    async fn invocations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only invocations matching this filter.")] filter: Option<InvocationFilter>,
        #[graphql(
            desc = "Sort order (newest first when omitted or null); ties are broken by id.",
            default_with = "Some(OrderBy::default())"
        )]
        order_by: Option<OrderBy<InvocationOrderField>>,
        #[graphql(
            desc = "Page size from the start (default 20, at most the server's maximum, 100 unless configured)."
        )]
        first: Option<i32>,
        #[graphql(desc = "Start after the row with this cursor.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most the server's maximum).")] last: Option<i32>,
        #[graphql(desc = "End before the row with this cursor.")] before: Option<String>,
    ) -> Result<Fast<Connection<Invocation>>> {
        connection(ctx, filter, order_by.unwrap_or_default(), PageArgs { first, after, last, before }).await
    }

    /// Event executions matching `filter`, a page at a time (newest first unless `orderBy` says otherwise).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "super::list_cost(first.or(last), 20, child_complexity)")]
    async fn event_executions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only event executions matching this filter.")] filter: Option<EventExecutionFilter>,
        #[graphql(
            desc = "Sort order (newest first when omitted or null); ties are broken by id.",
            default_with = "Some(OrderBy::default())"
        )]
        order_by: Option<OrderBy<EventExecutionOrderField>>,
        #[graphql(
            desc = "Page size from the start (default 20, at most the server's maximum, 100 unless configured)."
        )]
        first: Option<i32>,
        #[graphql(desc = "Start after the row with this cursor.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most the server's maximum).")] last: Option<i32>,
        #[graphql(desc = "End before the row with this cursor.")] before: Option<String>,
    ) -> Result<Fast<Connection<EventExecution>>> {
        connection(ctx, filter, order_by.unwrap_or_default(), PageArgs { first, after, last, before }).await
    }

    /// Job executions matching `filter`, a page at a time (newest first unless `orderBy` says otherwise).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "super::list_cost(first.or(last), 20, child_complexity)")]
    async fn job_executions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only job executions matching this filter.")] filter: Option<JobExecutionFilter>,
        #[graphql(
            desc = "Sort order (newest first when omitted or null); ties are broken by id.",
            default_with = "Some(OrderBy::default())"
        )]
        order_by: Option<OrderBy<JobExecutionOrderField>>,
        #[graphql(
            desc = "Page size from the start (default 20, at most the server's maximum, 100 unless configured)."
        )]
        first: Option<i32>,
        #[graphql(desc = "Start after the row with this cursor.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most the server's maximum).")] last: Option<i32>,
        #[graphql(desc = "End before the row with this cursor.")] before: Option<String>,
    ) -> Result<Fast<Connection<JobExecution>>> {
        connection(ctx, filter, order_by.unwrap_or_default(), PageArgs { first, after, last, before }).await
    }

    /// Job log lines matching `filter`, a page at a time (newest first unless `orderBy` says otherwise).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "super::list_cost(first.or(last), 20, child_complexity)")]
    async fn job_logs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only log lines matching this filter.")] filter: Option<JobLogFilter>,
        #[graphql(
            desc = "Sort order (newest first when omitted or null); ties are broken by id.",
            default_with = "Some(OrderBy::default())"
        )]
        order_by: Option<OrderBy<JobLogOrderField>>,
        #[graphql(
            desc = "Page size from the start (default 20, at most the server's maximum, 100 unless configured)."
        )]
        first: Option<i32>,
        #[graphql(desc = "Start after the row with this cursor.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most the server's maximum).")] last: Option<i32>,
        #[graphql(desc = "End before the row with this cursor.")] before: Option<String>,
    ) -> Result<Fast<Connection<JobLog>>> {
        connection(ctx, filter, order_by.unwrap_or_default(), PageArgs { first, after, last, before }).await
    }
}

async fn connection<N: Node, F: OrderField<Entity = N::Entity>>(
    ctx: &Context<'_>,
    filter: Option<impl ToCondition>,
    order_by: OrderBy<F>,
    args: PageArgs,
) -> Result<Fast<Connection<N>>> {
    let api = api(ctx)?;
    super::filter::check_weight(filter.as_ref())?;
    let filter = filter.map_or_else(Condition::all, |f| f.condition(db::backend(&api.db)));
    let (key, direction) = (order_by.field.key(), order_by.direction.into());
    let request = args.request(key, &api.config)?;
    let selection = ctx.look_ahead();
    let omit = unselected_columns::<N::Entity>(|name| {
        selection.field("nodes").field(name).exists() || selection.field("edges").field("node").field(name).exists()
    });
    let want_total = selection.field("totalCount").exists();
    let page = page::fetch(request_db(ctx)?, filter.clone(), key, direction, &request, omit, want_total)
        .await
        .map_err(crate::error::ApiError::from)?;
    Ok(Fast(Connection::new(page, key, filter)))
}
