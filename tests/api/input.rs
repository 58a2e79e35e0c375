//! Bad text is refused cleanly, the same on both backends: control
//! characters in any input, over-long searches, addresses made to spoof,
//! and refusals that reach a client still sending its body.

use serde_json::{Value, json};

use crate::common::{TestApp, owner_and_ada};

fn refused_naming(body: &Value, field: &str) {
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    assert!(
        error["message"].as_str().is_some_and(|m| m.contains(field)),
        "the error names {field}: {body}"
    );
    assert!(body["data"].is_null(), "nothing ran: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_are_refused_in_every_text_input() {
    let app = TestApp::spawn().await;
    let (owner, _ada, org, _) = owner_and_ada(&app).await;
    let anonymous = app.anonymous();
    let nul = "Ada\u{0}Lovelace";
    let cases: Vec<(&crate::common::Client, &str, Value, &str)> = vec![
        (
            &anonymous,
            "mutation($i: SignUpInput!) { signUp(input: $i) { token } }",
            json!({ "i": { "email": "x@example.com", "name": nul, "password": "password123" } }),
            "i.name",
        ),
        (
            &anonymous,
            "mutation($i: LogInInput!) { logIn(input: $i) { token } }",
            json!({ "i": { "email": "owner\u{0}@example.com", "password": "password123" } }),
            "i.email",
        ),
        (
            &owner,
            "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { organization { id } } }",
            json!({ "i": { "name": nul } }),
            "i.name",
        ),
        (
            &owner,
            "mutation($org: ID!, $name: String) { updateOrganization(input: {organizationId: $org, name: $name}) { organization { id } } }",
            json!({ "org": org, "name": "\u{1b}[31mRed" }),
            "name",
        ),
        (
            &owner,
            "query($slug: String) { organization(slug: $slug) { id } }",
            json!({ "slug": "acme\u{0}" }),
            "slug",
        ),
        (
            &owner,
            "query($org: ID!, $q: String) { organization(id: $org) { members(query: $q) { totalCount } } }",
            json!({ "org": org, "q": "a\u{0}" }),
            "q",
        ),
        (
            &owner,
            "{ organization(slug: \"acme\\u0000\") { id } }",
            json!({}),
            "organization(slug)",
        ),
    ];
    for (client, query, variables, field) in cases {
        refused_naming(&client.query(query, variables).await, field);
    }
    // The organization is untouched, and the server fine.
    let name = owner
        .ok(
            "query($org: ID!) { organization(id: $org) { name } }",
            json!({ "org": org }),
        )
        .await;
    assert_eq!(name["organization"]["name"], "Acme");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_is_bounded_and_a_spoofing_address_refused() {
    let app = TestApp::spawn().await;
    let (owner, _ada, org, _) = owner_and_ada(&app).await;
    let members = "query($org: ID!, $q: String) { organization(id: $org) { members(query: $q) { totalCount } } }";
    let long = "a".repeat(49_999);
    let body = owner.query(members, json!({ "org": org, "q": long })).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    let fine = owner
        .ok(members, json!({ "org": org, "q": "a".repeat(254) }))
        .await;
    assert_eq!(fine["organization"]["members"]["totalCount"], 0);

    let invite = "mutation($org: ID!, $email: String!) { inviteMember(input: {organizationId: $org, email: $email, role: MEMBER}) { invitation { id } } }";
    for spoof in [
        "a\u{200b}\u{202e}b@example.com",
        "admin\u{2066}@example.com",
        "\u{feff}eve@example.com",
        "ev\u{00ad}e@example.com",
    ] {
        let code = owner
            .error_code(invite, json!({ "org": org, "email": spoof }))
            .await;
        assert_eq!(code, "BAD_USER_INPUT", "{spoof:?}");
    }
    let csv = "email,role\na\u{200b}b@example.com,member\n";
    let report = owner
        .ok("mutation($org: ID!, $csv: String!) { bulkInviteMembers(input: {organizationId: $org, csv: $csv, dryRun: true}) { rows { status } } }", json!({ "org": org, "csv": csv }))
        .await;
    assert_eq!(
        report["bulkInviteMembers"]["rows"][0]["status"],
        "INVALID_EMAIL"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_reaches_a_client_still_sending_its_body() {
    let app = TestApp::spawn().await;
    let http = reqwest::Client::new();
    let file = vec![b'x'; 512 * 1024];
    for _ in 0..10 {
        let form = reqwest::multipart::Form::new()
            .text("operations", r#"{"query":"{ __typename }"}"#)
            .text("map", "{}")
            .part(
                "0",
                reqwest::multipart::Part::bytes(file.clone()).file_name("big.csv"),
            );
        // No GraphQL-Preflight header: refused before the body is used.
        let response = http
            .post(&app.url)
            .multipart(form)
            .send()
            .await
            .expect("an answer, not a broken pipe");
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    }
}
