//! Batched loads along the hierarchy: rows by id, and the children of many parents at once.
//!
//! Each function is one SQL statement however many ids or parents it is given; the GraphQL
//! data loaders call them once per level of a query.

use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Order, Query, WindowStatement};
use sea_orm::{Condition, ConnectionTrait, DbErr, QueryFilter, QueryTrait};
use uuid::Uuid;

use super::Keyed;

/// Rows of `E` with the given ids, in no particular order.
pub async fn by_ids<E: Keyed>(db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<Vec<E::Model>, DbErr> {
    let query = E::find().filter(super::id_in(db.get_database_backend(), E::id_column(), ids));
    super::rows::all(db, query.build(db.get_database_backend())).await
}

/// Children of `parents` (through the foreign key `parent`) matching `filter`: at most `limit`
/// per parent, each parent's first rows in time order (`created_at`, then id), large columns
/// in `omit` left out (see [`super::select`]).
///
/// The per-parent limit is a `ROW_NUMBER()` window over the parent key, which both backends
/// support, so the whole level stays one statement. Rows come back grouped by parent.
pub async fn children<E: Keyed>(
    db: &impl ConnectionTrait,
    parent: E::Column,
    parents: &[Uuid],
    filter: Condition,
    limit: u64,
    omit: u8,
) -> Result<Vec<E::Model>, DbErr> {
    let mut ranked = super::select::<E>(db.get_database_backend(), omit)
        .filter(super::id_in(db.get_database_backend(), parent, parents))
        .filter(filter)
        .into_query();
    ranked.expr_window_as(
        Expr::cust("ROW_NUMBER()"),
        WindowStatement::partition_by(parent)
            .order_by(E::created_at_column(), Order::Asc)
            .order_by(E::id_column(), Order::Asc)
            .to_owned(),
        Alias::new("row_number_in_parent"),
    );
    let ranked_alias = Alias::new("ranked");
    let query = Query::select()
        .column(Asterisk)
        .from_subquery(ranked, ranked_alias.clone())
        .and_where(Expr::col(Alias::new("row_number_in_parent")).lte(limit))
        .order_by((ranked_alias.clone(), parent), Order::Asc)
        .order_by((ranked_alias.clone(), E::created_at_column()), Order::Asc)
        .order_by((ranked_alias, E::id_column()), Order::Asc)
        .to_owned();
    super::rows::all(db, db.get_database_backend().build(&query)).await
}
