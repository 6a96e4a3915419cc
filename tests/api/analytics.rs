//! Rollups and analytics: the rollup equals a direct computation over raw rows (for random data,
//! incrementally, idempotently and across restarts); every analytics field on crafted data with
//! known answers; bad windows rejected clearly.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, DurationRound, TimeDelta, TimeZone, Utc};
use entity::status::{EventExecutionStatus, InvocationStatus, JobExecutionStatus};
use entity::{
    invocations, job_executions, job_metrics_daily, job_metrics_hourly, metrics_daily, metrics_hourly, rollup_state,
};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use runlens::seed::{SeedPlan, Tree};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{at, at_str, event, invocation, job, lone};
use crate::helpers::TestApp;

const OVERVIEW: &str = "query($from: DateTime!, $to: DateTime) { overview(window: {from: $from, to: $to}) {
  totals { invocations completed failed running successRate avgDurationMs p50DurationMs p95DurationMs
           p99DurationMs minDurationMs maxDurationMs eventsDetected jobsRun jobsSucceeded jobsFailed }
  bySourceFunction { sourceFunction invocations completed failed p95DurationMs jobsRun } } }";

/// Whatever the rollups hold, answers equal those computed from the raw rows alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolled_up_answers_equal_raw_answers() {
    let app = TestApp::spawn().await;
    let now = chrono::Utc::now();
    runlens::seed::run(&app.db, &runlens::seed::SeedPlan { invocations: 400, days: 3, random_seed: 4, now })
        .await
        .unwrap();
    let window = json!({ "from": (now - chrono::TimeDelta::days(4)).to_rfc3339(), "to": now.to_rfc3339() });
    let raw = app.data(OVERVIEW, window.clone()).await;
    let report = app.rollup().await;
    assert!(report.rows_written > 0);
    assert_eq!(app.data(OVERVIEW, window.clone()).await, raw);
    assert_eq!(app.rollup().await.rows_written, 0, "a second run changes nothing");
}

// ---------------------------------------------------------------------------------------------
// Queries

/// Every field of `InvocationMetrics`.
const FIGURES: &str = "invocations completed failed running successRate avgDurationMs p50DurationMs p95DurationMs
    p99DurationMs minDurationMs maxDurationMs eventsDetected jobsRun jobsSucceeded jobsFailed";

/// Every field of `JobStats`.
const JOB_FIELDS: &str = "jobName runs succeeded failed running failureRate avgDurationMs p50DurationMs p95DurationMs
    p99DurationMs maxDurationMs sourceFunctions";

fn metrics_query() -> String {
    format!(
        "query($window: TimeWindow!, $bucket: MetricsBucket!, $sf: String) {{
           metrics(window: $window, bucket: $bucket, sourceFunction: $sf) {{ bucketStart {FIGURES} }} }}"
    )
}

fn overview_query() -> String {
    format!(
        "query($window: TimeWindow!, $sf: String) {{ overview(window: $window, sourceFunction: $sf) {{
           from to totals {{ {FIGURES} }} bySourceFunction {{ sourceFunction {FIGURES} }} }} }}"
    )
}

/// `slowestJobs` or `failingJobs`.
fn jobs_query(field: &str) -> String {
    format!(
        "query($window: TimeWindow!, $limit: Int! = 10, $job: String) {{
           {field}(window: $window, limit: $limit, jobName: $job) {{ {JOB_FIELDS} }} }}"
    )
}

const INGEST: &str =
    "mutation($batch: [InvocationTreeInput!]!) { ingest(batch: $batch) { invocations { inserted updated } } }";

const COMPLETE: &str = "mutation($id: UUID!, $ms: Int) {
  completeInvocation(input: {id: $id, status: COMPLETED, totalDurationMs: $ms}) {
    status totalDurationMs eventsDetectedCount totalJobsRun totalJobsSucceeded totalJobsFailed } }";

const STATUS: &str = "{ rollupStatus { lastRunAt watermark lagSeconds rowsRefreshed lastDurationMs lastError
  intervalSeconds } }";

// ---------------------------------------------------------------------------------------------
// Time

/// An instant in March 2026.
fn march(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, minute, 0).unwrap()
}

/// The RFC 3339 form the API returns.
fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn parse(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap_or_else(|| panic!("a DateTime, got {value}")))
        .unwrap()
        .with_timezone(&Utc)
}

// ---------------------------------------------------------------------------------------------
// The reference: figures computed in the test from the rows it inserted

/// The rows a test inserted (as stored), from which it computes the figures it expects.
#[derive(Default)]
struct Reference {
    invocations: Vec<invocations::Model>,
    jobs: Vec<job_executions::Model>,
}

/// Figures of a set of invocations, with their durations sorted.
#[derive(Debug, Default)]
struct InvocationTally {
    total: i64,
    completed: i64,
    failed: i64,
    running: i64,
    events_detected: i64,
    jobs_run: i64,
    jobs_succeeded: i64,
    jobs_failed: i64,
    durations: Vec<i32>,
}

/// Figures of a set of job runs, with their durations sorted.
#[derive(Debug, Default)]
struct JobTally {
    runs: i64,
    succeeded: i64,
    failed: i64,
    running: i64,
    durations: Vec<i32>,
    source_functions: BTreeSet<String>,
}

impl InvocationTally {
    fn of<'a>(rows: impl IntoIterator<Item = &'a invocations::Model>) -> Self {
        let mut t = Self::default();
        for i in rows {
            t.total += 1;
            match i.status {
                InvocationStatus::Completed => t.completed += 1,
                InvocationStatus::Failed => t.failed += 1,
                InvocationStatus::Running => t.running += 1,
            }
            t.events_detected += i64::from(i.events_detected_count);
            t.jobs_run += i64::from(i.total_jobs_run);
            t.jobs_succeeded += i64::from(i.total_jobs_succeeded);
            t.jobs_failed += i64::from(i.total_jobs_failed);
            t.durations.extend(i.total_duration_ms);
        }
        t.durations.sort_unstable();
        t
    }

    /// The `InvocationMetrics` the API should answer (percentiles exact; compare with `assert_matches`).
    fn expected(&self) -> Value {
        let finished = self.completed + self.failed;
        json!({
            "invocations": self.total, "completed": self.completed, "failed": self.failed, "running": self.running,
            "successRate": (finished > 0).then(|| self.completed as f64 / finished as f64),
            "avgDurationMs": average(&self.durations),
            "p50DurationMs": percentile(&self.durations, 0.5),
            "p95DurationMs": percentile(&self.durations, 0.95),
            "p99DurationMs": percentile(&self.durations, 0.99),
            "minDurationMs": self.durations.first(), "maxDurationMs": self.durations.last(),
            "eventsDetected": self.events_detected, "jobsRun": self.jobs_run,
            "jobsSucceeded": self.jobs_succeeded, "jobsFailed": self.jobs_failed,
        })
    }
}

impl JobTally {
    fn average(&self) -> Option<f64> {
        average(&self.durations)
    }

    fn failure_rate(&self) -> Option<f64> {
        let finished = self.succeeded + self.failed;
        (finished > 0).then(|| self.failed as f64 / finished as f64)
    }

    /// The `JobStats` the API should answer.
    fn expected(&self, name: &str) -> Value {
        json!({
            "jobName": name, "runs": self.runs, "succeeded": self.succeeded, "failed": self.failed,
            "running": self.running, "failureRate": self.failure_rate(), "avgDurationMs": self.average(),
            "p50DurationMs": percentile(&self.durations, 0.5),
            "p95DurationMs": percentile(&self.durations, 0.95),
            "p99DurationMs": percentile(&self.durations, 0.99),
            "maxDurationMs": self.durations.last(), "sourceFunctions": self.source_functions,
        })
    }
}

/// The mean, as the server computes it (an exact sum of integers over the count).
fn average(sorted: &[i32]) -> Option<f64> {
    (!sorted.is_empty()).then(|| sorted.iter().map(|&d| i64::from(d)).sum::<i64>() as f64 / sorted.len() as f64)
}

/// The value at rank `floor(q × (n − 1))` of sorted durations: what a percentile must be within 1 % of.
fn percentile(sorted: &[i32], q: f64) -> Option<f64> {
    (!sorted.is_empty()).then(|| f64::from(sorted[(q * (sorted.len() as f64 - 1.0)) as usize]))
}

impl Reference {
    fn add(&mut self, trees: &[Tree]) {
        for tree in trees {
            self.invocations.extend(tree.invocation.iter().cloned());
            self.jobs.extend(tree.jobs.iter().cloned());
        }
    }

    fn invocations_in(&self, from: DateTime<Utc>, to: DateTime<Utc>, sf: Option<&str>) -> Vec<&invocations::Model> {
        self.invocations
            .iter()
            .filter(|i| i.created_at >= from && i.created_at < to && sf.is_none_or(|f| i.source_function == f))
            .collect()
    }

    fn totals(&self, from: DateTime<Utc>, to: DateTime<Utc>, sf: Option<&str>) -> InvocationTally {
        InvocationTally::of(self.invocations_in(from, to, sf))
    }

    /// Per source function, most invocations first (ties by name).
    fn by_function(&self, from: DateTime<Utc>, to: DateTime<Utc>, sf: Option<&str>) -> Vec<(String, InvocationTally)> {
        let mut groups: BTreeMap<&str, Vec<&invocations::Model>> = BTreeMap::new();
        for i in self.invocations_in(from, to, sf) {
            groups.entry(&i.source_function).or_default().push(i);
        }
        let mut out: Vec<(String, InvocationTally)> =
            groups.into_iter().map(|(k, rows)| (k.to_owned(), InvocationTally::of(rows))).collect();
        out.sort_by(|a, b| b.1.total.cmp(&a.1.total).then_with(|| a.0.cmp(&b.0)));
        out
    }

