//! The GraphQL API: schema assembly, shared resolver helpers and the error-code extension.

pub mod analytics;
pub mod execute;
pub mod fast;
pub mod filter;
pub mod json;
pub mod loaders;
pub mod mutation;
pub mod pagination;
pub mod query;
pub mod scalars;
pub mod subscription;
pub mod types;

use std::sync::Arc;

use async_graphql::{Context, SDLExportOptions, Schema, ValidationMode};
use sea_orm::{DatabaseConnection, EntityTrait, IdenStatic};
use uuid::Uuid;

use crate::config::{ApiConfig, LimitsConfig};
use crate::db::Keyed;
use crate::error::{ApiError, ApiResult};
use analytics::{AnalyticsQuery, AnalyticsSettings};
use loaders::{ById, ChildrenOf, ListArgs, Relation, RequestLoader};
use mutation::MutationRoot;
use query::QueryRoot;
use subscription::SubscriptionRoot;

pub use execute::{Answer, Engine, MediaType, Transport};

/// Reads: the execution history, and analytics over it.
#[derive(async_graphql::MergedObject, Default)]
#[graphql(name = "Query")]
pub struct Query(QueryRoot, AnalyticsQuery);

pub type AppSchema = Schema<Query, MutationRoot, SubscriptionRoot>;

/// What every resolver can reach: the database and the configured limits.
#[derive(Clone)]
pub struct ApiContext {
    pub db: DatabaseConnection,
    pub config: ApiConfig,
}

impl ApiContext {
    /// The database for this request (see [`crate::db::on_this_thread`]).
    pub fn db(&self) -> DatabaseConnection {
        crate::db::on_this_thread(&self.db)
    }
}

/// Everything the schema's resolvers reach.
#[derive(Clone)]
pub struct SchemaData {
    pub api: ApiContext,
    pub ingestor: crate::ingest::Ingestor,
    pub broker: crate::live::Broker,
    pub analytics: AnalyticsSettings,
}

/// The schema with its data and the limits validation enforces, validating operations in
/// `mode` (`Strict` but for operations known to be valid, see `execute`).
pub fn build_schema(data: Option<SchemaData>, limits: &LimitsConfig, mode: ValidationMode) -> AppSchema {
    // No schema extensions: async-graphql runs every field through each extension's hook, an
    // allocation per field even when the hook is a no-op. Admission, persisted queries, error
    // codes and the parse cache are applied around execution instead (see `execute`).
    let mut builder = Schema::build(Query::default(), MutationRoot, SubscriptionRoot)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .validation_mode(mode);
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    if let Some(data) = data {
        builder = builder.data(data.api).data(data.ingestor).data(data.broker).data(data.analytics);
    }
    builder.finish()
}

/// What a list costs in the complexity limit: its page size times what each item selects.
/// Capped so that sums of costs cannot overflow.
pub(crate) fn list_cost(page: Option<i32>, fallback: usize, child: usize) -> usize {
    const MAX_COST: usize = 1 << 40;
    let page = page.map_or(fallback, |n| n.max(0) as usize);
    page.saturating_mul(child).min(MAX_COST)
}

/// Children a nested list without `limit` is assumed to have, for its cost.
pub(crate) const ASSUMED_CHILDREN: usize = 10;

/// The schema in SDL, in a stable order (types, fields, arguments and enum values sorted).
pub fn sdl() -> String {
    build_schema(None, &LimitsConfig::default(), ValidationMode::Strict).sdl_with_options(
        SDLExportOptions::new().sorted_fields().sorted_arguments().sorted_enum_items().include_specified_by(),
    )
}

pub(crate) fn api<'a>(ctx: &Context<'a>) -> ApiResult<&'a ApiContext> {
    ctx.data::<ApiContext>().map_err(|_| ApiError::internal(anyhow::anyhow!("schema built without ApiContext")))
}

fn loader<'a>(ctx: &Context<'a>) -> ApiResult<&'a RequestLoader> {
    ctx.data::<RequestLoader>().map_err(|_| ApiError::internal(anyhow::anyhow!("request without a data loader")))
}

/// The request's database, for reads outside the loader (pages, counts): on PostgreSQL they
/// share the connection the request's loader reads on (see `db::request`).
pub(crate) fn request_db<'a>(ctx: &Context<'a>) -> ApiResult<&'a crate::db::request::RequestDb> {
    Ok(loader(ctx)?.loader().db())
}

/// Resolves a nested list through the request's loader, checking its `limit` argument.
pub(crate) async fn load_children<R: Relation>(
    ctx: &Context<'_>,
    parent: Uuid,
    filter: Option<R::Filter>,
    limit: Option<i32>,
) -> ApiResult<Vec<Arc<<R::Child as EntityTrait>::Model>>>
where
    <R::Child as EntityTrait>::Model: Send + Sync,
{
    let key = ChildrenOf::<R> { parent, args: list_args::<R>(ctx, filter, limit)? };
    Ok(loader(ctx)?.load_one(key).await?.unwrap_or_default())
}

/// The loader arguments of a nested list (the field of `ctx`): its filter, its `limit` checked
/// against the server's maximum, and the large columns its selection leaves out.
pub(crate) fn list_args<R: Relation>(
    ctx: &Context<'_>,
    filter: Option<R::Filter>,
    limit: Option<i32>,
) -> ApiResult<Arc<ListArgs<R::Filter>>> {
    let max = api(ctx)?.config.max_list_size;
    filter::check_weight(filter.as_ref())?;
    let limit = match limit {
        None => max,
        Some(n) if n >= 0 && n as u32 <= max => n as u32,
        Some(n) => return Err(ApiError::bad_field("limit", format!("`limit` must be between 0 and {max}, got {n}"))),
    };
    let omit = unselected_columns::<R::Child>(|name| ctx.look_ahead().field(name).exists());
    Ok(Arc::new(ListArgs { filter, limit: u64::from(limit), omit }))
}

/// The `db::select` mask of `E`'s large columns whose field `selected` says is not asked for
/// (field names are the columns' names in camelCase).
pub(crate) fn unselected_columns<E: Keyed>(selected: impl Fn(&str) -> bool) -> u8 {
    let mut omit = 0;
    // One buffer for all the names.
    let mut name = String::new();
    for (i, column) in E::large_columns().iter().enumerate() {
        camel_case(column.as_str(), &mut name);
        if !selected(&name) {
            omit |= 1 << i;
        }
    }
    omit
}

/// Writes `snake` in camelCase into `out`, replacing what it held.
fn camel_case(snake: &str, out: &mut String) {
    out.clear();
    let mut upper = false;
    for ch in snake.chars() {
        if ch == '_' {
            upper = true;
        } else if upper {
            out.push(ch.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(ch);
        }
    }
}

/// Loads a row by id through the request's loader; null when absent.
pub(crate) async fn load_by_id<E: Keyed>(ctx: &Context<'_>, key: ById<E>) -> ApiResult<Option<Arc<E::Model>>>
where
    E::Model: Send + Sync,
{
    Ok(loader(ctx)?.load_one(key).await?)
}

/// Loads the parent a foreign key points at. The key's constraint guarantees it exists, unless
/// the tree was deleted while the query ran.
pub(crate) async fn load_parent<E: Keyed>(ctx: &Context<'_>, key: ById<E>) -> ApiResult<Arc<E::Model>>
where
    E::Model: Send + Sync,
{
    let id = key.0;
    load_by_id(ctx, key)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("{} {id} no longer exists", E::default().table_name())))
}
