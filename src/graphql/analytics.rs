//! Analytics queries: time series, overviews, job and event statistics, error groups, stuck
//! invocations, regressions and the rollup's status.

use std::collections::BTreeMap;

use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject};
use chrono::{TimeDelta, Utc};
use uuid::Uuid;

use super::api;
use super::fast::Fast;
use super::scalars::DateTime;
use super::types::Invocation;
use crate::analytics::figures::{InvocationFigures, JobFigures, int};
use crate::analytics::window::{self, Bucket};
use crate::analytics::{self as stats, rollup};
use crate::error::{ApiError, ApiResult};

/// A span of time, `[from, to)`.
#[derive(InputObject, Clone, Copy, Debug)]
pub struct TimeWindow {
    /// Start (included).
    pub from: DateTime,
    /// End (excluded); now when omitted.
    pub to: Option<DateTime>,
}

/// A point in time in Rust (the GraphQL scalar is `DateTime`).
type Instant = chrono::DateTime<Utc>;

impl TimeWindow {
    /// The window's bounds, checked: `from` before `to`, and no longer than the server allows.
    fn bounds(&self, field: &str, max_days: u32) -> ApiResult<(Instant, Instant)> {
        let (from, to) = (self.from.0, self.to.map_or_else(Utc::now, |t| t.0));
        if from >= to {
            return Err(ApiError::bad_field(
                format!("{field}.from"),
                format!("`{field}.from` must be before `{field}.to`"),
            ));
        }
        if to - from > TimeDelta::days(i64::from(max_days)) {
            return Err(ApiError::bad_field(
                field,
                format!("`{field}` spans more than {max_days} days, the most this server answers (--max-window-days)"),
            ));
        }
        Ok((from, to))
    }
}

/// Time buckets of a series.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum MetricsBucket {
    /// One point per UTC hour.
    Hour,
    /// One point per UTC day.
    Day,
}

/// Figures of a set of invocations.
#[derive(SimpleObject, Debug, Clone)]
pub struct InvocationMetrics {
    /// Invocations started.
    pub invocations: i32,
    /// Invocations that completed.
    pub completed: i32,
    /// Invocations that failed.
    pub failed: i32,
    /// Invocations still running.
    pub running: i32,
    /// Completed share of finished invocations, 0 to 1; null when none finished.
    pub success_rate: Option<f64>,
    /// Mean end-to-end duration in milliseconds.
    pub avg_duration_ms: Option<f64>,
    /// Median duration in milliseconds (within 1 %).
    pub p50_duration_ms: Option<f64>,
    /// 95th percentile of duration in milliseconds (within 1 %).
    pub p95_duration_ms: Option<f64>,
    /// 99th percentile of duration in milliseconds (within 1 %).
    pub p99_duration_ms: Option<f64>,
    /// Shortest duration in milliseconds.
    pub min_duration_ms: Option<i32>,
    /// Longest duration in milliseconds.
    pub max_duration_ms: Option<i32>,
    /// Events detected.
    pub events_detected: i32,
    /// Jobs run.
    pub jobs_run: i32,
    /// Jobs that succeeded.
    pub jobs_succeeded: i32,
    /// Jobs that failed.
    pub jobs_failed: i32,
}

impl From<&InvocationFigures> for InvocationMetrics {
    fn from(f: &InvocationFigures) -> Self {
        let d = &f.durations;
        Self {
            invocations: int(f.total),
            completed: int(f.completed),
            failed: int(f.failed),
            running: int(f.running),
            success_rate: f.success_rate(),
            avg_duration_ms: d.average(),
            p50_duration_ms: d.quantile(0.5),
            p95_duration_ms: d.quantile(0.95),
            p99_duration_ms: d.quantile(0.99),
            min_duration_ms: d.min,
            max_duration_ms: d.max,
            events_detected: int(f.events_detected),
            jobs_run: int(f.jobs_run),
            jobs_succeeded: int(f.jobs_succeeded),
            jobs_failed: int(f.jobs_failed),
        }
    }
}

/// One point of a metrics series.
#[derive(SimpleObject, Debug, Clone)]
pub struct MetricsPoint {
    /// Start of the bucket (UTC).
    pub bucket_start: DateTime,
    #[graphql(flatten)]
    pub metrics: InvocationMetrics,
}

/// Figures of one source function.
#[derive(SimpleObject, Debug, Clone)]
pub struct SourceFunctionMetrics {
    /// The detector function.
    pub source_function: String,
    #[graphql(flatten)]
    pub metrics: InvocationMetrics,
}

