//! Relay pagination: keyset cursors across ties and concurrent inserts, both directions, every
//! order, and the errors for bad arguments.

use entity::invocations;
use entity::status::InvocationStatus;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{at, invocation, lone};
use crate::helpers::TestApp;

const PAGE: &str = "query($first: Int, $after: String, $last: Int, $before: String, $order: InvocationOrder) {
  invocations(first: $first, after: $after, last: $last, before: $before, orderBy: $order) {
    totalCount
    edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";

fn ids(page: &Value) -> Vec<String> {
    page["invocations"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Ten invocations: seven share one start time (ties), three are later.
fn rows() -> Vec<invocations::Model> {
    let mut rows: Vec<_> = (0..7).map(|_| invocation(at(0))).collect();
    rows.extend((1..=3).map(|m| invocation(at(m))));
    rows
}

/// `rows` in the API's default order: newest first, ties by id descending.
fn newest_first(rows: &[invocations::Model]) -> Vec<String> {
    let mut sorted = rows.to_vec();
    sorted.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.id)));
    sorted.iter().map(|r| r.id.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_and_backward_through_ties() {
    let app = TestApp::spawn().await;
    let rows = rows();
    app.insert(rows.iter().cloned().map(lone).collect()).await;
    let expected = newest_first(&rows);

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = app.data(PAGE, json!({ "first": 3, "after": after })).await;
        assert_eq!(page["invocations"]["totalCount"], 10);
        seen.extend(ids(&page));
        let info = &page["invocations"]["pageInfo"];
        assert_eq!(info["hasPreviousPage"], after.is_some());
        if info["hasNextPage"] == false {
            break;
        }
        after = info["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, expected);

    let mut seen_backwards = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let page = app.data(PAGE, json!({ "last": 4, "before": before })).await;
        let mut chunk = ids(&page);
        chunk.extend(seen_backwards);
        seen_backwards = chunk;
        let info = &page["invocations"]["pageInfo"];
        if info["hasPreviousPage"] == false {
            break;
        }
        before = info["startCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen_backwards, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_arriving_between_pages_neither_repeat_nor_skip() {
    let app = TestApp::spawn().await;
    let rows = rows();
    app.insert(rows.iter().cloned().map(lone).collect()).await;
    let first = app.data(PAGE, json!({ "first": 4 })).await;
    let cursor = first["invocations"]["pageInfo"]["endCursor"].as_str().unwrap().to_owned();

    // A newer row lands before the cursor; an older one, and a tie whose smaller id sorts it
    // after the cursor (ties are newest-first by id descending), land after it.
    let newer = invocation(at(30));
    let older = invocation(at(-30));
    let tie = invocations::Model { id: Uuid::from_u128(1), ..invocation(at(0)) };
    app.insert(vec![lone(newer.clone()), lone(older.clone()), lone(tie.clone())]).await;

    let rest = app.data(PAGE, json!({ "first": 100, "after": cursor })).await;
    let mut all = ids(&first);
    all.extend(ids(&rest));
    let mut expected_rows = rows.clone();
    expected_rows.extend([older, tie]);
    assert_eq!(all, newest_first(&expected_rows), "every original and later row once, newer one excluded");
    assert!(!all.contains(&newer.id.to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_in_both_directions() {
    let app = TestApp::spawn().await;
    let rows = vec![
        invocations::Model { source_function: "b".into(), total_duration_ms: Some(30), ..invocation(at(1)) },
        invocations::Model {
            source_function: "a".into(),
            total_duration_ms: None,
            status: InvocationStatus::Running,
            ..invocation(at(2))
        },
        invocations::Model {
            source_function: "c".into(),
            total_duration_ms: Some(10),
            status: InvocationStatus::Failed,
            ..invocation(at(3))
        },
        invocations::Model { source_function: "a".into(), total_duration_ms: Some(30), ..invocation(at(4)) },
        invocations::Model {
            source_function: "b".into(),
            total_duration_ms: None,
            status: InvocationStatus::Running,
            ..invocation(at(5))
        },
    ];
    app.insert(rows.iter().cloned().map(lone).collect()).await;

    type Key = fn(&invocations::Model) -> (Option<String>, Option<i64>);
    let cases: [(&str, Key); 4] = [
        ("CREATED_AT", |r| (None, Some(r.created_at.timestamp()))),
        // NULL durations sort as larger than any value.
        ("TOTAL_DURATION_MS", |r| (None, Some(r.total_duration_ms.map_or(i64::MAX, i64::from)))),
        ("STATUS", |r| (Some(format!("{:?}", r.status).to_lowercase()), None)),
        ("SOURCE_FUNCTION", |r| (Some(r.source_function.clone()), None)),
    ];
    for (field, key) in cases {
        for direction in ["ASC", "DESC"] {
            let mut sorted = rows.clone();
            sorted.sort_by_key(|r| (key(r), r.id));
            if direction == "DESC" {
                sorted.reverse();
            }
            let expected: Vec<String> = sorted.iter().map(|r| r.id.to_string()).collect();
            // Two rows per page, so every page boundary is crossed with a cursor.
            let order = json!({ "field": field, "direction": direction });
            let mut seen = Vec::new();
            let mut after: Option<String> = None;
            loop {
                let page = app.data(PAGE, json!({ "first": 2, "after": after, "order": order })).await;
                seen.extend(ids(&page));
                if page["invocations"]["pageInfo"]["hasNextPage"] == false {
                    break;
                }
                after = page["invocations"]["pageInfo"]["endCursor"].as_str().map(str::to_owned);
            }
            assert_eq!(seen, expected, "{field} {direction}");
            let backwards = app.data(PAGE, json!({ "last": 3, "order": order })).await;
            assert_eq!(ids(&backwards), expected[2..], "{field} {direction} from the end");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_are_bad_input() {
    let app = TestApp::spawn().await;
    app.insert(rows().into_iter().map(lone).collect()).await;
    let page = app.data(PAGE, json!({ "first": 2 })).await;
    let cursor = page["invocations"]["pageInfo"]["endCursor"].as_str().unwrap().to_owned();
    let other_order = json!({ "field": "STATUS", "direction": "ASC" });

    for (variables, field) in [
        (json!({ "first": 101 }), "first"),
        (json!({ "first": -1 }), "first"),
        (json!({ "last": 1000 }), "last"),
        (json!({ "first": 1, "last": 1 }), "last"),
        (json!({ "after": "not a cursor" }), "after"),
        (json!({ "before": "eyJrIjoxfQ" }), "before"),
        (json!({ "after": cursor, "order": other_order }), "after"),
    ] {
        let body = app.query(PAGE, variables.clone()).await;
        let error = &body["errors"][0];
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{variables}: {body}");
        assert_eq!(error["extensions"]["field"], field, "{variables}: {body}");
    }
    let unknown_field = app.error_codes(PAGE, json!({ "order": { "field": "NOPE" } })).await;
    assert_eq!(unknown_field, ["BAD_USER_INPUT"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_page_size_and_empty_pages() {
    let app = TestApp::spawn().await;
    let data = app.data(PAGE, json!({})).await;
    assert_eq!(
        data,
        json!({ "invocations": { "totalCount": 0, "edges": [],
            "pageInfo": { "hasNextPage": false, "hasPreviousPage": false, "startCursor": null, "endCursor": null } } })
    );
    app.insert((0..25).map(|m| lone(invocation(at(m)))).collect()).await;
    let data = app.data(PAGE, json!({})).await;
    assert_eq!(ids(&data).len(), 20);
    assert_eq!(data["invocations"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(data["invocations"]["totalCount"], 25);
}