    /// Per job name, of the jobs started in `[from, to)`.
    fn jobs(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> BTreeMap<String, JobTally> {
        let functions: HashMap<Uuid, &str> =
            self.invocations.iter().map(|i| (i.id, i.source_function.as_str())).collect();
        let mut out: BTreeMap<String, JobTally> = BTreeMap::new();
        for j in self.jobs.iter().filter(|j| j.created_at >= from && j.created_at < to) {
            let t = out.entry(j.job_name.clone()).or_default();
            t.runs += 1;
            match j.status {
                JobExecutionStatus::Completed => t.succeeded += 1,
                JobExecutionStatus::Failed => t.failed += 1,
                JobExecutionStatus::Running => t.running += 1,
            }
            t.durations.extend(j.duration_ms);
            t.source_functions.insert(functions[&j.invocation_id].to_owned());
        }
        for t in out.values_mut() {
            t.durations.sort_unstable();
        }
        out
    }

    /// `slowestJobs` as it should be: jobs with a duration, by mean duration, slowest first.
    fn slowest(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Value> {
        let jobs = self.jobs(from, to);
        let mut names: Vec<(&String, f64)> =
            jobs.iter().filter_map(|(name, t)| t.average().map(|avg| (name, avg))).collect();
        names.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        names.into_iter().map(|(name, _)| jobs[name].expected(name)).collect()
    }

    /// `failingJobs` as it should be: jobs that failed, most failures first, then by failure rate.
    fn failing(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Value> {
        let jobs = self.jobs(from, to);
        let mut names: Vec<(&String, &JobTally)> = jobs.iter().filter(|(_, t)| t.failed > 0).collect();
        names.sort_by(|a, b| {
            b.1.failed
                .cmp(&a.1.failed)
                .then_with(|| b.1.failure_rate().unwrap_or(0.0).total_cmp(&a.1.failure_rate().unwrap_or(0.0)))
                .then_with(|| a.0.cmp(b.0))
        });
        names.into_iter().map(|(name, t)| t.expected(name)).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Comparing answers

/// Whether a field holds a duration percentile, which the API gives within 1 %.
fn is_percentile(key: &str) -> bool {
    matches!(key, "p50DurationMs" | "p95DurationMs" | "p99DurationMs")
}

/// Asserts that `actual` equals `expected`: same keys and lengths, integers exactly, percentile
/// fields within 1 % of the exact rank value, other floats within a relative 1e-9 (1e-6 for
/// averages).
fn assert_matches(actual: &Value, expected: &Value, path: &str) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            let (ka, ke): (BTreeSet<&String>, BTreeSet<&String>) = (a.keys().collect(), e.keys().collect());
            assert_eq!(ka, ke, "{path}: fields");
            for (key, e) in e {
                let field_path = format!("{path}.{key}");
                if is_percentile(key) {
                    assert_percentile(&a[key], e, &field_path);
                } else {
                    assert_matches(&a[key], e, &field_path);
                }
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            assert_eq!(a.len(), e.len(), "{path}: length\n actual: {actual}\n expected: {expected}");
            for (i, (a, e)) in a.iter().zip(e).enumerate() {
                assert_matches(a, e, &format!("{path}[{i}]"));
            }
        }
        (Value::Number(a), Value::Number(e)) if e.is_f64() || a.is_f64() => {
            let (a, e) = (a.as_f64().unwrap(), e.as_f64().unwrap());
            let tolerance = if path.ends_with("avgDurationMs") { 1e-6 } else { 1e-9 } * e.abs().max(1.0);
            assert!((a - e).abs() <= tolerance, "{path}: {a}, expected {e}");
        }
        _ => assert_eq!(actual, expected, "{path}"),
    }
}

/// A percentile within 1 % of the exact value at its rank (null when there is none).
fn assert_percentile(actual: &Value, exact: &Value, path: &str) {
    match exact.as_f64() {
        None => assert!(actual.is_null(), "{path}: {actual}, expected null"),
        Some(exact) => {
            let a = actual.as_f64().unwrap_or_else(|| panic!("{path}: {actual}, expected about {exact}"));
            assert!((a - exact).abs() <= 0.01 * exact.abs() + 1e-9, "{path}: {a}, expected {exact} within 1 %");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Random data

/// A window of the random-data tests; `to: None` means "until now".
struct Window {
    label: &'static str,
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
}

/// A window with edges inside hours, on purpose (`from` even inside a second).
fn ragged() -> (DateTime<Utc>, DateTime<Utc>) {
    (march(1, 5, 17) + TimeDelta::milliseconds(23_500), march(3, 19, 3))
}

fn windows() -> Vec<Window> {
    vec![
        Window { label: "whole days", from: march(1, 0, 0), to: Some(march(4, 0, 0)) },
        Window { label: "ragged edges", from: ragged().0, to: Some(ragged().1) },
        Window { label: "empty days around", from: march(1, 0, 0) - TimeDelta::hours(26), to: Some(march(4, 2, 0)) },
        Window { label: "until now", from: march(1, 0, 0) - TimeDelta::days(1), to: None },
    ]
}

/// Realistic seeded trees from 1 March 00:00 to 4 March 00:00, plus random trees on, just
/// before and just after hour, day and window edges (to the microsecond).
fn random_history(seed: u64, invocations: u32) -> Vec<Tree> {
    let plan = SeedPlan { invocations, days: 3, random_seed: seed, now: march(4, 0, 0) };
    let mut trees: Vec<Tree> = runlens::seed::trees(&plan).collect();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut edges = vec![ragged().0, ragged().1];
    for day in 1..=3 {
        for hour in [0, 5, 13, 23] {
            edges.push(march(day, hour, 0));
        }
    }
    for edge in edges {
        for delta in [-1, 0, 1] {
            trees.push(random_tree(&mut rng, edge + TimeDelta::microseconds(delta)));
        }
    }
    trees
}

/// A random tree started at `t`: any status, durations from 0 ms, some null; jobs of any
/// status started within a microsecond of `t`. Counters agree with the children.
fn random_tree(rng: &mut StdRng, t: DateTime<Utc>) -> Tree {
    const FUNCTIONS: [&str; 3] = ["event-detector-moves", "sf-edge-north", "sf-edge-south"];
    const JOBS: [&str; 4] = ["sendEmail", "edgeAlpha", "edgeBeta", "edgeGamma"];
    let mut i = invocation(t);
    i.source_function = (*FUNCTIONS.choose(rng).unwrap()).to_owned();
    (i.status, i.total_duration_ms) = match rng.random_range(0..10) {
        0..=5 => (InvocationStatus::Completed, Some(rng.random_range(0..3_000))),
        6..=7 => (InvocationStatus::Failed, Some(rng.random_range(0..3_000))),
        _ => (InvocationStatus::Running, None),
    };
    let mut tree = Tree::default();
    for _ in 0..rng.random_range(0..=2) {
        let mut e = event(&i, "edge.checked", t);
        if rng.random_bool(0.3) {
            e.detected = Some(false);
            e.status = EventExecutionStatus::NotDetected;
            e.handler_duration_ms = None;
        } else {
            i.events_detected_count += 1;
            for _ in 0..rng.random_range(0..=3) {
                let mut j = job(&e, JOBS.choose(rng).unwrap(), t + TimeDelta::microseconds(rng.random_range(-1..=1)));
                (j.status, j.duration_ms) = match rng.random_range(0..10) {
                    0..=6 => (JobExecutionStatus::Completed, Some(rng.random_range(0..2_000))),
                    7..=8 => (JobExecutionStatus::Failed, Some(rng.random_range(0..2_000))),
                    _ => (JobExecutionStatus::Running, None),
                };
                e.jobs_count += 1;
                i.total_jobs_run += 1;
                match j.status {
                    JobExecutionStatus::Completed => {
                        e.jobs_succeeded += 1;
                        i.total_jobs_succeeded += 1;
                    }
                    JobExecutionStatus::Failed => {
                        e.jobs_failed += 1;
                        i.total_jobs_failed += 1;
                    }
                    JobExecutionStatus::Running => {}
                }
                tree.jobs.push(j);
            }
        }
        tree.events.push(e);
    }
    tree.invocation = Some(i);
    tree
}

/// `[start, from, to)` of each bucket of `[from, to)`: its start, and the part of the window in it.
fn buckets(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    step: TimeDelta,
) -> Vec<(DateTime<Utc>, DateTime<Utc>, DateTime<Utc>)> {
    let mut out = Vec::new();
    let mut start = from.duration_trunc(step).unwrap();
    while start < to {
        out.push((start, start.max(from), (start + step).min(to)));
        start += step;
    }
    out
}

/// Checks every analytics answer over `w` against the reference, and returns them all (to
/// compare answers before and after a rollup run).
async fn check_window(app: &TestApp, r: &Reference, w: &Window) -> Value {
    let label = w.label;
    let window = json!({ "from": ts(w.from), "to": w.to.map(ts) });
    // Everything inserted is long past.
    let end = w.to.unwrap_or_else(Utc::now);
    let mut answers = serde_json::Map::new();

    // The busiest source function, and the most run job.
    let top_function = r.by_function(w.from, end, None).first().map(|(name, _)| name.clone()).unwrap();
    let jobs = r.jobs(w.from, end);
    let top_job = jobs.iter().max_by_key(|(name, t)| (t.runs, std::cmp::Reverse(*name))).unwrap().0.clone();

    if let Some(to) = w.to {
        for (bucket, step) in [("HOUR", TimeDelta::hours(1)), ("DAY", TimeDelta::days(1))] {
            for sf in [None, Some(top_function.as_str())] {
                let vars = json!({ "window": window, "bucket": bucket, "sf": sf });
                let points = app.data(&metrics_query(), vars).await["metrics"].clone();
                let expected: Vec<Value> = buckets(w.from, to, step)
                    .into_iter()
                    .map(|(start, a, b)| {
                        let mut point = r.totals(a, b, sf).expected();
                        point["bucketStart"] = json!(ts(start));
                        point
                    })
                    .collect();
                assert_matches(&points, &json!(expected), &format!("{label}: metrics {bucket} {sf:?}"));
                answers.insert(format!("metrics {bucket} {sf:?}"), points);
            }
        }
    }

    for sf in [None, Some(top_function.as_str()), Some("no-such-function")] {
        let mut overview = app.data(&overview_query(), json!({ "window": window, "sf": sf })).await["overview"].clone();
        assert_eq!(overview["from"], ts(w.from));
        match w.to {
            Some(to) => assert_eq!(overview["to"], ts(to)),
            // "Now" moves on between requests.
            None => assert!(parse(&overview["to"]) > march(4, 0, 0)),
        }
        overview.as_object_mut().unwrap().remove("to");
        let by: Vec<Value> = r
            .by_function(w.from, end, sf)
            .into_iter()
            .map(|(name, t)| {
                let mut figures = t.expected();
                figures["sourceFunction"] = json!(name);
                figures
            })
            .collect();
        let expected = json!({ "from": ts(w.from), "totals": r.totals(w.from, end, sf).expected(),
                               "bySourceFunction": by });
        assert_matches(&overview, &expected, &format!("{label}: overview {sf:?}"));
        answers.insert(format!("overview {sf:?}"), overview);
    }

    let slowest = app.data(&jobs_query("slowestJobs"), json!({ "window": window, "limit": 1000 })).await;
    assert_matches(&slowest["slowestJobs"], &json!(r.slowest(w.from, end)), &format!("{label}: slowestJobs"));
    let failing = app.data(&jobs_query("failingJobs"), json!({ "window": window, "limit": 1000 })).await;
    assert_matches(&failing["failingJobs"], &json!(r.failing(w.from, end)), &format!("{label}: failingJobs"));
    let first_three = app.data(&jobs_query("slowestJobs"), json!({ "window": window, "limit": 3 })).await;
    assert_eq!(first_three["slowestJobs"], json!(slowest["slowestJobs"].as_array().unwrap()[..3]));
    let one = app.data(&jobs_query("slowestJobs"), json!({ "window": window, "limit": 1000, "job": top_job })).await;
    assert_matches(&one["slowestJobs"], &json!([jobs[&top_job].expected(&top_job)]), &format!("{label}: {top_job}"));
    answers.insert("slowestJobs".into(), slowest["slowestJobs"].clone());
    answers.insert("failingJobs".into(), failing["failingJobs"].clone());
    Value::Object(answers)
}

async fn rollup_state(app: &TestApp) -> rollup_state::Model {
    rollup_state::Entity::find_by_id("metrics").one(&app.db).await.unwrap().expect("a rollup state row")
}

async fn hourly_row(app: &TestApp, hour: DateTime<Utc>, source_function: &str) -> metrics_hourly::Model {
    metrics_hourly::Entity::find()
        .filter(metrics_hourly::Column::HourBucket.eq(hour))
        .filter(metrics_hourly::Column::SourceFunction.eq(source_function))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no metrics_hourly row for {hour} {source_function}"))
}

/// `refreshed_at` of every rollup row, by table and id.
async fn refreshed_at(app: &TestApp) -> BTreeMap<(&'static str, Uuid), Option<DateTime<Utc>>> {
    let mut out = BTreeMap::new();
    for row in metrics_hourly::Entity::find().all(&app.db).await.unwrap() {
        out.insert(("metrics_hourly", row.id), row.refreshed_at);
    }
    for row in metrics_daily::Entity::find().all(&app.db).await.unwrap() {
        out.insert(("metrics_daily", row.id), row.refreshed_at);
    }
    for row in job_metrics_hourly::Entity::find().all(&app.db).await.unwrap() {
        out.insert(("job_metrics_hourly", row.id), row.refreshed_at);
    }
    for row in job_metrics_daily::Entity::find().all(&app.db).await.unwrap() {
        out.insert(("job_metrics_daily", row.id), row.refreshed_at);
    }
    out
}

/// (hour, key) groups of the given trees: what a run must recompute after they are written.
fn groups_of(trees: &[Tree]) -> usize {
    let hour = |t: DateTime<Utc>| t.duration_trunc(TimeDelta::hours(1)).unwrap();
    let invocations: BTreeSet<(DateTime<Utc>, &str)> =
        trees.iter().flat_map(|t| &t.invocation).map(|i| (hour(i.created_at), i.source_function.as_str())).collect();
    let jobs: BTreeSet<(DateTime<Utc>, &str)> =
        trees.iter().flat_map(|t| &t.jobs).map(|j| (hour(j.created_at), j.job_name.as_str())).collect();
    invocations.len() + jobs.len()
}

/// Sends trees through the `ingest` mutation, as clients write them (`updated_at` is the
/// time of the write).
async fn ingest(app: &TestApp, trees: &[Tree]) {
    let batch: Vec<Value> = trees.iter().map(Tree::to_input).collect();
    let data = app.data(INGEST, json!({ "batch": batch })).await;
    assert_eq!(data["ingest"]["invocations"]["inserted"], trees.len());
}

/// A finished invocation of `source_function` at `t` with one detected event and jobs of the
/// given names (completed, 40 ms, except names starting with `fail` which failed after 60 ms).
fn finished_tree(source_function: &str, t: DateTime<Utc>, duration_ms: i32, jobs: &[&str]) -> Tree {
    let mut i = invocation(t);
    i.source_function = source_function.to_owned();
    i.total_duration_ms = Some(duration_ms);
    let mut e = event(&i, "thing.happened", t + TimeDelta::milliseconds(1));
    let mut tree = Tree::default();
    for (n, name) in jobs.iter().enumerate() {
        let mut j = job(&e, name, t + TimeDelta::milliseconds(2 + n as i64));
        if name.starts_with("fail") {
            j.status = JobExecutionStatus::Failed;
            j.duration_ms = Some(60);
            j.error_message = Some("socket hang up".to_owned());
            e.jobs_failed += 1;
        } else {
            e.jobs_succeeded += 1;
        }
        e.jobs_count += 1;
        tree.jobs.push(j);
    }
    i.events_detected_count = 1;
    (i.total_jobs_run, i.total_jobs_succeeded, i.total_jobs_failed) = (e.jobs_count, e.jobs_succeeded, e.jobs_failed);
    tree.events.push(e);
    tree.invocation = Some(i);
    tree
}

// ---------------------------------------------------------------------------------------------
// 1. Rollups equal figures computed from raw rows

/// For random data over several days, with rows on and next to every kind of edge: `metrics`
/// (per hour and per day, in all and for one function), `overview` (in all, for one function,
/// for an unknown one), `slowestJobs` and `failingJobs` equal what the test computes from the
/// rows it inserted — before any rollup run (raw rows only), after one (rollups), and after
/// the raw rows are deleted (rollups only, for windows the rollups cover whole).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollups_equal_figures_computed_from_raw_rows_for_random_data() {
    let app = TestApp::spawn().await;
    let trees = random_history(7, 700);
    let mut reference = Reference::default();
    reference.add(&trees);
    app.insert(trees).await;

    let mut raw = Vec::new();
    for w in &windows() {
        raw.push(check_window(&app, &reference, w).await);
    }

    assert!(raw[0]["failingJobs"].as_array().unwrap().len() >= 3, "the data has failing jobs");
    let report = app.rollup().await;
    assert!(!report.skipped);
    assert!(report.groups > 500, "every (hour, key) group is computed on the first run: {report:?}");
    assert!(report.rows_written > report.groups, "hours, then days: {report:?}");
    for (w, before) in windows().iter().zip(raw) {
        let after = check_window(&app, &reference, w).await;
        assert_eq!(after, before, "{}: the same answers from rollups as from raw rows", w.label);
    }

    // Rollups outlive raw rows: with the raw rows gone, windows of whole rolled-up hours are
    // answered from the rollups alone, unchanged.
    for table in ["job_logs", "job_executions", "event_executions", "invocations"] {
        app.db.execute_unprepared(&format!("DELETE FROM {table}")).await.unwrap();
    }
    for w in windows().iter().filter(|w| w.label != "ragged edges") {
        check_window(&app, &reference, w).await;
    }
}

/// Around the horizon: hours before the last run's hour come from the rollups, the hour of the
/// last run (the current one) from raw rows — so rows written into it after the run count at
/// once, in `metrics` (per hour and per day), `overview` and the job lists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hour_of_the_last_run_is_answered_from_raw_rows() {
    let app = TestApp::spawn().await;
    let hour = |t: DateTime<Utc>| t.duration_trunc(TimeDelta::hours(1)).unwrap();
    let mut rng = StdRng::seed_from_u64(55);
    let start = hour(Utc::now()) - TimeDelta::hours(3);
    let before: Vec<Tree> = (0..40)
        .map(|_| {
            let t = start + TimeDelta::seconds(rng.random_range(0..2 * 3600));
            random_tree(&mut rng, t)
        })
        .collect();
    let mut reference = Reference::default();
    reference.add(&before);
    app.insert(before).await;
    app.rollup().await;

    // Rows in the hour of the run, written after it (directly, so no run will ever see them).
    let watermark = rollup_state(&app).await.watermark.unwrap();
    let horizon = hour(watermark);
    let span = (watermark - horizon).num_microseconds().unwrap().max(1);
    let after: Vec<Tree> = (0..15)
        .map(|k| {
            let t = if k == 0 { horizon } else { horizon + TimeDelta::microseconds(rng.random_range(0..span)) };
            random_tree(&mut rng, runlens::db::micros(t))
        })
        .collect();
    reference.add(&after);
    app.insert(after).await;

    for w in [
        Window { label: "across the horizon", from: start, to: Some(horizon + TimeDelta::hours(1)) },
        Window { label: "until now", from: start - TimeDelta::minutes(30), to: None },
    ] {
        check_window(&app, &reference, &w).await;
    }
}

/// On PostgreSQL a run takes an advisory lock; while another process holds it, a run does
/// nothing and says so, and the next run once it is free does the work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_skips_while_another_process_holds_the_rollup_lock() {
    if !matches!(crate::helpers::backend(), crate::helpers::Backend::Postgres { .. }) {
        return; // SQLite has one writer at a time: there is no lock to contend for.
    }
    use sea_orm::TransactionTrait;
    let app = TestApp::spawn().await;
    app.insert(vec![lone(inv("sf-locked", at(0), DONE, Some(10)))]).await;
    // The rollup's key: "runlens!" in ASCII.
    let other = app.db.begin().await.unwrap();
    other
        .execute_unprepared(&format!("SELECT pg_advisory_xact_lock({})", runlens::analytics::rollup::LOCK_KEY))
        .await
        .unwrap();
    let skipped = app.rollup().await;
    assert_eq!(skipped, runlens::analytics::rollup::RunReport { skipped: true, groups: 0, rows_written: 0 });
    assert_eq!(app.data(STATUS, json!({})).await["rollupStatus"]["lastRunAt"], Value::Null);
    other.commit().await.unwrap();
    let report = app.rollup().await;
    assert_eq!((report.skipped, report.groups, report.rows_written), (false, 1, 2), "an hour row and a day row");
}

/// Durations of 0 ms are durations like any other: in the mean, the minimum and the
/// percentiles (which are then exactly 0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_durations_count_in_means_and_percentiles() {
    let app = TestApp::spawn().await;
    let trees = [0, 0, 0, 10].into_iter().enumerate().map(|(k, ms)| lone(inv("sf-zero", at(k as i64), DONE, Some(ms))));
    app.insert(trees.collect()).await;
    for rolled_up in [false, true] {
        if rolled_up {
            app.rollup().await;
        }
        let totals = app.data(&overview_query(), json!({ "window": { "from": at_str(0), "to": at_str(60) } })).await;
        let totals = &totals["overview"]["totals"];
        assert_eq!(
            [&totals["avgDurationMs"], &totals["p50DurationMs"], &totals["p95DurationMs"], &totals["p99DurationMs"]],
            [&json!(2.5), &json!(0.0), &json!(0.0), &json!(0.0)],
            "rolled up: {rolled_up}"
        );
        assert_eq!((&totals["minDurationMs"], &totals["maxDurationMs"]), (&json!(0), &json!(10)));
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Incremental runs

/// After a run, new rows in an already rolled-up hour (through `ingest`) and an invocation
/// created days earlier that completes late (`completeInvocation`) are picked up by the next
/// run, which recomputes only their groups; the stored rows and every answer then equal the
/// raw figures again. Until that run, rolled-up hours answer from the rollups (stale).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incremental_run_recomputes_only_the_groups_written_since_the_last_one() {
    let app = TestApp::spawn().await;
    let mut trees = random_history(21, 300);
    // A late invocation: started 1 March 13:20 with a detected event and two finished jobs,
    // still running; and a finished neighbour in its (hour, function) group.
    let late_hour = march(1, 13, 0);
    let mut late = finished_tree("sf-late", late_hour + TimeDelta::minutes(20), 0, &["lateJob", "failLate"]);
    let late_invocation = late.invocation.as_mut().unwrap();
    (late_invocation.status, late_invocation.total_duration_ms) = (InvocationStatus::Running, None);
    let late_id = late_invocation.id;
    trees.push(late);
    trees.push(finished_tree("sf-late", late_hour + TimeDelta::minutes(5), 500, &["lateJob"]));
    let mut reference = Reference::default();
    reference.add(&trees);
    app.insert(trees).await;

    let first = app.rollup().await;
    assert!(first.groups > 200 && first.rows_written > 0, "{first:?}");
    let watermark = rollup_state(&app).await.watermark.unwrap();
    let row = hourly_row(&app, late_hour, "sf-late").await;
    assert_eq!(
        (row.total_invocations, row.completed_count, row.failed_count, row.running_count),
        (2, 1, 0, 1),
        "{row:?}"
    );
    assert_eq!((row.events_detected, row.jobs_run, row.jobs_succeeded, row.jobs_failed), (2, 3, 2, 1));
    assert_eq!(
        (row.duration_count, row.duration_sum_ms, row.min_duration_ms, row.max_duration_ms),
        (1, 500.0, Some(500), Some(500))
    );
    assert_eq!(row.refreshed_at, Some(watermark));
    // A row of a group nobody writes to below (random edge trees start at 3 March 05:00).
    let untouched = metrics_hourly::Entity::find()
        .filter(metrics_hourly::Column::HourBucket.eq(march(3, 5, 0)))
        .one(&app.db)
        .await
        .unwrap()
        .expect("a rolled-up row for 3 March 05:00");
    let whole = &windows()[0];
    let before_late_completion = check_window(&app, &reference, whole).await;

    // New rows in a rolled-up hour, written through the API: one tree of a known function.
    let new_tree = finished_tree("event-detector-moves", march(2, 10, 15), 700, &["sendEmail", "newJob", "failNew"]);
    ingest(&app, std::slice::from_ref(&new_tree)).await;
    assert_eq!(
        app.assert_counters_match_children(&new_tree.invocation.as_ref().unwrap().id.to_string()).await,
        [1, 3, 2, 1]
    );
    // The late invocation completes, days after it started.
    let done = app.data(COMPLETE, json!({ "id": late_id, "ms": 900 })).await["completeInvocation"].clone();
    assert_eq!(
        done,
        json!({ "status": "COMPLETED", "totalDurationMs": 900, "eventsDetectedCount": 1, "totalJobsRun": 2,
                "totalJobsSucceeded": 1, "totalJobsFailed": 1 })
    );

    // Until the next run, the rolled-up hours answer from the rollups.
    let whole_window = json!({ "window": { "from": ts(whole.from), "to": whole.to.map(ts) } });
    let stale = app.data(&overview_query(), whole_window).await["overview"]["totals"].clone();
    assert_eq!(stale, before_late_completion["overview None"]["totals"], "rolled-up hours are not re-read");

    reference.add(std::slice::from_ref(&new_tree));
    let late = reference.invocations.iter_mut().find(|i| i.id == late_id).unwrap();
    (late.status, late.total_duration_ms) = (InvocationStatus::Completed, Some(900));

    let second = app.rollup().await;
    // Invocations: (2 March 10:00, event-detector-moves) and (1 March 13:00, sf-late); jobs:
    // the new tree's three (hour, job name) groups.
    assert_eq!(second.groups, 5, "only the touched groups: {second:?}");
    assert_eq!(groups_of(&[new_tree]) + 1, 5);
    // Each touched group's hour row and its day row.
    assert_eq!(second.rows_written, 10, "{second:?}");
    let second_watermark = rollup_state(&app).await.watermark.unwrap();
    assert!(second_watermark > watermark);

    let row_after = hourly_row(&app, late_hour, "sf-late").await;
    assert_eq!(row_after.id, row.id, "the row is updated in place");
    assert_eq!(row_after.created_at, row.created_at);
    assert_eq!(
        (row_after.total_invocations, row_after.completed_count, row_after.failed_count, row_after.running_count),
        (2, 2, 0, 0)
    );
    assert_eq!(
        (row_after.events_detected, row_after.jobs_run, row_after.jobs_succeeded, row_after.jobs_failed),
        (2, 3, 2, 1)
    );
    assert_eq!(
        (row_after.duration_count, row_after.duration_sum_ms, row_after.min_duration_ms, row_after.max_duration_ms),
        (2, 1400.0, Some(500), Some(900))
    );
    assert_eq!(row_after.avg_duration_ms, Some(700.0));
    assert_eq!(row_after.refreshed_at, Some(second_watermark));
    let daily = metrics_daily::Entity::find()
        .filter(metrics_daily::Column::DayBucket.eq(march(1, 0, 0)))
        .filter(metrics_daily::Column::SourceFunction.eq("sf-late"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            daily.total_invocations,
            daily.completed_count,
            daily.running_count,
            daily.duration_count,
            daily.duration_sum_ms
        ),
        (2, 2, 0, 2, 1400.0)
    );
    assert_eq!(daily.refreshed_at, Some(second_watermark));
    let new_job = job_metrics_hourly::Entity::find()
        .filter(job_metrics_hourly::Column::HourBucket.eq(march(2, 10, 0)))
        .filter(job_metrics_hourly::Column::JobName.eq("newJob"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((new_job.runs, new_job.succeeded, new_job.failed, new_job.running), (1, 1, 0, 0));
    assert_eq!(new_job.source_functions, json!(["event-detector-moves"]));
    // A group nobody wrote to keeps its row as it was.
    assert_eq!(hourly_row(&app, untouched.hour_bucket, &untouched.source_function).await, untouched);

    for w in &windows() {
        check_window(&app, &reference, w).await;
    }

    // The rows just written are still inside the overlap: the next run looks at the same
    // groups again, and finds nothing to change.
    let snapshot = refreshed_at(&app).await;
    let third = app.rollup().await;
    assert_eq!((third.groups, third.rows_written), (5, 0), "{third:?}");
    assert_eq!(refreshed_at(&app).await, snapshot);
}

// ---------------------------------------------------------------------------------------------
// 3. Idempotence

/// A second run over unchanged data writes nothing and leaves every rollup row's
/// `refreshed_at` as it was — also for groups it looks at again because of the overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_writes_nothing_and_keeps_refreshed_at() {
    let app = TestApp::spawn().await;
    app.insert(random_history(33, 300)).await;
    // Rows written just now (inside the overlap of the next runs).
    let recent = [
        finished_tree("sf-recent", march(2, 7, 30), 120, &["sendEmail", "failRecent"]),
        finished_tree("event-detector-moves", march(3, 22, 59), 80, &["recentJob"]),
    ];
    ingest(&app, &recent).await;

    let first = app.rollup().await;
    assert!(first.rows_written > 0);
    let snapshot = refreshed_at(&app).await;
    assert_eq!(snapshot.len(), first.rows_written, "the first run wrote every row there is");
    let state = rollup_state(&app).await;

    let second = app.rollup().await;
    assert_eq!(second.groups, groups_of(&recent), "the overlap brings the recent groups back: {second:?}");
    assert_eq!(second.rows_written, 0, "{second:?}");
    assert_eq!(refreshed_at(&app).await, snapshot);
    let state_after = rollup_state(&app).await;
    assert!(state_after.watermark > state.watermark, "the watermark still moves on");
    assert_eq!(state_after.rows_refreshed, 0);
    let status = app.data(STATUS, json!({})).await;
    assert_eq!(status["rollupStatus"]["rowsRefreshed"], 0);
}

// ---------------------------------------------------------------------------------------------
// 4. Restart

/// The rollup's state lives in the database: `rollupStatus` reports it, and a run by a
/// "restarted" server (its own connection pool and write lock on the same database) resumes
/// from the stored watermark, recomputing only what was written since.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_resumes_from_the_stored_watermark() {
    let app = TestApp::spawn().await;
    let status = app.data(STATUS, json!({})).await["rollupStatus"].clone();
    assert_eq!(
        status,
        json!({ "lastRunAt": null, "watermark": null, "lagSeconds": null, "rowsRefreshed": 0, "lastDurationMs": null,
                "lastError": null, "intervalSeconds": 0 })
    );

    let trees = random_history(44, 200);
    let mut reference = Reference::default();
    reference.add(&trees);
    app.insert(trees).await;
    let started = Utc::now();
    let report = app.rollup().await;
    let status = app.data(STATUS, json!({})).await["rollupStatus"].clone();
    let (last_run, watermark) = (parse(&status["lastRunAt"]), parse(&status["watermark"]));
    assert_eq!(last_run, watermark, "the watermark is the instant the run started");
    assert!(watermark >= started - TimeDelta::seconds(1) && watermark <= Utc::now(), "{status}");
    assert_eq!(status["rowsRefreshed"], report.rows_written);
    assert!(status["lastDurationMs"].as_i64().unwrap() >= 0);
    assert_eq!(status["lastError"], Value::Null);
    assert_eq!(status["intervalSeconds"], 0);
    let lag = status["lagSeconds"].as_f64().unwrap();
    assert!((0.0..60.0).contains(&lag), "{status}");

    // Written after that run, through the API.
    let later = [finished_tree("sf-after-restart", march(2, 3, 45), 250, &["sendEmail", "afterJob"])];
    ingest(&app, &later).await;
    reference.add(&later);

    // A new process: its own pool and write lock, nothing shared with the server but the database.
    let db = runlens::db::connect(&runlens::config::DatabaseConfig::for_url(app.database_url())).await.unwrap();
    let writer = runlens::db::WriteLock::for_backend(runlens::db::backend(&db));
    let resumed =
        runlens::analytics::rollup::refresh_once(&db, &writer, std::time::Duration::from_secs(120)).await.unwrap();
    db.close().await.unwrap();
    assert!(!resumed.skipped);
    assert_eq!(resumed.groups, groups_of(&later), "resumed from the watermark, not from scratch: {resumed:?}");
    assert_eq!(resumed.rows_written, 2 * groups_of(&later), "an hour row and a day row per group: {resumed:?}");

    let status = app.data(STATUS, json!({})).await["rollupStatus"].clone();
    assert!(parse(&status["watermark"]) > watermark);
    assert_eq!(status["rowsRefreshed"], resumed.rows_written);
    check_window(&app, &reference, &windows()[0]).await;
}

// ---------------------------------------------------------------------------------------------
// 5. Background task

/// With `rollup_interval_secs = 1` the server runs the rollup by itself: `rollupStatus` shows a
/// run, and rows written through the API reach the rollup tables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_task_keeps_the_rollups_fresh() {
    let app = TestApp::spawn_with(|c| c.rollup.rollup_interval_secs = 1).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        let status = app.data(STATUS, json!({})).await["rollupStatus"].clone();
        if !status["lastRunAt"].is_null() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "no rollup run within 30 s: {status}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(status["intervalSeconds"], 1);
    assert_eq!(status["lastError"], Value::Null);
    assert!(!status["watermark"].is_null());

    ingest(&app, &[finished_tree("sf-background", at(7), 321, &["backgroundJob"])]).await;
    loop {
        let row = metrics_hourly::Entity::find()
            .filter(metrics_hourly::Column::SourceFunction.eq("sf-background"))
            .one(&app.db)
            .await
            .unwrap();
        if let Some(row) = row {
            assert_eq!((row.hour_bucket, row.total_invocations, row.max_duration_ms), (at(0), 1, Some(321)));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the ingested invocation never reached metrics_hourly");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Every analytics field on crafted data

/// An invocation of `source_function` at `t`.
fn inv(
    source_function: &str,
    t: DateTime<Utc>,
    status: InvocationStatus,
    duration_ms: Option<i32>,
) -> invocations::Model {
    let mut i = invocation(t);
    i.source_function = source_function.to_owned();
    i.status = status;
    i.total_duration_ms = duration_ms;
    i
}

/// With invocation counters `[events detected, jobs run, succeeded, failed]`.
fn counted(mut i: invocations::Model, [events, run, ok, failed]: [i32; 4]) -> invocations::Model {
    (i.events_detected_count, i.total_jobs_run, i.total_jobs_succeeded, i.total_jobs_failed) =
        (events, run, ok, failed);
    i
}

use InvocationStatus::{Completed as DONE, Failed as FAILED, Running as RUNNING};

/// A metrics point of an empty bucket: zero counts, no durations, no success rate.
fn zero_point(start: DateTime<Utc>) -> Value {
    json!({ "bucketStart": ts(start), "invocations": 0, "completed": 0, "failed": 0, "running": 0,
            "successRate": null, "avgDurationMs": null, "p50DurationMs": null, "p95DurationMs": null,
            "p99DurationMs": null, "minDurationMs": null, "maxDurationMs": null, "eventsDetected": 0, "jobsRun": 0,
            "jobsSucceeded": 0, "jobsFailed": 0 })
}

/// Runs `metrics` and returns its points.
async fn metrics(app: &TestApp, from: DateTime<Utc>, to: DateTime<Utc>, bucket: &str, sf: Option<&str>) -> Value {
    let vars = json!({ "window": { "from": ts(from), "to": ts(to) }, "bucket": bucket, "sf": sf });
    app.data(&metrics_query(), vars).await["metrics"].clone()
}

/// `metrics` has a point for every bucket of the window; empty ones are zero with null
/// durations; the first day bucket of a window starting mid-day starts at midnight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_give_every_bucket_with_empty_ones_zero() {
    let app = TestApp::spawn().await;
    app.insert(vec![
        lone(counted(inv("sf-a", at(10), DONE, Some(100)), [2, 3, 2, 1])),
        lone(counted(inv("sf-a", at(20), FAILED, Some(300)), [1, 1, 0, 1])),
        lone(inv("sf-b", at(30), DONE, Some(200))),
        lone(inv("sf-a", at(190), RUNNING, None)),
        lone(inv("sf-b", at(-690), DONE, Some(50))),
        lone(inv("sf-b", at(24 * 60 + 5), DONE, Some(70))),
    ])
    .await;
    let noon = json!({ "bucketStart": at_str(0), "invocations": 3, "completed": 2, "failed": 1, "running": 0,
        "successRate": 2.0 / 3.0, "avgDurationMs": 200.0, "p50DurationMs": 200.0, "p95DurationMs": 200.0,
        "p99DurationMs": 200.0, "minDurationMs": 100, "maxDurationMs": 300, "eventsDetected": 3, "jobsRun": 4,
        "jobsSucceeded": 2, "jobsFailed": 2 });
    let mut three = zero_point(at(180));
    (three["invocations"], three["running"]) = (json!(1), json!(1));
    let single = |start: DateTime<Utc>, ms: i32| {
        json!({ "bucketStart": ts(start), "invocations": 1, "completed": 1, "failed": 0, "running": 0,
            "successRate": 1.0, "avgDurationMs": ms, "p50DurationMs": ms, "p95DurationMs": ms, "p99DurationMs": ms,
            "minDurationMs": ms, "maxDurationMs": ms, "eventsDetected": 0, "jobsRun": 0, "jobsSucceeded": 0,
            "jobsFailed": 0 })
    };
    // 1 March: 00:30 (50 ms), 12:10, 12:20, 12:30 and 15:10 (running).
    let first_day = json!({ "bucketStart": ts(march(1, 0, 0)), "invocations": 5, "completed": 3, "failed": 1,
        "running": 1, "successRate": 0.75, "avgDurationMs": 162.5, "p50DurationMs": 100.0, "p95DurationMs": 200.0,
        "p99DurationMs": 200.0, "minDurationMs": 50, "maxDurationMs": 300, "eventsDetected": 3, "jobsRun": 4,
        "jobsSucceeded": 2, "jobsFailed": 2 });
    let mut first_day_from_six = noon.clone();
    for (field, value) in [("bucketStart", json!(ts(march(1, 0, 0)))), ("invocations", json!(4)), ("running", json!(1))]
    {
        first_day_from_six[field] = value;
    }

    for rolled_up in [false, true] {
        if rolled_up {
            assert!(app.rollup().await.rows_written > 0);
        }
        let hours = metrics(&app, at(0), at(300), "HOUR", None).await;
        let expected = json!([noon, zero_point(at(60)), zero_point(at(120)), three, zero_point(at(240))]);
        assert_matches(&hours, &expected, &format!("hours (rolled up: {rolled_up})"));
        // A window ending inside an hour: 15:10 is after its end.
        let hours = metrics(&app, at(0), at(185), "HOUR", None).await;
        let expected = json!([noon, zero_point(at(60)), zero_point(at(120)), zero_point(at(180))]);
        assert_matches(&hours, &expected, "hours to 15:05");
        let hours = metrics(&app, at(0), at(300), "HOUR", Some("sf-b")).await;
        let expected = json!([
            single(at(0), 200),
            zero_point(at(60)),
            zero_point(at(120)),
            zero_point(at(180)),
            zero_point(at(240))
        ]);
        assert_matches(&hours, &expected, "hours of sf-b");

        let feb_28 = march(1, 0, 0) - TimeDelta::days(1);
        let days = metrics(&app, feb_28, march(3, 0, 0), "DAY", None).await;
        let expected = json!([zero_point(feb_28), first_day, single(march(2, 0, 0), 70)]);
        assert_matches(&days, &expected, "days");
        let days = metrics(&app, march(1, 6, 0), march(2, 12, 6), "DAY", None).await;
        let expected = json!([first_day_from_six, single(march(2, 0, 0), 70)]);
        assert_matches(&days, &expected, "days from 06:00");
    }
}

/// `overview`: totals and figures per source function, most invocations first (ties by name);
/// `sourceFunction` narrows both; `to` defaults to now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overview_breaks_figures_down_by_source_function_most_invocations_first() {
    let app = TestApp::spawn().await;
    app.insert(vec![
        lone(counted(inv("b-func", at(1), DONE, Some(100)), [1, 2, 2, 0])),
        lone(inv("b-func", at(2), DONE, Some(200))),
        lone(inv("b-func", at(3), FAILED, Some(600))),
        lone(inv("c-func", at(4), DONE, Some(300))),
        lone(inv("c-func", at(5), RUNNING, None)),
        lone(inv("c-func", at(6), RUNNING, None)),
        lone(inv("d-func", at(7), DONE, Some(50))),
        lone(counted(inv("d-func", at(8), FAILED, Some(150)), [2, 3, 1, 2])),
        lone(inv("a-func", at(9), DONE, Some(1000))),
        // Outside [at(0), at(60)).
        lone(inv("a-func", at(70), DONE, Some(1000))),
        lone(inv("d-func", at(-1), DONE, Some(1))),
    ])
    .await;
    let figures = |counts: [i64; 4], rate: Value, avg: f64, p: [f64; 3], min_max: [i32; 2], jobs: [i64; 4]| {
        json!({ "invocations": counts[0], "completed": counts[1], "failed": counts[2], "running": counts[3],
            "successRate": rate, "avgDurationMs": avg, "p50DurationMs": p[0], "p95DurationMs": p[1],
            "p99DurationMs": p[2], "minDurationMs": min_max[0], "maxDurationMs": min_max[1], "eventsDetected": jobs[0],
            "jobsRun": jobs[1], "jobsSucceeded": jobs[2], "jobsFailed": jobs[3] })
    };
    let with_name = |name: &str, mut f: Value| {
        f["sourceFunction"] = json!(name);
        f
    };
    let b = figures([3, 2, 1, 0], json!(2.0 / 3.0), 300.0, [200.0; 3], [100, 600], [1, 2, 2, 0]);
    let c = figures([3, 1, 0, 2], json!(1.0), 300.0, [300.0; 3], [300, 300], [0; 4]);
    let d = figures([2, 1, 1, 0], json!(0.5), 100.0, [50.0; 3], [50, 150], [2, 3, 1, 2]);
    let a = figures([1, 1, 0, 0], json!(1.0), 1000.0, [1000.0; 3], [1000, 1000], [0; 4]);
    // Durations 50, 100, 150, 200, 300, 600, 1000: ranks 3 (p50) and 5 (p95, p99).
    let totals = figures([9, 5, 2, 2], json!(5.0 / 7.0), 2400.0 / 7.0, [200.0, 600.0, 600.0], [50, 1000], [3, 5, 3, 2]);
    let window = json!({ "from": at_str(0), "to": at_str(60) });

    for rolled_up in [false, true] {
        if rolled_up {
            app.rollup().await;
        }
        let all = app.data(&overview_query(), json!({ "window": window })).await["overview"].clone();
        let expected = json!({ "from": at_str(0), "to": at_str(60), "totals": totals,
            "bySourceFunction": [with_name("b-func", b.clone()), with_name("c-func", c.clone()),
                                 with_name("d-func", d.clone()), with_name("a-func", a.clone())] });
        assert_matches(&all, &expected, &format!("overview (rolled up: {rolled_up})"));

        let one = app.data(&overview_query(), json!({ "window": window, "sf": "d-func" })).await["overview"].clone();
        let expected = json!({ "from": at_str(0), "to": at_str(60), "totals": d,
                               "bySourceFunction": [with_name("d-func", d.clone())] });
        assert_matches(&one, &expected, "overview of d-func");

        let none = app.data(&overview_query(), json!({ "window": window, "sf": "nope" })).await["overview"].clone();
        let mut zero = zero_point(at(0));
        zero.as_object_mut().unwrap().remove("bucketStart");
        let expected = json!({ "from": at_str(0), "to": at_str(60), "totals": zero, "bySourceFunction": [] });
        assert_matches(&none, &expected, "overview of an unknown function");

        // Until now: a-func's second invocation counts, and ties with d-func (2 each).
        let since = app.data(&overview_query(), json!({ "window": { "from": at_str(0) } })).await["overview"].clone();
        let order: Vec<(&str, i64)> = since["bySourceFunction"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["sourceFunction"].as_str().unwrap(), f["invocations"].as_i64().unwrap()))
            .collect();
        assert_eq!(order, [("b-func", 3), ("c-func", 3), ("a-func", 2), ("d-func", 2)]);
        assert_eq!(since["totals"]["invocations"], 10);
        let to = parse(&since["to"]);
        assert!((Utc::now() - to).num_seconds().abs() < 60, "`to` defaults to now: {to}");
    }
}

/// Jobs of crafted runs: invocations of `orders`, `docs` and `payments`, each with an event.
fn jobs_fixture() -> Vec<Tree> {
    let mut trees = Vec::new();
    let mut tree_of = |sf: &str, t: DateTime<Utc>, jobs: &[(&str, JobExecutionStatus, Option<i32>, i64)]| {
        let i = inv(sf, t, DONE, Some(5000));
        let e = event(&i, "thing.happened", t);
        let jobs = jobs
            .iter()
            .map(|&(name, status, duration, minute)| {
                let mut j = job(&e, name, at(minute));
                (j.status, j.duration_ms) = (status, duration);
                if status == JobExecutionStatus::Failed {
                    j.error_message = Some("boom".to_owned());
                }
                j
            })
            .collect();
        trees.push(Tree { invocation: Some(i), events: vec![e], jobs, logs: vec![] });
    };
    use JobExecutionStatus::{Completed as OK, Failed as KO, Running as RUN};
    tree_of(
        "orders",
        at(0),
        &[
            ("renderPdf", OK, Some(900), 3),
            ("sendEmail", OK, Some(100), 6),
            ("sendEmail", OK, Some(200), 7),
            ("sendEmail", OK, Some(300), 8),
            ("sendEmail", RUN, None, 9),
            ("pending", RUN, None, 11),
        ],
    );
    tree_of("docs", at(1), &[("renderPdf", KO, Some(1100), 4), ("ztie", OK, Some(200), 10)]);
    tree_of("payments", at(2), &[("chargeCard", OK, Some(500), 5)]);
    // In the next hour.
    tree_of("docs", at(70), &[("renderPdf", OK, Some(1000), 71)]);
    tree_of("payments", at(79), &[("sendEmail", OK, Some(200), 80)]);
    // Before the window.
    tree_of("orders", at(-10), &[("renderPdf", OK, Some(5000), -9)]);
    trees
}

/// `slowestJobs`: jobs with a duration by mean duration, slowest first (ties by name), with the
/// source functions that ran them across hours; `limit` and `jobName` narrow the list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowest_jobs_are_ordered_by_mean_duration_with_their_source_functions() {
    let app = TestApp::spawn().await;
    app.insert(jobs_fixture()).await;
    let stats = |name: &str, counts: [i64; 4], rate: f64, avg: f64, p: [f64; 3], max: i32, sources: &[&str]| {
        json!({ "jobName": name, "runs": counts[0], "succeeded": counts[1], "failed": counts[2],
            "running": counts[3], "failureRate": rate, "avgDurationMs": avg, "p50DurationMs": p[0],
            "p95DurationMs": p[1], "p99DurationMs": p[2], "maxDurationMs": max, "sourceFunctions": sources })
    };
    // 900, 1000, 1100 (rank 1 for every percentile).
    let render = stats("renderPdf", [3, 2, 1, 0], 1.0 / 3.0, 1000.0, [1000.0; 3], 1100, &["docs", "orders"]);
    let charge = stats("chargeCard", [1, 1, 0, 0], 0.0, 500.0, [500.0; 3], 500, &["payments"]);
    // 100, 200, 200, 300 and one running.
    let email = stats("sendEmail", [5, 4, 0, 1], 0.0, 200.0, [200.0; 3], 300, &["orders", "payments"]);
    let ztie = stats("ztie", [1, 1, 0, 0], 0.0, 200.0, [200.0; 3], 200, &["docs"]);
    let window = json!({ "from": at_str(0), "to": at_str(120) });

    for rolled_up in [false, true] {
        if rolled_up {
            app.rollup().await;
        }
        let query = jobs_query("slowestJobs");
        let all = app.data(&query, json!({ "window": window })).await["slowestJobs"].clone();
        let expected = json!([render, charge, email, ztie]);
        assert_matches(&all, &expected, &format!("slowestJobs (rolled up: {rolled_up})"));
        let two = app.data(&query, json!({ "window": window, "limit": 2 })).await["slowestJobs"].clone();
        assert_matches(&two, &json!([render, charge]), "limit 2");
        let none = app.data(&query, json!({ "window": window, "limit": 0 })).await["slowestJobs"].clone();
        assert_eq!(none, json!([]));
        let one = app.data(&query, json!({ "window": window, "job": "sendEmail" })).await["slowestJobs"].clone();
        assert_matches(&one, &json!([email]), "jobName sendEmail");
        // Only running: no duration, so not among the slowest.
        let pending = app.data(&query, json!({ "window": window, "job": "pending" })).await["slowestJobs"].clone();
        assert_eq!(pending, json!([]));
        // The first hour only.
        let first = app.data(&query, json!({ "window": { "from": at_str(0), "to": at_str(60) } })).await;
        let names: Vec<&str> =
            first["slowestJobs"].as_array().unwrap().iter().map(|j| j["jobName"].as_str().unwrap()).collect();
        assert_eq!(names, ["renderPdf", "chargeCard", "sendEmail", "ztie"]);
        assert_eq!(first["slowestJobs"][0]["sourceFunctions"], json!(["docs", "orders"]));
        assert_eq!(first["slowestJobs"][2]["sourceFunctions"], json!(["orders"]));
        assert_eq!(first["slowestJobs"][2]["runs"], 4);
    }
}

/// `failingJobs`: only jobs with failures, most failures first, ties by failure rate (of
/// finished runs); running runs count as runs, not in the rate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_jobs_lists_only_jobs_with_failures_most_first() {
    let app = TestApp::spawn().await;
    let i = inv("sf", at(0), DONE, Some(100));
    let e = event(&i, "thing.happened", at(0));
    let mut jobs = Vec::new();
    let mut add = |name: &str, status: JobExecutionStatus, n: usize| {
        for _ in 0..n {
            let mut j = job(&e, name, at(1) + TimeDelta::seconds(jobs.len() as i64));
            j.status = status;
            j.duration_ms = (status != JobExecutionStatus::Running).then_some(10);
            jobs.push(j);
        }
    };
    use JobExecutionStatus::{Completed as OK, Failed as KO, Running as RUN};
    add("c-job", KO, 3);
    add("c-job", OK, 27);
    add("b-job", KO, 2);
    add("b-job", OK, 2);
    add("b-job", RUN, 1);
    add("a-job", KO, 2);
    add("a-job", OK, 8);
    add("ok-job", OK, 5);
    add("d-job", KO, 1);
    app.insert(vec![Tree { invocation: Some(i), events: vec![e], jobs, logs: vec![] }]).await;
    let window = json!({ "from": at_str(0), "to": at_str(60) });

