//! The router: `POST/GET /graphql`, `GET /graphql/ws`, GraphiQL's and the
//! console's pages, `GET /healthz`, `GET /readyz`, `GET /metrics`; and what
//! wraps every request: a request
//! id, a tracing span carrying it, a time limit, and CORS when configured.

use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::cors::CorsLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use super::refusal::Refusal;
use super::state::AppState;
use super::{assets, http, websocket};
use crate::domain::DomainError;
use crate::domain::lease_queue;
use crate::domain::outbox::Outbox;
use crate::domain::webhooks::Deliveries;
use crate::metrics::Readings;

/// Builds the router; `cors` is None when no origin is allowed.
pub fn router(state: AppState, request_timeout: Duration, cors: Option<CorsLayer>) -> Router {
    let routes = Router::new()
        .route("/graphql", get(http::graphql_get).post(http::graphql))
        .route("/graphql/ws", get(websocket::upgrade))
        .route("/graphql/assets/{name}", get(assets::graphiql_asset))
        .route("/", get(assets::home))
        .route("/console", get(assets::console))
        .route("/console/", get(assets::console))
        .route("/console/{*path}", get(assets::console_asset))
        .route("/invitations/accept", get(assets::console))
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
    // A 5xx is logged where its cause is known (an internal error in full,
    // an outage once per kind), not again per response here.
    let trace = TraceLayer::new_for_http()
        .make_span_with(request_span)
        .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG));
    routes
        .layer(trace)
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

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let db = &state.services.db;
    let counted = |what: &str, count: Result<i64, DomainError>| match count {
        Ok(count) => Some(count),
        Err(error) => {
            error.log_background(&format!("metrics: cannot count {what}"));
            None
        }
    };
    let readings = Readings {
        outbox_pending: counted("the outbox", lease_queue::pending::<Outbox>(db).await),
        webhooks_pending: counted(
            "webhook deliveries",
            lease_queue::pending::<Deliveries>(db).await,
        ),
        pool: db.pool_status(),
    };
    let text = state.metrics.render(readings);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
}

async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    if !state.services.db.ping().await {
        (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
    } else if state.provider.as_ref().is_some_and(|p| !p.is_ready()) {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the identity provider's keys are not loaded yet",
        )
    } else {
        (StatusCode::OK, "ready")
    }
}
