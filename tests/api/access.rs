use orgql::domain::Role;
use serde_json::{Value, json};

use crate::common::TestApp;

const ORG_BY_ID: &str = "query($id: ID!) { organization(id: $id) { name } }";
const ORG_BY_SLUG: &str = "query($slug: String!) { organization(slug: $slug) { name } }";
const NODE: &str = "query($id: ID!) { node(id: $id) { id __typename } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outsiders_cannot_tell_an_organization_exists() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@example.com").await;
    let org = owner.create_org("Acme").await;
    let members = owner
        .ok(
            "query($id: ID!) { organization(id: $id) { owner { id user { id } } } }",
            json!({ "id": org }),
        )
        .await;
    let owner_member_id = members["organization"]["owner"]["id"].clone();
    let owner_user_id = members["organization"]["owner"]["user"]["id"].clone();

    let outsider = app.sign_up("eve@example.com").await;
    assert_eq!(
        outsider.ok(ORG_BY_ID, json!({ "id": org })).await["organization"],
        Value::Null
    );
    assert_eq!(
        outsider.ok(ORG_BY_SLUG, json!({ "slug": "acme" })).await["organization"],
        Value::Null
    );
    for id in [json!(org), owner_member_id.clone(), owner_user_id.clone()] {
        assert_eq!(
            outsider.ok(NODE, json!({ "id": id })).await["node"],
            Value::Null,
            "node({id})"
        );
    }
    // An unknown organization looks exactly the same.
    let unknown = json!(orgql::ids::encode(orgql::ids::Kind::Organization, 999_999));
    assert_eq!(
        outsider.ok(ORG_BY_ID, json!({ "id": unknown })).await["organization"],
        Value::Null
    );

    let anonymous = app.anonymous();
    assert_eq!(
        anonymous.error_code(ORG_BY_ID, json!({ "id": org })).await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        anonymous.error_code(NODE, json!({ "id": org })).await,
        "UNAUTHENTICATED"
    );

    // The same objects, reached by a member, directly and through node(id).
    let member = app.sign_up("ada@example.com").await;
    app.join(&org, &member, Role::Member).await;
    assert_eq!(
        member.ok(ORG_BY_SLUG, json!({ "slug": "acme" })).await["organization"]["name"],
        "Acme"
    );
    let expected = [
        (json!(org), "Organization"),
        (owner_member_id, "Member"),
        (owner_user_id, "User"),
    ];
    for (id, typename) in expected {
        let node = member.ok(NODE, json!({ "id": id })).await["node"].clone();
        assert_eq!(node, json!({ "id": id, "__typename": typename }));
    }
    assert_eq!(
        member.error_code(NODE, json!({ "id": "bm9wZQ" })).await,
        "BAD_USER_INPUT"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credits_and_seats_show_to_the_member_and_to_billing() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@example.com").await;
    let org = owner.create_org("Acme").await;
    let manager = app.sign_up("manager@example.com").await;
    let member = app.sign_up("member@example.com").await;
    app.join(&org, &manager, Role::Manager).await;
    app.join(&org, &member, Role::Member).await;

    let query = r#"query($id: ID!) { organization(id: $id) { viewerRole viewerPermissions
        members(first: 10, orderBy: {field: EMAIL, direction: ASC}) { nodes { credits seat user { email } } } } }"#;
    let billing = |client: &crate::common::Client| {
        let client = client.clone();
        let org = org.clone();
        async move {
            let data = client.ok(query, json!({ "id": org })).await["organization"].clone();
            let seen: Vec<(String, Value)> = data["members"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| {
                    (
                        n["user"]["email"].as_str().unwrap().to_owned(),
                        n["seat"].clone(),
                    )
                })
                .collect();
            (data["viewerRole"].clone(), seen)
        }
    };
    let all_visible = vec![
        ("manager@example.com".to_owned(), json!("NONE")),
        ("member@example.com".to_owned(), json!("NONE")),
        ("owner@example.com".to_owned(), json!("NONE")),
    ];
    assert_eq!(billing(&owner).await, (json!("OWNER"), all_visible.clone()));
    assert_eq!(billing(&manager).await, (json!("MANAGER"), all_visible));
    let own_only = vec![
        ("manager@example.com".to_owned(), Value::Null),
        ("member@example.com".to_owned(), json!("NONE")),
        ("owner@example.com".to_owned(), Value::Null),
    ];
    assert_eq!(billing(&member).await, (json!("MEMBER"), own_only));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizations_get_unique_valid_slugs() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@example.com").await;
    let create = "mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { organization { slug viewerRole } } }";

    let first = owner
        .ok(create, json!({ "input": { "name": "Acme Corp." } }))
        .await;
    assert_eq!(
        first["createOrganization"]["organization"],
        json!({ "slug": "acme-corp", "viewerRole": "OWNER" })
    );
    let second = owner
        .ok(create, json!({ "input": { "name": "ACME corp" } }))
        .await;
    assert_eq!(
        second["createOrganization"]["organization"]["slug"],
        "acme-corp-2"
    );
    assert_eq!(
        owner
            .error_code(
                create,
                json!({ "input": { "name": "X", "slug": "acme-corp" } })
            )
            .await,
        "CONFLICT"
    );
    assert_eq!(
        owner
            .error_code(
                create,
                json!({ "input": { "name": "X", "slug": "Not Valid" } })
            )
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        owner
            .error_code(create, json!({ "input": { "name": "  " } }))
            .await,
        "BAD_USER_INPUT"
    );
    let both = "query { organization(id: \"x\", slug: \"acme-corp\") { name } }";
    assert_eq!(owner.error_code(both, json!({})).await, "BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.text().await.unwrap(), "ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_get_graphiql_and_other_clients_get_answers_over_get() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    let page = client
        .get(&app.url)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("graphiql"));

    let answer = client
        .get(&app.url)
        .header("accept", "application/json")
        .query(&[("query", "{ viewer { user { id } } }")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.json::<Value>().await.unwrap(),
        json!({ "data": { "viewer": null } })
    );
}
