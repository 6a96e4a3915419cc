//! Running GraphQL requests: admission (API key role, automatic persisted queries, limits),
//! a data loader per request, a per-request timeout, a cache of parsed documents, metrics, and
//! an `extensions.code` on every error.
//!
//! Everything that can refuse an operation does so before any SQL runs. Depth and cost are
//! checked by async-graphql's validation (`limit_depth`, `limit_complexity`, with the page
//! sizes of lists and connections in the cost); aliases, root fields and the size of the
//! operation with its fragments expanded are counted here, on the parsed document, before
//! validation, so a fragment bomb is refused before anything walks it.
//!
//! Codes, so clients can branch on them: `GRAPHQL_PARSE_FAILED` for syntax errors,
//! `BAD_USER_INPUT` for argument or variable values the schema cannot accept,
//! `GRAPHQL_VALIDATION_FAILED` for invalid documents and operations over a limit,
//! `BAD_REQUEST` when no operation can be chosen or the request is malformed,
//! `PERSISTED_QUERY_NOT_FOUND` for an unknown persisted query hash, `FORBIDDEN` for an
//! operation the API key's role does not allow, `METHOD_NOT_ALLOWED` for a mutation sent with
//! GET, `TIMEOUT` when a request runs past its time, and `INTERNAL_SERVER_ERROR` for anything
//! else without a code. Resolver errors already carry theirs (see `crate::error`).

use std::any::TypeId;
use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, FragmentDefinition, OperationType, Selection, SelectionSet,
};
use async_graphql::parser::{Positioned, parse_query};
use async_graphql::{BatchRequest, BatchResponse, Data, Executor, Name, Request, Response, ServerError, Value};
use axum::http::StatusCode;
use futures::stream::{BoxStream, FuturesOrdered};
use futures::{FutureExt, StreamExt, stream};
use lru::LruCache;
use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};

use super::AppSchema;
use super::loaders::{request_loader, run_batched};
use crate::auth::{Access, Need};
use crate::config::LimitsConfig;
use crate::db::stats::{self, Tally};
use crate::metrics::Metrics;

/// How a request arrived; GET may only read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Post,
    Get,
    WebSocket,
}

/// The response media type the client asked for (GraphQL over HTTP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `application/graphql-response+json`: request errors (unparsable or invalid documents,
    /// bad variables) are answered with status 400.
    GraphQLResponse,
    /// `application/json`, the legacy type: every well-formed request is answered with 200.
    Json,
}

impl MediaType {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::GraphQLResponse => "application/graphql-response+json; charset=utf-8",
            MediaType::Json => "application/json; charset=utf-8",
        }
    }
}

/// The answer to an HTTP GraphQL request.
pub struct Answer {
    pub response: BatchResponse,
    pub status: StatusCode,
    /// The SQL the request ran, for `Server-Timing`.
    pub tally: Arc<Tally>,
}

/// Runs GraphQL requests for every transport.
pub struct Engine {
    schema: AppSchema,
    /// The same schema with async-graphql's fast validation, for operations that passed the
    /// full validation before (see [`Parsed::valid`]).
    validated: AppSchema,
    db: DatabaseConnection,
    parsed: ParseCache,
    /// Automatic persisted queries: query text by the hex SHA-256 of it.
    persisted: Mutex<LruCache<String, String>>,
    limits: LimitsConfig,
    metrics: Metrics,
}

/// An operation refused before it ran.
struct Rejection {
    error: Box<ServerError>,
    /// The status under `application/graphql-response+json`; under `application/json` a 400
    /// becomes 200 unless `fixed`.
    status: StatusCode,
    /// The request itself is malformed (no query): 400 whatever the media type.
    fixed: bool,
}

impl Rejection {
    fn new(code: &str, status: StatusCode, message: impl Into<String>) -> Self {
        let mut error = ServerError::new(message, None);
        set_code(&mut error, code);
        Self { error: Box::new(error), status, fixed: false }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new("GRAPHQL_VALIDATION_FAILED", StatusCode::BAD_REQUEST, message)
    }
}

/// What admission learned about an operation.
struct Admitted {
    /// False when the document does not parse (the schema reports the syntax error).
    parsed: bool,
    operation: Option<String>,
    /// The cached document and how this operation of it is identified among its valid ones.
    validity: Option<(Arc<Parsed>, String)>,
}

