//! The lifecycle mutations: each step returns the row as stored, parents' counters follow their
//! children, replays change nothing, and rejected calls write nothing.

use serde_json::{Value, json};

use crate::fixtures::at_str;
use crate::helpers::{RowCount, TestApp};

const INV: &str = "01950000-0000-7000-8000-000000000001";
const E_HIT: &str = "01950000-0000-7000-8000-0000000000e1";
const E_MISS: &str = "01950000-0000-7000-8000-0000000000e2";
const E_BROKEN: &str = "01950000-0000-7000-8000-0000000000e3";
const E_PENDING: &str = "01950000-0000-7000-8000-0000000000e4";
const J_OK: &str = "01950000-0000-7000-8000-0000000000a1";
const J_FAIL: &str = "01950000-0000-7000-8000-0000000000a2";
const J_LATE: &str = "01950000-0000-7000-8000-0000000000a3";
const MISSING: &str = "01950000-0000-7000-8000-00000000dead";

const START_INVOCATION: &str = "mutation($input: StartInvocationInput!) { startInvocation(input: $input) {
    id status sourceFunction sourceSystem sourceEventPayload createdAt totalDurationMs
    eventsDetectedCount totalJobsRun totalJobsSucceeded totalJobsFailed } }";

const RECORD_EVENT: &str = "mutation($input: RecordEventExecutionInput!) { recordEventExecution(input: $input) {
    id invocationId eventName detected detectionDurationMs detectionError status
    jobsCount jobsSucceeded jobsFailed createdAt invocation { eventsDetectedCount } } }";

const START_JOB: &str = "mutation($input: StartJobExecutionInput!) { startJobExecution(input: $input) {
    id invocationId eventExecutionId jobName jobFunctionName jobOptions status attempt durationMs createdAt
    eventExecution { jobsCount jobsSucceeded jobsFailed }
    invocation { totalJobsRun totalJobsSucceeded totalJobsFailed } } }";

const APPEND_LOGS: &str = "mutation($input: AppendJobLogsInput!) { appendJobLogs(input: $input) {
    id logs { level message data source createdAt } } }";

const COMPLETE_JOB: &str = "mutation($input: CompleteJobExecutionInput!) { completeJobExecution(input: $input) {
    id status durationMs result errorMessage errorStack
    eventExecution { jobsCount jobsSucceeded jobsFailed }
    invocation { totalJobsRun totalJobsSucceeded totalJobsFailed } } }";

const COMPLETE_EVENT: &str = "mutation($input: CompleteEventExecutionInput!) { completeEventExecution(input: $input) {
    id status handlerDurationMs handlerError jobsCount jobsSucceeded jobsFailed } }";

const COMPLETE_INVOCATION: &str = "mutation($input: CompleteInvocationInput!) { completeInvocation(input: $input) {
    id status totalDurationMs eventsDetectedCount totalJobsRun totalJobsSucceeded totalJobsFailed } }";

/// Everything stored under `INV` that a write could change, `updatedAt` included.
const SNAPSHOT: &str = "query($id: UUID!) { invocation(id: $id) {
    status sourceSystem totalDurationMs updatedAt
    eventsDetectedCount totalJobsRun totalJobsSucceeded totalJobsFailed
    eventExecutions { id status detected detectionError handlerDurationMs updatedAt
                      jobsCount jobsSucceeded jobsFailed
      jobExecutions { id status durationMs result errorMessage errorStack updatedAt
        logs { id level message createdAt } } } } }";

fn input(value: Value) -> Value {
    json!({ "input": value })
}

