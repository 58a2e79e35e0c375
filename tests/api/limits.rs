//! Query limits refuse abusive documents before anything runs, with
//! LIMIT_EXCEEDED; ordinary queries and GraphiQL's introspection pass.

use serde_json::json;

use crate::common::{TestApp, owner_and_ada};

/// GraphiQL's introspection query (graphql-js `getIntrospectionQuery`, with
/// descriptions, directives' repeatability and deprecated input fields).
pub const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description isRepeatable locations args(includeDeprecated: true) { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description specifiedByURL
  fields(includeDeprecated: true) {
    name description args(includeDeprecated: true) { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason
  }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue {
  name description type { ...TypeRef } defaultValue isDeprecated deprecationReason
}
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_introspection_passes_the_default_limits() {
    let app = TestApp::spawn().await;
    let data = app.anonymous().ok(INTROSPECTION, json!({})).await;
    let types = data["__schema"]["types"].as_array().unwrap();
    assert!(types.iter().any(|t| t["name"] == "Organization"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_limit_queries_are_refused_before_they_run() {
    let app = TestApp::spawn().await;
    let (owner, _, org, _) = owner_and_ada(&app).await;
    let refused = |body: serde_json::Value, what: &str| {
        assert_eq!(body["data"], serde_json::Value::Null, "{what}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
            "{what}: {body}"
        );
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(what),
            "{what}: {body}"
        );
    };

    // Depth 13: a member's organization's owner's organization …
    let nest = |levels: usize| {
        let mut query = "id".to_owned();
        for _ in 0..levels {
            query = format!("organization {{ owner {{ {query} }} }}");
        }
        query
    };
    let deep = format!(
        "query($org: ID!) {{ organization(id: $org) {{ members(first: 1) {{ edges {{ node {{ {} }} }} }} }} }}",
        nest(4)
    );
    refused(owner.query(&deep, json!({ "org": org })).await, "depth");

    // Complexity: 100 memberships' organizations of 100 members each.
    let wide = "{ viewer { memberships(first: 100) { edges { node { organization { members(first: 100) { edges { node { role user { email name } } } } } } } } } }";
    refused(owner.query(wide, json!({})).await, "complexity");

    // Aliases and root fields.
    let aliases: String = (0..31).map(|n| format!("a{n}: __typename ")).collect();
    refused(
        owner.query(&format!("{{ {aliases} }}"), json!({})).await,
        "aliases",
    );
    let roots = "{ __typename ".to_owned() + &"viewer { __typename } ".repeat(21) + "}";
    refused(owner.query(&roots, json!({})).await, "root fields");

    // The query text itself.
    let padded = format!("{{ __typename }}#{}", "x".repeat(32 * 1024));
    refused(owner.query(&padded, json!({})).await, "bytes");

    // What a frontend asks for still passes: a full page of members.
    let page = "query($org: ID!) { organization(id: $org) { members(first: 100) { totalCount edges { cursor node { id role permissions credits joinedAt user { id email name } } } pageInfo { hasNextPage endCursor } } } }";
    let data = owner.ok(page, json!({ "org": org })).await;
    assert_eq!(data["organization"]["members"]["totalCount"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_follow_the_configuration() {
    let app = TestApp::spawn_configured(|c| {
        c.max_query_depth = 5;
        c.max_query_complexity = 50;
    })
    .await;
    let owner = app.sign_up("owner@example.com").await;
    let org = owner.create_org("Acme").await;
    let five_deep =
        "query($org: ID!) { organization(id: $org) { owner { organization { owner { role } } } } }";
    owner.ok(five_deep, json!({ "org": org })).await;
    let six_deep = "query($org: ID!) { organization(id: $org) { owner { organization { owner { organization { name } } } } } }";
    assert_eq!(
        owner.error_code(six_deep, json!({ "org": org })).await,
        "LIMIT_EXCEEDED"
    );
    // first: $n is read from the variables: 60 nodes cost more than 50.
    let page = "query($org: ID!, $n: Int) { organization(id: $org) { members(first: $n) { edges { node { role } } } } }";
    owner.ok(page, json!({ "org": org, "n": 10 })).await;
    assert_eq!(
        owner.error_code(page, json!({ "org": org, "n": 60 })).await,
        "LIMIT_EXCEEDED"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_and_suggestions_can_be_turned_off() {
    let app = TestApp::spawn_configured(|c| c.introspection = false).await;
    let data = app.anonymous().ok(INTROSPECTION, json!({})).await;
    assert_eq!(data["__schema"], serde_json::Value::Null, "{data}");
    let typo = app
        .anonymous()
        .query("{ viewr { user { id } } }", json!({}))
        .await;
    let message = typo["errors"][0]["message"].as_str().unwrap();
    assert!(!message.contains("Did you mean"), "{message}");
    assert_eq!(typo["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    // Ordinary queries are unaffected.
    app.anonymous()
        .ok("{ viewer { user { id } } }", json!({}))
        .await;

    // With introspection on (the default), the typo gets a hint.
    let app = TestApp::spawn().await;
    let typo = app
        .anonymous()
        .query("{ viewr { user { id } } }", json!({}))
        .await;
    assert!(
        typo["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Did you mean"),
        "{typo}"
    );
}