impl Admitted {
    fn refused_by_schema(parsed: bool) -> Self {
        Self { parsed, operation: None, validity: None }
    }

    /// Whether this operation, with these variables, passed the full validation before.
    fn valid_before(&self) -> bool {
        self.validity.as_ref().is_some_and(|(parsed, key)| parsed.is_valid(key))
    }
}

/// Documents nesting brackets deeper than this are refused without being parsed.
const MAX_NESTING: usize = 64;
/// Queries longer than this are parsed every time rather than cached.
const MAX_CACHED_QUERY_LEN: usize = 32 * 1024;

impl Engine {
    /// `schema` validates every operation in full; `validated` is the same schema with
    /// `ValidationMode::Fast`, for operations that passed before.
    pub fn new(
        schema: AppSchema,
        validated: AppSchema,
        db: DatabaseConnection,
        limits: LimitsConfig,
        metrics: Metrics,
    ) -> Self {
        Self {
            schema,
            validated,
            db,
            parsed: ParseCache::new(512),
            persisted: Mutex::new(LruCache::new(capacity(limits.persisted_queries))),
            limits,
            metrics,
        }
    }

    /// Runs an HTTP request (one operation or a batch) for a caller with `access`.
    pub async fn run(&self, batch: BatchRequest, access: Access, transport: Transport, media: MediaType) -> Answer {
        let started = Instant::now();
        let (single, requests) = match batch {
            BatchRequest::Single(request) => (true, vec![request]),
            BatchRequest::Batch(requests) => (false, requests),
        };
        if requests.len() > self.limits.max_batch || requests.is_empty() {
            let message = format!(
                "a batch must hold between 1 and {} operations, got {} (see --max-batch)",
                self.limits.max_batch,
                requests.len()
            );
            let rejection = Rejection::new("BAD_REQUEST", StatusCode::BAD_REQUEST, message);
            return Answer {
                response: BatchResponse::Single(Response::from_errors(vec![*rejection.error])),
                status: StatusCode::BAD_REQUEST,
                tally: Arc::default(),
            };
        }

        let (loader, queue) = request_loader(crate::db::on_this_thread(&self.db));
        let mut admitted = Vec::with_capacity(requests.len());
        let mut running = FuturesOrdered::new();
        for mut request in requests {
            match self.admit(&mut request, access, transport) {
                Ok(admission) => {
                    let request = request.data(loader.clone());
                    let schema = if admission.valid_before() { &self.validated } else { &self.schema };
                    running.push_back(async move { Some(schema.execute(request).await) }.boxed());
                    admitted.push(Ok(admission));
                }
                Err(rejection) => {
                    running.push_back(futures::future::ready(None).boxed());
                    admitted.push(Err(rejection));
                }
            }
        }
        drop(loader);
        let work = run_batched(queue, running.collect::<Vec<Option<Response>>>());
        let timeout = self.limits.request_timeout();
        let (executed, tally) = stats::measure(tokio::time::timeout(timeout, work)).await;
        let executed = executed.unwrap_or_else(|_| {
            tracing::warn!(timeout_ms = timeout.as_millis() as u64, "request timed out");
            admitted.iter().map(|_| Some(timed_out(timeout))).collect()
        });

        let seconds = started.elapsed().as_secs_f64();
        let mut responses = Vec::with_capacity(admitted.len());
        let mut status = StatusCode::OK;
        for (admission, response) in admitted.into_iter().zip(executed) {
            let (response, operation, own_status) = match (admission, response) {
                (Ok(admission), Some(mut response)) => {
                    // Data means the operation ran, so it passed validation.
                    if let Some((parsed, key)) = &admission.validity
                        && !matches!(response.data, Value::Null)
                    {
                        parsed.remember_valid(key);
                    }
                    add_codes(&mut response, admission.parsed, &self.limits);
                    let status = if media == MediaType::GraphQLResponse && is_request_error(&response) {
                        StatusCode::BAD_REQUEST
                    } else {
                        StatusCode::OK
                    };
                    (response, admission.operation, status)
                }
                (Err(rejection), _) => {
                    let status = match (media, rejection.status) {
                        (MediaType::Json, StatusCode::BAD_REQUEST) if !rejection.fixed => StatusCode::OK,
                        (_, status) => status,
                    };
                    (Response::from_errors(vec![*rejection.error]), None, status)
                }
                (Ok(admission), None) => (timed_out(timeout), admission.operation, StatusCode::OK),
            };
            self.metrics.request(operation.as_deref(), response.errors.is_empty(), seconds);
            if single {
                status = own_status;
            }
            responses.push(response);
        }
        self.metrics.statements(tally.statements());
        let response = if single {
            BatchResponse::Single(responses.pop().unwrap_or_default())
        } else {
            BatchResponse::Batch(responses)
        };
        Answer { response, status, tally }
    }

