//! Credit requests: a member asks, a holder of UPDATE_MEMBERS approves (the
//! amount or less, distributed from the pool in the same transaction) or
//! declines, the member may cancel; one pending request at a time.

use std::time::Duration;

use futures_util::future::join_all;
use orgql::domain::Role;
use serde_json::{Value, json};

use crate::common::{Client, TestApp, db_id, owner_and_ada};
use crate::fixtures::WebhookReceiver;
use crate::ws::WsClient;

const REQUEST_FIELDS: &str = "id amount reason status approvedAmount decidedBy { email } user { email } organization { id } createdAt decidedAt";

fn ask_query() -> String {
    format!(
        "mutation($org: ID!, $n: Int!, $reason: String) {{ requestCredits(input: {{organizationId: $org, amount: $n, reason: $reason}}) {{ request {{ {REQUEST_FIELDS} }} }} }}"
    )
}

fn decide_query(mutation: &str) -> String {
    format!(
        "mutation($r: ID!, $n: Int) {{ {mutation}(input: {{requestId: $r, amount: $n}}) {{ request {{ {REQUEST_FIELDS} }} }} }}"
    )
}

fn cancel_query() -> String {
    format!(
        "mutation($r: ID!) {{ cancelCreditRequest(input: {{requestId: $r}}) {{ request {{ {REQUEST_FIELDS} }} }} }}"
    )
}

const LIST: &str = "query($org: ID!, $status: CreditRequestStatus, $first: Int, $after: String) { organization(id: $org) { creditRequests(status: $status, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { id amount status approvedAmount user { email } decidedBy { email } } } } }";
const BOOKS: &str = "query($org: ID!, $u: ID!) { organization(id: $org) { creditPool { available distributed } member(userId: $u) { credits } creditLedger(first: 1) { nodes { kind amount user { email } memberCreditsAfter poolAvailableAfter actor { email } } } } }";

/// The request a member asks for; panics on an error.
async fn ask(client: &Client, org: &str, amount: i32, reason: Option<&str>) -> Value {
    let variables = json!({ "org": org, "n": amount, "reason": reason });
    client.ok(&ask_query(), variables).await["requestCredits"]["request"].clone()
}

async fn approve(client: &Client, request: &Value, amount: Option<i32>) -> Value {
    let variables = json!({ "r": request["id"], "n": amount });
    client
        .ok(&decide_query("approveCreditRequest"), variables)
        .await["approveCreditRequest"]["request"]
        .clone()
}

async fn add_credits(owner: &Client, org: &str, amount: i32) {
    owner.ok("mutation($org: ID!, $n: Int!) { addCredits(input: {organizationId: $org, amount: $n}) { organization { id } } }", json!({ "org": org, "n": amount })).await;
}

/// The pool, the member's credits and the newest ledger entry.
async fn books(owner: &Client, org: &str, member: &Client) -> Value {
    owner
        .ok(BOOKS, json!({ "org": org, "u": member.user_id }))
        .await["organization"]
        .clone()
}

fn list_of(data: &Value) -> &Value {
    &data["organization"]["creditRequests"]
}

