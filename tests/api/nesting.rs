//! No request can exhaust a stack: every recursive shape a request can
//! carry, nested from 100 to 100,000 deep, over HTTP POST, GET and a
//! WebSocket `subscribe`, is refused with an answer, and the server (a
//! process of its own, so a crash cannot hide in the test's own) answers
//! the next request.

use serde_json::{Value, json};

use crate::common::{Client, ScratchDatabase, ServerProcess};
use crate::ws::WsClient;

const DEPTHS: [usize; 4] = [100, 1_000, 10_000, 100_000];

/// A request nested `depth` deep: its query text and its variables as JSON
/// text (JSON nested that deep could not even be built as a `Value` here).
struct Shape {
    name: &'static str,
    build: fn(usize) -> (String, String),
}

fn nest(open: &str, inner: &str, close: &str, depth: usize) -> String {
    format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
}

const SHAPES: &[Shape] = &[
    Shape {
        name: "a list literal",
        build: |d| {
            let list = nest("[", "1", "]", d);
            (
                format!("{{ organization(slug: {list}) {{ id }} }}"),
                "{}".into(),
            )
        },
    },
    Shape {
        name: "an object literal",
        build: |d| {
            let object = nest("{a: ", "1", "}", d);
            (
                format!("{{ organization(slug: {object}) {{ id }} }}"),
                "{}".into(),
            )
        },
    },
    Shape {
        name: "an input object",
        build: |d| {
            let input = nest("{name: ", "\"x\"", "}", d);
            (
                format!(
                    "mutation {{ createOrganization(input: {input}) {{ organization {{ id }} }} }}"
                ),
                "{}".into(),
            )
        },
    },
    Shape {
        name: "selection sets",
        build: |d| (nest("{ viewer ", "{ id }", "}", d), "{}".into()),
    },
    Shape {
        name: "inline fragments",
        build: |d| {
            let fragments = nest("... on Query { ", "__typename", " }", d);
            (format!("{{ {fragments} }}"), "{}".into())
        },
    },
    Shape {
        name: "a directive's argument",
        build: |d| {
            let list = nest("[", "true", "]", d);
            (
                format!("{{ __typename @include(if: {list}) }}"),
                "{}".into(),
            )
        },
    },
    Shape {
        name: "a variable's list type",
        build: |d| {
            let ty = nest("[", "Int", "]", d);
            (format!("query($v: {ty}) {{ __typename }}"), "{}".into())
        },
    },
    Shape {
        name: "a chain of fragment spreads",
        build: |d| {
            let chain: String = (0..d)
                .map(|n| format!("fragment F{n} on Query {{ ...F{} }} ", n + 1))
                .collect();
            (
                format!("{{ ...F0 }} {chain} fragment F{d} on Query {{ __typename }}"),
                "{}".into(),
            )
        },
    },
    Shape {
        name: "variables",
        build: |d| {
            let list = nest("[", "1", "]", d);
            (
                "query($v: [Int]) { __typename }".into(),
                format!("{{\"v\": {list}}}"),
            )
        },
    },
];

/// Refused as the client's: a GraphQL error coded BAD_USER_INPUT or
/// LIMIT_EXCEEDED, or an HTTP refusal of the request itself.
fn assert_refused(status: u16, body: &str, what: &str) {
    if let Ok(body) = serde_json::from_str::<Value>(body) {
        let code = &body["errors"][0]["extensions"]["code"];
        assert!(
            code == "BAD_USER_INPUT" || code == "LIMIT_EXCEEDED",
            "{what}: {status} {body}"
        );
        assert!(body["data"].is_null(), "{what}: nothing ran: {body}");
    } else {
        assert!(
            (400..500).contains(&status),
            "{what}: refused as a client error, not {status}: {body:.200}"
        );
    }
}

