//! The router: `POST/GET /graphql`, `GET /healthz`, `GET /readyz`.

use std::time::Instant;

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::auth::{self, Viewer};
use crate::db::Db;
use crate::events::EventBus;
use crate::graphql::{OrgSchema, RequestContext};

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub events: EventBus,
    pub schema: OrgSchema,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(state)
}

/// Browsers get GraphiQL; other clients run the query (GraphQL over HTTP).
async fn graphql_get(
    state: State<AppState>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html {
        return Html(GraphiQLSource::build().endpoint("/graphql").finish()).into_response();
    }
    graphql(state, headers, request).await.into_response()
}

async fn graphql(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    let started = Instant::now();
    let viewer = match bearer_viewer(&state.db, &headers).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let request = request.into_inner();
    let operation = request.operation_name.clone().unwrap_or_default();
    let response = state
        .schema
        .execute(request.data(RequestContext::new(&state.db, &state.events, viewer)))
        .await;
    tracing::info!(
        operation = %operation,
        user_id = viewer.map(|v| v.user_id),
        errors = response.errors.len(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "graphql"
    );
    GraphQLResponse::from(response).into_response()
}

/// The viewer of `Authorization: Bearer <token>`; None without a header or
/// with a token that is not a live session (the contract's `viewer: null`).
async fn bearer_viewer(db: &Db, headers: &HeaderMap) -> Result<Option<Viewer>, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else { return Ok(None) };
    auth::authenticate(db, token).await.map_err(|error| {
        let error: async_graphql::Error = error.into();
        graphql_error(
            StatusCode::SERVICE_UNAVAILABLE,
            error.into_server_error(Default::default()),
        )
    })
}

fn graphql_error(status: StatusCode, error: async_graphql::ServerError) -> Response {
    let body = async_graphql::Response::from_errors(vec![error]);
    (status, axum::Json(body)).into_response()
}

async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    if state.db.ping().await {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
    }
}
