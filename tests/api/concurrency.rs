//! The invariants hold under concurrent mutations, on both backends.

use futures_util::future::join_all;
use orgql::domain::Role;
use serde_json::{Value, json};

use crate::common::{Client, TestApp};

async fn members_with_ids(
    app: &TestApp,
    owner: &Client,
    org: &str,
    count: usize,
    role: Role,
) -> Vec<String> {
    app.add_members(org, "m", count, role).await;
    let data = owner
        .ok("query($org: ID!) { organization(id: $org) { members(first: 100, role: MEMBER) { nodes { id } } } }", json!({ "org": org }))
        .await;
    data["organization"]["members"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The pool and every balance, read back through the API.
async fn credit_books(owner: &Client, org: &str) -> (Value, i64, bool) {
    let data = owner
        .ok(
            "query($org: ID!) { organization(id: $org) { creditPool { available distributed total } members(first: 100) { nodes { credits } } } }",
            json!({ "org": org }),
        )
        .await;
    let organization = &data["organization"];
    let balances: Vec<i64> = organization["members"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["credits"].as_i64().unwrap())
        .collect();
    (
        organization["creditPool"].clone(),
        balances.iter().sum(),
        balances.iter().all(|b| *b >= 0),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credits_balance_under_concurrent_moves_and_removals() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@example.com").await;
    let org = owner.create_org("Acme").await;
    let members = members_with_ids(&app, &owner, &org, 12, Role::Member).await;
    owner.ok("mutation($org: ID!) { addCredits(input: {organizationId: $org, amount: 2000}) { organization { id } } }", json!({ "org": org })).await;
    for member in &members {
        owner.ok("mutation($m: ID!) { distributeCredits(input: {memberId: $m, amount: 50}) { member { id } } }", json!({ "m": member })).await;
    }

    // 72 operations at once: distributions that together ask for more than
    // the pool holds, reclaims that ask for more than some members hold,
    // and the removal of a third of the members mid-way.
    let operations = (0..72).map(|n| {
        let member = members[n % members.len()].clone();
        let owner = owner.clone();
        async move {
            let (query, variables) = match n % 6 {
                0..=2 => ("mutation($m: ID!, $n: Int!) { distributeCredits(input: {memberId: $m, amount: $n}) { member { id } } }", json!({ "m": member, "n": 37 })),
                3 | 4 => ("mutation($m: ID!, $n: Int!) { reclaimCredits(input: {memberId: $m, amount: $n}) { member { id } } }", json!({ "m": member, "n": 29 })),
                _ if n % 4 == 1 => ("mutation($m: ID!) { removeMember(input: {memberId: $m}) { creditsReturned } }", json!({ "m": member })),
                _ => ("mutation($m: ID!, $n: Int!) { reclaimCredits(input: {memberId: $m, amount: $n}) { member { id } } }", json!({ "m": member, "n": 61 })),
            };
            let body = owner.query(query, variables).await;
            body["errors"][0]["extensions"]["code"].as_str().map(str::to_owned)
        }
    });
    let outcomes = join_all(operations).await;
    let unexpected: Vec<_> = outcomes
        .iter()
        .flatten()
        .filter(|code| !["LIMIT_EXCEEDED", "NOT_FOUND"].contains(&code.as_str()))
        .collect();
    assert!(
        unexpected.is_empty(),
        "only refusals for lack of credits or a removed member: {unexpected:?}"
    );
    assert!(
        outcomes.iter().filter(|o| o.is_none()).count() > 30,
        "most operations went through: {outcomes:?}"
    );

    let (pool, distributed, non_negative) = credit_books(&owner, &org).await;
    assert!(non_negative, "no negative balance");
    assert_eq!(pool["total"], 2000, "{pool}");
    assert_eq!(pool["distributed"], distributed, "{pool}");
    assert_eq!(
        pool["available"].as_i64().unwrap() + distributed,
        2000,
        "{pool}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_seat_assignments_never_pass_the_limit() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@example.com").await;
    let org = owner.create_org("Acme").await;
    let members = members_with_ids(&app, &owner, &org, 30, Role::Member).await;
    owner.ok("mutation($org: ID!) { setSeatLimits(input: {organizationId: $org, standard: 5, pro: 3}) { organization { id } } }", json!({ "org": org })).await;

    let attempts = members.iter().enumerate().map(|(n, member)| {
        let owner = owner.clone();
        let seat = if n % 2 == 0 { "STANDARD" } else { "PRO" };
        async move {
            let body = owner.query("mutation($m: ID!, $s: SeatTier!) { assignSeat(input: {memberId: $m, seat: $s}) { member { seat } } }", json!({ "m": member, "s": seat })).await;
            (seat, body["errors"][0]["extensions"]["code"].as_str().map(str::to_owned))
        }
    });
    let outcomes = join_all(attempts).await;
    let granted = |tier: &str| {
        outcomes
            .iter()
            .filter(|(seat, error)| *seat == tier && error.is_none())
            .count()
    };
    assert_eq!((granted("STANDARD"), granted("PRO")), (5, 3));
    assert!(
        outcomes
            .iter()
            .all(|(_, error)| error.as_deref().is_none_or(|code| code == "LIMIT_EXCEEDED"))
    );

    let data = owner.ok("query($org: ID!) { organization(id: $org) { seats { standard { assigned } pro { assigned } } members(first: 100) { nodes { seat } } } }", json!({ "org": org })).await;
    let seats: Vec<&str> = data["organization"]["members"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["seat"].as_str().unwrap())
        .collect();
    assert_eq!(seats.iter().filter(|s| **s == "STANDARD").count(), 5);
    assert_eq!(seats.iter().filter(|s| **s == "PRO").count(), 3);
    assert_eq!(
        data["organization"]["seats"],
        json!({ "standard": { "assigned": 5 }, "pro": { "assigned": 3 } })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_transfers_and_role_changes_leave_one_owner() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@example.com").await;
    let org = owner.create_org("Acme").await;
    let admin = app.sign_up("admin@example.com").await;
    app.join(&org, &admin, Role::Admin).await;
    let members = members_with_ids(&app, &owner, &org, 10, Role::Member).await;

    // The owner hands the organization to ten members at once while an
    // admin changes their roles: exactly one transfer can win.
    let transfers = members.iter().map(|member| {
        let owner = owner.clone();
        let org = org.clone();
        let member = member.clone();
        async move {
            owner.query("mutation($org: ID!, $m: ID!) { transferOwnership(input: {organizationId: $org, memberId: $m}) { newOwner { id } } }", json!({ "org": org, "m": member })).await
        }
    });
    let role_changes = members.iter().map(|member| {
        let admin = admin.clone();
        let member = member.clone();
        async move {
            admin.query("mutation($m: ID!) { updateMemberRole(input: {memberId: $m, role: MANAGER}) { member { id } } }", json!({ "m": member })).await
        }
    });
    let (transfers, _) =
        futures_util::future::join(join_all(transfers), join_all(role_changes)).await;
    let won = transfers
        .iter()
        .filter(|body| body["errors"].is_null())
        .count();
    assert_eq!(won, 1, "{transfers:#?}");

    let data = owner
        .ok(
            "query($org: ID!) { organization(id: $org) { owner { id } owners: members(role: OWNER) { totalCount nodes { id } } all: members(first: 100) { totalCount nodes { role } } } }",
            json!({ "org": org }),
        )
        .await;
    let organization = &data["organization"];
    assert_eq!(organization["owners"]["totalCount"], 1);
    assert_eq!(organization["owners"]["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(
        organization["owners"]["nodes"][0]["id"],
        organization["owner"]["id"]
    );
    let roles: Vec<&str> = organization["all"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles.iter().filter(|r| **r == "OWNER").count(), 1);
    assert_eq!(organization["all"]["totalCount"], 12);
}