    for rolled_up in [false, true] {
        if rolled_up {
            app.rollup().await;
        }
        let query = jobs_query("failingJobs");
        let all = app.data(&query, json!({ "window": window })).await["failingJobs"].clone();
        let summary: Vec<(&str, i64, i64, i64, f64)> = all
            .as_array()
            .unwrap()
            .iter()
            .map(|j| {
                let n = |f: &str| j[f].as_i64().unwrap();
                (
                    j["jobName"].as_str().unwrap(),
                    n("failed"),
                    n("runs"),
                    n("running"),
                    j["failureRate"].as_f64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [("c-job", 3, 30, 0, 0.1), ("b-job", 2, 5, 1, 0.5), ("a-job", 2, 10, 0, 0.2), ("d-job", 1, 1, 0, 1.0)],
            "rolled up: {rolled_up}"
        );
        let expected = json!({ "jobName": "b-job", "runs": 5, "succeeded": 2, "failed": 2, "running": 1,
            "failureRate": 0.5, "avgDurationMs": 10.0, "p50DurationMs": 10.0, "p95DurationMs": 10.0,
            "p99DurationMs": 10.0, "maxDurationMs": 10, "sourceFunctions": ["sf"] });
        assert_matches(&all[1], &expected, "b-job");
        let two = app.data(&query, json!({ "window": window, "limit": 2 })).await["failingJobs"].clone();
        assert_eq!(two, json!(all.as_array().unwrap()[..2]));
        let ok = app.data(&query, json!({ "window": window, "job": "ok-job" })).await["failingJobs"].clone();
        assert_eq!(ok, json!([]), "a job without failures is not failing");
        let later = app.data(&query, json!({ "window": { "from": at_str(60), "to": at_str(120) } })).await;
        assert_eq!(later["failingJobs"], json!([]));
    }
}

/// `errorGroups`: failures whose messages differ only in numbers, UUIDs or quoted values form
/// one group, with its count, first and last time, job names, the three most recent failures
/// (most recent first) and the most recent message; most frequent first, ties by last seen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_groups_gather_failures_by_normalised_message() {
    let app = TestApp::spawn().await;
    let i = inv("sf", at(0), DONE, Some(100));
    let e = event(&i, "thing.happened", at(0));
    let mut jobs = Vec::new();
    let mut fail = |name: &str, minute: i64, message: &str| -> Uuid {
        let mut j = job(&e, name, at(minute));
        j.status = JobExecutionStatus::Failed;
        j.error_message = Some(message.to_owned());
        let id = j.id;
        jobs.push(j);
        id
    };
    let refused = [
        fail("syncToCrm", 5, "connect ECONNREFUSED 10.0.3.17:5432"),
        fail("pushWebhook", 7, "connect ECONNREFUSED 10.0.3.18:5433"),
        fail("syncToCrm", 9, "connect ECONNREFUSED 192.168.0.1:80"),
        fail("syncToCrm", 11, "connect ECONNREFUSED 10.0.0.1:1"),
    ];
    let missing = [
        fail("scoreRisk", 20, "row 550e8400-e29b-41d4-a716-446655440000 missing"),
        fail("scoreRisk", 21, "row 6ba7b810-9dad-11d1-80b4-00c04fd430c8 missing"),
    ];
    let duplicate = [
        fail("writeAuditLog", 30, "duplicate key value violates unique constraint \"moves_pkey\""),
        fail("syncToCrm", 31, "duplicate key value violates unique constraint \"orders_pkey\""),
    ];
    let hang_up = fail("pushWebhook", 40, "socket hang up");
    // Outside the window, and not failed: not counted.
    fail("syncToCrm", -5, "connect ECONNREFUSED 10.0.3.17:5432");
    fail("syncToCrm", 60, "connect ECONNREFUSED 10.0.3.17:5432");
    let mut ok = job(&e, "syncToCrm", at(12));
    ok.error_message = Some("connect ECONNREFUSED 1.2.3.4:5".to_owned());
    jobs.push(ok);
    app.insert(vec![Tree { invocation: Some(i), events: vec![e], jobs, logs: vec![] }]).await;

    let query = "query($window: TimeWindow!, $limit: Int! = 20) { errorGroups(window: $window, limit: $limit) {
        pattern count firstSeen lastSeen jobNames sampleJobExecutionIds sampleMessage } }";
    let window = json!({ "from": at_str(0), "to": at_str(60) });
    let groups = app.data(query, json!({ "window": window })).await["errorGroups"].clone();
    let expected = json!([
        { "pattern": "connect ECONNREFUSED <n>:<n>", "count": 4, "firstSeen": at_str(5), "lastSeen": at_str(11),
          "jobNames": ["pushWebhook", "syncToCrm"], "sampleJobExecutionIds": [refused[3], refused[2], refused[1]],
          "sampleMessage": "connect ECONNREFUSED 10.0.0.1:1" },
        { "pattern": "duplicate key value violates unique constraint \"…\"", "count": 2, "firstSeen": at_str(30),
          "lastSeen": at_str(31), "jobNames": ["syncToCrm", "writeAuditLog"],
          "sampleJobExecutionIds": [duplicate[1], duplicate[0]],
          "sampleMessage": "duplicate key value violates unique constraint \"orders_pkey\"" },
        { "pattern": "row <uuid> missing", "count": 2, "firstSeen": at_str(20), "lastSeen": at_str(21),
          "jobNames": ["scoreRisk"], "sampleJobExecutionIds": [missing[1], missing[0]],
          "sampleMessage": "row 6ba7b810-9dad-11d1-80b4-00c04fd430c8 missing" },
        { "pattern": "socket hang up", "count": 1, "firstSeen": at_str(40), "lastSeen": at_str(40),
          "jobNames": ["pushWebhook"], "sampleJobExecutionIds": [hang_up], "sampleMessage": "socket hang up" },
    ]);
    assert_eq!(groups, expected);
    let two = app.data(query, json!({ "window": window, "limit": 2 })).await["errorGroups"].clone();
    assert_eq!(two, json!(expected.as_array().unwrap()[..2]));
    let later = app.data(query, json!({ "window": { "from": at_str(41), "to": at_str(60) } })).await;
    assert_eq!(later["errorGroups"], json!([]));
}

