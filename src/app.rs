//! The HTTP application: router, handlers, background tasks, and serving until a shutdown
//! signal.

use std::future::Future;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource, WebSocketProtocols, WsMessage};
use async_graphql::{BatchRequest, Data, ParseRequestError, ValidationMode};
use async_graphql_axum::GraphQLBatchRequest;
use axum::Router;
use axum::body::Body;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use futures::{SinkExt, StreamExt};
use http_body_util::Limited;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::analytics::rollup;
use crate::auth::{Access, Keys, Need};
use crate::config::{DatabaseConfig, ServeConfig};
use crate::error::{ApiError, ErrorCode, error_response};
use crate::graphql::analytics::AnalyticsSettings;
use crate::graphql::loaders::spawned_loader;
use crate::graphql::{self, ApiContext, Engine, MediaType, Transport};
use crate::ingest::{Ingestor, ndjson};
use crate::live::Broker;
use crate::metrics::{self, Metrics};
use crate::serving::{self, Serving};
use crate::{db, seed};

/// Everything a handler needs, shared by all requests.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub db: DatabaseConnection,
    pub ingestor: Ingestor,
    pub broker: Broker,
    pub keys: Arc<Keys>,
    pub metrics: Metrics,
    pub sdl: Arc<str>,
    pub max_request_bytes: usize,
    /// Cancelled when the server begins to shut down: WebSocket connections close then.
    pub closing: CancellationToken,
    /// Open WebSocket connections, so shutdown can wait for their close frames.
    pub sockets: TaskTracker,
    /// The request threads' own database pools (see `crate::serving`).
    pub thread_pools: db::ThreadPools,
}

/// A bound, ready-to-run server and its background tasks.
pub struct Application {
    listener: TcpListener,
    router: Router,
    db: DatabaseConnection,
    thread_pools: db::ThreadPools,
    request_threads: usize,
    /// Stops the background tasks once the server has stopped.
    stop: CancellationToken,
    closing: CancellationToken,
    sockets: TaskTracker,
    grace: Duration,
    tasks: Vec<JoinHandle<()>>,
}

/// The request id header, set on every request that lacks one and returned on every response.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

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
        let keys = Keys::load(&config.access.api_keys, config.access.api_keys_file.as_deref())?;
        keys.check_bind(config.bind)?;
        if keys.is_open() {
            tracing::warn!(
                address = %config.bind,
                "no API keys configured: anyone who can reach this loopback address may read and write"
            );
        }
        let stop = CancellationToken::new();
        let metrics = Metrics::new();
        let broker = Broker::new(db::backend(&db), config.subscription_buffer);
        let writer = db::WriteLock::for_backend(db::backend(&db));
        let ingestor =
            Ingestor::new(db.clone(), config.ingest.clone(), broker.clone(), writer.clone(), metrics.clone());
        let data = graphql::SchemaData {
            api: ApiContext { db: db.clone(), config: config.api.clone() },
            ingestor: ingestor.clone(),
            broker: broker.clone(),
            analytics: AnalyticsSettings {
                max_window_days: config.rollup.max_window_days,
                rollup_interval_seconds: config.rollup.rollup_interval_secs,
            },
        };
        let schema = graphql::build_schema(Some(data.clone()), &config.limits, ValidationMode::Strict);
        let validated = graphql::build_schema(Some(data), &config.limits, ValidationMode::Fast);
        let mut tasks = vec![broker.start_listener(db.clone(), stop.child_token()).await];
        if config.rollup.rollup_interval_secs > 0 {
            tasks.push(rollup::spawn(
                db.clone(),
                writer.clone(),
                Duration::from_secs(config.rollup.rollup_interval_secs),
                config.rollup.overlap(),
                stop.child_token(),
            ));
        }
        let retention = &config.retention;
        if retention.prune_interval_secs > 0 && (retention.retention_days > 0 || retention.rollup_retention_days > 0) {
            tasks.push(crate::retention::spawn(db.clone(), writer, retention.clone(), stop.child_token()));
        }
        let closing = CancellationToken::new();
        let sockets = TaskTracker::new();
        let state = AppState {
            engine: Arc::new(Engine::new(schema, validated, db.clone(), config.limits.clone(), metrics.clone())),
            db,
            ingestor,
            broker,
            keys: Arc::new(keys),
            metrics,
            sdl: graphql::sdl().into(),
            max_request_bytes: config.ingest.max_request_bytes,
            closing: closing.clone(),
            sockets: sockets.clone(),
            thread_pools: db::ThreadPools::default(),
        };
        let listener = TcpListener::bind(config.bind).await?;
        Ok(Self {
            listener,
            db: state.db.clone(),
            thread_pools: state.thread_pools.clone(),
            router: router(state, &config.cors_origins)?,
            request_threads: config.request_threads,
            stop,
            closing,
            sockets,
            grace: Duration::from_secs(config.shutdown_grace_secs),
            tasks,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until ctrl-c or SIGTERM, then lets in-flight requests finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes. Then: no new connections; in-flight requests get the
    /// grace period to finish; WebSocket connections are closed with a close frame (1001,
    /// going away); background tasks stop (a rollup run in progress rolls back).
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        tracing::info!(address = %self.listener.local_addr()?, "serving GraphQL at /graphql");
        // Watched apart from the accept loop, which stops when `closing` is cancelled.
        let closing = self.closing.clone();
        let signal = tokio::spawn(async move {
            shutdown.await;
            closing.cancel();
        });
        let serving = Serving {
            router: self.router,
            threads: self.request_threads,
            db: self.db,
            pools: self.thread_pools,
            sockets: self.sockets.clone(),
            closing: self.closing.clone(),
            grace: self.grace,
        };
        let grace = self.grace;
        let served = serving::serve(self.listener, serving).await;
        signal.abort();
        if let Ok(stopped) = &served {
            if !stopped.in_time {
                tracing::warn!(
                    grace_seconds = grace.as_secs(),
                    "in-flight requests outlived the grace period; stopping"
                );
            }
            if !stopped.sockets_closed {
                tracing::warn!("WebSocket connections did not close within the grace period");
            }
        }
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        tracing::info!("stopped");
        served.map(|_| ())
    }
}

