//! Filter input objects and their translation into SeaORM conditions.
//!
//! Every field of a filter is optional and the given ones must all hold; `and`, `or` and `not`
//! combine whole filters. Text matching (`contains`, `startsWith`) is case-insensitive: ILIKE on
//! PostgreSQL, LIKE on SQLite (which folds ASCII letters only). User text is always bound as a
//! parameter, with LIKE wildcards escaped, so it is matched literally.
//!
//! Filters derive `Hash`/`Eq` because nested-list filters are part of data loader keys.

use async_graphql::{InputObject, InputType};
use entity::{event_executions, invocations, job_executions, job_logs, status};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, Condition, DbBackend, Value};
use uuid::Uuid;

use super::scalars::DateTime;
use super::types::enums::{EventExecutionStatus, InvocationStatus, JobExecutionStatus, LogLevel};

/// A whole-row filter of one table.
pub trait ToCondition {
    fn condition(&self, backend: DbBackend) -> Condition;
    /// How many filter objects this one holds, itself included (through `and`, `or`, `not`).
    fn weight(&self) -> usize;
}

/// Most filter objects one filter may hold (through `and`, `or` and `not`). The SQL builder
/// recurses once per condition, and every `in` list (up to 1,000 values) is bound value by
/// value: this keeps both far from the stack's and the databases' limits.
pub const MAX_FILTER_WEIGHT: usize = 25;

/// Refuses a filter with more than [`MAX_FILTER_WEIGHT`] filter objects.
pub fn check_weight(filter: Option<&impl ToCondition>) -> Result<(), crate::error::ApiError> {
    match filter.map(ToCondition::weight) {
        Some(weight) if weight > MAX_FILTER_WEIGHT => Err(crate::error::ApiError::bad_field(
            "filter",
            format!("the filter combines {weight} filters with and/or/not; at most {MAX_FILTER_WEIGHT} are allowed"),
        )),
        _ => Ok(()),
    }
}

/// The weight of a filter with `and`, `or` and `not`.
fn weight_of<F: ToCondition>(and: &Option<Vec<F>>, or: &Option<Vec<F>>, not: &Option<Box<F>>) -> usize {
    let list =
        |filters: &Option<Vec<F>>| filters.iter().flatten().map(ToCondition::weight).fold(0, usize::saturating_add);
    1usize.saturating_add(list(and)).saturating_add(list(or)).saturating_add(not.as_ref().map_or(0, |f| f.weight()))
}

/// A condition on one column.
pub trait ColumnFilter {
    fn condition(&self, column: impl ColumnTrait, backend: DbBackend) -> Condition;
}

/// Longest text a filter compares with, in characters.
const MAX_FILTER_TEXT: usize = 1_000;

/// Text a filter can compare with: at most [`MAX_FILTER_TEXT`] characters and no NUL
/// characters, which no stored text contains (PostgreSQL cannot store them).
pub(crate) struct FilterText;

impl async_graphql::CustomValidator<String> for FilterText {
    fn check(&self, value: &String) -> Result<(), async_graphql::InputValueError<String>> {
        if value.contains('\0') {
            return Err(async_graphql::InputValueError::custom("filter text may not contain NUL characters"));
        }
        if value.chars().count() > MAX_FILTER_TEXT {
            return Err(async_graphql::InputValueError::custom(format!(
                "filter text may be at most {MAX_FILTER_TEXT} characters long"
            )));
        }
        Ok(())
    }
}

/// Conditions on a text value. Rows where the value is null match only `isNull: true`.
#[derive(InputObject, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct StringFilter {
    /// Equal to this text (case-sensitive).
    #[graphql(validator(custom = "FilterText"))]
    pub eq: Option<String>,
    /// Not equal to this text (case-sensitive).
    #[graphql(validator(custom = "FilterText"))]
    pub ne: Option<String>,
    /// Equal to one of these texts (case-sensitive; at most 1000).
    #[graphql(name = "in", validator(max_items = 1000, list, custom = "FilterText"))]
    pub in_list: Option<Vec<String>>,
    /// Equal to none of these texts (case-sensitive; at most 1000).
    #[graphql(validator(max_items = 1000, list, custom = "FilterText"))]
    pub not_in: Option<Vec<String>>,
    /// Contains this text, ignoring case.
    #[graphql(validator(custom = "FilterText"))]
    pub contains: Option<String>,
    /// Starts with this text, ignoring case.
    #[graphql(validator(custom = "FilterText"))]
    pub starts_with: Option<String>,
    /// `true`: the value is null; `false`: it is not.
    pub is_null: Option<bool>,
}

