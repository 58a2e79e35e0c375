use std::time::Duration;

use orgql::domain::Role;
use serde_json::json;

use crate::common::{TestApp, db_id};

/// A request dropped mid-transaction (the client went away) neither leaves a
/// pooled connection inside an open transaction nor loses the work: the
/// transaction runs to its end on its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_request_never_strands_a_transaction() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@example.com").await;
    let org = owner.create_org("Acme").await;
    let ada = app.sign_up("ada@example.com").await;
    let (organization_id, user_id) = (db_id(&org), db_id(ada.user_id.as_deref().unwrap()));

    let slow_join = app.server.db.write(move |tx| {
        Box::pin(async move {
            let membership =
                orgql::domain::members::add(tx, organization_id, user_id, Role::Member).await?;
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok::<_, orgql::domain::DomainError>(membership)
        })
    });
    assert!(
        tokio::time::timeout(Duration::from_millis(50), slow_join)
            .await
            .is_err(),
        "the caller gave up"
    );

    // Writes on every connection of the pool go through...
    for n in 0..10 {
        app.sign_up(&format!("user{n}@example.com")).await;
    }
    // ...and the abandoned transaction committed.
    let members = owner
        .ok(
            "query($id: ID!) { organization(id: $id) { members { totalCount } } }",
            json!({ "id": org }),
        )
        .await;
    assert_eq!(members["organization"]["members"]["totalCount"], 2);
    let visible = ada
        .ok(
            "query($id: ID!) { organization(id: $id) { viewerRole } }",
            json!({ "id": org }),
        )
        .await;
    assert_eq!(visible["organization"]["viewerRole"], "MEMBER");
}