/// The calls of a whole lifecycle, in order: an invocation, four events (detected, not
/// detected, failed detection, still detecting), two jobs with log lines, one completed and one
/// failed, the event and the invocation completed.
fn lifecycle() -> Vec<(&'static str, Value)> {
    vec![
        (
            START_INVOCATION,
            input(json!({ "id": INV, "sourceFunction": "event-detector-moves", "sourceSystem": "hasura",
                          "sourceEventPayload": { "event": { "op": "UPDATE" } }, "startedAt": at_str(0) })),
        ),
        (
            RECORD_EVENT,
            input(json!({ "id": E_HIT, "invocationId": INV, "eventName": "move.pickup.successful",
                          "detected": true, "detectionDurationMs": 3, "startedAt": at_str(1) })),
        ),
        (
            RECORD_EVENT,
            input(json!({ "id": E_MISS, "invocationId": INV, "eventName": "move.cancelled",
                          "detected": false, "detectionDurationMs": 2, "startedAt": at_str(2) })),
        ),
        (
            RECORD_EVENT,
            input(json!({ "id": E_BROKEN, "invocationId": INV, "eventName": "move.delivered",
                          "detectionError": "TypeError: x is undefined", "startedAt": at_str(3) })),
        ),
        (
            RECORD_EVENT,
            input(json!({ "id": E_PENDING, "invocationId": INV, "eventName": "move.created", "startedAt": at_str(4) })),
        ),
        (
            START_JOB,
            input(json!({ "id": J_OK, "eventExecutionId": E_HIT, "jobName": "sendNotification",
                          "jobFunctionName": "sendPushNotification", "jobOptions": { "moveId": 123 },
                          "startedAt": at_str(5) })),
        ),
        (
            START_JOB,
            input(json!({ "id": J_FAIL, "eventExecutionId": E_HIT, "jobName": "updateAnalytics",
                          "attempt": 2, "startedAt": at_str(6) })),
        ),
        (
            APPEND_LOGS,
            input(json!({ "jobExecutionId": J_OK, "logs": [
                { "level": "INFO", "message": "sending", "createdAt": at_str(7) },
                { "level": "WARN", "message": "slow provider", "data": { "ms": 900 }, "createdAt": at_str(8) },
                { "level": "INFO", "message": "sent", "source": "jobs/notify.js", "createdAt": at_str(9) },
            ] })),
        ),
        (
            COMPLETE_JOB,
            input(json!({ "id": J_OK, "status": "COMPLETED", "durationMs": 40, "result": { "sent": true } })),
        ),
        (
            COMPLETE_JOB,
            input(json!({ "id": J_FAIL, "status": "FAILED", "durationMs": 15,
                          "errorMessage": "timeout of 10000ms exceeded",
                          "errorStack": "Error: timeout\n    at send (jobs/analytics.js:12)",
                          "result": { "retry": true } })),
        ),
        (COMPLETE_EVENT, input(json!({ "id": E_HIT, "status": "COMPLETED", "handlerDurationMs": 120 }))),
        (COMPLETE_INVOCATION, input(json!({ "id": INV, "status": "COMPLETED", "totalDurationMs": 300 }))),
    ]
}