/// A window's figures in all, and per source function.
#[derive(SimpleObject, Debug, Clone)]
pub struct Overview {
    /// Start of the window.
    pub from: DateTime,
    /// End of the window.
    pub to: DateTime,
    /// Figures of every invocation in the window.
    pub totals: InvocationMetrics,
    /// Figures per source function, most invocations first.
    pub by_source_function: Vec<SourceFunctionMetrics>,
}

/// Figures of one job name.
#[derive(SimpleObject, Debug, Clone)]
pub struct JobStats {
    /// The job's name.
    pub job_name: String,
    /// Runs started.
    pub runs: i32,
    /// Runs that completed.
    pub succeeded: i32,
    /// Runs that failed.
    pub failed: i32,
    /// Runs still running.
    pub running: i32,
    /// Failed share of finished runs, 0 to 1.
    pub failure_rate: Option<f64>,
    /// Mean duration in milliseconds.
    pub avg_duration_ms: Option<f64>,
    /// Median duration in milliseconds (within 1 %).
    pub p50_duration_ms: Option<f64>,
    /// 95th percentile of duration in milliseconds (within 1 %).
    pub p95_duration_ms: Option<f64>,
    /// 99th percentile of duration in milliseconds (within 1 %).
    pub p99_duration_ms: Option<f64>,
    /// Longest duration in milliseconds.
    pub max_duration_ms: Option<i32>,
    /// Source functions whose invocations ran the job.
    pub source_functions: Vec<String>,
}

impl JobStats {
    fn new(job_name: String, f: &JobFigures) -> Self {
        let d = &f.durations;
        Self {
            job_name,
            runs: int(f.runs),
            succeeded: int(f.succeeded),
            failed: int(f.failed),
            running: int(f.running),
            failure_rate: f.failure_rate(),
            avg_duration_ms: d.average(),
            p50_duration_ms: d.quantile(0.5),
            p95_duration_ms: d.quantile(0.95),
            p99_duration_ms: d.quantile(0.99),
            max_duration_ms: d.max,
            source_functions: f.source_functions.iter().cloned().collect(),
        }
    }
}

/// Job failures sharing an error message once numbers, UUIDs and quoted values are masked.
#[derive(SimpleObject, Debug, Clone)]
pub struct ErrorGroup {
    /// The masked message (`<n>`, `<uuid>`, `<hex>`, `"…"` mark what varied).
    pub pattern: String,
    /// Failures in the window.
    pub count: i32,
    /// When the first of them started.
    pub first_seen: DateTime,
    /// When the last of them started.
    pub last_seen: DateTime,
    /// Jobs that failed this way.
    pub job_names: Vec<String>,
    /// The most recent failures, to look at (at most three).
    pub sample_job_execution_ids: Vec<Uuid>,
    /// One real message of the group.
    pub sample_message: String,
}

/// How an event module fared.
#[derive(SimpleObject, Debug, Clone)]
pub struct EventStats {
    /// The event module.
    pub event_name: String,
    /// Times checked.
    pub checked: i32,
    /// Times detected.
    pub detected: i32,
    /// Detected share of checks, 0 to 1.
    pub detection_rate: f64,
    /// Checks that ended `FAILED` (detector or handler error).
    pub failures: i32,
    /// Mean detector duration in milliseconds.
    pub avg_detection_duration_ms: Option<f64>,
    /// Mean handler duration in milliseconds (detected events).
    pub avg_handler_duration_ms: Option<f64>,
}

/// What got worse.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum RegressionMetric {
    /// 95th percentile of duration.
    P95DurationMs,
    /// 99th percentile of duration.
    P99DurationMs,
    /// Failed share of finished runs.
    FailureRate,
}

/// What a regression is about.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum RegressionSubject {
    /// A source function's invocations.
    SourceFunction,
    /// A job name's runs.
    Job,
}

/// How bad a regression is, by how much the metric got worse.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worse by less than 20 %.
    Minor,
    /// Worse by 20 % to 50 %.
    Moderate,
    /// Worse by more than 50 % (or failing where it did not fail before, at 5 % or more).
    Severe,
}

