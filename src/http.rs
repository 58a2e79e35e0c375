//! The router: `POST/GET /graphql`, `GET /graphql/ws`, `GET /healthz`,
//! `GET /readyz`, `GET /metrics`; and what wraps every request: a request
//! id, a tracing span carrying it, a time limit, and CORS when configured.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::http::{GraphiQLSource, MultipartOptions};
use async_graphql::{ErrorExtensions, ParseRequestError};
use axum::Router;
use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tower_http::cors::CorsLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

use crate::auth::{self, Viewer};
use crate::db::Db;
use crate::graphql::{
    OrgSchema, QueryLimits, RequestContext, Services, code_uncoded, request_error,
};
use crate::metrics::Metrics;
use crate::websocket::WebSocketSettings;

#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub schema: OrgSchema,
    pub limits: QueryLimits,
    /// Where the client's address is, when a proxy forwards every request.
    pub client_ip_header: Option<header::HeaderName>,
    pub metrics: Arc<Metrics>,
    pub websockets: WebSocketSettings,
}

/// Builds the router; `cors` is None when no origin is allowed.
pub fn router(state: AppState, request_timeout: Duration, cors: Option<CorsLayer>) -> Router {
    let routes = Router::new()
        .route("/graphql", get(graphql_get).post(graphql))
        .route("/graphql/ws", get(crate::websocket::upgrade))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn_with_state(request_timeout, time_limit))
        .with_state(state);
    let routes = match cors {
        Some(cors) => routes.layer(cors),
        None => routes,
    };
    // The last layer added is the first to see a request: the id is set,
    // then returned on the response, then carried by the request's span.
    routes
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(RandomRequestId))
}

/// The id of a request that does not bring its own `x-request-id`.
#[derive(Clone, Copy)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let id: u128 = rand::random();
        HeaderValue::from_str(&format!("{id:032x}"))
            .ok()
            .map(RequestId::new)
    }
}

/// Every log line of a request, the WebSocket connection it opens
/// included, carries its id.
fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!("request", id, method = %request.method(), path = request.uri().path())
}

/// Answers for the request within `limit`, or says it took too long. A
/// mutation that times out may still commit: its transaction runs apart.
async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Refusal::limit(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the request took longer than {}",
                humantime::format_duration(limit)
            ),
        )
        .into_response(),
    }
}

/// Origins allowed to call from a browser: the scheme, host and port of
/// each (`*` for any), or why one is not an origin.
pub fn cors_layer(origins: &[String]) -> Result<Option<CorsLayer>, String> {
    use tower_http::cors::{AllowOrigin, Any};
    if origins.is_empty() {
        return Ok(None);
    }
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::from(Any)
    } else {
        let parsed = origins
            .iter()
            .map(|origin| {
                let uri: axum::http::Uri = origin.parse().map_err(|_| origin.clone())?;
                let bare = uri.scheme().is_some()
                    && uri.host().is_some()
                    && uri.path_and_query().is_none_or(|p| p.as_str() == "/")
                    && !origin.ends_with('/');
                match bare {
                    true => HeaderValue::from_str(origin).map_err(|_| origin.clone()),
                    false => Err(origin.clone()),
                }
            })
            .collect::<Result<Vec<_>, String>>()?;
        AllowOrigin::list(parsed)
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
            .allow_headers([
                header::CONTENT_TYPE,
                header::AUTHORIZATION,
                header::HeaderName::from_static("graphql-preflight"),
                header::HeaderName::from_static("apollo-require-preflight"),
                header::HeaderName::from_static("x-request-id"),
            ])
            .expose_headers([header::HeaderName::from_static("x-request-id")])
            .max_age(Duration::from_secs(3600)),
    ))
}

/// The largest request body read; an upload is at most 64 KiB of it.
const MAX_BODY_BYTES: usize = 1024 * 1024;
const MAX_UPLOAD_BYTES: usize = crate::domain::bulk_invitations::MAX_BYTES;
const MAX_UPLOADS: usize = 1;

/// A GraphQL request from a GET query string, a JSON body, or a GraphQL
/// multipart request, read within this server's limits.
pub struct GraphQLRequest(async_graphql::Request);

impl GraphQLRequest {
    fn into_inner(self) -> async_graphql::Request {
        self.0
    }
}