pub fn router(state: AppState, cors_origins: &[String]) -> anyhow::Result<Router> {
    let mut router = Router::new()
        .route("/", get(|| async { Redirect::to("/graphql") }))
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphql/ws", get(graphql_ws))
        .route("/ingest", post(ingest))
        .route("/schema.graphql", get(schema_sdl))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(state);
    if !cors_origins.is_empty() {
        router = router.layer(cors(cors_origins)?);
    }
    Ok(router
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let id = request.extensions().get::<RequestId>().and_then(|id| id.header_value().to_str().ok());
            tracing::info_span!("request", method = %request.method(), path = request.uri().path(), request_id = id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid)))
}

/// Browsers on `origins` may call the API, sending `Authorization` and `Content-Type`.
fn cors(origins: &[String]) -> anyhow::Result<CorsLayer> {
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let origins = origins
            .iter()
            .map(|o| HeaderValue::from_str(o.trim()).map_err(|_| anyhow::anyhow!("invalid CORS origin {o:?}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        AllowOrigin::list(origins)
    };
    Ok(CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT, REQUEST_ID])
        .expose_headers([REQUEST_ID, HeaderName::from_static("server-timing")])
        .max_age(Duration::from_secs(3600)))
}

/// The media type of the answer, from `Accept` (GraphQL over HTTP): the new
/// `application/graphql-response+json` when the client asks for it before `application/json`,
/// otherwise `application/json`.
fn negotiate(headers: &HeaderMap) -> MediaType {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = parts
            .any(|p| matches!(p.trim().strip_prefix("q="), Some(q) if q.trim().parse::<f32>().is_ok_and(|q| q == 0.0)));
        match media.as_str() {
            _ if refused => continue,
            "application/graphql-response+json" => return MediaType::GraphQLResponse,
            "application/json" => return MediaType::Json,
            _ => {}
        }
    }
    MediaType::Json
}

/// The answer to a refused key: 401 (with `WWW-Authenticate`) or 403.
fn refuse(err: ApiError, media: MediaType) -> Response {
    let status = match err.code() {
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        _ => StatusCode::UNAUTHORIZED,
    };
    let mut response = error_response(status, err.code().as_str(), err.client_message(), media.as_str());
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// Checks the caller may do `need` outside GraphQL (ingest, metrics, SDL).
fn authorize(state: &AppState, headers: &HeaderMap, need: Need) -> Result<(), ApiError> {
    state.keys.access(headers)?.allow(need)
}

async fn graphql_post(State(state): State<AppState>, request: Request) -> Response {
    let media = negotiate(request.headers());
    let access = match state.keys.access(request.headers()) {
        Ok(access) => access,
        Err(err) => return refuse(err, media),
    };
    let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        // Only JSON: it also keeps browsers from posting forms or plain text cross-site.
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_REQUEST",
            format!("send the GraphQL request as JSON (Content-Type: application/json), not {content_type:?}"),
            media.as_str(),
        );
    }
    let limit = state.max_request_bytes;
    let request = request.map(|body| Body::new(Limited::new(body, limit)));
    match GraphQLBatchRequest::<BadRequest>::from_request(request, &()).await {
        Ok(request) => execute(&state, request.into_inner(), access, Transport::Post, media).await,
        Err(BadRequest(err)) => bad_request(err, media),
    }
}