/// A metric that got worse between two windows beyond its threshold.
#[derive(SimpleObject, Debug, Clone)]
pub struct Regression {
    /// What regressed.
    pub subject: RegressionSubject,
    /// The source function or job name.
    pub name: String,
    /// Which metric.
    pub metric: RegressionMetric,
    /// The metric in the baseline window.
    pub baseline: f64,
    /// The metric in the current window.
    pub current: f64,
    /// How much worse, in percent of the baseline; null when the baseline was 0.
    pub change_percent: Option<f64>,
    /// How bad.
    pub severity: Severity,
    /// Runs (invocations or job runs) in the baseline window.
    pub baseline_runs: i32,
    /// Runs in the current window.
    pub current_runs: i32,
}

/// When a change counts as a regression, in percent of the baseline.
#[derive(InputObject, Clone, Copy, Debug)]
pub struct RegressionThresholds {
    /// 95th percentile of duration (default 10 %).
    #[graphql(default = 10.0)]
    pub p95_percent: f64,
    /// 99th percentile of duration (default 15 %).
    #[graphql(default = 15.0)]
    pub p99_percent: f64,
    /// Failure rate (default 50 %).
    #[graphql(default = 50.0)]
    pub failure_rate_percent: f64,
}

impl Default for RegressionThresholds {
    fn default() -> Self {
        Self { p95_percent: 10.0, p99_percent: 15.0, failure_rate_percent: 50.0 }
    }
}

/// The background rollup's progress.
#[derive(SimpleObject, Debug, Clone)]
pub struct RollupStatus {
    /// When it last ran; null if never.
    pub last_run_at: Option<DateTime>,
    /// Writes up to this instant are in the rollups.
    pub watermark: Option<DateTime>,
    /// Seconds between the watermark and now: how stale the rollups are.
    pub lag_seconds: Option<f64>,
    /// Rollup rows the last run wrote.
    pub rows_refreshed: i32,
    /// How long the last run took, in milliseconds.
    pub last_duration_ms: Option<i32>,
    /// Why the last run failed, if it did (it is retried on the next tick).
    pub last_error: Option<String>,
    /// Seconds between runs on this server; 0 when this server does not run the rollup.
    pub interval_seconds: i32,
}

/// Settings the analytics resolvers read.
#[derive(Debug, Clone)]
pub struct AnalyticsSettings {
    pub max_window_days: u32,
    pub rollup_interval_seconds: u64,
}

#[derive(Default)]
pub struct AnalyticsQuery;

fn settings<'a>(ctx: &Context<'a>) -> ApiResult<&'a AnalyticsSettings> {
    ctx.data::<AnalyticsSettings>().map_err(|_| ApiError::internal(anyhow::anyhow!("schema built without settings")))
}

fn limit(value: i32, max: i32) -> ApiResult<usize> {
    if !(0..=max).contains(&value) {
        return Err(ApiError::bad_field("limit", format!("`limit` must be between 0 and {max}, got {value}")));
    }
    Ok(value as usize)
}

#[Object]
impl AnalyticsQuery {
    /// A time series of invocation figures with a point for every bucket of the window (empty
    /// buckets are zero). Served from the rollups, and from raw rows for the hours the rollup
    /// has not reached yet.
    async fn metrics(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The span of time.")] window: TimeWindow,
        #[graphql(desc = "One point per hour or per day.", default_with = "MetricsBucket::Hour")] bucket: MetricsBucket,
        #[graphql(desc = "Only this source function.", validator(custom = "super::filter::FilterText"))]
        source_function: Option<String>,
    ) -> Result<Vec<MetricsPoint>> {
        let (from, to) = window.bounds("window", settings(ctx)?.max_window_days)?;
        let bucket = match bucket {
            MetricsBucket::Hour => Bucket::Hour,
            MetricsBucket::Day => Bucket::Day,
        };
        let db = &api(ctx)?.db();
        let groups = window::invocation_figures(db, from, to, bucket, source_function.as_deref())
            .await
            .map_err(ApiError::from)?;
        let mut per_bucket: BTreeMap<Instant, InvocationFigures> = BTreeMap::new();
        for ((start, _), f) in groups {
            per_bucket.entry(start).or_default().merge(&f);
        }
        let step = if bucket == Bucket::Hour { TimeDelta::hours(1) } else { TimeDelta::days(1) };
        let mut points = Vec::new();
        let mut start = bucket.start(from, from);
        while start < to {
            let f = per_bucket.remove(&start).unwrap_or_default();
            points.push(MetricsPoint { bucket_start: start.into(), metrics: (&f).into() });
            start += step;
        }
        Ok(points)
    }

