//! Live updates over WebSocket: published once committed, from every write path, in order;
//! filters; overflow of a slow subscriber.

use serde_json::{Value, json};

use crate::helpers::TestApp;

const I: &str = "11111111-1111-1111-1111-111111111111";
const E: &str = "22222222-2222-2222-2222-222222222222";
const J: &str = "33333333-3333-3333-3333-333333333333";

async fn mutate(app: &TestApp, query: &str, variables: Value) {
    app.data(query, variables).await;
}

async fn start_invocation(app: &TestApp, id: &str, source_function: &str) {
    mutate(
        app,
        "mutation($id: UUID!, $f: String!) { startInvocation(input: {id: $id, sourceFunction: $f}) { id } }",
        json!({ "id": id, "f": source_function }),
    )
    .await;
}

/// Invocation `I` with event `E` (detected) and running job `J`.
async fn start_tree(app: &TestApp) {
    start_invocation(app, I, "event-detector-moves").await;
    mutate(
        app,
        "mutation($i: UUID!, $e: UUID!) { recordEventExecution(input: {id: $e, invocationId: $i,
            eventName: \"move.pickup.successful\", detected: true}) { id } }",
        json!({ "i": I, "e": E }),
    )
    .await;
    mutate(
        app,
        "mutation($e: UUID!, $j: UUID!) { startJobExecution(input: {id: $j, eventExecutionId: $e,
            jobName: \"sendNotification\"}) { id } }",
        json!({ "e": E, "j": J }),
    )
    .await;
}

