//! The HTTP application: router, handlers, background tasks, and serving until a shutdown
//! signal.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource};
use async_graphql::{BatchRequest, Data, ParseRequestError};
use async_graphql_axum::{GraphQLBatchRequest, GraphQLProtocol, GraphQLResponse, GraphQLWebSocket};
use axum::Router;
use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use http_body_util::Limited;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::analytics::rollup;
use crate::config::{DatabaseConfig, ServeConfig};
use crate::graphql::analytics::AnalyticsSettings;
use crate::graphql::loaders::spawned_loader;
use crate::graphql::{self, ApiContext, AppSchema, ParseCache};
use crate::ingest::{Ingestor, ndjson};
use crate::live::Broker;
use crate::{db, seed};

/// Everything a handler needs, shared by all requests.
#[derive(Clone)]
pub struct AppState {
    pub schema: AppSchema,
    pub db: DatabaseConnection,
    pub ingestor: Ingestor,
    pub sdl: Arc<str>,
    pub parse_cache: Arc<ParseCache>,
    pub max_request_bytes: usize,
}

/// A bound, ready-to-run server and its background tasks.
pub struct Application {
    listener: TcpListener,
    router: Router,
    /// Stops the background tasks once the server has stopped.
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Application {
    /// Connects, migrates, seeds demo data if asked to, and binds.
    pub async fn build(database: &DatabaseConfig, config: ServeConfig) -> anyhow::Result<Self> {
        let db = db::connect(database).await?;
        db::migrate(&db).await?;
        if config.demo_invocations > 0 && seed::is_empty(&db).await? {
            tracing::info!(invocations = config.demo_invocations, "empty database: inserting demo data");
            seed::run(&db, &seed::SeedPlan::demo(config.demo_invocations)).await?;
        }
        Self::with_database(db, config).await
    }

    /// Binds a server over an already migrated database.
    pub async fn with_database(db: DatabaseConnection, config: ServeConfig) -> anyhow::Result<Self> {
        let stop = CancellationToken::new();
        let broker = Broker::new(db::backend(&db), config.subscription_buffer);
        let writer = db::WriteLock::for_backend(db::backend(&db));
        let ingestor = Ingestor::new(db.clone(), config.ingest.clone(), broker.clone(), writer.clone());
        let schema = graphql::build_schema(Some(graphql::SchemaData {
            api: ApiContext { db: db.clone(), config: config.api.clone() },
            ingestor: ingestor.clone(),
            broker: broker.clone(),
            analytics: AnalyticsSettings {
                max_window_days: config.rollup.max_window_days,
                rollup_interval_seconds: config.rollup.rollup_interval_secs,
            },
        }));
        let mut tasks = vec![broker.start_listener(db.clone(), stop.child_token()).await];
        if config.rollup.rollup_interval_secs > 0 {
            tasks.push(rollup::spawn(
                db.clone(),
                writer,
                Duration::from_secs(config.rollup.rollup_interval_secs),
                config.rollup.overlap(),
                stop.child_token(),
            ));
        }
        let state = AppState {
            schema,
            db,
            ingestor,
            sdl: graphql::sdl().into(),
            parse_cache: Arc::new(ParseCache::new(512)),
            max_request_bytes: config.ingest.max_request_bytes,
        };
        let listener = TcpListener::bind(config.bind).await?;
        Ok(Self { listener, router: router(state), stop, tasks })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until ctrl-c or SIGTERM, then lets in-flight requests finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes, then stops the background tasks.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        tracing::info!(address = %self.listener.local_addr()?, "serving GraphQL at /graphql");
        let served = axum::serve(self.listener, self.router).with_graceful_shutdown(shutdown).await;
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        served
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/graphql") }))
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphql/ws", get(graphql_ws))
        .route("/ingest", post(ingest))
        .route("/schema.graphql", get(schema_sdl))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn graphql_post(State(state): State<AppState>, request: Request) -> Response {
    let limit = state.max_request_bytes;
    let request = request.map(|body| Body::new(Limited::new(body, limit)));
    match GraphQLBatchRequest::<BadRequest>::from_request(request, &()).await {
        Ok(request) => execute(&state, request.into_inner()).await,
        Err(rejection) => rejection.into_response(),
    }
}

/// GraphQL over GET (`?query=…`), a WebSocket upgrade, or GraphiQL for a browser.
async fn graphql_get(State(state): State<AppState>, request: Request) -> Response {
    if request.headers().contains_key(header::UPGRADE) {
        let (mut parts, _) = request.into_parts();
        let protocol = GraphQLProtocol::from_request_parts(&mut parts, &()).await;
        let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &()).await;
        return match (protocol, upgrade) {
            (Ok(protocol), Ok(upgrade)) => websocket(state, protocol, upgrade),
            (Err(rejection), _) => rejection.into_response(),
            (_, Err(rejection)) => rejection.into_response(),
        };
    }
    if request.uri().query().is_none_or(str::is_empty) {
        return Html(
            GraphiQLSource::build().endpoint("/graphql").subscription_endpoint("/graphql/ws").title("runlens").finish(),
        )
        .into_response();
    }
    match GraphQLBatchRequest::<BadRequest>::from_request(request, &()).await {
        Ok(request) => execute(&state, request.into_inner()).await,
        Err(rejection) => rejection.into_response(),
    }
}

async fn graphql_ws(State(state): State<AppState>, protocol: GraphQLProtocol, upgrade: WebSocketUpgrade) -> Response {
    websocket(state, protocol, upgrade)
}

/// Subscriptions (and queries) over `graphql-transport-ws` or the older `graphql-ws`.
fn websocket(state: AppState, protocol: GraphQLProtocol, upgrade: WebSocketUpgrade) -> Response {
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            let mut data = Data::default();
            data.insert(spawned_loader(state.db.clone()));
            GraphQLWebSocket::new(socket, state.schema.clone(), protocol).with_data(data).serve()
        })
        .into_response()
}