    /// Decides whether `request` may run, resolving a persisted query and parsing it on the way.
    fn admit(&self, request: &mut Request, access: Access, transport: Transport) -> Result<Admitted, Rejection> {
        self.resolve_persisted(request)?;
        if request.query.trim().is_empty() {
            let mut rejection = Rejection::new(
                "BAD_REQUEST",
                StatusCode::BAD_REQUEST,
                "the request has no query: send `query` (or the hash of a persisted query)",
            );
            rejection.fixed = true;
            return Err(rejection);
        }
        if request.query.len() > self.limits.max_query_bytes {
            return Err(Rejection::invalid(format!(
                "the document is {} bytes long; at most {} are allowed (--max-query-bytes)",
                request.query.len(),
                self.limits.max_query_bytes
            )));
        }
        if nesting(&request.query) > MAX_NESTING {
            return Err(Rejection::invalid(format!("the document nests brackets deeper than {MAX_NESTING} levels")));
        }
        let Some(parsed) = self.parsed.prepare(request) else {
            return Ok(Admitted::refused_by_schema(false));
        };
        let document = &parsed.document;
        let Some((name, operation)) = choose(document, request.operation_name.as_deref()) else {
            // The schema explains why no operation can be chosen.
            return Ok(Admitted::refused_by_schema(true));
        };
        let need = match operation.node.ty {
            OperationType::Mutation => Need::Write,
            OperationType::Query | OperationType::Subscription => Need::Read,
        };
        access.allow(need).map_err(|err| Rejection::new("FORBIDDEN", StatusCode::FORBIDDEN, err.client_message()))?;
        if transport == Transport::Get && need == Need::Write {
            return Err(Rejection::new(
                "METHOD_NOT_ALLOWED",
                StatusCode::METHOD_NOT_ALLOWED,
                "mutations cannot be sent with GET; use POST",
            ));
        }
        let root_fields = root_fields(document, &operation.node.selection_set);
        if !self.limits.introspection && root_fields.iter().any(|name| matches!(*name, "__schema" | "__type")) {
            return Err(Rejection::invalid("introspection is turned off on this server (--introspection)"));
        }
        self.check_shape(document, &operation.node.selection_set, root_fields.len() as u64)?;
        // Validation depends on the document, the operation and the variables' values (types,
        // and the page sizes counted in the cost), nothing else.
        let validity = serde_json::to_string(&request.variables)
            .ok()
            .map(|variables| format!("{}\n{variables}", name.map_or("", |n| n.as_str())));
        let operation = name.map(|n| n.to_string());
        Ok(Admitted { parsed: true, operation, validity: validity.map(|key| (parsed, key)) })
    }

    /// Counts what the operation selects, fragments expanded, against the limits.
    fn check_shape(
        &self,
        document: &ExecutableDocument,
        root: &Positioned<SelectionSet>,
        root_fields: u64,
    ) -> Result<(), Rejection> {
        let mut counter = ShapeCounter { fragments: &document.fragments, done: HashMap::new(), open: HashSet::new() };
        let shape = counter.count(root);
        let limits = &self.limits;
        if shape.selections > limits.max_selections as u64 {
            return Err(Rejection::invalid(format!(
                "the operation selects {} fields once its fragments are expanded; at most {} are allowed (--max-selections)",
                shape.selections, limits.max_selections
            )));
        }
        if shape.aliases > limits.max_aliases as u64 {
            return Err(Rejection::invalid(format!(
                "the operation uses {} aliases; at most {} are allowed (--max-aliases)",
                shape.aliases, limits.max_aliases
            )));
        }
        if root_fields > limits.max_root_fields as u64 {
            return Err(Rejection::invalid(format!(
                "the operation selects {root_fields} root fields; at most {} are allowed (--max-root-fields)",
                limits.max_root_fields
            )));
        }
        Ok(())
    }

