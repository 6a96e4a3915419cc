//! Running a GraphQL request: a fresh data loader per request, a cache of parsed documents, and
//! an `extensions.code` on every error.
//!
//! Codes, so clients can branch on them: `GRAPHQL_PARSE_FAILED` for syntax errors,
//! `BAD_USER_INPUT` for argument or variable values the schema cannot accept,
//! `GRAPHQL_VALIDATION_FAILED` for other invalid documents, `BAD_REQUEST` when no operation can be
//! chosen, and `INTERNAL_SERVER_ERROR` for anything else without a code. Resolver errors already
//! carry theirs (see `crate::error`).

use std::num::NonZeroUsize;
use std::sync::Mutex;

use async_graphql::parser::parse_query;
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{BatchRequest, BatchResponse, Request, Response, ServerError};
use lru::LruCache;
use sea_orm::DatabaseConnection;

use super::AppSchema;
use super::loaders::{request_loader, run_batched};

/// Parsed documents by query text. Dashboards send the same few queries over and over, and
/// parsing one costs more than validating it.
pub struct ParseCache(Mutex<LruCache<String, ExecutableDocument>>);

/// Queries longer than this are parsed every time rather than cached.
const MAX_CACHED_QUERY_LEN: usize = 32 * 1024;

impl ParseCache {
    pub fn new(capacity: usize) -> Self {
        Self(Mutex::new(LruCache::new(NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN))))
    }

    /// Gives `request` its parsed document; false when the query does not parse (the schema
    /// then parses it again and reports the syntax error).
    fn prepare(&self, request: &mut Request) -> bool {
        if request.query.len() > MAX_CACHED_QUERY_LEN {
            return parse_query(&request.query).is_ok();
        }
        let cached = self.0.lock().ok().and_then(|mut cache| cache.get(&request.query).cloned());
        if let Some(document) = cached {
            request.set_parsed_query(document);
            return true;
        }
        match parse_query(&request.query) {
            Ok(document) => {
                if let Ok(mut cache) = self.0.lock() {
                    cache.put(request.query.clone(), document.clone());
                }
                request.set_parsed_query(document);
                true
            }
            Err(_) => false,
        }
    }
}

/// Executes a (batch) request against `schema` with a data loader of its own.
pub async fn execute(
    schema: &AppSchema,
    db: &DatabaseConnection,
    cache: &ParseCache,
    mut batch: BatchRequest,
) -> BatchResponse {
    let parsed: Vec<bool> = batch.iter_mut().map(|request| cache.prepare(request)).collect();
    let (loader, queue) = request_loader(db.clone());
    let mut response = run_batched(queue, schema.execute_batch(batch.data(loader))).await;
    match &mut response {
        BatchResponse::Single(response) => add_codes(response, parsed[0]),
        BatchResponse::Batch(responses) => {
            for (response, parsed) in responses.iter_mut().zip(parsed) {
                add_codes(response, parsed);
            }
        }
    }
    response
}

fn add_codes(response: &mut Response, parsed: bool) {
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
