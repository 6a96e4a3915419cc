//! Realistic demo data following the data model's lifecycle.
//!
//! Twenty detector functions with skewed (Zipf-like) traffic, each owning five event modules
//! that every invocation checks; about 40 % of checks detect their event, a detected event runs
//! the module's 1–7 jobs, about 10 % of jobs fail with real-looking errors, and jobs write 0–5
//! console lines. Invocations are spread over the last days; the newest are still running and
//! a few old ones are stuck "running" because their function died. Counters on parents are
//! derived from the generated children, exactly as the write path derives them.

use chrono::{DateTime, Duration, TimeDelta, Utc};
use entity::status::{EventExecutionStatus, InvocationStatus, JobExecutionStatus, LogLevel};
use entity::{event_executions, invocations, job_executions, job_logs};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

use crate::config::SeedConfig;
use crate::db::micros;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SeedPlan {
    pub invocations: u32,
    pub days: u32,
    pub random_seed: u64,
    /// The newest possible start time; invocations are spread over `days` before it.
    pub now: DateTime<Utc>,
}

impl SeedPlan {
    pub fn demo(invocations: u32) -> Self {
        Self { invocations, days: 30, random_seed: rand::random(), now: Utc::now() }
    }

    pub fn from_config(config: &SeedConfig) -> Self {
        Self {
            invocations: config.invocations,
            days: config.days.max(1),
            random_seed: config.random_seed.unwrap_or_else(rand::random),
            now: Utc::now(),
        }
    }
}

/// Rows written, per table.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    pub invocations: u64,
    pub event_executions: u64,
    pub job_executions: u64,
    pub job_logs: u64,
}

impl SeedReport {
    pub fn rows(&self) -> u64 {
        self.invocations + self.event_executions + self.job_executions + self.job_logs
    }
}

/// Whether the database holds no invocation yet.
pub async fn is_empty(db: &impl ConnectionTrait) -> Result<bool, DbErr> {
    Ok(invocations::Entity::find().count(db).await? == 0)
}

/// One invocation's whole tree.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    pub invocation: Option<invocations::Model>,
    pub events: Vec<event_executions::Model>,
    pub jobs: Vec<job_executions::Model>,
    pub logs: Vec<job_logs::Model>,
}

/// Invocations written per transaction; about 34 rows each.
const TREES_PER_TRANSACTION: usize = 500;

/// The plan's trees, generated lazily (for tools that send them through the API).
pub fn trees(plan: &SeedPlan) -> impl Iterator<Item = Tree> + use<> {
    let mut generator = Generator::new(plan);
    (0..plan.invocations).map(move |_| generator.tree())
}

impl Tree {
    /// The tree as an `InvocationTreeInput` (the `ingest` mutation's and `POST /ingest`'s
    /// format), with every id and timestamp, so sending it twice changes nothing.
    pub fn to_input(&self) -> serde_json::Value {
        use serde_json::{Map, Value};
        fn object(value: Value) -> Map<String, Value> {
            match value {
                Value::Object(map) => map,
                _ => Map::new(),
            }
        }
        /// Model fields to input fields: camelCase names, GraphQL enum spelling, no derived or
        /// internal columns.
        fn fields(model: &impl serde::Serialize, drop: &[&str]) -> Map<String, Value> {
            let mut out = Map::new();
            for (key, value) in object(serde_json::to_value(model).unwrap_or_default()) {
                if drop.contains(&key.as_str()) || value.is_null() {
                    continue;
                }
                let mut camel = String::new();
                let mut upper = false;
                for ch in key.chars() {
                    if ch == '_' {
                        upper = true;
                    } else {
                        camel.push(if upper { ch.to_ascii_uppercase() } else { ch });
                        upper = false;
                    }
                }
                let value = match (camel.as_str(), value) {
                    ("status" | "level", Value::String(s)) => Value::String(s.to_uppercase()),
                    (_, value) => value,
                };
                out.insert(camel, value);
            }
            out
        }
        let mut root = match &self.invocation {
            Some(invocation) => fields(
                invocation,
                &["events_detected_count", "total_jobs_run", "total_jobs_succeeded", "total_jobs_failed", "updated_at"],
            ),
            None => Map::new(),
        };
        let events: Vec<Value> = self
            .events
            .iter()
            .map(|event| {
                let mut e =
                    fields(event, &["invocation_id", "jobs_count", "jobs_succeeded", "jobs_failed", "updated_at"]);
                let jobs: Vec<Value> = self
                    .jobs
                    .iter()
                    .filter(|job| job.event_execution_id == event.id)
                    .map(|job| {
                        let mut j = fields(job, &["invocation_id", "event_execution_id", "updated_at"]);
                        let logs: Vec<Value> = self
                            .logs
                            .iter()
                            .filter(|log| log.job_execution_id == job.id)
                            .map(|log| Value::Object(fields(log, &["job_execution_id", "updated_at"])))
                            .collect();
                        j.insert("logs".into(), Value::Array(logs));
                        Value::Object(j)
                    })
                    .collect();
                e.insert("jobExecutions".into(), Value::Array(jobs));
                Value::Object(e)
            })
            .collect();
        root.insert("eventExecutions".into(), Value::Array(events));
        Value::Object(root)
    }
}

