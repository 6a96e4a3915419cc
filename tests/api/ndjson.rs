//! `POST /ingest`: one tree per NDJSON line, each line accepted or rejected on its own, answered
//! line by line in order and summed up at the end.

use serde_json::{Value, json};

use crate::fixtures::at_str;
use crate::helpers::{RowCount, TestApp};

const X: &str = "01970000-0000-7000-8000-00000000000a";
const X_E1: &str = "01970000-0000-7000-8000-0000000000a1";
const X_E2: &str = "01970000-0000-7000-8000-0000000000a2";
const X_J1: &str = "01970000-0000-7000-8000-000000000a11";
const Y: &str = "01970000-0000-7000-8000-00000000000b";
const MISSING: &str = "01970000-0000-7000-8000-00000000dead";

/// An NDJSON body: the lines, each ended by a newline.
fn ndjson<S: AsRef<str>>(lines: &[S]) -> String {
    lines.iter().map(|l| format!("{}\n", l.as_ref())).collect()
}

/// The result line of an accepted line.
fn ok(line: u64, inserted: u64, updated: u64, unchanged: u64) -> Value {
    json!({ "line": line, "inserted": inserted, "updated": updated, "unchanged": unchanged })
}

/// The result line of a rejected line.
fn rejected(line: u64, code: &str, field: &str, message: &str) -> Value {
    json!({ "line": line, "error": { "message": message, "extensions": { "code": code, "field": field } } })
}

/// Per table `[inserted, updated, unchanged]`: invocations, event executions, job executions,
/// job logs.
fn table_counts(invocations: [u64; 3], events: [u64; 3], jobs: [u64; 3], logs: [u64; 3]) -> Value {
    let c = |[inserted, updated, unchanged]: [u64; 3]| json!({ "inserted": inserted, "updated": updated, "unchanged": unchanged });
    json!({ "invocations": c(invocations), "eventExecutions": c(events), "jobExecutions": c(jobs), "jobLogs": c(logs) })
}

fn summary(lines: u64, accepted: u64, rejected: u64, counts: Value) -> Value {
    json!({ "summary": { "lines": lines, "accepted": accepted, "rejected": rejected, "counts": counts } })
}

/// A finished invocation with a detected event, a completed job and a log line. Enums may use
/// the stored lowercase spelling.
fn tree_x() -> Value {
    json!({ "id": X, "sourceFunction": "event-detector-moves", "status": "completed", "createdAt": at_str(0),
            "eventExecutions": [{ "id": X_E1, "eventName": "move.pickup.successful", "detected": true,
                "status": "COMPLETED", "createdAt": at_str(1),
                "jobExecutions": [{ "id": X_J1, "jobName": "sendNotification", "status": "COMPLETED",
                    "createdAt": at_str(2),
                    "logs": [{ "level": "info", "message": "sent", "createdAt": at_str(3) }] }] }] })
}