impl ColumnFilter for StringFilter {
    fn condition(&self, column: impl ColumnTrait, backend: DbBackend) -> Condition {
        let mut all = Condition::all();
        if let Some(v) = &self.eq {
            all = all.add(column.eq(v.clone()));
        }
        if let Some(v) = &self.ne {
            all = all.add(column.ne(v.clone()));
        }
        if let Some(v) = &self.in_list {
            all = all.add(column.is_in(v.iter().cloned()));
        }
        if let Some(v) = &self.not_in {
            all = all.add(column.is_not_in(v.iter().cloned()));
        }
        if let Some(v) = &self.contains {
            all = all.add(like(&column, format!("%{}%", escape_like(v)), backend));
        }
        if let Some(v) = &self.starts_with {
            all = all.add(like(&column, format!("{}%", escape_like(v)), backend));
        }
        null_check(all, &column, self.is_null)
    }
}

/// Conditions on an integer value. Rows where the value is null match only `isNull: true`.
#[derive(InputObject, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct IntFilter {
    /// Equal to.
    pub eq: Option<i32>,
    /// Not equal to.
    pub ne: Option<i32>,
    /// Greater than.
    pub gt: Option<i32>,
    /// Greater than or equal to.
    pub gte: Option<i32>,
    /// Less than.
    pub lt: Option<i32>,
    /// Less than or equal to.
    pub lte: Option<i32>,
    /// Equal to one of these (at most 1000).
    #[graphql(name = "in", validator(max_items = 1000))]
    pub in_list: Option<Vec<i32>>,
    /// `true`: the value is null; `false`: it is not.
    pub is_null: Option<bool>,
}

impl ColumnFilter for IntFilter {
    fn condition(&self, column: impl ColumnTrait, _: DbBackend) -> Condition {
        let mut all = Condition::all();
        for (bound, op) in [
            (self.eq, Op::Eq),
            (self.ne, Op::Ne),
            (self.gt, Op::Gt),
            (self.gte, Op::Gte),
            (self.lt, Op::Lt),
            (self.lte, Op::Lte),
        ] {
            if let Some(v) = bound {
                all = all.add(op.apply(&column, v));
            }
        }
        if let Some(v) = &self.in_list {
            all = all.add(column.is_in(v.iter().copied()));
        }
        null_check(all, &column, self.is_null)
    }
}

/// Conditions on a point in time (RFC 3339, e.g. `2026-11-20T09:30:00Z`).
#[derive(InputObject, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct DateTimeFilter {
    /// Later than.
    pub gt: Option<DateTime>,
    /// At or later than.
    pub gte: Option<DateTime>,
    /// Earlier than.
    pub lt: Option<DateTime>,
    /// At or earlier than.
    pub lte: Option<DateTime>,
}

impl ColumnFilter for DateTimeFilter {
    fn condition(&self, column: impl ColumnTrait, _: DbBackend) -> Condition {
        let mut all = Condition::all();
        for (bound, op) in [(self.gt, Op::Gt), (self.gte, Op::Gte), (self.lt, Op::Lt), (self.lte, Op::Lte)] {
            if let Some(v) = bound {
                all = all.add(op.apply(&column, v));
            }
        }
        all
    }
}

/// Conditions on a UUID value.
#[derive(InputObject, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct UuidFilter {
    /// Equal to.
    pub eq: Option<Uuid>,
    /// Not equal to.
    pub ne: Option<Uuid>,
    /// Equal to one of these (at most 1000).
    #[graphql(name = "in", validator(max_items = 1000))]
    pub in_list: Option<Vec<Uuid>>,
    /// `true`: the value is null; `false`: it is not.
    pub is_null: Option<bool>,
}

impl ColumnFilter for UuidFilter {
    fn condition(&self, column: impl ColumnTrait, _: DbBackend) -> Condition {
        let mut all = Condition::all();
        if let Some(v) = self.eq {
            all = all.add(column.eq(v));
        }
        if let Some(v) = self.ne {
            all = all.add(column.ne(v));
        }
        if let Some(v) = &self.in_list {
            all = all.add(column.is_in(v.iter().copied()));
        }
        null_check(all, &column, self.is_null)
    }
}

