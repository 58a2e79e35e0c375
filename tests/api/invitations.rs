use std::time::Duration;

use orgql::domain::Role;
use orgql::domain::lease_queue::pending;
use orgql::domain::outbox::Outbox;
use serde_json::{Value, json};

use crate::common::{Client, TestApp};

const INVITE: &str = "mutation($org: ID!, $email: String!, $role: AssignableRole!) {
    inviteMember(input: {organizationId: $org, email: $email, role: $role}) { invitation { id email role status invitedBy { email } expiresAt } } }";
const PREVIEW: &str = "query($token: String!) { invitation(token: $token) { organizationName email role invitedByName status accountExists expiresAt } }";
const ACCEPT: &str = "mutation($token: String!) { acceptInvitation(input: {token: $token}) { member { role user { email } organization { name viewerRole } } } }";
const SIGN_UP: &str = "mutation($input: SignUpInput!) { signUp(input: $input) { token user { email } member { role organization { name } } } }";
const INVITATIONS: &str = "query($org: ID!, $status: InvitationStatus) { organization(id: $org) { invitations(status: $status) { totalCount nodes { id email role status } } } }";
const RESEND: &str =
    "mutation($id: ID!) { resendInvitation(input: {invitationId: $id}) { invitation { status } } }";
const REVOKE: &str =
    "mutation($id: ID!) { revokeInvitation(input: {invitationId: $id}) { invitation { status } } }";

async fn owner_of_acme(app: &TestApp) -> (Client, String) {
    let owner = app.sign_up("owner@example.com").await;
    let org = owner.create_org("Acme").await;
    (owner, org)
}