/// `eventStats`: per event name, checks, detections, detection rate, failures (detector or
/// handler) and mean durations (of the checks that have one); most checked first, ties by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_stats_count_checks_detections_and_failures() {
    let app = TestApp::spawn().await;
    let i = inv("sf", at(0), DONE, Some(100));
    let mut events = Vec::new();
    let mut check = |name: &str,
                     minute: i64,
                     detected: Option<bool>,
                     status: EventExecutionStatus,
                     detection: Option<i32>,
                     handler: Option<i32>| {
        let mut e = event(&i, name, at(minute));
        (e.detected, e.status, e.detection_duration_ms, e.handler_duration_ms) = (detected, status, detection, handler);
        if status == EventExecutionStatus::Failed {
            if detected == Some(true) {
                e.handler_error = Some("boom".to_owned());
            } else {
                e.detection_error = Some("TypeError".to_owned());
            }
        }
        events.push(e);
    };
    use EventExecutionStatus::{Completed as OK, Detecting, Failed as KO, NotDetected as NO};
    check("move.created", 1, Some(true), OK, Some(10), Some(50));
    check("move.created", 2, Some(true), OK, Some(20), Some(150));
    check("move.created", 3, Some(false), NO, Some(30), None);
    check("move.created", 4, Some(false), KO, Some(40), None);
    check("move.created", 5, Some(true), KO, Some(50), Some(100));
    check("move.cancelled", 6, Some(false), NO, Some(5), None);
    check("move.cancelled", 7, Some(false), NO, Some(7), None);
    check("a.tie", 8, Some(true), OK, Some(1), Some(10));
    check("a.tie", 9, Some(true), OK, Some(3), Some(30));
    check("move.pending", 10, None, Detecting, None, None);
    // Outside the window.
    check("move.created", -1, Some(true), KO, Some(1000), Some(1000));
    check("move.created", 60, Some(true), KO, Some(1000), Some(1000));
    app.insert(vec![Tree { invocation: Some(i), events, jobs: vec![], logs: vec![] }]).await;

    let query = "query($window: TimeWindow!) { eventStats(window: $window) { eventName checked detected detectionRate
        failures avgDetectionDurationMs avgHandlerDurationMs } }";
    let stats = app.data(query, json!({ "window": { "from": at_str(0), "to": at_str(60) } })).await;
    let expected = json!([
        { "eventName": "move.created", "checked": 5, "detected": 3, "detectionRate": 0.6, "failures": 2,
          "avgDetectionDurationMs": 30.0, "avgHandlerDurationMs": 100.0 },
        { "eventName": "a.tie", "checked": 2, "detected": 2, "detectionRate": 1.0, "failures": 0,
          "avgDetectionDurationMs": 2.0, "avgHandlerDurationMs": 20.0 },
        { "eventName": "move.cancelled", "checked": 2, "detected": 0, "detectionRate": 0.0, "failures": 0,
          "avgDetectionDurationMs": 6.0, "avgHandlerDurationMs": null },
        { "eventName": "move.pending", "checked": 1, "detected": 0, "detectionRate": 0.0, "failures": 0,
          "avgDetectionDurationMs": null, "avgHandlerDurationMs": null },
    ]);
    assert_matches(&stats["eventStats"], &expected, "eventStats");
    let empty = app.data(query, json!({ "window": { "from": at_str(11), "to": at_str(60) } })).await;
    assert_eq!(empty["eventStats"], json!([]));
}