impl<S: Send + Sync> FromRequest<S> for GraphQLRequest {
    type Rejection = Refusal;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Refusal> {
        if request.method() == axum::http::Method::GET {
            let request = query_string_request(request.uri())?;
            // GET must be safe: a link or an <img> must not change anything.
            if changes_state(&request) {
                return Err(bad_request(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "mutations and subscriptions are not run over GET: POST them".into(),
                ));
            }
            return GraphQLRequest::with_query(request);
        }
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        refuse_cross_site(content_type.as_deref(), request.headers())?;
        let body = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|_| {
                Refusal::limit(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
                )
            })?;
        let options = MultipartOptions::default()
            .max_file_size(MAX_UPLOAD_BYTES)
            .max_num_files(MAX_UPLOADS);
        async_graphql::http::receive_body(
            content_type,
            futures_util::io::Cursor::new(body),
            options,
        )
        .await
        .map_err(|error| match error {
            ParseRequestError::PayloadTooLarge => Refusal::limit(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "uploads are limited to {MAX_UPLOADS} file of {} KiB",
                    MAX_UPLOAD_BYTES / 1024
                ),
            ),
            other => bad_request(
                StatusCode::BAD_REQUEST,
                format!("invalid GraphQL request: {other}"),
            ),
        })
        .and_then(GraphQLRequest::with_query)
    }
}

impl GraphQLRequest {
    /// A request must carry a query (`{"qeury": …}` is a client's bug).
    fn with_query(request: async_graphql::Request) -> Result<GraphQLRequest, Refusal> {
        match request.query.trim().is_empty() {
            true => Err(bad_request(
                StatusCode::BAD_REQUEST,
                "the request has no query".into(),
            )),
            false => Ok(GraphQLRequest(request)),
        }
    }
}

/// The GraphQL-over-HTTP GET parameters (async-graphql's own parser
/// expects `operation_name`, not the spec's `operationName`).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParameters {
    #[serde(default)]
    query: String,
    operation_name: Option<String>,
    variables: Option<String>,
}

fn query_string_request(uri: &axum::http::Uri) -> Result<async_graphql::Request, Refusal> {
    let invalid = |e: String| {
        bad_request(
            StatusCode::BAD_REQUEST,
            format!("invalid GraphQL query string: {e}"),
        )
    };
    let axum::extract::Query(parameters) = axum::extract::Query::<GetParameters>::try_from_uri(uri)
        .map_err(|e| invalid(e.body_text()))?;
    let mut request = async_graphql::Request::new(parameters.query);
    if let Some(name) = parameters.operation_name {
        request = request.operation_name(name);
    }
    if let Some(variables) = parameters.variables {
        let variables =
            serde_json::from_str(&variables).map_err(|e| invalid(format!("variables: {e}")))?;
        request = request.variables(async_graphql::Variables::from_json(variables));
    }
    Ok(request)
}

/// Whether the operation the request would run is a mutation or a
/// subscription. A request that does not parse is left to execution, which
/// reports why.
fn changes_state(request: &async_graphql::Request) -> bool {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    let kinds: Vec<OperationType> = match &document.operations {
        DocumentOperations::Single(operation) => vec![operation.node.ty],
        DocumentOperations::Multiple(operations) => match &request.operation_name {
            Some(name) => operations
                .get(name.as_str())
                .map(|o| o.node.ty)
                .into_iter()
                .collect(),
            None => operations.values().map(|o| o.node.ty).collect(),
        },
    };
    kinds.iter().any(|kind| *kind != OperationType::Query)
}

/// Cross-site request forgery: a browser sends a form post or text/plain
/// body to another site without asking it first, so only JSON bodies, and
/// multipart ones that carry a header no form can set, are accepted.
fn refuse_cross_site(content_type: Option<&str>, headers: &HeaderMap) -> Result<(), Refusal> {
    let essence = content_type
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" | "application/graphql-response+json" => Ok(()),
        "multipart/form-data" if PREFLIGHT_HEADERS.iter().any(|h| headers.contains_key(*h)) => {
            Ok(())
        }
        "multipart/form-data" => Err(bad_request(
            StatusCode::BAD_REQUEST,
            "a multipart request needs a GraphQL-Preflight header (any value)".into(),
        )),
        _ => Err(bad_request(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send GraphQL as Content-Type: application/json (or a multipart upload)".into(),
        )),
    }
}

/// Headers a cross-site form cannot send; any of them marks a deliberate client.
const PREFLIGHT_HEADERS: [&str; 2] = ["graphql-preflight", "apollo-require-preflight"];

/// A request refused before it reaches the schema: an HTTP status and a
/// GraphQL error that says why.
pub struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
}

fn bad_request(status: StatusCode, message: String) -> Refusal {
    Refusal {
        status,
        code: "BAD_USER_INPUT",
        message,
    }
}

impl Refusal {
    /// Refused for exceeding one of the server's limits.
    pub fn limit(status: StatusCode, message: String) -> Refusal {
        Refusal {
            status,
            code: "LIMIT_EXCEEDED",
            message,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let code = self.code;
        let error = async_graphql::Error::new(self.message).extend_with(|_, e| e.set("code", code));
        let mut response = graphql_error(self.status, request_error(error));
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            response
                .headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        }
        response
    }
}