/// Generates and writes the plan's data, a transaction per batch of trees.
pub async fn run(db: &DatabaseConnection, plan: &SeedPlan) -> anyhow::Result<SeedReport> {
    let mut generator = Generator::new(plan);
    let mut report = SeedReport::default();
    let mut remaining = plan.invocations as usize;
    while remaining > 0 {
        let n = remaining.min(TREES_PER_TRANSACTION);
        remaining -= n;
        let trees: Vec<Tree> = (0..n).map(|_| generator.tree()).collect();
        let txn = db.begin().await?;
        report = add(report, insert_trees(&txn, trees).await?);
        txn.commit().await?;
    }
    Ok(report)
}

fn add(a: SeedReport, b: SeedReport) -> SeedReport {
    SeedReport {
        invocations: a.invocations + b.invocations,
        event_executions: a.event_executions + b.event_executions,
        job_executions: a.job_executions + b.job_executions,
        job_logs: a.job_logs + b.job_logs,
    }
}

/// Inserts whole trees, parents before children, in multi-row statements.
pub async fn insert_trees(db: &impl ConnectionTrait, trees: Vec<Tree>) -> Result<SeedReport, DbErr> {
    let mut invocations = Vec::new();
    let mut events = Vec::new();
    let mut jobs = Vec::new();
    let mut logs = Vec::new();
    for tree in trees {
        invocations.extend(tree.invocation);
        events.extend(tree.events);
        jobs.extend(tree.jobs);
        logs.extend(tree.logs);
    }
    let report = SeedReport {
        invocations: invocations.len() as u64,
        event_executions: events.len() as u64,
        job_executions: jobs.len() as u64,
        job_logs: logs.len() as u64,
    };
    crate::db::write::insert::<invocations::Entity>(db, invocations).await?;
    crate::db::write::insert::<event_executions::Entity>(db, events).await?;
    crate::db::write::insert::<job_executions::Entity>(db, jobs).await?;
    crate::db::write::insert::<job_logs::Entity>(db, logs).await?;
    Ok(report)
}

const DOMAINS: [&str; 20] = [
    "moves",
    "payments",
    "users",
    "orders",
    "invoices",
    "shipments",
    "drivers",
    "customers",
    "inventory",
    "notifications",
    "appointments",
    "vehicles",
    "routes",
    "quotes",
    "claims",
    "reviews",
    "subscriptions",
    "documents",
    "locations",
    "webhooks",
];

const EVENT_SUFFIXES: [&str; 12] = [
    "created",
    "status.changed",
    "pickup.successful",
    "delivery.successful",
    "cancel.pending",
    "cancelled",
    "assigned",
    "updated",
    "completed",
    "failed",
    "rescheduled",
    "archived",
];

const JOB_NAMES: [&str; 24] = [
    "reapplySlaDuration",
    "sendNotification",
    "updateAnalytics",
    "syncToWarehouse",
    "generateInvoice",
    "notifyDriver",
    "recalculateRoute",
    "pushWebhook",
    "updateSearchIndex",
    "writeAuditLog",
    "sendEmail",
    "sendSms",
    "chargeCard",
    "refundPayment",
    "createCalendarEvent",
    "syncToCrm",
    "renderPdf",
    "uploadToStorage",
    "refreshCache",
    "postToSlack",
    "updateEta",
    "scoreRisk",
    "reserveInventory",
    "releaseHold",
];

const ERRORS: [&str; 12] = [
    "Request failed with status code 503",
    "connect ECONNREFUSED 10.0.3.17:5432",
    "timeout of 10000ms exceeded",
    "duplicate key value violates unique constraint \"{table}_pkey\"",
    "Cannot read properties of undefined (reading 'id')",
    "Rate limit exceeded: retry after 30s",
    "SMTP 421 4.7.0 Service not available, closing transmission channel",
    "Your card was declined. (decline_code: insufficient_funds)",
    "socket hang up",
    "invalid input syntax for type uuid: \"{id}\"",
    "Request failed with status code 429",
    "getaddrinfo ENOTFOUND api.partner-{n}.example.com",
];

