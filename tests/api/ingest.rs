//! The `ingest` mutation: whole and partial trees in one transaction, exact counts, idempotent
//! replays, forward-only statuses, and nothing written when any tree is invalid.

use serde_json::{Value, json};

use crate::fixtures::at_str;
use crate::helpers::{RowCount, TestApp};

const A: &str = "01960000-0000-7000-8000-00000000000a";
const A_E1: &str = "01960000-0000-7000-8000-0000000000a1";
const A_E2: &str = "01960000-0000-7000-8000-0000000000a2";
const A_J1: &str = "01960000-0000-7000-8000-000000000a11";
const A_J2: &str = "01960000-0000-7000-8000-000000000a12";
const A_L1: &str = "01960000-0000-7000-8000-00000000a111";
const B: &str = "01960000-0000-7000-8000-00000000000b";
const B_E1: &str = "01960000-0000-7000-8000-0000000000b1";
const B_E2: &str = "01960000-0000-7000-8000-0000000000b2";
const B_J1: &str = "01960000-0000-7000-8000-000000000b11";
const B_J2: &str = "01960000-0000-7000-8000-000000000b12";
/// A third invocation, for trees that must not be written.
const C: &str = "01960000-0000-7000-8000-00000000000c";
const CORRELATION: &str = "01960000-0000-7000-8000-0000000000cc";
const MISSING: &str = "01960000-0000-7000-8000-00000000dead";

const INGEST: &str = "mutation($batch: [InvocationTreeInput!]!) { ingest(batch: $batch) {
    invocations { inserted updated unchanged } eventExecutions { inserted updated unchanged }
    jobExecutions { inserted updated unchanged } jobLogs { inserted updated unchanged } } }";

/// Every stored field of an invocation's tree that a write could change, `updatedAt` included.
const TREE: &str = "query($id: UUID!) { invocation(id: $id) {
    id sourceFunction sourceSystem sourceEventPayload sourceUserEmail sourceUserRole status totalDurationMs
    autoLoadModules eventModulesDirectory contextData correlationId createdAt updatedAt
    eventsDetectedCount totalJobsRun totalJobsSucceeded totalJobsFailed
    eventExecutions { id eventName detected detectionDurationMs detectionError status handlerDurationMs
                      handlerError jobsCount jobsSucceeded jobsFailed createdAt updatedAt
      jobExecutions { id invocationId jobName jobFunctionName jobOptions status durationMs result errorMessage
                      errorStack consoleLogs attempt createdAt updatedAt
        logs { id level message data source createdAt } } } } }";

/// The `ingest` answer for `[inserted, updated, unchanged]` per table: invocations, event
/// executions, job executions, job logs.
fn counts(invocations: [u64; 3], events: [u64; 3], jobs: [u64; 3], logs: [u64; 3]) -> Value {
    let c = |[inserted, updated, unchanged]: [u64; 3]| json!({ "inserted": inserted, "updated": updated, "unchanged": unchanged });
    json!({ "ingest": { "invocations": c(invocations), "eventExecutions": c(events),
                        "jobExecutions": c(jobs), "jobLogs": c(logs) } })
}

/// A finished invocation: a detected event with a completed and a failed job and their log
/// lines (one with an id, two without), and an event not detected.
fn tree_a() -> Value {
    let sent = json!({
        "id": A_J1, "jobName": "sendNotification", "jobFunctionName": "sendPush", "jobOptions": { "moveId": 123 },
        "status": "COMPLETED", "durationMs": 40, "result": { "sent": true }, "consoleLogs": ["sending", "sent"],
        "createdAt": at_str(2),
        "logs": [
            { "level": "INFO", "message": "sending", "createdAt": at_str(2) },
            { "id": A_L1, "level": "INFO", "message": "sent", "data": { "provider": "fcm" },
              "source": "jobs/notify.js", "createdAt": at_str(3) },
        ],
    });
    let failed = json!({
        "id": A_J2, "jobName": "updateAnalytics", "status": "FAILED", "durationMs": 15,
        "errorMessage": "timeout of 10000ms exceeded", "errorStack": "Error: timeout", "attempt": 2,
        "createdAt": at_str(3), "logs": [{ "level": "ERROR", "message": "timeout", "createdAt": at_str(4) }],
    });
    json!({
        "id": A, "sourceFunction": "event-detector-moves", "sourceSystem": "hasura",
        "sourceEventPayload": { "event": { "op": "UPDATE" } }, "sourceUserEmail": "driver@company.com",
        "sourceUserRole": "driver", "status": "COMPLETED", "totalDurationMs": 250, "autoLoadModules": true,
        "eventModulesDirectory": "./events", "contextData": { "region": "eu" }, "correlationId": CORRELATION,
        "createdAt": at_str(0),
        "eventExecutions": [
            { "id": A_E1, "eventName": "move.pickup.successful", "detected": true, "detectionDurationMs": 4,
              "status": "COMPLETED", "handlerDurationMs": 200, "createdAt": at_str(1),
              "jobExecutions": [sent, failed] },
            { "id": A_E2, "eventName": "move.cancelled", "detected": false, "detectionDurationMs": 1,
              "createdAt": at_str(1) },
        ],
    })
}

