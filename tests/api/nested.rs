//! Nested lists and back-links return exactly the rows inserted, in time order, within limits.

use entity::status::{JobExecutionStatus, LogLevel};
use entity::{event_executions, invocations, job_executions, job_logs};
use runlens::seed::Tree;
use serde_json::json;

use crate::fixtures::{at, event, invocation, job, log};
use crate::helpers::TestApp;

/// Two invocations; the first with two events (inserted out of time order), jobs and logs.
struct Forest {
    invocations: Vec<invocations::Model>,
    events: Vec<event_executions::Model>,
    jobs: Vec<job_executions::Model>,
    logs: Vec<job_logs::Model>,
}

impl Forest {
    /// The whole forest as trees to insert: each invocation alone, then its rows below.
    fn trees(&self) -> Vec<Tree> {
        self.invocations
            .iter()
            .map(|i| Tree { invocation: Some(i.clone()), ..Tree::default() })
            .chain([Tree {
                invocation: None,
                events: self.events.clone(),
                jobs: self.jobs.clone(),
                logs: self.logs.clone(),
            }])
            .collect()
    }
}

fn forest() -> Forest {
    let a = invocation(at(0));
    let b = invocation(at(10));
    let late = event(&a, "move.cancelled", at(2));
    let early = event(&a, "move.pickup.successful", at(1));
    let other = event(&b, "move.created", at(11));
    let j1 = job(&early, "sendNotification", at(3));
    let j2 = job_executions::Model {
        status: JobExecutionStatus::Failed,
        error_message: Some("timeout of 10000ms exceeded".to_owned()),
        ..job(&early, "updateAnalytics", at(4))
    };
    let j3 = job(&late, "reapplySlaDuration", at(5));
    let j4 = job(&other, "sendEmail", at(12));
    let logs = (0..4)
        .map(|i| log(&j1, if i == 3 { LogLevel::Error } else { LogLevel::Info }, &format!("line {i}"), at(20 - i)))
        .chain([log(&j2, LogLevel::Warn, "retrying", at(6))])
        .collect();
    Forest { invocations: vec![a, b], events: vec![late, early, other], jobs: vec![j2, j1, j3, j4], logs }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_lists_match_the_rows_in_time_order() {
    let app = TestApp::spawn().await;
    let f = forest();
    app.insert(f.trees()).await;
    let (a, b) = (&f.invocations[0], &f.invocations[1]);
    let data = app
        .data(
            "query($a: UUID!, $b: UUID!) {
               a: invocation(id: $a) { eventExecutions { id jobExecutions { id logs { id message } } }
                                       jobExecutions { id } }
               b: invocation(id: $b) { eventExecutions { id jobExecutions { id logs { id } } } } }",
            json!({ "a": a.id, "b": b.id }),
        )
        .await;
    let (late, early, other) = (&f.events[0], &f.events[1], &f.events[2]);
    let (j2, j1, j3, j4) = (&f.jobs[0], &f.jobs[1], &f.jobs[2], &f.jobs[3]);
    // j1's logs were inserted newest first; they come back oldest first.
    let j1_logs: Vec<_> = f.logs[..4].iter().rev().map(|l| json!({ "id": l.id, "message": l.message })).collect();
    assert_eq!(
        data,
        json!({
            "a": {
                "eventExecutions": [
                    { "id": early.id, "jobExecutions": [
                        { "id": j1.id, "logs": j1_logs },
                        { "id": j2.id, "logs": [{ "id": f.logs[4].id, "message": "retrying" }] } ] },
                    { "id": late.id, "jobExecutions": [{ "id": j3.id, "logs": [] }] }
                ],
                "jobExecutions": [{ "id": j1.id }, { "id": j2.id }, { "id": j3.id }]
            },
            "b": { "eventExecutions": [{ "id": other.id, "jobExecutions": [{ "id": j4.id, "logs": [] }] }] }
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_parent_limits_and_filters() {
    let app = TestApp::spawn().await;
    let f = forest();
    app.insert(vec![Tree {
        invocation: Some(f.invocations[0].clone()),
        events: f.events[..2].to_vec(),
        jobs: f.jobs[..3].to_vec(),
        logs: f.logs.clone(),
    }])
    .await;
    let data = app
        .data(
            "query($a: UUID!) { invocation(id: $a) {
               first: eventExecutions(limit: 1) { eventName }
               none: eventExecutions(limit: 0) { eventName }
               failed: jobExecutions(filter: {status: {eq: FAILED}}) { jobName errorMessage }
               eventExecutions { jobExecutions(limit: 1) { jobName logs(limit: 2) { message } } }
               errors: jobExecutions { logs(level: ERROR) { message } }
               warnOrWorse: jobExecutions { logs(filter: {level: {gte: WARN}}) { level } } } }",
            json!({ "a": f.invocations[0].id }),
        )
        .await;
    assert_eq!(
        data["invocation"],
        json!({
            "first": [{ "eventName": "move.pickup.successful" }],
            "none": [],
            "failed": [{ "jobName": "updateAnalytics", "errorMessage": "timeout of 10000ms exceeded" }],
            "eventExecutions": [
                { "jobExecutions": [{ "jobName": "sendNotification", "logs": [{ "message": "line 3" }, { "message": "line 2" }] }] },
                { "jobExecutions": [{ "jobName": "reapplySlaDuration", "logs": [] }] }
            ],
            "errors": [{ "logs": [{ "message": "line 3" }] }, { "logs": [] }, { "logs": [] }],
            "warnOrWorse": [{ "logs": [{ "level": "ERROR" }] }, { "logs": [{ "level": "WARN" }] }, { "logs": [] }]
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_links_reach_the_parents() {
    let app = TestApp::spawn().await;
    let f = forest();
    app.insert(vec![Tree {
        invocation: Some(f.invocations[0].clone()),
        events: f.events[..2].to_vec(),
        jobs: f.jobs[..3].to_vec(),
        logs: f.logs.clone(),
    }])
    .await;
    let line = &f.logs[4];
    let data = app
        .data(
            "query($l: UUID!) { jobLog(id: $l) { jobExecution { jobName
                 invocation { id } eventExecution { eventName invocation { id } } } } }",
            json!({ "l": line.id }),
        )
        .await;
    let a = f.invocations[0].id;
    assert_eq!(
        data,
        json!({ "jobLog": { "jobExecution": { "jobName": "updateAnalytics", "invocation": { "id": a },
            "eventExecution": { "eventName": "move.pickup.successful", "invocation": { "id": a } } } } })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_limits_are_checked() {
    let app = TestApp::spawn().await;
    let inv = invocation(at(0));
    app.insert(vec![crate::fixtures::lone(inv.clone())]).await;
    for limit in [-1, 1001] {
        let codes = app
            .error_codes(
                "query($id: UUID!, $n: Int) { invocation(id: $id) { eventExecutions(limit: $n) { id } } }",
                json!({ "id": inv.id, "n": limit }),
            )
            .await;
        assert_eq!(codes, ["BAD_USER_INPUT"], "limit {limit}");
    }
}

/// A list of parents is resolved a level at a time: each parent still gets exactly its own
/// children, through `nodes` and through `edges`, and an error in a nested list's arguments is
/// reported once per parent, at that parent's path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn levels_under_a_page_give_each_parent_its_own_children_and_errors() {
    let app = TestApp::spawn().await;
    let f = forest();
    app.insert(f.trees()).await;
    let data = app
        .data(
            "{ invocations(orderBy: {field: CREATED_AT, direction: ASC}) {
                 nodes { id eventExecutions { id jobExecutions { id logs(limit: 2) { message } } } }
                 edges { node { id jobExecutions(limit: 2) { id } } } } }",
            json!({}),
        )
        .await;
    let (a, b) = (&f.invocations[0], &f.invocations[1]);
    let (late, early, other) = (&f.events[0], &f.events[1], &f.events[2]);
    let (j2, j1, j3, j4) = (&f.jobs[0], &f.jobs[1], &f.jobs[2], &f.jobs[3]);
    assert_eq!(
        data["invocations"],
        json!({
            "nodes": [
                { "id": a.id, "eventExecutions": [
                    { "id": early.id, "jobExecutions": [
                        { "id": j1.id, "logs": [{ "message": "line 3" }, { "message": "line 2" }] },
                        { "id": j2.id, "logs": [{ "message": "retrying" }] } ] },
                    { "id": late.id, "jobExecutions": [{ "id": j3.id, "logs": [] }] } ] },
                { "id": b.id, "eventExecutions": [
                    { "id": other.id, "jobExecutions": [{ "id": j4.id, "logs": [] }] } ] }
            ],
            "edges": [
                { "node": { "id": a.id, "jobExecutions": [{ "id": j1.id }, { "id": j2.id }] } },
                { "node": { "id": b.id, "jobExecutions": [{ "id": j4.id }] } }
            ]
        })
    );

    let body = app
        .query(
            "{ invocations(orderBy: {field: CREATED_AT, direction: ASC}) { nodes { id eventExecutions(limit: -1) { id } } } }",
            json!({}),
        )
        .await;
    let errors = body["errors"].as_array().unwrap_or_else(|| panic!("expected errors, got {body:#}"));
    let paths: Vec<_> = errors.iter().map(|e| e["path"].clone()).collect();
    assert_eq!(
        paths,
        [json!(["invocations", "nodes", 0, "eventExecutions"]), json!(["invocations", "nodes", 1, "eventExecutions"])]
    );
    assert!(errors.iter().all(|e| e["extensions"]["code"] == "BAD_USER_INPUT"), "{errors:#?}");
}
