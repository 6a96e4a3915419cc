//! Batched loads along the hierarchy: rows by id, and the children of many parents at once.
//!
//! Each function is one SQL statement however many ids or parents it is given; the GraphQL
//! data loaders call them once per level of a query.

use std::any::TypeId;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use sea_orm::sea_query::{
    Alias, Asterisk, Expr, ExprTrait, Func, JoinType, Order, Query, SelectStatement, Values, WindowStatement,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, IdenStatic, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Statement, Value,
};
use uuid::Uuid;

use super::Keyed;

/// Rows of `E` with the given ids, in no particular order.
pub async fn by_ids<E: Keyed>(db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<Vec<E::Model>, DbErr> {
    let query = E::find().filter(super::id_in(db.get_database_backend(), E::id_column(), ids));
    super::rows::all(db, query.build(db.get_database_backend())).await
}

/// Children of `parents` (through the foreign key `parent`) matching `filter`: at most `limit`
/// per parent, each parent's first rows in time order (`created_at`, then id), large columns
/// in `omit` left out (see [`super::select`]). Rows come back grouped by parent.
///
/// The whole level is one statement on both backends. On PostgreSQL it is a lateral join over
/// the parent ids: per parent, an index scan that stops after `limit` rows (on the benchmark's
/// dashboard query this costs PostgreSQL about a fifth less than the window below). SQLite has
/// no lateral joins: there the per-parent limit is a `ROW_NUMBER()` window over the parent key.
pub async fn children<E: Keyed>(
    db: &impl ConnectionTrait,
    parent: E::Column,
    parents: &[Uuid],
    filter: Condition,
    limit: u64,
    omit: u8,
) -> Result<Vec<E::Model>, DbErr> {
    let backend = db.get_database_backend();
    let statement = if backend == DbBackend::Postgres && filter.is_empty() {
        // The text depends only on the table, the parent key and the columns left out; the
        // parent ids and the limit are its two parameters. Built once per thread.
        let key = (TypeId::of::<E>(), parent.as_str(), omit);
        let cached = LATERAL_SQL.with(|cache| cache.borrow().get(&key).cloned());
        let sql = match cached {
            Some(sql) => sql,
            None => {
                let built = backend.build(&level::<E>(backend, parent, parents, filter, limit, omit));
                debug_assert_eq!(built.values, Some(lateral_values(parents, limit)), "{}", built.sql);
                let sql: Rc<str> = built.sql.into();
                LATERAL_SQL.with(|cache| cache.borrow_mut().insert(key, sql.clone()));
                sql
            }
        };
        Statement::from_sql_and_values(backend, &*sql, lateral_values(parents, limit).0)
    } else {
        backend.build(&level::<E>(backend, parent, parents, filter, limit, omit))
    };
    super::rows::all(db, statement).await
}

thread_local! {
    /// Statement texts of unfiltered nested lists on PostgreSQL, by table, parent key and the
    /// columns left out: building one with SeaQuery cost the server as much as decoding its rows
    /// on the dashboard query's smaller levels.
    static LATERAL_SQL: RefCell<HashMap<LateralKey, Rc<str>>> = RefCell::default();
}

/// A lateral statement's table, parent key column and omitted columns (see [`super::select`]).
type LateralKey = (TypeId, &'static str, u8);

/// The parameters of an unfiltered PostgreSQL [`level`] statement, as SeaQuery binds them.
fn lateral_values(parents: &[Uuid], limit: u64) -> Values {
    Values(vec![Value::from(parents.to_vec()), Value::from(limit)])
}

/// The statement of a level: on PostgreSQL a lateral join over the parent ids (an index scan
/// per parent that stops at the limit); on SQLite, which has no lateral joins, a
/// `ROW_NUMBER()` window over the parent key.
fn level<E: Keyed>(
    backend: DbBackend,
    parent: E::Column,
    parents: &[Uuid],
    filter: Condition,
    limit: u64,
    omit: u8,
) -> SelectStatement {
    if backend == DbBackend::Postgres {
        let parent_ids = Alias::new("parent_ids");
        let per_parent = super::select::<E>(backend, omit)
            // A function aliased without column names names its one column after the alias.
            .filter(Expr::col((parent.entity_name(), parent)).equals((parent_ids.clone(), parent_ids.clone())))
            .filter(filter)
            .order_by(E::created_at_column(), Order::Asc)
            .order_by(E::id_column(), Order::Asc)
            .limit(limit)
            .into_query();
        let children = Alias::new("children");
        return Query::select()
            .column((children.clone(), Asterisk))
            .from_function(Func::cust("unnest").arg(Expr::val(parents.to_vec())), parent_ids)
            .join_lateral(JoinType::InnerJoin, per_parent, children, Expr::cust("TRUE"))
            .to_owned();
    }
    let mut ranked =
        super::select::<E>(backend, omit).filter(super::id_in(backend, parent, parents)).filter(filter).into_query();
    ranked.expr_window_as(
        Expr::cust("ROW_NUMBER()"),
        WindowStatement::partition_by(parent)
            .order_by(E::created_at_column(), Order::Asc)
            .order_by(E::id_column(), Order::Asc)
            .to_owned(),
        Alias::new("row_number_in_parent"),
    );
    let ranked_alias = Alias::new("ranked");
    Query::select()
        .column(Asterisk)
        .from_subquery(ranked, ranked_alias.clone())
        .and_where(Expr::col(Alias::new("row_number_in_parent")).lte(limit))
        .order_by((ranked_alias.clone(), parent), Order::Asc)
        .order_by((ranked_alias.clone(), E::created_at_column()), Order::Asc)
        .order_by((ranked_alias, E::id_column()), Order::Asc)
        .to_owned()
}