/// Each write's update, read before the next write (on PostgreSQL an update carries the row as
/// the listener reads it, so a subscriber that keeps up sees every state).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invocation_updates_follow_the_lifecycle_in_order() {
    let app = TestApp::spawn().await;
    let mut sub = app
        .subscribe(
            "subscription { invocationUpdated { kind invocation { id status totalJobsRun totalJobsSucceeded } } }",
            json!({}),
        )
        .await;
    let steps: [(&str, Value, Value); 6] = [
        (
            "mutation($i: UUID!) { startInvocation(input: {id: $i, sourceFunction: \"event-detector-moves\"}) { id } }",
            json!({ "i": I }),
            json!(["CREATED", "RUNNING", 0, 0]),
        ),
        (
            "mutation($i: UUID!, $e: UUID!) { recordEventExecution(input: {id: $e, invocationId: $i,
                eventName: \"move.pickup.successful\", detected: true}) { id } }",
            json!({ "i": I, "e": E }),
            json!(["PROGRESSED", "RUNNING", 0, 0]),
        ),
        (
            "mutation($e: UUID!, $j: UUID!) { startJobExecution(input: {id: $j, eventExecutionId: $e,
                jobName: \"sendNotification\"}) { id } }",
            json!({ "e": E, "j": J }),
            json!(["PROGRESSED", "RUNNING", 1, 0]),
        ),
        (
            "mutation($j: UUID!) { appendJobLogs(input: {jobExecutionId: $j, logs: [{level: INFO, message: \"sent\"}]}) { id } }",
            json!({ "j": J }),
            json!(["PROGRESSED", "RUNNING", 1, 0]),
        ),
        (
            "mutation($j: UUID!) { completeJobExecution(input: {id: $j, status: COMPLETED}) { id } }",
            json!({ "j": J }),
            json!(["PROGRESSED", "RUNNING", 1, 1]),
        ),
        (
            "mutation($i: UUID!) { completeInvocation(input: {id: $i, status: COMPLETED}) { id } }",
            json!({ "i": I }),
            json!(["COMPLETED", "COMPLETED", 1, 1]),
        ),
    ];
    for (mutation, variables, expected) in steps {
        mutate(&app, mutation, variables).await;
        let update = sub.next_data().await["invocationUpdated"].clone();
        assert_eq!(update["invocation"]["id"], I);
        let seen = json!([
            update["kind"],
            update["invocation"]["status"],
            update["invocation"]["totalJobsRun"],
            update["invocation"]["totalJobsSucceeded"]
        ]);
        assert_eq!(seen, expected, "after {mutation}");
    }
    assert!(!sub.receives_within(300).await, "one update per write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_pick_the_updates() {
    let app = TestApp::spawn().await;
    let mut sub = app
        .subscribe(
            "subscription { invocationUpdated(filter: {sourceFunction: {startsWith: \"EVENT-DETECTOR-M\"},
                kind: [CREATED]}) { kind invocation { sourceFunction } } }",
            json!({}),
        )
        .await;
    start_invocation(&app, "00000000-0000-0000-0000-00000000000a", "event-detector-payments").await;
    start_invocation(&app, "00000000-0000-0000-0000-00000000000b", "event-detector-moves").await;
    mutate(
        &app,
        "mutation { completeInvocation(input: {id: \"00000000-0000-0000-0000-00000000000b\", status: FAILED}) { id } }",
        json!({}),
    )
    .await;
    start_invocation(&app, "00000000-0000-0000-0000-00000000000c", "event-detector-movers").await;
    assert_eq!(sub.next_data().await["invocationUpdated"]["invocation"]["sourceFunction"], "event-detector-moves");
    assert_eq!(sub.next_data().await["invocationUpdated"]["invocation"]["sourceFunction"], "event-detector-movers");
    assert!(!sub.receives_within(300).await, "nothing else matches");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_tail_live_from_every_write_path() {
    let app = TestApp::spawn().await;
    start_tree(&app).await;
    let mut by_job = app
        .subscribe(
            "subscription($j: UUID!) { jobLogAppended(jobExecutionId: $j) { message jobExecutionId } }",
            json!({ "j": J }),
        )
        .await;
    let mut by_invocation = app
        .subscribe("subscription($i: UUID!) { jobLogAppended(invocationId: $i) { message } }", json!({ "i": I }))
        .await;

    // Through the lifecycle mutation, the ingest mutation, and NDJSON.
    mutate(
        &app,
        "mutation($j: UUID!) { appendJobLogs(input: {jobExecutionId: $j, logs: [
            {level: INFO, message: \"one\"}, {level: WARN, message: \"two\"}]}) { id } }",
        json!({ "j": J }),
    )
    .await;
    mutate(
        &app,
        "mutation($b: [InvocationTreeInput!]!) { ingest(batch: $b) { jobLogs { inserted } } }",
        json!({ "b": [{ "id": I, "eventExecutions": [{ "id": E, "jobExecutions": [{ "id": J,
            "logs": [{ "level": "INFO", "message": "three" }] }] }] }] }),
    )
    .await;
    let line = json!({ "id": I, "eventExecutions": [{ "id": E, "jobExecutions": [{ "id": J,
        "logs": [{ "level": "ERROR", "message": "four" }] }] }] });
    let results = app.ingest_ndjson(format!("{line}\n")).await;
    assert!(results[0].get("error").is_none(), "{results:?}");

    for expected in ["one", "two", "three", "four"] {
        let line = by_job.next_data().await["jobLogAppended"].clone();
        assert_eq!(line, json!({ "message": expected, "jobExecutionId": J }));
        assert_eq!(by_invocation.next_data().await["jobLogAppended"]["message"], expected);
    }
    assert!(!by_job.receives_within(300).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_execution_updates_of_one_invocation() {
    let app = TestApp::spawn().await;
    let mut sub = app
        .subscribe(
            "subscription($i: UUID!) { jobExecutionUpdated(invocationId: $i) { id status durationMs } }",
            json!({ "i": I }),
        )
        .await;
    start_tree(&app).await;
    assert_eq!(
        sub.next_data().await["jobExecutionUpdated"],
        json!({ "id": J, "status": "RUNNING", "durationMs": null })
    );
    start_invocation(&app, "00000000-0000-0000-0000-0000000000ff", "other").await;
    mutate(
        &app,
        "mutation($j: UUID!) { completeJobExecution(input: {id: $j, status: FAILED, durationMs: 7, errorMessage: \"boom\"}) { id } }",
        json!({ "j": J }),
    )
    .await;
    assert_eq!(sub.next_data().await["jobExecutionUpdated"], json!({ "id": J, "status": "FAILED", "durationMs": 7 }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_writes_publish_nothing() {
    let app = TestApp::spawn().await;
    let mut sub = app.subscribe("subscription { invocationUpdated { invocation { id } } }", json!({})).await;
    let codes = app
        .error_codes(
            "mutation($b: [InvocationTreeInput!]!) { ingest(batch: $b) { invocations { inserted } } }",
            json!({ "b": [{ "id": I, "sourceFunction": "f" }, { "sourceFunction": "g", "totalDurationMs": -1 }] }),
        )
        .await;
    assert_eq!(codes, ["BAD_USER_INPUT"]);
    start_invocation(&app, "00000000-0000-0000-0000-000000000001", "after").await;
    assert_eq!(
        sub.next_data().await["invocationUpdated"]["invocation"]["id"],
        "00000000-0000-0000-0000-000000000001",
        "the rejected batch announced nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_on_the_graphql_path_and_bad_arguments() {
    let app = TestApp::spawn().await;
    let mut sub =
        app.subscribe_at("/graphql", "subscription { invocationUpdated { invocation { id } } }", json!({})).await;
    start_invocation(&app, I, "f").await;
    assert_eq!(sub.next_data().await["invocationUpdated"]["invocation"]["id"], I);

    for variables in [json!({}), json!({ "i": I, "j": J })] {
        let mut bad = app
            .subscribe(
                "subscription($i: UUID, $j: UUID) { jobLogAppended(invocationId: $i, jobExecutionId: $j) { id } }",
                variables,
            )
            .await;
        let message = bad.message().await;
        let errors =
            if message["type"] == "error" { message["payload"].clone() } else { message["payload"]["errors"].clone() };
        assert_eq!(errors[0]["extensions"]["code"], "BAD_USER_INPUT", "{message}");
    }
}

/// A subscriber that stops reading must not hold up writers or other subscribers; once it is
/// more than the buffer behind, it is told how many commits it missed and carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_blocks_nobody_and_is_told_what_it_missed() {
    let app = TestApp::spawn_with(|c| c.subscription_buffer = 8).await;
    start_tree(&app).await;
    let query = "subscription($j: UUID!) { jobLogAppended(jobExecutionId: $j) { message } }";
    let mut slow = app.subscribe(query, json!({ "j": J })).await;
    let mut fast = app.subscribe(query, json!({ "j": J })).await;

    // Lines big enough that the slow subscriber's socket fills and its stream stops draining.
    let big = "x".repeat(200 * 1024);
    let writes = 150;
    let fast_reader = tokio::spawn(async move {
        let mut received = 0;
        while received < writes {
            let payload = fast.next().await;
            assert!(payload.get("errors").is_none(), "the reading subscriber must not lag");
            received += 1;
        }
        received
    });
    for i in 0..writes {
        mutate(
            &app,
            "mutation($j: UUID!, $m: String!) { appendJobLogs(input: {jobExecutionId: $j, logs: [{level: INFO, message: $m}]}) { id } }",
            json!({ "j": J, "m": format!("{i} {big}") }),
        )
        .await;
    }
    assert_eq!(fast_reader.await.unwrap(), writes);

    let mut lagged = None;
    let mut last = String::new();
    for _ in 0..writes {
        let payload = slow.next().await;
        if let Some(error) = payload["errors"].get(0) {
            assert_eq!(error["extensions"]["code"], "SUBSCRIPTION_LAGGED", "{error}");
            lagged = error["extensions"]["missed"].as_u64();
            continue;
        }
        last = payload["data"]["jobLogAppended"]["message"].as_str().unwrap().split(' ').next().unwrap().to_owned();
        if last == (writes - 1).to_string() {
            break;
        }
    }
    assert!(lagged.is_some_and(|missed| missed > 0), "the slow subscriber was told it missed commits");
    assert_eq!(last, (writes - 1).to_string(), "and still received the newest line");
}