    /// Figures for the whole window, in all and per source function. Includes the current
    /// hour (from raw rows), so it is never a rollup interval stale.
    async fn overview(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The span of time.")] window: TimeWindow,
        #[graphql(desc = "Only this source function.", validator(custom = "super::filter::FilterText"))]
        source_function: Option<String>,
    ) -> Result<Overview> {
        let (from, to) = window.bounds("window", settings(ctx)?.max_window_days)?;
        let db = &api(ctx)?.db();
        let groups = window::invocation_figures(db, from, to, Bucket::Whole, source_function.as_deref())
            .await
            .map_err(ApiError::from)?;
        let mut totals = InvocationFigures::default();
        let mut by_source_function: Vec<(String, InvocationFigures)> = Vec::new();
        for ((_, key), f) in groups {
            totals.merge(&f);
            by_source_function.push((key, f));
        }
        by_source_function.sort_by(|a, b| b.1.total.cmp(&a.1.total).then_with(|| a.0.cmp(&b.0)));
        Ok(Overview {
            from: from.into(),
            to: to.into(),
            totals: (&totals).into(),
            by_source_function: by_source_function
                .iter()
                .map(|(key, f)| SourceFunctionMetrics { source_function: key.clone(), metrics: f.into() })
                .collect(),
        })
    }

