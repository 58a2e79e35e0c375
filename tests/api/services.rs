//! The product's services ask orgql: service keys, batched permission
//! checks answered from the database as of the request, and live changes.

use std::time::Duration;

use orgql::domain::{PERMISSION_TABLE, Role};
use serde_json::{Value, json};

use crate::common::{Client, TestApp, owner_and_ada};
use crate::fixtures::OidcProvider;
use crate::ws::WsClient;

const CHECK: &str = "query($checks: [PermissionCheckInput!]!) { checkPermissions(checks: $checks) { organizationId userId subject permission allowed role } }";
const CREATE_KEY: &str = "mutation($org: ID!, $name: String!) { createServiceKey(input: {organizationId: $org, name: $name}) { secret serviceKey { id name prefix createdBy { email } createdAt lastUsedAt revokedAt } } }";

/// A key of the organization, as a client, and the key as created.
async fn service_key(app: &TestApp, owner: &Client, org: &str) -> (Client, Value) {
    let created = owner
        .ok(CREATE_KEY, json!({ "org": org, "name": "jobs service" }))
        .await["createServiceKey"]
        .clone();
    let secret = created["secret"].as_str().unwrap();
    (app.anonymous().with_token(secret), created)
}

fn check(org: &str, user: &Value, permission: &str) -> Value {
    json!({ "organizationId": org, "userId": user, "permission": permission })
}