/// Conditions on a status.
#[derive(InputObject, Clone, Debug, PartialEq, Eq, Hash)]
#[graphql(concrete(name = "InvocationStatusFilter", params(InvocationStatus)))]
#[graphql(concrete(name = "EventExecutionStatusFilter", params(EventExecutionStatus)))]
#[graphql(concrete(name = "JobExecutionStatusFilter", params(JobExecutionStatus)))]
pub struct StatusFilter<T: InputType> {
    /// Equal to.
    pub eq: Option<T>,
    /// Not equal to.
    pub ne: Option<T>,
    /// One of these (at most 1000).
    #[graphql(name = "in", validator(max_items = 1000))]
    pub in_list: Option<Vec<T>>,
    /// None of these (at most 1000).
    #[graphql(validator(max_items = 1000))]
    pub not_in: Option<Vec<T>>,
}

impl<T: InputType + Copy + Into<Value>> ColumnFilter for StatusFilter<T> {
    fn condition(&self, column: impl ColumnTrait, _: DbBackend) -> Condition {
        let mut all = Condition::all();
        if let Some(v) = self.eq {
            all = all.add(column.eq(v));
        }
        if let Some(v) = self.ne {
            all = all.add(column.ne(v));
        }
        if let Some(v) = &self.in_list {
            all = all.add(column.is_in(v.iter().copied()));
        }
        if let Some(v) = &self.not_in {
            all = all.add(column.is_not_in(v.iter().copied()));
        }
        all
    }
}

/// Conditions on a log level.
#[derive(InputObject, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LogLevelFilter {
    /// Exactly this level.
    pub eq: Option<LogLevel>,
    /// One of these levels (at most 1000).
    #[graphql(name = "in", validator(max_items = 1000))]
    pub in_list: Option<Vec<LogLevel>>,
    /// This level or a more severe one (`WARN` matches `WARN` and `ERROR`).
    pub gte: Option<LogLevel>,
}

impl ColumnFilter for LogLevelFilter {
    fn condition(&self, column: impl ColumnTrait, _: DbBackend) -> Condition {
        let mut all = Condition::all();
        if let Some(v) = self.eq {
            all = all.add(column.eq(v));
        }
        if let Some(v) = &self.in_list {
            all = all.add(column.is_in(v.iter().copied()));
        }
        if let Some(min) = self.gte {
            let min = status::LogLevel::from(min);
            let levels = <status::LogLevel as sea_orm::Iterable>::iter().filter(move |level| *level >= min);
            all = all.add(column.is_in(levels));
        }
        all
    }
}

/// Which invocations to return.
#[derive(InputObject, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct InvocationFilter {
    /// The invocation's id.
    pub id: Option<UuidFilter>,
    /// The detector function that was called, e.g. `event-detector-moves`.
    pub source_function: Option<StringFilter>,
    /// The system that sent the source event, e.g. `hasura`.
    pub source_system: Option<StringFilter>,
    /// Who triggered the source change.
    pub source_user_email: Option<StringFilter>,
    /// Lifecycle status.
    pub status: Option<StatusFilter<InvocationStatus>>,
    /// When the invocation started.
    pub created_at: Option<DateTimeFilter>,
    /// When the invocation was last written.
    pub updated_at: Option<DateTimeFilter>,
    /// End-to-end duration in milliseconds (null while running).
    pub total_duration_ms: Option<IntFilter>,
    /// The larger flow the invocation belongs to.
    pub correlation_id: Option<UuidFilter>,
    /// `true`: at least one of its jobs failed; `false`: none did.
    pub has_failed_jobs: Option<bool>,
    /// All of these filters hold.
    pub and: Option<Vec<InvocationFilter>>,
    /// At least one of these filters holds (an empty list matches nothing).
    pub or: Option<Vec<InvocationFilter>>,
    /// This filter does not hold.
    pub not: Option<Box<InvocationFilter>>,
}

impl ToCondition for InvocationFilter {
    fn weight(&self) -> usize {
        weight_of(&self.and, &self.or, &self.not)
    }

