//! Relay connections: a page of nodes with cursors, page info and a lazily counted total.

use std::borrow::Cow;
use std::sync::Arc;

use async_graphql::{Context, Object, ServerResult, SimpleObject, TypeName, Value};
use futures::future::BoxFuture;

use crate::graphql::fast::{Fast, Resolved, Rows, resolve_rows, selections};
use sea_orm::{Condition, EntityTrait};

use crate::db::Keyed;
use crate::db::page::{self, Page, SortKey};
use crate::error::ApiError;
use crate::graphql::pagination::encode_cursor;
use crate::graphql::request_db;

/// A GraphQL object that wraps one row of a table.
pub trait Node: Resolved + Clone + Send + Sync + 'static {
    type Entity: Keyed;
    fn from_shared(model: Arc<<Self::Entity as EntityTrait>::Model>) -> Self;
    fn model(&self) -> &<Self::Entity as EntityTrait>::Model;
}

/// One page of a list, in the requested order.
pub struct Connection<N: Node> {
    nodes: Rows<N>,
    page_info: PageInfo,
    key: SortKey<N::Entity>,
    /// The filter without the cursors, for `totalCount`.
    filter: Condition,
    /// `totalCount` when the page query brought it along.
    total_count: Option<i64>,
}

impl<N: Node> Connection<N> {
    pub fn new(page: Page<<N::Entity as EntityTrait>::Model>, key: SortKey<N::Entity>, filter: Condition) -> Self {
        let cursor = |m| encode_cursor(key, m);
        let page_info = PageInfo {
            has_next_page: page.has_next_page,
            has_previous_page: page.has_previous_page,
            start_cursor: page.rows.first().map(cursor),
            end_cursor: page.rows.last().map(cursor),
        };
        Self {
            nodes: Rows(page.rows.into_iter().map(|row| N::from_shared(Arc::new(row))).collect()),
            page_info,
            key,
            filter,
            total_count: page.total_count,
        }
    }
}

// The connection types go through `Fast` too, so their fields come back in the order asked for.
impl<N: Node> Resolved for Connection<N> {
    const ASYNC_FIELDS: &'static [&'static str] = &["edges", "nodes", "totalCount"];
}

impl<N: Node> Resolved for Edge<N> {
    const ASYNC_FIELDS: &'static [&'static str] = &["node"];

    /// The nodes of all edges of a page are resolved together, as one level.
    fn batch<'b>(rows: &'b [&'b Self], ctxs: &'b [Context<'b>]) -> Option<BoxFuture<'b, Vec<ServerResult<Value>>>> {
        if ctxs.first()?.item.node.name.node != "node" {
            return None;
        }
        Some(Box::pin(async move {
            let nodes: Vec<&N> = rows.iter().map(|edge| &edge.node.0).collect();
            resolve_rows(&nodes, &selections(ctxs)).await.into_iter().map(Ok).collect()
        }))
    }
}

impl Resolved for PageInfo {
    const ASYNC_FIELDS: &'static [&'static str] = &[];
}

impl<N: Node> TypeName for Connection<N> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Connection", N::type_name()).into()
    }
}

/// A page of a list, with Relay cursors for moving to the next or previous page.
#[Object(name_type)]
impl<N: Node> Connection<N> {
    /// The page's rows, each with the cursor of its position.
    async fn edges(&self) -> Rows<Edge<N>> {
        Rows(
            self.nodes
                .0
                .iter()
                .map(|node| Edge { cursor: encode_cursor(self.key, node.model()), node: Fast(node.clone()) })
                .collect(),
        )
    }

    /// The page's rows, for clients that need no per-row cursor.
    async fn nodes(&self) -> &Rows<N> {
        &self.nodes
    }

    /// Whether more rows exist before and after this page, and the cursors to reach them.
    async fn page_info(&self) -> Fast<PageInfo> {
        Fast(self.page_info.clone())
    }

    /// How many rows match the filter across all pages. Costs a count query, so select it
    /// only when you show it.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        if let Some(total) = self.total_count {
            return Ok(total);
        }
        Ok(page::count::<N::Entity>(request_db(ctx)?, self.filter.clone()).await.map_err(ApiError::from)?)
    }
}

/// One row of a page and its cursor.
pub struct Edge<N: Node> {
    cursor: String,
    node: Fast<N>,
}

impl<N: Node> TypeName for Edge<N> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Edge", N::type_name()).into()
    }
}

/// A row in a page, with the opaque cursor of its position.
#[Object(name_type)]
impl<N: Node> Edge<N> {
    /// Pass as `after` (or `before`) to continue the list after (or before) this row.
    async fn cursor(&self) -> &str {
        &self.cursor
    }

    /// The row.
    async fn node(&self) -> &Fast<N> {
        &self.node
    }
}

/// Where a page sits in the whole list (Relay cursor connections specification).
#[derive(SimpleObject, Clone, Debug)]
pub struct PageInfo {
    /// Whether rows exist after this page (in the requested order).
    pub has_next_page: bool,
    /// Whether rows exist before this page. Forward pages that started from a cursor say
    /// `true` without scanning backwards.
    pub has_previous_page: bool,
    /// Cursor of the page's first row; null when the page is empty.
    pub start_cursor: Option<String>,
    /// Cursor of the page's last row; null when the page is empty.
    pub end_cursor: Option<String>,
}
