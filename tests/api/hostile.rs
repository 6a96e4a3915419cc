//! Hostile input: malformed bodies, wrong content types, oversized and abusive documents,
//! invalid argument values, SQL-looking text, and the same through the write path.
//!
//! Every case must be answered with a clear error — the expected status and `extensions.code`,
//! a message that names the problem, and nothing of the server's insides (SQL, driver messages,
//! file paths, panics) — within a bounded time, without writing anything; and the server must
//! still answer a normal query afterwards. Cases are tables, so a failure names its case; all
//! failures of a table are reported at once.
//!
//! Cases that show a server bug live in their own `#[ignore]`d tests, named for the bug.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entity::status::LogLevel;
use entity::{event_executions, invocations, job_executions, job_logs};
use runlens::seed::Tree;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::fixtures::{at, event, invocation, job, log};
use crate::helpers::{RowCount, TestApp};

/// The media type that makes request errors (unparsable, invalid, bad variables) answer 400.
const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// A request that takes longer than this to be answered counts as a hang.
const ANSWER_WITHIN: Duration = Duration::from_secs(60);

/// Texts that must never reach a client: they mean SQL, a driver message, a panic or a source
/// path leaked. Matched against the lowercased response body.
const LEAKS: [&str; 16] = [
    "panicked",
    "backtrace",
    "sqlx",
    "sqlstate",
    "sea_orm",
    "sea-orm",
    "dberr",
    "error returned from database",
    "syntax error at or near",
    "no such table",
    "no such column",
    "invalid byte sequence",
    "/src/",
    ".rs:",
    "/home/",
    "called `result::unwrap()`",
];

const INGEST: &str = "mutation($batch: [InvocationTreeInput!]!) { ingest(batch: $batch) {
    invocations { inserted } eventExecutions { inserted } jobExecutions { inserted } jobLogs { inserted } } }";

/// The query the server must still answer after every hostile request.
const NORMAL: &str = "{ invocations(first: 5) { totalCount nodes { id } } }";

// ---------------------------------------------------------------------------------------------
// The case machinery
// ---------------------------------------------------------------------------------------------

/// One HTTP request.
#[derive(Clone)]
struct Req {
    method: reqwest::Method,
    path: &'static str,
    params: Vec<(String, String)>,
    content_type: Option<String>,
    accept: Option<&'static str>,
    body: Vec<u8>,
}

impl Req {
    /// A raw body POSTed to `/graphql`, asking for `application/graphql-response+json`.
    fn raw(content_type: Option<&str>, body: impl Into<Vec<u8>>) -> Self {
        Self {
            method: reqwest::Method::POST,
            path: "/graphql",
            params: Vec::new(),
            content_type: content_type.map(str::to_owned),
            accept: Some(GRAPHQL_RESPONSE),
            body: body.into(),
        }
    }

    /// A JSON body POSTed to `/graphql`.
    fn json(body: &Value) -> Self {
        Self::raw(Some("application/json"), body.to_string())
    }

    /// A GraphQL operation POSTed to `/graphql`.
    fn gql(query: &str, variables: Value) -> Self {
        Self::json(&json!({ "query": query, "variables": variables }))
    }

    /// A raw body POSTed to `/ingest`.
    fn ingest(content_type: Option<&str>, body: impl Into<Vec<u8>>) -> Self {
        Self { path: "/ingest", accept: None, ..Self::raw(content_type, body) }
    }

    /// A GraphQL request over GET.
    fn get(params: &[(&str, &str)]) -> Self {
        Self {
            method: reqwest::Method::GET,
            params: params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            content_type: None,
            body: Vec::new(),
            ..Self::raw(None, Vec::new())
        }
    }

    /// The same request with the legacy `Accept: application/json` (request errors answer 200).
    fn legacy(self) -> Self {
        Self { accept: Some("application/json"), ..self }
    }
}

/// What a case must be answered with. `code: None` means success: data and no errors.
struct Expect {
    status: u16,
    code: Option<&'static str>,
    /// Text the (first) error message must contain, ignoring case.
    says: &'static str,
    /// The exact `data` of a success, when it matters.
    data: Option<Value>,
    /// A success case may instead be refused with BAD_USER_INPUT (a limit the server may set).
    refusable: bool,
}

struct Case {
    name: String,
    req: Req,
    expect: Expect,
}

/// A case answered with an error.
fn fails(name: impl Into<String>, req: Req, status: u16, code: &'static str, says: &'static str) -> Case {
    Case { name: name.into(), req, expect: Expect { status, code: Some(code), says, data: None, refusable: false } }
}

/// A case answered with data (hostile-looking, but a legitimate request).
fn answers(name: impl Into<String>, req: Req) -> Case {
    Case { name: name.into(), req, expect: Expect { status: 200, code: None, says: "", data: None, refusable: false } }
}

/// A case answered with exactly `data`.
fn answers_with(name: impl Into<String>, req: Req, data: Value) -> Case {
    Case {
        name: name.into(),
        req,
        expect: Expect { status: 200, code: None, says: "", data: Some(data), refusable: false },
    }
}

/// A case answered with exactly `data`, or refused as BAD_USER_INPUT (either is a clear answer).
fn answers_or_refuses(name: impl Into<String>, req: Req, data: Value) -> Case {
    Case {
        name: name.into(),
        req,
        expect: Expect { status: 200, code: None, says: "", data: Some(data), refusable: true },
    }
}

struct Answer {
    status: u16,
    text: String,
}

/// Sends `req`; an error when no answer arrives (connection dropped: a panic or crash) or it
/// takes longer than `ANSWER_WITHIN` (a hang).
async fn send(app: &TestApp, req: &Req) -> Result<Answer, String> {
    // A fresh connection per case: a server may close a connection after refusing a body it did
    // not read (413), and a pooled client could otherwise send the next case into that close.
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().map_err(|e| e.to_string())?;
    let mut builder = client.request(req.method.clone(), app.url(req.path)).query(&req.params);
    if let Some(content_type) = &req.content_type {
        builder = builder.header("content-type", content_type);
    }
    if let Some(accept) = req.accept {
        builder = builder.header("accept", accept);
    }
    let exchange = async {
        let response = builder
            .body(req.body.clone())
            .send()
            .await
            .map_err(|e| format!("no HTTP answer (did the server panic or crash?): {e}"))?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| format!("the answer broke off: {e}"))?;
        Ok(Answer { status, text })
    };
    tokio::time::timeout(ANSWER_WITHIN, exchange)
        .await
        .map_err(|_| format!("no answer within {} s (a hang)", ANSWER_WITHIN.as_secs()))?
}

/// The start of a long text, for failure messages.
fn clip(text: &str) -> String {
    let mut end = text.len().min(600);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    if end < text.len() { format!("{}… ({} bytes)", &text[..end], text.len()) } else { text.to_owned() }
}

/// Fails when the body shows anything of the server's insides.
fn leaks(text: &str) -> Result<(), String> {
    let lower = text.to_lowercase();
    match LEAKS.iter().find(|leak| lower.contains(*leak)) {
        Some(leak) => Err(format!("the answer leaks internals ({leak:?})")),
        None => Ok(()),
    }
}

/// Checks an answer against what the case expects.
fn judge(expect: &Expect, answer: &Answer) -> Result<(), String> {
    leaks(&answer.text)?;
    let body: Value = serde_json::from_str(&answer.text).map_err(|e| format!("the answer is not JSON ({e})"))?;
    let errors = body.get("errors").and_then(Value::as_array);
    let refused = errors
        .is_some_and(|errors| !errors.is_empty() && errors.iter().all(|e| e["extensions"]["code"] == "BAD_USER_INPUT"));
    match expect.code {
        None if expect.refusable && refused => {
            let message = errors.and_then(|e| e[0]["message"].as_str()).unwrap_or("");
            if message.trim().is_empty() {
                return Err("the error has no message".to_owned());
            }
        }
        None => {
            if let Some(errors) = errors {
                return Err(format!("expected data, got errors {errors:?}"));
            }
            if body["data"].is_null() {
                return Err("expected data, got none".to_owned());
            }
            if let Some(data) = &expect.data
                && body["data"] != *data
            {
                return Err(format!("expected data {data}"));
            }
        }
        Some(code) => {
            let errors = errors.filter(|e| !e.is_empty()).ok_or("expected errors, got none")?;
            let codes: Vec<&str> =
                errors.iter().map(|e| e["extensions"]["code"].as_str().unwrap_or("<no code>")).collect();
            if codes.iter().any(|c| *c != code) {
                return Err(format!("expected code {code}, got {codes:?}"));
            }
            let message = errors[0]["message"].as_str().unwrap_or("");
            if message.trim().is_empty() {
                return Err("the error has no message".to_owned());
            }
            if !message.to_lowercase().contains(&expect.says.to_lowercase()) {
                return Err(format!("the message does not say {:?}", expect.says));
            }
        }
    }
    if answer.status != expect.status {
        return Err(format!("expected status {}, got {}", expect.status, answer.status));
    }
    Ok(())
}

/// Asserts the server still answers a normal query.
async fn still_serving(app: &TestApp) {
    let answer = tokio::time::timeout(Duration::from_secs(10), app.query(NORMAL, json!({})))
        .await
        .expect("a normal query answered within 10 s");
    assert!(answer.get("errors").is_none() && answer["data"]["invocations"].is_object(), "{answer:#}");
}