/// GraphQL over GET (`?query=…`, queries only), a WebSocket upgrade, or GraphiQL for a browser.
async fn graphql_get(State(state): State<AppState>, request: Request) -> Response {
    if request.headers().contains_key(header::UPGRADE) {
        let (mut parts, _) = request.into_parts();
        return match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
            Ok(upgrade) => websocket(state, &parts.headers, upgrade),
            Err(rejection) => rejection.into_response(),
        };
    }
    if request.uri().query().is_none_or(str::is_empty) {
        return Html(
            GraphiQLSource::build().endpoint("/graphql").subscription_endpoint("/graphql/ws").title("runlens").finish(),
        )
        .into_response();
    }
    let media = negotiate(request.headers());
    let access = match state.keys.access(request.headers()) {
        Ok(access) => access,
        Err(err) => return refuse(err, media),
    };
    match get_request(request.uri()) {
        Ok(request) => execute(&state, BatchRequest::Single(request), access, Transport::Get, media).await,
        Err(message) => error_response(StatusCode::BAD_REQUEST, "BAD_REQUEST", message, media.as_str()),
    }
}

/// The parameters of a GraphQL request over GET.
#[derive(serde::Deserialize)]
struct GetParams {
    #[serde(default)]
    query: String,
    #[serde(rename = "operationName", alias = "operation_name")]
    operation_name: Option<String>,
    /// JSON, URL-encoded.
    variables: Option<String>,
    /// JSON, URL-encoded.
    extensions: Option<String>,
}

/// A GraphQL request from a URL's query string (`query`, `operationName`, `variables`,
/// `extensions`, the last two as JSON).
fn get_request(uri: &axum::http::Uri) -> Result<async_graphql::Request, String> {
    let invalid = |what: &str, err: &dyn std::fmt::Display| format!("invalid GraphQL request: {what}: {err}");
    let axum::extract::Query(params) =
        axum::extract::Query::<GetParams>::try_from_uri(uri).map_err(|e| invalid("query string", &e))?;
    let mut request = async_graphql::Request::new(params.query);
    request.operation_name = params.operation_name.filter(|name| !name.is_empty());
    if let Some(variables) = params.variables.filter(|v| !v.is_empty()) {
        request.variables = serde_json::from_str(&variables).map_err(|e| invalid("variables", &e))?;
    }
    if let Some(extensions) = params.extensions.filter(|e| !e.is_empty()) {
        request.extensions = serde_json::from_str(&extensions).map_err(|e| invalid("extensions", &e))?;
    }
    Ok(request)
}

async fn graphql_ws(State(state): State<AppState>, headers: HeaderMap, upgrade: WebSocketUpgrade) -> Response {
    websocket(state, &headers, upgrade)
}

/// Subscriptions (and queries) over `graphql-transport-ws` or the older `graphql-ws`. The API
/// key comes in the upgrade request's `Authorization` header or, from browsers, which cannot
/// set headers on a WebSocket, in the `connection_init` payload (`{"Authorization": "Bearer
/// KEY"}`); a refused key closes the socket with 4403.
fn websocket(state: AppState, headers: &HeaderMap, upgrade: WebSocketUpgrade) -> Response {
    let protocol = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|list| list.split(',').find_map(|p| WebSocketProtocols::from_str(p.trim()).ok()));
    let Some(protocol) = protocol else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "ask for the graphql-transport-ws (or graphql-ws) subprotocol in Sec-WebSocket-Protocol",
            MediaType::Json.as_str(),
        );
    };
    let from_header = match headers.contains_key(header::AUTHORIZATION) {
        true => match state.keys.access(headers) {
            Ok(access) => Some(access),
            Err(err) => return refuse(err, MediaType::Json),
        },
        false => None,
    };
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| serve_socket(state, socket, protocol, from_header))
        .into_response()
}