const SOURCE_SYSTEMS: [&str; 3] = ["hasura", "supabase", "custom"];
const ROLES: [&str; 5] = ["driver", "dispatcher", "admin", "customer", "system"];

struct EventModule {
    name: String,
    detection_rate: f64,
    jobs: Vec<JobSpec>,
}

struct JobSpec {
    name: &'static str,
    median_ms: f64,
    failure_rate: f64,
}

struct Function {
    name: String,
    domain: &'static str,
    weight: f64,
    modules: Vec<EventModule>,
}

struct Generator {
    rng: StdRng,
    functions: Vec<Function>,
    total_weight: f64,
    now: DateTime<Utc>,
    span: TimeDelta,
    last_correlation: Option<Uuid>,
}

impl Generator {
    fn new(plan: &SeedPlan) -> Self {
        let mut rng = StdRng::seed_from_u64(plan.random_seed);
        let functions: Vec<Function> = DOMAINS
            .iter()
            .enumerate()
            .map(|(rank, domain)| {
                let mut suffixes = EVENT_SUFFIXES.to_vec();
                suffixes.sort_by_key(|_| rng.random::<u32>());
                let modules = suffixes[..5]
                    .iter()
                    .map(|suffix| {
                        let job_count = rng.random_range(1..=7);
                        let jobs = JOB_NAMES
                            .choose_multiple(&mut rng, job_count)
                            .map(|name| JobSpec {
                                name,
                                median_ms: 20.0 * (rng.random_range(0.0..4.5f64)).exp(),
                                failure_rate: rng.random_range(0.0..0.2),
                            })
                            .collect();
                        EventModule {
                            name: format!("{}.{suffix}", singular(domain)),
                            detection_rate: rng.random_range(0.1..0.7),
                            jobs,
                        }
                    })
                    .collect();
                Function {
                    name: format!("event-detector-{domain}"),
                    domain,
                    weight: 1.0 / ((rank + 1) as f64).powf(1.1),
                    modules,
                }
            })
            .collect();
        let total_weight = functions.iter().map(|f| f.weight).sum();
        Self {
            rng,
            functions,
            total_weight,
            now: plan.now,
            span: Duration::days(i64::from(plan.days)),
            last_correlation: None,
        }
    }

    fn pick_function(&mut self) -> usize {
        let mut x = self.rng.random_range(0.0..self.total_weight);
        for (i, f) in self.functions.iter().enumerate() {
            if x < f.weight {
                return i;
            }
            x -= f.weight;
        }
        self.functions.len() - 1
    }

    /// A duration around `median_ms` with a long tail (log-normal).
    fn duration(&mut self, median_ms: f64) -> i32 {
        // Box–Muller transform for a standard normal sample.
        let u1: f64 = self.rng.random_range(f64::EPSILON..1.0);
        let u2: f64 = self.rng.random();
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        (median_ms * (0.6 * z).exp()).clamp(1.0, 600_000.0) as i32
    }