    /// Automatic persisted queries (Apollo's protocol): a request may send only the SHA-256 of
    /// a query the server has seen; when the server does not know it, the client sends both.
    fn resolve_persisted(&self, request: &mut Request) -> Result<(), Rejection> {
        let Some(persisted) = request.extensions.get("persistedQuery") else { return Ok(()) };
        let bad = |message: &str| Rejection::new("BAD_REQUEST", StatusCode::BAD_REQUEST, message);
        let Value::Object(fields) = persisted else {
            return Err(bad("extensions.persistedQuery must be an object with version and sha256Hash"));
        };
        if fields.get("version") != Some(&Value::from(1)) {
            return Err(bad("only version 1 of persisted queries is supported"));
        }
        let Some(Value::String(hash)) = fields.get("sha256Hash") else {
            return Err(bad("extensions.persistedQuery.sha256Hash must be a string"));
        };
        let hash = hash.to_ascii_lowercase();
        let mut known = self.persisted.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if request.query.is_empty() {
            let query = known.get(&hash).cloned().ok_or_else(|| {
                Rejection::new(
                    "PERSISTED_QUERY_NOT_FOUND",
                    StatusCode::OK,
                    "PersistedQueryNotFound: send the query with its hash",
                )
            })?;
            request.query = query;
        } else {
            if hex::encode(Sha256::digest(request.query.as_bytes())) != hash {
                return Err(bad("provided sha256Hash does not match the query"));
            }
            known.put(hash, request.query.clone());
        }
        Ok(())
    }

    /// An executor for WebSocket connections, whose access is in the connection's data.
    pub fn socket_executor(self: &Arc<Self>) -> SocketExecutor {
        SocketExecutor(self.clone())
    }
}

/// Runs the operations of a WebSocket connection through the same admission as HTTP.
#[derive(Clone)]
pub struct SocketExecutor(Arc<Engine>);

impl Executor for SocketExecutor {
    async fn execute(&self, request: Request) -> Response {
        let mut stream = self.execute_stream(request, None);
        stream.next().await.unwrap_or_default()
    }

    fn execute_stream(&self, mut request: Request, session: Option<Arc<Data>>) -> BoxStream<'static, Response> {
        let access = session
            .as_deref()
            .and_then(|data| data.get(&TypeId::of::<Access>()))
            .and_then(|access| access.downcast_ref::<Access>())
            .copied();
        let Some(access) = access else {
            let error =
                *Rejection::new("UNAUTHENTICATED", StatusCode::UNAUTHORIZED, "connection not initialised").error;
            return stream::once(async { Response::from_errors(vec![error]) }).boxed();
        };
        match self.0.admit(&mut request, access, Transport::WebSocket) {
            Err(rejection) => stream::once(async { Response::from_errors(vec![*rejection.error]) }).boxed(),
            Ok(admission) => {
                let engine = self.0.clone();
                self.0
                    .schema
                    .execute_stream_with_session_data(request, session.unwrap_or_default())
                    .map(move |mut response| {
                        add_codes(&mut response, admission.parsed, &engine.limits);
                        response
                    })
                    .boxed()
            }
        }
    }
}

fn capacity(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n.max(1)).unwrap_or(NonZeroUsize::MIN)
}

fn timed_out(timeout: Duration) -> Response {
    let mut error = ServerError::new(
        format!("the request ran longer than {} ms and was cancelled (see --request-timeout-ms)", timeout.as_millis()),
        None,
    );
    set_code(&mut error, "TIMEOUT");
    Response::from_errors(vec![error])
}

/// The operation `name` picks (or the only one), with its name.
fn choose<'d>(
    document: &'d ExecutableDocument,
    name: Option<&str>,
) -> Option<(Option<&'d Name>, &'d Positioned<async_graphql::parser::types::OperationDefinition>)> {
    match (&document.operations, name) {
        (DocumentOperations::Single(operation), None) => Some((None, operation)),
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.iter().next().map(|(n, o)| (Some(n), o))
        }
        (operations, Some(name)) => operations.iter().find(|(n, _)| n.is_some_and(|n| n.as_str() == name)),
        _ => None,
    }
}