/// Browsers get GraphiQL; other clients run the query (GraphQL over HTTP).
async fn graphql_get(
    state: State<AppState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Result<GraphQLRequest, Refusal>,
) -> Response {
    if accepts(&headers, "text/html") {
        return Html(
            GraphiQLSource::build()
                .version(GRAPHIQL_VERSION)
                .endpoint("/graphql")
                .subscription_endpoint("/graphql/ws")
                .finish(),
        )
        .into_response();
    }
    match request {
        Ok(request) => graphql(state, peer, headers, request).await,
        Err(refusal) => refusal.into_response(),
    }
}

/// The GraphiQL the page loads from unpkg, pinned so that a new release
/// cannot change it under us (tests/conformance serves the same version).
const GRAPHIQL_VERSION: &str = "4.1.2";

async fn graphql(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    let started = Instant::now();
    let mut request = request.into_inner();
    // Limits first: an abusive query is refused before any database work.
    let admitted = state.limits.admit(&mut request);
    let viewer = match admitted {
        Ok(_) => match bearer_viewer(&state.services.db, &headers).await {
            Ok(viewer) => viewer,
            Err(response) => return response,
        },
        Err(_) => None,
    };
    let (operation, mut response) = match admitted {
        Ok(operation) => {
            let client = client_ip(&headers, peer, state.client_ip_header.as_ref());
            let context = RequestContext::new(&state.services, viewer, Some(client));
            let response = state.schema.execute(request.data(context)).await;
            (operation, response)
        }
        Err(refusal) => (None, async_graphql::Response::from_errors(vec![refusal])),
    };
    code_uncoded(&mut response.errors);
    let elapsed = started.elapsed();
    let metrics = &state.metrics;
    metrics.record_operation(operation.as_deref(), Some(elapsed));
    metrics.record_errors(response.errors.iter().map(error_code));
    tracing::info!(
        operation = operation.as_deref().unwrap_or_default(),
        user_id = viewer.map(|v| v.user_id),
        errors = response.errors.len(),
        elapsed_ms = elapsed.as_secs_f64() * 1000.0,
        "graphql"
    );
    respond(&headers, response)
}

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// GraphQL over HTTP: a client that accepts `application/graphql-response+json`
/// gets it, with 400 for a request that never ran (a parse or validation
/// error, no `data`); any other client gets `application/json` and 200.
fn respond(headers: &HeaderMap, response: async_graphql::Response) -> Response {
    let accepts_graphql_response = accepts(headers, GRAPHQL_RESPONSE_JSON);
    let never_ran = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let (content_type, status) = match accepts_graphql_response {
        true if never_ran => (GRAPHQL_RESPONSE_JSON, StatusCode::BAD_REQUEST),
        true => (GRAPHQL_RESPONSE_JSON, StatusCode::OK),
        false => ("application/json", StatusCode::OK),
    };
    // Serialized straight to bytes: a page of members is thousands of values.
    let body = if accepts_graphql_response && never_ran {
        serde_json::to_vec(&serde_json::json!({ "errors": response.errors }))
    } else {
        serde_json::to_vec(&response)
    };
    match body {
        Ok(body) => (status, [(header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(error) => {
            tracing::error!(%error, "cannot serialize a GraphQL response");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The viewer of `Authorization: Bearer <token>`; None without a header or
/// with a token that is not a live session (the contract's `viewer: null`).
async fn bearer_viewer(db: &Db, headers: &HeaderMap) -> Result<Option<Viewer>, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(auth::bearer_token);
    let Some(token) = token else { return Ok(None) };
    auth::authenticate(db, token).await.map_err(|error| {
        graphql_error(StatusCode::SERVICE_UNAVAILABLE, request_error(error.into()))
    })
}

/// The client's address: the last address in `forwarded_by` (the one the
/// proxy in front added; those before it are the client's to invent), or
/// the connection's when there is no such header or address.
pub fn client_ip(
    headers: &HeaderMap,
    peer: SocketAddr,
    forwarded_by: Option<&header::HeaderName>,
) -> std::net::IpAddr {
    forwarded_by
        .and_then(|name| headers.get_all(name).iter().next_back())
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.rsplit(',').next())
        .and_then(|last| last.trim().parse().ok())
        .unwrap_or(peer.ip())
}

/// Whether the Accept header lists `media` (with a weight above 0).
fn accepts(headers: &HeaderMap, media: &str) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let matches = parts.next().is_some_and(|m| m.eq_ignore_ascii_case(media));
            let weight = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            matches && weight > 0.0
        })
}

/// A request refused before it ran: errors and no `data`.
fn graphql_error(status: StatusCode, error: async_graphql::ServerError) -> Response {
    (status, axum::Json(serde_json::json!({ "errors": [error] }))).into_response()
}

/// The `extensions.code` of an error, for counting errors by code.
pub fn error_code(error: &async_graphql::ServerError) -> &str {
    match error.extensions.as_ref().and_then(|e| e.get("code")) {
        Some(async_graphql::Value::String(code)) => code,
        _ => "(uncoded)",
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let text = state.metrics.render(&state.services.db).await;
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
}

async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    if state.services.db.ping().await {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
    }
}