    /// Jobs by mean duration, slowest first (the data model's "slowest jobs").
    #[graphql(complexity = "crate::graphql::list_cost(Some(limit), 0, child_complexity)")]
    async fn slowest_jobs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The span of time.")] window: TimeWindow,
        #[graphql(desc = "How many jobs (at most 1000).", default = 10)] limit: i32,
        #[graphql(desc = "Only this job name.", validator(custom = "super::filter::FilterText"))] job_name: Option<
            String,
        >,
    ) -> Result<Vec<JobStats>> {
        let limit = self::limit(limit, 1000)?;
        let mut jobs = job_stats(ctx, window, job_name).await?;
        jobs.retain(|j| j.avg_duration_ms.is_some());
        jobs.sort_by(|a, b| {
            b.avg_duration_ms
                .partial_cmp(&a.avg_duration_ms)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.job_name.cmp(&b.job_name))
        });
        jobs.truncate(limit);
        Ok(jobs)
    }

    /// Jobs that failed, most failures first (ties: higher failure rate first).
    #[graphql(complexity = "crate::graphql::list_cost(Some(limit), 0, child_complexity)")]
    async fn failing_jobs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The span of time.")] window: TimeWindow,
        #[graphql(desc = "How many jobs (at most 1000).", default = 10)] limit: i32,
        #[graphql(desc = "Only this job name.", validator(custom = "super::filter::FilterText"))] job_name: Option<
            String,
        >,
    ) -> Result<Vec<JobStats>> {
        let limit = self::limit(limit, 1000)?;
        let mut jobs = job_stats(ctx, window, job_name).await?;
        jobs.retain(|j| j.failed > 0);
        jobs.sort_by(|a, b| {
            b.failed
                .cmp(&a.failed)
                .then_with(|| b.failure_rate.partial_cmp(&a.failure_rate).unwrap_or(std::cmp::Ordering::Equal))
                .then_with(|| a.job_name.cmp(&b.job_name))
        });
        jobs.truncate(limit);
        Ok(jobs)
    }

    /// Job failures grouped by their error message with numbers, UUIDs, long hex strings and
    /// quoted values masked, most frequent first.
    #[graphql(complexity = "crate::graphql::list_cost(Some(limit), 0, child_complexity)")]
    async fn error_groups(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The span of time (by when the failed jobs started).")] window: TimeWindow,
        #[graphql(desc = "How many groups (at most 1000).", default = 20)] limit: i32,
    ) -> Result<Vec<ErrorGroup>> {
        let limit = self::limit(limit, 1000)?;
        let (from, to) = window.bounds("window", settings(ctx)?.max_window_days)?;
        let groups = stats::error_groups(&api(ctx)?.db(), from, to, limit).await.map_err(ApiError::from)?;
        Ok(groups
            .into_iter()
            .map(|g| ErrorGroup {
                pattern: g.pattern,
                count: int(g.count),
                first_seen: g.first_seen.into(),
                last_seen: g.last_seen.into(),
                job_names: g.job_names,
                sample_job_execution_ids: g.samples,
                sample_message: g.sample_message,
            })
            .collect())
    }

    /// Per event module: how often it was checked and detected, how long detection and handling
    /// took, how often it failed. Most checked first.
    async fn event_stats(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The span of time (by when the checks started).")] window: TimeWindow,
    ) -> Result<Vec<EventStats>> {
        let (from, to) = window.bounds("window", settings(ctx)?.max_window_days)?;
        let events = stats::event_stats(&api(ctx)?.db(), from, to).await.map_err(ApiError::from)?;
        Ok(events
            .into_iter()
            .map(|e| EventStats {
                detection_rate: if e.checked > 0 { e.detected as f64 / e.checked as f64 } else { 0.0 },
                event_name: e.event_name,
                checked: int(e.checked),
                detected: int(e.detected),
                failures: int(e.failed),
                avg_detection_duration_ms: e.avg_detection_ms,
                avg_handler_duration_ms: e.avg_handler_ms,
            })
            .collect())
    }

    /// Invocations still `RUNNING` longer than the threshold, oldest first: functions that died
    /// or hang before reporting their end.
    #[graphql(complexity = "crate::graphql::list_cost(Some(limit), 0, child_complexity)")]
    async fn stuck_invocations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Running for more than this many minutes.", default = 15)] older_than_minutes: i32,
        #[graphql(desc = "How many (at most 1000).", default = 100)] limit: i32,
    ) -> Result<Vec<Fast<Invocation>>> {
        if older_than_minutes < 0 {
            return Err(ApiError::bad_field("olderThanMinutes", "`olderThanMinutes` must not be negative").into());
        }
        let limit = self::limit(limit, 1000)?;
        let before = Utc::now() - TimeDelta::minutes(i64::from(older_than_minutes));
        let rows = stats::stuck_invocations(&api(ctx)?.db(), before, limit as u64).await.map_err(ApiError::from)?;
        Ok(rows.into_iter().map(|row| Fast(Invocation(std::sync::Arc::new(row)))).collect())
    }

    /// Source functions and jobs whose p95 or p99 duration or failure rate got worse from the
    /// baseline window to the current one beyond the thresholds, worst first. Severity follows
    /// how much worse: under 20 % minor, 20–50 % moderate, over 50 % severe.
    async fn regressions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The window to judge.")] current: TimeWindow,
        #[graphql(desc = "The window to compare with.")] baseline: TimeWindow,
        #[graphql(desc = "When a change counts (defaults: p95 +10 %, p99 +15 %, failure rate +50 %).")]
        thresholds: Option<RegressionThresholds>,
        #[graphql(desc = "Ignore names with fewer runs than this in either window.", default = 20)] min_runs: i32,
    ) -> Result<Vec<Regression>> {
        let max = settings(ctx)?.max_window_days;
        let (cur_from, cur_to) = current.bounds("current", max)?;
        let (base_from, base_to) = baseline.bounds("baseline", max)?;
        let thresholds = thresholds.unwrap_or_default();
        let min_runs = i64::from(min_runs.max(0));
        let db = &api(ctx)?.db();
        let mut out = Vec::new();

        let now =
            window::invocation_figures(db, cur_from, cur_to, Bucket::Whole, None).await.map_err(ApiError::from)?;
        let before =
            window::invocation_figures(db, base_from, base_to, Bucket::Whole, None).await.map_err(ApiError::from)?;
        let before: BTreeMap<String, InvocationFigures> = before.into_iter().map(|((_, k), f)| (k, f)).collect();
        for ((_, name), cur) in now {
            let Some(base) = before.get(&name) else { continue };
            if cur.total < min_runs || base.total < min_runs {
                continue;
            }
            let subject = RegressionSubject::SourceFunction;
            let runs = (int(base.total), int(cur.total));
            compare(&mut out, subject, &name, runs, &base.durations, &cur.durations, thresholds);
            compare_rates(&mut out, subject, &name, runs, base.failure_rate(), cur.failure_rate(), thresholds);
        }

        let now = window::job_figures(db, cur_from, cur_to, Bucket::Whole, None).await.map_err(ApiError::from)?;
        let before = window::job_figures(db, base_from, base_to, Bucket::Whole, None).await.map_err(ApiError::from)?;
        let before: BTreeMap<String, JobFigures> = before.into_iter().map(|((_, k), f)| (k, f)).collect();
        for ((_, name), cur) in now {
            let Some(base) = before.get(&name) else { continue };
            if cur.runs < min_runs || base.runs < min_runs {
                continue;
            }
            let subject = RegressionSubject::Job;
            let runs = (int(base.runs), int(cur.runs));
            compare(&mut out, subject, &name, runs, &base.durations, &cur.durations, thresholds);
            compare_rates(&mut out, subject, &name, runs, base.failure_rate(), cur.failure_rate(), thresholds);
        }
        out.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| {
                    b.change_percent.unwrap_or(f64::INFINITY).total_cmp(&a.change_percent.unwrap_or(f64::INFINITY))
                })
                .then_with(|| a.name.cmp(&b.name))
        });
        Ok(out)
    }

    /// The background rollup's progress.
    async fn rollup_status(&self, ctx: &Context<'_>) -> Result<RollupStatus> {
        let state = rollup::state(&api(ctx)?.db()).await.map_err(ApiError::from)?;
        let interval_seconds = int(settings(ctx)?.rollup_interval_seconds as i64);
        Ok(match state {
            None => RollupStatus {
                last_run_at: None,
                watermark: None,
                lag_seconds: None,
                rows_refreshed: 0,
                last_duration_ms: None,
                last_error: None,
                interval_seconds,
            },
            Some(s) => RollupStatus {
                last_run_at: s.last_run_at.map(Into::into),
                watermark: s.watermark.map(Into::into),
                lag_seconds: s.watermark.map(rollup::lag_seconds),
                rows_refreshed: s.rows_refreshed,
                last_duration_ms: s.last_duration_ms,
                last_error: s.last_error,
                interval_seconds,
            },
        })
    }
}

