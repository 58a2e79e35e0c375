//! Credits the product spends: a service key spends, holds, settles and
//! releases members' credits, exactly once per idempotency key, never past
//! what is available, with a ledger that replays to every balance; on both
//! backends, over HTTP and WebSocket, and from the database itself.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use diesel::ExpressionMethods;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel_async::RunQueryDsl;
use orgql::domain::Role;
use serde_json::{Value, json};

use crate::common::{Client, ScratchDatabase, ServerProcess, TestApp, db_id, owner_and_ada};
use crate::fixtures::{OidcProvider, WebhookReceiver};
use crate::ws::WsClient;

// ---- the API, as a job runner calls it ---------------------------------------

macro_rules! entry_fields {
    () => {
        "id kind amount user { id } memberCreditsAfter poolAvailableAfter hold { id status } idempotencyKey description actor { id } serviceKey { id } createdAt"
    };
}
macro_rules! hold_fields {
    () => {
        "id amount settledAmount status description idempotencyKey createdAt expiresAt endedAt user { id } organization { id }"
    };
}
macro_rules! balance_fields {
    () => {
        "id credits heldCredits availableCredits spentCredits"
    };
}

const SPEND: &str = concat!(
    "mutation($input: SpendCreditsInput!) { spendCredits(input: $input) { entry { ",
    entry_fields!(),
    " } member { ",
    balance_fields!(),
    " } } }"
);
const HOLD: &str = concat!(
    "mutation($input: HoldCreditsInput!) { holdCredits(input: $input) { hold { ",
    hold_fields!(),
    " } member { ",
    balance_fields!(),
    " } } }"
);
const SETTLE: &str = concat!(
    "mutation($input: SettleCreditHoldInput!) { settleCreditHold(input: $input) { hold { ",
    hold_fields!(),
    " } member { ",
    balance_fields!(),
    " } } }"
);
const RELEASE: &str = concat!(
    "mutation($input: ReleaseCreditHoldInput!) { releaseCreditHold(input: $input) { hold { ",
    hold_fields!(),
    " } member { ",
    balance_fields!(),
    " } } }"
);
/// A spend that asks only for its entry's ID, for the many retries.
const SPEND_ID: &str =
    "mutation($input: SpendCreditsInput!) { spendCredits(input: $input) { entry { id } } }";
const MEMBER: &str = concat!(
    "query($org: ID!, $user: ID!) { organization(id: $org) { member(userId: $user) { ",
    balance_fields!(),
    " } } }"
);
const POOL: &str = "query($org: ID!) { organization(id: $org) { creditPool { available distributed total held spent added } } }";
const LEDGER: &str = concat!(
    "query($org: ID!, $user: ID, $first: Int, $after: String) { organization(id: $org) { creditLedger(first: $first, after: $after, userId: $user) { totalCount pageInfo { hasNextPage endCursor } nodes { ",
    entry_fields!(),
    " } } } }"
);
const MEMBER_LEDGER: &str = concat!(
    "query($org: ID!, $user: ID!, $first: Int, $after: String) { organization(id: $org) { member(userId: $user) { creditLedger(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { ",
    entry_fields!(),
    " } } } } }"
);
const MEMBER_HOLDS: &str = concat!(
    "query($org: ID!, $user: ID!, $first: Int, $after: String, $status: CreditHoldStatus) { organization(id: $org) { member(userId: $user) { creditHolds(first: $first, after: $after, status: $status) { totalCount pageInfo { hasNextPage endCursor } nodes { ",
    hold_fields!(),
    " } } } } }"
);
const CREATE_KEY: &str = "mutation($org: ID!) { createServiceKey(input: {organizationId: $org, name: \"job runner\"}) { secret serviceKey { id } } }";
const ADD_CREDITS: &str = "mutation($org: ID!, $n: Int!) { addCredits(input: {organizationId: $org, amount: $n}) { organization { id } } }";
const DISTRIBUTE: &str = "mutation($m: ID!, $n: Int!) { distributeCredits(input: {memberId: $m, amount: $n}) { member { id } } }";
const RECLAIM: &str = "mutation($m: ID!, $n: Int!) { reclaimCredits(input: {memberId: $m, amount: $n}) { member { credits heldCredits availableCredits } } }";

/// What the pool holds beyond what Ada was given, in every test's books.
const POOL_LEFT: i64 = 1000;

/// One organization "Acme" whose owner topped up the pool, gave Ada some of
/// it, and made a service key for the product's job runner.
struct Books {
    app: TestApp,
    owner: Client,
    ada: Client,
    org: String,
    ada_member: String,
    /// The job runner, signed in with the organization's service key.
    key: Client,
    key_id: String,
}

impl Books {
    async fn open(ada_credits: i64) -> Books {
        Self::open_on(TestApp::spawn().await, ada_credits).await
    }

    async fn open_on(app: TestApp, ada_credits: i64) -> Books {
        let (owner, ada, org, ada_member) = owner_and_ada(&app).await;
        owner
            .ok(
                ADD_CREDITS,
                json!({ "org": org, "n": ada_credits + POOL_LEFT }),
            )
            .await;
        owner
            .ok(DISTRIBUTE, json!({ "m": ada_member, "n": ada_credits }))
            .await;
        let (key, key_id) = service_key(&app, &owner, &org).await;
        Books {
            app,
            owner,
            ada,
            org,
            ada_member,
            key,
            key_id,
        }
    }

    /// The input of a spend or a hold of Ada's credits.
    fn input(&self, amount: i64, key: &str) -> Value {
        json!({ "organizationId": self.org, "userId": self.ada.user_id, "amount": amount, "idempotencyKey": key })
    }

    async fn spend(&self, amount: i64, key: &str) -> Value {
        payload(&self.key, SPEND, self.input(amount, key)).await
    }

    async fn hold(&self, amount: i64, key: &str) -> Value {
        payload(&self.key, HOLD, self.input(amount, key)).await
    }

    async fn settle(&self, hold: &Value, amount: i64, key: &str) -> Value {
        payload(
            &self.key,
            SETTLE,
            json!({ "holdId": hold["id"], "amount": amount, "idempotencyKey": key }),
        )
        .await
    }

    async fn release(&self, hold: &Value, key: &str) -> Value {
        payload(
            &self.key,
            RELEASE,
            json!({ "holdId": hold["id"], "idempotencyKey": key }),
        )
        .await
    }

    /// `who`'s balances as the owner sees them.
    async fn balances(&self, who: &Client) -> Value {
        self.owner
            .ok(MEMBER, json!({ "org": self.org, "user": who.user_id }))
            .await["organization"]["member"]
            .clone()
    }

    async fn pool(&self) -> Value {
        self.owner.ok(POOL, json!({ "org": self.org })).await["organization"]["creditPool"].clone()
    }

    /// The organization's ledger, newest first (up to 100 entries).
    async fn ledger(&self) -> Vec<Value> {
        nodes(
            &self
                .owner
                .ok(LEDGER, json!({ "org": self.org, "first": 100 }))
                .await["organization"]["creditLedger"],
        )
    }

    /// Ada's holds, newest first.
    async fn holds(&self, status: Option<&str>) -> Vec<Value> {
        let data = self
            .owner
            .ok(
                MEMBER_HOLDS,
                json!({ "org": self.org, "user": self.ada.user_id, "first": 100, "status": status }),
            )
            .await;
        nodes(&data["organization"]["member"]["creditHolds"])
    }
}

/// A service key of the organization, as a client, and its ID.
async fn service_key(app: &TestApp, owner: &Client, org: &str) -> (Client, String) {
    let created = owner.ok(CREATE_KEY, json!({ "org": org })).await["createServiceKey"].clone();
    (
        app.anonymous()
            .with_token(created["secret"].as_str().unwrap()),
        created["serviceKey"]["id"].as_str().unwrap().to_owned(),
    )
}

/// The payload of a spending mutation that must succeed.
async fn payload(client: &Client, mutation: &str, input: Value) -> Value {
    let data = client.ok(mutation, json!({ "input": input })).await;
    data.as_object().unwrap().values().next().unwrap().clone()
}

/// The whole answer to a spending mutation.
async fn call(client: &Client, mutation: &str, input: Value) -> Value {
    client.query(mutation, json!({ "input": input })).await
}

/// The first error's extensions (null when the call succeeded).
fn refusal(body: &Value) -> &Value {
    &body["errors"][0]["extensions"]
}