    fn condition(&self, backend: DbBackend) -> Condition {
        use invocations::Column as C;
        let mut all = Condition::all();
        all = field(all, &self.id, C::Id, backend);
        all = field(all, &self.source_function, C::SourceFunction, backend);
        all = field(all, &self.source_system, C::SourceSystem, backend);
        all = field(all, &self.source_user_email, C::SourceUserEmail, backend);
        all = field(all, &self.status, C::Status, backend);
        all = field(all, &self.created_at, C::CreatedAt, backend);
        all = field(all, &self.updated_at, C::UpdatedAt, backend);
        all = field(all, &self.total_duration_ms, C::TotalDurationMs, backend);
        all = field(all, &self.correlation_id, C::CorrelationId, backend);
        if let Some(failed) = self.has_failed_jobs {
            let failed_job = Query::select()
                .expr(Expr::val(1))
                .from(job_executions::Entity)
                .and_where(
                    Expr::col((job_executions::Entity, job_executions::Column::InvocationId))
                        .equals((invocations::Entity, C::Id)),
                )
                .and_where(job_executions::Column::Status.eq(status::JobExecutionStatus::Failed))
                .to_owned();
            all = all.add(if failed { Expr::exists(failed_job) } else { Expr::not_exists(failed_job) });
        }
        combine(all, &self.and, &self.or, &self.not, backend)
    }
}

/// Which event executions to return.
#[derive(InputObject, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct EventExecutionFilter {
    /// The event execution's id.
    pub id: Option<UuidFilter>,
    /// The invocation it belongs to.
    pub invocation_id: Option<UuidFilter>,
    /// The event module's name, e.g. `move.pickup.successful`.
    pub event_name: Option<StringFilter>,
    /// Whether the detector detected the event (null while detecting never matches).
    pub detected: Option<bool>,
    /// Lifecycle status.
    pub status: Option<StatusFilter<EventExecutionStatus>>,
    /// When the check started.
    pub created_at: Option<DateTimeFilter>,
    /// When the row was last written.
    pub updated_at: Option<DateTimeFilter>,
    /// Time the detector took, in milliseconds.
    pub detection_duration_ms: Option<IntFilter>,
    /// Time the handler took, in milliseconds.
    pub handler_duration_ms: Option<IntFilter>,
    /// Error the detector threw.
    pub detection_error: Option<StringFilter>,
    /// Error the handler threw.
    pub handler_error: Option<StringFilter>,
    /// All of these filters hold.
    pub and: Option<Vec<EventExecutionFilter>>,
    /// At least one of these filters holds (an empty list matches nothing).
    pub or: Option<Vec<EventExecutionFilter>>,
    /// This filter does not hold.
    pub not: Option<Box<EventExecutionFilter>>,
}

impl ToCondition for EventExecutionFilter {
    fn weight(&self) -> usize {
        weight_of(&self.and, &self.or, &self.not)
    }

    fn condition(&self, backend: DbBackend) -> Condition {
        use event_executions::Column as C;
        let mut all = Condition::all();
        all = field(all, &self.id, C::Id, backend);
        all = field(all, &self.invocation_id, C::InvocationId, backend);
        all = field(all, &self.event_name, C::EventName, backend);
        if let Some(detected) = self.detected {
            all = all.add(C::Detected.eq(detected));
        }
        all = field(all, &self.status, C::Status, backend);
        all = field(all, &self.created_at, C::CreatedAt, backend);
        all = field(all, &self.updated_at, C::UpdatedAt, backend);
        all = field(all, &self.detection_duration_ms, C::DetectionDurationMs, backend);
        all = field(all, &self.handler_duration_ms, C::HandlerDurationMs, backend);
        all = field(all, &self.detection_error, C::DetectionError, backend);
        all = field(all, &self.handler_error, C::HandlerError, backend);
        combine(all, &self.and, &self.or, &self.not, backend)
    }
}

/// Which job executions to return.
#[derive(InputObject, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct JobExecutionFilter {
    /// The job execution's id.
    pub id: Option<UuidFilter>,
    /// The invocation it belongs to.
    pub invocation_id: Option<UuidFilter>,
    /// The event execution whose handler ran it.
    pub event_execution_id: Option<UuidFilter>,
    /// The job's name, e.g. `sendNotification`.
    pub job_name: Option<StringFilter>,
    /// The job's function name.
    pub job_function_name: Option<StringFilter>,
    /// Lifecycle status.
    pub status: Option<StatusFilter<JobExecutionStatus>>,
    /// Execution time in milliseconds (null while running).
    pub duration_ms: Option<IntFilter>,
    /// Attempt number, 1 for the first run.
    pub attempt: Option<IntFilter>,
    /// When the job started.
    pub created_at: Option<DateTimeFilter>,
    /// When the row was last written.
    pub updated_at: Option<DateTimeFilter>,
    /// The error the job threw.
    pub error_message: Option<StringFilter>,
    /// All of these filters hold.
    pub and: Option<Vec<JobExecutionFilter>>,
    /// At least one of these filters holds (an empty list matches nothing).
    pub or: Option<Vec<JobExecutionFilter>>,
    /// This filter does not hold.
    pub not: Option<Box<JobExecutionFilter>>,
}