async fn invite(owner: &Client, org: &str, email: &str, role: &str) -> Value {
    owner
        .ok(INVITE, json!({ "org": org, "email": email, "role": role }))
        .await["inviteMember"]["invitation"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitee_without_an_account_signs_up_with_the_token() {
    let app = TestApp::spawn().await;
    let (owner, org) = owner_of_acme(&app).await;

    let invitation = invite(&owner, &org, "  Ada@Example.com ", "MANAGER").await;
    assert_eq!(invitation["email"], "ada@example.com");
    assert_eq!(invitation["status"], "PENDING");
    assert_eq!(invitation["invitedBy"]["email"], "owner@example.com");

    let mail = app.mailbox.invitations().last_to("ada@example.com").await;
    assert_eq!(mail.from, "noreply@localhost");
    assert_eq!(mail.subject(), "owner invited you to join Acme on orgql");
    assert!(
        mail.link()
            .starts_with("http://127.0.0.1:8000/invitations/accept?token="),
        "{}",
        mail.link()
    );
    assert!(mail.message.contains("multipart/alternative") && mail.message.contains("text/html"));
    let token = mail.token();
    assert_eq!(token.len(), 43, "256 bits, URL-safe");

    let preview =
        app.anonymous().ok(PREVIEW, json!({ "token": token })).await["invitation"].clone();
    assert_eq!(preview["organizationName"], "Acme");
    assert_eq!(preview["email"], "ada@example.com");
    assert_eq!(preview["role"], "MANAGER");
    assert_eq!(preview["invitedByName"], "owner");
    assert_eq!(preview["status"], "PENDING");
    assert_eq!(preview["accountExists"], false);
    assert_eq!(preview["expiresAt"], invitation["expiresAt"]);

    let input = json!({ "email": "ada@example.com", "name": "Ada", "password": "analytical", "invitationToken": token });
    let signed_up = app.anonymous().ok(SIGN_UP, json!({ "input": input })).await["signUp"].clone();
    assert_eq!(
        signed_up["member"],
        json!({ "role": "MANAGER", "organization": { "name": "Acme" } })
    );

    // Single use: the token is spent, and says so.
    let bob = app.sign_up("bob@example.com").await;
    assert_eq!(
        bob.error_code(ACCEPT, json!({ "token": token })).await,
        "CONFLICT"
    );
    assert_eq!(
        app.anonymous().ok(PREVIEW, json!({ "token": token })).await["invitation"]["status"],
        "ACCEPTED"
    );
    let listed =
        owner.ok(INVITATIONS, json!({ "org": org })).await["organization"]["invitations"].clone();
    assert_eq!(listed["nodes"][0]["status"], "ACCEPTED");
    let members = owner.ok("query($org: ID!) { organization(id: $org) { members { totalCount } auditLog { nodes { action targetEmail } } } }", json!({ "org": org })).await;
    assert_eq!(members["organization"]["members"]["totalCount"], 2);
    assert_eq!(
        members["organization"]["auditLog"]["nodes"][0],
        json!({ "action": "member.joined", "targetEmail": "ada@example.com" })
    );
    assert_eq!(
        members["organization"]["auditLog"]["nodes"][1],
        json!({ "action": "member.invited", "targetEmail": "ada@example.com" })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_invited_address_can_accept() {
    let app = TestApp::spawn().await;
    let (owner, org) = owner_of_acme(&app).await;
    let bob = app.sign_up("bob@example.com").await;
    let carol = app.sign_up("carol@example.com").await;
    invite(&owner, &org, "bob@example.com", "ADMIN").await;
    let token = app
        .mailbox
        .invitations()
        .last_to("bob@example.com")
        .await
        .token();
    assert_eq!(
        app.anonymous().ok(PREVIEW, json!({ "token": token })).await["invitation"]["accountExists"],
        true
    );

    let refused = carol.query(ACCEPT, json!({ "token": token })).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN");
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("bob@example.com")
    );
    assert_eq!(
        app.anonymous()
            .error_code(ACCEPT, json!({ "token": token }))
            .await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        bob.error_code(ACCEPT, json!({ "token": "not-a-token" }))
            .await,
        "BAD_USER_INPUT"
    );
    // A sign-up with a token for someone else creates nothing.
    let input = json!({ "email": "dave@example.com", "name": "Dave", "password": "long enough", "invitationToken": token });
    assert_eq!(
        app.anonymous()
            .error_code(SIGN_UP, json!({ "input": input }))
            .await,
        "FORBIDDEN"
    );
    let dave = json!({ "input": { "email": "dave@example.com", "password": "long enough" } });
    assert_eq!(
        app.anonymous()
            .error_code(
                "mutation($input: LogInInput!) { logIn(input: $input) { token } }",
                dave
            )
            .await,
        "UNAUTHENTICATED"
    );

    let accepted =
        bob.ok(ACCEPT, json!({ "token": token })).await["acceptInvitation"]["member"].clone();
    assert_eq!(
        accepted,
        json!({ "role": "ADMIN", "user": { "email": "bob@example.com" }, "organization": { "name": "Acme", "viewerRole": "ADMIN" } })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resending_or_reinviting_replaces_the_token_and_revoking_ends_it() {
    let app = TestApp::spawn().await;
    let (owner, org) = owner_of_acme(&app).await;
    let ada = app.sign_up("ada@example.com").await;
    let first = invite(&owner, &org, "ada@example.com", "MEMBER").await;
    let first_token = app.mailbox.invitations().wait_for(1).await[0].token();

    owner.ok(RESEND, json!({ "id": first["id"] })).await;
    let second_token = app.mailbox.invitations().wait_for(2).await[1].token();
    assert_ne!(first_token, second_token);
    assert_eq!(
        ada.error_code(ACCEPT, json!({ "token": first_token }))
            .await,
        "BAD_USER_INPUT"
    );

    // Inviting the address again refreshes the same invitation with the new role.
    let again = invite(&owner, &org, "ada@example.com", "ADMIN").await;
    assert_eq!(again["id"], first["id"]);
    let third_token = app.mailbox.invitations().wait_for(3).await[2].token();
    assert_eq!(
        ada.error_code(ACCEPT, json!({ "token": second_token }))
            .await,
        "BAD_USER_INPUT"
    );
    let pending = owner
        .ok(INVITATIONS, json!({ "org": org, "status": "PENDING" }))
        .await["organization"]["invitations"]
        .clone();
    assert_eq!(pending["totalCount"], 1);
    assert_eq!(pending["nodes"][0]["role"], "ADMIN");

    assert_eq!(
        owner.ok(REVOKE, json!({ "id": first["id"] })).await["revokeInvitation"]["invitation"]["status"],
        "REVOKED"
    );
    assert_eq!(
        ada.error_code(ACCEPT, json!({ "token": third_token }))
            .await,
        "CONFLICT"
    );
    assert_eq!(
        owner.error_code(RESEND, json!({ "id": first["id"] })).await,
        "CONFLICT"
    );
    assert_eq!(
        app.anonymous()
            .ok(PREVIEW, json!({ "token": third_token }))
            .await["invitation"]["status"],
        "REVOKED"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_invitation_cannot_be_accepted_until_resent() {
    let app =
        TestApp::spawn_configured(|config| config.invitation_ttl = Duration::from_millis(1500))
            .await;
    let (owner, org) = owner_of_acme(&app).await;
    let ada = app.sign_up("ada@example.com").await;
    let invitation = invite(&owner, &org, "ada@example.com", "MEMBER").await;
    let token = app.mailbox.invitations().wait_for(1).await[0].token();
    tokio::time::sleep(Duration::from_millis(1600)).await;

    assert_eq!(
        ada.error_code(ACCEPT, json!({ "token": token })).await,
        "CONFLICT"
    );
    let expired = owner
        .ok(INVITATIONS, json!({ "org": org, "status": "EXPIRED" }))
        .await["organization"]["invitations"]
        .clone();
    assert_eq!(expired["totalCount"], 1);
    assert_eq!(expired["nodes"][0]["status"], "EXPIRED");
    assert_eq!(
        owner
            .ok(INVITATIONS, json!({ "org": org, "status": "PENDING" }))
            .await["organization"]["invitations"]["totalCount"],
        0
    );

    owner.ok(RESEND, json!({ "id": invitation["id"] })).await;
    let fresh = app.mailbox.invitations().wait_for(2).await[1].token();
    assert_eq!(
        ada.ok(ACCEPT, json!({ "token": fresh })).await["acceptInvitation"]["member"]["role"],
        "MEMBER"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_refuse_bad_addresses_members_and_owner() {
    let app = TestApp::spawn().await;
    let (owner, org) = owner_of_acme(&app).await;
    let ada = app.sign_up("ada@example.com").await;
    app.join(&org, &ada, Role::Member).await;

    let variables = |email: &str, role: &str| json!({ "org": org, "email": email, "role": role });
    assert_eq!(
        owner
            .error_code(INVITE, variables("ADA@example.com", "ADMIN"))
            .await,
        "CONFLICT"
    );
    assert_eq!(
        owner
            .error_code(INVITE, variables("not an address", "ADMIN"))
            .await,
        "BAD_USER_INPUT"
    );
    assert!(
        owner
            .query(INVITE, variables("new@example.com", "OWNER"))
            .await["errors"]
            .is_array()
    );
    let refused = ada
        .query(INVITE, variables("new@example.com", "MEMBER"))
        .await;
    assert_eq!(
        refused["errors"][0]["extensions"],
        json!({ "code": "FORBIDDEN", "permission": "MANAGE_MEMBERS" })
    );
    // None of the refused invitations sent anything.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.mailbox.invitations().all().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_waits_out_an_smtp_outage_and_arrives_exactly_once() {
    let mut app = TestApp::spawn_with_smtp_down().await;
    let (owner, org) = owner_of_acme(&app).await;
    for n in 0..5 {
        invite(&owner, &org, &format!("person{n}@example.com"), "MEMBER").await;
    }
    // The server is down: the invitations exist, the mail waits.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(app.mailbox.all().is_empty());
    // The five invitations, and the owner's verification mail from sign-up.
    assert_eq!(pending::<Outbox>(&app.server.db).await.unwrap(), 6);

    app.start_smtp().await;
    let mails = app.mailbox.invitations().wait_for(5).await;
    // Give a duplicate every chance to show up.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut recipients: Vec<String> = app
        .mailbox
        .invitations()
        .all()
        .iter()
        .flat_map(|m| m.to.clone())
        .collect();
    recipients.sort();
    let expected: Vec<String> = (0..5).map(|n| format!("person{n}@example.com")).collect();
    assert_eq!(recipients, expected, "each exactly once: {mails:#?}");
    assert_eq!(pending::<Outbox>(&app.server.db).await.unwrap(), 0);
}

const BULK: &str = "mutation($input: BulkInviteMembersInput!) { bulkInviteMembers(input: $input) {
    rows { line email role status message } flaggedCount invitedCount sent invitations { email role } } }";

fn bulk_input(org: &str, csv: &str, dry_run: bool, skip_invalid: bool) -> Value {
    json!({ "input": { "organizationId": org, "csv": csv, "dryRun": dry_run, "skipInvalid": skip_invalid } })
}

fn statuses(payload: &Value) -> Vec<(i64, String)> {
    payload["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["line"].as_i64().unwrap(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Every kind of row, with a BOM, CRLF, quotes, spaces and a blank line.
const MIXED: &str = "\u{feff}Email,ROLE,Note\r\n\
    ok@example.com,member,\r\n\
    \" quoted@example.com \", Admin ,\"with, comma\"\r\n\
    \r\n\
    bad-address,member,\r\n\
    x@example.com,boss,\r\n\
    y@example.com,owner,\r\n\
    OK@example.com,manager,\r\n\
    member@example.com,member,\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flagged_file_sends_nothing_unless_told_to_skip() {
    let app = TestApp::spawn().await;
    let (owner, org) = owner_of_acme(&app).await;
    let member = app.sign_up("member@example.com").await;
    app.join(&org, &member, Role::Member).await;

    let expected = [
        (2, "READY"),
        (3, "READY"),
        (5, "INVALID_EMAIL"),
        (6, "UNKNOWN_ROLE"),
        (7, "ROLE_NOT_ASSIGNABLE"),
        (8, "DUPLICATE_ROW"),
        (9, "ALREADY_MEMBER"),
    ]
    .map(|(line, status)| (line, status.to_owned()));

    let stopped =
        owner.ok(BULK, bulk_input(&org, MIXED, false, false)).await["bulkInviteMembers"].clone();
    assert_eq!(statuses(&stopped), expected);
    assert_eq!(
        (
            stopped["flaggedCount"].clone(),
            stopped["invitedCount"].clone(),
            stopped["sent"].clone()
        ),
        (json!(5), json!(0), json!(false))
    );
    assert_eq!(stopped["rows"][1]["email"], " quoted@example.com ".trim());
    assert!(stopped["rows"][2]["message"].is_string());

    let dry =
        owner.ok(BULK, bulk_input(&org, MIXED, true, true)).await["bulkInviteMembers"].clone();
    assert_eq!(statuses(&dry), expected);
    assert_eq!(dry["sent"], false);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        app.mailbox.invitations().all().is_empty(),
        "nothing was sent"
    );
    assert_eq!(
        owner.ok(INVITATIONS, json!({ "org": org })).await["organization"]["invitations"]["totalCount"],
        0
    );

    let skipped =
        owner.ok(BULK, bulk_input(&org, MIXED, false, true)).await["bulkInviteMembers"].clone();
    assert_eq!(skipped["invitedCount"], 2);
    assert_eq!(skipped["sent"], true);
    assert_eq!(skipped["rows"][0]["status"], "INVITED");
    assert_eq!(
        skipped["invitations"],
        json!([{ "email": "ok@example.com", "role": "MEMBER" }, { "email": "quoted@example.com", "role": "ADMIN" }])
    );
    let mut recipients: Vec<String> = app
        .mailbox
        .invitations()
        .wait_for(2)
        .await
        .iter()
        .flat_map(|m| m.to.clone())
        .collect();
    recipients.sort();
    assert_eq!(recipients, ["ok@example.com", "quoted@example.com"]);

    // The same clean file again: the pending invitations are refreshed.
    let again = owner
        .ok(
            BULK,
            bulk_input(&org, "email,role\nok@example.com,manager\n", false, false),
        )
        .await;
    assert_eq!(
        statuses(&again["bulkInviteMembers"]),
        [(2, "REINVITED".to_owned())]
    );
    let audit = owner.ok("query($org: ID!) { organization(id: $org) { auditLog(first: 1) { nodes { action details } } } }", json!({ "org": org })).await;
    let entry = &audit["organization"]["auditLog"]["nodes"][0];
    assert_eq!(entry["action"], "member.bulk_invited");
    assert_eq!(
        serde_json::from_str::<Value>(entry["details"].as_str().unwrap()).unwrap(),
        json!({ "invited": 1, "flagged": 0, "rows": 1 })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_upload_reads_like_the_same_text_within_limits() {
    let app = TestApp::spawn().await;
    let (owner, org) = owner_of_acme(&app).await;

    let as_text =
        owner.ok(BULK, bulk_input(&org, MIXED, true, false)).await["bulkInviteMembers"].clone();
    let variables = json!({ "input": { "organizationId": org, "dryRun": true } });
    let (status, as_file) = owner
        .upload(BULK, variables.clone(), MIXED.as_bytes().to_vec())
        .await;
    assert_eq!(status, 200, "{as_file}");
    assert_eq!(as_file["data"]["bulkInviteMembers"], as_text);

    let (status, too_big) = owner
        .upload(BULK, variables, vec![b'x'; 64 * 1024 + 1])
        .await;
    assert_eq!(status, 413, "{too_big}");
    assert_eq!(too_big["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED");

    let rows: String = (0..101)
        .map(|n| format!("p{n}@example.com,member\n"))
        .collect();
    let many = bulk_input(&org, &format!("email,role\n{rows}"), false, false);
    assert_eq!(owner.error_code(BULK, many).await, "LIMIT_EXCEEDED");
    assert_eq!(
        owner
            .error_code(
                BULK,
                bulk_input(&org, "address,role\na@example.com,member\n", false, false)
            )
            .await,
        "BAD_USER_INPUT"
    );
    let neither = json!({ "input": { "organizationId": org } });
    assert_eq!(owner.error_code(BULK, neither).await, "BAD_USER_INPUT");
    let hundred: String = (0..100)
        .map(|n| format!("p{n}@example.com,member\n"))
        .collect();
    let full = owner
        .ok(
            BULK,
            bulk_input(&org, &format!("email,role\n{hundred}"), false, false),
        )
        .await;
    assert_eq!(full["bulkInviteMembers"]["invitedCount"], 100);
    assert_eq!(app.mailbox.invitations().wait_for(100).await.len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_composed_or_decomposed_is_one_invitation() {
    let app = TestApp::spawn().await;
    let (owner, org) = owner_of_acme(&app).await;
    let composed = "Zo\u{00EB}@example.com";
    let decomposed = "zoe\u{0308}@example.com";

    let first = invite(&owner, &org, decomposed, "MEMBER").await;
    assert_eq!(first["email"], "zo\u{00EB}@example.com");
    let second = invite(&owner, &org, composed, "MANAGER").await;
    assert_eq!(
        second["id"], first["id"],
        "the pending invitation is refreshed"
    );
    let listed =
        owner.ok(INVITATIONS, json!({ "org": org })).await["organization"]["invitations"].clone();
    assert_eq!(listed["totalCount"], 1);
    assert_eq!(listed["nodes"][0]["role"], "MANAGER");

    // A file with both forms: the second is the first's duplicate.
    let csv = format!("email,role\n{composed},member\n{decomposed},admin\n");
    let report =
        owner.ok(BULK, bulk_input(&org, &csv, true, false)).await["bulkInviteMembers"].clone();
    assert_eq!(
        statuses(&report),
        [(2, "READY".to_owned()), (3, "DUPLICATE_ROW".to_owned())]
    );

    // Signing up with the other form takes the invitation, and a search in
    // either form finds the member.
    // The refreshed invitation's mail (to the stored form) is the second.
    let mails = app.mailbox.invitations().wait_for(2).await;
    assert_eq!(mails[1].to, ["zo\u{00EB}@example.com"]);
    let token = mails[1].token();
    let input = json!({ "email": decomposed, "name": "Zoë", "password": "long enough", "invitationToken": token });
    let signed_up = app.anonymous().ok(SIGN_UP, json!({ "input": input })).await["signUp"].clone();
    assert_eq!(signed_up["member"]["role"], "MANAGER");
    let search = "query($org: ID!, $q: String) { organization(id: $org) { members(query: $q) { nodes { user { email } } } } }";
    for query in ["ZOE\u{0308}", "zo\u{00EB}@"] {
        let found = owner.ok(search, json!({ "org": org, "q": query })).await;
        assert_eq!(
            found["organization"]["members"]["nodes"],
            json!([{ "user": { "email": "zo\u{00EB}@example.com" } }]),
            "{query:?}"
        );
    }
}
