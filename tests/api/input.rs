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

/// Names are one line of visible text: a line break, a bidirectional
/// control or a zero-width character in one is refused, naming the field
/// and the character, in every name a client sets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_is_one_line_of_visible_text() {
    let app = TestApp::spawn().await;
    let (owner, _ada, org, _) = owner_and_ada(&app).await;
    let anonymous = app.anonymous();
    let sign_up = "mutation($name: String!) { signUp(input: {email: \"new@example.com\", name: $name, password: \"password123\"}) { user { name } } }";
    let create = "mutation($name: String!) { createOrganization(input: {name: $name}) { organization { name } } }";
    let rename = "mutation($org: ID!, $name: String!) { updateOrganization(input: {organizationId: $org, name: $name}) { organization { name } } }";
    let key = "mutation($org: ID!, $name: String!) { createServiceKey(input: {organizationId: $org, name: $name}) { serviceKey { name } } }";
    let fields: [(&crate::common::Client, &str, &str); 4] = [
        (&anonymous, sign_up, "signUp"),
        (&owner, create, "createOrganization"),
        (&owner, rename, "updateOrganization"),
        (&owner, key, "createServiceKey"),
    ];
    for (client, mutation, _) in fields {
        for (text, code_point) in [
            ("Ada\nLovelace", "U+000A (a line break)"),
            ("Ada\r", "U+000D (a line break)"),
            ("txt.\u{202E}exe", "U+202E (a bidirectional control)"),
            ("Ad\u{200B}min", "U+200B (an invisible character)"),
        ] {
            let body = client
                .query(mutation, json!({ "org": org, "name": text }))
                .await;
            let error = &body["errors"][0];
            assert_eq!(
                error["extensions"],
                json!({ "code": "BAD_USER_INPUT", "field": "name" }),
                "{body}"
            );
            let message = error["message"].as_str().unwrap();
            assert!(
                message.contains("name contains ")
                    && message.contains(code_point)
                    && message.ends_with("names are one line of visible text"),
                "{message}"
            );
        }
    }
    let unchanged = owner
        .ok(
            "query($org: ID!) { organization(id: $org) { name serviceKeys { totalCount } } }",
            json!({ "org": org }),
        )
        .await;
    assert_eq!(
        unchanged["organization"],
        json!({ "name": "Acme", "serviceKeys": { "totalCount": 0 } })
    );

    // Accents, emoji, and the joiners and selectors emoji are made of.
    let fine = "Zoë Ångström-Çelik 🎉 ❤\u{FE0F} \u{1F469}\u{200D}\u{1F4BB}";
    for (client, mutation, root) in fields {
        let data = client
            .ok(mutation, json!({ "org": org, "name": fine }))
            .await;
        let named = data[root].as_object().unwrap().values().next().unwrap();
        assert_eq!(named["name"], fine, "{root}");
    }
}
