//! The one error type of the API and how it reaches a client.
//!
//! Every error a resolver returns becomes a GraphQL error whose `extensions.code` says what kind
//! it is. Database and other internal failures are logged with their cause and reach the client
//! only as a generic message: SQL, driver messages and file paths never leave the server.
//!
//! `ApiError` deliberately does not implement `Display`: async-graphql converts every `Display`
//! type into an error without extensions, so keeping it out of that blanket conversion is what
//! lets `?` in a resolver carry the code through.

use async_graphql::ErrorExtensions;
use sea_orm::{DbErr, RuntimeErr, sqlx};

/// Machine-readable error codes, as they appear in `extensions.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    BadUserInput,
    NotFound,
    Unauthenticated,
    Forbidden,
    ServiceUnavailable,
    InternalServerError,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadUserInput => "BAD_USER_INPUT",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            ErrorCode::InternalServerError => "INTERNAL_SERVER_ERROR",
        }
    }
}

#[derive(Debug)]
pub enum ApiError {
    /// The request asked for something invalid; `field` names the argument or input path.
    BadUserInput {
        message: String,
        field: Option<String>,
    },
    /// A referenced row does not exist; `field` names the input path that referred to it.
    NotFound {
        message: String,
        field: Option<String>,
    },
    Unauthenticated(String),
    Forbidden(String),
    /// The database could not be reached in time; the request may succeed if retried.
    /// Holds the cause, for the log.
    Unavailable(String),
    /// Anything else: logged with its cause, reported to the client without it.
    Internal(anyhow::Error),
}

impl ApiError {
    pub fn bad_input(message: impl Into<String>) -> Self {
        ApiError::BadUserInput { message: message.into(), field: None }
    }

    pub fn bad_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadUserInput { message: message.into(), field: Some(field.into()) }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::NotFound { message: message.into(), field: None }
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(err.into())
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadUserInput { .. } => ErrorCode::BadUserInput,
            ApiError::NotFound { .. } => ErrorCode::NotFound,
            ApiError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            ApiError::Forbidden(_) => ErrorCode::Forbidden,
            ApiError::Unavailable(_) => ErrorCode::ServiceUnavailable,
            ApiError::Internal(_) => ErrorCode::InternalServerError,
        }
    }

    /// The message a client sees.
    pub fn client_message(&self) -> String {
        match self {
            ApiError::BadUserInput { message, .. }
            | ApiError::NotFound { message, .. }
            | ApiError::Unauthenticated(message)
            | ApiError::Forbidden(message) => message.clone(),
            ApiError::Unavailable(_) => "the database is unavailable; try again shortly".to_owned(),
            ApiError::Internal(_) => "internal server error".to_owned(),
        }
    }

    /// Logs causes the client does not see. Called once, where the error leaves the API.
    pub fn log(&self) {
        match self {
            ApiError::Unavailable(cause) => tracing::warn!(error = %cause, "database unavailable"),
            ApiError::Internal(err) => tracing::error!(error = format!("{err:#}"), "internal error"),
            _ => {}
        }
    }
}

/// Whether a database error means "could not reach the database" rather than "the query failed".
pub fn is_unavailable(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => match e.as_ref() {
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
                true
            }
            // SQLite: another process (a `runlens prune` or `rollup` on the same file) holds the
            // write lock; retrying later succeeds.
            sqlx::Error::Database(e) => matches!(e.code().as_deref(), Some("5" | "517")),
            _ => false,
        },
        _ => false,
    }
}

impl From<DbErr> for ApiError {
    fn from(err: DbErr) -> Self {
        if is_unavailable(&err) { ApiError::Unavailable(err.to_string()) } else { ApiError::Internal(err.into()) }
    }
}

/// Data loaders share one error among every caller of a batch, hence the `Arc`.
impl From<std::sync::Arc<DbErr>> for ApiError {
    fn from(err: std::sync::Arc<DbErr>) -> Self {
        if is_unavailable(&err) {
            ApiError::Unavailable(err.to_string())
        } else {
            ApiError::Internal(anyhow::anyhow!("{err}"))
        }
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        err.log();
        let code = err.code();
        let field = match &err {
            ApiError::BadUserInput { field, .. } | ApiError::NotFound { field, .. } => field.clone(),
            _ => None,
        };
        async_graphql::Error::new(err.client_message()).extend_with(|_, ext| {
            ext.set("code", code.as_str());
            if let Some(field) = field {
                ext.set("field", field);
            }
        })
    }
}

/// Shorthand for resolver results.
pub type ApiResult<T> = Result<T, ApiError>;

/// An HTTP response carrying one GraphQL-shaped error (`{"errors": [{message, extensions:
/// {code}}]}`), for failures outside GraphQL execution.
pub fn error_response(
    status: axum::http::StatusCode,
    code: &str,
    message: impl Into<String>,
    content_type: &'static str,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let body = serde_json::json!({ "errors": [{ "message": message.into(), "extensions": { "code": code } }] });
    (status, [(axum::http::header::CONTENT_TYPE, content_type)], body.to_string()).into_response()
}