/// The first error of a response that must fail.
fn error(body: &Value) -> &Value {
    assert!(body["errors"][0].is_object(), "expected an error: {body:#}");
    &body["errors"][0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_asked_then_approved_in_full_or_in_part_declined_or_cancelled() {
    let app = TestApp::spawn().await;
    let (owner, ada, org, _) = owner_and_ada(&app).await;
    let manager = app.sign_up("manager@example.com").await;
    app.join(&org, &manager, Role::Manager).await;
    add_credits(&owner, &org, 100).await;

    let asked = ask(&ada, &org, 30, Some("  a week of qpu-2 for the thesis  ")).await;
    assert_eq!(
        (
            asked["status"].clone(),
            asked["amount"].clone(),
            asked["reason"].clone()
        ),
        (
            json!("PENDING"),
            json!(30),
            json!("a week of qpu-2 for the thesis")
        )
    );
    assert_eq!(asked["user"]["email"], "ada@example.com");
    assert_eq!(asked["organization"]["id"], json!(org));
    assert!(asked["approvedAmount"].is_null() && asked["decidedBy"].is_null());
    assert!(asked["createdAt"].is_string() && asked["decidedAt"].is_null());
    let pending = owner
        .ok(LIST, json!({ "org": org, "status": "PENDING" }))
        .await;
    assert_eq!(list_of(&pending)["totalCount"], 1);
    assert_eq!(list_of(&pending)["nodes"][0]["id"], asked["id"]);

    // Approved in full: the amount asked is distributed from the pool.
    let approved = approve(&owner, &asked, None).await;
    assert_eq!(
        (
            approved["status"].clone(),
            approved["approvedAmount"].clone()
        ),
        (json!("APPROVED"), json!(30))
    );
    assert_eq!(approved["decidedBy"]["email"], "owner@example.com");
    assert!(approved["decidedAt"].is_string());
    let after = books(&owner, &org, &ada).await;
    assert_eq!(
        after["creditPool"],
        json!({ "available": 70, "distributed": 30 })
    );
    assert_eq!(after["member"]["credits"], 30);
    assert_eq!(
        after["creditLedger"]["nodes"][0],
        json!({
            "kind": "DISTRIBUTED",
            "amount": 30,
            "user": { "email": "ada@example.com" },
            "memberCreditsAfter": 30,
            "poolAvailableAfter": 70,
            "actor": { "email": "owner@example.com" },
        })
    );

    // Approved in part, by a manager.
    let asked = ask(&ada, &org, 50, None).await;
    assert!(asked["reason"].is_null());
    let approved = approve(&manager, &asked, Some(20)).await;
    assert_eq!(
        (
            approved["status"].clone(),
            approved["amount"].clone(),
            approved["approvedAmount"].clone(),
            approved["decidedBy"]["email"].clone()
        ),
        (
            json!("APPROVED"),
            json!(50),
            json!(20),
            json!("manager@example.com")
        )
    );
    let after = books(&owner, &org, &ada).await;
    assert_eq!(
        after["creditPool"],
        json!({ "available": 50, "distributed": 50 })
    );
    assert_eq!(after["creditLedger"]["nodes"][0]["amount"], 20);

    // Declined: nothing moves.
    let asked = ask(&ada, &org, 10, None).await;
    let declined = owner
        .ok(
            &decide_query("declineCreditRequest"),
            json!({ "r": asked["id"] }),
        )
        .await["declineCreditRequest"]["request"]
        .clone();
    assert_eq!(
        (
            declined["status"].clone(),
            declined["approvedAmount"].clone(),
            declined["decidedBy"]["email"].clone()
        ),
        (json!("DECLINED"), Value::Null, json!("owner@example.com"))
    );
    // A decided request cannot be decided again, nor cancelled.
    let again = owner
        .query(
            &decide_query("approveCreditRequest"),
            json!({ "r": asked["id"] }),
        )
        .await;
    assert_eq!(error(&again)["extensions"]["code"], "CONFLICT");
    assert_eq!(
        ada.error_code(&cancel_query(), json!({ "r": asked["id"] }))
            .await,
        "CONFLICT"
    );

    // Cancelled by the member who asked.
    let asked = ask(&ada, &org, 5, Some("never mind")).await;
    let cancelled = ada
        .ok(&cancel_query(), json!({ "r": asked["id"] }))
        .await["cancelCreditRequest"]["request"]
        .clone();
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(cancelled["decidedBy"]["email"], "ada@example.com");
    assert_eq!(
        owner
            .error_code(
                &decide_query("declineCreditRequest"),
                json!({ "r": asked["id"] })
            )
            .await,
        "CONFLICT"
    );
    let after = books(&owner, &org, &ada).await;
    assert_eq!(after["member"]["credits"], 50);
    assert_eq!(
        after["creditPool"],
        json!({ "available": 50, "distributed": 50 })
    );

    // Newest first, with a status filter, page by page.
    let all = owner.ok(LIST, json!({ "org": org })).await;
    let statuses: Vec<&str> = list_of(&all)["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["CANCELLED", "DECLINED", "APPROVED", "APPROVED"]);
    assert_eq!(list_of(&all)["totalCount"], 4);
    let approved = owner
        .ok(
            LIST,
            json!({ "org": org, "status": "APPROVED", "first": 1 }),
        )
        .await;
    let page = list_of(&approved);
    assert_eq!(page["totalCount"], 2);
    assert_eq!(page["nodes"][0]["approvedAmount"], 20);
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let next = owner
        .ok(
            LIST,
            json!({ "org": org, "status": "APPROVED", "first": 1, "after": page["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(list_of(&next)["nodes"][0]["approvedAmount"], 30);
    assert_eq!(list_of(&next)["pageInfo"]["hasNextPage"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_asker_cancels_only_deciders_decide_and_outsiders_see_nothing() {
    let app = TestApp::spawn().await;
    let (owner, ada, org, _) = owner_and_ada(&app).await;
    let bob = app.sign_up("bob@example.com").await;
    app.join(&org, &bob, Role::Member).await;
    let outsider = app.sign_up("outsider@example.com").await;
    add_credits(&owner, &org, 100).await;
    let asked = ask(&ada, &org, 10, None).await;
    let request = json!({ "r": asked["id"] });

    // A MEMBER may not decide, nor list.
    for mutation in ["approveCreditRequest", "declineCreditRequest"] {
        let body = bob.query(&decide_query(mutation), request.clone()).await;
        assert_eq!(
            (
                error(&body)["extensions"]["code"].clone(),
                error(&body)["extensions"]["permission"].clone()
            ),
            (json!("FORBIDDEN"), json!("UPDATE_MEMBERS")),
            "{mutation}"
        );
    }
    let listed = bob.query(LIST, json!({ "org": org })).await;
    assert_eq!(error(&listed)["extensions"]["code"], "FORBIDDEN");
    // Another member may not cancel it, nor may an admin: they decline.
    assert_eq!(
        bob.error_code(&cancel_query(), request.clone()).await,
        "FORBIDDEN"
    );
    assert_eq!(
        owner.error_code(&cancel_query(), request.clone()).await,
        "FORBIDDEN"
    );

    // An outsider cannot tell the request, or the organization, exists.
    assert_eq!(
        outsider
            .error_code(&decide_query("approveCreditRequest"), request.clone())
            .await,
        "NOT_FOUND"
    );
    assert_eq!(
        outsider.error_code(&cancel_query(), request.clone()).await,
        "NOT_FOUND"
    );
    let body = outsider
        .query(&ask_query(), json!({ "org": org, "n": 5 }))
        .await;
    assert_eq!(error(&body)["extensions"]["code"], "NOT_FOUND");
    let node = "query($id: ID!) { node(id: $id) { id ... on CreditRequest { status } } }";
    let seen = outsider.ok(node, json!({ "id": asked["id"] })).await;
    assert!(seen["node"].is_null(), "{seen}");
    let seen = outsider.ok(LIST, json!({ "org": org })).await;
    assert!(seen["organization"].is_null(), "{seen}");
    // The asker reads their own request, a decider reads any; another member none.
    let seen = ada.ok(node, json!({ "id": asked["id"] })).await;
    assert_eq!(seen["node"]["status"], "PENDING");
    let seen = owner.ok(node, json!({ "id": asked["id"] })).await;
    assert_eq!(seen["node"]["id"], asked["id"]);
    let seen = bob.ok(node, json!({ "id": asked["id"] })).await;
    assert!(seen["node"].is_null(), "{seen}");

    // Nothing of that changed the request.
    let pending = owner
        .ok(LIST, json!({ "org": org, "status": "PENDING" }))
        .await;
    assert_eq!(list_of(&pending)["totalCount"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_asks_a_positive_amount_with_one_line_of_reason() {
    let app = TestApp::spawn().await;
    let (_, ada, org, _) = owner_and_ada(&app).await;
    let long = "x".repeat(501);
    for (amount, reason, field) in [
        (0, None, "amount"),
        (-5, None, "amount"),
        (5, Some("two\nlines"), "reason"),
        (5, Some("a bell \u{7}"), "reason"),
        (5, Some(long.as_str()), "reason"),
    ] {
        let body = ada
            .query(
                &ask_query(),
                json!({ "org": org, "n": amount, "reason": reason }),
            )
            .await;
        assert_eq!(
            (
                error(&body)["extensions"]["code"].clone(),
                error(&body)["extensions"]["field"].clone()
            ),
            (json!("BAD_USER_INPUT"), json!(field)),
            "{amount} {reason:?}: {body}"
        );
    }
    let blank = ask(&ada, &org, 5, Some("   ")).await;
    assert!(blank["reason"].is_null());
    ada.ok(&cancel_query(), json!({ "r": blank["id"] })).await;
    let exactly = "y".repeat(500);
    let asked = ask(&ada, &org, 5, Some(&exactly)).await;
    assert_eq!(asked["reason"], json!(exactly));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pending_request_at_a_time_even_when_ten_arrive_at_once() {
    let app = TestApp::spawn().await;
    let (owner, ada, org, _) = owner_and_ada(&app).await;

    let first = ask(&ada, &org, 10, None).await;
    let body = ada
        .query(&ask_query(), json!({ "org": org, "n": 20 }))
        .await;
    assert_eq!(error(&body)["extensions"]["code"], "CONFLICT");
    ada.ok(&cancel_query(), json!({ "r": first["id"] })).await;
    let second = ask(&ada, &org, 20, None).await;
    assert_eq!(second["status"], "PENDING");
    ada.ok(&cancel_query(), json!({ "r": second["id"] })).await;

    // Ten at once, on as many connections: exactly one is pending after.
    let query = ask_query();
    let attempts = (0..10).map(|n| {
        let (ada, org, query) = (ada.clone(), org.clone(), query.clone());
        async move {
            let body = ada.query(&query, json!({ "org": org, "n": n + 1 })).await;
            body["errors"][0]["extensions"]["code"]
                .as_str()
                .map(str::to_owned)
        }
    });
    let outcomes = join_all(attempts).await;
    let granted = outcomes.iter().filter(|o| o.is_none()).count();
    let conflicts = outcomes
        .iter()
        .filter(|o| o.as_deref() == Some("CONFLICT"))
        .count();
    assert_eq!((granted, conflicts), (1, 9), "{outcomes:?}");
    let pending = owner
        .ok(LIST, json!({ "org": org, "status": "PENDING" }))
        .await;
    assert_eq!(list_of(&pending)["totalCount"], 1);
    let all = owner.ok(LIST, json!({ "org": org })).await;
    assert_eq!(list_of(&all)["totalCount"], 3);
}

/// Writes a PENDING request straight to the database, past the check that
/// requestCredits makes first: what a racing ask would write.
async fn insert_pending_unchecked(
    app: &TestApp,
    org: &str,
    user: &str,
) -> Result<(), orgql::domain::DomainError> {
    let (organization_id, user_id) = (db_id(org), db_id(user));
    app.server
        .db
        .write(move |tx| {
            Box::pin(async move {
                use diesel::prelude::*;
                use orgql::db::schema::credit_requests as r;
                let insert = diesel::insert_into(r::table).values((
                    r::organization_id.eq(organization_id),
                    r::user_id.eq(user_id),
                    r::amount.eq(5),
                    r::status.eq("pending"),
                    r::created_at.eq(orgql::domain::now()),
                ));
                match tx {
                    orgql::db::Conn::Postgres(c, _) => {
                        diesel_async::RunQueryDsl::execute(insert, *c).await
                    }
                    orgql::db::Conn::Sqlite(c, _) => {
                        diesel_async::RunQueryDsl::execute(insert, *c).await
                    }
                }
                .map(drop)
                .map_err(orgql::domain::DomainError::from)
            })
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_refuses_a_second_pending_request_as_a_conflict() {
    let app = TestApp::spawn().await;
    let (_, ada, org, _) = owner_and_ada(&app).await;
    let ada_user = ada.user_id.clone().unwrap();
    insert_pending_unchecked(&app, &org, &ada_user)
        .await
        .expect("the first is pending");
    match insert_pending_unchecked(&app, &org, &ada_user).await {
        Err(orgql::domain::DomainError::Conflict(message)) => {
            assert!(message.contains("pending credit request"), "{message}")
        }
        other => panic!("expected CONFLICT from the unique index, got {other:?}"),
    }
    let body = ada.query(&ask_query(), json!({ "org": org, "n": 5 })).await;
    assert_eq!(error(&body)["extensions"]["code"], "CONFLICT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_past_the_pool_or_above_the_ask_changes_nothing() {
    let app = TestApp::spawn().await;
    let (owner, ada, org, _) = owner_and_ada(&app).await;
    add_credits(&owner, &org, 10).await;
    let asked = ask(&ada, &org, 50, None).await;
    let approve_query = decide_query("approveCreditRequest");

    let body = owner
        .query(&approve_query, json!({ "r": asked["id"] }))
        .await;
    assert_eq!(
        (
            error(&body)["extensions"]["code"].clone(),
            error(&body)["extensions"]["available"].clone()
        ),
        (json!("LIMIT_EXCEEDED"), json!(10))
    );
    for amount in [51, 0, -3] {
        let body = owner
            .query(&approve_query, json!({ "r": asked["id"], "n": amount }))
            .await;
        assert_eq!(
            (
                error(&body)["extensions"]["code"].clone(),
                error(&body)["extensions"]["field"].clone()
            ),
            (json!("BAD_USER_INPUT"), json!("amount")),
            "{amount}: {body}"
        );
    }
    let still = owner
        .ok(LIST, json!({ "org": org, "status": "PENDING" }))
        .await;
    assert_eq!(list_of(&still)["nodes"][0]["id"], asked["id"]);
    let after = books(&owner, &org, &ada).await;
    assert_eq!(
        after["creditPool"],
        json!({ "available": 10, "distributed": 0 })
    );
    assert_eq!(after["member"]["credits"], 0);

    // What the pool holds may be approved.
    let approved = approve(&owner, &asked, Some(10)).await;
    assert_eq!(approved["approvedAmount"], 10);
    let after = books(&owner, &org, &ada).await;
    assert_eq!(
        after["creditPool"],
        json!({ "available": 0, "distributed": 10 })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_who_is_removed_or_leaves_has_their_pending_request_cancelled() {
    let app = TestApp::spawn().await;
    let (owner, ada, org, ada_member) = owner_and_ada(&app).await;
    let bob = app.sign_up("bob@example.com").await;
    app.join(&org, &bob, Role::Member).await;
    add_credits(&owner, &org, 100).await;
    let adas = ask(&ada, &org, 10, None).await;
    let bobs = ask(&bob, &org, 20, None).await;

    owner
        .ok(
            "mutation($m: ID!) { removeMember(input: {memberId: $m}) { creditsReturned } }",
            json!({ "m": ada_member }),
        )
        .await;
    bob.ok("mutation($org: ID!) { leaveOrganization(input: {organizationId: $org}) { removedMemberId } }", json!({ "org": org })).await;

    let all = owner.ok(LIST, json!({ "org": org })).await;
    assert_eq!(
        list_of(&all)["nodes"],
        json!([
            { "id": bobs["id"], "amount": 20, "status": "CANCELLED", "approvedAmount": null,
              "user": { "email": "bob@example.com" }, "decidedBy": { "email": "bob@example.com" } },
            { "id": adas["id"], "amount": 10, "status": "CANCELLED", "approvedAmount": null,
              "user": { "email": "ada@example.com" }, "decidedBy": { "email": "owner@example.com" } },
        ])
    );
    // The removal says so in its one audit entry.
    let audit = owner.ok("query($org: ID!) { organization(id: $org) { auditLog(first: 2) { nodes { action details } } } }", json!({ "org": org })).await;
    let nodes = &audit["organization"]["auditLog"]["nodes"];
    let removed: Value = serde_json::from_str(nodes[1]["details"].as_str().unwrap()).unwrap();
    assert_eq!(nodes[1]["action"], "member.removed");
    assert_eq!(removed["creditRequestCancelled"], adas["id"]);
    assert_eq!(nodes[0]["action"], "member.left");
    // Nothing is distributed to someone who has gone.
    assert_eq!(
        owner
            .error_code(
                &decide_query("approveCreditRequest"),
                json!({ "r": adas["id"] })
            )
            .await,
        "CONFLICT"
    );
    let pool = owner
        .ok(
            "query($org: ID!) { organization(id: $org) { creditPool { available } } }",
            json!({ "org": org }),
        )
        .await;
    assert_eq!(pool["organization"]["creditPool"]["available"], 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_step_is_one_webhook_named_after_it() {
    let receiver = WebhookReceiver::start();
    let app =
        TestApp::spawn_configured(|config| config.webhook_allow_private_networks = true).await;
    let (owner, ada, org, ada_member) = owner_and_ada(&app).await;
    add_credits(&owner, &org, 100).await;
    let created = owner
        .ok(
            "mutation($org: ID!, $url: String!) { createWebhookEndpoint(input: {organizationId: $org, url: $url}) { secret } }",
            json!({ "org": org, "url": receiver.endpoint_url("all") }),
        )
        .await;
    let secret = created["createWebhookEndpoint"]["secret"].as_str().unwrap();
    receiver.configure("all", secret, json!({})).await;

    let asked = ask(&ada, &org, 40, Some("for the next run")).await;
    approve(&owner, &asked, Some(25)).await;
    let asked_again = ask(&ada, &org, 5, None).await;
    owner
        .ok(
            &decide_query("declineCreditRequest"),
            json!({ "r": asked_again["id"] }),
        )
        .await;
    let last = ask(&ada, &org, 7, None).await;
    ada.ok(&cancel_query(), json!({ "r": last["id"] })).await;

    let expected = [
        "webhook_endpoint.created",
        "credit_request.created",
        "credit_request.approved",
        "credit_request.created",
        "credit_request.declined",
        "credit_request.created",
        "credit_request.cancelled",
    ];
    let received = receiver
        .wait_for("all", expected.len(), Duration::from_secs(10))
        .await;
    let bodies: Vec<&Value> = received
        .iter()
        .map(|d| {
            assert_eq!(d["verified"], true, "{d}");
            &d["body"]
        })
        .collect();
    let types: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(types, expected, "one webhook per step, in commit order");

    let created = &bodies[1]["data"];
    assert_eq!(
        created["user"],
        json!({ "id": ada.user_id, "email": "ada@example.com" })
    );
    assert_eq!(created["actor"]["email"], "ada@example.com");
    assert_eq!(
        created["change"],
        json!({ "request": asked["id"], "amount": 40, "approvedAmount": null,
                "reason": "for the next run", "status": "PENDING" })
    );
    let approved = &bodies[2]["data"];
    assert_eq!(approved["actor"]["email"], "owner@example.com");
    assert_eq!(approved["member"]["id"], json!(ada_member));
    assert_eq!(approved["member"]["credits"], 25);
    assert_eq!(
        approved["change"],
        json!({ "request": asked["id"], "amount": 40, "approvedAmount": 25,
                "reason": "for the next run", "status": "APPROVED", "balance": 25 })
    );
    assert_eq!(bodies[4]["data"]["change"]["status"], "DECLINED");
    assert_eq!(
        bodies[6]["data"]["change"]["request"], last["id"],
        "{}",
        bodies[6]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_is_a_live_credits_change() {
    let app = TestApp::spawn().await;
    let (owner, ada, org, _) = owner_and_ada(&app).await;
    add_credits(&owner, &org, 100).await;
    let mut mine = WsClient::signed_in(&app.url, ada.token.as_deref().unwrap()).await;
    mine.subscribe(
        "mine",
        "subscription { viewerMembershipChanged { kind member { credits } actor { email } } }",
        json!({}),
    )
    .await;
    let mut dashboard = WsClient::signed_in(&app.url, owner.token.as_deref().unwrap()).await;
    dashboard
        .subscribe(
            "org",
            "subscription($org: ID!) { organizationMembershipChanged(organizationId: $org) { kind userId member { credits } } }",
            json!({ "org": org }),
        )
        .await;

    // Asking changes no one's membership: nothing is pushed.
    let asked = ask(&ada, &org, 30, None).await;
    assert!(mine.quiet(Duration::from_millis(500)).await);
    approve(&owner, &asked, None).await;

    let payload = mine.next("mine").await;
    let changed = &payload["data"]["viewerMembershipChanged"];
    assert_eq!(
        *changed,
        json!({ "kind": "CREDITS_CHANGED", "member": { "credits": 30 }, "actor": { "email": "owner@example.com" } })
    );
    let payload = dashboard.next("org").await;
    let changed = &payload["data"]["organizationMembershipChanged"];
    assert_eq!(
        *changed,
        json!({ "kind": "CREDITS_CHANGED", "userId": ada.user_id, "member": { "credits": 30 } })
    );
}