/// The names of the fields an operation selects at its root, through fragments (each fragment
/// counted once).
fn root_fields<'d>(document: &'d ExecutableDocument, root: &'d Positioned<SelectionSet>) -> Vec<&'d str> {
    fn walk<'d>(
        document: &'d ExecutableDocument,
        set: &'d SelectionSet,
        seen: &mut HashSet<&'d str>,
        names: &mut Vec<&'d str>,
    ) {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => names.push(field.node.name.node.as_str()),
                Selection::InlineFragment(fragment) => walk(document, &fragment.node.selection_set.node, seen, names),
                Selection::FragmentSpread(spread) => {
                    if let Some((name, definition)) = document.fragments.get_key_value(&spread.node.fragment_name.node)
                        && seen.insert(name.as_str())
                    {
                        walk(document, &definition.node.selection_set.node, seen, names);
                    }
                }
            }
        }
    }
    let mut names = Vec::new();
    walk(document, &root.node, &mut HashSet::new(), &mut names);
    names
}

/// How deeply brackets nest in a document, outside strings, block strings and comments.
fn nesting(query: &str) -> usize {
    let bytes = query.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                // A block string ends at the next `"""` not escaped as `\"""`.
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") { 4 } else { 1 };
                }
                i += 3;
                continue;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    deepest
}

/// Fields and aliases an operation selects with its fragments expanded.
#[derive(Debug, Clone, Copy, Default)]
struct Shape {
    selections: u64,
    aliases: u64,
}

/// Counts with each fragment counted once (memoised), so a fragment bomb costs its size in
/// the document, not its expansion; a cycle counts as nothing (validation reports it).
struct ShapeCounter<'d> {
    fragments: &'d HashMap<Name, Positioned<FragmentDefinition>>,
    done: HashMap<&'d str, Shape>,
    open: HashSet<&'d str>,
}

impl<'d> ShapeCounter<'d> {
    fn count(&mut self, set: &'d Positioned<SelectionSet>) -> Shape {
        let mut shape = Shape::default();
        for item in &set.node.items {
            let inner = match &item.node {
                Selection::Field(field) => {
                    let inner = self.count(&field.node.selection_set);
                    Shape {
                        selections: inner.selections.saturating_add(1),
                        aliases: inner.aliases.saturating_add(u64::from(field.node.alias.is_some())),
                    }
                }
                Selection::InlineFragment(fragment) => self.count(&fragment.node.selection_set),
                Selection::FragmentSpread(spread) => self.fragment(spread.node.fragment_name.node.as_str()),
            };
            shape.selections = shape.selections.saturating_add(inner.selections);
            shape.aliases = shape.aliases.saturating_add(inner.aliases);
        }
        shape
    }

    fn fragment(&mut self, name: &str) -> Shape {
        let Some((key, definition)) = self.fragments.get_key_value(name) else { return Shape::default() };
        let key = key.as_str();
        if let Some(shape) = self.done.get(key) {
            return *shape;
        }
        if !self.open.insert(key) {
            return Shape::default();
        }
        let shape = self.count(&definition.node.selection_set);
        self.open.remove(key);
        self.done.insert(key, shape);
        shape
    }
}

/// Parsed documents by query text. Dashboards send the same few queries over and over, and
/// parsing one costs more than validating it.
struct ParseCache(Mutex<LruCache<String, Arc<Parsed>>>);

/// A parsed document, and the operations of it (with their variables) that passed validation.
///
/// async-graphql validates every operation in full before running it: ~5 % of the server's
/// CPU on the dashboard query. Validation depends only on the schema, the document, the
/// operation and its variables, so once an operation passed it runs on the schema built with
/// `ValidationMode::Fast`, which still counts depth and cost against the limits but skips the
/// rules it already passed.
struct Parsed {
    document: ExecutableDocument,
    /// Operation name and variables (as JSON) of the operations that passed; at most
    /// [`MAX_VALID_PER_DOCUMENT`], forgotten all at once when full.
    valid: Mutex<HashSet<String>>,
}

/// Operations (with their variables) of one document remembered as valid.
const MAX_VALID_PER_DOCUMENT: usize = 64;

impl Parsed {
    fn is_valid(&self, key: &str) -> bool {
        self.valid.lock().is_ok_and(|valid| valid.contains(key))
    }

