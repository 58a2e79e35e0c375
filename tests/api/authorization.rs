//! Every mutation and guarded field of the contract, by every kind of actor:
//! allowed, or refused with the right error, as the permission table of the
//! contract says. A mutation the schema gains without a row here fails.

use orgql::domain::Role;
use serde_json::{Value, json};

use crate::common::{Client, TestApp};

/// The contract's permission table, written out independently of the code.
fn role_has(role: &str, permission: &str) -> bool {
    let holders: &[&str] = match permission {
        "MANAGE_ORGANIZATION" | "MANAGE_BILLING" | "MANAGE_MEMBERS" => &["owner", "admin"],
        "VIEW_BILLING" | "UPDATE_MEMBERS" | "MANAGE_RESOURCES" => &["owner", "admin", "manager"],
        "VIEW_MEMBERS" => &["owner", "admin", "manager", "member"],
        "TRANSFER_OWNERSHIP" => &["owner"],
        other => panic!("unknown permission {other}"),
    };
    // A service key reads its organization, members and billing included.
    if role == "service" {
        return matches!(permission, "VIEW_MEMBERS" | "VIEW_BILLING");
    }
    holders.contains(&role)
}

#[derive(Clone, Copy)]
enum Rule {
    /// Members whose role has the permission.
    Needs(&'static str),
    /// Any member but the owner (leaving).
    MemberButOwner,
    /// Anyone signed in.
    SignedIn,
    /// Only the user the invitation is for (none of the actors).
    Invitee,
    /// Only a service key of the organization (spending credits).
    ServiceKey,
    /// Any member, for themselves (asking for credits).
    AnyMember,
    /// Only the member who asked (none of the actors: the target asked).
    Asker,
}

struct Case {
    name: &'static str,
    rule: Rule,
    query: &'static str,
    variables: fn(&Fixture) -> Value,
}

/// An organization with one member of each role, and a target member who
/// holds 10 credits; the pool holds 90 more and 5 seats of each tier.
struct Fixture {
    org: String,
    target: String,
    /// The target member's user.
    target_user: String,
    /// A hold of 2 of the target's credits, placed by the service key.
    hold: String,
    /// The target's pending request for 5 credits.
    credit_request: String,
    /// A pending invitation, and the token its email carried.
    invitation: String,
    token: String,
    /// A service key of the organization, and its secret.
    service_key: String,
    service_secret: String,
    /// A webhook endpoint of the organization, and one of its deliveries.
    endpoint: String,
    delivery: String,
}

const CASES: &[Case] = &[
    Case {
        name: "createOrganization",
        rule: Rule::SignedIn,
        query: "mutation { createOrganization(input: {name: \"Another\"}) { organization { id } } }",
        variables: |_| json!({}),
    },
    Case {
        name: "logOut",
        rule: Rule::SignedIn,
        query: "mutation { logOut }",
        variables: |_| json!({}),
    },
    Case {
        name: "sendEmailVerification",
        rule: Rule::SignedIn,
        query: "mutation { sendEmailVerification }",
        variables: |_| json!({}),
    },
    Case {
        name: "changePassword",
        rule: Rule::SignedIn,
        query: "mutation { changePassword(input: {currentPassword: \"password123\", newPassword: \"password123\"}) }",
        variables: |_| json!({}),
    },
    Case {
        name: "updateOrganization",
        rule: Rule::Needs("MANAGE_ORGANIZATION"),
        query: "mutation($org: ID!) { updateOrganization(input: {organizationId: $org, name: \"Renamed\"}) { organization { name } } }",
        variables: |f| json!({ "org": f.org }),
    },
    Case {
        name: "addCredits",
        rule: Rule::Needs("MANAGE_BILLING"),
        query: "mutation($org: ID!) { addCredits(input: {organizationId: $org, amount: 5}) { organization { id } } }",
        variables: |f| json!({ "org": f.org }),
    },
    Case {
        name: "setSeatLimits",
        rule: Rule::Needs("MANAGE_BILLING"),
        query: "mutation($org: ID!) { setSeatLimits(input: {organizationId: $org, standard: 3, pro: 3}) { organization { id } } }",
        variables: |f| json!({ "org": f.org }),
    },
    Case {
        name: "transferOwnership",
        rule: Rule::Needs("TRANSFER_OWNERSHIP"),
        query: "mutation($org: ID!, $m: ID!) { transferOwnership(input: {organizationId: $org, memberId: $m}) { newOwner { role } } }",
        variables: |f| json!({ "org": f.org, "m": f.target }),
    },
    Case {
        name: "updateMemberRole",
        rule: Rule::Needs("MANAGE_MEMBERS"),
        query: "mutation($m: ID!) { updateMemberRole(input: {memberId: $m, role: MANAGER}) { member { role } } }",
        variables: |f| json!({ "m": f.target }),
    },
    Case {
        name: "removeMember",
        rule: Rule::Needs("MANAGE_MEMBERS"),
        query: "mutation($m: ID!) { removeMember(input: {memberId: $m}) { creditsReturned } }",
        variables: |f| json!({ "m": f.target }),
    },
    Case {
        name: "leaveOrganization",
        rule: Rule::MemberButOwner,
        query: "mutation($org: ID!) { leaveOrganization(input: {organizationId: $org}) { removedMemberId } }",
        variables: |f| json!({ "org": f.org }),
    },
    Case {
        name: "distributeCredits",
        rule: Rule::Needs("UPDATE_MEMBERS"),
        query: "mutation($m: ID!) { distributeCredits(input: {memberId: $m, amount: 1}) { member { credits } } }",
        variables: |f| json!({ "m": f.target }),
    },
    Case {
        name: "reclaimCredits",
        rule: Rule::Needs("UPDATE_MEMBERS"),
        query: "mutation($m: ID!) { reclaimCredits(input: {memberId: $m, amount: 1}) { member { credits } } }",
        variables: |f| json!({ "m": f.target }),
    },
    Case {
        name: "assignSeat",
        rule: Rule::Needs("UPDATE_MEMBERS"),
        query: "mutation($m: ID!) { assignSeat(input: {memberId: $m, seat: PRO}) { member { seat } } }",
        variables: |f| json!({ "m": f.target }),
    },
    Case {
        name: "inviteMember",
        rule: Rule::Needs("MANAGE_MEMBERS"),
        query: "mutation($org: ID!) { inviteMember(input: {organizationId: $org, email: \"new@example.com\", role: MEMBER}) { invitation { id } } }",
        variables: |f| json!({ "org": f.org }),
    },
    Case {
        name: "bulkInviteMembers",
        rule: Rule::Needs("MANAGE_MEMBERS"),
        query: "mutation($org: ID!) { bulkInviteMembers(input: {organizationId: $org, csv: \"email,role\\nnew@example.com,member\"}) { sent } }",
        variables: |f| json!({ "org": f.org }),
    },
    Case {
        name: "resendInvitation",
        rule: Rule::Needs("MANAGE_MEMBERS"),
        query: "mutation($id: ID!) { resendInvitation(input: {invitationId: $id}) { invitation { status } } }",
        variables: |f| json!({ "id": f.invitation }),
    },
    Case {
        name: "revokeInvitation",
        rule: Rule::Needs("MANAGE_MEMBERS"),
        query: "mutation($id: ID!) { revokeInvitation(input: {invitationId: $id}) { invitation { status } } }",
        variables: |f| json!({ "id": f.invitation }),
    },
    Case {
        name: "createServiceKey",
        rule: Rule::Needs("MANAGE_ORGANIZATION"),
        query: "mutation($org: ID!) { createServiceKey(input: {organizationId: $org, name: \"jobs\"}) { secret } }",
        variables: |f| json!({ "org": f.org }),
    },
    Case {
        name: "revokeServiceKey",
        rule: Rule::Needs("MANAGE_ORGANIZATION"),
        query: "mutation($k: ID!) { revokeServiceKey(input: {serviceKeyId: $k}) { serviceKey { revokedAt } } }",
        variables: |f| json!({ "k": f.service_key }),
    },
    Case {
        name: "createWebhookEndpoint",
        rule: Rule::Needs("MANAGE_ORGANIZATION"),
        query: "mutation($org: ID!) { createWebhookEndpoint(input: {organizationId: $org, url: \"http://127.0.0.1:9/hooks\"}) { secret } }",
        variables: |f| json!({ "org": f.org }),
    },
    Case {
        name: "updateWebhookEndpoint",
        rule: Rule::Needs("MANAGE_ORGANIZATION"),
        query: "mutation($e: ID!) { updateWebhookEndpoint(input: {endpointId: $e, enabled: false}) { endpoint { enabled } } }",
        variables: |f| json!({ "e": f.endpoint }),
    },
    Case {
        name: "deleteWebhookEndpoint",
        rule: Rule::Needs("MANAGE_ORGANIZATION"),
        query: "mutation($e: ID!) { deleteWebhookEndpoint(input: {endpointId: $e}) { deletedEndpointId } }",
        variables: |f| json!({ "e": f.endpoint }),
    },
    Case {
        name: "redeliverWebhook",
        rule: Rule::Needs("MANAGE_ORGANIZATION"),
        query: "mutation($d: ID!) { redeliverWebhook(input: {deliveryId: $d}) { delivery { status } } }",
        variables: |f| json!({ "d": f.delivery }),
    },
    Case {
        name: "acceptInvitation",
        rule: Rule::Invitee,
        query: "mutation($token: String!) { acceptInvitation(input: {token: $token}) { member { id } } }",
        variables: |f| json!({ "token": f.token }),
    },
    // Guarded fields.
    Case {
        name: "Organization.invitations",
        rule: Rule::Needs("MANAGE_MEMBERS"),
        query: "query($org: ID!) { organization(id: $org) { invitations { totalCount } } }",
        variables: |f| json!({ "org": f.org }),
    },
    Case {
        name: "Organization.members",
        rule: Rule::Needs("VIEW_MEMBERS"),
        query: "query($org: ID!) { organization(id: $org) { members { totalCount } } }",
        variables: |f| json!({ "org": f.org }),
    },
    Case {
        name: "Organization.creditPool",
        rule: Rule::Needs("VIEW_BILLING"),
        query: "query($org: ID!) { organization(id: $org) { creditPool { total } } }",
        variables: |f| json!({ "org": f.org }),
    },
    Case {
        name: "Organization.seats",
        rule: Rule::Needs("VIEW_BILLING"),
        query: "query($org: ID!) { organization(id: $org) { seats { pro { limit } } } }",
        variables: |f| json!({ "org": f.org }),
    },
    Case {
        name: "Organization.auditLog",
        rule: Rule::Needs("MANAGE_MEMBERS"),
        query: "query($org: ID!) { organization(id: $org) { auditLog { totalCount } } }",
        variables: |f| json!({ "org": f.org }),
    },
    Case {
        name: "Organization.webhookEndpoints",
        rule: Rule::Needs("MANAGE_ORGANIZATION"),
        query: "query($org: ID!) { organization(id: $org) { webhookEndpoints { totalCount } } }",
        variables: |f| json!({ "org": f.org }),
    },
    Case {
        name: "Organization.serviceKeys",
        rule: Rule::Needs("MANAGE_ORGANIZATION"),
        query: "query($org: ID!) { organization(id: $org) { serviceKeys { totalCount } } }",
        variables: |f| json!({ "org": f.org }),
    },
    Case {
        name: "Organization.creditLedger",
        rule: Rule::Needs("VIEW_BILLING"),
        query: "query($org: ID!) { organization(id: $org) { creditLedger { totalCount } } }",
        variables: |f| json!({ "org": f.org }),
    },
    Case {
        name: "spendCredits",
        rule: Rule::ServiceKey,
        query: "mutation($org: ID!, $u: ID!) { spendCredits(input: {organizationId: $org, userId: $u, amount: 1, idempotencyKey: \"spend\"}) { entry { id } member { credits } } }",
        variables: |f| json!({ "org": f.org, "u": f.target_user }),
    },
    Case {
        name: "holdCredits",
        rule: Rule::ServiceKey,
        query: "mutation($org: ID!, $u: ID!) { holdCredits(input: {organizationId: $org, userId: $u, amount: 1, idempotencyKey: \"hold\"}) { hold { id } member { heldCredits } } }",
        variables: |f| json!({ "org": f.org, "u": f.target_user }),
    },
    Case {
        name: "settleCreditHold",
        rule: Rule::ServiceKey,
        query: "mutation($h: ID!) { settleCreditHold(input: {holdId: $h, amount: 1, idempotencyKey: \"settle\"}) { hold { status } member { spentCredits } } }",
        variables: |f| json!({ "h": f.hold }),
    },
    Case {
        name: "releaseCreditHold",
        rule: Rule::ServiceKey,
        query: "mutation($h: ID!) { releaseCreditHold(input: {holdId: $h, idempotencyKey: \"release\"}) { hold { status } member { heldCredits } } }",
        variables: |f| json!({ "h": f.hold }),
    },
    Case {
        name: "requestCredits",
        rule: Rule::AnyMember,
        query: "mutation($org: ID!) { requestCredits(input: {organizationId: $org, amount: 5}) { request { status } } }",
        variables: |f| json!({ "org": f.org }),
    },
    Case {
        name: "cancelCreditRequest",
        rule: Rule::Asker,
        query: "mutation($r: ID!) { cancelCreditRequest(input: {requestId: $r}) { request { status } } }",
        variables: |f| json!({ "r": f.credit_request }),
    },
    Case {
        name: "approveCreditRequest",
        rule: Rule::Needs("UPDATE_MEMBERS"),
        query: "mutation($r: ID!) { approveCreditRequest(input: {requestId: $r}) { request { status approvedAmount } } }",
        variables: |f| json!({ "r": f.credit_request }),
    },
    Case {
        name: "declineCreditRequest",
        rule: Rule::Needs("UPDATE_MEMBERS"),
        query: "mutation($r: ID!) { declineCreditRequest(input: {requestId: $r}) { request { status } } }",
        variables: |f| json!({ "r": f.credit_request }),
    },
    Case {
        name: "Organization.creditRequests",
        rule: Rule::Needs("UPDATE_MEMBERS"),
        query: "query($org: ID!) { organization(id: $org) { creditRequests { totalCount } } }",
        variables: |f| json!({ "org": f.org }),
    },
];

/// Public mutations: no session needed, so no permission to check.
const PUBLIC: &[&str] = &[
    "signUp",
    "logIn",
    "verifyEmail",
    "requestPasswordReset",
    "resetPassword",
];

struct Actors {
    owner: Client,
    admin: Client,
    manager: Client,
    member: Client,
    target: Client,
    outsider: Client,
}

async fn fixture(app: &TestApp, actors: &Actors) -> Fixture {
    let org = actors.owner.create_org("Acme").await;
    app.join(&org, &actors.admin, Role::Admin).await;
    app.join(&org, &actors.manager, Role::Manager).await;
    app.join(&org, &actors.member, Role::Member).await;
    app.join(&org, &actors.target, Role::Member).await;
    let target = actors.owner.member_id(&org, &actors.target).await;
    let owner = &actors.owner;
    owner.ok("mutation($org: ID!) { addCredits(input: {organizationId: $org, amount: 100}) { organization { id } } }", json!({ "org": org })).await;
    owner.ok("mutation($m: ID!) { distributeCredits(input: {memberId: $m, amount: 10}) { member { id } } }", json!({ "m": target })).await;
    owner.ok("mutation($org: ID!) { setSeatLimits(input: {organizationId: $org, standard: 5, pro: 5}) { organization { id } } }", json!({ "org": org })).await;
    static INVITEES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let invitee = format!(
        "invitee-{}@example.com",
        INVITEES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let invited = owner
        .ok(
            "mutation($org: ID!, $email: String!) { inviteMember(input: {organizationId: $org, email: $email, role: MEMBER}) { invitation { id } } }",
            json!({ "org": org, "email": invitee }),
        )
        .await;
    let invitation = invited["inviteMember"]["invitation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = app.mailbox.invitations().last_to(&invitee).await.token();
    let key = owner
        .ok(
            "mutation($org: ID!) { createServiceKey(input: {organizationId: $org, name: \"reader\"}) { serviceKey { id } secret } }",
            json!({ "org": org }),
        )
        .await["createServiceKey"]
        .clone();
    // An endpoint (that answers nothing: no one listens on port 9), and
    // the delivery of its own creation.
    let endpoint = owner
        .ok(
            "mutation($org: ID!) { createWebhookEndpoint(input: {organizationId: $org, url: \"http://127.0.0.1:9/hooks\"}) { endpoint { id deliveries { nodes { id } } } } }",
            json!({ "org": org }),
        )
        .await["createWebhookEndpoint"]["endpoint"]
        .clone();
    let service_secret = key["secret"].as_str().unwrap().to_owned();
    let target_user = actors.target.user_id.clone().expect("signed up");
    let hold = app
        .anonymous()
        .with_token(&service_secret)
        .ok(
            "mutation($org: ID!, $u: ID!) { holdCredits(input: {organizationId: $org, userId: $u, amount: 2, idempotencyKey: \"fixture\"}) { hold { id } } }",
            json!({ "org": org, "u": target_user }),
        )
        .await["holdCredits"]["hold"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let credit_request = actors
        .target
        .ok(
            "mutation($org: ID!) { requestCredits(input: {organizationId: $org, amount: 5}) { request { id } } }",
            json!({ "org": org }),
        )
        .await["requestCredits"]["request"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    Fixture {
        target_user,
        hold,
        credit_request,
        org,
        target,
        invitation,
        token,
        endpoint: endpoint["id"].as_str().unwrap().to_owned(),
        delivery: endpoint["deliveries"]["nodes"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        service_key: key["serviceKey"]["id"].as_str().unwrap().to_owned(),
        service_secret,
    }
}

/// What `actor` must get from `case`: None when allowed, else the error
/// code and, for FORBIDDEN, the permission named.
fn expected(case: &str, rule: Rule, actor: &str) -> Option<(&'static str, Option<&'static str>)> {
    match (rule, actor) {
        (_, "anonymous") => Some(("UNAUTHENTICATED", None)),
        (Rule::ServiceKey, "service") => None,
        (Rule::ServiceKey, _) => Some(("FORBIDDEN", None)),
        // A service key changes nothing.
        (_, "service") if !case.starts_with("Organization.") => Some(("FORBIDDEN", None)),
        (Rule::SignedIn, _) => None,
        (Rule::Invitee, _) => Some(("FORBIDDEN", None)),
        (_, "outsider") => Some(("NOT_FOUND", None)),
        (Rule::AnyMember, _) => None,
        (Rule::Asker, _) => Some(("FORBIDDEN", None)),
        (Rule::MemberButOwner, "owner") => Some(("CONFLICT", None)),
        (Rule::MemberButOwner, _) => None,
        (Rule::Needs(permission), role) if role_has(role, permission) => None,
        (Rule::Needs(permission), _) => Some(("FORBIDDEN", Some(permission))),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_by_every_actor() {
    let app =
        TestApp::spawn_configured(|config| config.webhook_allow_private_networks = true).await;
    let actors = Actors {
        owner: app.sign_up("owner@example.com").await,
        admin: app.sign_up("admin@example.com").await,
        manager: app.sign_up("manager@example.com").await,
        member: app.sign_up("member@example.com").await,
        target: app.sign_up("target@example.com").await,
        outsider: app.sign_up("outsider@example.com").await,
    };
    let mut failures = Vec::new();
    for case in CASES {
        for actor in [
            "owner",
            "admin",
            "manager",
            "member",
            "outsider",
            "service",
            "anonymous",
        ] {
            let fixture = fixture(&app, &actors).await;
            // logOut ends the session it runs in: give it a fresh one.
            let client = match actor {
                "owner" => actors.owner.clone(),
                "admin" => actors.admin.clone(),
                "manager" => actors.manager.clone(),
                "member" => actors.member.clone(),
                "outsider" => actors.outsider.clone(),
                "service" => app.anonymous().with_token(&fixture.service_secret),
                _ => app.anonymous(),
            };
            let client = if case.name == "logOut" && !matches!(actor, "anonymous" | "service") {
                client.new_session(&app).await
            } else {
                client
            };
            let body = client.query(case.query, (case.variables)(&fixture)).await;
            let error = &body["errors"][0];
            let got = match error.is_null() {
                true => None,
                false => Some((
                    error["extensions"]["code"]
                        .as_str()
                        .unwrap_or("?")
                        .to_owned(),
                    error["extensions"]["permission"]
                        .as_str()
                        .map(str::to_owned),
                )),
            };
            let want = expected(case.name, case.rule, actor)
                .map(|(code, permission)| (code.to_owned(), permission.map(str::to_owned)));
            // An outsider asking for an organization's field sees no organization at all.
            let hidden = actor == "outsider"
                && case.name.starts_with("Organization.")
                && got.is_none()
                && body["data"]["organization"].is_null();
            if got != want && !hidden {
                failures.push(format!(
                    "{} by {actor}: expected {want:?}, got {body}",
                    case.name
                ));
            }
            if want.is_none() && got.is_none() && !case.name.starts_with("Organization.") {
                assert!(
                    body["data"]
                        .as_object()
                        .is_some_and(|d| d.values().all(|v| !v.is_null())),
                    "{} by {actor}: {body}",
                    case.name
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} authorization failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_mutation_has_a_row() {
    let schema = orgql::graphql::print_schema();
    let document = async_graphql_parser::parse_schema(&schema).unwrap();
    let mutations: Vec<String> = document
        .definitions
        .iter()
        .filter_map(|d| match d {
            async_graphql_parser::types::TypeSystemDefinition::Type(t)
                if t.node.name.node == "Mutation" =>
            {
                Some(t)
            }
            _ => None,
        })
        .flat_map(|t| match &t.node.kind {
            async_graphql_parser::types::TypeKind::Object(o) => o
                .fields
                .iter()
                .map(|f| f.node.name.node.to_string())
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    assert!(!mutations.is_empty());
    for mutation in mutations {
        let covered =
            CASES.iter().any(|c| c.name == mutation) || PUBLIC.contains(&mutation.as_str());
        assert!(
            covered,
            "mutation {mutation} has no row in the authorization table"
        );
    }
}
