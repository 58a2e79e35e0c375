//! Signed webhooks from the same transaction as the change, delivered to a
//! real receiver that checks every message with the Standard Webhooks
//! reference verifier.

use std::collections::HashMap;
use std::time::Duration;

use orgql::domain::Role;
use serde_json::{Value, json};

use crate::common::{Client, ServerProcess, TestApp, owner_and_ada};
use crate::fixtures::WebhookReceiver;

const CREATE: &str = "mutation($org: ID!, $url: String!, $types: [String!]) { createWebhookEndpoint(input: {organizationId: $org, url: $url, eventTypes: $types}) { secret endpoint { id url eventTypes enabled } } }";
const DELIVERIES: &str = "query($org: ID!) { organization(id: $org) { webhookEndpoints(first: 5) { nodes { url deliveries(first: 50) { totalCount nodes { id messageId eventType status attempts lastResponseStatus lastError deliveredAt nextAttemptAt } } } } } }";
/// Each endpoint's latest delivery error, for many endpoints.
const LAST_ERRORS: &str = "query($org: ID!) { organization(id: $org) { webhookEndpoints(first: 20) { nodes { url deliveries(first: 1) { nodes { lastError } } } } } }";

async fn spawn() -> TestApp {
    TestApp::spawn_configured(|config| config.webhook_allow_private_networks = true).await
}

/// An endpoint of the organization at the receiver's `name`, configured
/// there with its secret and `behaviour`; returns the endpoint's ID.
async fn endpoint(
    owner: &Client,
    org: &str,
    receiver: &WebhookReceiver,
    name: &str,
    types: Value,
    behaviour: Value,
) -> String {
    let url = receiver.endpoint_url(name);
    let created = owner
        .ok(CREATE, json!({ "org": org, "url": url, "types": types }))
        .await["createWebhookEndpoint"]
        .clone();
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{secret}");
    receiver.configure(name, secret, behaviour).await;
    created["endpoint"]["id"].as_str().unwrap().to_owned()
}

fn body(delivery: &Value) -> &Value {
    assert_eq!(
        delivery["verified"], true,
        "verified by the reference verifier: {delivery}"
    );
    &delivery["body"]
}

