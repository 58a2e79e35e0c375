//! The mail outbox across a crash: at least once, a repeat only for a
//! message the SMTP server accepted just before the process died, with the
//! same Message-ID, and no wait for claims the dead process held; and what
//! wakes the workers.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{Client, ScratchDatabase, ServerProcess};
use crate::smtp::{Mailbox, SmtpPort, SmtpServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_survives_a_kill_with_at_most_a_repeat_of_the_same_message_id() {
    // The SMTP server keeps each message, then takes 300 ms to say so: a
    // process killed meanwhile sent it without knowing.
    let port = SmtpPort::reserve();
    let smtp = format!("smtp://{}", port.addr());
    let mailbox = Mailbox::default();
    let _smtp =
        SmtpServer::start_answering_after(port, mailbox.clone(), Duration::from_millis(300)).await;
    let database = ScratchDatabase::new();
    let mut server = ServerProcess::start(&database.url, &["--smtp-url", &smtp]).await;

    let owner = Client::anonymous_at(&server.url)
        .sign_up("owner@example.com")
        .await;
    let org = owner.create_org("Acme").await;
    let invitees = 20;
    let csv: String = std::iter::once("email,role".to_owned())
        .chain((0..invitees).map(|n| format!("person{n}@example.com,member")))
        .collect::<Vec<_>>()
        .join("\n");
    let sent = owner
        .ok("mutation($org: ID!, $csv: String!) { bulkInviteMembers(input: {organizationId: $org, csv: $csv}) { invitedCount } }", json!({ "org": org, "csv": csv }))
        .await;
    assert_eq!(sent["bulkInviteMembers"]["invitedCount"], invitees);

    // Killed with messages claimed, one of them accepted but not recorded.
    mailbox.invitations().wait_for(3).await;
    server.kill();
    let before_kill = mailbox.invitations().all().len();
    assert!(
        before_kill < invitees,
        "some mail was still to send ({before_kill} sent)"
    );

    let restarted = Instant::now();
    server.resume().await;
    let mut by_recipient: HashMap<String, Vec<String>> = HashMap::new();
    while restarted.elapsed() < Duration::from_secs(30) {
        by_recipient.clear();
        for mail in mailbox.invitations().all() {
            let id = mail
                .message
                .lines()
                .find_map(|l| l.strip_prefix("Message-ID: "))
                .expect("a Message-ID")
                .to_owned();
            by_recipient.entry(mail.to[0].clone()).or_default().push(id);
        }
        if by_recipient.len() == invitees {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all_in = restarted.elapsed();
    assert_eq!(
        by_recipient.len(),
        invitees,
        "every invitation's mail arrived"
    );
    // No wait for the dead process's claims (they would last 45 s).
    assert!(all_in < Duration::from_secs(20), "{all_in:?}");
    let mut repeats = 0;
    for (recipient, ids) in &by_recipient {
        assert!(
            ids.iter().all(|id| id == &ids[0]),
            "{recipient}: a repeat has the same Message-ID: {ids:?}"
        );
        repeats += ids.len() - 1;
    }
    assert!(
        repeats <= 1,
        "at most the one message in flight is repeated: {repeats}"
    );
    println!(
        "{invitees} invitations: {before_kill} mails sent before the kill, all {invitees} {:.1} s after the restart, {repeats} repeated (same Message-ID)",
        all_in.as_secs_f64()
    );
}

/// The workers wake for the commits that queue their work and for no other
/// (each used to read its queue after every commit): a role change in an
/// organization without webhook endpoints queues nothing, an invitation
/// queues mail, and once an endpoint exists a role change queues a delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_wake_for_the_commits_that_queue_their_work() {
    use orgql::domain::{outbox, webhooks};
    let app = crate::common::TestApp::spawn_configured(|config| {
        config.webhook_allow_private_networks = true
    })
    .await;
    let (owner, _ada, org, ada_member) = crate::common::owner_and_ada(&app).await;
    let mut mail = app.server.db.wakes(outbox::QUEUE);
    let mut deliveries = app.server.db.wakes(webhooks::QUEUE);
    let woken = |wakes: &mut tokio::sync::watch::Receiver<u64>| {
        let changed = wakes.has_changed().expect("the database lives");
        wakes.mark_unchanged();
        changed
    };
    mail.mark_unchanged();
    deliveries.mark_unchanged();
    const ROLE: &str = "mutation($m: ID!, $r: AssignableRole!) { updateMemberRole(input: {memberId: $m, role: $r}) { member { id } } }";

    owner
        .ok(ROLE, json!({ "m": ada_member, "r": "MANAGER" }))
        .await;
    assert!(!woken(&mut mail), "a role change queues no mail");
    assert!(!woken(&mut deliveries), "nor, without endpoints, a webhook");

    owner.ok("mutation($org: ID!) { inviteMember(input: {organizationId: $org, email: \"grace@example.com\", role: MEMBER}) { invitation { id } } }", json!({ "org": org })).await;
    assert!(woken(&mut mail), "an invitation queues its email");
    assert!(!woken(&mut deliveries));

    owner.ok("mutation($org: ID!) { createWebhookEndpoint(input: {organizationId: $org, url: \"http://127.0.0.1:9/hooks\"}) { endpoint { id } } }", json!({ "org": org })).await;
    deliveries.mark_unchanged();
    owner
        .ok(ROLE, json!({ "m": ada_member, "r": "ADMIN" }))
        .await;
    assert!(
        woken(&mut deliveries),
        "the role change is queued for the endpoint"
    );
    assert!(!woken(&mut mail));
}

/// On PostgreSQL two instances share the outbox, each claiming messages the
/// other is not claiming: invitations made through both arrive once each,
/// each with its own Message-ID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_send_each_message_once() {
    let app = crate::common::TestApp::spawn().await;
    let Some(second) = app.second_instance_url().await else {
        return; // Two instances share a database on PostgreSQL only.
    };
    let owner = app.sign_up("owner@example.com").await;
    let org = owner.create_org("Acme").await;
    let on_second = owner.at(&second);
    let invitees = 30;
    for n in 0..invitees {
        let client = if n % 2 == 0 { &owner } else { &on_second };
        client.ok("mutation($org: ID!, $email: String!) { inviteMember(input: {organizationId: $org, email: $email, role: MEMBER}) { invitation { id } } }", json!({ "org": org, "email": format!("person{n}@example.com") })).await;
    }
    app.mailbox.invitations().wait_for(invitees).await;
    // Give a duplicate every chance to show up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mails = app.mailbox.invitations().all();
    let mut recipients: Vec<&str> = mails.iter().map(|m| m.to[0].as_str()).collect();
    recipients.sort_unstable();
    let mut expected: Vec<String> = (0..invitees)
        .map(|n| format!("person{n}@example.com"))
        .collect();
    expected.sort_unstable();
    assert_eq!(recipients, expected, "each invitation's mail once");
    let ids: std::collections::HashSet<&str> = mails
        .iter()
        .filter_map(|m| {
            m.message
                .lines()
                .find_map(|l| l.strip_prefix("Message-ID: "))
        })
        .collect();
    assert_eq!(ids.len(), invitees, "one Message-ID per message");
}
