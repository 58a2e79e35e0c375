use orgql::domain::Role;
use serde_json::{Value, json};

use crate::common::{Client, TestApp, owner_and_ada};

const ADD_CREDITS: &str = "mutation($org: ID!, $n: Int!) { addCredits(input: {organizationId: $org, amount: $n}) { organization { creditPool { available distributed total } } } }";
const DISTRIBUTE: &str = "mutation($m: ID!, $n: Int!) { distributeCredits(input: {memberId: $m, amount: $n}) { member { credits } creditPool { available distributed total } } }";
const RECLAIM: &str = "mutation($m: ID!, $n: Int!) { reclaimCredits(input: {memberId: $m, amount: $n}) { member { credits } creditPool { available distributed total } } }";
const SEAT_LIMITS: &str = "mutation($org: ID!, $s: Int!, $p: Int!) { setSeatLimits(input: {organizationId: $org, standard: $s, pro: $p}) { organization { seats { standard { limit assigned } pro { limit assigned } } } } }";
const ASSIGN_SEAT: &str = "mutation($m: ID!, $seat: SeatTier!) { assignSeat(input: {memberId: $m, seat: $seat}) { member { seat } } }";
const REMOVE: &str = "mutation($m: ID!) { removeMember(input: {memberId: $m}) { removedMemberId removedUserId creditsReturned seatReleased organization { viewerRole creditPool { available distributed total } seats { pro { assigned } } members { totalCount } } } }";
const ORG: &str = "query($org: ID!) { organization(id: $org) { name viewerRole viewerPermissions owner { user { email } } } }";
const AUDIT: &str = "query($org: ID!, $first: Int, $after: String) { organization(id: $org) { auditLog(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { id action targetEmail details actor { email } at } } } }";

fn pool(available: i64, distributed: i64) -> Value {
    json!({ "available": available, "distributed": distributed, "total": available + distributed })
}