    fn remember_valid(&self, key: &str) {
        if let Ok(mut valid) = self.valid.lock()
            && !valid.contains(key)
        {
            if valid.len() >= MAX_VALID_PER_DOCUMENT {
                valid.clear();
            }
            valid.insert(key.to_owned());
        }
    }
}

impl ParseCache {
    fn new(size: usize) -> Self {
        Self(Mutex::new(LruCache::new(capacity(size))))
    }

    /// Gives `request` its parsed document and returns it; None when the query does not parse
    /// (the schema then parses it again and reports the syntax error).
    fn prepare(&self, request: &mut Request) -> Option<Arc<Parsed>> {
        let cacheable = request.query.len() <= MAX_CACHED_QUERY_LEN;
        let cached =
            if cacheable { self.0.lock().ok().and_then(|mut cache| cache.get(&request.query).cloned()) } else { None };
        let parsed = match cached {
            Some(parsed) => parsed,
            None => {
                let document = parse_query(&request.query).ok()?;
                let parsed = Arc::new(Parsed { document, valid: Mutex::default() });
                if cacheable && let Ok(mut cache) = self.0.lock() {
                    cache.put(request.query.clone(), parsed.clone());
                }
                parsed
            }
        };
        request.set_parsed_query(parsed.document.clone());
        Some(parsed)
    }
}

/// Whether a response answers a request that never ran: no data, and only errors from before
/// execution (syntax, validation, variables, operation choice).
fn is_request_error(response: &Response) -> bool {
    matches!(response.data, Value::Null)
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| {
            error.path.is_empty()
                && error.extensions.as_ref().and_then(|e| e.get("code")).is_some_and(|code| {
                    matches!(code, Value::String(code) if matches!(code.as_str(),
                        "GRAPHQL_PARSE_FAILED" | "GRAPHQL_VALIDATION_FAILED" | "BAD_USER_INPUT" | "BAD_REQUEST"))
                })
        })
}

fn add_codes(response: &mut Response, parsed: bool, limits: &LimitsConfig) {
    for error in &mut response.errors {
        let code = if !parsed {
            "GRAPHQL_PARSE_FAILED"
        } else if is_input_error(&error.message) {
            "BAD_USER_INPUT"
        } else if error.path.is_empty() {
            // No path: the error arose before execution, from validation or operation choice.
            if error.message.starts_with("Unknown operation named")
                || error.message.starts_with("Operation name required")
            {
                "BAD_REQUEST"
            } else {
                "GRAPHQL_VALIDATION_FAILED"
            }
        } else {
            "INTERNAL_SERVER_ERROR"
        };
        // async-graphql's limit messages, said so that a user knows what to change.
        if error.message == "Query is too complex." {
            error.message = format!(
                "the operation costs more than {} (--max-complexity): each field costs 1 and a list or connection \
                 costs its page size (first, last or limit; 10 for a nested list without limit) times what it selects; \
                 ask for smaller pages or fewer fields",
                limits.max_complexity
            );
        } else if error.message == "Query is nested too deep." {
            error.message = format!("the operation nests fields deeper than {} levels (--max-depth)", limits.max_depth);
        }
        set_code(error, code);
    }
}

fn set_code(error: &mut ServerError, code: &str) {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code);
    }
}

/// Messages async-graphql gives argument and variable values the schema cannot accept.
fn is_input_error(message: &str) -> bool {
    message.starts_with("Invalid value for argument")
        || message.starts_with("Failed to parse")
        || message.starts_with("Variable")
        || message.starts_with("Invalid value for")
        || message.starts_with("Expected input type")
}

#[cfg(test)]
mod tests {
    use super::nesting;

    #[test]
    fn nesting_ignores_strings_and_comments() {
        assert_eq!(nesting("{ a { b(x: \"{{{{\") } } # {{{{"), 3);
        assert_eq!(nesting("{ a(s: \"\\\"{\") }"), 2);
        assert_eq!(nesting(&"{a".repeat(100)), 100);
        // A lone quote inside a block string does not hide what follows it.
        assert_eq!(nesting(&format!("{{ a(s: \"\"\" \" \"\"\") {} }}", "[".repeat(400))), 401);
        assert_eq!(nesting("{ a(s: \"\"\" \\\"\"\" {{{ \"\"\") }"), 2);
        // A string cannot span lines, so an unterminated one ends at the line's end.
        assert_eq!(nesting("{ a(s: \"\n[[[ ) }"), 5);
    }
}
