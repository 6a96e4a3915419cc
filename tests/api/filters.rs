//! Every filter field of the four top-level connections, on small crafted data sets, with the
//! exact ids (and order) each filter must return.
//!
//! Rows of a data set have distinct start times, so the default order (newest first) is known;
//! expected ids are listed newest first. Every filtered query also checks that `totalCount`
//! equals the number of rows returned.

use entity::status::{EventExecutionStatus, InvocationStatus, JobExecutionStatus, LogLevel};
use entity::{event_executions, invocations, job_executions, job_logs};
use runlens::seed::Tree;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{at, at_str, event, invocation, job, log, lone};
use crate::helpers::TestApp;

const INJECTION: &str = "'; DROP TABLE invocations; --";

/// The GraphQL filter type of a top-level connection.
fn filter_type(connection: &str) -> &'static str {
    match connection {
        "invocations" => "InvocationFilter",
        "eventExecutions" => "EventExecutionFilter",
        "jobExecutions" => "JobExecutionFilter",
        "jobLogs" => "JobLogFilter",
        other => panic!("no connection {other}"),
    }
}

/// The ids `connection(filter: filter)` returns in the default order, all on one page, or the
/// response when it has errors. Checks that `totalCount` agrees with the ids.
async fn ids(app: &TestApp, connection: &str, filter: &Value) -> Result<Vec<Uuid>, Value> {
    let query = format!(
        "query($f: {}) {{ list: {connection}(filter: $f, first: 100) {{ totalCount nodes {{ id }} }} }}",
        filter_type(connection)
    );
    let body = app.query(&query, json!({ "f": filter })).await;
    if body.get("errors").is_some() {
        return Err(body);
    }
    let list = &body["data"]["list"];
    let ids: Vec<Uuid> =
        list["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().parse().unwrap()).collect();
    assert_eq!(list["totalCount"], ids.len(), "{connection} totalCount with filter {filter}");
    Ok(ids)
}

/// Runs every `(filter, expected ids)` case on `connection` and reports all mismatches at once.
async fn check(app: &TestApp, connection: &str, cases: Vec<(Value, Vec<Uuid>)>) {
    let mut failures = Vec::new();
    for (filter, expected) in cases {
        match ids(app, connection, &filter).await {
            Ok(actual) if actual == expected => {}
            Ok(actual) => {
                failures.push(format!("{connection}(filter: {filter})\n  expected {expected:?}\n  actual   {actual:?}"))
            }
            Err(body) => {
                failures.push(format!("{connection}(filter: {filter})\n  expected {expected:?}\n  errors   {body}"))
            }
        }
    }
    assert!(failures.is_empty(), "{} filter(s) returned the wrong rows:\n{}", failures.len(), failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Invocations
// ---------------------------------------------------------------------------------------------

/// Five invocations, `a` oldest to `e` newest.
struct Invocations {
    a: invocations::Model,
    b: invocations::Model,
    c: invocations::Model,
    d: invocations::Model,
    e: invocations::Model,
    flow: Uuid,
    other_flow: Uuid,
}

impl Invocations {
    fn new() -> Self {
        let (flow, other_flow) = (Uuid::new_v4(), Uuid::new_v4());
        // Defaults: "event-detector-moves", hasura, driver@company.com, COMPLETED, 100 ms.
        let a = invocations::Model { correlation_id: Some(flow), updated_at: at(10), ..invocation(at(1)) };
        let b = invocations::Model {
            source_function: "event-detector-users".to_owned(),
            source_system: Some("supabase".to_owned()),
            source_user_email: Some("admin@company.com".to_owned()),
            status: InvocationStatus::Failed,
            total_duration_ms: Some(250),
            correlation_id: Some(flow),
            ..invocation(at(2))
        };
        let c = invocations::Model {
            source_function: "billing-detector".to_owned(),
            source_system: None,
            source_user_email: None,
            status: InvocationStatus::Running,
            total_duration_ms: None,
            ..invocation(at(3))
        };
        let d = invocations::Model {
            source_function: "100%_moves".to_owned(),
            source_system: Some("custom".to_owned()),
            source_user_email: Some("ops_team@company.com".to_owned()),
            total_duration_ms: Some(50),
            correlation_id: Some(other_flow),
            ..invocation(at(4))
        };
        let e = invocations::Model {
            source_function: "Event-Detector-MOVES-v2".to_owned(),
            source_user_email: Some(r"back\slash@company.com".to_owned()),
            status: InvocationStatus::Running,
            total_duration_ms: None,
            ..invocation(at(5))
        };
        Self { a, b, c, d, e, flow, other_flow }
    }

    async fn insert(&self, app: &TestApp) {
        app.insert([&self.a, &self.b, &self.c, &self.d, &self.e].into_iter().cloned().map(lone).collect()).await;
    }

    fn all(&self) -> Vec<Uuid> {
        vec![self.e.id, self.d.id, self.c.id, self.b.id, self.a.id]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invocation_string_filters() {
    let app = TestApp::spawn().await;
    let s = Invocations::new();
    s.insert(&app).await;
    let (a, b, c, d, e) = (s.a.id, s.b.id, s.c.id, s.d.id, s.e.id);
    check(
        &app,
        "invocations",
        vec![
            // sourceFunction
            (json!({ "sourceFunction": { "eq": "event-detector-moves" } }), vec![a]),
            (json!({ "sourceFunction": { "eq": "EVENT-DETECTOR-MOVES" } }), vec![]),
            (json!({ "sourceFunction": { "ne": "event-detector-moves" } }), vec![e, d, c, b]),
            (json!({ "sourceFunction": { "in": ["event-detector-users", "billing-detector", "nope"] } }), vec![c, b]),
            (json!({ "sourceFunction": { "in": [] } }), vec![]),
            (json!({ "sourceFunction": { "notIn": ["event-detector-users", "billing-detector"] } }), vec![e, d, a]),
            (json!({ "sourceFunction": { "notIn": [] } }), s.all()),
            (json!({ "sourceFunction": { "contains": "MOVES" } }), vec![e, d, a]),
            (json!({ "sourceFunction": { "contains": "detector" } }), vec![e, c, b, a]),
            (json!({ "sourceFunction": { "contains": "" } }), s.all()),
            (json!({ "sourceFunction": { "startsWith": "EVENT-DETECTOR" } }), vec![e, b, a]),
            (json!({ "sourceFunction": { "startsWith": "detector" } }), vec![]),
            (json!({ "sourceFunction": { "contains": "moves", "ne": "100%_moves" } }), vec![e, a]),
            (json!({ "sourceFunction": { "isNull": false } }), s.all()),
            (json!({ "sourceFunction": { "isNull": true } }), vec![]),
            // LIKE wildcards in user text are literal.
            (json!({ "sourceFunction": { "contains": "%" } }), vec![d]),
            (json!({ "sourceFunction": { "contains": "_" } }), vec![d]),
            (json!({ "sourceFunction": { "contains": "0%_M" } }), vec![d]),
            (json!({ "sourceFunction": { "startsWith": "100%" } }), vec![d]),
            (json!({ "sourceFunction": { "startsWith": "%" } }), vec![]),
            (json!({ "sourceFunction": { "startsWith": "_" } }), vec![]),
            (json!({ "sourceFunction": { "contains": "t_d" } }), vec![]),
            // sourceSystem: c has none.
            (json!({ "sourceSystem": { "eq": "hasura" } }), vec![e, a]),
            (json!({ "sourceSystem": { "ne": "hasura" } }), vec![d, b]),
            (json!({ "sourceSystem": { "in": ["custom", "supabase"] } }), vec![d, b]),
            (json!({ "sourceSystem": { "notIn": ["hasura"] } }), vec![d, b]),
            (json!({ "sourceSystem": { "startsWith": "HAS" } }), vec![e, a]),
            (json!({ "sourceSystem": { "contains": "BASE" } }), vec![b]),
            (json!({ "sourceSystem": { "isNull": true } }), vec![c]),
            (json!({ "sourceSystem": { "isNull": false } }), vec![e, d, b, a]),
            // sourceUserEmail: c has none; d has an underscore, e a backslash.
            (json!({ "sourceUserEmail": { "eq": r"back\slash@company.com" } }), vec![e]),
            (json!({ "sourceUserEmail": { "ne": "driver@company.com" } }), vec![e, d, b]),
            (json!({ "sourceUserEmail": { "in": ["admin@company.com", "driver@company.com"] } }), vec![b, a]),
            (json!({ "sourceUserEmail": { "notIn": ["admin@company.com"] } }), vec![e, d, a]),
            (json!({ "sourceUserEmail": { "contains": "@COMPANY.COM" } }), vec![e, d, b, a]),
            (json!({ "sourceUserEmail": { "contains": "_" } }), vec![d]),
            (json!({ "sourceUserEmail": { "contains": "%" } }), vec![]),
            (json!({ "sourceUserEmail": { "contains": r"\" } }), vec![e]),
            (json!({ "sourceUserEmail": { "startsWith": r"BACK\S" } }), vec![e]),
            (json!({ "sourceUserEmail": { "startsWith": "ops_" } }), vec![d]),
            (json!({ "sourceUserEmail": { "isNull": true } }), vec![c]),
            (json!({ "sourceUserEmail": { "isNull": false } }), vec![e, d, b, a]),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_in_filter_text_is_matched_literally() {
    let app = TestApp::spawn().await;
    let s = Invocations::new();
    let quoted = invocations::Model { source_function: "it's-a-detector".to_owned(), ..invocation(at(6)) };
    s.insert(&app).await;
    app.insert(vec![lone(quoted.clone())]).await;
    check(
        &app,
        "invocations",
        vec![
            (json!({ "sourceFunction": { "eq": INJECTION } }), vec![]),
            (json!({ "sourceFunction": { "ne": INJECTION } }), [vec![quoted.id], s.all()].concat()),
            (json!({ "sourceFunction": { "in": [INJECTION] } }), vec![]),
            (json!({ "sourceFunction": { "contains": INJECTION } }), vec![]),
            (json!({ "sourceFunction": { "startsWith": INJECTION } }), vec![]),
            (json!({ "sourceSystem": { "contains": "' OR '1'='1" } }), vec![]),
            (json!({ "sourceFunction": { "contains": "'S-A" } }), vec![quoted.id]),
            (json!({ "sourceFunction": { "eq": "it's-a-detector" } }), vec![quoted.id]),
        ],
    )
    .await;
    // The table is still there, with every row.
    let all = app.data("{ invocations(first: 100) { totalCount nodes { id } } }", json!({})).await;
    assert_eq!(all["invocations"]["totalCount"], 6);
    assert_eq!(all["invocations"]["nodes"].as_array().unwrap().len(), 6);
    let count = Statement::from_string(app.db.get_database_backend(), "SELECT COUNT(*) FROM invocations");
    let row = app.db.query_one_raw(count).await.expect("the invocations table exists").unwrap();
    assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invocation_int_time_uuid_and_status_filters() {
    let app = TestApp::spawn().await;
    let s = Invocations::new();
    s.insert(&app).await;
    let (a, b, c, d, e) = (s.a.id, s.b.id, s.c.id, s.d.id, s.e.id);
    let nobody = Uuid::new_v4();
    check(
        &app,
        "invocations",
        vec![
            // totalDurationMs: a 100, b 250, c NULL, d 50, e NULL.
            (json!({ "totalDurationMs": { "eq": 100 } }), vec![a]),
            (json!({ "totalDurationMs": { "ne": 100 } }), vec![d, b]),
            (json!({ "totalDurationMs": { "gt": 100 } }), vec![b]),
            (json!({ "totalDurationMs": { "gte": 100 } }), vec![b, a]),
            (json!({ "totalDurationMs": { "lt": 100 } }), vec![d]),
            (json!({ "totalDurationMs": { "lte": 100 } }), vec![d, a]),
            (json!({ "totalDurationMs": { "in": [50, 250, 7] } }), vec![d, b]),
            (json!({ "totalDurationMs": { "in": [] } }), vec![]),
            (json!({ "totalDurationMs": { "isNull": true } }), vec![e, c]),
            (json!({ "totalDurationMs": { "isNull": false } }), vec![d, b, a]),
            (json!({ "totalDurationMs": { "gte": 50, "lt": 250 } }), vec![d, a]),
            (json!({ "totalDurationMs": { "isNull": true, "gt": 0 } }), vec![]),
            // createdAt: a..e at minutes 1..5.
            (json!({ "createdAt": { "gt": at_str(3) } }), vec![e, d]),
            (json!({ "createdAt": { "gte": at_str(3) } }), vec![e, d, c]),
            (json!({ "createdAt": { "lt": at_str(3) } }), vec![b, a]),
            (json!({ "createdAt": { "lte": at_str(3) } }), vec![c, b, a]),
            (json!({ "createdAt": { "gt": at_str(1), "lt": at_str(5) } }), vec![d, c, b]),
            (json!({ "createdAt": { "gte": at_str(5), "lte": at_str(5) } }), vec![e]),
            (json!({ "createdAt": { "gte": "2026-03-01T13:03:00+01:00" } }), vec![e, d, c]),
            (json!({ "createdAt": { "lt": at_str(1) } }), vec![]),
            // updatedAt: a was last written at minute 10, the others when they started.
            (json!({ "updatedAt": { "gt": at_str(5) } }), vec![a]),
            (json!({ "updatedAt": { "gte": at_str(10) } }), vec![a]),
            (json!({ "updatedAt": { "lt": at_str(10) } }), vec![e, d, c, b]),
            (json!({ "updatedAt": { "lte": at_str(2) } }), vec![b]),
            // id
            (json!({ "id": { "eq": a } }), vec![a]),
            (json!({ "id": { "eq": nobody } }), vec![]),
            (json!({ "id": { "ne": a } }), vec![e, d, c, b]),
            (json!({ "id": { "in": [b, d, nobody] } }), vec![d, b]),
            (json!({ "id": { "isNull": false } }), s.all()),
            (json!({ "id": { "isNull": true } }), vec![]),
            // correlationId: a and b in one flow, d in another, c and e in none.
            (json!({ "correlationId": { "eq": s.flow } }), vec![b, a]),
            (json!({ "correlationId": { "ne": s.flow } }), vec![d]),
            (json!({ "correlationId": { "in": [s.flow, s.other_flow] } }), vec![d, b, a]),
            (json!({ "correlationId": { "isNull": true } }), vec![e, c]),
            (json!({ "correlationId": { "isNull": false } }), vec![d, b, a]),
            // status: a, d COMPLETED; b FAILED; c, e RUNNING.
            (json!({ "status": { "eq": "RUNNING" } }), vec![e, c]),
            (json!({ "status": { "ne": "RUNNING" } }), vec![d, b, a]),
            (json!({ "status": { "in": ["FAILED", "RUNNING"] } }), vec![e, c, b]),
            (json!({ "status": { "in": [] } }), vec![]),
            (json!({ "status": { "notIn": ["COMPLETED"] } }), vec![e, c, b]),
            (json!({ "status": { "notIn": ["COMPLETED", "FAILED", "RUNNING"] } }), vec![]),
            (json!({ "status": { "notIn": [] } }), s.all()),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn has_failed_jobs() {
    let app = TestApp::spawn().await;
    // One failed job among completed ones.
    let failed = invocation(at(1));
    let failed_event = event(&failed, "move.created", at(1));
    let failed_jobs = vec![
        job(&failed_event, "sendEmail", at(1)),
        job_executions::Model { status: JobExecutionStatus::Failed, ..job(&failed_event, "updateAnalytics", at(2)) },
    ];
    // Only completed and running jobs.
    let fine = invocation(at(2));
    let fine_event = event(&fine, "move.created", at(2));
    let fine_jobs = vec![
        job(&fine_event, "sendEmail", at(2)),
        job_executions::Model { status: JobExecutionStatus::Running, ..job(&fine_event, "updateAnalytics", at(3)) },
    ];
    // No events, no jobs.
    let empty = invocation(at(3));
    // A failed event (its detector threw) that ran no job.
    let failed_detector = invocation(at(4));
    let thrown = event_executions::Model {
        status: EventExecutionStatus::Failed,
        detection_error: Some("TypeError".to_owned()),
        ..event(&failed_detector, "move.created", at(4))
    };
    app.insert(vec![
        Tree { invocation: Some(failed.clone()), events: vec![failed_event], jobs: failed_jobs, logs: vec![] },
        Tree { invocation: Some(fine.clone()), events: vec![fine_event], jobs: fine_jobs, logs: vec![] },
        lone(empty.clone()),
        Tree { invocation: Some(failed_detector.clone()), events: vec![thrown], ..Tree::default() },
    ])
    .await;
    let (f, ok, none, det) = (failed.id, fine.id, empty.id, failed_detector.id);
    check(
        &app,
        "invocations",
        vec![
            (json!({ "hasFailedJobs": true }), vec![f]),
            (json!({ "hasFailedJobs": false }), vec![det, none, ok]),
            (json!({ "not": { "hasFailedJobs": true } }), vec![det, none, ok]),
            (json!({ "hasFailedJobs": true, "status": { "eq": "COMPLETED" } }), vec![f]),
            (json!({ "hasFailedJobs": false, "createdAt": { "lte": at_str(2) } }), vec![ok]),
            (json!({ "or": [{ "hasFailedJobs": true }, { "id": { "eq": none } }] }), vec![none, f]),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn and_or_not_and_their_nesting() {
    let app = TestApp::spawn().await;
    let s = Invocations::new();
    s.insert(&app).await;
    let (a, b, c, d, e) = (s.a.id, s.b.id, s.c.id, s.d.id, s.e.id);
    let completed = json!({ "status": { "eq": "COMPLETED" } });
    check(
        &app,
        "invocations",
        vec![
            (json!({}), s.all()),
            (json!({ "and": [] }), s.all()),
            (json!({ "and": [{}] }), s.all()),
            (json!({ "or": [] }), vec![]),
            (json!({ "or": [{}] }), s.all()),
            (json!({ "not": { "or": [] } }), s.all()),
            (json!({ "and": [completed, { "totalDurationMs": { "gt": 60 } }] }), vec![a]),
            (json!({ "and": [completed, { "status": { "eq": "FAILED" } }] }), vec![]),
            (json!({ "or": [{ "status": { "eq": "FAILED" } }, { "sourceSystem": { "isNull": true } }] }), vec![c, b]),
            (json!({ "or": [{ "id": { "eq": a } }, { "id": { "eq": a } }] }), vec![a]),
            (json!({ "not": { "status": { "eq": "RUNNING" } } }), vec![d, b, a]),
            (json!({ "not": { "not": { "status": { "eq": "FAILED" } } } }), vec![b]),
            (json!({ "not": { "or": [completed, { "status": { "eq": "FAILED" } }] } }), vec![e, c]),
            (json!({ "not": { "and": [completed, { "sourceSystem": { "eq": "hasura" } }] } }), vec![e, d, c, b]),
            // Nested: (COMPLETED and not from hasura) or e.
            (
                json!({ "or": [
                    { "and": [completed, { "not": { "sourceSystem": { "eq": "hasura" } } }] },
                    { "id": { "eq": e } }
                ] }),
                vec![e, d],
            ),
            // Fields and `or` on one level all hold.
            (
                json!({ "status": { "eq": "RUNNING" },
                        "or": [{ "sourceSystem": { "isNull": true } }, { "sourceFunction": { "contains": "V2" } }] }),
                vec![e, c],
            ),
            // Fields, `and` and `not` on one level all hold.
            (
                json!({ "sourceSystem": { "isNull": false },
                        "and": [{ "totalDurationMs": { "isNull": false } }],
                        "not": { "status": { "eq": "FAILED" } } }),
                vec![d, a],
            ),
            // `or` of `and`s.
            (
                json!({ "or": [
                    { "and": [{ "createdAt": { "gte": at_str(4) } }, completed] },
                    { "and": [{ "createdAt": { "lte": at_str(2) } }, { "status": { "eq": "FAILED" } }] }
                ] }),
                vec![d, b],
            ),
            // Three levels deep.
            (
                json!({ "and": [
                    { "or": [{ "not": { "status": { "eq": "COMPLETED" } } }, { "totalDurationMs": { "lt": 60 } }] },
                    { "not": { "or": [{ "id": { "eq": c } }, { "id": { "eq": b } }] } }
                ] }),
                vec![e, d],
            ),
        ],
    )
    .await;
}

/// `not: F` holds exactly where `F` does not, so `F` and `not: F` split the rows between them,
/// including rows where `F`'s column is NULL (where `F` itself does not hold).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_is_the_complement_of_its_filter() {
    let app = TestApp::spawn().await;
    let s = Invocations::new();
    s.insert(&app).await;
    let (a, b, c, d, e) = (s.a.id, s.b.id, s.c.id, s.d.id, s.e.id);
    check(
        &app,
        "invocations",
        vec![
            // An empty filter holds for every row: its negation for none.
            (json!({ "not": {} }), vec![]),
            (json!({ "not": { "and": [] } }), vec![]),
            // totalDurationMs is NULL for c and e, so `eq: 100` does not hold for them.
            (json!({ "totalDurationMs": { "eq": 100 } }), vec![a]),
            (json!({ "not": { "totalDurationMs": { "eq": 100 } } }), vec![e, d, c, b]),
            // sourceSystem is NULL for c.
            (json!({ "sourceSystem": { "eq": "hasura" } }), vec![e, a]),
            (json!({ "not": { "sourceSystem": { "eq": "hasura" } } }), vec![d, c, b]),
            (json!({ "not": { "sourceUserEmail": { "contains": "company" } } }), vec![c]),
            (json!({ "not": { "correlationId": { "eq": s.flow } } }), vec![e, d, c]),
        ],
    )
    .await;
    // `detected` is NULL while detecting: `detected: true` does not hold for such a row.
    let events = Events::new();
    events.insert(&app).await;
    check(
        &app,
        "eventExecutions",
        vec![
            (json!({ "detected": true }), vec![events.created.id, events.pickup.id]),
            (json!({ "not": { "detected": true } }), vec![events.signup.id, events.dropoff.id, events.cancelled.id]),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Event executions
// ---------------------------------------------------------------------------------------------

struct Events {
    first: invocations::Model,
    second: invocations::Model,
    /// Detected and handled.
    pickup: event_executions::Model,
    /// Not detected.
    cancelled: event_executions::Model,
    /// Still detecting: `detected` is NULL.
    dropoff: event_executions::Model,
    /// Detected; the handler threw.
    created: event_executions::Model,
    /// The detector threw.
    signup: event_executions::Model,
}

impl Events {
    fn new() -> Self {
        let first = invocation(at(0));
        let second = invocation(at(0));
        // Defaults: detected, COMPLETED, detection 10 ms, handler 50 ms, no errors.
        let pickup = event(&first, "move.pickup.successful", at(2));
        let cancelled = event_executions::Model {
            detected: Some(false),
            status: EventExecutionStatus::NotDetected,
            detection_duration_ms: Some(5),
            handler_duration_ms: None,
            ..event(&first, "move.cancelled", at(3))
        };
        let dropoff = event_executions::Model {
            detected: None,
            status: EventExecutionStatus::Detecting,
            detection_duration_ms: None,
            handler_duration_ms: None,
            ..event(&first, "move.dropoff", at(4))
        };
        let created = event_executions::Model {
            status: EventExecutionStatus::Failed,
            detection_duration_ms: Some(20),
            handler_duration_ms: Some(70),
            handler_error: Some("timeout of 10000ms exceeded".to_owned()),
            updated_at: at(9),
            ..event(&second, "MOVE.Created", at(5))
        };
        let signup = event_executions::Model {
            detected: Some(false),
            status: EventExecutionStatus::Failed,
            detection_duration_ms: Some(15),
            handler_duration_ms: None,
            detection_error: Some("TypeError: cannot read properties of undefined (reading 'id')".to_owned()),
            ..event(&second, "user_signup", at(6))
        };
        Self { first, second, pickup, cancelled, dropoff, created, signup }
    }

    async fn insert(&self, app: &TestApp) {
        app.insert(vec![
            Tree {
                invocation: Some(self.first.clone()),
                events: vec![self.pickup.clone(), self.cancelled.clone(), self.dropoff.clone()],
                ..Tree::default()
            },
            Tree {
                invocation: Some(self.second.clone()),
                events: vec![self.created.clone(), self.signup.clone()],
                ..Tree::default()
            },
        ])
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_execution_filters() {
    let app = TestApp::spawn().await;
    let s = Events::new();
    s.insert(&app).await;
    let (pickup, cancelled, dropoff, created, signup) =
        (s.pickup.id, s.cancelled.id, s.dropoff.id, s.created.id, s.signup.id);
    let all = vec![signup, created, dropoff, cancelled, pickup];
    check(
        &app,
        "eventExecutions",
        vec![
            // id
            (json!({ "id": { "eq": dropoff } }), vec![dropoff]),
            (json!({ "id": { "ne": dropoff } }), vec![signup, created, cancelled, pickup]),
            (json!({ "id": { "in": [pickup, signup, s.first.id] } }), vec![signup, pickup]),
            (json!({ "id": { "isNull": true } }), vec![]),
            // invocationId
            (json!({ "invocationId": { "eq": s.second.id } }), vec![signup, created]),
            (json!({ "invocationId": { "ne": s.second.id } }), vec![dropoff, cancelled, pickup]),
            (json!({ "invocationId": { "in": [s.first.id] } }), vec![dropoff, cancelled, pickup]),
            (json!({ "invocationId": { "isNull": false } }), all.clone()),
            // eventName
            (json!({ "eventName": { "eq": "move.cancelled" } }), vec![cancelled]),
            (json!({ "eventName": { "ne": "move.cancelled" } }), vec![signup, created, dropoff, pickup]),
            (json!({ "eventName": { "in": ["move.dropoff", "user_signup"] } }), vec![signup, dropoff]),
            (json!({ "eventName": { "notIn": ["move.dropoff", "user_signup"] } }), vec![created, cancelled, pickup]),
            (json!({ "eventName": { "contains": "CREATED" } }), vec![created]),
            (json!({ "eventName": { "contains": "_" } }), vec![signup]),
            (json!({ "eventName": { "startsWith": "move." } }), vec![created, dropoff, cancelled, pickup]),
            (json!({ "eventName": { "startsWith": "move_" } }), vec![]),
            // detected: dropoff (NULL, still detecting) matches neither.
            (json!({ "detected": true }), vec![created, pickup]),
            (json!({ "detected": false }), vec![signup, cancelled]),
            // status
            (json!({ "status": { "eq": "FAILED" } }), vec![signup, created]),
            (json!({ "status": { "ne": "FAILED" } }), vec![dropoff, cancelled, pickup]),
            (json!({ "status": { "in": ["DETECTING", "NOT_DETECTED"] } }), vec![dropoff, cancelled]),
            (json!({ "status": { "notIn": ["FAILED", "COMPLETED"] } }), vec![dropoff, cancelled]),
            (json!({ "status": { "eq": "HANDLING" } }), vec![]),
            // createdAt: minutes 2..6; updatedAt: created was rewritten at minute 9.
            (json!({ "createdAt": { "gt": at_str(4) } }), vec![signup, created]),
            (json!({ "createdAt": { "gte": at_str(4) } }), vec![signup, created, dropoff]),
            (json!({ "createdAt": { "lt": at_str(3) } }), vec![pickup]),
            (json!({ "createdAt": { "lte": at_str(3) } }), vec![cancelled, pickup]),
            (json!({ "updatedAt": { "gt": at_str(6) } }), vec![created]),
            (json!({ "updatedAt": { "gte": at_str(6) } }), vec![signup, created]),
            (json!({ "updatedAt": { "lt": at_str(6) } }), vec![dropoff, cancelled, pickup]),
            (json!({ "updatedAt": { "lte": at_str(6) } }), vec![signup, dropoff, cancelled, pickup]),
            // detectionDurationMs: pickup 10, cancelled 5, dropoff NULL, created 20, signup 15.
            (json!({ "detectionDurationMs": { "eq": 10 } }), vec![pickup]),
            (json!({ "detectionDurationMs": { "ne": 10 } }), vec![signup, created, cancelled]),
            (json!({ "detectionDurationMs": { "gt": 10 } }), vec![signup, created]),
            (json!({ "detectionDurationMs": { "gte": 15, "lt": 20 } }), vec![signup]),
            (json!({ "detectionDurationMs": { "lte": 10 } }), vec![cancelled, pickup]),
            (json!({ "detectionDurationMs": { "isNull": true } }), vec![dropoff]),
            // handlerDurationMs: pickup 50, created 70, others NULL.
            (json!({ "handlerDurationMs": { "in": [50, 70] } }), vec![created, pickup]),
            (json!({ "handlerDurationMs": { "gte": 60 } }), vec![created]),
            (json!({ "handlerDurationMs": { "lt": 60 } }), vec![pickup]),
            (json!({ "handlerDurationMs": { "isNull": true } }), vec![signup, dropoff, cancelled]),
            (json!({ "handlerDurationMs": { "isNull": false } }), vec![created, pickup]),
            // detectionError / handlerError
            (json!({ "detectionError": { "contains": "TYPEERROR" } }), vec![signup]),
            (json!({ "detectionError": { "startsWith": "typeerror:" } }), vec![signup]),
            (json!({ "detectionError": { "isNull": false } }), vec![signup]),
            (json!({ "detectionError": { "isNull": true } }), vec![created, dropoff, cancelled, pickup]),
            (json!({ "handlerError": { "contains": "TIMEOUT" } }), vec![created]),
            (json!({ "handlerError": { "eq": "timeout of 10000ms exceeded" } }), vec![created]),
            (json!({ "handlerError": { "ne": "x" } }), vec![created]),
            (json!({ "handlerError": { "isNull": true } }), vec![signup, dropoff, cancelled, pickup]),
            // Combinations
            (
                json!({ "or": [{ "detected": true }, { "detectionError": { "isNull": false } }] }),
                vec![signup, created, pickup],
            ),
            (
                json!({ "invocationId": { "eq": s.first.id }, "not": { "status": { "eq": "COMPLETED" } } }),
                vec![dropoff, cancelled],
            ),
            (json!({ "and": [{ "detected": false }, { "invocationId": { "eq": s.first.id } }] }), vec![cancelled]),
            (json!({ "or": [] }), vec![]),
            (json!({ "and": [] }), all),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Job executions
// ---------------------------------------------------------------------------------------------

struct Jobs {
    first: invocations::Model,
    second: invocations::Model,
    pickup: event_executions::Model,
    cancelled: event_executions::Model,
    created: event_executions::Model,
    /// pickup's jobs: completed; failed; its retry, completed.
    notify: job_executions::Model,
    analytics: job_executions::Model,
    analytics_retry: job_executions::Model,
    /// cancelled's job, still running.
    sla: job_executions::Model,
    /// The second invocation's job, failed on its third attempt.
    email: job_executions::Model,
}

impl Jobs {
    fn new() -> Self {
        let first = invocation(at(0));
        let second = invocation(at(0));
        let pickup = event(&first, "move.pickup.successful", at(0));
        let cancelled = event(&first, "move.cancelled", at(0));
        let created = event(&second, "move.created", at(0));
        // Defaults: COMPLETED, 40 ms, attempt 1, function name = job name, no error.
        let notify = job(&pickup, "sendNotification", at(1));
        let analytics = job_executions::Model {
            job_function_name: Some("updateAnalyticsV2".to_owned()),
            status: JobExecutionStatus::Failed,
            duration_ms: Some(120),
            error_message: Some("timeout of 10000ms exceeded".to_owned()),
            ..job(&pickup, "updateAnalytics", at(2))
        };
        let analytics_retry = job_executions::Model {
            job_function_name: Some("updateAnalyticsV2".to_owned()),
            duration_ms: Some(80),
            attempt: 2,
            ..job(&pickup, "updateAnalytics", at(3))
        };
        let sla = job_executions::Model {
            job_function_name: None,
            status: JobExecutionStatus::Running,
            duration_ms: None,
            ..job(&cancelled, "reapplySlaDuration", at(4))
        };
        let email = job_executions::Model {
            job_function_name: Some("send_email".to_owned()),
            status: JobExecutionStatus::Failed,
            duration_ms: Some(10),
            error_message: Some("SMTP 550: mailbox unavailable".to_owned()),
            attempt: 3,
            updated_at: at(8),
            ..job(&created, "sendEmail", at(5))
        };
        Self { first, second, pickup, cancelled, created, notify, analytics, analytics_retry, sla, email }
    }

    async fn insert(&self, app: &TestApp) {
        app.insert(vec![
            Tree {
                invocation: Some(self.first.clone()),
                events: vec![self.pickup.clone(), self.cancelled.clone()],
                jobs: vec![self.notify.clone(), self.analytics.clone(), self.analytics_retry.clone(), self.sla.clone()],
                logs: vec![],
            },
            Tree {
                invocation: Some(self.second.clone()),
                events: vec![self.created.clone()],
                jobs: vec![self.email.clone()],
                logs: vec![],
            },
        ])
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_execution_filters() {
    let app = TestApp::spawn().await;
    let s = Jobs::new();
    s.insert(&app).await;
    let (notify, analytics, retry, sla, email) =
        (s.notify.id, s.analytics.id, s.analytics_retry.id, s.sla.id, s.email.id);
    let all = vec![email, sla, retry, analytics, notify];
    check(
        &app,
        "jobExecutions",
        vec![
            // id
            (json!({ "id": { "eq": sla } }), vec![sla]),
            (json!({ "id": { "ne": sla } }), vec![email, retry, analytics, notify]),
            (json!({ "id": { "in": [notify, email] } }), vec![email, notify]),
            (json!({ "id": { "isNull": false } }), all.clone()),
            // invocationId / eventExecutionId
            (json!({ "invocationId": { "eq": s.second.id } }), vec![email]),
            (json!({ "invocationId": { "ne": s.second.id } }), vec![sla, retry, analytics, notify]),
            (json!({ "invocationId": { "in": [s.first.id, s.second.id] } }), all.clone()),
            (json!({ "eventExecutionId": { "eq": s.pickup.id } }), vec![retry, analytics, notify]),
            (json!({ "eventExecutionId": { "ne": s.pickup.id } }), vec![email, sla]),
            (json!({ "eventExecutionId": { "in": [s.cancelled.id, s.created.id] } }), vec![email, sla]),
            (json!({ "eventExecutionId": { "isNull": true } }), vec![]),
            // jobName
            (json!({ "jobName": { "eq": "updateAnalytics" } }), vec![retry, analytics]),
            (json!({ "jobName": { "ne": "updateAnalytics" } }), vec![email, sla, notify]),
            (json!({ "jobName": { "in": ["sendEmail", "reapplySlaDuration"] } }), vec![email, sla]),
            (json!({ "jobName": { "notIn": ["sendEmail", "reapplySlaDuration"] } }), vec![retry, analytics, notify]),
            (json!({ "jobName": { "startsWith": "SEND" } }), vec![email, notify]),
            (json!({ "jobName": { "contains": "sla" } }), vec![sla]),
            // jobFunctionName: NULL for sla.
            (json!({ "jobFunctionName": { "eq": "updateAnalyticsV2" } }), vec![retry, analytics]),
            (json!({ "jobFunctionName": { "ne": "updateAnalyticsV2" } }), vec![email, notify]),
            (json!({ "jobFunctionName": { "contains": "_" } }), vec![email]),
            (json!({ "jobFunctionName": { "contains": "v2" } }), vec![retry, analytics]),
            (json!({ "jobFunctionName": { "isNull": true } }), vec![sla]),
            (json!({ "jobFunctionName": { "isNull": false } }), vec![email, retry, analytics, notify]),
            // status
            (json!({ "status": { "eq": "FAILED" } }), vec![email, analytics]),
            (json!({ "status": { "ne": "FAILED" } }), vec![sla, retry, notify]),
            (json!({ "status": { "in": ["RUNNING", "FAILED"] } }), vec![email, sla, analytics]),
            (json!({ "status": { "notIn": ["RUNNING", "FAILED"] } }), vec![retry, notify]),
            // durationMs: notify 40, analytics 120, retry 80, sla NULL, email 10.
            (json!({ "durationMs": { "eq": 40 } }), vec![notify]),
            (json!({ "durationMs": { "ne": 40 } }), vec![email, retry, analytics]),
            (json!({ "durationMs": { "gt": 40 } }), vec![retry, analytics]),
            (json!({ "durationMs": { "gte": 40 } }), vec![retry, analytics, notify]),
            (json!({ "durationMs": { "lt": 80 } }), vec![email, notify]),
            (json!({ "durationMs": { "lte": 80 } }), vec![email, retry, notify]),
            (json!({ "durationMs": { "in": [10, 120] } }), vec![email, analytics]),
            (json!({ "durationMs": { "isNull": true } }), vec![sla]),
            // attempt: email 3, retry 2, the others 1.
            (json!({ "attempt": { "eq": 1 } }), vec![sla, analytics, notify]),
            (json!({ "attempt": { "ne": 1 } }), vec![email, retry]),
            (json!({ "attempt": { "gt": 2 } }), vec![email]),
            (json!({ "attempt": { "gte": 2 } }), vec![email, retry]),
            (json!({ "attempt": { "lt": 2 } }), vec![sla, analytics, notify]),
            (json!({ "attempt": { "lte": 2 } }), vec![sla, retry, analytics, notify]),
            (json!({ "attempt": { "in": [2, 3] } }), vec![email, retry]),
            (json!({ "attempt": { "isNull": false } }), all.clone()),
            // createdAt: minutes 1..5; updatedAt: email rewritten at minute 8.
            (json!({ "createdAt": { "gt": at_str(2) } }), vec![email, sla, retry]),
            (json!({ "createdAt": { "gte": at_str(2) } }), vec![email, sla, retry, analytics]),
            (json!({ "createdAt": { "lt": at_str(2) } }), vec![notify]),
            (json!({ "createdAt": { "lte": at_str(2) } }), vec![analytics, notify]),
            (json!({ "updatedAt": { "gt": at_str(5) } }), vec![email]),
            (json!({ "updatedAt": { "lte": at_str(5) } }), vec![sla, retry, analytics, notify]),
            (json!({ "updatedAt": { "gte": at_str(8), "lt": at_str(9) } }), vec![email]),
            // errorMessage
            (json!({ "errorMessage": { "contains": "TIMEOUT" } }), vec![analytics]),
            (json!({ "errorMessage": { "startsWith": "smtp 550" } }), vec![email]),
            (json!({ "errorMessage": { "isNull": false } }), vec![email, analytics]),
            (json!({ "errorMessage": { "isNull": true } }), vec![sla, retry, notify]),
            (json!({ "errorMessage": { "in": ["SMTP 550: mailbox unavailable"] } }), vec![email]),
            // Combinations
            (json!({ "jobName": { "eq": "updateAnalytics" }, "attempt": { "gt": 1 } }), vec![retry]),
            (json!({ "or": [{ "status": { "eq": "RUNNING" } }, { "attempt": { "gte": 3 } }] }), vec![email, sla]),
            (json!({ "not": { "eventExecutionId": { "eq": s.pickup.id } } }), vec![email, sla]),
            (json!({ "or": [] }), vec![]),
            (json!({ "and": [] }), all),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Job logs
// ---------------------------------------------------------------------------------------------

struct Logs {
    first: invocations::Model,
    second: invocations::Model,
    pickup: event_executions::Model,
    created: event_executions::Model,
    notify: job_executions::Model,
    analytics: job_executions::Model,
    email: job_executions::Model,
    /// notify: DEBUG, INFO; analytics: WARN (no source), ERROR; email: INFO, ERROR.
    lines: [job_logs::Model; 6],
}

impl Logs {
    fn new() -> Self {
        let first = invocation(at(0));
        let second = invocation(at(0));
        let pickup = event(&first, "move.pickup.successful", at(0));
        let created = event(&second, "move.created", at(0));
        let notify = job(&pickup, "sendNotification", at(0));
        let analytics = job(&pickup, "updateAnalytics", at(0));
        let email = job(&created, "sendEmail", at(0));
        let lines = [
            job_logs::Model {
                source: Some("jobs/notify.js".to_owned()),
                ..log(&notify, LogLevel::Debug, "connecting to db", at(1))
            },
            job_logs::Model {
                source: Some("jobs/notify.js".to_owned()),
                ..log(&notify, LogLevel::Info, "sent 3 notifications", at(2))
            },
            job_logs::Model { source: None, ..log(&analytics, LogLevel::Warn, "retrying in 100ms", at(3)) },
            log(&analytics, LogLevel::Error, "Timeout exceeded", at(4)),
            job_logs::Model {
                source: Some("jobs/email.js".to_owned()),
                ..log(&email, LogLevel::Info, "50% done_ok", at(5))
            },
            job_logs::Model {
                source: Some("jobs/email.js".to_owned()),
                ..log(&email, LogLevel::Error, "SMTP failure", at(6))
            },
        ];
        Self { first, second, pickup, created, notify, analytics, email, lines }
    }

    fn trees(&self) -> Vec<Tree> {
        vec![
            Tree {
                invocation: Some(self.first.clone()),
                events: vec![self.pickup.clone()],
                jobs: vec![self.notify.clone(), self.analytics.clone()],
                logs: self.lines[..4].to_vec(),
            },
            Tree {
                invocation: Some(self.second.clone()),
                events: vec![self.created.clone()],
                jobs: vec![self.email.clone()],
                logs: self.lines[4..].to_vec(),
            },
        ]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_log_filters() {
    let app = TestApp::spawn().await;
    let s = Logs::new();
    app.insert(s.trees()).await;
    let [debug, info, warn, error, email_info, email_error] = s.lines.each_ref().map(|l| l.id);
    let all = vec![email_error, email_info, error, warn, info, debug];
    let nobody = Uuid::new_v4();
    check(
        &app,
        "jobLogs",
        vec![
            // id
            (json!({ "id": { "eq": warn } }), vec![warn]),
            (json!({ "id": { "ne": warn } }), vec![email_error, email_info, error, info, debug]),
            (json!({ "id": { "in": [debug, email_error, nobody] } }), vec![email_error, debug]),
            (json!({ "id": { "isNull": true } }), vec![]),
            // jobExecutionId
            (json!({ "jobExecutionId": { "eq": s.analytics.id } }), vec![error, warn]),
            (json!({ "jobExecutionId": { "ne": s.analytics.id } }), vec![email_error, email_info, info, debug]),
            (
                json!({ "jobExecutionId": { "in": [s.notify.id, s.email.id] } }),
                vec![email_error, email_info, info, debug],
            ),
            // invocationId: the logs of that invocation's jobs only.
            (json!({ "invocationId": { "eq": s.first.id } }), vec![error, warn, info, debug]),
            (json!({ "invocationId": { "eq": s.second.id } }), vec![email_error, email_info]),
            (json!({ "invocationId": { "ne": s.first.id } }), vec![email_error, email_info]),
            (json!({ "invocationId": { "in": [s.second.id, nobody] } }), vec![email_error, email_info]),
            (json!({ "invocationId": { "eq": nobody } }), vec![]),
            (json!({ "invocationId": { "isNull": false } }), all.clone()),
            // level
            (json!({ "level": { "eq": "INFO" } }), vec![email_info, info]),
            (json!({ "level": { "in": ["DEBUG", "ERROR"] } }), vec![email_error, error, debug]),
            (json!({ "level": { "in": [] } }), vec![]),
            (json!({ "level": { "gte": "WARN" } }), vec![email_error, error, warn]),
            (json!({ "level": { "gte": "ERROR" } }), vec![email_error, error]),
            (json!({ "level": { "gte": "INFO" } }), vec![email_error, email_info, error, warn, info]),
            (json!({ "level": { "gte": "DEBUG" } }), all.clone()),
            (json!({ "level": { "gte": "WARN", "in": ["WARN", "INFO"] } }), vec![warn]),
            // message
            (json!({ "message": { "eq": "Timeout exceeded" } }), vec![error]),
            (json!({ "message": { "ne": "Timeout exceeded" } }), vec![email_error, email_info, warn, info, debug]),
            (json!({ "message": { "in": ["SMTP failure", "connecting to db"] } }), vec![email_error, debug]),
            (
                json!({ "message": { "notIn": ["SMTP failure", "connecting to db"] } }),
                vec![email_info, error, warn, info],
            ),
            (json!({ "message": { "contains": "TIMEOUT" } }), vec![error]),
            (json!({ "message": { "contains": "%" } }), vec![email_info]),
            (json!({ "message": { "contains": "_" } }), vec![email_info]),
            (json!({ "message": { "contains": "% d" } }), vec![email_info]),
            (json!({ "message": { "startsWith": "SENT" } }), vec![info]),
            (json!({ "message": { "startsWith": "%" } }), vec![]),
            (json!({ "message": { "isNull": false } }), all.clone()),
            // source: NULL for warn.
            (json!({ "source": { "eq": "jobs/email.js" } }), vec![email_error, email_info]),
            (json!({ "source": { "ne": "jobs/email.js" } }), vec![error, info, debug]),
            (json!({ "source": { "startsWith": "JOBS/NOTIFY" } }), vec![info, debug]),
            (json!({ "source": { "isNull": true } }), vec![warn]),
            (json!({ "source": { "isNull": false } }), vec![email_error, email_info, error, info, debug]),
            // createdAt: minutes 1..6.
            (json!({ "createdAt": { "gt": at_str(4) } }), vec![email_error, email_info]),
            (json!({ "createdAt": { "gte": at_str(4) } }), vec![email_error, email_info, error]),
            (json!({ "createdAt": { "lt": at_str(2) } }), vec![debug]),
            (json!({ "createdAt": { "lte": at_str(2) } }), vec![info, debug]),
            // Combinations
            (json!({ "invocationId": { "eq": s.first.id }, "level": { "gte": "WARN" } }), vec![error, warn]),
            (
                json!({ "or": [{ "level": { "eq": "DEBUG" } }, { "invocationId": { "eq": s.second.id } }] }),
                vec![email_error, email_info, debug],
            ),
            (json!({ "not": { "invocationId": { "eq": s.first.id } } }), vec![email_error, email_info]),
            (
                json!({ "and": [
                    { "level": { "eq": "ERROR" } },
                    { "not": { "jobExecutionId": { "eq": s.email.id } } }
                ] }),
                vec![error],
            ),
            (json!({ "or": [] }), vec![]),
            (json!({ "and": [] }), all),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Filters with orders, cursors and totalCount
// ---------------------------------------------------------------------------------------------

/// One page of `connection`: its ids, `hasNextPage`, `hasPreviousPage`, end/start cursors and
/// `totalCount`.
struct Page {
    ids: Vec<Uuid>,
    has_next: bool,
    has_previous: bool,
    start: Option<String>,
    end: Option<String>,
    total: i64,
}

async fn page(app: &TestApp, connection: &str, order_type: &str, args: Value) -> Page {
    let query = format!(
        "query($f: {filter}, $o: {order_type}, $first: Int, $after: String, $last: Int, $before: String) {{
           list: {connection}(filter: $f, orderBy: $o, first: $first, after: $after, last: $last, before: $before) {{
             totalCount nodes {{ id }} pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }}",
        filter = filter_type(connection)
    );
    let data = app.data(&query, args).await;
    let list = &data["list"];
    let info = &list["pageInfo"];
    Page {
        ids: list["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().parse().unwrap()).collect(),
        has_next: info["hasNextPage"].as_bool().unwrap(),
        has_previous: info["hasPreviousPage"].as_bool().unwrap(),
        start: info["startCursor"].as_str().map(str::to_owned),
        end: info["endCursor"].as_str().map(str::to_owned),
        total: list["totalCount"].as_i64().unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_with_order_and_cursors() {
    let app = TestApp::spawn().await;
    let s = Invocations::new();
    s.insert(&app).await;
    let (a, b, d) = (s.a.id, s.b.id, s.d.id);

    // Not running (a 100 ms, b 250 ms, d 50 ms), shortest first, two at a time.
    let filter = json!({ "status": { "ne": "RUNNING" } });
    let order = json!({ "field": "TOTAL_DURATION_MS", "direction": "ASC" });
    let first = page(&app, "invocations", "InvocationOrder", json!({ "f": filter, "o": order, "first": 2 })).await;
    assert_eq!((first.ids.clone(), first.has_next, first.has_previous, first.total), (vec![d, a], true, false, 3));
    let second = page(
        &app,
        "invocations",
        "InvocationOrder",
        json!({ "f": filter, "o": order, "first": 2, "after": first.end }),
    )
    .await;
    assert_eq!((second.ids.clone(), second.has_next, second.has_previous, second.total), (vec![b], false, true, 3));
    // And back from the second page.
    let back = page(
        &app,
        "invocations",
        "InvocationOrder",
        json!({ "f": filter, "o": order, "last": 2, "before": second.start }),
    )
    .await;
    assert_eq!((back.ids, back.has_next, back.has_previous, back.total), (vec![d, a], true, false, 3));

    // By source function descending: "event-detector-moves" (a), "event-detector-users" (b), "100%_moves" (d)
    let order = json!({ "field": "SOURCE_FUNCTION", "direction": "DESC" });
    let first = page(&app, "invocations", "InvocationOrder", json!({ "f": filter, "o": order, "first": 1 })).await;
    assert_eq!((first.ids.clone(), first.total), (vec![b], 3));
    let rest = page(
        &app,
        "invocations",
        "InvocationOrder",
        json!({ "f": filter, "o": order, "first": 5, "after": first.end }),
    )
    .await;
    assert_eq!((rest.ids, rest.has_next, rest.total), (vec![a, d], false, 3));

    // Job executions not running, shortest first: email 10, notify 40, retry 80, analytics 120.
    let app_jobs = TestApp::spawn().await;
    let j = Jobs::new();
    j.insert(&app_jobs).await;
    let filter = json!({ "status": { "notIn": ["RUNNING"] } });
    let order = json!({ "field": "DURATION_MS", "direction": "ASC" });
    let first =
        page(&app_jobs, "jobExecutions", "JobExecutionOrder", json!({ "f": filter, "o": order, "first": 2 })).await;
    assert_eq!((first.ids.clone(), first.has_next, first.total), (vec![j.email.id, j.notify.id], true, 4));
    let second = page(
        &app_jobs,
        "jobExecutions",
        "JobExecutionOrder",
        json!({ "f": filter, "o": order, "first": 2, "after": first.end }),
    )
    .await;
    assert_eq!(
        (second.ids, second.has_next, second.has_previous, second.total),
        (vec![j.analytics_retry.id, j.analytics.id], false, true, 4)
    );

    // Event executions that ran their detector, fastest first, one at a time:
    // cancelled 5 ms, pickup 10 ms, signup 15 ms, created 20 ms.
    let app_events = TestApp::spawn().await;
    let e = Events::new();
    e.insert(&app_events).await;
    let filter = json!({ "detectionDurationMs": { "isNull": false } });
    let order = json!({ "field": "DETECTION_DURATION_MS", "direction": "ASC" });
    let expected = vec![e.cancelled.id, e.pickup.id, e.signup.id, e.created.id];
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let p = page(
            &app_events,
            "eventExecutions",
            "EventExecutionOrder",
            json!({ "f": filter, "o": order, "first": 1, "after": after }),
        )
        .await;
        assert_eq!(p.total, 4);
        seen.extend(p.ids);
        if !p.has_next {
            break;
        }
        after = p.end;
    }
    assert_eq!(seen, expected);

    // Job logs of the first invocation, newest first, two at a time.
    let app_logs = TestApp::spawn().await;
    let l = Logs::new();
    app_logs.insert(l.trees()).await;
    let filter = json!({ "invocationId": { "eq": l.first.id } });
    let first = page(&app_logs, "jobLogs", "JobLogOrder", json!({ "f": filter, "first": 2 })).await;
    assert_eq!((first.ids.clone(), first.has_next, first.total), (vec![l.lines[3].id, l.lines[2].id], true, 4));
    let second =
        page(&app_logs, "jobLogs", "JobLogOrder", json!({ "f": filter, "first": 2, "after": first.end })).await;
    assert_eq!((second.ids, second.has_next, second.total), (vec![l.lines[1].id, l.lines[0].id], false, 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filtered_total_count_counts_matching_rows_only() {
    let app = TestApp::spawn().await;
    let l = Logs::new();
    app.insert(l.trees()).await;
    // Tables: 2 invocations, 2 events, 3 jobs, 6 logs.
    let cases = [
        ("invocations", "InvocationOrder", json!({ "id": { "eq": l.second.id } }), 1),
        ("eventExecutions", "EventExecutionOrder", json!({ "invocationId": { "eq": l.first.id } }), 1),
        ("jobExecutions", "JobExecutionOrder", json!({ "invocationId": { "eq": l.first.id } }), 2),
        ("jobLogs", "JobLogOrder", json!({ "level": { "gte": "WARN" } }), 3),
        ("jobLogs", "JobLogOrder", json!({ "or": [] }), 0),
        ("jobLogs", "JobLogOrder", json!({ "and": [] }), 6),
        ("jobLogs", "JobLogOrder", json!({}), 6),
    ];
    for (connection, order, filter, expected) in cases {
        for first in [0, 1, 100] {
            let p = page(&app, connection, order, json!({ "f": filter, "first": first })).await;
            assert_eq!(p.total, expected, "{connection} {filter} first {first}");
            assert_eq!(p.ids.len(), expected.min(first as i64) as usize, "{connection} {filter} first {first}");
            // The same total on the page after the first row.
            if let (1, Some(end)) = (first, p.end) {
                let next = page(&app, connection, order, json!({ "f": filter, "first": 1, "after": end })).await;
                assert_eq!(next.total, expected, "{connection} {filter} after the first row");
            }
        }
    }
}