fn code(body: &Value) -> &str {
    refusal(body)["code"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error: {body:#}"))
}

fn nodes(connection: &Value) -> Vec<Value> {
    connection["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("a connection: {connection}"))
        .clone()
}

fn kinds(entries: &[Value]) -> Vec<(String, i64)> {
    entries
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["amount"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn balances(credits: i64, held: i64, spent: i64) -> Value {
    json!({ "credits": credits, "heldCredits": held, "availableCredits": credits - held, "spentCredits": spent })
}

/// A member's balances without its ID, to compare with [`balances`].
fn without_id(member: &Value) -> Value {
    let mut member = member.clone();
    member.as_object_mut().unwrap().remove("id");
    member
}

fn pool(available: i64, distributed: i64, held: i64, spent: i64, added: i64) -> Value {
    json!({ "available": available, "distributed": distributed, "total": available + distributed, "held": held, "spent": spent, "added": added })
}

fn time(value: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap_or_else(|e| panic!("{value}: {e}"))
}

// ---- spending, holding, settling, releasing ------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spend_takes_available_credits_at_once_and_is_one_ledger_entry() {
    let books = Books::open(500).await;
    let input = json!({
        "organizationId": books.org, "userId": books.ada.user_id, "amount": 120,
        "idempotencyKey": "job-1/spend", "description": "job 1: 120 shots",
    });
    let spent = payload(&books.key, SPEND, input).await;

    let entry = &spent["entry"];
    assert_eq!(entry["kind"], "SPENT");
    assert_eq!(entry["amount"], 120);
    assert_eq!(entry["user"]["id"], json!(books.ada.user_id));
    assert_eq!(entry["memberCreditsAfter"], 380);
    assert_eq!(entry["poolAvailableAfter"], POOL_LEFT);
    assert_eq!(entry["hold"], Value::Null);
    assert_eq!(entry["idempotencyKey"], "job-1/spend");
    assert_eq!(entry["description"], "job 1: 120 shots");
    assert_eq!(entry["actor"], Value::Null, "a service key did it");
    assert_eq!(entry["serviceKey"]["id"], json!(books.key_id));
    assert!(time(&entry["createdAt"]) <= chrono::Utc::now());
    assert_eq!(spent["member"]["id"], json!(books.ada_member));
    assert_eq!(without_id(&spent["member"]), balances(380, 0, 120));

    assert_eq!(
        without_id(&books.balances(&books.ada).await),
        balances(380, 0, 120)
    );
    assert_eq!(books.pool().await, pool(POOL_LEFT, 380, 0, 120, 1500));

    // The organization's ledger, newest first: the spend, the distribution,
    // the top-up.
    let ledger = books.ledger().await;
    assert_eq!(
        kinds(&ledger),
        [
            ("SPENT".into(), 120),
            ("DISTRIBUTED".into(), 500),
            ("ADDED".into(), 1500)
        ]
    );
    assert_eq!(&ledger[0], entry);
    let (distributed, added) = (&ledger[1], &ledger[2]);
    assert_eq!(
        (
            distributed["user"]["id"].clone(),
            distributed["memberCreditsAfter"].clone(),
            distributed["poolAvailableAfter"].clone()
        ),
        (json!(books.ada.user_id), json!(500), json!(POOL_LEFT))
    );
    assert_eq!(distributed["actor"]["id"], json!(books.owner.user_id));
    assert_eq!(distributed["serviceKey"], Value::Null);
    assert_eq!(
        (
            added["user"].clone(),
            added["memberCreditsAfter"].clone(),
            added["poolAvailableAfter"].clone()
        ),
        (Value::Null, Value::Null, json!(1500))
    );

    // Ada's own ledger, through the organization and through the member.
    let hers = books
        .owner
        .ok(
            LEDGER,
            json!({ "org": books.org, "user": books.ada.user_id, "first": 10 }),
        )
        .await;
    let hers = nodes(&hers["organization"]["creditLedger"]);
    assert_eq!(hers, ledger[..2]);
    let on_member = books
        .owner
        .ok(
            MEMBER_LEDGER,
            json!({ "org": books.org, "user": books.ada.user_id, "first": 10 }),
        )
        .await;
    assert_eq!(
        nodes(&on_member["organization"]["member"]["creditLedger"]),
        ledger[..2]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_settled_in_part_spends_what_was_used_and_returns_the_rest() {
    let books = Books::open(500).await;
    let held = books.hold(200, "job-2/hold").await;
    let hold = &held["hold"];
    assert_eq!(hold["status"], "HELD");
    assert_eq!(hold["amount"], 200);
    assert_eq!(hold["settledAmount"], Value::Null);
    assert_eq!(hold["endedAt"], Value::Null);
    assert_eq!(hold["idempotencyKey"], "job-2/hold");
    assert_eq!(hold["user"]["id"], json!(books.ada.user_id));
    assert_eq!(hold["organization"]["id"], json!(books.org));
    let lasts = time(&hold["expiresAt"]) - time(&hold["createdAt"]);
    assert!(
        (3599..=3601).contains(&lasts.num_seconds()),
        "an hour by default: {lasts}"
    );
    assert_eq!(without_id(&held["member"]), balances(500, 200, 0));
    assert_eq!(books.pool().await, pool(POOL_LEFT, 500, 200, 0, 1500));
    let entry = &books.ledger().await[0];
    assert_eq!(
        (
            entry["kind"].clone(),
            entry["amount"].clone(),
            entry["hold"]["id"].clone()
        ),
        (json!("HELD"), json!(200), hold["id"].clone())
    );
    assert_eq!(
        (
            entry["memberCreditsAfter"].clone(),
            entry["poolAvailableAfter"].clone(),
            entry["idempotencyKey"].clone(),
            entry["serviceKey"]["id"].clone(),
            entry["actor"].clone()
        ),
        (
            json!(500),
            json!(POOL_LEFT),
            json!("job-2/hold"),
            json!(books.key_id),
            Value::Null
        ),
        "held credits stay the member's"
    );

    let settled = books.settle(hold, 150, "job-2/settle").await;
    let after = &settled["hold"];
    assert_eq!(after["id"], hold["id"]);
    assert_eq!(after["status"], "SETTLED");
    assert_eq!(after["settledAmount"], 150);
    assert!(time(&after["endedAt"]) >= time(&hold["createdAt"]));
    assert_eq!(without_id(&settled["member"]), balances(350, 0, 150));
    assert_eq!(books.pool().await, pool(POOL_LEFT, 350, 0, 150, 1500));

    // One SETTLED entry for what the job used, one RELEASED for the rest,
    // both naming the hold and the settle's key.
    let ledger = books.ledger().await;
    let mut settle_entries = kinds(&ledger[..2]);
    settle_entries.sort();
    assert_eq!(
        settle_entries,
        [("RELEASED".into(), 50), ("SETTLED".into(), 150)]
    );
    for entry in &ledger[..2] {
        assert_eq!(entry["hold"]["id"], hold["id"], "{entry}");
        assert_eq!(entry["hold"]["status"], "SETTLED");
        assert_eq!(entry["idempotencyKey"], "job-2/settle");
        assert_eq!(entry["memberCreditsAfter"], 350, "{entry}");
        assert_eq!(entry["poolAvailableAfter"], POOL_LEFT);
        assert_eq!(entry["serviceKey"]["id"], json!(books.key_id));
    }
    assert_eq!(ledger[2]["kind"], "HELD");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_settles_in_full_or_for_nothing_or_is_released() {
    let books = Books::open(500).await;

    // In full: one SETTLED entry, nothing released.
    let full = books.hold(100, "full/hold").await["hold"].clone();
    let settled = books.settle(&full, 100, "full/settle").await;
    assert_eq!(
        (
            settled["hold"]["status"].clone(),
            settled["hold"]["settledAmount"].clone()
        ),
        (json!("SETTLED"), json!(100))
    );
    assert_eq!(without_id(&settled["member"]), balances(400, 0, 100));
    let ledger = books.ledger().await;
    assert_eq!(
        kinds(&ledger[..2]),
        [("SETTLED".into(), 100), ("HELD".into(), 100)]
    );
    assert_eq!(ledger[0]["memberCreditsAfter"], 400);

    // For nothing (the job never ran): SETTLED, with one RELEASED entry for
    // all of it.
    let nothing = books.hold(80, "nothing/hold").await["hold"].clone();
    let settled = books.settle(&nothing, 0, "nothing/settle").await;
    assert_eq!(
        (
            settled["hold"]["status"].clone(),
            settled["hold"]["settledAmount"].clone()
        ),
        (json!("SETTLED"), json!(0))
    );
    assert_eq!(without_id(&settled["member"]), balances(400, 0, 100));
    let ledger = books.ledger().await;
    assert_eq!(
        kinds(&ledger[..2]),
        [("RELEASED".into(), 80), ("HELD".into(), 80)]
    );
    assert_eq!(ledger[0]["hold"]["id"], nothing["id"]);
    assert_eq!(ledger[0]["memberCreditsAfter"], 400);
    assert_eq!(ledger[2]["kind"], "SETTLED", "no SETTLED entry of 0");

    // Released: everything back to available, the hold RELEASED.
    let released = books.hold(60, "released/hold").await;
    assert_eq!(without_id(&released["member"]), balances(400, 60, 100));
    let released = books.release(&released["hold"], "released/release").await;
    let hold = &released["hold"];
    assert_eq!(
        (hold["status"].clone(), hold["settledAmount"].clone()),
        (json!("RELEASED"), Value::Null)
    );
    assert!(hold["endedAt"].is_string());
    assert_eq!(without_id(&released["member"]), balances(400, 0, 100));
    let ledger = books.ledger().await;
    assert_eq!(
        kinds(&ledger[..2]),
        [("RELEASED".into(), 60), ("HELD".into(), 60)]
    );
    assert_eq!(
        (
            ledger[0]["idempotencyKey"].clone(),
            ledger[0]["hold"]["id"].clone()
        ),
        (json!("released/release"), hold["id"].clone())
    );
    assert_eq!(books.pool().await, pool(POOL_LEFT, 400, 0, 100, 1500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_and_ledgers_page_by_keyset_newest_first() {
    let books = Books::open(500).await;
    let mut placed = Vec::new();
    for n in 0..5 {
        placed.push(books.hold(10 + n, &format!("page/hold-{n}")).await["hold"].clone());
    }
    books.settle(&placed[1], 5, "page/settle-1").await;
    books.release(&placed[2], "page/release-2").await;
    books.spend(3, "page/spend").await;

    // Holds, newest first; filtered by status.
    let ids = |holds: &[Value]| -> Vec<Value> { holds.iter().map(|h| h["id"].clone()).collect() };
    let all = books.holds(None).await;
    let newest_first: Vec<Value> = placed.iter().rev().map(|h| h["id"].clone()).collect();
    assert_eq!(ids(&all), newest_first);
    let open = books.holds(Some("HELD")).await;
    assert_eq!(
        ids(&open),
        [
            placed[4]["id"].clone(),
            placed[3]["id"].clone(),
            placed[0]["id"].clone()
        ]
    );
    assert!(open.iter().all(|h| h["status"] == "HELD"));
    assert_eq!(
        ids(&books.holds(Some("SETTLED")).await),
        [placed[1]["id"].clone()]
    );
    assert_eq!(
        ids(&books.holds(Some("RELEASED")).await),
        [placed[2]["id"].clone()]
    );
    assert!(books.holds(Some("EXPIRED")).await.is_empty());

    // Page through the holds two at a time.
    let mut walked = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = books
            .owner
            .ok(
                MEMBER_HOLDS,
                json!({ "org": books.org, "user": books.ada.user_id, "first": 2, "after": after }),
            )
            .await;
        let page = &data["organization"]["member"]["creditHolds"];
        assert_eq!(page["totalCount"], 5);
        let page_nodes = nodes(page);
        assert!(page_nodes.len() <= 2);
        walked.extend(ids(&page_nodes));
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(walked, newest_first);

    // The ledger, three at a time, through the organization and the member.
    let everything = books.ledger().await;
    // ADDED, DISTRIBUTED, 5 HELD, SETTLED + RELEASED, RELEASED, SPENT.
    assert_eq!(everything.len(), 11, "{:?}", kinds(&everything));
    let walk = async |query: &str, user: &Value, path: fn(&Value) -> &Value| {
        let mut walked = Vec::new();
        let mut after = Value::Null;
        loop {
            let data = books
                .owner
                .ok(
                    query,
                    json!({ "org": books.org, "user": user, "first": 3, "after": after }),
                )
                .await;
            let page = path(&data);
            walked.extend(nodes(page));
            if page["pageInfo"]["hasNextPage"] != true {
                return (walked, page["totalCount"].clone());
            }
            after = page["pageInfo"]["endCursor"].clone();
        }
    };
    let (walked, total) = walk(LEDGER, &Value::Null, |d| &d["organization"]["creditLedger"]).await;
    assert_eq!((walked.clone(), total), (everything.clone(), json!(11)));
    let ada = json!(books.ada.user_id);
    let hers: Vec<Value> = everything
        .iter()
        .filter(|e| e["user"]["id"] == ada)
        .cloned()
        .collect();
    assert_eq!(hers.len(), 10, "all but the top-up");
    let (walked, total) = walk(LEDGER, &ada, |d| &d["organization"]["creditLedger"]).await;
    assert_eq!((walked, total), (hers.clone(), json!(10)));
    let (walked, total) = walk(
        MEMBER_LEDGER,
        &ada,
        |d| &d["organization"]["member"]["creditLedger"],
    )
    .await;
    assert_eq!((walked, total), (hers, json!(10)));
}

// ---- who is charged, and what is refused -----------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_member_is_named_by_user_id_or_by_the_providers_subject() {
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
    let books = Books::open_on(app, 100).await;
    let token = provider
        .token_for(
            "judy-sub",
            json!({ "email": "judy@example.com", "email_verified": true, "name": "Judy" }),
        )
        .await;
    let mut judy = books.app.anonymous().with_token(&token);
    judy.user_id = judy.ok("{ viewer { user { id } } }", json!({})).await["viewer"]["user"]["id"]
        .as_str()
        .map(str::to_owned);
    books.app.join(&books.org, &judy, Role::Member).await;
    let judy_member = books.owner.member_id(&books.org, &judy).await;
    books
        .owner
        .ok(DISTRIBUTE, json!({ "m": judy_member, "n": 300 }))
        .await;

    let by_subject = |amount: i64, key: &str| json!({ "organizationId": books.org, "subject": "judy-sub", "amount": amount, "idempotencyKey": key });
    let spent = payload(&books.key, SPEND, by_subject(30, "judy/spend")).await;
    assert_eq!(spent["entry"]["user"]["id"], json!(judy.user_id));
    assert_eq!(spent["member"]["id"], json!(judy_member));
    assert_eq!(without_id(&spent["member"]), balances(270, 0, 30));
    let held = payload(&books.key, HOLD, by_subject(70, "judy/hold")).await;
    assert_eq!(held["hold"]["user"]["id"], json!(judy.user_id));
    assert_eq!(without_id(&held["member"]), balances(270, 70, 30));
    assert_eq!(
        without_id(&books.balances(&books.ada).await),
        balances(100, 0, 0),
        "Ada was not charged"
    );

    // Exactly one of the two.
    for input in [
        json!({ "organizationId": books.org, "userId": judy.user_id, "subject": "judy-sub", "amount": 1, "idempotencyKey": "judy/both" }),
        json!({ "organizationId": books.org, "amount": 1, "idempotencyKey": "judy/neither" }),
    ] {
        for mutation in [SPEND, HOLD] {
            let body = call(&books.key, mutation, input.clone()).await;
            assert_eq!(code(&body), "BAD_USER_INPUT", "{input}: {body}");
        }
    }
    // The same member named the other way is another input.
    let mut by_user = by_subject(30, "judy/spend");
    by_user.as_object_mut().unwrap().remove("subject");
    by_user["userId"] = json!(judy.user_id);
    let body = call(&books.key, SPEND, by_user).await;
    assert_eq!(code(&body), "CONFLICT", "{body}");
    // The original input is still the first call.
    let again = payload(&books.key, SPEND, by_subject(30, "judy/spend")).await;
    assert_eq!(again["entry"]["id"], spent["entry"]["id"]);
    assert_eq!(
        without_id(&books.balances(&judy).await),
        balances(270, 70, 30)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_what_is_wrong_and_change_nothing() {
    let books = Books::open(500).await;
    let open = books.hold(100, "open/hold").await["hold"].clone();
    let before = (books.ledger().await, books.pool().await);

    let with = |field: &str, value: Value| {
        let mut input = books.input(10, "refused/key");
        input[field] = value;
        input
    };
    let mut bad_inputs = vec![
        with("amount", json!(0)),
        with("amount", json!(-5)),
        with("idempotencyKey", json!("")),
        with("idempotencyKey", json!("k".repeat(201))),
        with("idempotencyKey", json!("caf\u{e9}")),
        with("idempotencyKey", json!("tab\there")),
        with("idempotencyKey", json!("new\nline")),
        with("idempotencyKey", json!("nul\u{0}")),
        with("idempotencyKey", json!("del\u{7f}")),
    ];
    for input in &bad_inputs {
        for mutation in [SPEND, HOLD] {
            let body = call(&books.key, mutation, input.clone()).await;
            assert_eq!(code(&body), "BAD_USER_INPUT", "{input}: {body}");
        }
    }
    for seconds in [0, 59, 604_801, -1] {
        let mut input = books.input(10, &format!("refused/expiry-{seconds}"));
        input["expiresInSeconds"] = json!(seconds);
        let body = call(&books.key, HOLD, input).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{seconds} s: {body}");
    }
    let settle = |amount: i64, key: Value| json!({ "holdId": open["id"], "amount": amount, "idempotencyKey": key });
    bad_inputs = vec![
        settle(101, json!("refused/settle")),
        settle(-1, json!("refused/settle")),
        settle(10, json!("")),
        settle(10, json!("x".repeat(201))),
    ];
    for input in bad_inputs {
        let body = call(&books.key, SETTLE, input.clone()).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{input}: {body}");
    }
    let body = call(
        &books.key,
        RELEASE,
        json!({ "holdId": open["id"], "idempotencyKey": "\u{1F600}" }),
    )
    .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");

    // Beyond what is available (500 credits, 100 of them held).
    for (mutation, amount) in [(SPEND, 401), (HOLD, 401), (SPEND, 100_000)] {
        let body = call(
            &books.key,
            mutation,
            books.input(amount, &format!("beyond/{amount}")),
        )
        .await;
        assert_eq!(code(&body), "LIMIT_EXCEEDED", "{body}");
        assert_eq!(refusal(&body)["available"], 400, "{body}");
    }
    let body = books
        .owner
        .query(RECLAIM, json!({ "m": books.ada_member, "n": 401 }))
        .await;
    assert_eq!(
        code(&body),
        "LIMIT_EXCEEDED",
        "held credits cannot be reclaimed: {body}"
    );
    assert_eq!(refusal(&body)["available"], 400, "{body}");
    assert_eq!(
        (books.ledger().await, books.pool().await),
        before,
        "nothing changed"
    );

    // The edges are allowed: a key of 200 printable characters, 60 s and 7 days.
    let printable: String = (0x20u8..0x7f).map(char::from).cycle().take(200).collect();
    books.spend(1, &printable).await;
    for seconds in [60, 604_800] {
        let mut input = books.input(1, &format!("edge/{seconds}"));
        input["expiresInSeconds"] = json!(seconds);
        let hold = payload(&books.key, HOLD, input).await["hold"].clone();
        let lasts = time(&hold["expiresAt"]) - time(&hold["createdAt"]);
        assert!(
            (seconds - 1..=seconds + 1).contains(&lasts.num_seconds()),
            "{lasts}"
        );
    }
    let reclaimed = books
        .owner
        .ok(RECLAIM, json!({ "m": books.ada_member, "n": 397 }))
        .await;
    assert_eq!(
        reclaimed["reclaimCredits"]["member"],
        json!({ "credits": 102, "heldCredits": 102, "availableCredits": 0 })
    );

    // A hold that is no longer HELD cannot be settled or released again.
    books.settle(&open, 40, "open/settle").await;
    for (mutation, input) in [
        (
            SETTLE,
            json!({ "holdId": open["id"], "amount": 10, "idempotencyKey": "open/settle-again" }),
        ),
        (
            RELEASE,
            json!({ "holdId": open["id"], "idempotencyKey": "open/release-after-settle" }),
        ),
    ] {
        let body = call(&books.key, mutation, input).await;
        assert_eq!(code(&body), "CONFLICT", "{body}");
    }
    let released = books.hold(1, "released/hold").await["hold"].clone();
    books.release(&released, "released/release").await;
    for (mutation, input) in [
        (
            SETTLE,
            json!({ "holdId": released["id"], "amount": 1, "idempotencyKey": "released/settle" }),
        ),
        (
            RELEASE,
            json!({ "holdId": released["id"], "idempotencyKey": "released/release-again" }),
        ),
    ] {
        let body = call(&books.key, mutation, input).await;
        assert_eq!(code(&body), "CONFLICT", "{body}");
    }
}

// ---- who may -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_service_key_of_the_organization_spends_and_it_does_nothing_else() {
    let books = Books::open(500).await;
    let to_settle = books.hold(50, "who/hold").await["hold"].clone();
    let to_release = books.hold(20, "who/other-hold").await["hold"].clone();
    let before = (books.ledger().await, books.pool().await);
    let calls = [
        (SPEND, books.input(10, "who/spend")),
        (HOLD, books.input(10, "who/hold-2")),
        (
            SETTLE,
            json!({ "holdId": to_settle["id"], "amount": 10, "idempotencyKey": "who/settle" }),
        ),
        (
            RELEASE,
            json!({ "holdId": to_release["id"], "idempotencyKey": "who/release" }),
        ),
    ];
    // No user, not even the owner, nor Ada for herself.
    for user in [&books.owner, &books.ada] {
        for (mutation, input) in &calls {
            let body = call(user, mutation, input.clone()).await;
            assert_eq!(code(&body), "FORBIDDEN", "{body}");
        }
    }
    // A key of another organization finds nothing of this one.
    let stranger = books.app.sign_up("stranger@example.com").await;
    let elsewhere = stranger.create_org("Elsewhere").await;
    let (other_key, _) = service_key(&books.app, &stranger, &elsewhere).await;
    for (mutation, input) in &calls {
        let body = call(&other_key, mutation, input.clone()).await;
        assert!(["NOT_FOUND", "FORBIDDEN"].contains(&code(&body)), "{body}");
    }
    // Nor may it spend Ada's credits in its own organization's name.
    let mut in_its_name = books.input(10, "who/elsewhere");
    in_its_name["organizationId"] = json!(elsewhere);
    let body = call(&other_key, SPEND, in_its_name).await;
    assert!(["NOT_FOUND", "FORBIDDEN"].contains(&code(&body)), "{body}");
    assert_eq!((books.ledger().await, books.pool().await), before);

    // The key may call the four, and still no other mutation.
    for (mutation, query, variables) in [
        (
            "distributeCredits",
            DISTRIBUTE,
            json!({ "m": books.ada_member, "n": 1 }),
        ),
        (
            "reclaimCredits",
            RECLAIM,
            json!({ "m": books.ada_member, "n": 1 }),
        ),
        (
            "addCredits",
            ADD_CREDITS,
            json!({ "org": books.org, "n": 1 }),
        ),
        (
            "removeMember",
            "mutation($m: ID!) { removeMember(input: {memberId: $m}) { creditsReturned } }",
            json!({ "m": books.ada_member }),
        ),
    ] {
        let body = books.key.query(query, variables).await;
        assert_eq!(code(&body), "FORBIDDEN", "{mutation}: {body}");
    }
    for (mutation, input) in calls {
        let body = call(&books.key, mutation, input).await;
        assert!(body.get("errors").is_none(), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_reads_every_members_credits_and_a_member_only_their_own() {
    let books = Books::open(500).await;
    let bob = books.app.sign_up("bob@example.com").await;
    books.app.join(&books.org, &bob, Role::Member).await;
    books.hold(50, "read/hold").await;
    books.spend(20, "read/spend").await;
    let read = concat!(
        "query($org: ID!, $user: ID!) { organization(id: $org) { member(userId: $user) { ",
        balance_fields!(),
        " creditLedger(first: 10) { totalCount nodes { kind amount } } creditHolds(first: 10) { totalCount nodes { status amount } } } } }"
    );
    let ada = json!(books.ada.user_id);
    let expected = json!({
        "id": books.ada_member, "credits": 480, "heldCredits": 50, "availableCredits": 430, "spentCredits": 20,
        "creditLedger": { "totalCount": 3, "nodes": [
            { "kind": "SPENT", "amount": 20 }, { "kind": "HELD", "amount": 50 }, { "kind": "DISTRIBUTED", "amount": 500 },
        ] },
        "creditHolds": { "totalCount": 1, "nodes": [{ "status": "HELD", "amount": 50 }] },
    });
    // The job runner checks a balance before it starts work; Ada sees her own.
    for reader in [&books.key, &books.ada] {
        let seen = reader
            .ok(read, json!({ "org": books.org, "user": ada }))
            .await;
        assert_eq!(seen["organization"]["member"], expected);
    }
    let key_reads = books.key.ok(POOL, json!({ "org": books.org })).await;
    assert_eq!(
        key_reads["organization"]["creditPool"],
        pool(POOL_LEFT, 480, 50, 20, 1500)
    );
    let key_ledger = books
        .key
        .ok(LEDGER, json!({ "org": books.org, "first": 10 }))
        .await;
    assert_eq!(nodes(&key_ledger["organization"]["creditLedger"]).len(), 4);

    // A plain member sees none of Bob's, and not the organization's ledger.
    let bobs = books
        .ada
        .ok(read, json!({ "org": books.org, "user": bob.user_id }))
        .await["organization"]["member"]
        .clone();
    for field in [
        "credits",
        "heldCredits",
        "availableCredits",
        "spentCredits",
        "creditLedger",
        "creditHolds",
    ] {
        assert_eq!(bobs[field], Value::Null, "{field}: {bobs}");
    }
    let body = books
        .ada
        .query(LEDGER, json!({ "org": books.org, "first": 10 }))
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    assert_eq!(refusal(&body)["permission"], "VIEW_BILLING");
}

// ---- exactly once ------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_returns_the_first_call_and_another_input_under_its_key_conflicts() {
    let books = Books::open(500).await;
    let mut first_input = books.input(50, "once/spend");
    first_input["description"] = json!("job 7");
    let first = payload(&books.key, SPEND, first_input.clone()).await;
    books.spend(20, "once/other-spend").await;
    let books_then = (books.ledger().await, books.pool().await);

    // The same key and input: the first entry, the member as they are now.
    let again = payload(&books.key, SPEND, first_input.clone()).await;
    assert_eq!(again["entry"], first["entry"]);
    assert_eq!(without_id(&again["member"]), balances(430, 0, 70));
    assert_eq!((books.ledger().await, books.pool().await), books_then);

    // The same key with anything else is CONFLICT.
    let mut conflicting = Vec::new();
    for (field, value) in [
        ("amount", json!(51)),
        ("description", json!("job 8")),
        // Every field as given: the description before it is trimmed.
        ("description", json!("job 7 ")),
        ("description", Value::Null),
    ] {
        let mut input = first_input.clone();
        input[field] = value;
        conflicting.push((SPEND, input));
    }
    let bob = books.app.sign_up("bob@example.com").await;
    books.app.join(&books.org, &bob, Role::Member).await;
    let bob_member = books.owner.member_id(&books.org, &bob).await;
    books
        .owner
        .ok(DISTRIBUTE, json!({ "m": bob_member, "n": 100 }))
        .await;
    let mut for_bob = first_input.clone();
    for_bob["userId"] = json!(bob.user_id);
    conflicting.push((SPEND, for_bob));
    conflicting.push((HOLD, first_input.clone()));
    let books_then = (books.ledger().await, books.pool().await);
    for (mutation, input) in conflicting {
        let body = call(&books.key, mutation, input.clone()).await;
        assert_eq!(code(&body), "CONFLICT", "{input}: {body}");
    }
    assert_eq!((books.ledger().await, books.pool().await), books_then);

    // Holds, settles and releases alike.
    let hold_input = books.input(100, "once/hold");
    let hold = payload(&books.key, HOLD, hold_input.clone()).await;
    let repeat = payload(&books.key, HOLD, hold_input.clone()).await;
    assert_eq!(repeat["hold"], hold["hold"]);
    assert_eq!(without_id(&repeat["member"]), balances(430, 100, 70));
    let mut longer = hold_input.clone();
    longer["expiresInSeconds"] = json!(7200);
    for (mutation, input) in [
        (HOLD, books.input(101, "once/hold")),
        (HOLD, longer),
        (SPEND, hold_input),
    ] {
        let body = call(&books.key, mutation, input).await;
        assert_eq!(code(&body), "CONFLICT", "{body}");
    }
    let settle =
        json!({ "holdId": hold["hold"]["id"], "amount": 30, "idempotencyKey": "once/settle" });
    let settled = payload(&books.key, SETTLE, settle.clone()).await;
    let ledger_settled = books.ledger().await;
    let repeat = payload(&books.key, SETTLE, settle.clone()).await;
    assert_eq!(repeat["hold"], settled["hold"]);
    assert_eq!(without_id(&repeat["member"]), balances(400, 0, 100));
    assert_eq!(books.ledger().await, ledger_settled);
    for input in [
        json!({ "holdId": hold["hold"]["id"], "amount": 31, "idempotencyKey": "once/settle" }),
        json!({ "holdId": hold["hold"]["id"], "idempotencyKey": "once/settle" }),
    ] {
        let mutation = if input.get("amount").is_some() {
            SETTLE
        } else {
            RELEASE
        };
        let body = call(&books.key, mutation, input).await;
        assert_eq!(code(&body), "CONFLICT", "{body}");
    }
    let other = books.hold(10, "once/hold-2").await["hold"].clone();
    let release = json!({ "holdId": other["id"], "idempotencyKey": "once/release" });
    let released = payload(&books.key, RELEASE, release.clone()).await;
    let repeat = payload(&books.key, RELEASE, release).await;
    assert_eq!(repeat["hold"], released["hold"]);
    // A spend's key, used again to settle an open hold, is another input.
    let open = books.hold(10, "once/hold-3").await["hold"].clone();
    let body = call(
        &books.key,
        SETTLE,
        json!({ "holdId": open["id"], "amount": 0, "idempotencyKey": "once/spend" }),
    )
    .await;
    assert_eq!(code(&body), "CONFLICT", "{body}");
    assert_eq!(books.holds(Some("HELD")).await[0]["id"], open["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_call_does_not_use_up_its_key() {
    let books = Books::open(500).await;
    let hungry = books.input(800, "refused/spend");
    let body = call(&books.key, SPEND, hungry.clone()).await;
    assert_eq!(code(&body), "LIMIT_EXCEEDED", "{body}");
    assert_eq!(refusal(&body)["available"], 500);
    let hold = books.input(600, "refused/hold");
    assert_eq!(
        code(&call(&books.key, HOLD, hold.clone()).await),
        "LIMIT_EXCEEDED"
    );

    books
        .owner
        .ok(DISTRIBUTE, json!({ "m": books.ada_member, "n": 1000 }))
        .await;
    let spent = payload(&books.key, SPEND, hungry).await;
    assert_eq!(without_id(&spent["member"]), balances(700, 0, 800));
    let held = payload(&books.key, HOLD, hold).await;
    assert_eq!(held["hold"]["status"], "HELD");
    assert_eq!(without_id(&held["member"]), balances(700, 600, 800));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_holds_of_75_against_500_grant_exactly_six() {
    let books = Books::open(500).await;
    let attempts = (0..20).map(|n| {
        let (key, input) = (books.key.clone(), books.input(75, &format!("race/{n}")));
        tokio::spawn(async move { call(&key, HOLD, input).await })
    });
    let outcomes: Vec<Value> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let granted = outcomes
        .iter()
        .filter(|b| b.get("errors").is_none())
        .count();
    let refused: Vec<&Value> = outcomes
        .iter()
        .filter(|b| b.get("errors").is_some())
        .collect();
    assert_eq!(granted, 6, "{outcomes:#?}");
    assert_eq!(refused.len(), 14);
    for body in refused {
        assert_eq!(code(body), "LIMIT_EXCEEDED", "{body}");
        assert!(refusal(body)["available"].as_i64().unwrap() < 75, "{body}");
    }
    assert_eq!(
        without_id(&books.balances(&books.ada).await),
        balances(500, 450, 0)
    );
    assert_eq!(books.pool().await["held"], 450);
    assert_eq!(books.holds(Some("HELD")).await.len(), 6);
}

/// On PostgreSQL, 64 clients send the same 50 spends three times each (a
/// job runner's retries), spread over two instances on one database.
async fn retried_spends_on_two_instances(ada_credits: i64) -> Option<(Books, Vec<Vec<Value>>)> {
    let books = Books::open(ada_credits).await;
    let second = books.app.second_instance_url().await?;
    let instances = [books.app.url.clone(), second];
    let clients = (0..64).map(|client: usize| {
        let key = books.key.clone();
        let inputs: Vec<Value> = (0..50)
            .map(|n| books.input(7, &format!("retry/{n}")))
            .collect();
        let instances = instances.clone();
        tokio::spawn(async move {
            let mut answers = vec![Vec::new(); 50];
            for round in 0..3 {
                for step in 0..50 {
                    // Each client in its own order, each call to either instance.
                    let n = (step * 7 + client * 13 + round * 29) % 50;
                    let at = key.at(&instances[(client + step + round) % 2]);
                    answers[n].push(call(&at, SPEND_ID, inputs[n].clone()).await);
                }
            }
            answers
        })
    });
    let mut by_key = vec![Vec::new(); 50];
    for answers in futures_util::future::join_all(clients).await {
        for (n, answers) in answers.unwrap().into_iter().enumerate() {
            by_key[n].extend(answers);
        }
    }
    Some((books, by_key))
}

/// The SPENT entries of the ledger: their keys, each once.
async fn spent_keys(books: &Books) -> Vec<String> {
    let mut keys = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = books
            .owner
            .ok(
                LEDGER,
                json!({ "org": books.org, "first": 100, "after": after }),
            )
            .await;
        let page = &data["organization"]["creditLedger"];
        for entry in nodes(page) {
            if entry["kind"] == "SPENT" {
                keys.push(entry["idempotencyKey"].as_str().unwrap().to_owned());
            }
        }
        if page["pageInfo"]["hasNextPage"] != true {
            return keys;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_on_two_instances_charge_each_key_once() {
    let Some((books, by_key)) = retried_spends_on_two_instances(1000).await else {
        return; // Two instances share a database on PostgreSQL only.
    };
    for (n, answers) in by_key.iter().enumerate() {
        assert_eq!(answers.len(), 64 * 3);
        let entries: HashSet<String> = answers
            .iter()
            .map(|body| {
                assert!(body.get("errors").is_none(), "retry/{n}: {body}");
                body["data"]["spendCredits"]["entry"]["id"].to_string()
            })
            .collect();
        assert_eq!(entries.len(), 1, "retry/{n}: one entry for all its calls");
    }
    let keys = spent_keys(&books).await;
    assert_eq!(keys.len(), 50);
    assert_eq!(keys.iter().collect::<HashSet<_>>().len(), 50);
    assert_eq!(
        without_id(&books.balances(&books.ada).await),
        balances(650, 0, 350)
    );
    assert_eq!(books.pool().await, pool(POOL_LEFT, 650, 0, 350, 2000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_on_two_instances_never_overspend() {
    let Some((books, by_key)) = retried_spends_on_two_instances(200).await else {
        return; // Two instances share a database on PostgreSQL only.
    };
    let mut granted = 0;
    for (n, answers) in by_key.iter().enumerate() {
        // A key is charged once and then answered with its entry, or it is
        // refused every time: the balance only falls.
        let refused = answers.iter().filter(|b| b.get("errors").is_some()).count();
        match refused {
            0 => granted += 1,
            all if all == answers.len() => {
                for body in answers {
                    assert_eq!(code(body), "LIMIT_EXCEEDED", "retry/{n}: {body}");
                    assert!(refusal(body)["available"].as_i64().unwrap() < 7, "{body}");
                }
            }
            _ => panic!(
                "retry/{n}: {refused} of {} refused: {answers:#?}",
                answers.len()
            ),
        }
    }
    assert_eq!(granted, 200 / 7, "as many as fit");
    let keys = spent_keys(&books).await;
    assert_eq!(keys.len(), granted);
    assert_eq!(keys.iter().collect::<HashSet<_>>().len(), granted);
    let ada = books.balances(&books.ada).await;
    assert_eq!(
        without_id(&ada),
        balances(200 - 7 * granted as i64, 0, 7 * granted as i64)
    );
    assert!(ada["credits"].as_i64().unwrap() >= 0);
}

// ---- holds end by themselves, and with their member ------------------------------

diesel::table! {
    /// The columns the expiry test rewrites.
    credit_holds (id) {
        id -> BigInt,
        expires_at -> Timestamp,
    }
}

/// Runs `$body` (a diesel future over `$c`) on the database, in a
/// transaction, past orgql's rules.
macro_rules! on_db {
    ($db:expr, |$c:ident| $body:expr) => {
        $db.write(move |tx| {
            Box::pin(async move {
                match tx {
                    orgql::db::Conn::Postgres($c, _) => {
                        let $c = &mut **$c;
                        $body.await
                    }
                    orgql::db::Conn::Sqlite($c, _) => {
                        let $c = &mut **$c;
                        $body.await
                    }
                }
                .map_err(orgql::domain::DomainError::from)
            })
        })
        .await
        .unwrap()
    };
}

async fn endpoint(books: &Books, receiver: &WebhookReceiver, name: &str) {
    let created = books
        .owner
        .ok(
            "mutation($org: ID!, $url: String!) { createWebhookEndpoint(input: {organizationId: $org, url: $url, eventTypes: []}) { secret } }",
            json!({ "org": books.org, "url": receiver.endpoint_url(name) }),
        )
        .await;
    let secret = created["createWebhookEndpoint"]["secret"].as_str().unwrap();
    receiver.configure(name, secret, json!({})).await;
    receiver.wait_for(name, 1, Duration::from_secs(10)).await;
}

/// The deliveries' bodies once `count` have arrived (each verified).
async fn webhooks(receiver: &WebhookReceiver, name: &str, count: usize) -> Vec<Value> {
    let received = receiver
        .wait_for(name, count, Duration::from_secs(15))
        .await;
    received
        .iter()
        .map(|d| {
            assert_eq!(d["verified"], true, "{d}");
            d["body"].clone()
        })
        .collect()
}

fn types(bodies: &[Value]) -> Vec<&str> {
    bodies.iter().map(|b| b["type"].as_str().unwrap()).collect()
}

async fn spawn_with_webhooks() -> TestApp {
    TestApp::spawn_configured(|config| config.webhook_allow_private_networks = true).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_left_open_expires_at_its_time_and_returns_its_credits() {
    let receiver = WebhookReceiver::start();
    let books = Books::open_on(spawn_with_webhooks().await, 500).await;
    let bob = books.app.sign_up("bob@example.com").await;
    books.app.join(&books.org, &bob, Role::Member).await;
    let bob_member = books.owner.member_id(&books.org, &bob).await;
    books
        .owner
        .ok(DISTRIBUTE, json!({ "m": bob_member, "n": 10 }))
        .await;
    endpoint(&books, &receiver, "expiry").await;
    let mut input = books.input(120, "expiry/hold");
    input["expiresInSeconds"] = json!(60);
    let placed = payload(&books.key, HOLD, input).await["hold"].clone();
    let lasts = time(&placed["expiresAt"]) - time(&placed["createdAt"]);
    assert!((59..=61).contains(&lasts.num_seconds()), "{lasts}");
    let still = |holds: &[Value]| {
        holds
            .iter()
            .find(|h| h["id"] == placed["id"])
            .unwrap()
            .clone()
    };
    assert_eq!(still(&books.holds(None).await)["status"], "HELD");

    // Bring its end near (rather than wait a minute), then wake the
    // worker with a hold of Bob's.
    let hold_id = db_id(placed["id"].as_str().unwrap());
    let soon = chrono::Utc::now().naive_utc() + chrono::Duration::milliseconds(1500);
    let rewritten = std::time::Instant::now();
    on_db!(books.app.server.db, |c| diesel::update(credit_holds::table)
        .filter(credit_holds::id.eq(hold_id))
        .set(credit_holds::expires_at.eq(soon))
        .execute(c));
    let mut wake = books.input(5, "expiry/wake");
    wake["userId"] = json!(bob.user_id);
    payload(&books.key, HOLD, wake).await;
    let before_its_time = still(&books.holds(None).await);
    if rewritten.elapsed() < Duration::from_millis(1200) {
        assert_eq!(
            before_its_time["status"], "HELD",
            "not before its expiresAt"
        );
        assert_eq!(
            without_id(&books.balances(&books.ada).await),
            balances(500, 120, 0)
        );
    }

    let mut expired = Value::Null;
    for _ in 0..120 {
        expired = still(&books.holds(None).await);
        if expired["status"] != "HELD" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(expired["status"], "EXPIRED", "{expired}");
    assert_eq!(expired["settledAmount"], Value::Null);
    assert!(
        time(&expired["endedAt"]) >= time(&expired["expiresAt"]),
        "released at its expiresAt, not before: {expired}"
    );
    assert_eq!(
        without_id(&books.balances(&books.ada).await),
        balances(500, 0, 0)
    );
    let ledger = books.ledger().await;
    let released = ledger
        .iter()
        .find(|e| e["kind"] == "RELEASED" && e["hold"]["id"] == placed["id"])
        .expect("a RELEASED entry for the hold");
    assert_eq!(
        (
            released["amount"].clone(),
            released["memberCreditsAfter"].clone(),
            released["actor"].clone(),
            released["serviceKey"].clone(),
            released["hold"]["status"].clone()
        ),
        (
            json!(120),
            json!(500),
            Value::Null,
            Value::Null,
            json!("EXPIRED")
        ),
        "orgql did it"
    );
    let body = call(
        &books.key,
        SETTLE,
        json!({ "holdId": placed["id"], "amount": 10, "idempotencyKey": "expiry/too-late" }),
    )
    .await;
    assert_eq!(code(&body), "CONFLICT", "{body}");

    let mut received = Vec::new();
    for _ in 0..100 {
        received = webhooks(&receiver, "expiry", 1).await;
        if types(&received).contains(&"credits.expired") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let expiry = received
        .iter()
        .find(|b| b["type"] == "credits.expired")
        .unwrap_or_else(|| panic!("{:?}", types(&received)));
    assert_eq!(
        received
            .iter()
            .filter(|b| b["type"] == "credits.expired")
            .count(),
        1
    );
    let data = &expiry["data"];
    assert_eq!(data["organization"]["id"], json!(books.org), "{data}");
    assert_eq!(
        data["user"],
        json!({ "id": books.ada.user_id, "email": "ada@example.com" }),
        "{data}"
    );
    assert_eq!(data["actor"], Value::Null, "orgql did it: {data}");
    let change = &data["change"];
    assert_eq!(
        (
            change["amount"].clone(),
            change["hold"]["id"].clone(),
            change["hold"]["status"].clone()
        ),
        (json!(120), placed["id"].clone(), json!("EXPIRED")),
        "{data}"
    );
    assert_eq!(
        change["balance"],
        json!({ "credits": 500, "held": 0, "available": 500, "spent": 0 })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removal_releases_open_holds_and_returns_every_credit() {
    let books = Books::open(500).await;
    let hold_input = books.input(120, "removed/hold");
    let hold = payload(&books.key, HOLD, hold_input.clone()).await["hold"].clone();
    books.spend(30, "removed/spend").await;

    let removed = books
        .owner
        .ok(
            "mutation($m: ID!) { removeMember(input: {memberId: $m}) { creditsReturned organization { creditPool { available distributed total held spent added } } } }",
            json!({ "m": books.ada_member }),
        )
        .await["removeMember"]
        .clone();
    assert_eq!(removed["creditsReturned"], 470, "held ones included");
    assert_eq!(
        removed["organization"]["creditPool"],
        pool(POOL_LEFT + 470, 0, 0, 30, 1500)
    );

    // In the order applied: the hold released, then everything returned.
    let hers = books
        .owner
        .ok(
            LEDGER,
            json!({ "org": books.org, "user": books.ada.user_id, "first": 10 }),
        )
        .await;
    let hers = nodes(&hers["organization"]["creditLedger"]);
    assert_eq!(
        kinds(&hers),
        [
            ("RETURNED".into(), 470),
            ("RELEASED".into(), 120),
            ("SPENT".into(), 30),
            ("HELD".into(), 120),
            ("DISTRIBUTED".into(), 500)
        ]
    );
    assert_eq!(
        (
            hers[0]["memberCreditsAfter"].clone(),
            hers[0]["poolAvailableAfter"].clone()
        ),
        (json!(0), json!(POOL_LEFT + 470))
    );
    assert_eq!(
        (
            hers[1]["memberCreditsAfter"].clone(),
            hers[1]["poolAvailableAfter"].clone(),
            hers[1]["hold"]["id"].clone()
        ),
        (json!(470), json!(POOL_LEFT), hold["id"].clone())
    );

    // The hold, replayed by its key: RELEASED, and no member any more.
    let replayed = payload(&books.key, HOLD, hold_input).await;
    assert_eq!(replayed["hold"]["id"], hold["id"]);
    assert_eq!(replayed["hold"]["status"], "RELEASED");
    assert!(replayed["hold"]["endedAt"].is_string());
    assert_eq!(replayed["member"], Value::Null);
    for (mutation, input) in [
        (
            SETTLE,
            json!({ "holdId": hold["id"], "amount": 100, "idempotencyKey": "removed/settle" }),
        ),
        (
            RELEASE,
            json!({ "holdId": hold["id"], "idempotencyKey": "removed/release" }),
        ),
    ] {
        let body = call(&books.key, mutation, input).await;
        assert_eq!(code(&body), "CONFLICT", "{body}");
    }
    assert_eq!(books.pool().await, pool(POOL_LEFT + 470, 0, 0, 30, 1500));
}

// ---- everyone hears --------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spending_reaches_the_members_and_the_organizations_live_streams() {
    let books = Books::open(500).await;
    let mine = concat!(
        "subscription { viewerMembershipChanged { kind organizationId userId member { ",
        balance_fields!(),
        " } } }"
    );
    let theirs = concat!(
        "subscription($org: ID!) { organizationMembershipChanged(organizationId: $org) { kind organizationId userId member { ",
        balance_fields!(),
        " } } }"
    );
    let mut ada_live =
        WsClient::signed_in(&books.app.url, books.ada.token.as_deref().unwrap()).await;
    ada_live.subscribe("mine", mine, json!({})).await;
    let mut dashboard =
        WsClient::signed_in(&books.app.url, books.owner.token.as_deref().unwrap()).await;
    dashboard
        .subscribe("org", theirs, json!({ "org": books.org }))
        .await;
    let mut runner = WsClient::signed_in(&books.app.url, books.key.token.as_deref().unwrap()).await;
    runner
        .subscribe("org", theirs, json!({ "org": books.org }))
        .await;

    books.spend(40, "live/spend").await;
    books.hold(100, "live/hold").await;
    for (expected_credits, expected_held) in [(460, 0), (460, 100)] {
        let event = ada_live.next("mine").await["data"]["viewerMembershipChanged"].clone();
        assert_eq!(event["kind"], "CREDITS_CHANGED", "{event}");
        assert_eq!(
            (event["organizationId"].clone(), event["userId"].clone()),
            (json!(books.org), json!(books.ada.user_id))
        );
        assert_eq!(
            (
                event["member"]["credits"].clone(),
                event["member"]["heldCredits"].clone()
            ),
            (json!(expected_credits), json!(expected_held))
        );
        for socket in [&mut dashboard, &mut runner] {
            let event = socket.next("org").await["data"]["organizationMembershipChanged"].clone();
            assert_eq!(event["kind"], "CREDITS_CHANGED", "{event}");
            assert_eq!(event["userId"], json!(books.ada.user_id));
            assert_eq!(event["member"]["credits"], expected_credits);
        }
    }
    // A repeat changes nothing, so nobody hears of it.
    books.spend(40, "live/spend").await;
    assert!(ada_live.quiet(Duration::from_millis(500)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_spending_call_is_one_webhook_naming_who_and_how_much() {
    let receiver = WebhookReceiver::start();
    let books = Books::open_on(spawn_with_webhooks().await, 500).await;
    endpoint(&books, &receiver, "spending").await;

    let spent = books.spend(40, "hook/spend").await;
    let first = books.hold(100, "hook/hold-1").await["hold"].clone();
    books.settle(&first, 60, "hook/settle").await;
    let second = books.hold(50, "hook/hold-2").await["hold"].clone();
    books.release(&second, "hook/release").await;
    books.spend(40, "hook/spend").await; // a repeat: no webhook

    let received = webhooks(&receiver, "spending", 6).await;
    assert_eq!(
        types(&received),
        [
            "webhook_endpoint.created",
            "credits.spent",
            "credits.held",
            "credits.settled",
            "credits.held",
            "credits.released"
        ]
    );
    // Each names the organization, the member, the key that did it, the
    // amounts, the hold, and the balances after.
    for body in &received[1..] {
        let data = &body["data"];
        assert_eq!(data["organization"]["id"], json!(books.org), "{body}");
        assert_eq!(
            data["user"],
            json!({ "id": books.ada.user_id, "email": "ada@example.com" }),
            "{body}"
        );
        assert_eq!(
            data["actor"]["serviceKey"]["id"],
            json!(books.key_id),
            "{body}"
        );
    }
    let change = |n: usize| &received[n]["data"]["change"];
    let balance = |credits: i64, held: i64, spent: i64| json!({ "credits": credits, "held": held, "available": credits - held, "spent": spent });
    let spend = change(1);
    assert_eq!(
        (
            spend["amount"].clone(),
            spend["idempotencyKey"].clone(),
            spend["hold"].clone()
        ),
        (json!(40), json!("hook/spend"), Value::Null)
    );
    assert_eq!(spend["balance"], balance(460, 0, 40));
    assert_eq!(spent["entry"]["idempotencyKey"], "hook/spend");
    let held = change(2);
    assert_eq!(
        (
            held["amount"].clone(),
            held["hold"]["id"].clone(),
            held["hold"]["status"].clone()
        ),
        (json!(100), first["id"].clone(), json!("HELD"))
    );
    assert_eq!(held["balance"], balance(460, 100, 40));
    let settled = change(3);
    assert_eq!(
        (
            settled["hold"]["id"].clone(),
            settled["hold"]["status"].clone(),
            settled["settled"].clone(),
            settled["released"].clone()
        ),
        (first["id"].clone(), json!("SETTLED"), json!(60), json!(40)),
        "the settled and the released amounts: {settled}"
    );
    assert_eq!(settled["balance"], balance(400, 0, 100));
    assert_eq!(change(4)["hold"]["id"], second["id"]);
    let released = change(5);
    assert_eq!(
        (
            released["amount"].clone(),
            released["hold"]["id"].clone(),
            released["hold"]["status"].clone()
        ),
        (json!(50), second["id"].clone(), json!("RELEASED"))
    );
    assert_eq!(released["balance"], balance(400, 0, 100));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        receiver.deliveries("spending").await.len(),
        6,
        "the repeat sent nothing"
    );
}

// ---- a kill -9 mid-storm -----------------------------------------------------------

#[derive(diesel::QueryableByName, Debug)]
struct LedgerRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = BigInt)]
    amount: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    user_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    member_credits_after: Option<i64>,
    #[diesel(sql_type = BigInt)]
    pool_available_after: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    hold_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    idempotency_key: Option<String>,
}

#[derive(diesel::QueryableByName, Debug)]
struct MemberRow {
    #[diesel(sql_type = BigInt)]
    user_id: i64,
    #[diesel(sql_type = BigInt)]
    credits: i64,
    #[diesel(sql_type = BigInt)]
    credits_held: i64,
    #[diesel(sql_type = BigInt)]
    credits_spent: i64,
}

#[derive(diesel::QueryableByName, Debug)]
struct PoolRow {
    #[diesel(sql_type = BigInt)]
    credits_available: i64,
    #[diesel(sql_type = BigInt)]
    credits_distributed: i64,
    #[diesel(sql_type = BigInt)]
    credits_held: i64,
    #[diesel(sql_type = BigInt)]
    credits_spent: i64,
}

#[derive(diesel::QueryableByName, Debug)]
struct HoldRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    user_id: i64,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    amount: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    settled_amount: Option<i64>,
}

/// Everything the books are made of, read straight from the database.
struct Stored {
    pool: PoolRow,
    members: Vec<MemberRow>,
    ledger: Vec<LedgerRow>,
    holds: Vec<HoldRow>,
}

async fn stored(db: &orgql::db::Db, organization_id: i64) -> Stored {
    let pool = format!(
        "SELECT CAST(credits_available AS BIGINT) AS credits_available, CAST(credits_distributed AS BIGINT) AS credits_distributed, \
         CAST(credits_held AS BIGINT) AS credits_held, CAST(credits_spent AS BIGINT) AS credits_spent \
         FROM organizations WHERE id = {organization_id}"
    );
    let members = format!(
        "SELECT CAST(user_id AS BIGINT) AS user_id, CAST(credits AS BIGINT) AS credits, CAST(credits_held AS BIGINT) AS credits_held, \
         CAST(credits_spent AS BIGINT) AS credits_spent FROM memberships WHERE organization_id = {organization_id}"
    );
    let ledger = format!(
        "SELECT CAST(id AS BIGINT) AS id, kind, CAST(amount AS BIGINT) AS amount, CAST(user_id AS BIGINT) AS user_id, \
         CAST(member_credits_after AS BIGINT) AS member_credits_after, CAST(pool_available_after AS BIGINT) AS pool_available_after, \
         CAST(hold_id AS BIGINT) AS hold_id, idempotency_key FROM credit_ledger WHERE organization_id = {organization_id} ORDER BY id"
    );
    let holds = format!(
        "SELECT CAST(id AS BIGINT) AS id, CAST(user_id AS BIGINT) AS user_id, status, CAST(amount AS BIGINT) AS amount, \
         CAST(settled_amount AS BIGINT) AS settled_amount FROM credit_holds WHERE organization_id = {organization_id} ORDER BY id"
    );
    let mut pools: Vec<PoolRow> = on_db!(db, |c| diesel::sql_query(pool).load(c));
    Stored {
        pool: pools.pop().expect("the organization"),
        members: on_db!(db, |c| diesel::sql_query(members).load(c)),
        ledger: on_db!(db, |c| diesel::sql_query(ledger).load(c)),
        holds: on_db!(db, |c| diesel::sql_query(holds).load(c)),
    }
}

impl Stored {
    /// The invariants of the organization's books, and the ledger replayed
    /// oldest first to every balance after each entry and to those now.
    fn check(&self) {
        let pool = &self.pool;
        let sum = |f: fn(&MemberRow) -> i64| self.members.iter().map(f).sum::<i64>();
        assert_eq!(pool.credits_distributed, sum(|m| m.credits), "{pool:?}");
        assert_eq!(pool.credits_held, sum(|m| m.credits_held), "{pool:?}");
        for member in &self.members {
            assert!(
                0 <= member.credits_held && member.credits_held <= member.credits,
                "{member:?}"
            );
        }

        let (mut available, mut added, mut spent_in_all) = (0i64, 0i64, 0i64);
        let mut credits: HashMap<i64, i64> = HashMap::new();
        let mut held: HashMap<i64, i64> = HashMap::new();
        let mut spent: HashMap<i64, i64> = HashMap::new();
        let mut by_hold: HashMap<i64, (i64, i64, i64)> = HashMap::new(); // held, settled, released
        let mut once: HashSet<(String, String)> = HashSet::new();
        let mut last_id = 0;
        for entry in &self.ledger {
            assert!(entry.id > last_id, "oldest first: {entry:?}");
            last_id = entry.id;
            let a = entry.amount;
            assert!(a > 0, "{entry:?}");
            let user = entry.user_id;
            let add = |map: &mut HashMap<i64, i64>, delta: i64| {
                let user = user.unwrap_or_else(|| panic!("a member: {entry:?}"));
                *map.entry(user).or_default() += delta;
            };
            match entry.kind.as_str() {
                "added" => {
                    available += a;
                    added += a;
                }
                "distributed" => {
                    available -= a;
                    add(&mut credits, a);
                }
                "reclaimed" | "returned" => {
                    available += a;
                    add(&mut credits, -a);
                }
                "held" => add(&mut held, a),
                "released" => add(&mut held, -a),
                "settled" | "spent" => {
                    add(&mut credits, -a);
                    add(&mut spent, a);
                    spent_in_all += a;
                    if entry.kind == "settled" {
                        add(&mut held, -a);
                    }
                }
                other => panic!("an unknown kind {other}: {entry:?}"),
            }
            if let Some(hold) = entry.hold_id {
                let sums = by_hold.entry(hold).or_default();
                match entry.kind.as_str() {
                    "held" => sums.0 += a,
                    "settled" => sums.1 += a,
                    "released" => sums.2 += a,
                    _ => {}
                }
            }
            if ["spent", "held"].contains(&entry.kind.as_str()) {
                let key = entry.idempotency_key.clone().expect("a key");
                assert!(
                    once.insert((entry.kind.clone(), key)),
                    "one entry per key: {entry:?}"
                );
            }
            assert_eq!(entry.pool_available_after, available, "{entry:?}");
            match user {
                Some(user) => {
                    assert_eq!(
                        entry.member_credits_after,
                        Some(credits[&user]),
                        "{entry:?}"
                    );
                    let held_now = held.get(&user).copied().unwrap_or_default();
                    assert!(
                        0 <= held_now && held_now <= credits[&user],
                        "{entry:?}: held {held_now}"
                    );
                }
                None => assert_eq!(entry.member_credits_after, None, "{entry:?}"),
            }
            assert!(available >= 0, "{entry:?}");
        }
        assert_eq!(available, pool.credits_available);
        assert_eq!(spent_in_all, pool.credits_spent);
        // What was ever added is in the pool, with members, or spent.
        assert_eq!(
            added,
            pool.credits_available + pool.credits_distributed + pool.credits_spent,
            "{pool:?}"
        );
        for member in &self.members {
            let of =
                |map: &HashMap<i64, i64>| map.get(&member.user_id).copied().unwrap_or_default();
            assert_eq!(
                (of(&credits), of(&held), of(&spent)),
                (member.credits, member.credits_held, member.credits_spent),
                "{member:?}"
            );
            let open: i64 = self
                .holds
                .iter()
                .filter(|h| h.user_id == member.user_id && h.status == "held")
                .map(|h| h.amount)
                .sum();
            assert_eq!(open, member.credits_held, "{member:?}");
        }
        for hold in &self.holds {
            let (placed, settled, released) = by_hold.get(&hold.id).copied().unwrap_or_default();
            assert_eq!(placed, hold.amount, "{hold:?}");
            match hold.status.as_str() {
                "held" => assert_eq!((settled, released), (0, 0), "{hold:?}"),
                "settled" => {
                    assert_eq!(Some(settled), hold.settled_amount, "{hold:?}");
                    assert_eq!(settled + released, hold.amount, "{hold:?}");
                }
                "released" | "expired" => {
                    assert_eq!((settled, released), (0, hold.amount), "{hold:?}")
                }
                other => panic!("an unknown status {other}: {hold:?}"),
            }
        }
    }
}

/// One spending call of the storm, kept to be sent again.
#[derive(Clone, Debug)]
struct StormCall {
    mutation: &'static str,
    input: Value,
}

/// The answer's body, or None when the server gave none (it died).
async fn storm_post(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    call: &StormCall,
) -> Option<Value> {
    let response = http
        .post(url)
        .bearer_auth(token)
        .json(&json!({ "query": call.mutation, "variables": { "input": call.input } }))
        .send()
        .await
        .ok()?;
    response.json().await.ok()
}

/// What the storm's clients saw.
#[derive(Default)]
struct Weather {
    answered: usize,
    granted: usize,
    lost: Vec<StormCall>,
    unexpected: Vec<Value>,
}

/// `clients` clients spending, holding, settling and releasing the
/// members' credits until `stop` is set.
async fn storm(
    url: String,
    token: String,
    org: String,
    members: Vec<String>,
    clients: usize,
    tag: &'static str,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Weather {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let tasks = (0..clients).map(|client| {
        let (http, url, token, org, members, stop) = (
            http.clone(),
            url.clone(),
            token.clone(),
            org.clone(),
            members.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let mut weather = Weather::default();
            let mut open: Vec<(Value, i64)> = Vec::new();
            let mut n = 0usize;
            while !*stop.borrow() {
                n += 1;
                let key = format!("{tag}/{client}/{n}");
                let user = &members[(client + n) % members.len()];
                let amount = 1 + ((client * 7 + n * 3) % 25) as i64;
                let person = |amount: i64| json!({ "organizationId": org, "userId": user, "amount": amount, "idempotencyKey": key });
                let call = match (n % 4, open.pop()) {
                    (3, Some((hold, _))) if n % 8 == 3 => StormCall {
                        mutation: RELEASE,
                        input: json!({ "holdId": hold, "idempotencyKey": key }),
                    },
                    (3, Some((hold, held))) => StormCall {
                        mutation: SETTLE,
                        input: json!({ "holdId": hold, "amount": held * (n % 3) as i64 / 2, "idempotencyKey": key }),
                    },
                    (2, hold) => {
                        open.extend(hold);
                        StormCall { mutation: HOLD, input: person(amount * 2) }
                    }
                    (_, hold) => {
                        open.extend(hold);
                        StormCall { mutation: SPEND, input: person(amount) }
                    }
                };
                match storm_post(&http, &url, &token, &call).await {
                    None => {
                        // The server died: this call is sent again after
                        // the restart.
                        weather.lost.push(call);
                        break;
                    }
                    Some(body) => {
                        weather.answered += 1;
                        if body.get("errors").is_none() {
                            weather.granted += 1;
                            let hold = &body["data"]["holdCredits"]["hold"];
                            if hold.is_object() {
                                open.push((hold["id"].clone(), hold["amount"].as_i64().unwrap()));
                            }
                        } else if refusal(&body)["code"] != "LIMIT_EXCEEDED" {
                            weather.unexpected.push(body);
                        }
                    }
                }
            }
            weather
        })
    });
    let mut all = Weather::default();
    for weather in futures_util::future::join_all(tasks).await {
        let weather = weather.unwrap();
        all.answered += weather.answered;
        all.granted += weather.granted;
        all.lost.extend(weather.lost);
        all.unexpected.extend(weather.unexpected);
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_storm_leaves_books_that_add_up_and_a_ledger_that_replays() {
    let database = ScratchDatabase::new();
    let mut server = ServerProcess::start(&database.url, &[]).await;
    let db = orgql::open_database(&orgql::config::Config::with_database(&database.url))
        .await
        .unwrap();
    let anonymous = Client::anonymous_at(&server.url);
    let owner = anonymous.sign_up("owner@example.com").await;
    let org = owner.create_org("Acme").await;
    let organization_id = db_id(&org);
    owner
        .ok(ADD_CREDITS, json!({ "org": org, "n": 20_000 }))
        .await;
    let mut members = Vec::new();
    for n in 0..6 {
        let person = anonymous.sign_up(&format!("m{n}@example.com")).await;
        let user_id = db_id(person.user_id.as_deref().unwrap());
        db.write(move |tx| {
            Box::pin(async move {
                orgql::domain::members::add(tx, organization_id, user_id, Role::Member)
                    .await
                    .map(drop)
            })
        })
        .await
        .unwrap();
        let member = owner.member_id(&org, &person).await;
        owner
            .ok(DISTRIBUTE, json!({ "m": member, "n": 1500 }))
            .await;
        members.push(person.user_id.unwrap());
    }
    let created = owner.ok(CREATE_KEY, json!({ "org": org })).await;
    let secret = created["createServiceKey"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();

    // The storm, and a SIGKILL in the middle of it.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let raging = tokio::spawn(storm(
        server.url.clone(),
        secret.clone(),
        org.clone(),
        members.clone(),
        16,
        "before",
        stopped,
    ));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    server.kill();
    stop.send_replace(true);
    let before = raging.await.unwrap();
    assert!(before.unexpected.is_empty(), "{:#?}", before.unexpected);
    assert!(
        before.granted > 50,
        "the storm got going: {} granted",
        before.granted
    );

    server.resume().await;
    // What got no answer is sent again: charged once whether or not it had
    // committed when the server died, and the same answer every time after.
    let http = reqwest::Client::new();
    let mut retried = 0;
    for call in &before.lost {
        let mut answers = Vec::new();
        for _ in 0..2 {
            let body = storm_post(&http, &server.url, &secret, call)
                .await
                .expect("the restarted server answers");
            answers.push(body);
        }
        let [first, second] = &answers[..] else {
            unreachable!()
        };
        if first.get("errors").is_some() {
            assert_eq!(code(first), "LIMIT_EXCEEDED", "{call:?}: {first}");
        } else {
            let id = |body: &Value| {
                let payload = body["data"]
                    .as_object()
                    .unwrap()
                    .values()
                    .next()
                    .unwrap()
                    .clone();
                (
                    payload["entry"]["id"].clone(),
                    payload["hold"]["id"].clone(),
                    payload["hold"]["status"].clone(),
                )
            };
            assert_eq!(id(first), id(second), "{call:?}");
            retried += 1;
        }
    }
    // And the storm goes on after the restart.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let raging = tokio::spawn(storm(
        server.url.clone(),
        secret.clone(),
        org.clone(),
        members.clone(),
        8,
        "after",
        stopped,
    ));
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.send_replace(true);
    let after = raging.await.unwrap();
    assert!(after.unexpected.is_empty(), "{:#?}", after.unexpected);
    assert!(
        after.lost.is_empty(),
        "{} lost after the restart",
        after.lost.len()
    );
    server.kill();

    let books = stored(&db, organization_id).await;
    books.check();
    println!(
        "{} calls answered before the kill, {} lost and sent again ({retried} granted), {} after; {} ledger entries, {} holds",
        before.answered,
        before.lost.len(),
        after.answered,
        books.ledger.len(),
        books.holds.len()
    );
}