/// A running invocation with one event still detecting.
fn tree_b() -> Value {
    json!({
        "id": B, "sourceFunction": "event-detector-users", "createdAt": at_str(10),
        "eventExecutions": [{ "id": B_E1, "eventName": "user.created", "createdAt": at_str(11) }],
    })
}

async fn ingest(app: &TestApp, batch: Value) -> Value {
    app.data(INGEST, json!({ "batch": batch })).await
}

async fn tree(app: &TestApp, id: &str) -> Value {
    app.data(TREE, json!({ "id": id })).await["invocation"].clone()
}

/// `updatedAt` is the server's clock: leave it out where the test cannot know it.
fn without_updated_at(mut value: Value) -> Value {
    match &mut value {
        Value::Object(map) => {
            map.remove("updatedAt");
            for v in map.values_mut() {
                *v = without_updated_at(v.take());
            }
        }
        Value::Array(items) => {
            for v in items.iter_mut() {
                *v = without_updated_at(v.take());
            }
        }
        _ => {}
    }
    value
}

/// The id and `createdAt` of each log line of a job, from a `TREE` answer.
fn log_ids(tree: &Value, event: usize, job: usize) -> Vec<Value> {
    tree["eventExecutions"][event]["jobExecutions"][job]["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_trees_in_one_call() {
    let app = TestApp::spawn().await;
    let answer = ingest(&app, json!([tree_a(), tree_b()])).await;
    assert_eq!(answer, counts([2, 0, 0], [3, 0, 0], [2, 0, 0], [3, 0, 0]));
    assert_eq!(app.row_count().await, RowCount { invocations: 2, event_executions: 3, job_executions: 2, job_logs: 3 });

    let a = tree(&app, A).await;
    let (sending, timeout) = (log_ids(&a, 0, 0)[0].clone(), log_ids(&a, 0, 1)[0].clone());
    assert!(sending.is_string() && timeout.is_string(), "lines sent without ids get one");
    let sent = json!({
        "id": A_J1, "invocationId": A, "jobName": "sendNotification", "jobFunctionName": "sendPush",
        "jobOptions": { "moveId": 123 }, "status": "COMPLETED", "durationMs": 40, "result": { "sent": true },
        "errorMessage": null, "errorStack": null, "consoleLogs": ["sending", "sent"], "attempt": 1,
        "createdAt": at_str(2),
        "logs": [
            { "id": sending, "level": "INFO", "message": "sending", "data": null, "source": null, "createdAt": at_str(2) },
            { "id": A_L1, "level": "INFO", "message": "sent", "data": { "provider": "fcm" },
              "source": "jobs/notify.js", "createdAt": at_str(3) },
        ],
    });
    let failed = json!({
        "id": A_J2, "invocationId": A, "jobName": "updateAnalytics", "jobFunctionName": null, "jobOptions": null,
        "status": "FAILED", "durationMs": 15, "result": null, "errorMessage": "timeout of 10000ms exceeded",
        "errorStack": "Error: timeout", "consoleLogs": null, "attempt": 2, "createdAt": at_str(3),
        "logs": [{ "id": timeout, "level": "ERROR", "message": "timeout", "data": null, "source": null,
                   "createdAt": at_str(4) }],
    });
    assert_eq!(
        without_updated_at(a),
        json!({
            "id": A, "sourceFunction": "event-detector-moves", "sourceSystem": "hasura",
            "sourceEventPayload": { "event": { "op": "UPDATE" } }, "sourceUserEmail": "driver@company.com",
            "sourceUserRole": "driver", "status": "COMPLETED", "totalDurationMs": 250, "autoLoadModules": true,
            "eventModulesDirectory": "./events", "contextData": { "region": "eu" }, "correlationId": CORRELATION,
            "createdAt": at_str(0),
            "eventsDetectedCount": 1, "totalJobsRun": 2, "totalJobsSucceeded": 1, "totalJobsFailed": 1,
            "eventExecutions": [
                { "id": A_E1, "eventName": "move.pickup.successful", "detected": true, "detectionDurationMs": 4,
                  "detectionError": null, "status": "COMPLETED", "handlerDurationMs": 200, "handlerError": null,
                  "jobsCount": 2, "jobsSucceeded": 1, "jobsFailed": 1, "createdAt": at_str(1),
                  "jobExecutions": [sent, failed] },
                { "id": A_E2, "eventName": "move.cancelled", "detected": false, "detectionDurationMs": 1,
                  "detectionError": null, "status": "NOT_DETECTED", "handlerDurationMs": null, "handlerError": null,
                  "jobsCount": 0, "jobsSucceeded": 0, "jobsFailed": 0, "createdAt": at_str(1), "jobExecutions": [] },
            ],
        })
    );
    let b = tree(&app, B).await;
    assert_eq!(
        (&b["status"], &b["eventsDetectedCount"], &b["totalJobsRun"], &b["eventExecutions"][0]["status"]),
        (&json!("RUNNING"), &json!(0), &json!(0), &json!("DETECTING"))
    );
    assert_eq!(app.assert_counters_match_children(A).await, [1, 2, 1, 1]);
    assert_eq!(app.assert_counters_match_children(B).await, [0, 0, 0, 0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_trees_add_children_to_stored_rows() {
    let app = TestApp::spawn().await;
    ingest(&app, json!([tree_b()])).await;

    // Only the invocation's id, a detection result for its stored event, a new job, a new event.
    let answer = ingest(
        &app,
        json!([{ "id": B, "eventExecutions": [
            { "id": B_E1, "detected": true, "jobExecutions": [
                { "id": B_J1, "jobName": "sendWelcome", "logs": [{ "level": "INFO", "message": "hi", "createdAt": at_str(12) }] },
            ] },
            { "id": B_E2, "eventName": "user.updated", "detected": false, "createdAt": at_str(13) },
        ] }]),
    )
    .await;
    assert_eq!(answer, counts([0, 0, 1], [1, 1, 0], [1, 0, 0], [1, 0, 0]));
    assert_eq!(app.assert_counters_match_children(B).await, [1, 1, 0, 0]);
    let b = tree(&app, B).await;
    assert_eq!(b["eventExecutions"][0]["status"], "HANDLING");
    assert_eq!(b["eventExecutions"][1]["status"], "NOT_DETECTED");
    assert_eq!(b["eventExecutions"][0]["jobExecutions"][0]["invocationId"], B);

    // The job ends and the invocation with it; the references alone change nothing.
    let answer = ingest(
        &app,
        json!([{ "id": B, "status": "COMPLETED", "eventExecutions": [
            { "id": B_E1, "jobExecutions": [{ "id": B_J1, "status": "COMPLETED", "durationMs": 9 }] },
        ] }]),
    )
    .await;
    assert_eq!(answer, counts([0, 1, 0], [0, 0, 1], [0, 1, 0], [0, 0, 0]));
    assert_eq!(app.assert_counters_match_children(B).await, [1, 1, 1, 0]);

    // A late, failed job for the completed invocation.
    let answer = ingest(
        &app,
        json!([{ "id": B, "eventExecutions": [
            { "id": B_E1, "jobExecutions": [{ "id": B_J2, "jobName": "sendSurvey", "status": "FAILED" }] },
        ] }]),
    )
    .await;
    assert_eq!(answer, counts([0, 0, 1], [0, 0, 1], [1, 0, 0], [0, 0, 0]));
    assert_eq!(app.assert_counters_match_children(B).await, [1, 2, 1, 1]);
    assert_eq!(app.row_count().await, RowCount { invocations: 1, event_executions: 2, job_executions: 2, job_logs: 1 });

    // References only: nothing changes.
    let before = tree(&app, B).await;
    let answer = ingest(
        &app,
        json!([{ "id": B, "eventExecutions": [{ "id": B_E1, "jobExecutions": [{ "id": B_J1 }, { "id": B_J2 }] }] }]),
    )
    .await;
    assert_eq!(answer, counts([0, 0, 1], [0, 0, 1], [0, 0, 2], [0, 0, 0]));
    assert_eq!(tree(&app, B).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn references_to_missing_rows_are_not_found() {
    let app = TestApp::spawn().await;
    ingest(&app, json!([tree_b()])).await;
    let rows = app.row_count().await;
    let before = tree(&app, B).await;
    let cases = [
        (
            json!([{ "id": MISSING, "eventExecutions": [{ "eventName": "x" }] }]),
            format!("invocation {MISSING} does not exist"),
            "batch[0]",
        ),
        (
            json!([tree_b(), { "id": B, "eventExecutions": [{ "id": MISSING, "jobExecutions": [{ "jobName": "j" }] }] }]),
            format!("event execution {MISSING} does not exist"),
            "batch[1].eventExecutions[0]",
        ),
        (
            json!([{ "id": B, "eventExecutions": [{ "id": B_E1, "jobExecutions": [
                { "id": MISSING, "logs": [{ "level": "INFO", "message": "x" }] }] }] }]),
            format!("job execution {MISSING} does not exist"),
            "batch[0].eventExecutions[0].jobExecutions[0]",
        ),
    ];
    for (batch, message, field) in cases {
        let error = app.rejection(INGEST, json!({ "batch": batch })).await;
        assert_eq!(
            error,
            json!({ "message": format!("{field}: {message}"), "extensions": { "code": "NOT_FOUND", "field": field } }),
            "{batch}"
        );
        assert_eq!(app.row_count().await, rows, "{batch}");
    }
    assert_eq!(tree(&app, B).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_a_batch_changes_nothing() {
    let app = TestApp::spawn().await;
    ingest(&app, json!([tree_a(), tree_b()])).await;
    let rows = app.row_count().await;
    let (a, b) = (tree(&app, A).await, tree(&app, B).await);

    for _ in 0..2 {
        let answer = ingest(&app, json!([tree_a(), tree_b()])).await;
        assert_eq!(answer, counts([0, 0, 2], [0, 0, 3], [0, 0, 2], [0, 0, 3]));
        assert_eq!(app.row_count().await, rows);
        assert_eq!(tree(&app, A).await, a);
        assert_eq!(tree(&app, B).await, b);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_without_ids_get_derived_ids() {
    let app = TestApp::spawn().await;
    ingest(&app, json!([tree_b()])).await;
    let line = |message: &str, minute: Option<i64>| match minute {
        Some(m) => json!({ "level": "INFO", "message": message, "createdAt": at_str(m) }),
        None => json!({ "level": "INFO", "message": message }),
    };
    let with_logs = |logs: Value| {
        json!([{ "id": B, "eventExecutions": [{ "id": B_E1, "jobExecutions": [
            { "id": B_J1, "jobName": "sendWelcome", "logs": logs }] }] }])
    };
    // Two identical lines are two lines; a line without `createdAt` gets the server's clock.
    let lines =
        json!([line("retrying", Some(20)), line("retrying", Some(20)), line("done", Some(21)), line("no time", None)]);
    let answer = ingest(&app, with_logs(lines.clone())).await;
    assert_eq!(answer, counts([0, 0, 1], [0, 0, 1], [1, 0, 0], [4, 0, 0]));
    assert_eq!(app.row_count().await.job_logs, 4);
    let stored = tree(&app, B).await;
    let ids = log_ids(&stored, 0, 0);
    assert_eq!(ids.len(), 4);
    assert_ne!(ids[0], ids[1]);

    // The same lines again, through the batch or through `appendJobLogs`: nothing new.
    let answer = ingest(&app, with_logs(lines.clone())).await;
    assert_eq!(answer, counts([0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 4]));
    app.data(
        "mutation($input: AppendJobLogsInput!) { appendJobLogs(input: $input) { id } }",
        json!({ "input": { "jobExecutionId": B_J1, "logs": lines } }),
    )
    .await;
    assert_eq!(app.row_count().await.job_logs, 4);
    assert_eq!(tree(&app, B).await, stored);

    // A third identical line is new; the same text at another time is new.
    let answer = ingest(
        &app,
        with_logs(json!([
            line("retrying", Some(20)),
            line("retrying", Some(20)),
            line("retrying", Some(20)),
            line("done", Some(22))
        ])),
    )
    .await;
    assert_eq!(answer, counts([0, 0, 1], [0, 0, 1], [0, 0, 1], [2, 0, 2]));
    assert_eq!(app.row_count().await.job_logs, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_move_forward_only() {
    let app = TestApp::spawn().await;
    let running = json!([{ "id": B, "sourceFunction": "event-detector-users", "eventExecutions": [
        { "id": B_E1, "eventName": "user.created", "detected": true, "jobExecutions": [{ "id": B_J1, "jobName": "sendWelcome" }] },
    ] }]);
    assert_eq!(ingest(&app, running.clone()).await, counts([1, 0, 0], [1, 0, 0], [1, 0, 0], [0, 0, 0]));
    let b = tree(&app, B).await;
    assert_eq!(
        (&b["status"], &b["eventExecutions"][0]["status"], &b["eventExecutions"][0]["jobExecutions"][0]["status"]),
        (&json!("RUNNING"), &json!("HANDLING"), &json!("RUNNING"))
    );

    // RUNNING → COMPLETED, in a later batch.
    let completed = json!([{ "id": B, "status": "COMPLETED", "totalDurationMs": 30, "eventExecutions": [
        { "id": B_E1, "status": "COMPLETED", "jobExecutions": [{ "id": B_J1, "status": "COMPLETED", "durationMs": 5 }] },
    ] }]);
    assert_eq!(ingest(&app, completed.clone()).await, counts([0, 1, 0], [0, 1, 0], [0, 1, 0], [0, 0, 0]));
    assert_eq!(app.assert_counters_match_children(B).await, [1, 1, 1, 0]);
    let rows = app.row_count().await;
    let before = tree(&app, B).await;
    assert_eq!(
        (
            &before["status"],
            &before["eventExecutions"][0]["status"],
            &before["eventExecutions"][0]["jobExecutions"][0]["status"]
        ),
        (&json!("COMPLETED"), &json!("COMPLETED"), &json!("COMPLETED"))
    );

    // Back to RUNNING, or from one end to the other, is refused, naming the row and its path.
    let cases = [
        (
            json!([{ "id": B, "status": "RUNNING" }]),
            "batch[0].status",
            format!("invocation {B} is COMPLETED and cannot become RUNNING"),
        ),
        (
            json!([{ "id": B, "status": "FAILED" }]),
            "batch[0].status",
            format!("invocation {B} is COMPLETED and cannot become FAILED"),
        ),
        (
            json!([tree_b(), { "id": B, "eventExecutions": [{ "id": B_E1, "jobExecutions": [{ "id": B_J1, "status": "FAILED" }] }] }]),
            "batch[1].eventExecutions[0].jobExecutions[0].status",
            format!("job execution {B_J1} is COMPLETED and cannot become FAILED"),
        ),
        (
            json!([{ "id": B, "eventExecutions": [{ "id": B_E1, "jobExecutions": [{ "id": B_J1, "status": "RUNNING" }] }] }]),
            "batch[0].eventExecutions[0].jobExecutions[0].status",
            format!("job execution {B_J1} is COMPLETED and cannot become RUNNING"),
        ),
        (
            json!([{ "id": B, "eventExecutions": [{ "id": B_E1, "status": "HANDLING" }] }]),
            "batch[0].eventExecutions[0].status",
            format!("event execution {B_E1} is COMPLETED and cannot become HANDLING"),
        ),
    ];
    for (batch, field, message) in cases {
        let error = app.rejection(INGEST, json!({ "batch": batch })).await;
        assert_eq!(
            error,
            json!({ "message": format!("{field}: {message}"), "extensions": { "code": "BAD_USER_INPUT", "field": field } }),
            "{batch}"
        );
        assert_eq!(app.row_count().await, rows, "{batch}");
    }
    assert_eq!(tree(&app, B).await, before);
    // Both reports again, in any order, change nothing: the first sent no statuses (they
    // defaulted), so it only fills nulls.
    for batch in [completed, running] {
        assert_eq!(ingest(&app, batch).await, counts([0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 0]));
    }
    assert_eq!(tree(&app, B).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_statuses_follow_their_lifecycle() {
    let app = TestApp::spawn().await;
    let event = |id: &str, extra: Value| {
        let mut e = json!({ "id": id, "eventName": format!("event.{}", &id[id.len() - 2..]) });
        e.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        e
    };
    ingest(
        &app,
        json!([{ "id": A, "sourceFunction": "f", "eventExecutions": [
            event(A_E1, json!({ "detected": false })),
            event(A_E2, json!({})),
            event(B_E1, json!({ "detected": true })),
        ] }]),
    )
    .await;
    let statuses = |tree: &Value| {
        tree["eventExecutions"].as_array().unwrap().iter().map(|e| e["status"].clone()).collect::<Vec<_>>()
    };
    assert_eq!(statuses(&tree(&app, A).await), ["NOT_DETECTED", "DETECTING", "HANDLING"]);
    let rows = app.row_count().await;

    // NOT_DETECTED → HANDLING is refused.
    let error = app
        .rejection(INGEST, json!({ "batch": [{ "id": A, "eventExecutions": [{ "id": A_E1, "status": "HANDLING" }] }] }))
        .await;
    let field = "batch[0].eventExecutions[0].status";
    assert_eq!(
        error,
        json!({ "message": format!("{field}: event execution {A_E1} is NOT_DETECTED and cannot become HANDLING"),
                "extensions": { "code": "BAD_USER_INPUT", "field": field } })
    );
    // DETECTING → COMPLETED and HANDLING → FAILED are allowed.
    let answer = ingest(
        &app,
        json!([{ "id": A, "eventExecutions": [{ "id": A_E2, "status": "COMPLETED" }, { "id": B_E1, "status": "FAILED", "handlerError": "boom" }] }]),
    )
    .await;
    assert_eq!(answer, counts([0, 0, 1], [0, 2, 0], [0, 0, 0], [0, 0, 0]));
    assert_eq!(statuses(&tree(&app, A).await), ["NOT_DETECTED", "COMPLETED", "FAILED"]);
    // COMPLETED → HANDLING and FAILED → COMPLETED are refused.
    for (id, to, from) in [(A_E2, "HANDLING", "COMPLETED"), (B_E1, "COMPLETED", "FAILED")] {
        let error = app
            .rejection(INGEST, json!({ "batch": [{ "id": A, "eventExecutions": [{ "id": id, "status": to }] }] }))
            .await;
        assert_eq!(
            error["message"],
            format!("{field}: event execution {id} is {from} and cannot become {to}"),
            "{error}"
        );
    }
    assert_eq!(app.row_count().await, rows);
    assert_eq!(app.assert_counters_match_children(A).await, [1, 0, 0, 0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_status_resends_fill_nulls_but_keep_the_first_report() {
    let app = TestApp::spawn().await;
    let first = json!([{ "id": B, "sourceFunction": "event-detector-users", "eventExecutions": [
        { "id": B_E1, "eventName": "user.created", "detected": true, "jobExecutions": [
            { "id": B_J1, "jobName": "sendWelcome", "status": "COMPLETED", "result": { "v": 1 } }] }] }]);
    ingest(&app, first).await;
    let before = tree(&app, B).await;

    // Stored values stay; nulls are filled.
    let second = json!([{ "id": B, "sourceFunction": "event-detector-users", "sourceSystem": "hasura",
        "eventExecutions": [{ "id": B_E1, "eventName": "user.created", "detected": false, "detectionDurationMs": 3,
            "jobExecutions": [{ "id": B_J1, "jobName": "sendWelcome", "status": "COMPLETED", "result": { "v": 2 },
                                "durationMs": 7 }] }] }]);
    assert_eq!(ingest(&app, second.clone()).await, counts([0, 1, 0], [0, 1, 0], [0, 1, 0], [0, 0, 0]));
    let after = tree(&app, B).await;
    let job = &after["eventExecutions"][0]["jobExecutions"][0];
    assert_eq!((&job["result"], &job["durationMs"]), (&json!({ "v": 1 }), &json!(7)));
    let event = &after["eventExecutions"][0];
    assert_eq!(
        (&event["detected"], &event["detectionDurationMs"], &event["status"]),
        (&json!(true), &json!(3), &json!("HANDLING"))
    );
    assert_eq!(after["sourceSystem"], "hasura");
    assert_ne!(after["updatedAt"], before["updatedAt"]);
    assert_eq!(app.assert_counters_match_children(B).await, [1, 1, 1, 0]);

    // The same again, or with other values for the filled fields: nothing changes.
    let third = json!([{ "id": B, "sourceSystem": "other", "eventExecutions": [{ "id": B_E1, "detectionDurationMs": 9,
        "jobExecutions": [{ "id": B_J1, "status": "COMPLETED", "durationMs": 8 }] }] }]);
    for batch in [second, third] {
        assert_eq!(ingest(&app, batch).await, counts([0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 0]));
        assert_eq!(tree(&app, B).await, after);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_last_tree_writes_nothing() {
    let app = TestApp::spawn().await;
    let job = |extra: Value| {
        let mut j = json!({ "jobName": "sendWelcome" });
        j.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json!({ "id": C, "sourceFunction": "f", "eventExecutions": [{ "eventName": "e", "jobExecutions": [j] }] })
    };
    let path = "batch[2].eventExecutions[0].jobExecutions[0]";
    let cases = [
        (
            json!({ "id": C, "sourceSystem": "hasura" }),
            "BAD_USER_INPUT",
            "batch[2].sourceFunction".to_owned(),
            "a new invocation needs `sourceFunction`".to_owned(),
        ),
        (
            json!({ "id": C, "sourceFunction": "f", "eventExecutions": [{ "detected": true }] }),
            "BAD_USER_INPUT",
            "batch[2].eventExecutions[0].eventName".to_owned(),
            "a new event execution needs `eventName`".to_owned(),
        ),
        (
            json!({ "id": C, "sourceFunction": "f", "eventExecutions": [{ "eventName": "e", "jobExecutions": [{ "status": "COMPLETED" }] }] }),
            "BAD_USER_INPUT",
            format!("{path}.jobName"),
            "a new job execution needs `jobName`".to_owned(),
        ),
        (
            job(json!({ "durationMs": -1 })),
            "BAD_USER_INPUT",
            format!("{path}.durationMs"),
            "must not be negative, got -1".to_owned(),
        ),
        (
            job(json!({ "attempt": 0 })),
            "BAD_USER_INPUT",
            format!("{path}.attempt"),
            "must be at least 1, got 0".to_owned(),
        ),
        (
            json!({ "id": C, "sourceFunction": "f", "totalDurationMs": -7 }),
            "BAD_USER_INPUT",
            "batch[2].totalDurationMs".to_owned(),
            "must not be negative, got -7".to_owned(),
        ),
        (
            json!({ "id": C, "sourceFunction": "f", "eventExecutions": [{ "eventName": "e", "handlerDurationMs": -2 }] }),
            "BAD_USER_INPUT",
            "batch[2].eventExecutions[0].handlerDurationMs".to_owned(),
            "must not be negative, got -2".to_owned(),
        ),
        (
            json!({ "id": MISSING, "eventExecutions": [{ "eventName": "e" }] }),
            "NOT_FOUND",
            "batch[2]".to_owned(),
            format!("invocation {MISSING} does not exist"),
        ),
        // The first tree's invocation, under another function name.
        (
            json!({ "id": A, "sourceFunction": "event-detector-users" }),
            "BAD_USER_INPUT",
            "batch[2].sourceFunction".to_owned(),
            format!(
                "invocation {A} already exists with sourceFunction \"event-detector-moves\"; it cannot become \"event-detector-users\""
            ),
        ),
    ];
    for (last, code, field, message) in cases {
        let batch = json!([tree_a(), tree_b(), last]);
        let error = app.rejection(INGEST, json!({ "batch": batch })).await;
        assert_eq!(
            error,
            json!({ "message": format!("{field}: {message}"), "extensions": { "code": code, "field": field } }),
            "{last}"
        );
        assert_eq!(app.row_count().await, RowCount::default(), "{last}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_and_parents_of_stored_rows_cannot_change() {
    let app = TestApp::spawn().await;
    ingest(&app, json!([tree_a(), tree_b()])).await;
    let rows = app.row_count().await;
    let (a, b) = (tree(&app, A).await, tree(&app, B).await);
    let cases = [
        (
            json!([{ "id": A, "sourceFunction": "other" }]),
            "batch[0].sourceFunction",
            format!(
                "invocation {A} already exists with sourceFunction \"event-detector-moves\"; it cannot become \"other\""
            ),
        ),
        (
            json!([{ "id": A, "eventExecutions": [{ "id": A_E2, "eventName": "move.renamed" }] }]),
            "batch[0].eventExecutions[0].eventName",
            format!(
                "event execution {A_E2} already exists with eventName \"move.cancelled\"; it cannot become \"move.renamed\""
            ),
        ),
        (
            json!([{ "id": A, "eventExecutions": [{ "id": A_E1, "jobExecutions": [{ "id": A_J2, "jobName": "other" }] }] }]),
            "batch[0].eventExecutions[0].jobExecutions[0].jobName",
            format!("job execution {A_J2} already exists with jobName \"updateAnalytics\"; it cannot become \"other\""),
        ),
        (
            json!([{ "id": B, "eventExecutions": [{ "id": A_E1 }] }]),
            "batch[0].eventExecutions[0].invocationId",
            format!("event execution {A_E1} belongs to invocation {A}, not {B}"),
        ),
        (
            json!([{ "id": A, "eventExecutions": [{ "id": A_E2, "jobExecutions": [{ "id": A_J1 }] }] }]),
            "batch[0].eventExecutions[0].jobExecutions[0].eventExecutionId",
            format!("job execution {A_J1} belongs to event execution {A_E1}, not {A_E2}"),
        ),
    ];
    for (batch, field, message) in cases {
        let error = app.rejection(INGEST, json!({ "batch": batch })).await;
        assert_eq!(
            error,
            json!({ "message": format!("{field}: {message}"), "extensions": { "code": "BAD_USER_INPUT", "field": field } }),
            "{batch}"
        );
        assert_eq!(app.row_count().await, rows, "{batch}");
    }
    assert_eq!((tree(&app, A).await, tree(&app, B).await), (a, b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_values_are_bad_user_input() {
    let app = TestApp::spawn().await;
    let cases = [
        json!([{ "id": "not-a-uuid", "sourceFunction": "f" }]),
        json!([{ "sourceFunction": "f", "correlationId": "123" }]),
        json!([{ "sourceFunction": "f", "createdAt": "2026-13-01T00:00:00Z" }]),
        json!([{ "sourceFunction": "f", "status": "DONE" }]),
        json!([{ "sourceFunction": "f", "eventExecutions": [{ "eventName": "e", "detected": "yes" }] }]),
        json!([{ "sourceFunction": "f", "eventExecutions": [{ "eventName": "e", "jobExecutions": [
            { "jobName": "j", "logs": [{ "level": "LOUD", "message": "x" }] }] }] }]),
        json!([{ "sourceFunction": "f", "unknownField": 1 }]),
        json!([{ "sourceFunction": "f", "totalDurationMs": 1.5 }]),
    ];
    for batch in cases {
        let errors = app.errors(INGEST, json!({ "batch": batch })).await;
        let codes: Vec<_> = errors.iter().map(|e| e["extensions"]["code"].clone()).collect();
        assert_eq!(codes, [json!("BAD_USER_INPUT")], "{batch}: {errors:#?}");
    }
    assert_eq!(app.row_count().await, RowCount::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_limits() {
    let app = TestApp::spawn_with(|c| {
        c.ingest.max_batch_trees = 2;
        c.ingest.max_field_bytes = 1024;
    })
    .await;
    let error = app.rejection(INGEST, json!({ "batch": [tree_a(), tree_b(), { "sourceFunction": "f" }] })).await;
    assert_eq!(
        error,
        json!({ "message": "a batch holds at most 2 trees, got 3", "extensions": { "code": "BAD_USER_INPUT", "field": "batch" } })
    );
    assert_eq!(app.row_count().await, RowCount::default());

    let big = json!({ "blob": "x".repeat(2000) });
    let size = big.to_string().len();
    let mut oversized = tree_a();
    oversized["eventExecutions"][0]["jobExecutions"][1]["result"] = big.clone();
    let mut long_line = tree_a();
    long_line["eventExecutions"][0]["jobExecutions"][0]["logs"][1]["message"] = json!("y".repeat(1025));
    let mut payload = tree_a();
    payload["contextData"] = big;
    let cases = [
        (oversized, "batch[1].eventExecutions[0].jobExecutions[1].result", size),
        (long_line, "batch[1].eventExecutions[0].jobExecutions[0].logs[1].message", 1025),
        (payload, "batch[1].contextData", size),
    ];
    for (tree, field, size) in cases {
        let error = app.rejection(INGEST, json!({ "batch": [tree_b(), tree] })).await;
        assert_eq!(
            error,
            json!({ "message": format!("{field}: is {size} bytes; the limit is 1024"),
                    "extensions": { "code": "BAD_USER_INPUT", "field": field } })
        );
        assert_eq!(app.row_count().await, RowCount::default(), "{field}");
    }
    // Within both limits, the batch is written.
    assert_eq!(ingest(&app, json!([tree_a(), tree_b()])).await, counts([2, 0, 0], [3, 0, 0], [2, 0, 0], [3, 0, 0]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inserted_counts_each_new_row_once() {
    let app = TestApp::spawn().await;
    // One tree starts a job; a later tree of the same batch completes it.
    let answer = ingest(
        &app,
        json!([
            { "id": B, "sourceFunction": "f", "eventExecutions": [
                { "id": B_E1, "eventName": "e", "detected": true, "jobExecutions": [{ "id": B_J1, "jobName": "j" }] }] },
            { "id": B, "status": "COMPLETED", "eventExecutions": [
                { "id": B_E1, "jobExecutions": [{ "id": B_J1, "status": "COMPLETED" }] }] },
        ]),
    )
    .await;
    assert_eq!(app.row_count().await, RowCount { invocations: 1, event_executions: 1, job_executions: 1, job_logs: 0 });
    assert_eq!(app.assert_counters_match_children(B).await, [1, 1, 1, 0]);
    let b = tree(&app, B).await;
    assert_eq!(
        (&b["status"], &b["eventExecutions"][0]["jobExecutions"][0]["status"]),
        (&json!("COMPLETED"), &json!("COMPLETED"))
    );
    // One row per table was written: each is counted as inserted once.
    let inserted =
        ["invocations", "eventExecutions", "jobExecutions", "jobLogs"].map(|t| answer["ingest"][t]["inserted"].clone());
    assert_eq!(inserted, [1, 1, 1, 0].map(Value::from), "{answer}");
}
