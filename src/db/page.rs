//! Keyset pagination: pages ordered by one column with the id as tie-break, so a page boundary
//! is a position in the order rather than an offset. Pages stay correct when the sort column has
//! duplicates and when rows arrive between requests, and a deep page costs the same as the first.
//!
//! NULLs in a nullable sort column sort as if larger than every value (PostgreSQL's native
//! order, made explicit so SQLite agrees), which lets PostgreSQL walk the index either way.

use sea_orm::sea_query::{
    Alias, Expr, ExprTrait, NullOrdering, Order, Query, QueryStatementBuilder, SelectStatement, SimpleExpr,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    Statement, Value,
};
use uuid::Uuid;

use super::Keyed;

/// Order of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

impl Direction {
    pub fn reverse(self) -> Self {
        match self {
            Direction::Asc => Direction::Desc,
            Direction::Desc => Direction::Asc,
        }
    }
}

/// The kind of value a sort column holds, which decides how a cursor's value is read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKind {
    Time,
    Int,
    Text,
}

/// One orderable column of table `E`.
pub struct SortKey<E: EntityTrait> {
    /// Name carried in cursors, so a cursor made for one order is refused by another.
    pub name: &'static str,
    pub column: E::Column,
    pub kind: SortKind,
    pub nullable: bool,
    /// The row's value of the column, as stored in a cursor.
    pub value: fn(&E::Model) -> serde_json::Value,
}

impl<E: EntityTrait> Clone for SortKey<E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E: EntityTrait> Copy for SortKey<E> {}

/// A position in an order: the sort column's value and the id of the row there.
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    /// `None` where the row's sort column is NULL.
    pub value: Option<Value>,
    pub id: Uuid,
}

/// What to fetch: at most `limit` rows after `after` and before `before`, counted from the
/// start of the order, or from its end when `from_end` (Relay's `last`).
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: u64,
    pub from_end: bool,
    pub after: Option<Position>,
    pub before: Option<Position>,
}

#[derive(Debug)]
pub struct Page<M> {
    pub rows: Vec<M>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
    /// Rows matching the filter on all pages, when it came with the page for free.
    pub total_count: Option<i64>,
}

/// A row and the total count carried alongside it.
struct Counted<M> {
    model: M,
    total_count: i64,
}

const TOTAL_COUNT: &str = "runlens_total_count";

impl<'r, R: sqlx::Row, M: sqlx::FromRow<'r, R>> sqlx::FromRow<'r, R> for Counted<M>
where
    &'static str: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(Self { model: M::from_row(row)?, total_count: row.try_get(TOTAL_COUNT)? })
    }
}

pub async fn fetch<E: Keyed>(
    db: &impl ConnectionTrait,
    filter: Condition,
    key: SortKey<E>,
    direction: Direction,
    request: &PageRequest,
    omit: u8,
    want_total: bool,
) -> Result<Page<E::Model>, DbErr> {
    // An unfiltered total is a read of `row_counts`: ask for it as a column of the page query
    // and save a round trip. (Any other total needs its own COUNT over the filter.)
    let total_inline = want_total && filter.is_empty();
    let mut condition = filter;
    if let Some(after) = &request.after {
        condition = condition.add(beyond(key, direction, after));
    }
    if let Some(before) = &request.before {
        condition = condition.add(beyond(key, direction.reverse(), before));
    }
    let scan = if request.from_end { direction.reverse() } else { direction };
    let query = order(super::select::<E>(db.get_database_backend(), omit).filter(condition), key, scan);
    let backend = db.get_database_backend();
    let (mut rows, mut total_count) = if total_inline {
        let query = query.column_as(
            SimpleExpr::SubQuery(None, Box::new(row_count_query::<E>().into_sub_query_statement())),
            TOTAL_COUNT,
        );
        let statement = limited(query.build(backend), request.limit + 1);
        let counted: Vec<Counted<E::Model>> = super::rows::all(db, statement).await?;
        let total = counted.first().map(|row| row.total_count);
        (counted.into_iter().map(|row| row.model).collect::<Vec<_>>(), total)
    } else {
        (super::rows::all(db, limited(query.build(backend), request.limit + 1)).await?, None)
    };
    if total_inline && total_count.is_none() && request.after.is_none() && request.before.is_none() {
        // No row to carry it, and no cursor narrowing the page: nothing matches.
        total_count = Some(0);
    }
    let more = rows.len() as u64 > request.limit;
    rows.truncate(request.limit as usize);
    if request.from_end {
        rows.reverse();
    }
    // Relay lets a server answer `false` for the side it did not scan. A cursor on that side
    // came from a row there, so we report `true` for it instead.
    let (has_next_page, has_previous_page) =
        if request.from_end { (request.before.is_some(), more) } else { (more, request.after.is_some()) };
    Ok(Page { rows, has_next_page, has_previous_page, total_count })
}