async fn audit_actions(client: &Client, org: &str) -> Vec<String> {
    let data = client.ok(AUDIT, json!({ "org": org, "first": 100 })).await;
    data["organization"]["auditLog"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removal_returns_credits_and_seat_and_ends_access_at_once() {
    let app = TestApp::spawn().await;
    let (owner, ada, org, ada_member) = owner_and_ada(&app).await;
    owner.ok(ADD_CREDITS, json!({ "org": org, "n": 100 })).await;
    owner
        .ok(DISTRIBUTE, json!({ "m": ada_member, "n": 40 }))
        .await;
    owner
        .ok(SEAT_LIMITS, json!({ "org": org, "s": 1, "p": 1 }))
        .await;
    owner
        .ok(ASSIGN_SEAT, json!({ "m": ada_member, "seat": "PRO" }))
        .await;
    assert_eq!(
        ada.ok(ORG, json!({ "org": org })).await["organization"]["viewerRole"],
        "MEMBER"
    );

    let removed = owner.ok(REMOVE, json!({ "m": ada_member })).await["removeMember"].clone();
    assert_eq!(removed["removedMemberId"], json!(ada_member));
    assert_eq!(removed["removedUserId"], json!(ada.user_id));
    assert_eq!(removed["creditsReturned"], 40);
    assert_eq!(removed["seatReleased"], "PRO");
    let organization = &removed["organization"];
    assert_eq!(organization["creditPool"], pool(100, 0));
    assert_eq!(organization["seats"]["pro"]["assigned"], 0);
    assert_eq!(organization["members"]["totalCount"], 1);

    // Ada's very next request no longer reaches the organization.
    assert_eq!(
        ada.ok(ORG, json!({ "org": org })).await["organization"],
        Value::Null
    );
    let mine = ada
        .ok(
            "{ viewer { memberships { totalCount nodes { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        mine["viewer"]["memberships"],
        json!({ "totalCount": 0, "nodes": [] })
    );
    assert_eq!(
        owner.error_code(REMOVE, json!({ "m": ada_member })).await,
        "NOT_FOUND"
    );

    let audit = owner.ok(AUDIT, json!({ "org": org, "first": 1 })).await["organization"]["auditLog"]["nodes"][0].clone();
    assert_eq!(audit["action"], "member.removed");
    assert_eq!(audit["targetEmail"], "ada@example.com");
    assert_eq!(audit["actor"]["email"], "owner@example.com");
    let details: Value = serde_json::from_str(audit["details"].as_str().unwrap()).unwrap();
    assert_eq!(
        details,
        json!({ "role": "MEMBER", "creditsReturned": 40, "seatReleased": "PRO" })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_change_takes_effect_on_the_next_request() {
    let app = TestApp::spawn().await;
    let (owner, ada, org, ada_member) = owner_and_ada(&app).await;
    let pool_query = "query($org: ID!) { organization(id: $org) { creditPool { total } } }";
    let refused = ada.query(pool_query, json!({ "org": org })).await;
    assert_eq!(
        refused["errors"][0]["extensions"],
        json!({ "code": "FORBIDDEN", "permission": "VIEW_BILLING" })
    );

    let update = "mutation($m: ID!, $role: AssignableRole!) { updateMemberRole(input: {memberId: $m, role: $role}) { member { role permissions } } }";
    let changed = owner
        .ok(update, json!({ "m": ada_member, "role": "MANAGER" }))
        .await;
    assert_eq!(changed["updateMemberRole"]["member"]["role"], "MANAGER");
    assert_eq!(
        ada.ok(pool_query, json!({ "org": org })).await["organization"]["creditPool"]["total"],
        0
    );
    let seen = ada.ok(ORG, json!({ "org": org })).await;
    assert_eq!(
        seen["organization"]["viewerPermissions"],
        json!([
            "VIEW_BILLING",
            "UPDATE_MEMBERS",
            "VIEW_MEMBERS",
            "MANAGE_RESOURCES"
        ])
    );

    // The owner's role moves only by transfer, and OWNER is not assignable.
    let owner_member = owner.member_id(&org, &owner).await;
    assert_eq!(
        owner
            .error_code(update, json!({ "m": owner_member, "role": "ADMIN" }))
            .await,
        "CONFLICT"
    );
    assert!(
        owner
            .query(update, json!({ "m": ada_member, "role": "OWNER" }))
            .await["errors"]
            .is_array()
    );
    // A manager cannot change roles.
    let refused = ada
        .query(update, json!({ "m": owner_member, "role": "MEMBER" }))
        .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["permission"],
        "MANAGE_MEMBERS"
    );

    let counts = owner.ok("query($org: ID!) { organization(id: $org) { managers: members(role: MANAGER) { totalCount } all: members { totalCount } } }", json!({ "org": org })).await;
    assert_eq!(counts["organization"]["managers"]["totalCount"], 1);
    assert_eq!(counts["organization"]["all"]["totalCount"], 2);
    assert_eq!(audit_actions(&owner, &org).await[0], "member.role_changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credits_move_only_in_whole_amounts_that_exist() {
    let app = TestApp::spawn().await;
    let (owner, ada, org, ada_member) = owner_and_ada(&app).await;
    let added = owner.ok(ADD_CREDITS, json!({ "org": org, "n": 50 })).await;
    assert_eq!(
        added["addCredits"]["organization"]["creditPool"],
        pool(50, 0)
    );

    for bad in [0, -5] {
        assert_eq!(
            owner
                .error_code(ADD_CREDITS, json!({ "org": org, "n": bad }))
                .await,
            "BAD_USER_INPUT"
        );
        assert_eq!(
            owner
                .error_code(DISTRIBUTE, json!({ "m": ada_member, "n": bad }))
                .await,
            "BAD_USER_INPUT"
        );
    }
    let given = owner
        .ok(DISTRIBUTE, json!({ "m": ada_member, "n": 30 }))
        .await["distributeCredits"]
        .clone();
    assert_eq!(
        given,
        json!({ "member": { "credits": 30 }, "creditPool": pool(20, 30) })
    );
    assert_eq!(
        owner
            .error_code(DISTRIBUTE, json!({ "m": ada_member, "n": 21 }))
            .await,
        "LIMIT_EXCEEDED"
    );
    assert_eq!(
        owner
            .error_code(RECLAIM, json!({ "m": ada_member, "n": 31 }))
            .await,
        "LIMIT_EXCEEDED"
    );
    let taken =
        owner.ok(RECLAIM, json!({ "m": ada_member, "n": 12 })).await["reclaimCredits"].clone();
    assert_eq!(
        taken,
        json!({ "member": { "credits": 18 }, "creditPool": pool(32, 18) })
    );
    // Ada sees her own balance; nothing failed changed anything.
    let mine = ada.ok("query($org: ID!) { organization(id: $org) { members(role: MEMBER) { nodes { credits } } } }", json!({ "org": org })).await;
    assert_eq!(
        mine["organization"]["members"]["nodes"],
        json!([{ "credits": 18 }])
    );
    let overflow = json!({ "org": org, "n": i32::MAX });
    assert_eq!(
        owner.error_code(ADD_CREDITS, overflow).await,
        "LIMIT_EXCEEDED"
    );
    let actions = audit_actions(&owner, &org).await;
    assert_eq!(
        actions[..3],
        ["credits.reclaimed", "credits.distributed", "credits.added"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seats_stay_within_their_limits() {
    let app = TestApp::spawn().await;
    let (owner, ada, org, ada_member) = owner_and_ada(&app).await;
    let bob = app.sign_up("bob@example.com").await;
    app.join(&org, &bob, Role::Member).await;
    let bob_member = owner.member_id(&org, &bob).await;

    assert_eq!(
        owner
            .error_code(ASSIGN_SEAT, json!({ "m": ada_member, "seat": "STANDARD" }))
            .await,
        "LIMIT_EXCEEDED"
    );
    owner
        .ok(SEAT_LIMITS, json!({ "org": org, "s": 1, "p": 0 }))
        .await;
    owner
        .ok(ASSIGN_SEAT, json!({ "m": ada_member, "seat": "STANDARD" }))
        .await;
    assert_eq!(
        owner
            .error_code(ASSIGN_SEAT, json!({ "m": bob_member, "seat": "STANDARD" }))
            .await,
        "LIMIT_EXCEEDED"
    );
    assert_eq!(
        owner
            .error_code(SEAT_LIMITS, json!({ "org": org, "s": 0, "p": 0 }))
            .await,
        "CONFLICT"
    );
    assert_eq!(
        owner
            .error_code(SEAT_LIMITS, json!({ "org": org, "s": -1, "p": 0 }))
            .await,
        "BAD_USER_INPUT"
    );

    // Moving a seat: NONE releases it for someone else.
    owner
        .ok(ASSIGN_SEAT, json!({ "m": ada_member, "seat": "NONE" }))
        .await;
    let bob_seat = owner
        .ok(ASSIGN_SEAT, json!({ "m": bob_member, "seat": "STANDARD" }))
        .await;
    assert_eq!(bob_seat["assignSeat"]["member"]["seat"], "STANDARD");
    let limits = owner
        .ok(SEAT_LIMITS, json!({ "org": org, "s": 1, "p": 2 }))
        .await;
    assert_eq!(
        limits["setSeatLimits"]["organization"]["seats"],
        json!({ "standard": { "limit": 1, "assigned": 1 }, "pro": { "limit": 2, "assigned": 0 } })
    );
    assert_eq!(
        ada.error_code(ASSIGN_SEAT, json!({ "m": ada_member, "seat": "PRO" }))
            .await,
        "FORBIDDEN"
    );
}

/// Mutations run one after another, and each payload reads what those
/// before it changed, even what an earlier payload of the request loaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_mutation_of_a_request_sees_the_changes_before_it() {
    let app = TestApp::spawn().await;
    let (owner, _ada, org, ada_member) = owner_and_ada(&app).await;
    let steps = "mutation($org: ID!, $m: ID!) {
        before: addCredits(input: {organizationId: $org, amount: 10}) { organization { viewerRole owner { user { email } } } }
        transfer: transferOwnership(input: {organizationId: $org, memberId: $m}) { organization { viewerRole owner { user { email } } } }
        left: leaveOrganization(input: {organizationId: $org}) { organization { viewerRole viewerPermissions } } }";

    let done = owner
        .ok(steps, json!({ "org": org, "m": ada_member }))
        .await;
    assert_eq!(
        done,
        json!({
            "before": { "organization": { "viewerRole": "OWNER", "owner": { "user": { "email": "owner@example.com" } } } },
            "transfer": { "organization": { "viewerRole": "ADMIN", "owner": { "user": { "email": "ada@example.com" } } } },
            "left": { "organization": { "viewerRole": null, "viewerPermissions": [] } },
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ownership_moves_by_transfer_alone() {
    let app = TestApp::spawn().await;
    let (owner, ada, org, ada_member) = owner_and_ada(&app).await;
    let transfer = "mutation($org: ID!, $m: ID!) { transferOwnership(input: {organizationId: $org, memberId: $m}) {
        organization { viewerRole owner { user { email } } } previousOwner { role user { email } } newOwner { role user { email } } } }";

    let done = owner
        .ok(transfer, json!({ "org": org, "m": ada_member }))
        .await["transferOwnership"]
        .clone();
    assert_eq!(
        done,
        json!({
            "organization": { "viewerRole": "ADMIN", "owner": { "user": { "email": "ada@example.com" } } },
            "previousOwner": { "role": "ADMIN", "user": { "email": "owner@example.com" } },
            "newOwner": { "role": "OWNER", "user": { "email": "ada@example.com" } },
        })
    );
    assert_eq!(
        ada.ok(ORG, json!({ "org": org })).await["organization"]["viewerRole"],
        "OWNER"
    );
    let refused = owner
        .query(transfer, json!({ "org": org, "m": ada_member }))
        .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["permission"],
        "TRANSFER_OWNERSHIP"
    );

    // The owner can be neither removed nor leave.
    assert_eq!(
        owner.error_code(REMOVE, json!({ "m": ada_member })).await,
        "CONFLICT"
    );
    let leave = "mutation($org: ID!) { leaveOrganization(input: {organizationId: $org}) { creditsReturned organization { viewerRole viewerPermissions } } }";
    assert_eq!(
        ada.error_code(leave, json!({ "org": org })).await,
        "CONFLICT"
    );
    // The former owner may leave: same effects as removal.
    let left = owner.ok(leave, json!({ "org": org })).await["leaveOrganization"].clone();
    assert_eq!(
        left,
        json!({ "creditsReturned": 0, "organization": { "viewerRole": null, "viewerPermissions": [] } })
    );
    assert_eq!(
        audit_actions(&ada, &org).await[..2],
        ["member.left", "ownership.transferred"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renaming_and_the_audit_log_newest_first() {
    let app = TestApp::spawn().await;
    let (owner, ada, org, _) = owner_and_ada(&app).await;
    let rename = "mutation($org: ID!, $name: String) { updateOrganization(input: {organizationId: $org, name: $name}) { organization { name slug } } }";
    let renamed = owner
        .ok(rename, json!({ "org": org, "name": "  Acme Labs " }))
        .await;
    assert_eq!(
        renamed["updateOrganization"]["organization"],
        json!({ "name": "Acme Labs", "slug": "acme" })
    );
    assert_eq!(
        owner
            .error_code(rename, json!({ "org": org, "name": "" }))
            .await,
        "BAD_USER_INPUT"
    );
    for n in [1, 2, 3] {
        owner.ok(ADD_CREDITS, json!({ "org": org, "n": n })).await;
    }

    // Newest first, page by page, every event once.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = owner
            .ok(AUDIT, json!({ "org": org, "first": 2, "after": after }))
            .await;
        let log = data["organization"]["auditLog"].clone();
        assert_eq!(log["totalCount"], 5);
        for node in log["nodes"].as_array().unwrap() {
            let details: Value = node["details"]
                .as_str()
                .map(|d| serde_json::from_str(d).unwrap())
                .unwrap_or(Value::Null);
            seen.push((node["action"].as_str().unwrap().to_owned(), details));
        }
        if log["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = Some(log["pageInfo"]["endCursor"].as_str().unwrap().to_owned());
    }
    let actions: Vec<&str> = seen.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "credits.added",
            "credits.added",
            "credits.added",
            "organization.updated",
            "organization.created"
        ]
    );
    assert_eq!(seen[0].1, json!({ "amount": 3 }));
    assert_eq!(seen[3].1, json!({ "from": "Acme", "to": "Acme Labs" }));

    // An audit event is a node, for those who may read the log.
    let first = owner.ok(AUDIT, json!({ "org": org, "first": 1 })).await["organization"]["auditLog"]["nodes"][0]["id"].clone();
    let node = owner
        .ok(
            "query($id: ID!) { node(id: $id) { ... on AuditEvent { action } } }",
            json!({ "id": first }),
        )
        .await;
    assert_eq!(node["node"]["action"], "credits.added");
    let hidden = ada
        .ok(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": first }),
        )
        .await;
    assert_eq!(hidden["node"], Value::Null);
}
