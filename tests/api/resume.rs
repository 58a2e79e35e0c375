//! Resumable subscriptions: every event carries a cursor, and `after`
//! replays what was committed after it before going on live.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use orgql::domain::live_events::{self, MembershipEvent, MembershipEventKind};
use orgql::domain::{DomainError, Role, members};
use serde_json::{Value, json};

use crate::common::{Client, TestApp, db_id, owner_and_ada};
use crate::ws::WsClient;

const ORGANIZATION: &str = "subscription($org: ID!, $after: String) { organizationMembershipChanged(organizationId: $org, after: $after) { kind userId role cursor } }";
const MINE: &str =
    "subscription($after: String) { viewerMembershipChanged(after: $after) { kind role cursor } }";
const ROLE: &str = "mutation($m: ID!, $r: AssignableRole!) { updateMemberRole(input: {memberId: $m, role: $r}) { member { id } } }";

fn data(payload: &Value, field: &str) -> Value {
    assert!(payload.get("errors").is_none(), "{payload}");
    payload["data"][field].clone()
}

async fn change_role(owner: &Client, member: &str, role: &str) {
    owner.ok(ROLE, json!({ "m": member, "r": role })).await;
}

/// The refusal of a subscription: the `error` message's first error.
async fn refusal(live: &mut WsClient, id: &str) -> Value {
    let message = live.recv().await;
    assert_eq!(
        (message["type"].as_str(), message["id"].as_str()),
        (Some("error"), Some(id)),
        "{message}"
    );
    message["payload"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_resumes_after_its_cursor_without_missing_or_repeating() {
    let app = TestApp::spawn().await;
    let (owner, ada, org, ada_member) = owner_and_ada(&app).await;
    let owner_token = owner.token.clone().unwrap();
    let ada_token = ada.token.clone().unwrap();

    let mut dashboard = WsClient::signed_in(&app.url, &owner_token).await;
    dashboard
        .subscribe("org", ORGANIZATION, json!({ "org": org }))
        .await;
    let mut own = WsClient::signed_in(&app.url, &ada_token).await;
    own.subscribe("mine", MINE, json!({})).await;
    change_role(&owner, &ada_member, "MANAGER").await;
    let first = data(
        &dashboard.next("org").await,
        "organizationMembershipChanged",
    );
    let mine = data(&own.next("mine").await, "viewerMembershipChanged");
    assert_eq!(
        (first["role"].clone(), mine["role"].clone()),
        (json!("MANAGER"), json!("MANAGER"))
    );
    let (org_cursor, my_cursor) = (first["cursor"].clone(), mine["cursor"].clone());
    assert!(org_cursor.as_str().is_some_and(|c| !c.is_empty()));
    drop((dashboard, own)); // the laptop lid closes

    // Changes while nobody listens.
    change_role(&owner, &ada_member, "ADMIN").await;
    let bob = app.sign_up("bob@example.com").await;
    app.join(&org, &bob, Role::Member).await;
    let bob_member = owner.member_id(&org, &bob).await;
    change_role(&owner, &bob_member, "MANAGER").await;
    change_role(&owner, &ada_member, "MEMBER").await;

    let mut dashboard = WsClient::signed_in(&app.url, &owner_token).await;
    dashboard
        .subscribe(
            "org",
            ORGANIZATION,
            json!({ "org": org, "after": org_cursor }),
        )
        .await;
    let mut replayed = Vec::new();
    for _ in 0..3 {
        let event = data(
            &dashboard.next("org").await,
            "organizationMembershipChanged",
        );
        replayed.push((event["userId"].clone(), event["role"].clone()));
    }
    assert_eq!(
        replayed,
        [
            (json!(ada.user_id), json!("ADMIN")),
            (json!(bob.user_id), json!("MANAGER")),
            (json!(ada.user_id), json!("MEMBER")),
        ],
        "the missed changes, in commit order"
    );
    let mut own = WsClient::signed_in(&app.url, &ada_token).await;
    own.subscribe("mine", MINE, json!({ "after": my_cursor }))
        .await;
    for role in ["ADMIN", "MEMBER"] {
        let event = data(&own.next("mine").await, "viewerMembershipChanged");
        assert_eq!(event["role"], role);
    }

    // Then live, and nothing twice.
    change_role(&owner, &ada_member, "MANAGER").await;
    let live = data(
        &dashboard.next("org").await,
        "organizationMembershipChanged",
    );
    assert_eq!(
        (live["userId"].clone(), live["role"].clone()),
        (json!(ada.user_id), json!("MANAGER"))
    );
    assert_eq!(
        data(&own.next("mine").await, "viewerMembershipChanged")["role"],
        "MANAGER"
    );
    assert!(dashboard.quiet(Duration::from_millis(500)).await);
    assert!(own.quiet(Duration::from_millis(100)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_past_the_retention_window_is_refused() {
    let app = TestApp::spawn().await;
    let (owner, _ada, org, ada_member) = owner_and_ada(&app).await;
    let token = owner.token.clone().unwrap();
    let mut live = WsClient::signed_in(&app.url, &token).await;
    live.subscribe("org", ORGANIZATION, json!({ "org": org }))
        .await;
    change_role(&owner, &ada_member, "MANAGER").await;
    let old = data(&live.next("org").await, "organizationMembershipChanged")["cursor"].clone();
    change_role(&owner, &ada_member, "ADMIN").await;
    let newest = data(&live.next("org").await, "organizationMembershipChanged")["cursor"].clone();

    // The retention window passes: everything recorded so far is pruned.
    let later = orgql::domain::now() + chrono::Duration::seconds(1);
    let pruned = live_events::prune(&app.server.db, later).await.unwrap();
    assert!(pruned >= 2, "pruned {pruned}");

    live.send(json!({ "type": "subscribe", "id": "old", "payload": { "query": ORGANIZATION, "variables": { "org": org, "after": old } } })).await;
    let expired = refusal(&mut live, "old").await;
    assert_eq!(expired["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(
        expired["extensions"]["reason"], "CURSOR_EXPIRED",
        "{expired}"
    );

    live.send(json!({ "type": "subscribe", "id": "bad", "payload": { "query": ORGANIZATION, "variables": { "org": org, "after": "not-a-cursor" } } })).await;
    let bad = refusal(&mut live, "bad").await;
    assert_eq!(bad["extensions"]["code"], "BAD_USER_INPUT");
    assert!(bad["extensions"].get("reason").is_none(), "{bad}");

    // The newest cursor still resumes: nothing after it was pruned.
    live.subscribe("new", ORGANIZATION, json!({ "org": org, "after": newest }))
        .await;
    change_role(&owner, &ada_member, "MEMBER").await;
    let mut roles = Vec::new();
    for _ in 0..2 {
        let message = live.recv().await;
        roles.push((
            message["id"].clone(),
            message["payload"]["data"]["organizationMembershipChanged"]["role"].clone(),
        ));
    }
    roles.sort_by_key(|(id, _)| id.to_string());
    assert_eq!(
        roles,
        [
            (json!("new"), json!("MEMBER")),
            (json!("org"), json!("MEMBER"))
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_removed_meanwhile_gets_no_replay_of_the_organization() {
    let app = TestApp::spawn().await;
    let (owner, ada, org, ada_member) = owner_and_ada(&app).await;
    let token = ada.token.clone().unwrap();
    let mut live = WsClient::signed_in(&app.url, &token).await;
    live.subscribe("org", ORGANIZATION, json!({ "org": org }))
        .await;
    live.subscribe("mine", MINE, json!({})).await;
    change_role(&owner, &ada_member, "MANAGER").await;
    let mut cursors = std::collections::HashMap::new();
    for _ in 0..2 {
        let message = live.recv().await;
        let id = message["id"].as_str().unwrap().to_owned();
        let field = if id == "org" {
            "organizationMembershipChanged"
        } else {
            "viewerMembershipChanged"
        };
        cursors.insert(id, data(&message["payload"], field)["cursor"].clone());
    }
    drop(live);

    let bob = app.sign_up("bob@example.com").await;
    app.join(&org, &bob, Role::Member).await;
    let bob_member = owner.member_id(&org, &bob).await;
    change_role(&owner, &bob_member, "ADMIN").await;
    owner
        .ok(
            "mutation($m: ID!) { removeMember(input: {memberId: $m}) { creditsReturned } }",
            json!({ "m": ada_member }),
        )
        .await;

    let mut live = WsClient::signed_in(&app.url, &token).await;
    live.send(json!({ "type": "subscribe", "id": "org", "payload": { "query": ORGANIZATION, "variables": { "org": org, "after": cursors["org"] } } })).await;
    assert_eq!(
        refusal(&mut live, "org").await["extensions"]["code"],
        "NOT_FOUND"
    );
    // Their own stream replays their removal, and nothing of Bob's.
    live.subscribe("mine", MINE, json!({ "after": cursors["mine"] }))
        .await;
    let removed = data(&live.next("mine").await, "viewerMembershipChanged");
    assert_eq!(
        (removed["kind"].clone(), removed["role"].clone()),
        (json!("REMOVED"), Value::Null)
    );
    assert!(live.quiet(Duration::from_millis(500)).await);
}

/// The classic outbox trap: a number taken before commit, by a transaction
/// that commits after a later number. Here a second transaction that wants
/// a number waits for the first to commit, so the numbers commit in order
/// and the subscriber, and a replay, see both, in commit order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overlapping_transactions_are_numbered_in_commit_order() {
    let app = TestApp::spawn().await;
    let (owner, ada, org, _) = owner_and_ada(&app).await;
    let token = owner.token.clone().unwrap();
    let mut live = WsClient::signed_in(&app.url, &token).await;
    live.subscribe("org", ORGANIZATION, json!({ "org": org }))
        .await;
    let (organization_id, ada_id, owner_id) = (
        db_id(&org),
        db_id(ada.user_id.as_deref().unwrap()),
        db_id(owner.user_id.as_deref().unwrap()),
    );
    let stage_seat_change = |hold: Duration| {
        let db = app.server.db.clone();
        tokio::spawn(async move {
            db.write(move |tx| {
                async move {
                    let ada = members::of_user_in(tx, ada_id, &[organization_id])
                        .await?
                        .remove(0);
                    let event =
                        MembershipEvent::about(MembershipEventKind::SeatChanged, &ada, owner_id);
                    live_events::stage(tx, event).await?;
                    tokio::time::sleep(hold).await;
                    Ok::<_, DomainError>(tokio::time::Instant::now())
                }
                .boxed()
            })
            .await
            .unwrap()
        })
    };
    let first = stage_seat_change(Duration::from_millis(400));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = stage_seat_change(Duration::ZERO);
    let (first_committed, second_committed) = (first.await.unwrap(), second.await.unwrap());
    assert!(
        second_committed > first_committed,
        "the second waited for the first"
    );

    let mut cursors = Vec::new();
    for _ in 0..2 {
        let event = data(&live.next("org").await, "organizationMembershipChanged");
        assert_eq!(event["kind"], "SEAT_CHANGED");
        cursors.push(event["cursor"].as_str().unwrap().to_owned());
    }
    assert!(live.quiet(Duration::from_millis(300)).await);
    let seq = |cursor: &str| -> i64 {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(cursor)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    assert_eq!(
        seq(&cursors[1]),
        seq(&cursors[0]) + 1,
        "consecutive numbers, in commit order"
    );

    // A replay from just before them brings both, in the same order.
    let before = orgql::domain::pagination::encode_cursor(&(seq(&cursors[0]) - 1));
    live.subscribe(
        "again",
        ORGANIZATION,
        json!({ "org": org, "after": before }),
    )
    .await;
    for cursor in &cursors {
        let event = data(&live.next("again").await, "organizationMembershipChanged");
        assert_eq!(event["cursor"].as_str(), Some(cursor.as_str()));
    }
}

/// PostgreSQL stopped for seconds under subscribers and a stream of role
/// changes, then started again: every change that committed (the audit log
/// says which) reaches every subscriber, in order, once. The database is a
/// server of the test's own, so that stopping it disturbs no other test.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_committed_change_survives_a_database_restart() {
    if std::env::var("TEST_DATABASE_URL").map_or(true, |url| url.is_empty()) {
        return; // A PostgreSQL restart; SQLite lives in the process.
    }
    let cluster = crate::pg_cluster::PgCluster::start();
    let url = cluster.url("orgql_restart");
    let app = TestApp::spawn_configured(|config| config.database_url = url).await;
    let (owner, _ada, org, ada_member) = owner_and_ada(&app).await;
    let token = owner.token.clone().unwrap();

    let received: Vec<Arc<Mutex<Vec<Value>>>> = (0..20).map(|_| Arc::default()).collect();
    let mut subscribers = Vec::new();
    for roles in &received {
        let mut live = WsClient::signed_in(&app.url, &token).await;
        live.subscribe("org", ORGANIZATION, json!({ "org": org }))
            .await;
        let roles = roles.clone();
        subscribers.push(tokio::spawn(async move {
            loop {
                let payload = live.next("org").await;
                let role = data(&payload, "organizationMembershipChanged")["role"].clone();
                roles.lock().unwrap().push(role);
            }
        }));
    }

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let (mut attempts, mut answered) = (0, 0);
    let mut keep_changing = async |seconds: u64| {
        let until = tokio::time::Instant::now() + Duration::from_secs(seconds);
        while tokio::time::Instant::now() < until {
            attempts += 1;
            let role = ["MANAGER", "ADMIN", "MEMBER"][attempts % 3];
            let variables = json!({ "m": ada_member, "r": role });
            let request = http
                .post(&app.url)
                .bearer_auth(&token)
                .json(&json!({ "query": ROLE, "variables": variables }));
            if let Ok(response) = request.send().await {
                let body: Value = response.json().await.unwrap_or_default();
                if body.get("errors").is_none() && body["data"].is_object() {
                    answered += 1;
                }
            }
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    };
    keep_changing(2).await;
    cluster.stop();
    keep_changing(6).await; // refused: the database is down
    cluster.resume();
    keep_changing(3).await;

    // What committed, as the audit log recorded it, oldest first.
    let mut committed = Vec::new();
    let mut after = Value::Null;
    loop {
        let page = owner
            .ok(
                "query($org: ID!, $after: String) { organization(id: $org) { auditLog(first: 100, after: $after) { pageInfo { hasNextPage endCursor } nodes { action details } } } }",
                json!({ "org": org, "after": after }),
            )
            .await["organization"]["auditLog"]
            .clone();
        for node in page["nodes"].as_array().unwrap() {
            if node["action"] == "member.role_changed" {
                let details: Value =
                    serde_json::from_str(node["details"].as_str().unwrap()).unwrap();
                committed.push(details["to"].clone());
            }
        }
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    committed.reverse();
    assert!(
        committed.len() >= 40,
        "{} of {attempts} committed",
        committed.len()
    );
    assert!(
        attempts > answered + 20,
        "changes were attempted while the database was down"
    );

    // Every subscriber gets every one, in order, once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let all_arrived = || {
        received
            .iter()
            .all(|r| r.lock().unwrap().len() >= committed.len())
    };
    while !all_arrived() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await; // room for a repeat to show
    for subscriber in &subscribers {
        subscriber.abort();
    }
    for (n, roles) in received.iter().enumerate() {
        assert_eq!(*roles.lock().unwrap(), committed, "subscriber {n}");
    }
    println!(
        "{attempts} changes attempted, {answered} answered, {} committed; each of 20 subscribers received exactly those, in order",
        committed.len()
    );
}