async fn still_answers(url: &str, what: &str) {
    let answer: Value = reqwest::Client::new()
        .post(url)
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap_or_else(|e| panic!("after {what}, the server is gone: {e}"))
        .json()
        .await
        .unwrap();
    assert_eq!(answer["data"]["__typename"], "Query", "after {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_nesting_of_any_shape_or_depth_takes_the_server_down() {
    let database = ScratchDatabase::new();
    // Far above the default 32 KiB, so that nesting, not size, is what refuses.
    let server = ServerProcess::start(&database.url, &["--max-query-bytes", "4000000"]).await;
    let http = reqwest::Client::new();
    let deep = Client::anonymous_at(&server.url)
        .sign_up("deep@example.com")
        .await;
    let token = deep.token.unwrap();
    for shape in SHAPES {
        for depth in DEPTHS {
            let (query, variables) = (shape.build)(depth);
            let what = format!("{} {depth} deep", shape.name);

            let body = format!(
                "{{\"query\": {}, \"variables\": {variables}}}",
                Value::String(query.clone())
            );
            // A body past the server's 1 MiB may be answered (413) and the
            // connection closed while the client is still sending it.
            let oversized = body.len() > 1024 * 1024;
            let posted = http
                .post(&server.url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            match posted {
                Ok(posted) => {
                    let status = posted.status().as_u16();
                    let body = posted.text().await.unwrap();
                    assert_refused(status, &body, &format!("POST {what}"));
                }
                Err(_) if oversized => {}
                Err(e) => panic!("POST {what}: {e}"),
            }
            still_answers(&server.url, &format!("POST {what}")).await;

            let got = http
                .get(&server.url)
                .query(&[("query", query.as_str()), ("variables", variables.as_str())])
                .send()
                .await;
            // A URL too long for the server may be cut off rather than answered.
            if let Ok(got) = got {
                let status = got.status().as_u16();
                if status != 405 {
                    assert_refused(status, &got.text().await.unwrap(), &format!("GET {what}"));
                }
            }
            still_answers(&server.url, &format!("GET {what}")).await;

            let mut socket = WsClient::signed_in(&server.url, &token).await;
            socket
                .send_raw(&format!(
                    "{{\"type\": \"subscribe\", \"id\": \"1\", \"payload\": {{\"query\": {}, \"variables\": {variables}}}}}",
                    Value::String(query)
                ))
                .await;
            match socket.reply_or_close().await {
                Ok(reply) => {
                    assert_eq!(reply["type"], "error", "subscribe {what}: {reply}");
                    let code = &reply["payload"][0]["extensions"]["code"];
                    assert!(
                        code == "BAD_USER_INPUT" || code == "LIMIT_EXCEEDED",
                        "subscribe {what}: {reply}"
                    );
                }
                // JSON nested past serde_json's 128 levels is not a message;
                // a message past the frame limit is too big.
                Err((code, reason)) => assert!(
                    code == 4400 || code == 1009,
                    "subscribe {what}: closed {code} {reason}"
                ),
            }
            still_answers(&server.url, &format!("subscribe {what}")).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_for_nesting_names_what_and_where() {
    let database = ScratchDatabase::new();
    let server = ServerProcess::start(&database.url, &[]).await;
    let query = format!(
        "{{ organization(slug: {}) {{ id }} }}",
        nest("[", "1", "]", 100)
    );
    let client = Client::anonymous_at(&server.url);
    let answer = client.query(&query, json!({})).await;
    let error = &answer["errors"][0];
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{answer}");
    assert_eq!(error["extensions"]["limit"], 64, "{answer}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("nests deeper than 64") && m.contains("a list")),
        "{answer}"
    );
    // `{ organization(slug: ` is 21 characters; the 63rd `[` is the 65th bracket.
    assert_eq!(
        error["locations"],
        json!([{ "line": 1, "column": 21 + 63 }])
    );

    let variables =
        json!({ "v": serde_json::from_str::<Value>(&nest("[", "1", "]", 100)).unwrap() });
    let answer = client
        .query("query($v: [Int]) { __typename }", variables)
        .await;
    let error = &answer["errors"][0];
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{answer}");
    assert!(
        error["message"].as_str().is_some_and(|m| m.contains("$v")),
        "{answer}"
    );
}