/// `stuckInvocations`: running invocations older than the threshold (default 15 minutes),
/// oldest first; finished and recent ones left out; `olderThanMinutes` and `limit` respected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuck_invocations_are_the_old_running_ones_oldest_first() {
    let app = TestApp::spawn().await;
    let now = runlens::db::now();
    let ago = |minutes: i64| now - TimeDelta::minutes(minutes);
    let three_hours = inv("sf-a", ago(180), RUNNING, None);
    let forty = inv("sf-b", ago(40), RUNNING, None);
    let twenty = inv("sf-a", ago(20), RUNNING, None);
    let five = inv("sf-a", ago(5), RUNNING, None);
    let ids = [three_hours.id, forty.id, twenty.id, five.id];
    app.insert(vec![
        lone(twenty),
        lone(five),
        lone(three_hours),
        lone(forty),
        lone(inv("sf-a", ago(300), DONE, Some(10))),
        lone(inv("sf-b", ago(120), FAILED, Some(10))),
    ])
    .await;

    let query = "query($m: Int! = 15, $limit: Int! = 100) { stuckInvocations(olderThanMinutes: $m, limit: $limit) {
        id status } }";
    let stuck = |vars: Value| {
        let app = &app;
        async move {
            let data = app.data(query, vars).await;
            data["stuckInvocations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| {
                    assert_eq!(i["status"], "RUNNING");
                    Uuid::parse_str(i["id"].as_str().unwrap()).unwrap()
                })
                .collect::<Vec<Uuid>>()
        }
    };
    assert_eq!(stuck(json!({})).await, ids[..3]);
    assert_eq!(stuck(json!({ "m": 30 })).await, ids[..2]);
    assert_eq!(stuck(json!({ "m": 0 })).await, ids);
    assert_eq!(stuck(json!({ "m": 600 })).await, Vec::<Uuid>::new());
    assert_eq!(stuck(json!({ "limit": 2 })).await, ids[..2]);
    assert_eq!(stuck(json!({ "m": i32::MAX })).await, Vec::<Uuid>::new());
    // Completing one takes it off the list.
    app.data(COMPLETE, json!({ "id": ids[1], "ms": 1 })).await;
    assert_eq!(stuck(json!({})).await, [ids[0], ids[2]]);
}

