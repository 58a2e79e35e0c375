use serde_json::json;

use crate::common::TestApp;

const SIGN_UP: &str =
    "mutation($input: SignUpInput!) { signUp(input: $input) { token user { id email name } } }";
const LOG_IN: &str =
    "mutation($input: LogInInput!) { logIn(input: $input) { token user { email } } }";
const VIEWER: &str = "{ viewer { user { email name } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_log_in_and_log_out() {
    let app = TestApp::spawn().await;
    let anonymous = app.anonymous();

    let data = anonymous
        .ok(SIGN_UP, json!({ "input": { "email": "  Ada@Example.COM ", "name": " Ada Lovelace ", "password": "analytical" } }))
        .await;
    assert_eq!(data["signUp"]["user"]["email"], "ada@example.com");
    assert_eq!(data["signUp"]["user"]["name"], "Ada Lovelace");
    let token = data["signUp"]["token"].as_str().unwrap();
    assert!(token.len() >= 43, "a 256-bit token: {token}");

    // The email is compared case-insensitively.
    let data = anonymous
        .ok(
            LOG_IN,
            json!({ "input": { "email": "ADA@example.com", "password": "analytical" } }),
        )
        .await;
    let second = anonymous.with_token(data["logIn"]["token"].as_str().unwrap());
    assert_ne!(second.token.as_deref(), Some(token));
    assert_eq!(
        second.ok(VIEWER, json!({})).await["viewer"]["user"]["email"],
        "ada@example.com"
    );

    assert_eq!(
        second.ok("mutation { logOut }", json!({})).await["logOut"],
        true
    );
    // The ended session is anonymous from its next request on...
    assert_eq!(
        second.ok(VIEWER, json!({})).await["viewer"],
        serde_json::Value::Null
    );
    assert_eq!(
        second.error_code("mutation { logOut }", json!({})).await,
        "UNAUTHENTICATED"
    );
    // ...while the sign-up session lives on.
    let first = anonymous.with_token(token);
    assert_eq!(
        first.ok(VIEWER, json!({})).await["viewer"]["user"]["name"],
        "Ada Lovelace"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_rejects_bad_input_and_duplicates() {
    let app = TestApp::spawn().await;
    let anonymous = app.anonymous();
    let sign_up = |email: &str, name: &str, password: &str| json!({ "input": { "email": email, "name": name, "password": password } });

    assert_eq!(
        anonymous
            .error_code(SIGN_UP, sign_up("ada@example.com", "Ada", "short"))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        anonymous
            .error_code(SIGN_UP, sign_up("not-an-email", "Ada", "long enough"))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        anonymous
            .error_code(SIGN_UP, sign_up("ada@example.com", "   ", "long enough"))
            .await,
        "BAD_USER_INPUT"
    );

    anonymous
        .ok(SIGN_UP, sign_up("ada@example.com", "Ada", "long enough"))
        .await;
    assert_eq!(
        anonymous
            .error_code(SIGN_UP, sign_up("ADA@example.com", "Ada 2", "long enough"))
            .await,
        "CONFLICT"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_look_the_same_whether_or_not_the_account_exists() {
    let app = TestApp::spawn().await;
    app.sign_up("ada@example.com").await;
    let anonymous = app.anonymous();

    let wrong_password = anonymous
        .query(
            LOG_IN,
            json!({ "input": { "email": "ada@example.com", "password": "wrong password" } }),
        )
        .await;
    let no_account = anonymous
        .query(
            LOG_IN,
            json!({ "input": { "email": "bob@example.com", "password": "wrong password" } }),
        )
        .await;
    assert_eq!(
        wrong_password["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    assert_eq!(
        wrong_password["errors"][0]["message"],
        no_account["errors"][0]["message"]
    );
    assert_eq!(
        wrong_password["errors"][0]["extensions"],
        no_account["errors"][0]["extensions"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_token_is_an_anonymous_request() {
    let app = TestApp::spawn().await;
    let forged = app.anonymous().with_token("forged");
    assert_eq!(
        forged.ok(VIEWER, json!({})).await["viewer"],
        serde_json::Value::Null
    );
    assert_eq!(
        forged
            .error_code(
                "mutation { createOrganization(input: {name: \"X\"}) { organization { id } } }",
                json!({})
            )
            .await,
        "UNAUTHENTICATED"
    );
}

/// `ë` written as one code point (NFC) and as `e` with a combining diaeresis
/// (NFD): one address, so one account, found by either.
const COMPOSED: &str = "Zo\u{00EB}@example.com";
const DECOMPOSED: &str = "zoe\u{0308}@example.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_composed_or_decomposed_is_one_account() {
    let app = TestApp::spawn().await;
    let anonymous = app.anonymous();
    let sign_up = |email: &str| json!({ "input": { "email": email, "name": "Zoë", "password": "long enough" } });

    let data = anonymous.ok(SIGN_UP, sign_up(DECOMPOSED)).await;
    assert_eq!(data["signUp"]["user"]["email"], "zo\u{00EB}@example.com");
    assert_eq!(
        anonymous.error_code(SIGN_UP, sign_up(COMPOSED)).await,
        "CONFLICT"
    );
    for email in [COMPOSED, DECOMPOSED] {
        let data = anonymous
            .ok(
                LOG_IN,
                json!({ "input": { "email": email, "password": "long enough" } }),
            )
            .await;
        assert_eq!(
            data["logIn"]["user"]["email"], "zo\u{00EB}@example.com",
            "{email:?}"
        );
    }
    // Lower-casing a composed capital can leave a text that composes
    // further: J + caron is stored as the one code point ǰ.
    let data = anonymous
        .ok(SIGN_UP, sign_up("J\u{030C}ANE@example.com"))
        .await;
    assert_eq!(data["signUp"]["user"]["email"], "\u{01F0}ane@example.com");
    let data = anonymous
        .ok(
            LOG_IN,
            json!({ "input": { "email": "\u{01F0}ane@example.com", "password": "long enough" } }),
        )
        .await;
    assert_eq!(data["logIn"]["user"]["email"], "\u{01F0}ane@example.com");
}
