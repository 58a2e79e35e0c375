//! What crosses HTTP: only deliberate GraphQL clients may change anything.

use serde_json::{Value, json};

use crate::common::TestApp;

const SIGN_UP: &str = r#"mutation { signUp(input: {email: "csrf@example.com", name: "CSRF", password: "password123"}) { token } }"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_a_browser_could_send_cross_site_are_refused() {
    let app = TestApp::spawn().await;
    let http = reqwest::Client::new();
    let body = json!({ "query": SIGN_UP }).to_string();
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "text/plain;charset=UTF-8",
    ] {
        let response = http
            .post(&app.url)
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 415, "{content_type}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    }
    // A multipart request without a header no form can set is refused too.
    let form = reqwest::multipart::Form::new()
        .text("operations", body.clone())
        .text("map", "{}");
    let response = http.post(&app.url).multipart(form).send().await.unwrap();
    assert_eq!(response.status(), 400);
    // None of them ran.
    let log_in = r#"mutation { logIn(input: {email: "csrf@example.com", password: "password123"}) { token } }"#;
    assert_eq!(
        app.anonymous().error_code(log_in, json!({})).await,
        "UNAUTHENTICATED"
    );
    // JSON with a charset is the ordinary case.
    let response = http
        .post(&app.url)
        .header("content-type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_runs_queries_only() {
    let app = TestApp::spawn().await;
    let http = reqwest::Client::new();
    let get = |query: &str, operation: Option<&str>| {
        let mut params = vec![("query", query.to_owned())];
        if let Some(operation) = operation {
            params.push(("operationName", operation.to_owned()));
        }
        http.get(&app.url)
            .header("accept", "application/json")
            .query(&params)
            .send()
    };

    let refused = get(SIGN_UP, None).await.unwrap();
    assert_eq!(refused.status(), 405);
    assert_eq!(refused.headers()["allow"], "POST");
    let two = r#"query Me { viewer { user { id } } } mutation Join { logOut }"#;
    assert_eq!(get(two, Some("Join")).await.unwrap().status(), 405);
    let me = get(two, Some("Me")).await.unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(
        me.json::<Value>().await.unwrap(),
        json!({ "data": { "viewer": null } })
    );
    let log_in = r#"mutation { logIn(input: {email: "csrf@example.com", password: "password123"}) { token } }"#;
    assert_eq!(
        app.anonymous().error_code(log_in, json!({})).await,
        "UNAUTHENTICATED",
        "the GET sign-up did not run"
    );
}