/// Invocations of `source_function` in the hour from `start`: `n`, one a minute, all lasting
/// `duration_ms`, the first `failed` of them failed.
fn hour_of_runs(source_function: &str, start: i64, n: usize, duration_ms: i32, failed: usize) -> Vec<Tree> {
    assert!(n <= 60);
    (0..n)
        .map(|k| {
            let status = if k < failed { FAILED } else { DONE };
            lone(inv(source_function, at(start) + TimeDelta::seconds(k as i64 * 60), status, Some(duration_ms)))
        })
        .collect()
}

/// Invocations of `fn-jobs` in the hour from `start`, each with an event running `job-slow`
/// (`slow_ms`) and `job-steady` (50 ms).
fn hour_of_jobs(start: i64, n: usize, slow_ms: i32) -> Vec<Tree> {
    (0..n)
        .map(|k| {
            let t = at(start) + TimeDelta::seconds(k as i64 * 60);
            let i = inv("fn-jobs", t, DONE, Some(1000));
            let e = event(&i, "thing.happened", t);
            let mut slow = job(&e, "job-slow", t);
            slow.duration_ms = Some(slow_ms);
            let mut steady = job(&e, "job-steady", t);
            steady.duration_ms = Some(50);
            Tree { invocation: Some(i), events: vec![e], jobs: vec![slow, steady], logs: vec![] }
        })
        .collect()
}