/// Runs a (batch) request with a fresh data loader, reporting its SQL work in `Server-Timing`.
async fn execute(state: &AppState, request: BatchRequest) -> Response {
    let (response, tally) =
        db::stats::measure(graphql::execute(&state.schema, &state.db, &state.parse_cache, request)).await;
    let mut response = GraphQLResponse::from(response).into_response();
    let statements = tally.statements();
    let timing = format!(
        "db;desc=\"{statements} SQL statement{}\";dur={:.3}",
        if statements == 1 { "" } else { "s" },
        tally.duration().as_secs_f64() * 1000.0
    );
    if let Ok(value) = HeaderValue::from_str(&timing) {
        response.headers_mut().insert("server-timing", value);
    }
    response
}

async fn ingest(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    ndjson::handle(state.ingestor.clone(), &headers, body).await
}

async fn schema_sdl(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], state.sdl.to_string())
}

async fn readyz(State(state): State<AppState>) -> Response {
    match db::ping(&state.db).await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// A request body that is not a GraphQL request: answered as a GraphQL error response.
pub struct BadRequest(ParseRequestError);

impl From<ParseRequestError> for BadRequest {
    fn from(err: ParseRequestError) -> Self {
        BadRequest(err)
    }
}

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        let too_large = match &self.0 {
            ParseRequestError::PayloadTooLarge => true,
            ParseRequestError::Io(err) => err.to_string().contains("length limit exceeded"),
            _ => false,
        };
        let (status, code, message) = if too_large {
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "request body too large (see --max-request-bytes)".to_owned(),
            )
        } else {
            (StatusCode::BAD_REQUEST, "BAD_REQUEST", format!("invalid GraphQL request: {}", self.0))
        };
        let body = serde_json::json!({
            "errors": [{ "message": message, "extensions": { "code": code } }]
        });
        (status, [(header::CONTENT_TYPE, "application/graphql-response+json")], body.to_string()).into_response()
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