/// Runs the whole lifecycle, checking nothing.
async fn run_lifecycle(app: &TestApp) {
    for (query, variables) in lifecycle() {
        app.data(query, variables).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_lifecycle_through_mutations() {
    let app = TestApp::spawn().await;
    let steps = lifecycle();
    // What each step returns: the row as stored after it.
    let expected = [
        json!({ "startInvocation": {
            "id": INV, "status": "RUNNING", "sourceFunction": "event-detector-moves", "sourceSystem": "hasura",
            "sourceEventPayload": { "event": { "op": "UPDATE" } }, "createdAt": at_str(0), "totalDurationMs": null,
            "eventsDetectedCount": 0, "totalJobsRun": 0, "totalJobsSucceeded": 0, "totalJobsFailed": 0 } }),
        json!({ "recordEventExecution": {
            "id": E_HIT, "invocationId": INV, "eventName": "move.pickup.successful", "detected": true,
            "detectionDurationMs": 3, "detectionError": null, "status": "HANDLING",
            "jobsCount": 0, "jobsSucceeded": 0, "jobsFailed": 0, "createdAt": at_str(1),
            "invocation": { "eventsDetectedCount": 1 } } }),
        json!({ "recordEventExecution": {
            "id": E_MISS, "invocationId": INV, "eventName": "move.cancelled", "detected": false,
            "detectionDurationMs": 2, "detectionError": null, "status": "NOT_DETECTED",
            "jobsCount": 0, "jobsSucceeded": 0, "jobsFailed": 0, "createdAt": at_str(2),
            "invocation": { "eventsDetectedCount": 1 } } }),
        json!({ "recordEventExecution": {
            "id": E_BROKEN, "invocationId": INV, "eventName": "move.delivered", "detected": null,
            "detectionDurationMs": null, "detectionError": "TypeError: x is undefined", "status": "FAILED",
            "jobsCount": 0, "jobsSucceeded": 0, "jobsFailed": 0, "createdAt": at_str(3),
            "invocation": { "eventsDetectedCount": 1 } } }),
        json!({ "recordEventExecution": {
            "id": E_PENDING, "invocationId": INV, "eventName": "move.created", "detected": null,
            "detectionDurationMs": null, "detectionError": null, "status": "DETECTING",
            "jobsCount": 0, "jobsSucceeded": 0, "jobsFailed": 0, "createdAt": at_str(4),
            "invocation": { "eventsDetectedCount": 1 } } }),
        json!({ "startJobExecution": {
            "id": J_OK, "invocationId": INV, "eventExecutionId": E_HIT, "jobName": "sendNotification",
            "jobFunctionName": "sendPushNotification", "jobOptions": { "moveId": 123 }, "status": "RUNNING",
            "attempt": 1, "durationMs": null, "createdAt": at_str(5),
            "eventExecution": { "jobsCount": 1, "jobsSucceeded": 0, "jobsFailed": 0 },
            "invocation": { "totalJobsRun": 1, "totalJobsSucceeded": 0, "totalJobsFailed": 0 } } }),
        json!({ "startJobExecution": {
            "id": J_FAIL, "invocationId": INV, "eventExecutionId": E_HIT, "jobName": "updateAnalytics",
            "jobFunctionName": null, "jobOptions": null, "status": "RUNNING",
            "attempt": 2, "durationMs": null, "createdAt": at_str(6),
            "eventExecution": { "jobsCount": 2, "jobsSucceeded": 0, "jobsFailed": 0 },
            "invocation": { "totalJobsRun": 2, "totalJobsSucceeded": 0, "totalJobsFailed": 0 } } }),
        json!({ "appendJobLogs": { "id": J_OK, "logs": [
            { "level": "INFO", "message": "sending", "data": null, "source": null, "createdAt": at_str(7) },
            { "level": "WARN", "message": "slow provider", "data": { "ms": 900 }, "source": null, "createdAt": at_str(8) },
            { "level": "INFO", "message": "sent", "data": null, "source": "jobs/notify.js", "createdAt": at_str(9) },
        ] } }),
        json!({ "completeJobExecution": {
            "id": J_OK, "status": "COMPLETED", "durationMs": 40, "result": { "sent": true },
            "errorMessage": null, "errorStack": null,
            "eventExecution": { "jobsCount": 2, "jobsSucceeded": 1, "jobsFailed": 0 },
            "invocation": { "totalJobsRun": 2, "totalJobsSucceeded": 1, "totalJobsFailed": 0 } } }),
        json!({ "completeJobExecution": {
            "id": J_FAIL, "status": "FAILED", "durationMs": 15, "result": { "retry": true },
            "errorMessage": "timeout of 10000ms exceeded",
            "errorStack": "Error: timeout\n    at send (jobs/analytics.js:12)",
            "eventExecution": { "jobsCount": 2, "jobsSucceeded": 1, "jobsFailed": 1 },
            "invocation": { "totalJobsRun": 2, "totalJobsSucceeded": 1, "totalJobsFailed": 1 } } }),
        json!({ "completeEventExecution": {
            "id": E_HIT, "status": "COMPLETED", "handlerDurationMs": 120, "handlerError": null,
            "jobsCount": 2, "jobsSucceeded": 1, "jobsFailed": 1 } }),
        json!({ "completeInvocation": {
            "id": INV, "status": "COMPLETED", "totalDurationMs": 300,
            "eventsDetectedCount": 1, "totalJobsRun": 2, "totalJobsSucceeded": 1, "totalJobsFailed": 1 } }),
    ];
    assert_eq!(steps.len(), expected.len());
    for ((query, variables), expected) in steps.into_iter().zip(expected) {
        let data = app.data(query, variables.clone()).await;
        assert_eq!(data, expected, "after {variables}");
        app.assert_counters_match_children(INV).await;
    }

    let stored = app
        .data(
            "query($id: UUID!) { invocation(id: $id) { status totalDurationMs
               eventsDetectedCount totalJobsRun totalJobsSucceeded totalJobsFailed
               eventExecutions { id eventName status jobsCount jobsSucceeded jobsFailed
                 jobExecutions { id jobName status invocationId logs { message } } } } }",
            json!({ "id": INV }),
        )
        .await;
    assert_eq!(
        stored,
        json!({ "invocation": {
            "status": "COMPLETED", "totalDurationMs": 300,
            "eventsDetectedCount": 1, "totalJobsRun": 2, "totalJobsSucceeded": 1, "totalJobsFailed": 1,
            "eventExecutions": [
                { "id": E_HIT, "eventName": "move.pickup.successful", "status": "COMPLETED",
                  "jobsCount": 2, "jobsSucceeded": 1, "jobsFailed": 1, "jobExecutions": [
                    { "id": J_OK, "jobName": "sendNotification", "status": "COMPLETED", "invocationId": INV,
                      "logs": [{ "message": "sending" }, { "message": "slow provider" }, { "message": "sent" }] },
                    { "id": J_FAIL, "jobName": "updateAnalytics", "status": "FAILED", "invocationId": INV,
                      "logs": [] } ] },
                { "id": E_MISS, "eventName": "move.cancelled", "status": "NOT_DETECTED",
                  "jobsCount": 0, "jobsSucceeded": 0, "jobsFailed": 0, "jobExecutions": [] },
                { "id": E_BROKEN, "eventName": "move.delivered", "status": "FAILED",
                  "jobsCount": 0, "jobsSucceeded": 0, "jobsFailed": 0, "jobExecutions": [] },
                { "id": E_PENDING, "eventName": "move.created", "status": "DETECTING",
                  "jobsCount": 0, "jobsSucceeded": 0, "jobsFailed": 0, "jobExecutions": [] },
            ] } })
    );
    assert_eq!(app.row_count().await, RowCount { invocations: 1, event_executions: 4, job_executions: 2, job_logs: 3 });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_children_of_completed_parents_move_the_counters() {
    let app = TestApp::spawn().await;
    run_lifecycle(&app).await;
    assert_eq!(app.assert_counters_match_children(INV).await, [1, 2, 1, 1]);

    // A job arrives for the completed event of the completed invocation.
    let started = app
        .data(
            START_JOB,
            input(json!({ "id": J_LATE, "eventExecutionId": E_HIT, "jobName": "reapplySlaDuration",
                          "startedAt": at_str(20) })),
        )
        .await;
    assert_eq!(
        started["startJobExecution"]["eventExecution"],
        json!({ "jobsCount": 3, "jobsSucceeded": 1, "jobsFailed": 1 })
    );
    assert_eq!(
        started["startJobExecution"]["invocation"],
        json!({ "totalJobsRun": 3, "totalJobsSucceeded": 1, "totalJobsFailed": 1 })
    );
    assert_eq!(app.assert_counters_match_children(INV).await, [1, 3, 1, 1]);

    // It fails, by id alone.
    let failed =
        app.data(COMPLETE_JOB, input(json!({ "id": J_LATE, "status": "FAILED", "errorMessage": "gone" }))).await;
    assert_eq!(
        failed["completeJobExecution"]["eventExecution"],
        json!({ "jobsCount": 3, "jobsSucceeded": 1, "jobsFailed": 2 })
    );
    assert_eq!(
        failed["completeJobExecution"]["invocation"],
        json!({ "totalJobsRun": 3, "totalJobsSucceeded": 1, "totalJobsFailed": 2 })
    );
    assert_eq!(app.assert_counters_match_children(INV).await, [1, 3, 1, 2]);

    // The still-detecting event turns out detected.
    let detected = app
        .data(
            RECORD_EVENT,
            input(json!({ "id": E_PENDING, "invocationId": INV, "eventName": "move.created", "detected": true })),
        )
        .await;
    assert_eq!(detected["recordEventExecution"]["status"], "HANDLING");
    assert_eq!(detected["recordEventExecution"]["invocation"], json!({ "eventsDetectedCount": 2 }));
    assert_eq!(app.assert_counters_match_children(INV).await, [2, 3, 1, 2]);

    // A new detected event arrives late, too.
    let late = app
        .data(
            RECORD_EVENT,
            input(
                json!({ "invocationId": INV, "eventName": "move.returned", "detected": true, "startedAt": at_str(30) }),
            ),
        )
        .await;
    assert_eq!(late["recordEventExecution"]["invocation"], json!({ "eventsDetectedCount": 3 }));
    assert_eq!(app.assert_counters_match_children(INV).await, [3, 3, 1, 2]);

    // The parents keep their final statuses.
    let statuses = app
        .data(
            "query($i: UUID!, $e: UUID!) { invocation(id: $i) { status } eventExecution(id: $e) { status } }",
            json!({ "i": INV, "e": E_HIT }),
        )
        .await;
    assert_eq!(
        statuses,
        json!({ "invocation": { "status": "COMPLETED" }, "eventExecution": { "status": "COMPLETED" } })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_every_mutation_changes_nothing() {
    let app = TestApp::spawn().await;
    run_lifecycle(&app).await;
    let rows = app.row_count().await;
    let before = app.data(SNAPSHOT, json!({ "id": INV })).await;
    for (query, variables) in lifecycle() {
        app.data(query, variables).await;
    }
    assert_eq!(app.row_count().await, rows);
    assert_eq!(app.data(SNAPSHOT, json!({ "id": INV })).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_status_resends_fill_nulls_but_keep_the_first_report() {
    let app = TestApp::spawn().await;
    run_lifecycle(&app).await;
    let job =
        "query($id: UUID!) { jobExecution(id: $id) { status durationMs result errorMessage errorStack updatedAt } }";
    let before = app.data(job, json!({ "id": J_OK })).await["jobExecution"].clone();

    // Everything already stored stays; the null `errorStack` is filled.
    let resent = app
        .data(
            COMPLETE_JOB,
            input(json!({ "id": J_OK, "status": "COMPLETED", "durationMs": 99, "result": { "sent": false },
                          "errorStack": "late detail" })),
        )
        .await;
    assert_eq!(resent["completeJobExecution"]["durationMs"], 40);
    assert_eq!(resent["completeJobExecution"]["result"], json!({ "sent": true }));
    assert_eq!(resent["completeJobExecution"]["errorStack"], "late detail");
    let after = app.data(job, json!({ "id": J_OK })).await["jobExecution"].clone();
    assert_ne!(after["updatedAt"], before["updatedAt"], "a filled null is a change");

    // Sent once more, nothing changes, not even `updatedAt`.
    app.data(
        COMPLETE_JOB,
        input(json!({ "id": J_OK, "status": "COMPLETED", "durationMs": 99, "errorStack": "other detail" })),
    )
    .await;
    assert_eq!(app.data(job, json!({ "id": J_OK })).await["jobExecution"], after);

    // The same for an invocation and an event.
    let invocation =
        app.data(COMPLETE_INVOCATION, input(json!({ "id": INV, "status": "COMPLETED", "totalDurationMs": 5 }))).await;
    assert_eq!(invocation["completeInvocation"]["totalDurationMs"], 300);
    let event = app
        .data(
            COMPLETE_EVENT,
            input(json!({ "id": E_HIT, "status": "COMPLETED", "handlerDurationMs": 1, "handlerError": "filled" })),
        )
        .await;
    assert_eq!(event["completeEventExecution"]["handlerDurationMs"], 120);
    assert_eq!(event["completeEventExecution"]["handlerError"], "filled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_only_move_forward() {
    let app = TestApp::spawn().await;
    run_lifecycle(&app).await;
    let rows = app.row_count().await;
    let before = app.data(SNAPSHOT, json!({ "id": INV })).await;

    let job_back = app.rejection(COMPLETE_JOB, input(json!({ "id": J_OK, "status": "FAILED" }))).await;
    assert_eq!(
        job_back,
        json!({ "message": format!("input.status: job execution {J_OK} is COMPLETED and cannot become FAILED"),
                "extensions": { "code": "BAD_USER_INPUT", "field": "input.status" } })
    );
    let invocation_back = app.rejection(COMPLETE_INVOCATION, input(json!({ "id": INV, "status": "FAILED" }))).await;
    assert_eq!(
        invocation_back,
        json!({ "message": format!("input.status: invocation {INV} is COMPLETED and cannot become FAILED"),
                "extensions": { "code": "BAD_USER_INPUT", "field": "input.status" } })
    );
    // NOT_DETECTED is final.
    let completed = app.rejection(COMPLETE_EVENT, input(json!({ "id": E_MISS, "status": "COMPLETED" }))).await;
    assert_eq!(
        completed,
        json!({ "message": format!("input.status: event execution {E_MISS} is NOT_DETECTED and cannot become COMPLETED"),
                "extensions": { "code": "BAD_USER_INPUT", "field": "input.status" } })
    );
    let event_back = app.rejection(COMPLETE_EVENT, input(json!({ "id": E_HIT, "status": "FAILED" }))).await;
    assert_eq!(
        event_back,
        json!({ "message": format!("input.status: event execution {E_HIT} is COMPLETED and cannot become FAILED"),
                "extensions": { "code": "BAD_USER_INPUT", "field": "input.status" } })
    );

    assert_eq!(app.row_count().await, rows);
    assert_eq!(app.data(SNAPSHOT, json!({ "id": INV })).await, before);

    // A still-detecting event may complete straight away.
    let done = app.data(COMPLETE_EVENT, input(json!({ "id": E_PENDING, "status": "COMPLETED" }))).await;
    assert_eq!(done["completeEventExecution"]["status"], "COMPLETED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detection_result_moves_only_a_detecting_event() {
    let app = TestApp::spawn().await;
    run_lifecycle(&app).await;
    let event = "query($id: UUID!) { eventExecution(id: $id) { status detected detectionError updatedAt } }";

    // A detecting event takes the result it was waiting for.
    let failed = app
        .data(
            RECORD_EVENT,
            input(json!({ "id": E_PENDING, "invocationId": INV, "eventName": "move.created",
                          "detectionError": "RangeError" })),
        )
        .await;
    assert_eq!(failed["recordEventExecution"]["status"], "FAILED");
    assert_eq!(failed["recordEventExecution"]["detectionError"], "RangeError");

    // A decided event keeps its first result: a contradicting re-send is a same-status re-send
    // (its status is not given), which changes nothing stored.
    let before = app.data(event, json!({ "id": E_MISS })).await;
    let resent = app
        .data(
            RECORD_EVENT,
            input(json!({ "id": E_MISS, "invocationId": INV, "eventName": "move.cancelled", "detected": true })),
        )
        .await;
    assert_eq!(resent["recordEventExecution"]["status"], "NOT_DETECTED");
    assert_eq!(resent["recordEventExecution"]["detected"], false);
    assert_eq!(resent["recordEventExecution"]["invocation"], json!({ "eventsDetectedCount": 1 }));
    assert_eq!(app.data(event, json!({ "id": E_MISS })).await, before);
    app.assert_counters_match_children(INV).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_parents_and_ids_are_not_found() {
    let app = TestApp::spawn().await;
    run_lifecycle(&app).await;
    let rows = app.row_count().await;
    let cases = [
        (
            RECORD_EVENT,
            input(json!({ "invocationId": MISSING, "eventName": "move.created", "detected": true })),
            format!("input: invocation {MISSING} does not exist"),
            "input",
        ),
        (
            START_JOB,
            input(json!({ "eventExecutionId": MISSING, "jobName": "sendEmail" })),
            format!("input: event execution {MISSING} does not exist"),
            "input",
        ),
        (
            APPEND_LOGS,
            input(json!({ "jobExecutionId": MISSING, "logs": [{ "level": "INFO", "message": "hello" }] })),
            format!("input.logs[0]: job execution {MISSING} does not exist"),
            "input.logs[0]",
        ),
        (
            COMPLETE_JOB,
            input(json!({ "id": MISSING, "status": "COMPLETED" })),
            format!("input: job execution {MISSING} does not exist"),
            "input",
        ),
        (
            COMPLETE_EVENT,
            input(json!({ "id": MISSING, "status": "COMPLETED" })),
            format!("input: event execution {MISSING} does not exist"),
            "input",
        ),
        (
            COMPLETE_INVOCATION,
            input(json!({ "id": MISSING, "status": "COMPLETED" })),
            format!("input: invocation {MISSING} does not exist"),
            "input",
        ),
    ];
    for (query, variables, message, field) in cases {
        let error = app.rejection(query, variables.clone()).await;
        assert_eq!(
            error,
            json!({ "message": message, "extensions": { "code": "NOT_FOUND", "field": field } }),
            "{variables}"
        );
        assert_eq!(app.row_count().await, rows, "{variables}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_values_are_bad_user_input() {
    let app = TestApp::spawn().await;
    run_lifecycle(&app).await;
    let rows = app.row_count().await;
    let cases = [
        (START_INVOCATION, input(json!({ "id": "not-a-uuid", "sourceFunction": "f" }))),
        (START_INVOCATION, input(json!({ "sourceFunction": "f", "startedAt": "yesterday" }))),
        (START_INVOCATION, input(json!({ "sourceFunction": "f", "startedAt": "2026-03-01 12:00" }))),
        (RECORD_EVENT, input(json!({ "invocationId": "12345", "eventName": "e" }))),
        (COMPLETE_JOB, input(json!({ "id": J_OK, "status": "DONE" }))),
        // RUNNING is a status, but not an outcome.
        (COMPLETE_INVOCATION, input(json!({ "id": INV, "status": "RUNNING" }))),
        (APPEND_LOGS, input(json!({ "jobExecutionId": J_OK, "logs": [{ "level": "LOUD", "message": "x" }] }))),
        (START_INVOCATION, input(json!({ "sourceFunction": 42 }))),
        // A required field left out.
        (START_INVOCATION, input(json!({ "sourceSystem": "hasura" }))),
    ];
    for (query, variables) in cases {
        let errors = app.errors(query, variables.clone()).await;
        let codes: Vec<_> = errors.iter().map(|e| e["extensions"]["code"].clone()).collect();
        assert_eq!(codes, [json!("BAD_USER_INPUT")], "{variables}: {errors:#?}");
        assert_eq!(app.row_count().await, rows, "{variables}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negative_durations_and_attempts_are_rejected() {
    let app = TestApp::spawn().await;
    run_lifecycle(&app).await;
    // A running job, so completing it with a bad duration is rejected for the duration alone.
    app.data(START_JOB, input(json!({ "id": J_LATE, "eventExecutionId": E_HIT, "jobName": "late" }))).await;
    let rows = app.row_count().await;
    let before = app.data(SNAPSHOT, json!({ "id": INV })).await;
    let cases = [
        (
            RECORD_EVENT,
            input(json!({ "invocationId": INV, "eventName": "move.x", "detected": true, "detectionDurationMs": -1 })),
            "input.detectionDurationMs",
            "must not be negative, got -1",
        ),
        (
            START_JOB,
            input(json!({ "eventExecutionId": E_HIT, "jobName": "retry", "attempt": 0 })),
            "input.attempt",
            "must be at least 1, got 0",
        ),
        (
            COMPLETE_JOB,
            input(json!({ "id": J_LATE, "status": "COMPLETED", "durationMs": -5 })),
            "input.durationMs",
            "must not be negative, got -5",
        ),
        (
            COMPLETE_EVENT,
            input(json!({ "id": E_PENDING, "status": "COMPLETED", "handlerDurationMs": -2 })),
            "input.handlerDurationMs",
            "must not be negative, got -2",
        ),
        (
            COMPLETE_INVOCATION,
            input(json!({ "id": INV, "status": "COMPLETED", "totalDurationMs": -3 })),
            "input.totalDurationMs",
            "must not be negative, got -3",
        ),
    ];
    for (query, variables, field, message) in cases {
        let error = app.rejection(query, variables.clone()).await;
        assert_eq!(
            error,
            json!({ "message": format!("{field}: {message}"), "extensions": { "code": "BAD_USER_INPUT", "field": field } }),
            "{variables}"
        );
        assert_eq!(app.row_count().await, rows, "{variables}");
    }
    assert_eq!(app.data(SNAPSHOT, json!({ "id": INV })).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_of_stored_rows_cannot_change() {
    let app = TestApp::spawn().await;
    run_lifecycle(&app).await;
    let rows = app.row_count().await;
    let before = app.data(SNAPSHOT, json!({ "id": INV })).await;
    let cases = [
        (
            START_INVOCATION,
            input(json!({ "id": INV, "sourceFunction": "event-detector-users" })),
            "input.sourceFunction",
            format!(
                "invocation {INV} already exists with sourceFunction \"event-detector-moves\"; \
                 it cannot become \"event-detector-users\""
            ),
        ),
        (
            RECORD_EVENT,
            input(json!({ "id": E_HIT, "invocationId": INV, "eventName": "move.renamed", "detected": true })),
            "input.eventName",
            format!(
                "event execution {E_HIT} already exists with eventName \"move.pickup.successful\"; \
                 it cannot become \"move.renamed\""
            ),
        ),
        (
            START_JOB,
            input(json!({ "id": J_OK, "eventExecutionId": E_HIT, "jobName": "sendEmail" })),
            "input.jobName",
            format!(
                "job execution {J_OK} already exists with jobName \"sendNotification\"; \
                 it cannot become \"sendEmail\""
            ),
        ),
        (
            START_JOB,
            input(json!({ "id": J_OK, "eventExecutionId": E_MISS, "jobName": "sendNotification" })),
            "input.eventExecutionId",
            format!("job execution {J_OK} belongs to event execution {E_HIT}, not {E_MISS}"),
        ),
    ];
    for (query, variables, field, message) in cases {
        let error = app.rejection(query, variables.clone()).await;
        assert_eq!(
            error,
            json!({ "message": format!("{field}: {message}"), "extensions": { "code": "BAD_USER_INPUT", "field": field } }),
            "{variables}"
        );
        assert_eq!(app.row_count().await, rows, "{variables}");
    }
    assert_eq!(app.data(SNAPSHOT, json!({ "id": INV })).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_over_the_size_cap_are_rejected() {
    let app = TestApp::spawn_with(|c| c.ingest.max_field_bytes = 1024).await;
    run_lifecycle(&app).await;
    let rows = app.row_count().await;
    let big = "x".repeat(1100);
    let payload = json!({ "blob": big });
    let payload_size = payload.to_string().len();
    let cases = [
        (
            START_INVOCATION,
            input(json!({ "sourceFunction": "f", "sourceEventPayload": payload })),
            "input.sourceEventPayload",
            payload_size,
        ),
        (
            APPEND_LOGS,
            input(json!({ "jobExecutionId": J_OK, "logs": [{ "level": "INFO", "message": "ok" },
                                                           { "level": "INFO", "message": big }] })),
            "input.logs[1].message",
            1100,
        ),
        (
            COMPLETE_JOB,
            input(json!({ "id": J_OK, "status": "COMPLETED", "result": payload })),
            "input.result",
            payload_size,
        ),
        (
            COMPLETE_EVENT,
            input(json!({ "id": E_PENDING, "status": "FAILED", "handlerError": big })),
            "input.handlerError",
            1100,
        ),
    ];
    for (query, variables, field, size) in cases {
        let error = app.rejection(query, variables.clone()).await;
        assert_eq!(
            error,
            json!({ "message": format!("{field}: is {size} bytes; the limit is 1024"),
                    "extensions": { "code": "BAD_USER_INPUT", "field": field } }),
        );
        assert_eq!(app.row_count().await, rows, "{field}");
    }
    // Just under the cap is fine.
    let fits = json!({ "blob": "x".repeat(1024 - 11) });
    assert_eq!(fits.to_string().len(), 1024);
    let started = app.data(START_INVOCATION, input(json!({ "sourceFunction": "f", "sourceEventPayload": fits }))).await;
    assert_eq!(started["startInvocation"]["sourceEventPayload"], fits);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_over_the_cap_get_413() {
    let app = TestApp::spawn_with(|c| c.ingest.max_request_bytes = 10_000).await;
    let body = json!({ "query": START_INVOCATION,
                       "variables": input(json!({ "sourceFunction": "f", "sourceSystem": "y".repeat(12_000) })) });
    let response = app.post(body).await;
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "errors": [{ "message": "request body too large (see --max-request-bytes)",
                             "extensions": { "code": "PAYLOAD_TOO_LARGE" } }] })
    );
    assert_eq!(app.row_count().await, RowCount::default());

    // Under the cap, the same request goes through.
    let data = app
        .data(
            START_INVOCATION,
            input(json!({ "id": INV, "sourceFunction": "f", "sourceEventPayload": { "blob": "y".repeat(9_000) } })),
        )
        .await;
    assert_eq!(data["startInvocation"]["id"], INV);
    assert_eq!(app.row_count().await, RowCount { invocations: 1, ..RowCount::default() });
}