async fn job_stats(ctx: &Context<'_>, window: TimeWindow, job_name: Option<String>) -> ApiResult<Vec<JobStats>> {
    let (from, to) = window.bounds("window", settings(ctx)?.max_window_days)?;
    let groups = window::job_figures(&api(ctx)?.db(), from, to, Bucket::Whole, job_name.as_deref()).await?;
    Ok(groups.into_iter().map(|((_, name), f)| JobStats::new(name, &f)).collect())
}

fn severity(change_percent: f64) -> Severity {
    if change_percent > 50.0 {
        Severity::Severe
    } else if change_percent >= 20.0 {
        Severity::Moderate
    } else {
        Severity::Minor
    }
}

/// Duration regressions (p95, p99) of one name.
fn compare(
    out: &mut Vec<Regression>,
    subject: RegressionSubject,
    name: &str,
    runs: (i32, i32),
    base: &crate::analytics::figures::Durations,
    cur: &crate::analytics::figures::Durations,
    t: RegressionThresholds,
) {
    for (metric, q, threshold) in
        [(RegressionMetric::P95DurationMs, 0.95, t.p95_percent), (RegressionMetric::P99DurationMs, 0.99, t.p99_percent)]
    {
        let (Some(b), Some(c)) = (base.quantile(q), cur.quantile(q)) else { continue };
        if b <= 0.0 {
            continue;
        }
        let change = (c - b) / b * 100.0;
        if change > threshold {
            out.push(Regression {
                subject,
                name: name.to_owned(),
                metric,
                baseline: b,
                current: c,
                change_percent: Some(change),
                severity: severity(change),
                baseline_runs: runs.0,
                current_runs: runs.1,
            });
        }
    }
}

/// A failure-rate regression of one name. From a rate of zero the change has no percentage:
/// any failures count, severe from 5 %, moderate from 1 %.
fn compare_rates(
    out: &mut Vec<Regression>,
    subject: RegressionSubject,
    name: &str,
    runs: (i32, i32),
    base: Option<f64>,
    cur: Option<f64>,
    t: RegressionThresholds,
) {
    let (Some(b), Some(c)) = (base, cur) else { return };
    let (change, severity) = if b > 0.0 {
        let change = (c - b) / b * 100.0;
        if change <= t.failure_rate_percent {
            return;
        }
        (Some(change), severity(change))
    } else if c > 0.0 {
        (
            None,
            if c >= 0.05 {
                Severity::Severe
            } else if c >= 0.01 {
                Severity::Moderate
            } else {
                Severity::Minor
            },
        )
    } else {
        return;
    };
    out.push(Regression {
        subject,
        name: name.to_owned(),
        metric: RegressionMetric::FailureRate,
        baseline: b,
        current: c,
        change_percent: change,
        severity,
        baseline_runs: runs.0,
        current_runs: runs.1,
    });
}
