use std::time::Duration;

use orgql::domain::Role;
use serde_json::{Value, json};

use crate::common::{TestApp, owner_and_ada};
use crate::ws::WsClient;

const MINE: &str = "subscription { viewerMembershipChanged { kind organizationId userId role previousRole permissions member { role credits seat } actor { email } at } }";
const ORGANIZATION: &str = "subscription($org: ID!) { organizationMembershipChanged(organizationId: $org) { kind role previousRole userId member { credits seat } } }";

fn event(payload: &Value, field: &str) -> Value {
    assert!(payload.get("errors").is_none(), "{payload}");
    payload["data"][field].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_change_reaches_the_members_live_session() {
    let app = TestApp::spawn().await;
    let (owner, ada, org, ada_member) = owner_and_ada(&app).await;
    let mut live = WsClient::signed_in(&app.url, ada.token.as_deref().unwrap()).await;
    live.subscribe("mine", MINE, json!({})).await;

    owner.ok("mutation($m: ID!) { updateMemberRole(input: {memberId: $m, role: MANAGER}) { member { id } } }", json!({ "m": ada_member })).await;
    let changed = event(&live.next("mine").await, "viewerMembershipChanged");
    assert_eq!(changed["kind"], "ROLE_CHANGED");
    assert_eq!(changed["organizationId"], json!(org));
    assert_eq!(changed["userId"], json!(ada.user_id));
    assert_eq!(
        (changed["role"].clone(), changed["previousRole"].clone()),
        (json!("MANAGER"), json!("MEMBER"))
    );
    assert_eq!(
        changed["permissions"],
        json!([
            "VIEW_BILLING",
            "UPDATE_MEMBERS",
            "VIEW_MEMBERS",
            "MANAGE_RESOURCES"
        ])
    );
    assert_eq!(changed["member"]["role"], "MANAGER");
    assert_eq!(changed["actor"]["email"], "owner@example.com");

    // Someone else's change is not the viewer's.
    let bob = app.sign_up("bob@example.com").await;
    app.join(&org, &bob, Role::Member).await;
    let bob_member = owner.member_id(&org, &bob).await;
    owner.ok("mutation($m: ID!) { updateMemberRole(input: {memberId: $m, role: ADMIN}) { member { id } } }", json!({ "m": bob_member })).await;
    assert!(live.quiet(Duration::from_millis(500)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removal_is_pushed_and_ends_the_organization_stream() {
    let app = TestApp::spawn().await;
    let (owner, ada, org, ada_member) = owner_and_ada(&app).await;
    let mut live = WsClient::signed_in(&app.url, ada.token.as_deref().unwrap()).await;
    live.subscribe("org", ORGANIZATION, json!({ "org": org }))
        .await;
    live.subscribe("mine", MINE, json!({})).await;

    owner
        .ok(
            "mutation($m: ID!) { removeMember(input: {memberId: $m}) { creditsReturned } }",
            json!({ "m": ada_member }),
        )
        .await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(live.recv().await);
    }
    let by = |id: &str, kind: &str| {
        seen.iter()
            .find(|m| m["id"] == id && m["type"] == kind)
            .cloned()
    };
    let removed = by("mine", "next").expect("a REMOVED event on the viewer stream")["payload"]["data"]["viewerMembershipChanged"].clone();
    assert_eq!(removed["kind"], "REMOVED");
    assert_eq!(
        (
            removed["member"].clone(),
            removed["role"].clone(),
            removed["previousRole"].clone()
        ),
        (Value::Null, Value::Null, json!("MEMBER"))
    );
    assert_eq!(removed["permissions"], json!([]));
    let on_org = by("org", "next").expect("a REMOVED event on the organization stream");
    assert_eq!(
        on_org["payload"]["data"]["organizationMembershipChanged"]["kind"],
        "REMOVED"
    );
    assert!(
        by("org", "complete").is_some(),
        "the organization stream completes: {seen:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_dashboard_sees_every_kind_of_change() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@example.com").await;
    let org = owner.create_org("Acme").await;
    let admin = app.sign_up("admin@example.com").await;
    app.join(&org, &admin, Role::Admin).await;
    let mut dashboard = WsClient::signed_in(&app.url, admin.token.as_deref().unwrap()).await;
    dashboard
        .subscribe("org", ORGANIZATION, json!({ "org": org }))
        .await;

    let ada = app.sign_up("ada@example.com").await;
    owner.ok("mutation($org: ID!) { inviteMember(input: {organizationId: $org, email: \"ada@example.com\", role: MEMBER}) { invitation { id } } }", json!({ "org": org })).await;
    let token = app
        .mailbox
        .invitations()
        .last_to("ada@example.com")
        .await
        .token();
    ada.ok(
        "mutation($t: String!) { acceptInvitation(input: {token: $t}) { member { id } } }",
        json!({ "t": token }),
    )
    .await;
    let ada_member = owner.member_id(&org, &ada).await;
    let admin_member = owner.member_id(&org, &admin).await;
    owner.ok("mutation($m: ID!) { updateMemberRole(input: {memberId: $m, role: MANAGER}) { member { id } } }", json!({ "m": ada_member })).await;
    owner.ok("mutation($org: ID!) { addCredits(input: {organizationId: $org, amount: 10}) { organization { id } } }", json!({ "org": org })).await;
    owner.ok("mutation($m: ID!) { distributeCredits(input: {memberId: $m, amount: 4}) { member { id } } }", json!({ "m": ada_member })).await;
    owner.ok("mutation($org: ID!) { setSeatLimits(input: {organizationId: $org, standard: 1, pro: 0}) { organization { id } } }", json!({ "org": org })).await;
    owner.ok("mutation($m: ID!) { assignSeat(input: {memberId: $m, seat: STANDARD}) { member { id } } }", json!({ "m": ada_member })).await;
    owner
        .ok(
            "mutation($m: ID!) { removeMember(input: {memberId: $m}) { creditsReturned } }",
            json!({ "m": ada_member }),
        )
        .await;
    owner.ok("mutation($org: ID!, $m: ID!) { transferOwnership(input: {organizationId: $org, memberId: $m}) { newOwner { id } } }", json!({ "org": org, "m": admin_member })).await;

    let mut kinds = Vec::new();
    for _ in 0..7 {
        let change = event(
            &dashboard.next("org").await,
            "organizationMembershipChanged",
        );
        kinds.push(change["kind"].as_str().unwrap().to_owned());
        if change["kind"] == "CREDITS_CHANGED" {
            assert_eq!(change["member"]["credits"], 4);
        }
        if change["kind"] == "SEAT_CHANGED" {
            assert_eq!(change["member"]["seat"], "STANDARD");
        }
    }
    let expected = [
        "JOINED",
        "ROLE_CHANGED",
        "CREDITS_CHANGED",
        "SEAT_CHANGED",
        "REMOVED",
        "OWNERSHIP_TRANSFERRED",
        "OWNERSHIP_TRANSFERRED",
    ];
    assert_eq!(kinds, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_mutation_emits_nothing() {
    let app = TestApp::spawn().await;
    let (owner, ada, org, ada_member) = owner_and_ada(&app).await;
    let mut live = WsClient::signed_in(&app.url, ada.token.as_deref().unwrap()).await;
    live.subscribe("mine", MINE, json!({})).await;
    let distribute = "mutation($m: ID!, $n: Int!) { distributeCredits(input: {memberId: $m, amount: $n}) { member { id } } }";

    // The pool is empty: the member's row was updated, then rolled back.
    assert_eq!(
        owner
            .error_code(distribute, json!({ "m": ada_member, "n": 5 }))
            .await,
        "LIMIT_EXCEEDED"
    );
    assert!(
        live.quiet(Duration::from_millis(500)).await,
        "no event for a change that did not commit"
    );
    owner.ok("mutation($org: ID!) { addCredits(input: {organizationId: $org, amount: 10}) { organization { id } } }", json!({ "org": org })).await;
    owner
        .ok(distribute, json!({ "m": ada_member, "n": 3 }))
        .await;
    let changed = event(&live.next("mine").await, "viewerMembershipChanged");
    assert_eq!(
        (
            changed["kind"].clone(),
            changed["member"]["credits"].clone()
        ),
        (json!("CREDITS_CHANGED"), json!(3))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_may_subscribe() {
    let app = TestApp::spawn().await;
    let (_owner, ada, org, _) = owner_and_ada(&app).await;
    let eve = app.sign_up("eve@example.com").await;

    // An outsider's subscription is refused with an error; the connection stays.
    let mut outsider = WsClient::signed_in(&app.url, eve.token.as_deref().unwrap()).await;
    outsider.send(json!({ "type": "subscribe", "id": "1", "payload": { "query": ORGANIZATION, "variables": { "org": org } } })).await;
    let refused = outsider.recv().await;
    assert_eq!(
        (refused["type"].clone(), refused["id"].clone()),
        (json!("error"), json!("1"))
    );
    assert_eq!(refused["payload"][0]["extensions"]["code"], "NOT_FOUND");
    outsider.send(json!({ "type": "ping" })).await;
    assert_eq!(outsider.recv().await["type"], "pong");

    // No token, or a bad one, is refused at init.
    for payload in [json!({}), json!({ "authorization": "Bearer forged" })] {
        let mut client = WsClient::connect(&app.url, "graphql-transport-ws", None).await;
        client
            .send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        assert_eq!(client.closed().await.0, 4403);
    }
    // The token may come in the upgrade request's header instead.
    let header = format!("Bearer {}", ada.token.as_deref().unwrap());
    let mut by_header = WsClient::connect(&app.url, "graphql-transport-ws", Some(&header)).await;
    by_header.send(json!({ "type": "connection_init" })).await;
    assert_eq!(by_header.recv().await["type"], "connection_ack");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_protocol_close_codes() {
    let app =
        TestApp::spawn_configured(|config| config.ws_init_timeout = Duration::from_millis(500))
            .await;
    let ada = app.sign_up("ada@example.com").await;
    let token = ada.token.as_deref().unwrap();
    let subscribe = json!({ "type": "subscribe", "id": "1", "payload": { "query": MINE } });

    let mut early = WsClient::connect(&app.url, "graphql-transport-ws", None).await;
    early.send(subscribe.clone()).await;
    assert_eq!(early.closed().await.0, 4401, "subscribe before ack");

    let mut silent = WsClient::connect(&app.url, "graphql-transport-ws", None).await;
    assert_eq!(silent.closed().await.0, 4408, "no connection_init in time");

    let mut twice = WsClient::signed_in(&app.url, token).await;
    twice.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } })).await;
    assert_eq!(twice.closed().await.0, 4429, "a second connection_init");

    let mut duplicate = WsClient::signed_in(&app.url, token).await;
    duplicate.send(subscribe.clone()).await;
    duplicate.send(subscribe.clone()).await;
    assert_eq!(
        duplicate.closed().await.0,
        4409,
        "a second subscriber with the same id"
    );

    let mut garbage = WsClient::signed_in(&app.url, token).await;
    garbage.send_raw("{not json").await;
    assert_eq!(garbage.closed().await.0, 4400, "invalid message");

    let mut oversized = WsClient::signed_in(&app.url, token).await;
    oversized.send_raw(&"x".repeat(70 * 1024)).await;
    assert_eq!(oversized.closed().await.0, 1009, "a message over 64 KiB");

    // A completed id may be used again.
    let mut reuse = WsClient::signed_in(&app.url, token).await;
    reuse.send(subscribe.clone()).await;
    reuse.send(json!({ "type": "complete", "id": "1" })).await;
    reuse.send(subscribe).await;
    reuse.send(json!({ "type": "ping" })).await;
    assert_eq!(reuse.recv().await["type"], "pong");

    // The legacy graphql-ws subprotocol.
    let mut legacy = WsClient::connect(&app.url, "graphql-ws", None).await;
    legacy.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } })).await;
    assert_eq!(legacy.recv().await["type"], "connection_ack");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_closes_the_sessions_sockets() {
    let app = TestApp::spawn().await;
    let (_owner, ada, _org, _) = owner_and_ada(&app).await;
    let other_session = ada.new_session(&app).await;
    let mut live = WsClient::signed_in(&app.url, ada.token.as_deref().unwrap()).await;
    let mut other = WsClient::signed_in(&app.url, other_session.token.as_deref().unwrap()).await;
    live.subscribe("mine", MINE, json!({})).await;

    ada.ok("mutation { logOut }", json!({})).await;
    assert_eq!(live.closed().await.0, 4403);
    // Only that session's sockets.
    other.send(json!({ "type": "ping" })).await;
    assert_eq!(other.recv().await["type"], "pong");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_does_not_delay_the_others() {
    let app = TestApp::spawn().await;
    let (owner, ada, org, ada_member) = owner_and_ada(&app).await;
    owner.ok("mutation($org: ID!) { addCredits(input: {organizationId: $org, amount: 1000}) { organization { id } } }", json!({ "org": org })).await;
    let mut stalled = WsClient::signed_in(&app.url, owner.token.as_deref().unwrap()).await;
    stalled
        .subscribe("org", ORGANIZATION, json!({ "org": org }))
        .await;
    let mut reader = WsClient::signed_in(&app.url, ada.token.as_deref().unwrap()).await;
    reader
        .subscribe("org", ORGANIZATION, json!({ "org": org }))
        .await;

    let started = std::time::Instant::now();
    for _ in 0..100 {
        owner.ok("mutation($m: ID!) { distributeCredits(input: {memberId: $m, amount: 1}) { member { id } } }", json!({ "m": ada_member })).await;
        let change = event(&reader.next("org").await, "organizationMembershipChanged");
        assert_eq!(change["kind"], "CREDITS_CHANGED");
    }
    assert!(started.elapsed() < Duration::from_secs(30));
    drop(stalled);
}

/// Two server instances on one PostgreSQL database: an event committed
/// through one reaches subscriptions on the other (LISTEN/NOTIFY). SQLite is
/// one process's database, so this runs with TEST_DATABASE_URL only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_cross_server_instances_on_postgres() {
    let app = TestApp::spawn().await;
    let Some(second) = app.second_instance_url().await else {
        eprintln!("SQLite: one process, no second instance to reach");
        return;
    };
    let (owner, ada, _org, ada_member) = owner_and_ada(&app).await;
    let mut live = WsClient::signed_in(&second, ada.token.as_deref().unwrap()).await;
    live.subscribe("mine", MINE, json!({})).await;
    owner.ok("mutation($m: ID!) { updateMemberRole(input: {memberId: $m, role: ADMIN}) { member { id } } }", json!({ "m": ada_member })).await;
    let changed = event(&live.next("mine").await, "viewerMembershipChanged");
    assert_eq!(
        (changed["kind"].clone(), changed["role"].clone()),
        (json!("ROLE_CHANGED"), json!("ADMIN"))
    );
}

/// One event, rendered once per kind of viewer and shared: an ADMIN sees a
/// member's credits, a MEMBER does not, and the member whose credits they
/// are sees their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_event_shows_each_subscriber_only_what_it_may_see() {
    let app = TestApp::spawn().await;
    let (owner, ada, org, ada_member) = owner_and_ada(&app).await;
    let admin = app.sign_up("admin@example.com").await;
    app.join(&org, &admin, Role::Admin).await;
    let bob = app.sign_up("bob@example.com").await;
    app.join(&org, &bob, Role::Member).await;
    owner.ok("mutation($org: ID!) { addCredits(input: {organizationId: $org, amount: 100}) { organization { id } } }", json!({ "org": org })).await;
    const CREDITS: &str = "subscription($org: ID!) { organizationMembershipChanged(organizationId: $org) { kind userId member { credits seat } } }";
    let mut watchers = Vec::new();
    for (client, who) in [
        (&admin, "admin"),
        (&ada, "ada"),
        (&bob, "bob"),
        (&bob, "bob again"),
    ] {
        let mut live = WsClient::signed_in(&app.url, client.token.as_deref().unwrap()).await;
        live.subscribe("org", CREDITS, json!({ "org": org })).await;
        watchers.push((who, live));
    }
    owner.ok("mutation($m: ID!) { distributeCredits(input: {memberId: $m, amount: 25}) { member { id } } }", json!({ "m": ada_member })).await;
    for (who, live) in &mut watchers {
        let event = event(&live.next("org").await, "organizationMembershipChanged");
        assert_eq!(event["kind"], "CREDITS_CHANGED", "{who}");
        let credits = event["member"]["credits"].clone();
        match *who {
            "admin" | "ada" => assert_eq!(credits, 25, "{who} sees the credits"),
            _ => assert_eq!(credits, Value::Null, "{who} does not"),
        }
    }
}