/// `regressions` between a baseline hour and the current hour: p95/p99 by their thresholds
/// (defaults 10 % and 15 %) with severity by how much worse (under 20 % minor, 20–50 %
/// moderate, over 50 % severe); failure rates (default +50 %, and from zero: severe at 5 %,
/// moderate at 1 %, no percentage); names under `minRuns` in either window, or missing from
/// the baseline, left out; worst first. Same answers from raw rows and from rollups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regressions_compare_a_current_window_with_a_baseline() {
    let app = TestApp::spawn().await;
    let mut trees = Vec::new();
    for (name, base_ms, cur_ms) in
        [("fn-minor", 100, 112), ("fn-moderate", 100, 130), ("fn-severe", 100, 160), ("fn-steady", 100, 105)]
    {
        trees.extend(hour_of_runs(name, 0, 25, base_ms, 0));
        trees.extend(hour_of_runs(name, 60, 25, cur_ms, 0));
    }
    // Failure rates: 0 → 8 %, 4 % → 8 %, 0 → 2 %.
    trees.extend(hour_of_runs("fn-failing", 0, 25, 100, 0));
    trees.extend(hour_of_runs("fn-failing", 60, 25, 100, 2));
    trees.extend(hour_of_runs("fn-more-failing", 0, 25, 100, 1));
    trees.extend(hour_of_runs("fn-more-failing", 60, 25, 100, 2));
    trees.extend(hour_of_runs("fn-fail-trickle", 0, 25, 100, 0));
    trees.extend(hour_of_runs("fn-fail-trickle", 60, 50, 100, 1));
    // Too few runs for the default `minRuns` (20); and a function new in the current window.
    trees.extend(hour_of_runs("fn-small", 0, 10, 100, 0));
    trees.extend(hour_of_runs("fn-small", 60, 10, 300, 0));
    trees.extend(hour_of_runs("fn-new", 60, 30, 900, 10));
    // Jobs: job-slow 200 → 320 ms, job-steady unchanged.
    trees.extend(hour_of_jobs(0, 25, 200));
    trees.extend(hour_of_jobs(60, 25, 320));
    app.insert(trees).await;

    let regression =
        |subject: &str, name: &str, metric: &str, base: f64, cur: f64, change: Option<f64>, severity: &str| {
            let runs = match name {
                "fn-fail-trickle" => (25, 50),
                "fn-small" => (10, 10),
                _ => (25, 25),
            };
            json!({ "subject": subject, "name": name, "metric": metric, "baseline": base, "current": cur,
                "changePercent": change, "severity": severity, "baselineRuns": runs.0, "currentRuns": runs.1 })
        };
    let sf = |name, metric, base, cur, change, severity| {
        regression("SOURCE_FUNCTION", name, metric, base, cur, change, severity)
    };
    let failing = sf("fn-failing", "FAILURE_RATE", 0.0, 0.08, None, "SEVERE");
    let small = [
        sf("fn-small", "P95_DURATION_MS", 100.0, 300.0, Some(200.0), "SEVERE"),
        sf("fn-small", "P99_DURATION_MS", 100.0, 300.0, Some(200.0), "SEVERE"),
    ];
    let more_failing = sf("fn-more-failing", "FAILURE_RATE", 0.04, 0.08, Some(100.0), "SEVERE");
    let severe_p95 = sf("fn-severe", "P95_DURATION_MS", 100.0, 160.0, Some(60.0), "SEVERE");
    let severe_p99 = sf("fn-severe", "P99_DURATION_MS", 100.0, 160.0, Some(60.0), "SEVERE");
    let job_p95 = regression("JOB", "job-slow", "P95_DURATION_MS", 200.0, 320.0, Some(60.0), "SEVERE");
    let job_p99 = regression("JOB", "job-slow", "P99_DURATION_MS", 200.0, 320.0, Some(60.0), "SEVERE");
    let trickle = sf("fn-fail-trickle", "FAILURE_RATE", 0.0, 0.02, None, "MODERATE");
    let moderate_p95 = sf("fn-moderate", "P95_DURATION_MS", 100.0, 130.0, Some(30.0), "MODERATE");
    let moderate_p99 = sf("fn-moderate", "P99_DURATION_MS", 100.0, 130.0, Some(30.0), "MODERATE");
    let minor_p95 = sf("fn-minor", "P95_DURATION_MS", 100.0, 112.0, Some(12.0), "MINOR");

    let query = "query($min: Int! = 20, $t: RegressionThresholds) { regressions(
        baseline: {from: \"2026-03-01T12:00:00Z\", to: \"2026-03-01T13:00:00Z\"},
        current: {from: \"2026-03-01T13:00:00Z\", to: \"2026-03-01T14:00:00Z\"}, minRuns: $min, thresholds: $t) {
          subject name metric baseline current changePercent severity baselineRuns currentRuns } }";
    for rolled_up in [false, true] {
        if rolled_up {
            app.rollup().await;
        }
        let found = app.data(query, json!({})).await["regressions"].clone();
        let expected = json!([
            failing,
            more_failing,
            severe_p95,
            severe_p99,
            job_p95,
            job_p99,
            trickle,
            moderate_p95,
            moderate_p99,
            minor_p95
        ]);
        assert_matches(&found, &expected, &format!("defaults (rolled up: {rolled_up})"));

        let found = app.data(query, json!({ "min": 10 })).await["regressions"].clone();
        let expected = json!([
            failing,
            small[0],
            small[1],
            more_failing,
            severe_p95,
            severe_p99,
            job_p95,
            job_p99,
            trickle,
            moderate_p95,
            moderate_p99,
            minor_p95
        ]);
        assert_matches(&found, &expected, "minRuns 10");

        let strict = json!({ "p95Percent": 35, "p99Percent": 65, "failureRatePercent": 150 });
        let found = app.data(query, json!({ "t": strict })).await["regressions"].clone();
        assert_matches(&found, &json!([failing, severe_p95, job_p95, trickle]), "custom thresholds");

        // Thresholds not given keep their defaults.
        let found = app.data(query, json!({ "t": { "p95Percent": 35 } })).await["regressions"].clone();
        let expected = json!([failing, more_failing, severe_p95, severe_p99, job_p95, job_p99, trickle, moderate_p99]);
        assert_matches(&found, &expected, "p95Percent 35 only");

        // Nothing regressed from a window to itself.
        let same = "{ regressions(minRuns: 0,
            baseline: {from: \"2026-03-01T13:00:00Z\", to: \"2026-03-01T14:00:00Z\"},
            current: {from: \"2026-03-01T13:00:00Z\", to: \"2026-03-01T14:00:00Z\"}) { name } }";
        assert_eq!(app.data(same, json!({})).await["regressions"], json!([]));
    }
}

/// `Invocation.timeline`: the invocation, its events and its jobs in start order (ties: the
/// shallower first), with exact offsets from the invocation's start, depths, parents,
/// durations (detection plus handling for events), end offsets and statuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeline_lists_the_tree_in_start_order_with_exact_offsets() {
    let app = TestApp::spawn().await;
    let start = at(0) + TimeDelta::microseconds(250);
    let us = |micros: i64| start + TimeDelta::microseconds(micros);
    let i = counted(inv("event-detector-moves", start, DONE, Some(1000)), [1, 3, 1, 1]);
    let mut created = event(&i, "move.created", us(0));
    (created.detection_duration_ms, created.handler_duration_ms) = (Some(4), Some(200));
    let mut cancelled = event(&i, "move.cancelled", us(1_500));
    (cancelled.detected, cancelled.status) = (Some(false), EventExecutionStatus::NotDetected);
    (cancelled.detection_duration_ms, cancelled.handler_duration_ms) = (Some(3), None);
    let mut pending = event(&i, "move.pending", us(900_250));
    (pending.detected, pending.status) = (None, EventExecutionStatus::Detecting);
    (pending.detection_duration_ms, pending.handler_duration_ms) = (None, None);
    let mut email = job(&created, "sendEmail", us(4_000));
    email.duration_ms = Some(40);
    let mut charge = job(&created, "chargeCard", us(1_500));
    (charge.status, charge.duration_ms) = (JobExecutionStatus::Failed, Some(15));
    let mut render = job(&created, "renderPdf", us(50_125));
    (render.status, render.duration_ms) = (JobExecutionStatus::Running, None);
    let running = inv("sf-running", at(5), RUNNING, None);
    let entry = |kind: &str,
                 id: Uuid,
                 parent: Option<Uuid>,
                 depth: i32,
                 name: &str,
                 status: &str,
                 micros: i64,
                 duration: Option<i32>| {
        let offset = micros as f64 / 1000.0;
        json!({ "kind": kind, "id": id, "parentId": parent, "depth": depth, "name": name, "status": status,
                "startedAt": ts(us(micros)), "startOffsetMs": offset, "durationMs": duration,
                "endOffsetMs": duration.map(|d| offset + f64::from(d)) })
    };
    let expected = json!([
        entry("INVOCATION", i.id, None, 0, "event-detector-moves", "COMPLETED", 0, Some(1000)),
        entry("EVENT_EXECUTION", created.id, Some(i.id), 1, "move.created", "COMPLETED", 0, Some(204)),
        entry("EVENT_EXECUTION", cancelled.id, Some(i.id), 1, "move.cancelled", "NOT_DETECTED", 1_500, Some(3)),
        entry("JOB_EXECUTION", charge.id, Some(created.id), 2, "chargeCard", "FAILED", 1_500, Some(15)),
        entry("JOB_EXECUTION", email.id, Some(created.id), 2, "sendEmail", "COMPLETED", 4_000, Some(40)),
        entry("JOB_EXECUTION", render.id, Some(created.id), 2, "renderPdf", "RUNNING", 50_125, None),
        entry("EVENT_EXECUTION", pending.id, Some(i.id), 1, "move.pending", "DETECTING", 900_250, None),
    ]);
    let (id, running_id) = (i.id, running.id);
    app.insert(vec![
        Tree {
            invocation: Some(i),
            events: vec![pending, cancelled, created],
            jobs: vec![render, email, charge],
            logs: vec![],
        },
        lone(running),
    ])
    .await;

    let query = "query($id: UUID!) { invocation(id: $id) { timeline { kind id parentId depth name status startedAt
        startOffsetMs durationMs endOffsetMs } } }";
    let timeline = app.data(query, json!({ "id": id })).await["invocation"]["timeline"].clone();
    assert_matches(&timeline, &expected, "timeline");
    let timeline = app.data(query, json!({ "id": running_id })).await["invocation"]["timeline"].clone();
    assert_eq!(
        timeline,
        json!([{ "kind": "INVOCATION", "id": running_id, "parentId": null, "depth": 0, "name": "sf-running",
                 "status": "RUNNING", "startedAt": at_str(5), "startOffsetMs": 0.0, "durationMs": null,
                 "endOffsetMs": null }])
    );
}

