//! GraphQL over HTTP: the request extractor (GET query strings, JSON and
//! multipart bodies, within limits), the rule against cross-site request
//! forgery, content negotiation, and GraphiQL for browsers.

use std::net::SocketAddr;
use std::time::Instant;

use async_graphql::ParseRequestError;
use async_graphql::http::MultipartOptions;
use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::assets;
use super::client_address::client_ip;
use super::principal;
use super::refusal::{Refusal, error_code, graphql_error, retry_after};
use super::state::AppState;
use crate::graphql::{RequestContext, code_uncoded, request_error};

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
                return Err(Refusal::bad_request(
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
        if let Err(refusal) = refuse_cross_site(content_type.as_deref(), request.headers()) {
            // Read what the client is still sending (up to the limit) before
            // answering: a connection closed on an unread body is reset, and
            // the client sees a broken pipe instead of the refusal.
            let _ = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES).await;
            return Err(refusal);
        }
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
            other => Refusal::bad_request(
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
            true => Err(Refusal::bad_request(
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
        Refusal::bad_request(
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
/// subscription. A request that does not parse (or nests too deep to) is
/// left to the limits and execution, which report why.
fn changes_state(request: &async_graphql::Request) -> bool {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    let Ok(document) = crate::graphql::parse_document(&request.query) else {
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
        "multipart/form-data" => Err(Refusal::bad_request(
            StatusCode::BAD_REQUEST,
            "a multipart request needs a GraphQL-Preflight header (any value)".into(),
        )),
        _ => Err(Refusal::bad_request(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send GraphQL as Content-Type: application/json (or a multipart upload)".into(),
        )),
    }
}

/// Headers a cross-site form cannot send; any of them marks a deliberate client.
const PREFLIGHT_HEADERS: [&str; 2] = ["graphql-preflight", "apollo-require-preflight"];

/// Browsers get GraphiQL; other clients run the query (GraphQL over HTTP).
pub async fn graphql_get(
    state: State<AppState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Result<GraphQLRequest, Refusal>,
) -> Response {
    if accepts(&headers, "text/html") {
        return assets::graphiql();
    }
    match request {
        Ok(request) => graphql(state, peer, headers, request).await,
        Err(refusal) => refusal.into_response(),
    }
}

pub async fn graphql(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    let started = Instant::now();
    let mut request = request.into_inner();
    // Limits first: an abusive query is refused before any database work.
    let admitted = state.limits.admit(&mut request, &state.services.documents);
    let principal = match (&admitted, principal::header_token(&headers)) {
        (Ok(_), Some(token)) => match principal::authenticate(&state, token).await {
            Ok(principal) => principal,
            Err(error) => {
                let error = request_error(error.into());
                return graphql_error(StatusCode::SERVICE_UNAVAILABLE, error);
            }
        },
        _ => None,
    };
    let (operation, mut response) = match admitted {
        Ok(operation) => {
            let client = client_ip(&headers, peer, state.client_ip_header.as_ref());
            let context = RequestContext::new(&state.services, principal, Some(client));
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
        user_id = principal.and_then(|p| p.user_id()),
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
/// Either way an answer that met an outage is a 503 with `Retry-After`, so
/// that clients and proxies retry it.
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
    let retry = retry_after(&response.errors);
    let status = match retry {
        Some(_) => StatusCode::SERVICE_UNAVAILABLE,
        None => status,
    };
    match body {
        Ok(body) => {
            let mut response =
                (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
            if let Some(seconds) = retry {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, seconds.into());
            }
            response
        }
        Err(error) => {
            tracing::error!(%error, "cannot serialize a GraphQL response");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
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