async fn serve_socket(state: AppState, socket: WebSocket, protocol: WebSocketProtocols, from_header: Option<Access>) {
    let _open = state.sockets.token();
    let (mut sink, stream) = socket.split();
    let input = stream.take_while(|message| std::future::ready(message.is_ok())).filter_map(|message| {
        std::future::ready(match message {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => Some(message.into_data()),
            _ => None,
        })
    });
    let refused = Arc::new(AtomicBool::new(false));
    let keys = state.keys.clone();
    let on_init = {
        let refused = refused.clone();
        move |payload: serde_json::Value| async move {
            let access = match from_header {
                Some(access) => Ok(access),
                None => keys.access_for(crate::auth::token_in_payload(&payload)),
            };
            match access {
                Ok(access) => {
                    let mut data = Data::default();
                    data.insert(access);
                    Ok(data)
                }
                Err(err) => {
                    refused.store(true, Ordering::Relaxed);
                    Err(async_graphql::Error::new(err.client_message()))
                }
            }
        }
    };
    let mut data = Data::default();
    data.insert(spawned_loader(db::on_this_thread(&state.db)));
    let mut output = async_graphql::http::WebSocket::new(state.engine.socket_executor(), input, protocol)
        .connection_data(data)
        .on_connection_init(on_init);
    loop {
        let message = tokio::select! {
            message = output.next() => match message {
                Some(message) => message,
                None => break,
            },
            () = state.closing.cancelled() => {
                let frame = CloseFrame { code: 1001, reason: "server shutting down".into() };
                let _ = sink.send(Message::Close(Some(frame))).await;
                break;
            }
        };
        let message = match message {
            WsMessage::Text(text) => Message::Text(text.into()),
            WsMessage::Close(code, reason) => {
                // graphql-transport-ws says 4403 for a refused connection_init.
                let code = if code == 1002 && refused.load(Ordering::Relaxed) { 4403 } else { code };
                Message::Close(Some(CloseFrame { code, reason: reason.into() }))
            }
        };
        if sink.send(message).await.is_err() {
            break;
        }
    }
}

/// Runs a (batch) request, reporting its SQL work in `Server-Timing`.
async fn execute(
    state: &AppState,
    request: BatchRequest,
    access: Access,
    transport: Transport,
    media: MediaType,
) -> Response {
    let answer = state.engine.run(request, access, transport, media).await;
    let body = match graphql::json::to_vec(&answer.response) {
        Ok(body) => body,
        Err(err) => {
            tracing::error!(error = %err, "cannot serialise a response");
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_SERVER_ERROR",
                "internal server error",
                media.as_str(),
            );
        }
    };
    let mut response = (answer.status, [(header::CONTENT_TYPE, media.as_str())], body).into_response();
    let headers = response.headers_mut();
    if answer.status == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    let statements = answer.tally.statements();
    let timing = format!(
        "db;desc=\"{statements} SQL statement{}\";dur={:.3}",
        if statements == 1 { "" } else { "s" },
        answer.tally.duration().as_secs_f64() * 1000.0
    );
    if let Ok(value) = HeaderValue::from_str(&timing) {
        headers.insert("server-timing", value);
    }
    response
}

async fn ingest(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    if let Err(err) = authorize(&state, &headers, Need::Write) {
        return refuse(err, MediaType::Json);
    }
    ndjson::handle(state.ingestor.clone(), &headers, body).await
}

async fn schema_sdl(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(err) = authorize(&state, &headers, Need::Read) {
        return refuse(err, MediaType::Json);
    }
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], state.sdl.to_string()).into_response()
}

/// Prometheus metrics (a read key is needed when keys are configured).
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(err) = authorize(&state, &headers, Need::Read) {
        return refuse(err, MediaType::Json);
    }
    let (size, idle) = state.thread_pools.connections(&state.db);
    let rollup_lag_seconds = match rollup::state(&db::on_this_thread(&state.db)).await {
        Ok(row) => row.and_then(|s| s.watermark).map(rollup::lag_seconds),
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the rollup state for /metrics");
            None
        }
    };
    let snapshot = metrics::State {
        connections_in_use: i64::from(size) - idle as i64,
        connections_idle: idle as i64,
        subscriptions: state.broker.subscriptions() as i64,
        lagged_total: state.broker.lagged_total(),
        rollup_lag_seconds,
    };
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render(&snapshot))
        .into_response()
}

/// How long `/readyz` waits for the database: a load balancer's probe must get an answer even
/// when the network to the database swallows packets instead of refusing them.
const READY_TIMEOUT: Duration = Duration::from_secs(3);

async fn readyz(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(READY_TIMEOUT, db::ping(&db::on_this_thread(&state.db))).await {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
        Err(_) => {
            tracing::warn!(timeout_seconds = READY_TIMEOUT.as_secs(), "readiness check timed out");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// A request body that is not a GraphQL request.
pub struct BadRequest(ParseRequestError);

impl From<ParseRequestError> for BadRequest {
    fn from(err: ParseRequestError) -> Self {
        BadRequest(err)
    }
}

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        bad_request(self.0, MediaType::Json)
    }
}

/// The answer to a body that is not a GraphQL request: 413 when over the size limit, else 400.
fn bad_request(err: ParseRequestError, media: MediaType) -> Response {
    let too_large = match &err {
        ParseRequestError::PayloadTooLarge => true,
        ParseRequestError::Io(err) => err.to_string().contains("length limit exceeded"),
        _ => false,
    };
    if too_large {
        error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "request body too large (see --max-request-bytes)",
            media.as_str(),
        )
    } else {
        error_response(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            format!("invalid GraphQL request: {err}"),
            media.as_str(),
        )
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