async fn checks(client: &Client, checks: Vec<Value>) -> Vec<Value> {
    client.ok(CHECK, json!({ "checks": checks })).await["checkPermissions"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_answers_as_the_permission_table_says() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@example.com").await;
    let org = owner.create_org("Acme").await;
    let mut people = vec![(Some(Role::Owner), owner.clone())];
    for role in [Role::Admin, Role::Manager, Role::Member] {
        let person = app
            .sign_up(&format!("{}@example.com", role.as_str().to_lowercase()))
            .await;
        app.join(&org, &person, role).await;
        people.push((Some(role), person));
    }
    people.push((None, app.sign_up("outsider@example.com").await));
    let (key, _) = service_key(&app, &owner, &org).await;

    // Generated from the one table in the code: every role, every permission.
    let mut asked = Vec::new();
    let mut expected = Vec::new();
    for (role, person) in &people {
        for (permission, _, holders) in PERMISSION_TABLE {
            asked.push(check(&org, &json!(person.user_id), permission.name()));
            let allowed = role.is_some_and(|role| holders.contains(&role));
            expected.push((
                json!(person.user_id),
                json!(permission.name()),
                json!(allowed),
                json!(role.map(Role::as_str)),
            ));
        }
    }
    let answered: Vec<(Value, Value, Value, Value)> = checks(&key, asked.clone())
        .await
        .into_iter()
        .map(|r| {
            assert_eq!(r["organizationId"], json!(org));
            (
                r["userId"].clone(),
                r["permission"].clone(),
                r["allowed"].clone(),
                r["role"].clone(),
            )
        })
        .collect();
    assert_eq!(answered, expected, "in the order asked");

    // The same over WebSocket, as a one-off operation.
    let secret = key.token.clone().unwrap();
    let mut socket = WsClient::signed_in(&app.url, &secret).await;
    socket
        .subscribe("check", CHECK, json!({ "checks": asked[..8] }))
        .await;
    let over_ws = socket.next("check").await;
    assert_eq!(
        over_ws["data"]["checkPermissions"]
            .as_array()
            .unwrap()
            .len(),
        8
    );
    assert_eq!(over_ws["data"]["checkPermissions"][0]["allowed"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_change_is_seen_by_the_very_next_check() {
    let app = TestApp::spawn().await;
    let (owner, ada, org, ada_member) = owner_and_ada(&app).await;
    let (key, _) = service_key(&app, &owner, &org).await;
    let ask = vec![check(&org, &json!(ada.user_id), "MANAGE_MEMBERS")];
    assert_eq!(checks(&key, ask.clone()).await[0]["allowed"], false);

    let second = app.second_instance_url().await;
    for (role, allowed) in [("ADMIN", true), ("MEMBER", false), ("ADMIN", true)] {
        owner
            .ok(
                "mutation($m: ID!, $r: AssignableRole!) { updateMemberRole(input: {memberId: $m, role: $r}) { member { id } } }",
                json!({ "m": ada_member, "r": role }),
            )
            .await;
        let seen = checks(&key, ask.clone()).await;
        assert_eq!(
            (seen[0]["allowed"].clone(), seen[0]["role"].clone()),
            (json!(allowed), json!(role))
        );
        // On PostgreSQL, another instance sees it at once too.
        if let Some(second) = &second {
            let there = key.at(second);
            let seen = checks(&there, ask.clone()).await;
            assert_eq!(seen[0]["allowed"], json!(allowed), "on the second instance");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_key_reaches_its_own_organization_only() {
    let app = TestApp::spawn().await;
    let (owner, ada, org, ada_member) = owner_and_ada(&app).await;
    owner
        .ok(
            "mutation($org: ID!, $m: ID!) { addCredits(input: {organizationId: $org, amount: 50}) { organization { id } } distributeCredits(input: {memberId: $m, amount: 7}) { member { id } } }",
            json!({ "org": org, "m": ada_member }),
        )
        .await;
    let other_owner = app.sign_up("other@example.com").await;
    let other_org = other_owner.create_org("Other").await;
    let (key, _) = service_key(&app, &owner, &org).await;

    // Its organization, members and their credits included.
    let read = key
        .ok(
            "query($org: ID!) { viewer { user { id } } organization(id: $org) { name viewerRole viewerPermissions creditPool { available } members(orderBy: {field: EMAIL, direction: ASC}) { totalCount nodes { role credits user { email } } } } }",
            json!({ "org": org }),
        )
        .await;
    assert_eq!(read["viewer"], Value::Null, "a key is no viewer");
    let organization = &read["organization"];
    assert_eq!(organization["name"], "Acme");
    assert_eq!(
        organization["viewerPermissions"],
        json!(["VIEW_BILLING", "VIEW_MEMBERS"])
    );
    assert_eq!(organization["creditPool"]["available"], 43);
    assert_eq!(organization["members"]["totalCount"], 2);
    assert_eq!(organization["members"]["nodes"][0]["credits"], 7);
    let ada_node = key
        .ok(
            "query($id: ID!) { node(id: $id) { ... on User { email } } }",
            json!({ "id": ada.user_id }),
        )
        .await;
    assert_eq!(ada_node["node"]["email"], "ada@example.com");
    // Not what needs more than reading: the audit log, invitations, keys.
    let audit = key
        .error_code(
            "query($org: ID!) { organization(id: $org) { auditLog { totalCount } } }",
            json!({ "org": org }),
        )
        .await;
    assert_eq!(audit, "FORBIDDEN");

    // Another organization is invisible, exactly as to a non-member.
    let other = key
        .ok(
            "query($org: ID!) { organization(id: $org) { name } }",
            json!({ "org": other_org }),
        )
        .await;
    assert_eq!(other["organization"], Value::Null);
    let outside = key
        .error_code(
            CHECK,
            json!({ "checks": [check(&other_org, &json!(other_owner.user_id), "VIEW_MEMBERS")] }),
        )
        .await;
    assert_eq!(outside, "FORBIDDEN");

    // Every mutation refuses it.
    for mutation in [
        "mutation($m: ID!) { updateMemberRole(input: {memberId: $m, role: ADMIN}) { member { id } } }",
        "mutation($m: ID!) { removeMember(input: {memberId: $m}) { creditsReturned } }",
        "mutation { createOrganization(input: {name: \"Mine\"}) { organization { id } } }",
        "mutation { logOut }",
    ] {
        assert_eq!(
            key.error_code(mutation, json!({ "m": ada_member })).await,
            "FORBIDDEN",
            "{mutation}"
        );
    }

    // It watches its organization's changes live, like a member.
    let secret = key.token.clone().unwrap();
    let mut live = WsClient::signed_in(&app.url, &secret).await;
    live.subscribe(
        "org",
        "subscription($org: ID!) { organizationMembershipChanged(organizationId: $org) { kind userId role member { credits } } }",
        json!({ "org": org }),
    )
    .await;
    owner
        .ok(
            "mutation($m: ID!) { updateMemberRole(input: {memberId: $m, role: MANAGER}) { member { id } } }",
            json!({ "m": ada_member }),
        )
        .await;
    let event = live.next("org").await["data"]["organizationMembershipChanged"].clone();
    assert_eq!(
        (event["userId"].clone(), event["role"].clone()),
        (json!(ada.user_id), json!("MANAGER"))
    );
    assert_eq!(event["member"]["credits"], 7);
    live.send(json!({ "type": "subscribe", "id": "mine", "payload": { "query": "subscription { viewerMembershipChanged { kind } }" } })).await;
    let refused = live.recv().await;
    assert_eq!(
        (
            refused["type"].clone(),
            refused["payload"][0]["extensions"]["code"].clone()
        ),
        (json!("error"), json!("FORBIDDEN"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_key_works_on_the_next_request_and_closes_its_sockets() {
    let app = TestApp::spawn().await;
    let (owner, ada, org, _) = owner_and_ada(&app).await;
    let (key, created) = service_key(&app, &owner, &org).await;
    let secret = created["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("orgql_sk_") && secret.len() >= 9 + 43,
        "{secret}"
    );
    let shown = &created["serviceKey"];
    assert!(secret.starts_with(shown["prefix"].as_str().unwrap()));
    assert!(
        shown["prefix"].as_str().unwrap().len() < 20,
        "only the first characters are kept"
    );
    assert_eq!(shown["createdBy"]["email"], "owner@example.com");
    assert_eq!(shown["lastUsedAt"], Value::Null);

    // Only MANAGE_ORGANIZATION makes keys.
    let refused = ada
        .query(CREATE_KEY, json!({ "org": org, "name": "mine" }))
        .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["permission"],
        "MANAGE_ORGANIZATION"
    );

    checks(&key, vec![check(&org, &json!(ada.user_id), "VIEW_MEMBERS")]).await;
    let mut live = WsClient::signed_in(&app.url, secret).await;
    // Its use is recorded, without a write per request.
    let listed = "query($org: ID!) { organization(id: $org) { serviceKeys { totalCount nodes { id name prefix lastUsedAt revokedAt } } } }";
    let mut used = Value::Null;
    for _ in 0..50 {
        used = owner.ok(listed, json!({ "org": org })).await["organization"]["serviceKeys"].clone();
        if !used["nodes"][0]["lastUsedAt"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(used["totalCount"], 1);
    assert!(used["nodes"][0]["lastUsedAt"].is_string(), "{used}");
    assert!(
        !used.to_string().contains(secret),
        "the secret is never shown again"
    );

    let revoked = owner
        .ok(
            "mutation($k: ID!) { revokeServiceKey(input: {serviceKeyId: $k}) { serviceKey { revokedAt } } }",
            json!({ "k": shown["id"] }),
        )
        .await;
    assert!(revoked["revokeServiceKey"]["serviceKey"]["revokedAt"].is_string());
    assert_eq!(live.closed().await.0, 4403, "its socket closes");
    let after = key
        .error_code(
            CHECK,
            json!({ "checks": [check(&org, &json!(ada.user_id), "VIEW_MEMBERS")] }),
        )
        .await;
    assert_eq!(after, "UNAUTHENTICATED", "on the very next request");

    let audit = owner
        .ok("query($org: ID!) { organization(id: $org) { auditLog { nodes { action actor { email } } } } }", json!({ "org": org }))
        .await;
    let actions: Vec<&str> = audit["organization"]["auditLog"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["action"].as_str())
        .collect();
    assert_eq!(
        &actions[..2],
        ["service_key.revoked", "service_key.created"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_checks_in_one_call_in_constant_statements_and_no_more() {
    let app = TestApp::spawn().await;
    let (owner, ada, org, _) = owner_and_ada(&app).await;
    let (key, _) = service_key(&app, &owner, &org).await;
    let one = vec![check(&org, &json!(ada.user_id), "VIEW_MEMBERS")];
    // Warm up, and let the key's last use be written (it is, once a minute).
    checks(&key, one.clone()).await;
    let last_used =
        "query($org: ID!) { organization(id: $org) { serviceKeys { nodes { lastUsedAt } } } }";
    for _ in 0..50 {
        let keys = owner.ok(last_used, json!({ "org": org })).await;
        if !keys["organization"]["serviceKeys"]["nodes"][0]["lastUsedAt"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (for_one, _) = app
        .statements_of(async || checks(&key, one.clone()).await)
        .await;

    let hundred: Vec<Value> = (0..100)
        .map(|n| {
            let who = if n % 2 == 0 {
                &ada.user_id
            } else {
                &owner.user_id
            };
            check(
                &org,
                &json!(who),
                ["VIEW_MEMBERS", "MANAGE_MEMBERS"][n % 4 / 2],
            )
        })
        .collect();
    let (for_hundred, answered) = app
        .statements_of(async || checks(&key, hundred.clone()).await)
        .await;
    assert_eq!(answered.len(), 100);
    assert_eq!(answered[2]["allowed"], false, "ada may not manage members");
    assert_eq!(answered[3]["allowed"], true, "the owner may");
    assert_eq!(for_hundred, for_one, "a constant number of SQL statements");

    let mut too_many = hundred;
    too_many.push(check(&org, &json!(ada.user_id), "VIEW_MEMBERS"));
    assert_eq!(
        key.error_code(CHECK, json!({ "checks": too_many })).await,
        "LIMIT_EXCEEDED"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_user_checks_only_themselves() {
    let app = TestApp::spawn().await;
    let (owner, ada, org, _) = owner_and_ada(&app).await;
    let elsewhere = app
        .sign_up("eve@example.com")
        .await
        .create_org("Elsewhere")
        .await;
    let mine = checks(
        &ada,
        vec![
            check(&org, &json!(ada.user_id), "VIEW_MEMBERS"),
            check(&elsewhere, &json!(ada.user_id), "VIEW_MEMBERS"),
        ],
    )
    .await;
    assert_eq!(
        (mine[0]["allowed"].clone(), mine[0]["role"].clone()),
        (json!(true), json!("MEMBER"))
    );
    assert_eq!(
        (mine[1]["allowed"].clone(), mine[1]["role"].clone()),
        (json!(false), Value::Null)
    );
    let someone_else = ada
        .error_code(
            CHECK,
            json!({ "checks": [check(&org, &json!(owner.user_id), "VIEW_MEMBERS")] }),
        )
        .await;
    assert_eq!(someone_else, "FORBIDDEN");
    let both = ada
        .error_code(CHECK, json!({ "checks": [{ "organizationId": org, "userId": ada.user_id, "subject": "x", "permission": "VIEW_MEMBERS" }] }))
        .await;
    assert_eq!(both, "BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_by_the_identity_providers_subject() {
    let provider = OidcProvider::start();
    let issuer = provider.issuer.clone();
    let app = TestApp::spawn_configured(|config| {
        config.oidc_issuer = Some(issuer);
        config.oidc_audience = Some("orgql-test".into());
    })
    .await;
    for _ in 0..100 {
        if app.get("/readyz").await.status() == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let owner = app.sign_up("owner@example.com").await;
    let org = owner.create_org("Acme").await;
    let token = provider
        .token_for(
            "judy-sub",
            json!({ "email": "judy@example.com", "email_verified": true, "name": "Judy" }),
        )
        .await;
    let mut judy = app.anonymous().with_token(&token);
    judy.user_id = judy.ok("{ viewer { user { id } } }", json!({})).await["viewer"]["user"]["id"]
        .as_str()
        .map(str::to_owned);
    app.join(&org, &judy, Role::Manager).await;
    let (key, _) = service_key(&app, &owner, &org).await;
    let by_subject = |sub: &str, permission: &str| json!({ "organizationId": org, "subject": sub, "permission": permission });
    let answered = checks(
        &key,
        vec![
            by_subject("judy-sub", "UPDATE_MEMBERS"),
            by_subject("judy-sub", "MANAGE_MEMBERS"),
            by_subject("nobody-sub", "VIEW_MEMBERS"),
        ],
    )
    .await;
    assert_eq!(
        (
            answered[0]["allowed"].clone(),
            answered[0]["role"].clone(),
            answered[0]["subject"].clone(),
            answered[0]["userId"].clone()
        ),
        (
            json!(true),
            json!("MANAGER"),
            json!("judy-sub"),
            json!(judy.user_id)
        )
    );
    assert_eq!(answered[1]["allowed"], false);
    assert_eq!(
        (
            answered[2]["allowed"].clone(),
            answered[2]["userId"].clone(),
            answered[2]["role"].clone()
        ),
        (json!(false), Value::Null, Value::Null),
        "an unknown subject is not allowed"
    );
    // Judy may check herself by her subject.
    let herself = checks(&judy, vec![by_subject("judy-sub", "VIEW_MEMBERS")]).await;
    assert_eq!(herself[0]["allowed"], true);
}