/// Runs every case, checking each answer and that no case wrote a row; then that the server
/// still answers. Reports all failures at once.
async fn run_cases(app: &TestApp, cases: Vec<Case>) {
    let rows = app.row_count().await;
    let mut failures = Vec::new();
    for case in &cases {
        let outcome = match send(app, &case.req).await {
            Err(err) => Err(err),
            Ok(answer) => judge(&case.expect, &answer)
                .map_err(|err| format!("{err}\n    answer {} {}", answer.status, clip(&answer.text))),
        };
        if let Err(err) = outcome {
            failures.push(format!("{}: {err}", case.name));
            if err.starts_with("no HTTP answer") || err.starts_with("no answer within") {
                // The server is gone or stuck; later cases would only repeat that.
                break;
            }
        }
        let now = app.row_count().await;
        if now != rows {
            failures.push(format!("{}: rows were written: {rows:?} -> {now:?}", case.name));
        }
    }
    assert!(failures.is_empty(), "{} of {} case(s) failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
    still_serving(app).await;
}

// ---------------------------------------------------------------------------------------------
// Documents
// ---------------------------------------------------------------------------------------------

/// `{a{a{a…` `depth` levels deep, unclosed.
fn deep_selection(depth: usize) -> String {
    "{a".repeat(depth)
}

/// A fragment bomb: each fragment spreads the one below it twice, so `levels` fragments expand
/// to 2^levels fields.
fn fragment_bomb(levels: usize) -> String {
    let mut document = String::from("query { ...F0 }\nfragment F0 on Query { __typename }\n");
    for i in 1..=levels {
        document.push_str(&format!("fragment F{i} on Query {{ ...F{j} ...F{j} }}\n", j = i - 1));
    }
    document.replace("...F0 }\nfragment F0", &format!("...F{levels} }}\nfragment F0"))
}

/// `n` aliases of `__typename` at the root.
fn alias_bomb(n: usize) -> String {
    let fields: String = (0..n).map(|i| format!("a{i}: __typename ")).collect();
    format!("{{ {fields}}}")
}

/// A document of about `bytes` bytes that selects `totalCount` over and over.
fn repeated_fields(bytes: usize) -> String {
    format!("{{ invocations {{ {}}} }}", "totalCount ".repeat(bytes / 11))
}

/// A valid query padded to about `bytes` bytes with a comment.
fn padded_query(bytes: usize) -> String {
    format!("{NORMAL}\n#{}\n", "x".repeat(bytes))
}

/// A cursor as the server would encode `data`.
fn cursor(data: &Value) -> String {
    URL_SAFE_NO_PAD.encode(data.to_string())
}

// ---------------------------------------------------------------------------------------------
// Transport: bodies and content types
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_and_wrong_content_types() {
    let app = TestApp::spawn().await;
    let ok = r#"{"query": "{ invocations { totalCount } }"}"#;
    let bad = |name: &str, body: &[u8]| {
        fails(name, Req::raw(Some("application/json"), body), 400, "BAD_REQUEST", "invalid GraphQL request")
    };
    let mut invalid_utf8 = br#"{"query": "{ invocations { totalCount } }"#.to_vec();
    invalid_utf8.extend_from_slice(b"\xff\xfe\"}");
    let ndjson_line = json!({ "sourceFunction": "f" }).to_string() + "\n";
    let cases = vec![
        bad("truncated object", br#"{"query": "{ invocations { totalCount } }""#),
        bad("truncated inside a string", br#"{"query": "{ invoca"#),
        bad("empty body", b""),
        bad("only whitespace", b"  \n\t "),
        bad("null", b"null"),
        bad("a number", b"5"),
        bad("a string", br#""{ invocations { totalCount } }""#),
        bad("true", b"true"),
        bad("an array of numbers", b"[1, 2, 3]"),
        // `[]` deserialises as a request with every field defaulted: no query.
        fails("an empty batch", Req::raw(Some("application/json"), "[]"), 400, "BAD_REQUEST", "no query"),
        bad("query is a number", br#"{"query": 5}"#),
        bad("query is null", br#"{"query": null}"#),
        bad("query is an object", br#"{"query": {"a": 1}}"#),
        bad("query is an array", br#"{"query": ["{ invocations { totalCount } }"]}"#),
        bad("variables is a string", br#"{"query": "{ invocations { totalCount } }", "variables": "x"}"#),
        bad("variables is an array", br#"{"query": "{ invocations { totalCount } }", "variables": [1]}"#),
        bad("operationName is a number", br#"{"query": "{ invocations { totalCount } }", "operationName": 5}"#),
        bad("extensions is a string", br#"{"query": "{ invocations { totalCount } }", "extensions": "x"}"#),
        bad("duplicate query keys", br#"{"query": "{ invocations { totalCount } }", "query": "{ x }"}"#),
        bad("trailing garbage", format!("{ok} trailing").as_bytes()),
        bad("single quotes", b"{'query': '{ invocations { totalCount } }'}"),
        bad("invalid UTF-8 inside a string", &invalid_utf8),
        bad("invalid UTF-8 outside strings", b"\xff\xfe{}"),
        bad("a NUL byte outside strings", b"{\"query\": \"{ __typename }\"\x00}"),
        bad("100k nested arrays", "[".repeat(100_000).as_bytes()),
        bad("100k nested objects", "{\"a\":".repeat(100_000).as_bytes()),
        bad(
            "10k nested arrays in variables",
            format!(r#"{{"query": "{{ __typename }}", "variables": {{"v": {}}}}}"#, "[".repeat(10_000)).as_bytes(),
        ),
        fails(
            "a batch over the limit",
            Req::json(&Value::Array(vec![json!({ "query": "{ __typename }" }); 11])),
            400,
            "BAD_REQUEST",
            "batch",
        ),
        fails("no query at all", Req::raw(Some("application/json"), "{}"), 400, "BAD_REQUEST", "no query"),
        fails(
            "no query at all (legacy)",
            Req::raw(Some("application/json"), "{}").legacy(),
            400,
            "BAD_REQUEST",
            "no query",
        ),
        fails(
            "a blank query",
            Req::raw(Some("application/json"), r#"{"query": " \n\t "}"#),
            400,
            "BAD_REQUEST",
            "no query",
        ),
        fails(
            "only a comment",
            Req::raw(Some("application/json"), r##"{"query": "# nothing"}"##),
            400,
            "GRAPHQL_PARSE_FAILED",
            "",
        ),
        fails(
            "persistedQuery of the wrong shape",
            Req::json(&json!({ "query": "{ __typename }", "extensions": { "persistedQuery": "x" } })),
            400,
            "BAD_REQUEST",
            "persistedQuery",
        ),
        fails(
            "persistedQuery hash that does not match",
            Req::json(&json!({
                "query": "{ __typename }",
                "extensions": { "persistedQuery": { "version": 1, "sha256Hash": "'; DROP TABLE invocations; --" } }
            })),
            400,
            "BAD_REQUEST",
            "sha256Hash",
        ),
        // Content types on /graphql.
        fails("/graphql as text/plain", Req::raw(Some("text/plain"), ok), 415, "BAD_REQUEST", "application/json"),
        fails(
            "/graphql as a form",
            Req::raw(Some("application/x-www-form-urlencoded"), "query=%7B__typename%7D"),
            415,
            "BAD_REQUEST",
            "application/json",
        ),
        fails(
            "/graphql as multipart",
            Req::raw(
                Some("multipart/form-data; boundary=X"),
                "--X\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n\
                 {\"query\":\"{ __typename }\"}\r\n--X--\r\n",
            ),
            415,
            "BAD_REQUEST",
            "application/json",
        ),
        fails("/graphql without a content type", Req::raw(None, ok), 415, "BAD_REQUEST", "application/json"),
        fails(
            "/graphql as application/graphql",
            Req::raw(Some("application/graphql"), "{ __typename }"),
            415,
            "BAD_REQUEST",
            "application/json",
        ),
        fails(
            "/graphql as application/jsonx",
            Req::raw(Some("application/jsonx"), ok),
            415,
            "BAD_REQUEST",
            "application/json",
        ),
        fails(
            "/graphql with a garbage content type",
            Req::raw(Some(";;;="), ok),
            415,
            "BAD_REQUEST",
            "application/json",
        ),
        // GET.
        fails(
            "GET with variables that are not JSON",
            Req::get(&[("query", "{ __typename }"), ("variables", "{nope")]),
            400,
            "BAD_REQUEST",
            "invalid GraphQL request",
        ),
        fails(
            "GET with a mutation",
            Req::get(&[("query", "mutation { ingest(batch: []) { invocations { inserted } } }")]),
            405,
            "METHOD_NOT_ALLOWED",
            "POST",
        ),
        fails(
            "GET with 10k-deep nesting",
            Req::get(&[("query", &deep_selection(10_000))]),
            400,
            "GRAPHQL_VALIDATION_FAILED",
            "nests",
        ),
        // Content types on /ingest.
        fails(
            "/ingest as application/json",
            Req::ingest(Some("application/json"), ndjson_line.clone()),
            415,
            "BAD_REQUEST",
            "NDJSON",
        ),
        fails(
            "/ingest as text/plain",
            Req::ingest(Some("text/plain"), ndjson_line.clone()),
            415,
            "BAD_REQUEST",
            "NDJSON",
        ),
        fails(
            "/ingest as a form",
            Req::ingest(Some("application/x-www-form-urlencoded"), "sourceFunction=f"),
            415,
            "BAD_REQUEST",
            "NDJSON",
        ),
        fails(
            "/ingest as multipart",
            Req::ingest(Some("multipart/form-data; boundary=X"), format!("--X\r\n\r\n{ndjson_line}--X--\r\n")),
            415,
            "BAD_REQUEST",
            "NDJSON",
        ),
        fails("/ingest without a content type", Req::ingest(None, ndjson_line.clone()), 415, "BAD_REQUEST", "NDJSON"),
    ];
    run_cases(&app, cases).await;
}

// ---------------------------------------------------------------------------------------------
// Documents: size, depth, aliases, fragments, operations
// ---------------------------------------------------------------------------------------------

const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_abusive_documents() {
    let app = TestApp::spawn_with(|c| c.ingest.max_request_bytes = MAX_REQUEST_BYTES).await;
    let long_name = "a".repeat(100_000);
    let many_operations: String = (0..2_000).map(|i| format!("query Op{i} {{ __typename }}\n")).collect();
    let invalid = |name: &str, query: &str, says: &'static str| {
        fails(name, Req::gql(query, json!({})), 400, "GRAPHQL_VALIDATION_FAILED", says)
    };
    let eq =
        |text: &str| format!("{{ invocations(filter: {{ sourceFunction: {{ eq: \"{text}\" }} }}) {{ totalCount }} }}");
    let cases = vec![
        // Size: under and over the document cap (--max-query-bytes, 128 KiB by default) and the
        // request cap (4 MiB here).
        answers_with(
            "100 kB document under the caps",
            Req::gql(&padded_query(100_000), json!({})),
            json!({ "invocations": { "totalCount": 0, "nodes": [] } }),
        ),
        invalid("100 kB of repeated fields under the caps", &repeated_fields(100_000), "fields"),
        answers_with(
            "100 kB document of whitespace",
            Req::gql(&format!("{NORMAL}{}", " ".repeat(100_000)), json!({})),
            json!({ "invocations": { "totalCount": 0, "nodes": [] } }),
        ),
        invalid("3 MB document under the request cap", &padded_query(3_000_000), "max-query-bytes"),
        invalid("3 MB of repeated fields under the request cap", &repeated_fields(3_000_000), "max-query-bytes"),
        invalid("3 MB string literal under the request cap", &eq(&"x".repeat(3_000_000)), "max-query-bytes"),
        fails(
            "3 MB variable under the request cap",
            Req::gql(
                "query($s: String) { invocations(filter: { sourceFunction: { eq: $s } }) { totalCount } }",
                json!({ "s": "x".repeat(3_000_000) }),
            ),
            200,
            "BAD_USER_INPUT",
            "characters",
        ),
        fails(
            "3 MB persisted query under the request cap",
            Req::json(&json!({ "query": padded_query(3_000_000), "extensions": { "persistedQuery": { "version": 1,
                "sha256Hash": "0000000000000000000000000000000000000000000000000000000000000000" } } })),
            400,
            "BAD_REQUEST",
            "sha256Hash",
        ),
        fails(
            "5 MB document over the request cap",
            Req::gql(&padded_query(5_000_000), json!({})),
            413,
            "PAYLOAD_TOO_LARGE",
            "too large",
        ),
        fails(
            "5 MB variable over the request cap",
            Req::gql(
                "query($s: String) { invocations(filter: { sourceFunction: { eq: $s } }) { totalCount } }",
                json!({ "s": "x".repeat(5_000_000) }),
            ),
            413,
            "PAYLOAD_TOO_LARGE",
            "too large",
        ),
        fails(
            "5 MB of whitespace over the request cap",
            Req::raw(Some("application/json"), " ".repeat(5_000_000)),
            413,
            "PAYLOAD_TOO_LARGE",
            "too large",
        ),
        fails(
            "5 MB over the request cap (legacy)",
            Req::gql(&padded_query(5_000_000), json!({})).legacy(),
            413,
            "PAYLOAD_TOO_LARGE",
            "too large",
        ),
        // Long names.
        invalid("100k-character field name", &format!("{{ {long_name} }}"), "Unknown field"),
        invalid(
            "100k-character argument name",
            &format!("{{ invocations({long_name}: 1) {{ totalCount }} }}"),
            "Unknown argument",
        ),
        invalid("100k-character fragment name", &format!("{{ ...{long_name} }}"), "Unknown fragment"),
        fails(
            "100k-character variable name",
            Req::gql(&format!("query(${long_name}: Int) {{ __typename }}"), json!({})),
            400,
            "BAD_USER_INPUT",
            "",
        ),
        answers("100k-character alias", Req::gql(&format!("{{ {long_name}: __typename }}"), json!({}))),
        answers("100k-character operation name", Req::gql(&format!("query {long_name} {{ __typename }}"), json!({}))),
        // Depth.
        invalid("100k-deep selections (over the document cap)", &deep_selection(100_000), "max-query-bytes"),
        invalid("60k-deep selections", &deep_selection(60_000), "nests"),
        invalid("40k-deep selections, closed", &format!("{}{}", deep_selection(40_000), "}".repeat(40_000)), "nests"),
        invalid(
            "100k-deep list value",
            &format!("{{ invocations(filter: {{ id: {{ in: {} }} }}) {{ totalCount }} }}", "[".repeat(100_000)),
            "nests",
        ),
        invalid(
            "15k-deep object value",
            &format!("{{ invocations(filter: {}) {{ totalCount }} }}", "{ not: ".repeat(15_000)),
            "nests",
        ),
        invalid("100k-deep parentheses", &format!("{{ invocations{} }}", "(".repeat(100_000)), "nests"),
        invalid("60k-deep selections after a comment", &format!("# {{{{{{\n{}", deep_selection(60_000)), "nests"),
        invalid(
            "60k-deep selections after a string",
            &format!("{{ a(s: \"}}}}\\\"}}\") {}", deep_selection(60_000)),
            "nests",
        ),
        // A lone `"` in a block string must not make the bracket check believe that the rest of
        // the document is inside a string (500 nested lists used to overflow the stack and
        // abort the server).
        invalid(
            "500-deep list after a block string with a lone quote",
            &format!("{{ a(s: \"\"\" \" \"\"\", t: {}) }}", nested_arrays(500)),
            "nests",
        ),
        invalid(
            "10k-deep selections after a block string with a lone quote",
            &format!("{{ a(s: \"\"\" \" \"\"\") {}{} }}", deep_selection(10_000), "}".repeat(10_000)),
            "nests",
        ),
        invalid(
            "500-deep list after an escaped block-string quote",
            &format!("{{ a(s: \"\"\" \\\"\"\" \" \"\"\", t: {}) }}", nested_arrays(500)),
            "nests",
        ),
        invalid(
            "500-deep list after an unterminated string",
            &format!("{{ a(s: \"\n{}) }}", nested_arrays(500)),
            "nests",
        ),
        invalid(
            "fields nested deeper than --max-depth",
            &format!(
                "{{ __schema {{ types {{ fields {{ type {}name{} }} }} }} }}",
                "{ ofType ".repeat(20),
                " }".repeat(20)
            ),
            "deeper than",
        ),
        answers(
            "20-deep `not` filter",
            Req::gql(
                &format!("{{ invocations(filter: {}{{}}{}) {{ totalCount }} }}", "{ not: ".repeat(20), " }".repeat(20)),
                json!({}),
            ),
        ),
        fails(
            "60-deep `not` filter",
            Req::gql(
                &format!("{{ invocations(filter: {}{{}}{}) {{ totalCount }} }}", "{ not: ".repeat(60), " }".repeat(60)),
                json!({}),
            ),
            200,
            "BAD_USER_INPUT",
            "at most 25",
        ),
        // Aliases and fragments.
        invalid("1000 aliases", &alias_bomb(1_000), "aliases"),
        invalid("5000 aliases", &alias_bomb(5_000), "fields"),
        invalid(
            "40 aliased connections",
            &format!(
                "{{ {} }}",
                (0..40).map(|i| format!("c{i}: invocations(first: 100) {{ totalCount }}")).collect::<String>()
            ),
            "aliases",
        ),
        invalid(
            "25 root fields through fragments",
            &format!(
                "{{ ...R }} fragment R on Query {{ {} }}",
                (0..25).map(|i| format!("c{i}: invocations {{ totalCount }} ")).collect::<String>()
            ),
            "root fields",
        ),
        invalid("fragment bomb (2^40 fields)", &fragment_bomb(40), "fields"),
        invalid(
            "wide fragment bomb (10^8 fields)",
            &{
                let mut doc = String::from("query { ...W8 }\nfragment W0 on Query { __typename }\n");
                for i in 1..=8 {
                    doc.push_str(&format!("fragment W{i} on Query {{ {} }}\n", format!("...W{} ", i - 1).repeat(10)));
                }
                doc
            },
            "fields",
        ),
        invalid(
            "circular fragments",
            "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
            "recursion depth",
        ),
        invalid(
            "a fragment spreading itself",
            "query { ...A } fragment A on Query { __typename ...A }",
            "recursion depth",
        ),
        invalid(
            "circular fragments through connections",
            "query { invocations { nodes { ...I } } } fragment I on Invocation { eventExecutions { invocation { ...I } } }",
            "recursion depth",
        ),
        invalid("an unknown fragment", "query { ...Nope }", "Unknown fragment"),
        invalid("a fragment on an unknown type", "query { ...F } fragment F on Nope { __typename }", "Nope"),
        // Operations.
        fails(
            "2000 operations, no operationName",
            Req::gql(&many_operations, json!({})),
            400,
            "BAD_REQUEST",
            "operation",
        ),
        fails(
            "two operations, no operationName",
            Req::gql("query A { __typename } query B { __typename }", json!({})),
            400,
            "BAD_REQUEST",
            "operation",
        ),
        fails(
            "unknown operationName",
            Req::json(&json!({ "query": "query A { __typename } query B { __typename }", "operationName": "C" })),
            400,
            "BAD_REQUEST",
            "C",
        ),
        fails(
            "operationName with SQL in it",
            Req::json(&json!({ "query": "query A { __typename }", "operationName": "'; DROP TABLE invocations; --" })),
            400,
            "BAD_REQUEST",
            "operation",
        ),
        fails(
            "operationName for an anonymous operation",
            Req::json(&json!({ "query": "{ __typename }", "operationName": "A" })),
            400,
            "BAD_REQUEST",
            "operation",
        ),
        fails(
            "unknown operationName (legacy)",
            Req::json(&json!({ "query": "query A { __typename }", "operationName": "B" })).legacy(),
            200,
            "BAD_REQUEST",
            "operation",
        ),
        fails(
            "anonymous and named operations together",
            Req::gql("{ __typename } query A { __typename }", json!({})),
            400,
            "GRAPHQL_PARSE_FAILED",
            "",
        ),
        fails(
            "a subscription over POST",
            Req::gql("subscription { __typename }", json!({})),
            400,
            "GRAPHQL_VALIDATION_FAILED",
            "",
        ),
        fails("syntax error", Req::gql("{ invocations { totalCount } ", json!({})), 400, "GRAPHQL_PARSE_FAILED", ""),
        fails(
            "a NUL byte in the document",
            Req::gql("{ __typename \u{0} }", json!({})),
            400,
            "GRAPHQL_PARSE_FAILED",
            "",
        ),
    ];
    run_cases(&app, cases).await;
}

// ---------------------------------------------------------------------------------------------
// Argument values
// ---------------------------------------------------------------------------------------------

/// One invocation with an event, a job and a log line, so nested lists resolve.
fn small_tree() -> (Tree, Uuid) {
    let i = invocation(at(0));
    let e = event(&i, "move.pickup", at(1));
    let j = job(&e, "sendNotification", at(2));
    let l = log(&j, LogLevel::Info, "hello", at(3));
    let id = i.id;
    (Tree { invocation: Some(i), events: vec![e], jobs: vec![j], logs: vec![l] }, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_argument_values() {
    let app = TestApp::spawn().await;
    let (tree, id) = small_tree();
    app.insert(vec![tree]).await;
    let id = id.to_string();
    // The cursor of the first row of `connection(args)`.
    let first_cursor = |connection: &str, args: &str| {
        let (app, connection) = (&app, connection.to_owned());
        let query = format!("{{ list: {connection}(first: 1{args}) {{ edges {{ cursor }} }} }}");
        async move { app.data(&query, json!({})).await["list"]["edges"][0]["cursor"].as_str().unwrap().to_owned() }
    };
    let by_function = first_cursor("invocations", ", orderBy: { field: SOURCE_FUNCTION, direction: ASC }").await;
    let by_duration = first_cursor("invocations", ", orderBy: { field: TOTAL_DURATION_MS }").await;
    let job_cursor = first_cursor("jobExecutions", "").await;

    // Literal arguments the schema refuses before anything runs.
    let literal = |name: &str, query: String, says: &'static str| {
        fails(name, Req::gql(&query, json!({})), 400, "BAD_USER_INPUT", says)
    };
    // Variables the schema refuses before anything runs.
    let variable = |name: &str, query: &str, variables: Value, says: &'static str| {
        fails(name, Req::gql(query, variables), 400, "BAD_USER_INPUT", says)
    };
    // Custom scalars (UUID, DateTime) and input objects are parsed when their field runs: the
    // error has a path, so the status is 200 whatever the media type.
    let scalar = |name: &str, query: String, says: &'static str| {
        fails(name, Req::gql(&query, json!({})), 200, "BAD_USER_INPUT", says)
    };
    let scalar_with = |name: &str, query: &str, variables: Value, says: &'static str| {
        fails(name, Req::gql(query, variables), 200, "BAD_USER_INPUT", says)
    };
    // Values a resolver refuses (the error has a path, so the status stays 200).
    let refused = |name: &str, query: String, says: &'static str| {
        fails(name, Req::gql(&query, json!({})), 200, "BAD_USER_INPUT", says)
    };
    let refused_with = |name: &str, query: &str, variables: Value, says: &'static str| {
        fails(name, Req::gql(query, variables), 200, "BAD_USER_INPUT", says)
    };
    // `{ invocations(ARGS) { totalCount } }`.
    let count = |args: &str| format!("{{ invocations({args}) {{ totalCount }} }}");
    let after = |c: &str| count(&format!("after: {c:?}"));
    let created_gt = |value: &str| count(&format!("filter: {{ createdAt: {{ gt: {value} }} }}"));
    let nested = |list: &str| format!("{{ invocation(id: {id:?}) {{ {list} {{ id }} }} }}");
    let by_id = "query($id: UUID!) { invocation(id: $id) { id } }";
    let first_n = "query($n: Int) { invocations(first: $n) { totalCount } }";
    let by_time = "query($t: DateTime) { invocations(filter: { createdAt: { gt: $t } }) { totalCount } }";
    let window = |from: &str, to: &str| {
        format!("{{ overview(window: {{ from: {from:?}, to: {to:?} }}) {{ totals {{ invocations }} }} }}")
    };
    let cases = vec![
        // UUIDs.
        scalar("not a UUID", "{ invocation(id: \"not-a-uuid\") { id } }".into(), "UUID"),
        scalar("SQL as a UUID", "{ invocation(id: \"' OR 1=1 --\") { id } }".into(), "UUID"),
        scalar("empty UUID", "{ invocation(id: \"\") { id } }".into(), "UUID"),
        scalar("a number as a UUID", "{ invocation(id: 5) { id } }".into(), "UUID"),
        literal("null as a UUID!", "{ invocation(id: null) { id } }".into(), "UUID"),
        scalar("UUID one digit short", format!("{{ invocation(id: {:?}) {{ id }} }}", &id[..35]), "UUID"),
        scalar("bad UUID in an id filter", count("filter: { id: { eq: \"nope\" } }"), "UUID"),
        scalar("bad UUID in an in list", count(&format!("filter: {{ id: {{ in: [{id:?}, \"nope\"] }} }}")), "UUID"),
        scalar_with("not a UUID (variable)", by_id, json!({ "id": "not-a-uuid" }), "UUID"),
        scalar_with("10k-character UUID (variable)", by_id, json!({ "id": "a".repeat(10_000) }), "UUID"),
        scalar_with("object as a UUID (variable)", by_id, json!({ "id": { "a": 1 } }), "UUID"),
        scalar_with("missing UUID! (variable)", by_id, json!({}), "id"),
        // Cursors.
        refused("cursor that is not base64", after("!!!not base64!!!"), "cursor"),
        refused("cursor of random base64", after("q83vEjRWeJq83vEjRWeJ"), "cursor"),
        refused("cursor of base64 garbage", after(&URL_SAFE_NO_PAD.encode([0xff, 0x00, 0xfe, 0x80, 0x7f])), "cursor"),
        refused("cursor of a JSON string", after(&cursor(&json!("hello"))), "cursor"),
        refused("cursor missing fields", after(&cursor(&json!({ "k": "createdAt" }))), "cursor"),
        refused(
            "cursor with a number for a time",
            after(&cursor(&json!({ "k": "createdAt", "v": 5, "id": id }))),
            "cursor",
        ),
        refused(
            "cursor with an impossible date",
            after(&cursor(&json!({ "k": "createdAt", "v": "2026-13-45T00:00:00Z", "id": id }))),
            "cursor",
        ),
        refused(
            "cursor with a bad id",
            after(&cursor(
                &json!({ "k": "createdAt", "v": "2026-03-01T12:00:00Z", "id": "'; DROP TABLE invocations; --" }),
            )),
            "cursor",
        ),
        refused(
            "cursor with an unknown order",
            after(&cursor(&json!({ "k": "'; DROP TABLE invocations; --", "v": 1, "id": id }))),
            "ordering by",
        ),
        refused("cursor from another ordering", after(&by_function), "ordering by"),
        refused(
            "before-cursor from another ordering",
            format!("{{ invocations(last: 1, before: {by_duration:?}) {{ totalCount }} }}"),
            "ordering by",
        ),
        refused(
            "cursor from another connection and ordering",
            format!("{{ eventExecutions(after: {by_function:?}, orderBy: {{ field: EVENT_NAME }}) {{ totalCount }} }}"),
            "ordering by",
        ),
        refused(
            "cursor with a fractional duration",
            format!(
                "{{ invocations(orderBy: {{ field: TOTAL_DURATION_MS }}, after: {:?}) {{ totalCount }} }}",
                cursor(&json!({ "k": "totalDurationMs", "v": 1e300, "id": id }))
            ),
            "cursor",
        ),
        refused_with(
            "1 MB cursor (variable)",
            "query($c: String) { invocations(after: $c) { totalCount } }",
            json!({ "c": "A".repeat(1_000_000) }),
            "cursor",
        ),
        answers(
            "cursor with the largest 64-bit duration",
            Req::gql(
                &format!(
                    "{{ invocations(orderBy: {{ field: TOTAL_DURATION_MS }}, after: {:?}) {{ totalCount }} }}",
                    cursor(&json!({ "k": "totalDurationMs", "v": i64::MAX, "id": id }))
                ),
                json!({}),
            ),
        ),
        // A cursor is a position in an ordering; one from another connection with the same
        // ordering is a valid position there too.
        answers_with(
            "cursor from another connection, same ordering",
            Req::gql(&after(&job_cursor), json!({})),
            json!({ "invocations": { "totalCount": 1 } }),
        ),
        // Enums.
        literal("lowercase enum", count("filter: { status: { eq: completed } }"), "status"),
        literal("unknown enum", count("filter: { status: { eq: DONE } }"), "status"),
        // async-graphql accepts a string where an enum literal is expected (lenient, and harmless).
        answers_with(
            "enum as a string",
            Req::gql(&count("filter: { status: { eq: \"COMPLETED\" } }"), json!({})),
            json!({ "invocations": { "totalCount": 1 } }),
        ),
        literal("enum as a number", count("filter: { status: { in: [1] } }"), "status"),
        literal("lowercase order field", count("orderBy: { field: createdAt }"), "orderBy"),
        literal("unknown direction", count("orderBy: { direction: DOWN }"), "orderBy"),
        literal("lowercase log level", "{ jobLogs(filter: { level: { gte: warn } }) { totalCount } }".into(), "level"),
        variable(
            "lowercase enum (variable)",
            "query($s: InvocationStatus) { invocations(filter: { status: { eq: $s } }) { totalCount } }",
            json!({ "s": "completed" }),
            "s",
        ),
        variable(
            "SQL as an enum (variable)",
            "query($s: [InvocationStatus!]) { invocations(filter: { status: { in: $s } }) { totalCount } }",
            json!({ "s": ["COMPLETED", "'; DROP TABLE invocations; --"] }),
            "s",
        ),
        // Dates.
        scalar("month 13", created_gt("\"2026-13-45\""), "2026-13-45"),
        scalar("yesterday", created_gt("\"yesterday\""), "yesterday"),
        scalar("a number as a date", created_gt("1700000000"), "DateTime"),
        scalar("a date without a time", created_gt("\"2026-03-01\""), "RFC 3339"),
        scalar("hour 25", created_gt("\"2026-03-01T25:00:00Z\""), "RFC 3339"),
        scalar("no offset", created_gt("\"2026-03-01T12:00:00\""), "RFC 3339"),
        scalar_with("month 13 (variable)", by_time, json!({ "t": "2026-13-45T00:00:00Z" }), "DateTime"),
        scalar_with("yesterday (variable)", by_time, json!({ "t": "yesterday" }), "DateTime"),
        scalar_with("a number as a date (variable)", by_time, json!({ "t": 1_700_000_000 }), "DateTime"),
        scalar_with("SQL as a date (variable)", by_time, json!({ "t": "2026-03-01T00:00:00Z' OR 1=1 --" }), "DateTime"),
        scalar("analytics window of yesterday", window("yesterday", "2026-03-01T00:00:00Z"), "yesterday"),
        refused("analytics window backwards", window("2026-03-02T00:00:00Z", "2026-03-01T00:00:00Z"), "before"),
        refused("analytics window of 1000 years", window("1026-03-01T00:00:00Z", "2026-03-01T00:00:00Z"), "days"),
        answers("window in year 0", Req::gql(&window("0000-01-01T00:00:00Z", "0000-01-02T00:00:00Z"), json!({}))),
        answers("window in year 9999", Req::gql(&window("9999-12-30T00:00:00Z", "9999-12-31T23:59:59Z"), json!({}))),
        answers(
            "hourly metrics at the end of year 9999",
            Req::gql(
                "query($w: TimeWindow!) { metrics(window: $w) { bucketStart } }",
                json!({ "w": { "from": "9999-12-31T00:00:00Z", "to": "9999-12-31T23:59:59.999999Z" } }),
            ),
        ),
        // Integers.
        literal("first: 2^40", "{ invocations(first: 1099511627776) { totalCount } }".into(), "Int"),
        literal("first: 1.5", "{ invocations(first: 1.5) { totalCount } }".into(), "first"),
        literal("first: \"10\"", "{ invocations(first: \"10\") { totalCount } }".into(), "first"),
        scalar("2^40 in an int filter", count("filter: { totalDurationMs: { gt: 1099511627776 } }"), "Int"),
        literal("nested limit: 2^40", nested("eventExecutions(limit: 1099511627776)"), "Int"),
        variable("first: 2^40 (variable)", first_n, json!({ "n": 1_099_511_627_776_i64 }), "n"),
        variable("first: 1e300 (variable)", first_n, json!({ "n": 1e300 }), "n"),
        variable("first: -2^63 (variable)", first_n, json!({ "n": i64::MIN }), "n"),
        refused("first: -1", "{ invocations(first: -1) { totalCount } }".into(), "first"),
        refused("first over the maximum", "{ invocations(first: 101) { totalCount } }".into(), "first"),
        refused("last: -2^31", "{ invocations(last: -2147483648) { totalCount } }".into(), "last"),
        refused("first and last together", "{ invocations(first: 1, last: 1) { totalCount } }".into(), "first"),
        refused("nested limit: -1", nested("eventExecutions(limit: -1)"), "limit"),
        refused("nested limit over the maximum", nested("jobExecutions(limit: 1001)"), "limit"),
        refused(
            "analytics limit: -1",
            "{ errorGroups(window: { from: \"2026-03-01T00:00:00Z\", to: \"2026-03-02T00:00:00Z\" }, limit: -1) \
             { count } }"
                .into(),
            "limit",
        ),
        fails(
            "nested limit: 2^31-1 costs too much",
            Req::gql(&nested("eventExecutions(limit: 2147483647)"), json!({})),
            400,
            "GRAPHQL_VALIDATION_FAILED",
            "costs more",
        ),
        refused_with("first: 1000 (variable)", first_n, json!({ "n": 1000 }), "first"),
    ];
    run_cases(&app, cases).await;
}

/// Oversized filter values: text over the filter limit and lists over the list limit are
/// refused as BAD_USER_INPUT (before a database refuses the pattern or the bind parameters with
/// an internal error); values at the limits are answered with the right rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_filter_values() {
    let app = TestApp::spawn().await;
    let (tree, id) = small_tree();
    app.insert(vec![tree]).await;
    let uuids = |n: usize| -> Vec<String> {
        std::iter::once(id.to_string()).chain((1..n).map(|_| Uuid::new_v4().to_string())).collect()
    };
    let names = |n: usize| -> Vec<String> { (0..n).map(|i| format!("f{i}")).collect() };
    let text = |op: &str| {
        format!("query($s: String) {{ invocations(filter: {{ sourceFunction: {{ {op}: $s }} }}) {{ totalCount }} }}")
    };
    let list = |op: &str| {
        format!("query($s: [String!]) {{ jobExecutions(filter: {{ jobName: {{ {op}: $s }} }}) {{ totalCount }} }}")
    };
    let ids = "query($ids: [UUID!]) { invocations(filter: { id: { in: $ids } }) { totalCount } }";
    let overview = "query($s: String) { overview(window: { from: \"2026-03-01T00:00:00Z\", to: \"2026-03-02T00:00:00Z\" }, \
                    sourceFunction: $s) { totals { invocations } } }";
    let big = "x".repeat(1_000_000);
    let refused = |name: &str, query: &str, variables: Value, says: &'static str| {
        fails(name, Req::gql(query, variables), 200, "BAD_USER_INPUT", says)
    };
    let one = |connection: &str| json!({ connection: { "totalCount": 1 } });
    let none = |connection: &str| json!({ connection: { "totalCount": 0 } });
    let cases = vec![
        refused("1 MB string in contains", &text("contains"), json!({ "s": big }), "characters"),
        refused("1 MB string in startsWith", &text("startsWith"), json!({ "s": big }), "characters"),
        refused("1 MB string in eq", &text("eq"), json!({ "s": big }), "characters"),
        refused("1 MB string in ne", &text("ne"), json!({ "s": big }), "characters"),
        refused("1 MB string in an in list", &list("in"), json!({ "s": [big] }), "characters"),
        refused("1 MB sourceFunction in overview", overview, json!({ "s": big }), "characters"),
        refused("100k ids in an in list", ids, json!({ "ids": uuids(100_000) }), "1000"),
        refused("100k strings in an in list", &list("in"), json!({ "s": names(100_000) }), "1000"),
        refused("100k strings in a notIn list", &list("notIn"), json!({ "s": names(100_000) }), "1000"),
        // At the limits.
        answers_with(
            "1000 ids, one stored, in an in list",
            Req::gql(ids, json!({ "ids": uuids(1_000) })),
            one("invocations"),
        ),
        answers_with(
            "1000 strings in a notIn list",
            Req::gql(&list("notIn"), json!({ "s": names(1_000) })),
            one("jobExecutions"),
        ),
        answers_with(
            "1000 `%` in contains",
            Req::gql(&text("contains"), json!({ "s": "%".repeat(1_000) })),
            none("invocations"),
        ),
        answers_with(
            "1000 `_` in startsWith",
            Req::gql(&text("startsWith"), json!({ "s": "_".repeat(1_000) })),
            none("invocations"),
        ),
    ];
    run_cases(&app, cases).await;
}

/// Lists of values (integers, statuses, levels, ids) could carry more values than a statement
/// can bind (SQLite 32766, PostgreSQL 65535): they are refused as BAD_USER_INPUT or answered,
/// never a failure in the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_value_lists() {
    let app = TestApp::spawn().await;
    let (tree, _) = small_tree();
    app.insert(vec![tree]).await;
    let invocations = "query($f: InvocationFilter) { invocations(filter: $f) { totalCount } }";
    let one = json!({ "invocations": { "totalCount": 1 } });
    let cases = vec![
        answers_or_refuses(
            "100k integers in an in list",
            Req::gql(invocations, json!({ "f": { "totalDurationMs": { "in": (0..100_000).collect::<Vec<i32>>() } } })),
            one.clone(),
        ),
        answers_or_refuses(
            "100k statuses in an in list",
            Req::gql(invocations, json!({ "f": { "status": { "in": vec!["COMPLETED"; 100_000] } } })),
            one.clone(),
        ),
        answers_or_refuses(
            "100k statuses in a notIn list",
            Req::gql(invocations, json!({ "f": { "status": { "notIn": vec!["FAILED"; 100_000] } } })),
            one.clone(),
        ),
        answers_or_refuses(
            "100k levels in an in list",
            Req::gql(
                "query($f: JobLogFilter) { jobLogs(filter: $f) { totalCount } }",
                json!({ "f": { "level": { "in": vec!["INFO"; 100_000] } } }),
            ),
            json!({ "jobLogs": { "totalCount": 1 } }),
        ),
        answers_or_refuses(
            "70 in lists of 1000 ids under or",
            Req::gql(
                invocations,
                json!({ "f": { "or": vec![json!({ "id": { "in": (0..1_000).map(|_| Uuid::new_v4()).collect::<Vec<_>>() } }); 70] } }),
            ),
            json!({ "invocations": { "totalCount": 0 } }),
        ),
    ];
    run_cases(&app, cases).await;
}

/// SeaQuery renders a list of n conditions as a chain n binary expressions deep, recursively:
/// unbounded, about 1000 filters under `or`/`and` (a 40 kB request) overflowed the worker's
/// stack and aborted the server. They are refused as BAD_USER_INPUT (or answered).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_or_and_lists_do_not_crash_the_server() {
    let app = TestApp::spawn().await;
    let (tree, id) = small_tree();
    app.insert(vec![tree]).await;
    let invocations = "query($f: InvocationFilter) { invocations(filter: $f) { totalCount } }";
    let filters = |n: usize, op: &str| -> Vec<Value> {
        std::iter::once(json!({ "id": { "eq": id } }))
            .chain((1..n).map(|i| json!({ "sourceFunction": { op: format!("f{i}") } })))
            .collect()
    };
    let cases = vec![
        answers_or_refuses(
            "1000 filters under or",
            Req::gql(invocations, json!({ "f": { "or": filters(1_000, "eq") } })),
            json!({ "invocations": { "totalCount": 1 } }),
        ),
        answers_or_refuses(
            "1000 filters under and",
            Req::gql(invocations, json!({ "f": { "and": filters(1_000, "ne") } })),
            json!({ "invocations": { "totalCount": 1 } }),
        ),
        answers_or_refuses(
            "40k filters under or",
            Req::gql(invocations, json!({ "f": { "or": filters(40_000, "eq") } })),
            json!({ "invocations": { "totalCount": 1 } }),
        ),
    ];
    run_cases(&app, cases).await;
}

// ---------------------------------------------------------------------------------------------
// SQL-looking text in every text filter
// ---------------------------------------------------------------------------------------------

/// Texts stored in (and searched for in) every text column: SQL, LIKE wildcards, the LIKE escape
/// character, quotes, non-ASCII. `plain` is an ordinary row.
const TEXTS: [(&str, &str); 10] = [
    ("plain", "plain"),
    ("injection", "'; DROP TABLE invocations; --"),
    ("or", "\" OR 1=1 --"),
    ("percent", "%"),
    ("underscore", "_"),
    ("backslash", "\\"),
    ("escaped percent", "\\%"),
    ("quote", "'"),
    ("emoji", "🔥💥"),
    ("brackets", "[a-z]*"),
];

/// Every text filter: (connection, filter field).
const TEXT_FILTERS: [(&str, &str); 11] = [
    ("invocations", "sourceFunction"),
    ("invocations", "sourceSystem"),
    ("invocations", "sourceUserEmail"),
    ("eventExecutions", "eventName"),
    ("eventExecutions", "detectionError"),
    ("eventExecutions", "handlerError"),
    ("jobExecutions", "jobName"),
    ("jobExecutions", "jobFunctionName"),
    ("jobExecutions", "errorMessage"),
    ("jobLogs", "message"),
    ("jobLogs", "source"),
];

/// What column `field` of the tree of text `text` holds.
fn stored(field: &str, text: &str) -> String {
    format!("{field}:{text}~")
}

/// A tree whose every text column holds `stored(column, text)`.
fn text_tree(minute: i64, text: &str) -> Tree {
    let v = |field: &str| stored(field, text);
    let i = invocations::Model {
        source_function: v("sourceFunction"),
        source_system: Some(v("sourceSystem")),
        source_user_email: Some(v("sourceUserEmail")),
        ..invocation(at(minute))
    };
    let e = event_executions::Model {
        detection_error: Some(v("detectionError")),
        handler_error: Some(v("handlerError")),
        ..event(&i, &v("eventName"), at(minute))
    };
    let j = job_executions::Model {
        job_function_name: Some(v("jobFunctionName")),
        error_message: Some(v("errorMessage")),
        ..job(&e, &v("jobName"), at(minute))
    };
    let l = job_logs::Model { source: Some(v("source")), ..log(&j, LogLevel::Info, &v("message"), at(minute)) };
    Tree { invocation: Some(i), events: vec![e], jobs: vec![j], logs: vec![l] }
}

/// The rows (by label) of a column whose values are `values` that each operation must return
/// for `probe`, computed by plain string comparison: what "matched literally" means.
fn oracle(values: &[(&str, String)], op: &str, probe: &str) -> Vec<String> {
    let (lower_probe, mut rows) = (probe.to_lowercase(), Vec::new());
    for (label, value) in values {
        let lower = value.to_lowercase();
        let hit = match op {
            "eq" | "in" => value == probe,
            "ne" | "notIn" => value != probe,
            "contains" => lower.contains(&lower_probe),
            "startsWith" => lower.starts_with(&lower_probe),
            other => panic!("no operation {other}"),
        };
        if hit {
            rows.push((*label).to_owned());
        }
    }
    rows.sort();
    rows
}

const OPS: [&str; 6] = ["eq", "ne", "in", "notIn", "contains", "startsWith"];

/// Runs every operation of every text filter with every probe, comparing with the oracle.
/// Returns the mismatches.
async fn check_text_filters(
    app: &TestApp,
    rows_by_id: &std::collections::HashMap<String, String>,
    probes: &[String],
) -> Vec<String> {
    let mut failures = Vec::new();
    for (connection, field) in TEXT_FILTERS.iter() {
        let values: Vec<(&str, String)> = TEXTS.iter().map(|(label, text)| (*label, stored(field, text))).collect();
        let filter_type = match *connection {
            "invocations" => "InvocationFilter",
            "eventExecutions" => "EventExecutionFilter",
            "jobExecutions" => "JobExecutionFilter",
            _ => "JobLogFilter",
        };
        // One request per probe: every operation as an alias.
        let query = format!(
            "query($f0: {t}, $f1: {t}, $f2: {t}, $f3: {t}, $f4: {t}, $f5: {t}) {{ {} }}",
            OPS.iter()
                .enumerate()
                .map(|(i, op)| format!("{op}: {connection}(filter: $f{i}, first: 100) {{ nodes {{ id }} }} "))
                .collect::<String>(),
            t = filter_type
        );
        for probe in probes {
            let mut variables = serde_json::Map::new();
            for (i, op) in OPS.iter().enumerate() {
                let value = match *op {
                    "in" | "notIn" => json!([probe]),
                    _ => json!(probe),
                };
                variables.insert(format!("f{i}"), json!({ *field: { *op: value } }));
            }
            let body = app.query(&query, Value::Object(variables)).await;
            if let Err(leak) = leaks(&body.to_string()) {
                failures.push(format!("{connection}.{field} {probe:?}: {leak}: {}", clip(&body.to_string())));
                continue;
            }
            if body.get("errors").is_some() {
                failures.push(format!("{connection}.{field} {probe:?}: errors {}", clip(&body["errors"].to_string())));
                continue;
            }
            for op in OPS {
                let mut actual: Vec<String> = body["data"][op]["nodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| {
                        rows_by_id.get(n["id"].as_str().unwrap()).cloned().unwrap_or_else(|| "<unknown row>".into())
                    })
                    .collect();
                actual.sort();
                let expected = oracle(&values, op, probe);
                if actual != expected {
                    let filter = format!("{connection}(filter: {{ {field}: {{ {op}: {probe:?} }} }})");
                    failures.push(format!("{filter}\n    expected {expected:?}\n    actual   {actual:?}"));
                }
            }
        }
    }
    failures
}

/// The probes for each column: every text alone, with the column's prefix, and stored exactly,
/// plus wildcard patterns that would match more if they were not escaped.
fn probes() -> Vec<String> {
    let mut probes = Vec::new();
    for (_, text) in TEXTS {
        probes.push(text.to_owned());
        probes.push(format!(":{text}~"));
    }
    probes.extend(
        ["%%", "%_%", "_%", "\\\\", "\\_", "'%", ":%", ":_~", "~", "' OR ''='", "%' OR 1=1 --", "DROP", "drop table"]
            .map(String::from),
    );
    probes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_looking_text_is_matched_literally() {
    let app = TestApp::spawn().await;
    let trees: Vec<Tree> = TEXTS.iter().enumerate().map(|(i, (_, text))| text_tree(i as i64, text)).collect();
    let mut rows_by_id = std::collections::HashMap::new();
    for (tree, (label, _)) in trees.iter().zip(TEXTS) {
        let ids = [tree.invocation.as_ref().unwrap().id, tree.events[0].id, tree.jobs[0].id, tree.logs[0].id];
        for id in ids {
            rows_by_id.insert(id.to_string(), label.to_owned());
        }
    }
    app.insert(trees).await;
    let rows = app.row_count().await;
    let n = TEXTS.len() as i64;
    assert_eq!(rows, RowCount { invocations: n, event_executions: n, job_executions: n, job_logs: n });

    // Each column's full stored values too, so `eq` and `in` have something to hit.
    let mut all_probes = probes();
    for (_, field) in TEXT_FILTERS {
        for (_, text) in TEXTS {
            all_probes.push(stored(field, text));
        }
    }
    all_probes.sort();
    all_probes.dedup();
    let failures = check_text_filters(&app, &rows_by_id, &all_probes).await;
    assert!(failures.is_empty(), "{} text filter(s) did not match literally:\n{}", failures.len(), failures.join("\n"));

    // Hostile text as inline literals, GraphQL-escaped, and in analytics arguments.
    let literal = app
        .data(
            r#"{ a: invocations(filter: { sourceFunction: { eq: "sourceFunction:'; DROP TABLE invocations; --~" } }) { totalCount }
                 b: invocations(filter: { sourceFunction: { contains: "\" OR 1=1 --" } }) { totalCount }
                 c: invocations(filter: { sourceFunction: { contains: "\\%" } }) { totalCount }
                 d: invocations(filter: { sourceFunction: { contains: "\u0025" } }) { totalCount }
                 e: invocations(filter: { sourceFunction: { startsWith: """sourceFunction:" OR 1=1 --""" } }) { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        literal,
        json!({ "a": { "totalCount": 1 }, "b": { "totalCount": 1 }, "c": { "totalCount": 1 }, "d": { "totalCount": 2 },
                "e": { "totalCount": 1 } })
    );
    app.rollup().await;
    let window = json!({ "from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z" });
    for (label, text) in TEXTS {
        let function = stored("sourceFunction", text);
        let job = stored("jobName", text);
        let data = app
            .data(
                "query($w: TimeWindow!, $f: String, $j: String, $p: String) {
                   exact: overview(window: $w, sourceFunction: $f) { totals { invocations } }
                   pattern: overview(window: $w, sourceFunction: $p) { totals { invocations } }
                   slow: slowestJobs(window: $w, jobName: $j) { jobName } }",
                json!({ "w": window, "f": function, "j": job, "p": text }),
            )
            .await;
        assert_eq!(data["exact"]["totals"]["invocations"], 1, "overview(sourceFunction: {function:?})");
        assert_eq!(data["pattern"]["totals"]["invocations"], 0, "overview(sourceFunction: {text:?}) [{label}]");
        assert_eq!(data["slow"], json!([{ "jobName": job }]), "slowestJobs(jobName: {job:?})");
    }

    // Every table is still there, with every row.
    assert_eq!(app.row_count().await, rows);
    still_serving(&app).await;
}

/// A NUL character in a text filter or a text argument: no stored text can hold one
/// (PostgreSQL cannot store it), so it is refused as BAD_USER_INPUT naming the NUL — never an
/// INTERNAL_SERVER_ERROR, and never (SQLite) a LIKE pattern cut short at the NUL that matches
/// every row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_in_text_filters_is_bad_user_input() {
    let app = TestApp::spawn().await;
    app.insert(TEXTS.iter().enumerate().map(|(i, (_, text))| text_tree(i as i64, text)).collect()).await;
    let rows = app.row_count().await;
    let mut cases = Vec::new();
    for (connection, field) in TEXT_FILTERS {
        let filter_type = match connection {
            "invocations" => "InvocationFilter",
            "eventExecutions" => "EventExecutionFilter",
            "jobExecutions" => "JobExecutionFilter",
            _ => "JobLogFilter",
        };
        let query = format!("query($f: {filter_type}) {{ {connection}(filter: $f) {{ totalCount }} }}");
        for probe in ["\u{0}", "a\u{0}b", "%\u{0}", "\u{0}%"] {
            for op in OPS {
                let value = if op == "in" || op == "notIn" { json!([probe]) } else { json!(probe) };
                cases.push(fails(
                    format!("{connection}(filter: {{ {field}: {{ {op}: {probe:?} }} }})"),
                    Req::gql(&query, json!({ "f": { field: { op: value } } })),
                    200,
                    "BAD_USER_INPUT",
                    "NUL",
                ));
            }
        }
    }
    let window = json!({ "from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z" });
    for (name, query) in [
        (
            "overview(sourceFunction)",
            "query($w: TimeWindow!, $s: String) { overview(window: $w, sourceFunction: $s) { from } }",
        ),
        (
            "metrics(sourceFunction)",
            "query($w: TimeWindow!, $s: String) { metrics(window: $w, sourceFunction: $s) { bucketStart } }",
        ),
        (
            "failingJobs(jobName)",
            "query($w: TimeWindow!, $s: String) { failingJobs(window: $w, jobName: $s) { jobName } }",
        ),
        (
            "slowestJobs(jobName)",
            "query($w: TimeWindow!, $s: String) { slowestJobs(window: $w, jobName: $s) { jobName } }",
        ),
    ] {
        cases.push(fails(name, Req::gql(query, json!({ "w": window, "s": "a\u{0}b" })), 200, "BAD_USER_INPUT", "NUL"));
    }
    run_cases(&app, cases).await;
    assert_eq!(app.row_count().await, rows);
}

// ---------------------------------------------------------------------------------------------
// The write path
// ---------------------------------------------------------------------------------------------

const MAX_FIELD_BYTES: usize = 1024;

/// `depth` nested arrays around a 1.
fn nested_arrays(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

/// A tree with an event, a job and a log line, every field valid; cases break one.
fn valid_tree() -> Value {
    json!({ "sourceFunction": "f", "status": "COMPLETED", "createdAt": "2026-03-01T12:00:00Z",
            "eventExecutions": [{ "eventName": "e", "detected": true,
                "jobExecutions": [{ "jobName": "j", "status": "COMPLETED",
                    "logs": [{ "level": "INFO", "message": "m" }] }] }] })
}

/// `valid_tree` with `pointer` set to `value`.
fn tree_with(pointer: &str, value: Value) -> Value {
    let mut tree = valid_tree();
    *tree.pointer_mut(pointer).unwrap_or_else(|| panic!("no {pointer}")) = value;
    tree
}

const LOG: &str = "/eventExecutions/0/jobExecutions/0/logs/0";
const JOB: &str = "/eventExecutions/0/jobExecutions/0";

/// Tree values the schema refuses as variables: (name, tree, status, message excerpt). Enums,
/// missing and unknown fields and non-integers are caught before anything runs (400); UUIDs,
/// dates and out-of-range integers when the input object is parsed, as `ingest` runs (200, the
/// error has a path). Either way nothing is written. The messages name the type, not the field.
fn bad_tree_variables() -> Vec<(&'static str, Value, u16, &'static str)> {
    vec![
        ("malformed id", valid_tree().merge("id", json!("not-a-uuid")), 200, "UUID"),
        ("SQL as an id", valid_tree().merge("id", json!("'; DROP TABLE invocations; --")), 200, "UUID"),
        ("malformed correlationId", valid_tree().merge("correlationId", json!("123")), 200, "UUID"),
        ("malformed log id", valid_tree().merge_at(LOG, "id", json!("x")), 200, "UUID"),
        ("createdAt month 13", tree_with("/createdAt", json!("2026-13-45T00:00:00Z")), 200, "RFC 3339"),
        ("createdAt yesterday", tree_with("/createdAt", json!("yesterday")), 200, "RFC 3339"),
        ("createdAt a number", tree_with("/createdAt", json!(1_700_000_000)), 200, "DateTime"),
        ("totalDurationMs 2^40", valid_tree().merge("totalDurationMs", json!(1_099_511_627_776_i64)), 200, "Int"),
        ("status lowercase", tree_with("/status", json!("completed")), 400, "status"),
        ("status unknown", tree_with("/status", json!("DONE")), 400, "status"),
        ("status SQL", tree_with("/status", json!("COMPLETED'; --")), 400, "status"),
        ("log level unknown", tree_with(&format!("{LOG}/level"), json!("LOUD")), 400, "level"),
        ("log message missing", valid_tree().remove_at(LOG, "message"), 400, "message"),
        ("attempt 1.5", valid_tree().merge_at(JOB, "attempt", json!(1.5)), 400, "attempt"),
        ("unknown field", valid_tree().merge("'; DROP TABLE invocations; --", json!(1)), 400, "DROP"),
        ("detected as a string", tree_with("/eventExecutions/0/detected", json!("yes")), 400, "detected"),
    ]
}

/// Small helpers for editing JSON trees in place.
trait Edit {
    fn merge(self, key: &str, value: Value) -> Value;
    fn merge_at(self, pointer: &str, key: &str, value: Value) -> Value;
    fn remove_at(self, pointer: &str, key: &str) -> Value;
}

impl Edit for Value {
    fn merge(mut self, key: &str, value: Value) -> Value {
        self[key] = value;
        self
    }
    fn merge_at(mut self, pointer: &str, key: &str, value: Value) -> Value {
        self.pointer_mut(pointer).unwrap()[key] = value;
        self
    }
    fn remove_at(mut self, pointer: &str, key: &str) -> Value {
        self.pointer_mut(pointer).unwrap().as_object_mut().unwrap().remove(key);
        self
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_writes_are_refused_and_write_nothing() {
    let app = TestApp::spawn_with(|c| c.ingest.max_field_bytes = MAX_FIELD_BYTES).await;
    let big = json!({ "blob": "x".repeat(2 * MAX_FIELD_BYTES) });
    let mut cases = Vec::new();
    for (name, tree, status, says) in bad_tree_variables() {
        cases.push(fails(
            format!("ingest: {name}"),
            Req::gql(INGEST, json!({ "batch": [valid_tree(), tree] })),
            status,
            "BAD_USER_INPUT",
            says,
        ));
    }
    // Refused by the write path itself (the error has a path: status 200).
    let refused = |name: &str, tree: Value, says: &'static str| {
        fails(
            format!("ingest: {name}"),
            Req::gql(INGEST, json!({ "batch": [valid_tree(), tree] })),
            200,
            "BAD_USER_INPUT",
            says,
        )
    };
    cases.extend([
        refused(
            "sourceEventPayload over max_field_bytes",
            valid_tree().merge("sourceEventPayload", big.clone()),
            "limit",
        ),
        refused("contextData over max_field_bytes", valid_tree().merge("contextData", big.clone()), "limit"),
        refused("job result over max_field_bytes", valid_tree().merge_at(JOB, "result", big.clone()), "limit"),
        refused("log data over max_field_bytes", valid_tree().merge_at(LOG, "data", big.clone()), "limit"),
        refused(
            "log message over max_field_bytes",
            tree_with(&format!("{LOG}/message"), json!("m".repeat(2 * MAX_FIELD_BYTES))),
            "limit",
        ),
        refused(
            "errorStack over max_field_bytes",
            valid_tree().merge_at(JOB, "errorStack", json!("s".repeat(2 * MAX_FIELD_BYTES))),
            "limit",
        ),
        refused(
            "a new invocation without sourceFunction",
            valid_tree().remove_at("", "sourceFunction"),
            "sourceFunction",
        ),
    ]);
    // Deep nesting: in variables the JSON parser's recursion limit refuses it; inline, the
    // document's bracket limit does.
    let deep_variables = format!(
        r#"{{"query": {INGEST:?}, "variables": {{"batch": [{{"sourceFunction": "f", "sourceEventPayload": {}}}]}}}}"#,
        nested_arrays(10_000)
    );
    cases.push(fails(
        "ingest: 10k nested arrays in a payload variable",
        Req::raw(Some("application/json"), deep_variables),
        400,
        "BAD_REQUEST",
        "recursion",
    ));
    // `ingest` of one tree given inline, with `payload` as the value of `field`.
    let inline = |field: &str, payload: &str| {
        let tree = format!("{{ sourceFunction: \"f\", {field}: {payload} }}");
        format!("mutation {{ ingest(batch: [{tree}]) {{ invocations {{ inserted }} }} }}")
    };
    let deep_objects = format!("{}1{}", "{ a: ".repeat(10_000), " }".repeat(10_000));
    cases.extend([
        fails(
            "ingest: 10k nested arrays in a payload literal",
            Req::gql(&inline("sourceEventPayload", &nested_arrays(10_000)), json!({})),
            400,
            "GRAPHQL_VALIDATION_FAILED",
            "nests",
        ),
        fails(
            "ingest: 10k nested objects in a payload literal",
            Req::gql(&inline("contextData", &deep_objects), json!({})),
            400,
            "GRAPHQL_VALIDATION_FAILED",
            "nests",
        ),
    ]);
    // The single-step mutations.
    let start =
        "mutation($p: JSON) { startInvocation(input: { sourceFunction: \"f\", sourceEventPayload: $p }) { id } }";
    let record = |invocation: &str| {
        format!(
            "mutation {{ recordEventExecution(input: {{ invocationId: {invocation:?}, eventName: \"e\" }}) {{ id }} }}"
        )
    };
    let complete = format!(
        "mutation {{ completeJobExecution(input: {{ id: {:?}, status: completed }}) {{ id }} }}",
        Uuid::new_v4().to_string()
    );
    cases.extend([
        fails(
            "startInvocation: deep payload variable",
            Req::raw(
                Some("application/json"),
                format!(r#"{{"query": {start:?}, "variables": {{"p": {}}}}}"#, nested_arrays(10_000)),
            ),
            400,
            "BAD_REQUEST",
            "recursion",
        ),
        fails(
            "startInvocation: payload over max_field_bytes",
            Req::gql(start, json!({ "p": big })),
            200,
            "BAD_USER_INPUT",
            "limit",
        ),
        fails(
            "recordEventExecution: malformed invocationId",
            Req::gql(&record("'; DROP TABLE invocations; --"), json!({})),
            200,
            "BAD_USER_INPUT",
            "UUID",
        ),
        fails(
            "recordEventExecution: unknown invocation",
            Req::gql(&record(&Uuid::new_v4().to_string()), json!({})),
            200,
            "NOT_FOUND",
            "",
        ),
        fails(
            "completeJobExecution: lowercase outcome",
            Req::gql(&complete, json!({})),
            400,
            "BAD_USER_INPUT",
            "status",
        ),
    ]);
    run_cases(&app, cases).await;
    assert_eq!(app.row_count().await, RowCount::default());
}

/// One NDJSON line that must be rejected on its own: (name, line, field, message excerpt).
fn bad_lines() -> Vec<(&'static str, Vec<u8>, &'static str, &'static str)> {
    let line = |tree: Value| tree.to_string().into_bytes();
    let big = json!({ "blob": "x".repeat(2 * MAX_FIELD_BYTES) });
    let object = json!({ "sourceFunction": "f" }).to_string();
    vec![
        ("malformed id", line(valid_tree().merge("id", json!("not-a-uuid"))), "line.id", "UUID"),
        ("SQL as an id", line(valid_tree().merge("id", json!("'; DROP TABLE invocations; --"))), "line.id", "UUID"),
        (
            "createdAt month 13",
            line(tree_with("/createdAt", json!("2026-13-45T00:00:00Z"))),
            "line.createdAt",
            "RFC 3339",
        ),
        ("createdAt yesterday", line(tree_with("/createdAt", json!("yesterday"))), "line.createdAt", "RFC 3339"),
        ("createdAt a number", line(tree_with("/createdAt", json!(1_700_000_000))), "line.createdAt", "string"),
        ("status mixed case", line(tree_with("/status", json!("Completed"))), "line.status", "Completed"),
        ("status unknown", line(tree_with("/status", json!("DONE"))), "line.status", "DONE"),
        ("status a number", line(tree_with("/status", json!(1))), "line.status", ""),
        (
            "log level unknown",
            line(tree_with(&format!("{LOG}/level"), json!("LOUD"))),
            "line.eventExecutions[0].jobExecutions[0].logs[0].level",
            "LOUD",
        ),
        (
            "totalDurationMs 2^40",
            line(valid_tree().merge("totalDurationMs", json!(1_099_511_627_776_i64))),
            "line.totalDurationMs",
            "",
        ),
        ("unknown field", line(valid_tree().merge("'; DROP TABLE invocations; --", json!(1))), "line", "unknown field"),
        (
            "payload over max_field_bytes",
            line(valid_tree().merge("sourceEventPayload", big.clone())),
            "line.sourceEventPayload",
            "limit",
        ),
        (
            "log data over max_field_bytes",
            line(valid_tree().merge_at(LOG, "data", big)),
            "line.eventExecutions[0].jobExecutions[0].logs[0].data",
            "limit",
        ),
        (
            "10k nested arrays in a payload",
            format!(r#"{{"sourceFunction": "f", "sourceEventPayload": {}}}"#, nested_arrays(10_000)).into_bytes(),
            "line.sourceEventPayload",
            "recursion",
        ),
        ("100k nested arrays as the line", "[".repeat(100_000).into_bytes(), "line", "invalid type"),
        ("truncated JSON", br#"{"sourceFunction": "f""#.to_vec(), "line", "EOF"),
        ("an array", b"[1, 2]".to_vec(), "line", "invalid type"),
        ("null", b"null".to_vec(), "line", "invalid type"),
        ("a string", br#""{\"sourceFunction\": \"f\"}""#.to_vec(), "line", "invalid type"),
        ("invalid UTF-8", b"{\"sourceFunction\": \"f\xff\xfe\"}".to_vec(), "line", "UTF-8"),
        // One JSON object per line: what follows it is an error, not something to drop.
        ("two objects on one line", format!("{object}{object}").into_bytes(), "line", "after the JSON object"),
        ("an object and garbage", format!("{object} trailing garbage").into_bytes(), "line", "after the JSON object"),
        ("an object and a NUL byte", format!("{object}\u{0}").into_bytes(), "line", "after the JSON object"),
        ("an object and a closing bracket", format!("{object}]").into_bytes(), "line", "after the JSON object"),
    ]
}

/// Posts each line alone to `/ingest` and checks it is rejected as BAD_USER_INPUT on `field`
/// (a prefix) with a message saying `says`, and that nothing is written. Returns the failures.
async fn check_lines(app: &TestApp, lines: Vec<(&'static str, Vec<u8>, &'static str, &'static str)>) -> Vec<String> {
    let mut failures = Vec::new();
    for (name, line, field, says) in lines {
        let mut body = line.clone();
        body.push(b'\n');
        let answer = match tokio::time::timeout(ANSWER_WITHIN, app.post_ingest("application/x-ndjson", body)).await {
            Ok(response) => response,
            Err(_) => {
                failures.push(format!("{name}: no answer within {} s", ANSWER_WITHIN.as_secs()));
                continue;
            }
        };
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        let lines: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        let problem = if status != 200 {
            Some(format!("status {status}"))
        } else if let Err(leak) = leaks(&text) {
            Some(leak)
        } else if lines.len() != 2 {
            Some("expected a result line and a summary".to_owned())
        } else {
            let error = &lines[0]["error"];
            let message = error["message"].as_str().unwrap_or("");
            if error["extensions"]["code"] != "BAD_USER_INPUT" {
                Some("expected code BAD_USER_INPUT".to_owned())
            } else if !error["extensions"]["field"].as_str().is_some_and(|f| f.starts_with(field)) {
                Some(format!("expected field {field:?}"))
            } else if !message.to_lowercase().contains(&says.to_lowercase()) {
                Some(format!("the message does not say {says:?}"))
            } else if lines[1]["summary"]["rejected"] != 1 || lines[1]["summary"]["accepted"] != 0 {
                Some("expected the summary to count one rejected line".to_owned())
            } else {
                None
            }
        };
        if let Some(problem) = problem {
            failures.push(format!("{name}: {problem}\n    answer {status} {}", clip(&text)));
        }
        if app.row_count().await != RowCount::default() {
            failures.push(format!("{name}: rows were written"));
            clear(app).await;
        }
    }
    failures
}

/// Deletes every execution row (after a case that wrongly wrote some).
async fn clear(app: &TestApp) {
    for table in ["job_logs", "job_executions", "event_executions", "invocations"] {
        app.db.execute_unprepared(&format!("DELETE FROM {table}")).await.expect("delete rows");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_ndjson_lines_are_rejected_and_write_nothing() {
    let app = TestApp::spawn_with(|c| c.ingest.max_field_bytes = MAX_FIELD_BYTES).await;
    let failures = check_lines(&app, bad_lines()).await;
    assert!(failures.is_empty(), "{} line(s) failed:\n{}", failures.len(), failures.join("\n"));
    still_serving(&app).await;
    // The endpoint still writes a good line.
    let answer = app.ingest_ndjson(format!("{}\n", valid_tree())).await;
    assert_eq!(answer[0]["inserted"], 4, "{answer:?}");
}

/// Text the databases cannot store as sent: NUL characters (PostgreSQL refuses them in TEXT and
/// in JSONB strings) and long names that do not fit a PostgreSQL index row. The write path must
/// refuse them as BAD_USER_INPUT on both backends, naming the field, and write nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unstorable_text_is_bad_user_input() {
    let app = TestApp::spawn_with(|c| c.ingest.max_field_bytes = MAX_FIELD_BYTES).await;
    // Incompressible, so PostgreSQL cannot squeeze it into a btree index row (2704 bytes).
    let long_name: String = (0..100).map(|_| Uuid::new_v4().simple().to_string()).collect();
    let cases: Vec<(&str, Value, &str)> = vec![
        ("NUL in sourceFunction", tree_with("/sourceFunction", json!("a\u{0}b")), "sourceFunction"),
        ("NUL in sourceUserEmail", valid_tree().merge("sourceUserEmail", json!("a\u{0}b")), "sourceUserEmail"),
        ("NUL in eventName", tree_with("/eventExecutions/0/eventName", json!("e\u{0}")), "eventName"),
        ("NUL in errorMessage", valid_tree().merge_at(JOB, "errorMessage", json!("\u{0}")), "errorMessage"),
        ("NUL in a log message", tree_with(&format!("{LOG}/message"), json!("m\u{0}")), "message"),
        (
            "NUL in a payload string",
            valid_tree().merge("sourceEventPayload", json!({ "k": "a\u{0}b" })),
            "sourceEventPayload",
        ),
        ("NUL in a payload key", valid_tree().merge("contextData", json!({ "a\u{0}b": 1 })), "contextData"),
        ("3 kB sourceFunction", tree_with("/sourceFunction", json!(long_name)), "sourceFunction"),
        ("3 kB jobName", tree_with(&format!("{JOB}/jobName"), json!(long_name)), "jobName"),
    ];
    let mut failures = Vec::new();
    for (name, tree, field) in cases {
        let mutation = send(&app, &Req::gql(INGEST, json!({ "batch": [tree.clone()] }))).await;
        match mutation {
            Err(err) => failures.push(format!("ingest: {name}: {err}")),
            Ok(answer) => {
                let expect =
                    Expect { status: 200, code: Some("BAD_USER_INPUT"), says: field, data: None, refusable: false };
                if let Err(err) = judge(&expect, &answer) {
                    failures.push(format!(
                        "ingest: {name}: {err}\n    answer {} {}",
                        answer.status,
                        clip(&answer.text)
                    ));
                }
            }
        }
        if app.row_count().await != RowCount::default() {
            failures.push(format!("ingest: {name}: rows were written"));
            clear(&app).await;
        }
        let answer =
            app.post_ingest("application/x-ndjson", format!("{tree}\n")).await.text().await.unwrap_or_default();
        let first: Value = answer.lines().next().and_then(|l| serde_json::from_str(l).ok()).unwrap_or(Value::Null);
        let clean = first["error"]["extensions"]["code"] == "BAD_USER_INPUT"
            && first["error"]["extensions"]["field"].as_str().is_some_and(|f| f.contains(field))
            && leaks(&answer).is_ok();
        if !clean {
            failures.push(format!(
                "/ingest: {name}: expected a BAD_USER_INPUT line for {field}\n    answer {}",
                clip(&answer)
            ));
        }
        if app.row_count().await != RowCount::default() {
            failures.push(format!("/ingest: {name}: rows were written"));
            clear(&app).await;
        }
    }
    // Each NDJSON line stands alone: one such line must not take its neighbours down with it.
    let good = |n: u32| json!({ "id": Uuid::from_u128(u128::from(n) + 1), "sourceFunction": "f" }).to_string();
    let bad = json!({ "sourceFunction": "a\u{0}b" }).to_string();
    let answer = app
        .post_ingest("application/x-ndjson", format!("{}\n{bad}\n{}\n", good(1), good(2)))
        .await
        .text()
        .await
        .unwrap_or_default();
    let summary = answer.lines().last().and_then(|l| serde_json::from_str::<Value>(l).ok()).unwrap_or(Value::Null);
    if summary["summary"]["accepted"] != 2
        || summary["summary"]["rejected"] != 1
        || app.row_count().await.invocations != 2
    {
        failures.push(format!(
            "/ingest: a NUL line among good lines: expected lines 1 and 3 written, 2 rejected\n    answer {}",
            clip(&answer)
        ));
    }
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n"));
    still_serving(&app).await;
}

// ---------------------------------------------------------------------------------------------
// Hostile requests do not starve normal ones
// ---------------------------------------------------------------------------------------------

/// A task sending one hostile request over and over: its name and each outcome as
/// (status, refused).
type Sender = JoinHandle<(&'static str, Vec<Result<(u16, bool), String>>)>;

/// Sends `req` `times` times in a row, returning each outcome as (status, refused).
fn hammer(app: &Arc<TestApp>, name: &'static str, req: Req, times: usize) -> Sender {
    let app = app.clone();
    tokio::spawn(async move {
        let mut outcomes = Vec::new();
        for _ in 0..times {
            // Refused: an error status with errors, or an NDJSON answer with the line rejected.
            outcomes.push(send(&app, &req).await.map(|a| {
                let refused = a.text.contains("\"errors\"") || a.text.contains("\"rejected\":1");
                (a.status, refused)
            }));
        }
        (name, outcomes)
    })
}

/// Normal queries, each answered within 10 s, while `hostile` senders run; then every hostile
/// request must have been refused.
async fn normal_queries_meanwhile(app: &TestApp, hostile: Vec<Sender>) {
    for i in 0..5 {
        let answer = tokio::time::timeout(Duration::from_secs(10), app.query(NORMAL, json!({})))
            .await
            .unwrap_or_else(|_| panic!("normal query {i} not answered within 10 s while hostile requests run"));
        assert_eq!(answer["data"]["invocations"]["totalCount"], 1, "{answer}");
    }
    for task in hostile {
        let (name, outcomes) = task.await.expect("hostile sender");
        for outcome in outcomes {
            match outcome {
                Ok((status, refused)) => {
                    assert!(refused && status != 500, "{name}: answered {status} without refusing")
                }
                Err(err) => panic!("{name}: {err}"),
            }
        }
    }
    still_serving(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_do_not_starve_normal_ones() {
    let app = Arc::new(TestApp::spawn().await);
    let (tree, _) = small_tree();
    app.insert(vec![tree]).await;
    let operations: String = (0..2_000).map(|i| format!("query Op{i} {{ __typename }}\n")).collect();
    let circular = "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
    let mut hostile = Vec::new();
    for _ in 0..2 {
        hostile.push(hammer(&app, "fragment bomb", Req::gql(&fragment_bomb(60), json!({})), 5));
        hostile.push(hammer(&app, "60k-deep selections", Req::gql(&deep_selection(60_000), json!({})), 5));
        hostile.push(hammer(&app, "circular fragments", Req::gql(circular, json!({})), 5));
        hostile.push(hammer(&app, "2000 operations", Req::gql(&operations, json!({})), 3));
        hostile.push(hammer(&app, "10 MB document", Req::gql(&repeated_fields(10_000_000), json!({})), 3));
        hostile.push(hammer(&app, "1M-deep JSON body", Req::raw(Some("application/json"), "[".repeat(1_000_000)), 3));
        let deep_line = nested_arrays(10_000);
        hostile.push(hammer(
            &app,
            "10k nested arrays in NDJSON",
            Req::ingest(Some("application/x-ndjson"), deep_line),
            3,
        ));
    }
    normal_queries_meanwhile(&app, hostile).await;
}

/// Documents just under the document cap are parsed and validated on the async worker
/// threads; the cap keeps that short enough that a burst of them, more than there are workers,
/// does not starve other requests. (Before --max-query-bytes, four concurrent 10 MB documents
/// held both workers of this runtime for over 10 s.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_near_the_cap_do_not_starve_normal_ones() {
    let app = Arc::new(TestApp::spawn().await);
    let (tree, _) = small_tree();
    app.insert(vec![tree]).await;
    let near_cap = Req::gql(&repeated_fields(125_000), json!({}));
    let hostile = (0..6).map(|_| hammer(&app, "125 kB of repeated fields", near_cap.clone(), 3)).collect();
    normal_queries_meanwhile(&app, hostile).await;
}
