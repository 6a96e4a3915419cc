//! Lookups by id: found, absent, malformed.

use entity::status::LogLevel;
use runlens::seed::Tree;
use serde_json::json;
use uuid::Uuid;

use crate::fixtures::{at, at_str, event, invocation, job, log};
use crate::helpers::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_row_type_by_id() {
    let app = TestApp::spawn().await;
    let inv = invocation(at(0));
    let ev = event(&inv, "move.pickup.successful", at(1));
    let jb = job(&ev, "sendNotification", at(2));
    let line = log(&jb, LogLevel::Warn, "slow upstream", at(3));
    app.insert(vec![Tree {
        invocation: Some(inv.clone()),
        events: vec![ev.clone()],
        jobs: vec![jb.clone()],
        logs: vec![line.clone()],
    }])
    .await;

    let data = app
        .data(
            "query($i: UUID!, $e: UUID!, $j: UUID!, $l: UUID!) {
               invocation(id: $i) { id sourceFunction status createdAt totalDurationMs sourceEventPayload }
               eventExecution(id: $e) { id invocationId eventName detected status }
               jobExecution(id: $j) { id eventExecutionId jobName status durationMs result jobOptions }
               jobLog(id: $l) { id jobExecutionId level message createdAt }
             }",
            json!({ "i": inv.id, "e": ev.id, "j": jb.id, "l": line.id }),
        )
        .await;
    assert_eq!(
        data,
        json!({
            "invocation": {
                "id": inv.id, "sourceFunction": "event-detector-moves", "status": "COMPLETED",
                "createdAt": at_str(0), "totalDurationMs": 100,
                "sourceEventPayload": { "event": { "op": "UPDATE" } }
            },
            "eventExecution": {
                "id": ev.id, "invocationId": inv.id, "eventName": "move.pickup.successful",
                "detected": true, "status": "COMPLETED"
            },
            "jobExecution": {
                "id": jb.id, "eventExecutionId": ev.id, "jobName": "sendNotification", "status": "COMPLETED",
                "durationMs": 40, "result": { "ok": true }, "jobOptions": { "moveId": 123 }
            },
            "jobLog": {
                "id": line.id, "jobExecutionId": jb.id, "level": "WARN", "message": "slow upstream",
                "createdAt": at_str(3)
            }
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absent_ids_are_null() {
    let app = TestApp::spawn().await;
    let data = app
        .data(
            "query($id: UUID!) { invocation(id: $id) { id } eventExecution(id: $id) { id }
                                 jobExecution(id: $id) { id } jobLog(id: $id) { id } }",
            json!({ "id": Uuid::new_v4() }),
        )
        .await;
    assert_eq!(data, json!({ "invocation": null, "eventExecution": null, "jobExecution": null, "jobLog": null }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_ids_are_bad_input() {
    let app = TestApp::spawn().await;
    assert_eq!(app.error_codes(r#"{ invocation(id: "not-a-uuid") { id } }"#, json!({})).await, ["BAD_USER_INPUT"]);
    assert_eq!(
        app.error_codes("query($id: UUID!) { invocation(id: $id) { id } }", json!({ "id": "42" })).await,
        ["BAD_USER_INPUT"]
    );
}