/// `statement` with `LIMIT limit` written into its text rather than bound as a parameter.
///
/// PostgreSQL plans a prepared statement for its parameters' values until a plan made without
/// them (a generic plan) looks as good. Not knowing a `LIMIT`, a generic plan must expect a tenth
/// of the table to be read, so it never looks as good, and every page query was planned anew:
/// a sixth of PostgreSQL's CPU time on the dashboard query (0.74 → 0.62 ms per request). With the limit in the text there is
/// a statement per page size, planned once on each connection.
fn limited(mut statement: Statement, limit: u64) -> Statement {
    statement.sql.push_str(&format!(" LIMIT {limit}"));
    statement
}

/// Number of rows matching `filter`. Unfiltered counts come from the trigger-kept `row_counts`
/// table (see its migration): exact, and constant-time however large the table.
pub async fn count<E: EntityTrait>(db: &impl ConnectionTrait, filter: Condition) -> Result<i64, DbErr> {
    if filter.is_empty() {
        return match db.query_one(&row_count_query::<E>()).await? {
            Some(row) => row.try_get_by_index::<i64>(0),
            None => Ok(0),
        };
    }
    let count: Option<i64> =
        E::find().select_only().expr(Expr::cust("COUNT(*)")).filter(filter).into_tuple().one(db).await?;
    Ok(count.unwrap_or(0))
}

/// The trigger-kept number of rows of `E`.
fn row_count_query<E: EntityTrait>() -> SelectStatement {
    Query::select()
        // SUM over BIGINT is NUMERIC on PostgreSQL, hence the cast.
        .expr(Expr::cust("CAST(COALESCE(SUM(row_count), 0) AS BIGINT)"))
        .from(Alias::new("row_counts"))
        .and_where(Expr::col(Alias::new("table_name")).eq(E::default().table_name()))
        .to_owned()
}

/// Orders by `key` in `direction`, ties broken by id in the same direction.
pub fn order<E: Keyed, Q: QueryOrder>(query: Q, key: SortKey<E>, direction: Direction) -> Q {
    let order = match direction {
        Direction::Asc => Order::Asc,
        Direction::Desc => Order::Desc,
    };
    let query = if key.nullable {
        let nulls = match direction {
            Direction::Asc => NullOrdering::Last,
            Direction::Desc => NullOrdering::First,
        };
        query.order_by_with_nulls(key.column, order.clone(), nulls)
    } else {
        query.order_by(key.column, order.clone())
    };
    query.order_by(E::id_column(), order)
}

/// Rows strictly past `at` when walking the order in `direction`.
///
/// Written as `col >= v AND (col > v OR id > at)` rather than a plain OR so the first conjunct
/// bounds an index range scan on PostgreSQL.
fn beyond<E: Keyed>(key: SortKey<E>, direction: Direction, at: &Position) -> Condition {
    let col = key.column;
    let id = E::id_column();
    match (direction, &at.value) {
        (Direction::Asc, Some(value)) => {
            let past = Condition::all()
                .add(col.gte(value.clone()))
                .add(Condition::any().add(col.gt(value.clone())).add(id.gt(at.id)));
            if key.nullable { Condition::any().add(past).add(col.is_null()) } else { past }
        }
        (Direction::Asc, None) => Condition::all().add(col.is_null()).add(id.gt(at.id)),
        (Direction::Desc, Some(value)) => Condition::all()
            .add(col.lte(value.clone()))
            .add(Condition::any().add(col.lt(value.clone())).add(id.lt(at.id))),
        (Direction::Desc, None) => {
            Condition::any().add(col.is_not_null()).add(Condition::all().add(col.is_null()).add(id.lt(at.id)))
        }
    }
}