impl ToCondition for JobExecutionFilter {
    fn weight(&self) -> usize {
        weight_of(&self.and, &self.or, &self.not)
    }

    fn condition(&self, backend: DbBackend) -> Condition {
        use job_executions::Column as C;
        let mut all = Condition::all();
        all = field(all, &self.id, C::Id, backend);
        all = field(all, &self.invocation_id, C::InvocationId, backend);
        all = field(all, &self.event_execution_id, C::EventExecutionId, backend);
        all = field(all, &self.job_name, C::JobName, backend);
        all = field(all, &self.job_function_name, C::JobFunctionName, backend);
        all = field(all, &self.status, C::Status, backend);
        all = field(all, &self.duration_ms, C::DurationMs, backend);
        all = field(all, &self.attempt, C::Attempt, backend);
        all = field(all, &self.created_at, C::CreatedAt, backend);
        all = field(all, &self.updated_at, C::UpdatedAt, backend);
        all = field(all, &self.error_message, C::ErrorMessage, backend);
        combine(all, &self.and, &self.or, &self.not, backend)
    }
}

/// Which job log lines to return.
#[derive(InputObject, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct JobLogFilter {
    /// The log line's id.
    pub id: Option<UuidFilter>,
    /// The job execution that wrote it.
    pub job_execution_id: Option<UuidFilter>,
    /// The invocation whose job wrote it.
    pub invocation_id: Option<UuidFilter>,
    /// Console level.
    pub level: Option<LogLevelFilter>,
    /// The logged text.
    pub message: Option<StringFilter>,
    /// Where the line originated.
    pub source: Option<StringFilter>,
    /// When the line was captured.
    pub created_at: Option<DateTimeFilter>,
    /// All of these filters hold.
    pub and: Option<Vec<JobLogFilter>>,
    /// At least one of these filters holds (an empty list matches nothing).
    pub or: Option<Vec<JobLogFilter>>,
    /// This filter does not hold.
    pub not: Option<Box<JobLogFilter>>,
}

impl JobLogFilter {
    /// `filter` narrowed to lines of `level` (the `level` argument of `JobExecution.logs`).
    pub fn with_level(level: Option<LogLevel>, filter: Option<Self>) -> Option<Self> {
        match level {
            None => filter,
            Some(level) => Some(Self {
                level: Some(LogLevelFilter { eq: Some(level), ..Default::default() }),
                and: filter.map(|f| vec![f]),
                ..Default::default()
            }),
        }
    }
}

impl ToCondition for JobLogFilter {
    fn weight(&self) -> usize {
        weight_of(&self.and, &self.or, &self.not)
    }

    fn condition(&self, backend: DbBackend) -> Condition {
        use job_logs::Column as C;
        let mut all = Condition::all();
        all = field(all, &self.id, C::Id, backend);
        all = field(all, &self.job_execution_id, C::JobExecutionId, backend);
        if let Some(invocation) = &self.invocation_id {
            let jobs = Query::select()
                .column((job_executions::Entity, job_executions::Column::Id))
                .from(job_executions::Entity)
                .cond_where(invocation.condition(job_executions::Column::InvocationId, backend))
                .to_owned();
            all = all.add(C::JobExecutionId.in_subquery(jobs));
        }
        all = field(all, &self.level, C::Level, backend);
        all = field(all, &self.message, C::Message, backend);
        all = field(all, &self.source, C::Source, backend);
        all = field(all, &self.created_at, C::CreatedAt, backend);
        combine(all, &self.and, &self.or, &self.not, backend)
    }
}

fn field<F: ColumnFilter>(
    all: Condition,
    filter: &Option<F>,
    column: impl ColumnTrait,
    backend: DbBackend,
) -> Condition {
    match filter {
        Some(filter) => all.add(filter.condition(column, backend)),
        None => all,
    }
}