// ---------------------------------------------------------------------------------------------
// 7. Bad windows

/// Windows with `from` not before `to`, windows longer than `max_window_days`, limits out of
/// range and negative thresholds are rejected as BAD_USER_INPUT naming the offending argument.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_windows_and_limits_are_rejected_naming_the_argument() {
    let app = TestApp::spawn_with(|c| c.rollup.max_window_days = 7).await;
    let rejected = |field: &str| json!({ "code": "BAD_USER_INPUT", "field": field });
    let backwards = json!({ "window": { "from": at_str(60), "to": at_str(0) } });
    let empty = json!({ "window": { "from": at_str(0), "to": at_str(0) } });
    let eight_days = json!({ "window": { "from": at_str(0), "to": at_str(8 * 24 * 60) } });
    let seven_days = json!({ "window": { "from": at_str(0), "to": at_str(7 * 24 * 60) } });
    let eight_days_to_now = json!({ "window": { "from": ts(Utc::now() - TimeDelta::days(8)) } });
    let future = json!({ "window": { "from": ts(Utc::now() + TimeDelta::hours(1)) } });

    let window_fields = [
        ("metrics", metrics_query().replace("$bucket: MetricsBucket!", "$bucket: MetricsBucket! = HOUR")),
        ("overview", overview_query()),
        ("slowestJobs", jobs_query("slowestJobs")),
        ("failingJobs", jobs_query("failingJobs")),
        ("errorGroups", "query($window: TimeWindow!) { errorGroups(window: $window) { count } }".to_owned()),
        ("eventStats", "query($window: TimeWindow!) { eventStats(window: $window) { checked } }".to_owned()),
    ];
    for (field, query) in &window_fields {
        for vars in [&backwards, &empty, &future] {
            let error = app.rejection(query, vars.clone()).await;
            assert_eq!(error["extensions"], rejected("window.from"), "{field} {vars}");
            assert_eq!(error["message"], "`window.from` must be before `window.to`");
        }
        for vars in [&eight_days, &eight_days_to_now] {
            let error = app.rejection(query, vars.clone()).await;
            assert_eq!(error["extensions"], rejected("window"), "{field} {vars}");
            assert_eq!(
                error["message"],
                "`window` spans more than 7 days, the most this server answers (--max-window-days)"
            );
        }
        let data = app.data(query, seven_days.clone()).await;
        assert!(data[field].is_array() || data[field].is_object(), "7 days is allowed: {field}");
    }

    let limited = [
        ("slowestJobs", "query($w: TimeWindow!, $limit: Int!) { slowestJobs(window: $w, limit: $limit) { jobName } }"),
        ("failingJobs", "query($w: TimeWindow!, $limit: Int!) { failingJobs(window: $w, limit: $limit) { jobName } }"),
        ("errorGroups", "query($w: TimeWindow!, $limit: Int!) { errorGroups(window: $w, limit: $limit) { count } }"),
    ];
    for (field, query) in limited {
        for limit in [-1, 1001] {
            let error = app.rejection(query, json!({ "w": seven_days["window"], "limit": limit })).await;
            assert_eq!(error["extensions"], rejected("limit"), "{field} limit {limit}");
            assert_eq!(error["message"], format!("`limit` must be between 0 and 1000, got {limit}"));
        }
        app.data(query, json!({ "w": seven_days["window"], "limit": 1000 })).await;
    }
    let stuck =
        "query($m: Int! = 15, $limit: Int! = 100) { stuckInvocations(olderThanMinutes: $m, limit: $limit) { id } }";
    assert_eq!(app.rejection(stuck, json!({ "limit": 1001 })).await["extensions"], rejected("limit"));
    assert_eq!(app.rejection(stuck, json!({ "limit": -1 })).await["extensions"], rejected("limit"));
    assert_eq!(app.rejection(stuck, json!({ "m": -1 })).await["extensions"], rejected("olderThanMinutes"));

    let regressions = "query($baseline: TimeWindow!, $current: TimeWindow!) {
        regressions(baseline: $baseline, current: $current) { name } }";
    let good = json!({ "from": at_str(0), "to": at_str(60) });
    let cases = [
        (json!({ "baseline": backwards["window"], "current": good }), "baseline.from"),
        (json!({ "baseline": empty["window"], "current": good }), "baseline.from"),
        (json!({ "baseline": eight_days["window"], "current": good }), "baseline"),
        (json!({ "baseline": good, "current": backwards["window"] }), "current.from"),
        (json!({ "baseline": good, "current": eight_days["window"] }), "current"),
    ];
    for (vars, field) in cases {
        let error = app.rejection(regressions, vars.clone()).await;
        assert_eq!(error["extensions"], rejected(field), "{vars}");
    }
    let error = app.rejection(regressions, json!({ "baseline": backwards["window"], "current": good })).await;
    assert_eq!(error["message"], "`baseline.from` must be before `baseline.to`");
    app.data(regressions, json!({ "baseline": good, "current": good })).await;
}