    fn tree(&mut self) -> Tree {
        let f = self.pick_function();
        let offset = TimeDelta::microseconds(self.rng.random_range(0..self.span.num_microseconds().unwrap_or(1)));
        let started = micros(self.now - offset);
        let age = self.now - started;
        // The newest invocations are still in flight; a few old ones died without reporting.
        let in_flight = age < Duration::minutes(2);
        let stuck = !in_flight && self.rng.random_bool(0.002);
        let running = in_flight || stuck;
        let invocation_id = Uuid::new_v4();
        let entity_id = self.rng.random_range(1000..99_999);
        let function = &self.functions[f];
        let domain = function.domain;
        let function_name = function.name.clone();

        let mut tree = Tree::default();
        let mut clock = started + TimeDelta::milliseconds(self.rng.random_range(1..5));
        let (mut detected_count, mut jobs_run, mut jobs_ok, mut jobs_failed) = (0, 0, 0, 0);
        let module_count = self.functions[f].modules.len();
        // A running invocation has only reached part of its modules.
        let reached = if running { self.rng.random_range(1..=module_count) } else { module_count };
        for m in 0..reached {
            let last_reached = running && m + 1 == reached;
            let event_id = Uuid::new_v4();
            let event_started = micros(clock);
            let detection_ms = self.duration(8.0);
            let detection_failed = self.rng.random_bool(0.005);
            let detection_rate = self.functions[f].modules[m].detection_rate;
            let detected = !detection_failed && self.rng.random_bool(detection_rate);
            clock = event_started + TimeDelta::milliseconds(i64::from(detection_ms));
            let mut event = event_executions::Model {
                id: event_id,
                invocation_id,
                event_name: self.functions[f].modules[m].name.clone(),
                detected: Some(detected),
                detection_duration_ms: Some(detection_ms),
                detection_error: detection_failed
                    .then(|| "TypeError: Cannot read properties of null (reading 'new')".to_owned()),
                status: if detection_failed {
                    EventExecutionStatus::Failed
                } else if detected {
                    EventExecutionStatus::Completed
                } else {
                    EventExecutionStatus::NotDetected
                },
                handler_duration_ms: None,
                handler_error: None,
                jobs_count: 0,
                jobs_succeeded: 0,
                jobs_failed: 0,
                created_at: event_started,
                updated_at: micros(clock),
            };
            if detected {
                detected_count += 1;
                let handler_started = clock;
                let job_specs: Vec<(&'static str, f64, f64)> =
                    self.functions[f].modules[m].jobs.iter().map(|j| (j.name, j.median_ms, j.failure_rate)).collect();
                let jobs_reached =
                    if last_reached { self.rng.random_range(0..=job_specs.len()) } else { job_specs.len() };
                let (mut ok, mut failed) = (0, 0);
                for (j, (name, median_ms, failure_rate)) in job_specs.iter().copied().enumerate().take(jobs_reached) {
                    let job_running = last_reached && j + 1 == jobs_reached;
                    let job_started = micros(clock + TimeDelta::milliseconds(self.rng.random_range(0..3)));
                    let duration_ms = self.duration(median_ms);
                    let fails = !job_running && self.rng.random_bool(failure_rate);
                    let job_id = Uuid::new_v4();
                    let ended = micros(job_started + TimeDelta::milliseconds(i64::from(duration_ms)));
                    let error = fails.then(|| self.error_message(domain));
                    let attempt = if fails || !self.rng.random_bool(0.03) { 1 } else { 2 };
                    let log_count = self.rng.random_range(0..=5usize);
                    for l in 0..log_count {
                        let at = job_started
                            + TimeDelta::microseconds(
                                i64::from(duration_ms) * 1000 * (l as i64 + 1) / (log_count as i64 + 1),
                            );
                        let is_last = l + 1 == log_count;
                        let (level, message) = self.log_line(name, domain, entity_id, is_last, error.as_deref());
                        tree.logs.push(job_logs::Model {
                            id: Uuid::new_v4(),
                            job_execution_id: job_id,
                            level,
                            message,
                            data: (level != LogLevel::Debug && self.rng.random_bool(0.3))
                                .then(|| json!({ "entityId": entity_id, "step": l + 1 })),
                            source: Some(format!("jobs/{name}.js")),
                            created_at: micros(at),
                            updated_at: micros(at),
                        });
                    }
                    tree.jobs.push(job_executions::Model {
                        id: job_id,
                        invocation_id,
                        event_execution_id: event_id,
                        job_name: name.to_owned(),
                        job_function_name: Some(name.to_owned()),
                        job_options: Some(
                            json!({ "entityId": entity_id, "type": format!("{}_{}", singular(domain), name) }),
                        ),
                        status: if job_running {
                            JobExecutionStatus::Running
                        } else if fails {
                            JobExecutionStatus::Failed
                        } else {
                            JobExecutionStatus::Completed
                        },
                        duration_ms: (!job_running).then_some(duration_ms),
                        result: (!job_running && !fails).then(|| json!({ "ok": true, "entityId": entity_id })),
                        error_message: error.clone(),
                        error_stack: error.as_ref().map(|e| stack(name, e)),
                        console_logs: None,
                        attempt,
                        created_at: job_started,
                        updated_at: if job_running { job_started } else { ended },
                    });
                    if !job_running {
                        clock = ended;
                        if fails {
                            failed += 1;
                        } else {
                            ok += 1;
                        }
                    }
                }
                let handling = last_reached;
                event.status = if handling { EventExecutionStatus::Handling } else { EventExecutionStatus::Completed };
                event.jobs_count = jobs_reached as i32;
                event.jobs_succeeded = ok;
                event.jobs_failed = failed;
                if !handling {
                    event.handler_duration_ms = Some((clock - handler_started).num_milliseconds() as i32);
                }
                event.updated_at = micros(clock);
                jobs_run += jobs_reached as i32;
                jobs_ok += ok;
                jobs_failed += failed;
            } else if last_reached && !detection_failed {
                event.status = EventExecutionStatus::Detecting;
                event.detected = None;
                event.detection_duration_ms = None;
            }
            tree.events.push(event);
        }
        let ended = micros(clock + TimeDelta::milliseconds(self.rng.random_range(1..10)));
        let failed = !running && self.rng.random_bool(0.01);
        let correlation_id = if self.rng.random_bool(0.3) {
            let id = match self.last_correlation {
                Some(id) if self.rng.random_bool(0.5) => id,
                _ => Uuid::new_v4(),
            };
            self.last_correlation = Some(id);
            Some(id)
        } else {
            None
        };
        let user = self.rng.random_range(1..400);
        let role = *ROLES.choose(&mut self.rng).unwrap_or(&"system");
        let system = if self.rng.random_bool(0.8) {
            SOURCE_SYSTEMS[0]
        } else {
            SOURCE_SYSTEMS.choose(&mut self.rng).copied().unwrap_or("custom")
        };
        tree.invocation = Some(invocations::Model {
            id: invocation_id,
            source_function: function_name,
            source_system: Some(system.to_owned()),
            source_event_payload: Some(json!({
                "event": {
                    "op": "UPDATE",
                    "data": {
                        "old": { "id": entity_id, "status": "pending" },
                        "new": { "id": entity_id, "status": "pickup successful" }
                    },
                    "session_variables": { "x-hasura-role": role }
                },
                "table": { "schema": "public", "name": domain },
                "trigger": { "name": format!("{domain}_changes") }
            })),
            source_user_email: Some(format!("{role}{user}@company.com")),
            source_user_role: Some(role.to_owned()),
            status: if running {
                InvocationStatus::Running
            } else if failed {
                InvocationStatus::Failed
            } else {
                InvocationStatus::Completed
            },
            total_duration_ms: (!running).then(|| (ended - started).num_milliseconds() as i32),
            events_detected_count: detected_count,
            total_jobs_run: jobs_run,
            total_jobs_succeeded: jobs_ok,
            total_jobs_failed: jobs_failed,
            auto_load_modules: Some(true),
            event_modules_directory: Some(format!("./events/{domain}")),
            context_data: Some(json!({ "region": "us-east-1", "requestId": Uuid::new_v4() })),
            correlation_id,
            created_at: started,
            updated_at: if running { micros(clock) } else { ended },
        });
        tree
    }

    fn error_message(&mut self, domain: &str) -> String {
        let template = *ERRORS.choose(&mut self.rng).unwrap_or(&ERRORS[0]);
        template
            .replace("{table}", domain)
            .replace("{id}", &format!("{}-{}", self.rng.random_range(100..999), self.rng.random_range(10..99)))
            .replace("{n}", &self.rng.random_range(1..9).to_string())
    }

    fn log_line(
        &mut self,
        job: &str,
        domain: &str,
        entity_id: i32,
        is_last: bool,
        error: Option<&str>,
    ) -> (LogLevel, String) {
        let entity = singular(domain);
        if is_last {
            return match error {
                Some(error) => (LogLevel::Error, format!("{job} failed for {entity} {entity_id}: {error}")),
                None => (LogLevel::Info, format!("{job} finished for {entity} {entity_id}")),
            };
        }
        match self.rng.random_range(0..10) {
            0 => (LogLevel::Debug, format!("{job} options resolved for {entity} {entity_id}")),
            1 => (LogLevel::Warn, format!("{job}: slow upstream response for {entity} {entity_id}, retrying")),
            _ => (LogLevel::Info, format!("{job} processing {entity} {entity_id}")),
        }
    }
}

fn stack(job: &str, error: &str) -> String {
    format!(
        "Error: {error}\n    at {job} (/var/task/jobs/{job}.js:42:11)\n    at async runJob (/var/task/node_modules/event-detector/lib/run.js:88:20)\n    at async Promise.all (index 0)"
    )
}

fn singular(domain: &str) -> &str {
    domain.strip_suffix('s').unwrap_or(domain)
}

/// Writes a fixed set of trees (used by tests that need exact data).
pub async fn insert_fixture(db: &DatabaseConnection, trees: Vec<Tree>) -> Result<SeedReport, DbErr> {
    let txn = db.begin().await?;
    let report = insert_trees(&txn, trees).await?;
    txn.commit().await?;
    Ok(report)
}