/// Adds the `and`/`or`/`not` parts of a filter to the condition of its own fields.
fn combine<F: ToCondition>(
    mut all: Condition,
    and: &Option<Vec<F>>,
    or: &Option<Vec<F>>,
    not: &Option<Box<F>>,
    backend: DbBackend,
) -> Condition {
    let condition = |f: &F| f.condition(backend);
    if let Some(filters) = and {
        for f in filters {
            all = all.add(condition(f));
        }
    }
    if let Some(filters) = or {
        if filters.is_empty() {
            // An empty disjunction is false; SeaQuery would otherwise drop the empty group.
            all = all.add(Expr::cust("1 = 0"));
        } else {
            all = all.add(filters.iter().fold(Condition::any(), |any, f| any.add(condition(f))));
        }
    }
    if let Some(f) = not {
        // `IS NOT TRUE` rather than `NOT`: a row where the inner filter is NULL (its column is
        // NULL) does not match the filter, so it matches its negation.
        // Bracketed by hand: PostgreSQL binds `IS` tighter than `=`, so without the brackets
        // `a = b IS NOT TRUE` would mean `a = (b IS NOT TRUE)`.
        let sql = if backend == DbBackend::Postgres { "($1) IS NOT TRUE" } else { "(?) IS NOT TRUE" };
        all = all.add(Expr::cust_with_expr(sql, Expr::from(condition(f))));
    }
    all
}

fn null_check(all: Condition, column: &impl ColumnTrait, is_null: Option<bool>) -> Condition {
    match is_null {
        Some(true) => all.add(column.is_null()),
        Some(false) => all.add(column.is_not_null()),
        None => all,
    }
}

#[derive(Clone, Copy)]
enum Op {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Op {
    fn apply<V: Into<Value>>(self, column: &impl ColumnTrait, v: V) -> Expr {
        match self {
            Op::Eq => column.eq(v),
            Op::Ne => column.ne(v),
            Op::Gt => column.gt(v),
            Op::Gte => column.gte(v),
            Op::Lt => column.lt(v),
            Op::Lte => column.lte(v),
        }
    }
}

fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for ch in text.chars() {
        if matches!(ch, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(ch);
    }
    escaped
}

fn like(column: &impl ColumnTrait, pattern: String, backend: DbBackend) -> Expr {
    // Written out rather than with SeaQuery's `ilike`, which brackets `(pattern ESCAPE …)` on
    // PostgreSQL and so produces invalid SQL.
    // (Custom expressions take the backend's own placeholder syntax.)
    let sql = match backend {
        DbBackend::Postgres => r"$1 ILIKE $2 ESCAPE '\'",
        _ => r"? LIKE ? ESCAPE '\'",
    };
    Expr::cust_with_exprs(sql, [Expr::col((column.entity_name(), *column)), Expr::val(pattern)])
}

macro_rules! stored_enum_value {
    ($($graphql:ident => $stored:path),*) => {$(
        impl From<$graphql> for Value {
            fn from(v: $graphql) -> Value {
                <$stored>::from(v).into()
            }
        }
    )*};
}

stored_enum_value!(
    InvocationStatus => status::InvocationStatus,
    EventExecutionStatus => status::EventExecutionStatus,
    JobExecutionStatus => status::JobExecutionStatus,
    LogLevel => status::LogLevel
);

// In-memory evaluation, for subscriptions, with the same meaning as the SQL: a null value fails
// every condition but `isNull: true`.

impl StringFilter {
    pub fn matches(&self, value: Option<&str>) -> bool {
        let Some(v) = value else {
            return self.is_null != Some(false)
                && self.eq.is_none()
                && self.ne.is_none()
                && self.in_list.is_none()
                && self.not_in.is_none()
                && self.contains.is_none()
                && self.starts_with.is_none();
        };
        let lower = v.to_lowercase();
        self.is_null != Some(true)
            && self.eq.as_deref().is_none_or(|x| x == v)
            && self.ne.as_deref().is_none_or(|x| x != v)
            && self.in_list.as_ref().is_none_or(|xs| xs.iter().any(|x| x == v))
            && self.not_in.as_ref().is_none_or(|xs| xs.iter().all(|x| x != v))
            && self.contains.as_deref().is_none_or(|x| lower.contains(&x.to_lowercase()))
            && self.starts_with.as_deref().is_none_or(|x| lower.starts_with(&x.to_lowercase()))
    }
}

impl<T: InputType + Copy + PartialEq> StatusFilter<T> {
    pub fn matches(&self, value: T) -> bool {
        self.eq.is_none_or(|x| x == value)
            && self.ne.is_none_or(|x| x != value)
            && self.in_list.as_ref().is_none_or(|xs| xs.contains(&value))
            && self.not_in.as_ref().is_none_or(|xs| !xs.contains(&value))
    }
}