fn types(deliveries: &[Value]) -> Vec<String> {
    deliveries
        .iter()
        .map(|d| body(d)["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_event_type_arrives_with_its_data() {
    let receiver = WebhookReceiver::start();
    let app = spawn().await;
    let (owner, ada, org, ada_member) = owner_and_ada(&app).await;
    // An endpoint for one type only, configured first: it sees nothing else.
    endpoint(
        &owner,
        &org,
        &receiver,
        "roles",
        json!(["member.role_changed"]),
        json!({}),
    )
    .await;
    endpoint(&owner, &org, &receiver, "all", json!([]), json!({})).await;

    owner.ok("mutation($org: ID!) { addCredits(input: {organizationId: $org, amount: 100}) { organization { id } } setSeatLimits(input: {organizationId: $org, standard: 2, pro: 1}) { organization { id } } }", json!({ "org": org })).await;
    owner.ok("mutation($m: ID!) { updateMemberRole(input: {memberId: $m, role: MANAGER}) { member { id } } distributeCredits(input: {memberId: $m, amount: 30}) { member { id } } assignSeat(input: {memberId: $m, seat: PRO}) { member { id } } }", json!({ "m": ada_member })).await;
    owner.ok("mutation($org: ID!) { inviteMember(input: {organizationId: $org, email: \"grace@example.com\", role: ADMIN}) { invitation { id } } }", json!({ "org": org })).await;
    let token = app
        .mailbox
        .invitations()
        .last_to("grace@example.com")
        .await
        .token();
    let grace = app.anonymous().ok("mutation($t: String!) { signUp(input: {email: \"grace@example.com\", name: \"Grace\", password: \"password123\", invitationToken: $t}) { token } }", json!({ "t": token })).await;
    assert!(grace["signUp"]["token"].is_string());
    owner
        .ok(
            "mutation($m: ID!) { removeMember(input: {memberId: $m}) { creditsReturned } }",
            json!({ "m": ada_member }),
        )
        .await;

    let expected = [
        "webhook_endpoint.created",
        "credits.added",
        "seats.limits_set",
        "member.role_changed",
        "credits.distributed",
        "seat.assigned",
        "member.invited",
        "member.joined",
        "member.removed",
    ];
    let all = receiver
        .wait_for("all", expected.len(), Duration::from_secs(10))
        .await;
    assert_eq!(types(&all), expected, "every change, in commit order");
    let by_type: HashMap<String, &Value> = all
        .iter()
        .map(|d| (body(d)["type"].as_str().unwrap().to_owned(), body(d)))
        .collect();

    let role_changed = &by_type["member.role_changed"];
    let data = &role_changed["data"];
    assert_eq!(data["organization"]["id"], json!(org));
    assert_eq!(data["organization"]["slug"], "acme");
    assert_eq!(data["actor"]["email"], "owner@example.com");
    assert_eq!(
        data["user"],
        json!({ "id": ada.user_id, "email": "ada@example.com" })
    );
    assert_eq!(data["member"]["id"], json!(ada_member));
    assert_eq!(
        (data["member"]["role"].clone(), data["previousRole"].clone()),
        (json!("MANAGER"), json!("MEMBER"))
    );
    assert!(role_changed["timestamp"].as_str().unwrap().ends_with('Z'));

    let removed = &by_type["member.removed"]["data"];
    assert_eq!(removed["user"]["email"], "ada@example.com");
    assert_eq!(removed["previousRole"], "MANAGER");
    assert_eq!(
        (
            removed["change"]["creditsReturned"].clone(),
            removed["change"]["seatReleased"].clone()
        ),
        (json!(30), json!("PRO"))
    );
    assert_eq!(
        by_type["credits.distributed"]["data"]["change"],
        json!({ "amount": 30, "balance": 30 })
    );
    assert_eq!(
        by_type["member.invited"]["data"]["email"],
        "grace@example.com"
    );
    assert_eq!(by_type["member.joined"]["data"]["member"]["role"], "ADMIN");
    assert_eq!(
        by_type["member.joined"]["data"]["user"]["email"],
        "grace@example.com"
    );

    // The filtered endpoint got its one type, and every message its own id.
    let roles = receiver.wait_for("roles", 1, Duration::from_secs(5)).await;
    assert_eq!(types(&roles), ["member.role_changed"]);
    let mut ids: Vec<&str> = all
        .iter()
        .chain(&roles)
        .map(|d| d["webhookId"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), expected.len() + 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        receiver.deliveries("roles").await.len(),
        1,
        "nothing else for the filter"
    );

    // The API tells the same story.
    let listed = owner.ok(DELIVERIES, json!({ "org": org })).await;
    let endpoints = listed["organization"]["webhookEndpoints"]["nodes"]
        .as_array()
        .unwrap();
    let all_endpoint = endpoints
        .iter()
        .find(|e| e["url"].as_str().unwrap().ends_with("/all"))
        .unwrap();
    let deliveries = &all_endpoint["deliveries"];
    assert_eq!(deliveries["totalCount"], expected.len());
    assert!(
        deliveries["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "DELIVERED"
                && d["lastResponseStatus"] == 204
                && d["nextAttemptAt"].is_null())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_endpoint_gets_the_message_again_with_the_same_id() {
    let receiver = WebhookReceiver::start();
    let app = spawn().await;
    let (owner, _ada, org, ada_member) = owner_and_ada(&app).await;
    endpoint(
        &owner,
        &org,
        &receiver,
        "flaky",
        json!(["member.role_changed"]),
        json!({ "failFirst": 2, "failStatus": 500 }),
    )
    .await;
    owner.ok("mutation($m: ID!) { updateMemberRole(input: {memberId: $m, role: ADMIN}) { member { id } } }", json!({ "m": ada_member })).await;

    let received = receiver.wait_for("flaky", 3, Duration::from_secs(20)).await;
    assert_eq!(received.len(), 3, "{received:#?}");
    let answered: Vec<Value> = received
        .iter()
        .map(|d| d["answeredStatus"].clone())
        .collect();
    assert_eq!(answered, [json!(500), json!(500), json!(204)]);
    let ids: Vec<&Value> = received.iter().map(|d| &d["webhookId"]).collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "the same webhook-id on every attempt: {ids:?}"
    );
    let first = received[0]["receivedAt"].as_f64().unwrap();
    let second = received[1]["receivedAt"].as_f64().unwrap();
    assert!(
        (1500.0..5000.0).contains(&(second - first)),
        "the first retry within a couple of seconds: {} ms",
        second - first
    );

    let listed = owner.ok(DELIVERIES, json!({ "org": org })).await;
    let delivery =
        &listed["organization"]["webhookEndpoints"]["nodes"][0]["deliveries"]["nodes"][0];
    assert_eq!(
        (delivery["status"].clone(), delivery["attempts"].clone()),
        (json!("DELIVERED"), json!(3))
    );
    assert_eq!(delivery["messageId"], *ids[0]);

    // A redelivery is a new attempt with the same id.
    let again = owner
        .ok("mutation($d: ID!) { redeliverWebhook(input: {deliveryId: $d}) { delivery { status messageId } } }", json!({ "d": delivery["id"] }))
        .await;
    assert_eq!(again["redeliverWebhook"]["delivery"]["status"], "PENDING");
    let received = receiver.wait_for("flaky", 4, Duration::from_secs(5)).await;
    assert_eq!(received[3]["webhookId"], *ids[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_endpoint_delays_no_other_and_no_mutation() {
    let receiver = WebhookReceiver::start();
    let app = spawn().await;
    let (owner, _ada, org, ada_member) = owner_and_ada(&app).await;
    endpoint(
        &owner,
        &org,
        &receiver,
        "hangs",
        json!(["member.role_changed"]),
        json!({ "hang": true }),
    )
    .await;
    endpoint(
        &owner,
        &org,
        &receiver,
        "answers",
        json!(["member.role_changed"]),
        json!({}),
    )
    .await;
    for role in ["ADMIN", "MANAGER", "MEMBER"] {
        let started = std::time::Instant::now();
        owner.ok("mutation($m: ID!, $r: AssignableRole!) { updateMemberRole(input: {memberId: $m, role: $r}) { member { id } } }", json!({ "m": ada_member, "r": role })).await;
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "the mutation waits for no endpoint"
        );
    }
    let started = std::time::Instant::now();
    let answered = receiver
        .wait_for("answers", 3, Duration::from_secs(5))
        .await;
    assert_eq!(answered.len(), 3);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        receiver.deliveries("hangs").await.len(),
        1,
        "the hanging one holds its first message"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_mutation_sends_nothing() {
    let receiver = WebhookReceiver::start();
    let app = spawn().await;
    let (owner, ada, org, ada_member) = owner_and_ada(&app).await;
    endpoint(&owner, &org, &receiver, "all", json!([]), json!({})).await;
    receiver.wait_for("all", 1, Duration::from_secs(5)).await; // its own creation
    // Refused by a rule, by a permission, by the database's limits.
    let refused = [
        (
            &owner,
            "mutation($m: ID!) { reclaimCredits(input: {memberId: $m, amount: 5}) { member { id } } }",
        ),
        (
            &ada,
            "mutation($m: ID!) { removeMember(input: {memberId: $m}) { creditsReturned } }",
        ),
        (
            &owner,
            "mutation($m: ID!) { assignSeat(input: {memberId: $m, seat: PRO}) { member { id } } }",
        ),
    ];
    for (client, mutation) in refused {
        let body = client.query(mutation, json!({ "m": ada_member })).await;
        assert!(body["errors"].is_array(), "{body}");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        types(&receiver.deliveries("all").await),
        ["webhook_endpoint.created"]
    );
}

/// Special-use addresses written as literals, each with the block a refusal
/// must name: an IPv6 form of an internal IPv4 address (NAT64 and 6to4 of
/// 10.0.0.1, IPv4-compatible, SIIT), Teredo, site-local, benchmarking and
/// reserved IPv4.
const SPECIAL_USE: [(&str, &str); 8] = [
    (
        "https://[64:ff9b::a00:1]/hooks",
        "a NAT64 address (64:ff9b::/96)",
    ),
    ("https://[2002:a00:1::]/hooks", "a 6to4 address (2002::/16)"),
    (
        "https://[2001:0:4136:e378::1]/hooks",
        "a Teredo address (2001::/32)",
    ),
    (
        "https://[::a00:1]/hooks",
        "an IPv4-compatible address (::/96)",
    ),
    (
        "https://[::ffff:0:a00:1]/hooks",
        "an IPv4-translated (SIIT) address (::ffff:0:0:0/96)",
    ),
    (
        "https://[fec0::1]/hooks",
        "a site-local address (fec0::/10)",
    ),
    (
        "https://198.18.0.1/hooks",
        "a benchmarking address (198.18.0.0/15)",
    ),
    (
        "https://240.0.0.1/hooks",
        "a reserved address (240.0.0.0/4)",
    ),
];

/// Writes an endpoint straight to the database, past the check at
/// creation: as if its name had been repointed since.
async fn insert_unchecked_endpoint(app: &TestApp, org: &str, url: String) {
    let organization_id = crate::common::db_id(org);
    app.server
        .db
        .write(move |tx| {
            Box::pin(async move {
                use diesel::prelude::*;
                use orgql::db::schema::webhook_endpoints as e;
                let insert = diesel::insert_into(e::table).values((
                    e::organization_id.eq(organization_id),
                    e::url.eq(url),
                    e::secret.eq(orgql::domain::webhooks::new_secret()),
                    e::event_types.eq("[]"),
                    e::created_at.eq(orgql::domain::now()),
                ));
                match tx {
                    orgql::db::Conn::Postgres(c, _) => {
                        diesel_async::RunQueryDsl::execute(insert, *c).await
                    }
                    orgql::db::Conn::Sqlite(c, _) => {
                        diesel_async::RunQueryDsl::execute(insert, *c).await
                    }
                }
                .map_err(orgql::domain::DomainError::from)
            })
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_destinations_are_refused() {
    let receiver = WebhookReceiver::start();
    let app = TestApp::spawn().await; // private networks not allowed: the default
    let (owner, _ada, org, ada_member) = owner_and_ada(&app).await;
    for url in [
        "http://example.com/hooks".to_owned(),
        "https://127.0.0.1/hooks".to_owned(),
        "https://localhost:8443/hooks".to_owned(),
        "https://10.0.0.7/hooks".to_owned(),
        "https://192.168.1.20/hooks".to_owned(),
        "https://169.254.169.254/latest/meta-data".to_owned(),
        "https://[::1]/hooks".to_owned(),
        "https://0.0.0.0/hooks".to_owned(),
        "https://user:pass@example.com/hooks".to_owned(),
        receiver.endpoint_url("x"),
    ] {
        let code = owner
            .error_code(CREATE, json!({ "org": org, "url": url, "types": [] }))
            .await;
        assert_eq!(code, "BAD_USER_INPUT", "{url}");
    }
    for (url, block) in SPECIAL_USE {
        let refused = owner
            .query(CREATE, json!({ "org": org, "url": url, "types": [] }))
            .await;
        let error = &refused["errors"][0];
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{refused}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(block), "{url}: {message}");
    }
    // Endpoints whose addresses became special after they were set are
    // refused at delivery, before any connection: a literal address as it
    // is, a name (localhost) after resolution. Nothing reaches them.
    let rebound = receiver.endpoint_url("rebound");
    let renamed = receiver
        .endpoint_url("renamed")
        .replace("127.0.0.1", "localhost");
    let mut expected: HashMap<String, &str> = SPECIAL_USE
        .iter()
        .map(|(url, block)| (url.to_string(), *block))
        .collect();
    expected.insert(rebound, "a loopback address (127.0.0.0/8)");
    expected.insert(renamed, "a loopback address");
    for url in expected.keys() {
        insert_unchecked_endpoint(&app, &org, url.clone()).await;
    }
    owner.ok("mutation($m: ID!) { updateMemberRole(input: {memberId: $m, role: ADMIN}) { member { id } } }", json!({ "m": ada_member })).await;
    let mut last_errors: HashMap<String, Value> = HashMap::new();
    for _ in 0..50 {
        let listed = owner.ok(LAST_ERRORS, json!({ "org": org })).await;
        last_errors = listed["organization"]["webhookEndpoints"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|endpoint| {
                let url = endpoint["url"].as_str().unwrap().to_owned();
                (url, endpoint["deliveries"]["nodes"][0]["lastError"].clone())
            })
            .collect();
        if last_errors.len() == expected.len() && last_errors.values().all(Value::is_string) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last_errors.len(), expected.len(), "{last_errors:?}");
    for (url, block) in &expected {
        let error = last_errors[url].as_str().unwrap_or_default();
        assert!(
            error.contains("refused: the endpoint points at ") && error.contains(block),
            "{url}: {error:?}"
        );
    }
    assert!(receiver.deliveries("rebound").await.is_empty());
    assert!(receiver.deliveries("renamed").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_deliver_each_message_once() {
    let receiver = WebhookReceiver::start();
    let app = spawn().await;
    let Some(second) = app.second_instance_url().await else {
        return; // Two instances share a database on PostgreSQL only.
    };
    let (owner, _ada, org, ada_member) = owner_and_ada(&app).await;
    endpoint(
        &owner,
        &org,
        &receiver,
        "once",
        json!(["member.role_changed"]),
        json!({ "delayMs": 20 }),
    )
    .await;
    let on_second = owner.at(&second);
    for n in 0..40 {
        let client = if n % 2 == 0 { &owner } else { &on_second };
        let role = ["ADMIN", "MEMBER"][n % 2];
        client.ok("mutation($m: ID!, $r: AssignableRole!) { updateMemberRole(input: {memberId: $m, role: $r}) { member { id } } }", json!({ "m": ada_member, "r": role })).await;
    }
    let received = receiver.wait_for("once", 40, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = receiver.deliveries("once").await.len().max(received.len());
    assert_eq!(
        received, 40,
        "each of 40 messages delivered once by the two instances"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_are_managed_by_those_who_manage_the_organization() {
    let receiver = WebhookReceiver::start();
    let app = spawn().await;
    let (owner, ada, org, _) = owner_and_ada(&app).await;
    let manager = app.sign_up("manager@example.com").await;
    app.join(&org, &manager, Role::Manager).await;
    let url = receiver.endpoint_url("m");
    let refused = manager
        .query(CREATE, json!({ "org": org, "url": url, "types": [] }))
        .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["permission"],
        "MANAGE_ORGANIZATION"
    );
    let unknown = owner
        .error_code(
            CREATE,
            json!({ "org": org, "url": url, "types": ["member.teleported"] }),
        )
        .await;
    assert_eq!(unknown, "BAD_USER_INPUT");

    let id = endpoint(
        &owner,
        &org,
        &receiver,
        "m",
        json!(["member.joined"]),
        json!({}),
    )
    .await;
    let updated = owner
        .ok("mutation($id: ID!) { updateWebhookEndpoint(input: {endpointId: $id, eventTypes: [\"member.role_changed\", \"member.removed\"], enabled: false}) { endpoint { eventTypes enabled } } }", json!({ "id": id }))
        .await;
    assert_eq!(
        updated["updateWebhookEndpoint"]["endpoint"],
        json!({ "eventTypes": ["member.role_changed", "member.removed"], "enabled": false })
    );
    assert_eq!(ada.error_code("mutation($id: ID!) { deleteWebhookEndpoint(input: {endpointId: $id}) { deletedEndpointId } }", json!({ "id": id })).await, "FORBIDDEN");
    let deleted = owner
        .ok("mutation($id: ID!) { deleteWebhookEndpoint(input: {endpointId: $id}) { deletedEndpointId } }", json!({ "id": id }))
        .await;
    assert_eq!(
        deleted["deleteWebhookEndpoint"]["deletedEndpointId"],
        json!(id)
    );
    let audit = owner.ok("query($org: ID!) { organization(id: $org) { auditLog(first: 3) { nodes { action } } } }", json!({ "org": org })).await;
    let actions: Vec<&str> = audit["organization"]["auditLog"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "webhook_endpoint.deleted",
            "webhook_endpoint.updated",
            "webhook_endpoint.created"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_and_deliveries_are_nodes_for_those_who_manage_the_organization() {
    let receiver = WebhookReceiver::start();
    let app = spawn().await;
    let (owner, ada, org, ada_member) = owner_and_ada(&app).await;
    let endpoint_id = endpoint(&owner, &org, &receiver, "n", json!([]), json!({})).await;
    owner
        .ok(
            "mutation($m: ID!) { updateMemberRole(input: {memberId: $m, role: MANAGER}) { member { role } } }",
            json!({ "m": ada_member }),
        )
        .await;
    receiver.wait_for("n", 1, Duration::from_secs(20)).await;
    let listed = owner.ok(DELIVERIES, json!({ "org": org })).await;
    let delivery_id = listed["organization"]["webhookEndpoints"]["nodes"][0]["deliveries"]["nodes"]
        [0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let node = "query($id: ID!) { node(id: $id) { __typename ... on WebhookEndpoint { id } ... on WebhookDelivery { id eventType } } }";
    let endpoint_node = owner.ok(node, json!({ "id": endpoint_id })).await;
    assert_eq!(
        endpoint_node["node"],
        json!({ "__typename": "WebhookEndpoint", "id": endpoint_id })
    );
    let delivery_node = owner.ok(node, json!({ "id": delivery_id })).await;
    assert_eq!(
        delivery_node["node"],
        json!({ "__typename": "WebhookDelivery", "id": delivery_id, "eventType": "member.role_changed" })
    );
    // A manager, and someone of another organization, see neither.
    let stranger = app.sign_up("stranger@example.com").await;
    stranger.create_org("Elsewhere").await;
    for who in [&ada, &stranger] {
        for id in [&endpoint_id, &delivery_id] {
            let seen = who.ok(node, json!({ "id": id })).await;
            assert_eq!(seen["node"], Value::Null, "{id}");
        }
    }
}

/// The server binary on a database of the test's own, killed with SIGKILL
/// while deliveries are pending, then started again: every message arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_delivers_what_was_pending_after_restart() {
    let receiver = WebhookReceiver::start();
    let database = crate::common::ScratchDatabase::new();
    let mut server =
        ServerProcess::start(&database.url, &["--webhook-allow-private-networks", "true"]).await;
    let anonymous = Client::anonymous_at(&server.url);
    let sign_up = "mutation($e: String!) { signUp(input: {email: $e, name: \"X\", password: \"password123\"}) { token user { id } } }";
    let owner = anonymous
        .ok(sign_up, json!({ "e": "owner@example.com" }))
        .await["signUp"]
        .clone();
    let owner = anonymous.with_token(owner["token"].as_str().unwrap());
    let org = owner.create_org("Acme").await;
    endpoint(
        &owner,
        &org,
        &receiver,
        "after-kill",
        json!(["organization.updated"]),
        json!({ "delayMs": 150 }),
    )
    .await;
    let changes = 20;
    for n in 0..changes {
        owner.ok("mutation($org: ID!, $name: String!) { updateOrganization(input: {organizationId: $org, name: $name}) { organization { id } } }", json!({ "org": org, "name": format!("Acme {n}") })).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    server.kill();
    let before_restart = receiver.deliveries("after-kill").await.len();
    assert!(
        before_restart < changes,
        "some were pending when it died ({before_restart} delivered)"
    );

    server.resume().await;
    // The restarted instance takes back the claims it died with, at once.
    let distinct = |received: &[Value]| {
        let mut ids: Vec<String> = received
            .iter()
            .map(|d| d["webhookId"].to_string())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut received = receiver.deliveries("after-kill").await;
    while distinct(&received).len() < changes && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        received = receiver.deliveries("after-kill").await;
    }
    server.kill();
    let (attempts, ids) = (received.len(), distinct(&received));
    assert_eq!(ids.len(), changes, "every message arrived");
    assert!(received.iter().all(|d| d["verified"] == true));
    println!(
        "{changes} messages: {before_restart} delivered before the kill, all {changes} after the restart, {} repeated (same webhook-id)",
        attempts - ids.len()
    );
}