/// The lines of `each_line_stands_alone`, and the answer to them.
fn mixed_body() -> (String, Vec<Value>) {
    let body = ndjson(&[
        tree_x().to_string(),
        String::new(),
        // Depends on line 1.
        json!({ "id": X, "eventExecutions": [{ "id": X_E2, "eventName": "move.cancelled", "detected": false }] })
            .to_string(),
        r#"{"id": "01970000-0000-7000-8000-00000000000c", "sourceFunction": "#.to_owned(),
        r#"{"sourceFunction": "f", "eventExecutions": [{"eventName": "e", "detected": "yes"}]}"#.to_owned(),
        json!({ "id": MISSING, "eventExecutions": [{ "eventName": "e" }] }).to_string(),
        "   ".to_owned(),
        json!({ "id": Y, "sourceFunction": "event-detector-users", "createdAt": at_str(5) }).to_string(),
        json!({ "sourceSystem": "hasura" }).to_string(),
        r#"{"sourceFunction": "f", "bogus": 1}"#.to_owned(),
        json!({ "sourceFunction": "f", "eventExecutions": [{ "eventName": "e", "jobExecutions": [
            { "jobName": "j", "durationMs": -4 }] }] })
        .to_string(),
    ]);
    let answer = vec![
        ok(1, 4, 0, 0),
        ok(3, 1, 0, 1),
        // Cut off after a key: the path names the field whose value is missing.
        rejected(4, "BAD_USER_INPUT", "line.sourceFunction", "EOF while parsing a value (column 65)"),
        rejected(
            5,
            "BAD_USER_INPUT",
            "line.eventExecutions[0].detected",
            "invalid type: string \"yes\", expected a boolean (column 80)",
        ),
        rejected(6, "NOT_FOUND", "line", &format!("invocation {MISSING} does not exist")),
        ok(8, 1, 0, 0),
        rejected(9, "BAD_USER_INPUT", "line.sourceFunction", "a new invocation needs `sourceFunction`"),
        rejected(
            10,
            "BAD_USER_INPUT",
            "line.bogus",
            "unknown field `bogus`, expected one of `id`, `sourceFunction`, `sourceSystem`, `sourceEventPayload`, \
             `sourceUserEmail`, `sourceUserRole`, `status`, `totalDurationMs`, `autoLoadModules`, \
             `eventModulesDirectory`, `contextData`, `correlationId`, `createdAt`, `eventExecutions` (column 31)",
        ),
        rejected(
            11,
            "BAD_USER_INPUT",
            "line.eventExecutions[0].jobExecutions[0].durationMs",
            "must not be negative, got -4",
        ),
    ];
    (body, answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_line_stands_alone() {
    let app = TestApp::spawn().await;
    let (body, mut expected) = mixed_body();
    expected.push(summary(11, 3, 6, table_counts([2, 0, 1], [2, 0, 0], [1, 0, 0], [1, 0, 0])));
    let answer = app.ingest_ndjson(body).await;
    assert_eq!(answer, expected, "{answer:#?}");
    assert_eq!(app.row_count().await, RowCount { invocations: 2, event_executions: 2, job_executions: 1, job_logs: 1 });
    let x = app
        .data(
            "query($id: UUID!) { invocation(id: $id) { status eventExecutions { id status jobExecutions { id status logs { level message } } } } }",
            json!({ "id": X }),
        )
        .await;
    assert_eq!(
        x,
        json!({ "invocation": { "status": "COMPLETED", "eventExecutions": [
            { "id": X_E1, "status": "COMPLETED", "jobExecutions": [
                { "id": X_J1, "status": "COMPLETED", "logs": [{ "level": "INFO", "message": "sent" }] }] },
            { "id": X_E2, "status": "NOT_DETECTED", "jobExecutions": [] } ] } })
    );
    assert_eq!(app.assert_counters_match_children(X).await, [1, 1, 1, 0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_the_body_changes_nothing() {
    let app = TestApp::spawn().await;
    let (body, first) = mixed_body();
    app.ingest_ndjson(body.clone()).await;
    let rows = app.row_count().await;
    let snapshot = "query($x: UUID!, $y: UUID!) {
        x: invocation(id: $x) { updatedAt eventsDetectedCount eventExecutions { updatedAt jobExecutions { updatedAt logs { id } } } }
        y: invocation(id: $y) { updatedAt } }";
    let before = app.data(snapshot, json!({ "x": X, "y": Y })).await;

    let answer = app.ingest_ndjson(body).await;
    // Accepted lines are now unchanged; rejected lines are rejected again.
    let mut expected: Vec<Value> = first
        .into_iter()
        .map(|line| match line.get("error") {
            Some(_) => line,
            None => {
                let rows = ["inserted", "updated", "unchanged"].iter().map(|k| line[k].as_u64().unwrap()).sum();
                ok(line["line"].as_u64().unwrap(), 0, 0, rows)
            }
        })
        .collect();
    expected.push(summary(11, 3, 6, table_counts([0, 0, 3], [0, 0, 2], [0, 0, 1], [0, 0, 1])));
    assert_eq!(answer, expected, "{answer:#?}");
    assert_eq!(app.row_count().await, rows);
    assert_eq!(app.data(snapshot, json!({ "x": X, "y": Y })).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_lines_than_a_chunk_all_land() {
    let app = TestApp::spawn_with(|c| c.ingest.ingest_chunk_lines = 3).await;
    let job = |k: u64| format!("01970000-0000-7000-8000-0000000b{k:04x}");
    // Line 1 starts the invocation, lines 2–9 each add a job (one of them invalid), line 10 ends it.
    let mut lines = vec![json!({ "id": Y, "sourceFunction": "event-detector-users", "eventExecutions": [
            { "id": X_E1, "eventName": "user.created", "detected": true }] })];
    for k in 2..=9 {
        let status = if k % 2 == 0 { "COMPLETED" } else { "FAILED" };
        let duration = if k == 6 { -1 } else { k as i64 };
        lines.push(json!({ "id": Y, "eventExecutions": [{ "id": X_E1, "jobExecutions": [
            { "id": job(k), "jobName": format!("job{k}"), "status": status, "durationMs": duration,
              "logs": [{ "level": "INFO", "message": format!("job {k}") }] }] }] }));
    }
    lines.push(json!({ "id": Y, "status": "COMPLETED" }));
    let lines: Vec<String> = lines.iter().map(Value::to_string).collect();

    let answer = app.ingest_ndjson(ndjson(&lines)).await;
    let mut expected = vec![ok(1, 2, 0, 0)];
    for k in 2..=9 {
        expected.push(if k == 6 {
            rejected(
                k,
                "BAD_USER_INPUT",
                "line.eventExecutions[0].jobExecutions[0].durationMs",
                "must not be negative, got -1",
            )
        } else {
            ok(k, 2, 0, 2)
        });
    }
    expected.push(ok(10, 0, 1, 0));
    expected.push(summary(10, 9, 1, table_counts([1, 1, 7], [1, 0, 7], [7, 0, 0], [7, 0, 0])));
    assert_eq!(answer, expected, "{answer:#?}");
    assert_eq!(app.row_count().await, RowCount { invocations: 1, event_executions: 1, job_executions: 7, job_logs: 7 });
    // Jobs 2, 4 and 8 completed; 3, 5, 7 and 9 failed.
    assert_eq!(app.assert_counters_match_children(Y).await, [1, 7, 3, 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_ndjson_is_accepted() {
    let app = TestApp::spawn().await;
    let body = ndjson(&[tree_x().to_string()]);
    for content_type in ["application/json", "text/plain", ""] {
        let response = app.post_ingest(content_type, body.clone()).await;
        assert_eq!(response.status(), 415, "{content_type:?}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(
            answer,
            json!({ "errors": [{ "message": format!("send NDJSON (Content-Type: application/x-ndjson), not {content_type:?}"),
                                 "extensions": { "code": "BAD_REQUEST" } }] })
        );
        assert_eq!(app.row_count().await, RowCount::default(), "{content_type:?}");
    }
    for content_type in ["application/x-ndjson; charset=utf-8", "application/ndjson", "Application/JSONL"] {
        let response = app.post_ingest(content_type, body.clone()).await;
        assert_eq!(response.status(), 200, "{content_type:?}");
        // The lines are written while the answer streams: read it to the end.
        let answer = response.text().await.unwrap();
        assert!(answer.ends_with("\"rejected\":0}}\n"), "{answer}");
    }
    assert_eq!(app.row_count().await.invocations, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlong_line_is_rejected_alone() {
    let app = TestApp::spawn_with(|c| c.ingest.max_request_bytes = 10_000).await;
    let long = json!({ "sourceFunction": "f", "sourceSystem": "z".repeat(12_000) }).to_string();
    let lines = [
        json!({ "id": X, "sourceFunction": "f" }).to_string(),
        long,
        json!({ "id": Y, "sourceFunction": "f" }).to_string(),
        json!({ "id": X, "status": "COMPLETED" }).to_string(),
    ];
    let answer = app.ingest_ndjson(ndjson(&lines)).await;
    assert_eq!(
        answer,
        [
            ok(1, 1, 0, 0),
            rejected(2, "BAD_USER_INPUT", "line", "longer than 10000 bytes (--max-request-bytes)"),
            ok(3, 1, 0, 0),
            ok(4, 0, 1, 0),
            summary(4, 3, 1, table_counts([2, 1, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0])),
        ],
        "{answer:#?}"
    );
    assert_eq!(app.row_count().await.invocations, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_line_leaves_no_trace_for_later_lines() {
    let app = TestApp::spawn().await;
    // Line 1 would create X as COMPLETED, but its event is invalid, so X is not created.
    // Line 2, on its own, creates X as RUNNING.
    let lines = [
        json!({ "id": X, "sourceFunction": "f", "status": "COMPLETED",
                "eventExecutions": [{ "eventName": "e", "detectionDurationMs": -1 }] })
        .to_string(),
        json!({ "id": X, "sourceFunction": "f", "status": "RUNNING" }).to_string(),
    ];
    let answer = app.ingest_ndjson(ndjson(&lines)).await;
    assert_eq!(
        answer,
        [
            rejected(
                1,
                "BAD_USER_INPUT",
                "line.eventExecutions[0].detectionDurationMs",
                "must not be negative, got -1"
            ),
            ok(2, 1, 0, 0),
            summary(2, 1, 1, table_counts([1, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0])),
        ],
        "{answer:#?}"
    );
    assert_eq!(app.row_count().await.invocations, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_reports_the_same_whatever_the_chunk_size() {
    // Line 2 moves forward the rows line 1 created.
    let lines = [
        json!({ "id": X, "sourceFunction": "f", "eventExecutions": [
            { "id": X_E1, "eventName": "e", "detected": true, "jobExecutions": [{ "id": X_J1, "jobName": "j" }] }] })
        .to_string(),
        json!({ "id": X, "status": "COMPLETED", "eventExecutions": [
            { "id": X_E1, "status": "COMPLETED", "jobExecutions": [{ "id": X_J1, "status": "COMPLETED" }] }] })
        .to_string(),
    ];
    let expected = vec![
        ok(1, 3, 0, 0),
        ok(2, 0, 3, 0),
        summary(2, 2, 0, table_counts([1, 1, 0], [1, 1, 0], [1, 1, 0], [0, 0, 0])),
    ];
    // One line per transaction.
    let single = TestApp::spawn_with(|c| c.ingest.ingest_chunk_lines = 1).await;
    assert_eq!(single.ingest_ndjson(ndjson(&lines)).await, expected);
    // Both lines in one transaction.
    let together = TestApp::spawn().await;
    assert_eq!(together.ingest_ndjson(ndjson(&lines)).await, expected);
    assert_eq!(together.assert_counters_match_children(X).await, [1, 1, 1, 0]);
}
