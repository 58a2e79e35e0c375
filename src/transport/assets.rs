//! The browser pages orgql serves itself, from files embedded in the binary
//! (see `build.rs`), so they need no internet and no Node toolchain:
//! GraphiQL at `GET /graphql` (for browsers) and the members console at
//! `/console`. Each page carries a content security policy that lets it
//! load nothing but orgql's own files.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

/// A file of a page.
pub struct Asset {
    pub path: &'static str,
    pub bytes: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// GraphiQL's policy: its own scripts, and the few inline styles its
/// libraries set, by hash (see assets/graphiql/README.md).
const GRAPHIQL_POLICY: &str = include_str!("../../assets/graphiql/content-security-policy");
const CONSOLE_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn find(assets: &'static [Asset], path: &str) -> Option<&'static Asset> {
    assets.iter().find(|asset| asset.path == path)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

/// A file with its type, its caching, and the page's policy.
fn serve(asset: &'static Asset, policy: &'static str, cache: &'static str) -> Response {
    let policy = HeaderValue::from_str(policy.trim()).expect("a policy is a header value");
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(asset.path)),
            ),
            (header::CONTENT_SECURITY_POLICY, policy),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        asset.bytes,
    )
        .into_response()
}

/// A page is never cached, so an upgrade's new asset names are seen at once.
const PAGE: &str = "no-cache";

/// GraphiQL, for a browser's `GET /graphql`.
pub fn graphiql() -> Response {
    serve(
        find(GRAPHIQL, "index.html").expect("listed"),
        GRAPHIQL_POLICY,
        PAGE,
    )
}

/// `GET /graphql/assets/{name}`: GraphiQL's files, whose names carry their
/// version, so they are cached for good. The page itself is not among
/// them (it is served only with its policy).
pub async fn graphiql_asset(Path(name): Path<String>) -> Response {
    match find(GRAPHIQL, &name).filter(|asset| asset.path != "index.html") {
        Some(asset) => serve(
            asset,
            GRAPHIQL_POLICY,
            "public, max-age=31536000, immutable",
        ),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The console's page, at `/console` and at the invitation link's path.
pub async fn console() -> Response {
    serve(
        find(CONSOLE, "index.html").expect("listed"),
        CONSOLE_POLICY,
        PAGE,
    )
}

/// `GET /console/{*path}`: the console's files (revalidated on every load,
/// like the page: their names do not change between versions).
pub async fn console_asset(Path(path): Path<String>) -> Response {
    match find(CONSOLE, &path) {
        Some(asset) => serve(asset, CONSOLE_POLICY, PAGE),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET /`: the console.
pub async fn home() -> Redirect {
    Redirect::to("/console")
}
