use orgql::domain::Role;
use serde_json::{Value, json};

use crate::common::{Client, TestApp};

const MEMBERS: &str = r#"
query($id: ID!, $first: Int, $after: String, $last: Int, $before: String,
      $role: Role, $query: String, $orderBy: MemberOrder) {
  organization(id: $id) {
    members(first: $first, after: $after, last: $last, before: $before,
            role: $role, query: $query, orderBy: $orderBy) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { role joinedAt user { email name } } }
    }
  }
}"#;

/// An organization of 56: the owner, 5 admins, 10 managers, 40 members.
async fn organization(app: &TestApp) -> (Client, String) {
    let owner = app.sign_up("owner@example.com").await;
    let org = owner.create_org("Acme").await;
    app.add_members(&org, "adm", 5, Role::Admin).await;
    app.add_members(&org, "mgr", 10, Role::Manager).await;
    app.add_members(&org, "mem", 40, Role::Member).await;
    (owner, org)
}

async fn page(client: &Client, mut variables: Value) -> Value {
    let data = client.ok(MEMBERS, variables.take()).await;
    data["organization"]["members"].clone()
}

/// Walks every page in one direction and returns the edges' nodes in list
/// order (a backward walk is put back into list order).
async fn walk(client: &Client, base: Value, size: i64, backward: bool) -> Vec<Value> {
    let mut cursor: Option<String> = None;
    let mut pages: Vec<Vec<Value>> = Vec::new();
    loop {
        let mut variables = base.clone();
        let (size_key, cursor_key) = if backward {
            ("last", "before")
        } else {
            ("first", "after")
        };
        variables[size_key] = json!(size);
        variables[cursor_key] = json!(cursor);
        let page = page(client, variables).await;
        let edges = page["edges"].as_array().unwrap().clone();
        assert!(edges.len() as i64 <= size);
        let info = &page["pageInfo"];
        let more = info[if backward {
            "hasPreviousPage"
        } else {
            "hasNextPage"
        }]
        .as_bool()
        .unwrap();
        assert_eq!(
            info["startCursor"],
            edges.first().map_or(Value::Null, |e| e["cursor"].clone())
        );
        assert_eq!(
            info["endCursor"],
            edges.last().map_or(Value::Null, |e| e["cursor"].clone())
        );
        pages.push(edges.iter().map(|e| e["node"].clone()).collect());
        if !more {
            break;
        }
        assert_eq!(edges.len() as i64, size, "a page before the last is full");
        cursor = Some(
            info[if backward { "startCursor" } else { "endCursor" }]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    if backward {
        pages.reverse();
    }
    pages.concat()
}

fn emails(nodes: &[Value]) -> Vec<String> {
    nodes
        .iter()
        .map(|n| n["user"]["email"].as_str().unwrap().to_owned())
        .collect()
}

fn role_rank(node: &Value) -> u8 {
    match node["role"].as_str().unwrap() {
        "OWNER" => 0,
        "ADMIN" => 1,
        "MANAGER" => 2,
        _ => 3,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_cover_every_member_once_in_every_order_and_direction() {
    let app = TestApp::spawn().await;
    let (owner, org) = organization(&app).await;
    let mut all = emails(&walk(&owner, json!({ "id": org }), 100, false).await);
    all.sort();
    assert_eq!(all.len(), 56);

    for field in ["JOINED_AT", "EMAIL", "NAME", "ROLE"] {
        for direction in ["ASC", "DESC"] {
            let base = json!({ "id": org, "orderBy": { "field": field, "direction": direction } });
            let forward = walk(&owner, base.clone(), 7, false).await;
            let backward = walk(&owner, base.clone(), 9, true).await;
            assert_eq!(
                emails(&forward),
                emails(&backward),
                "{field} {direction}: both directions agree"
            );
            let mut seen = emails(&forward);
            seen.sort();
            assert_eq!(seen, all, "{field} {direction}: no gaps, no repeats");

            let key = |n: &Value| -> String {
                match field {
                    "JOINED_AT" => n["joinedAt"].as_str().unwrap().to_owned(),
                    "EMAIL" => n["user"]["email"].as_str().unwrap().to_owned(),
                    "NAME" => n["user"]["name"].as_str().unwrap().to_owned(),
                    _ => role_rank(n).to_string(),
                }
            };
            let keys: Vec<String> = forward.iter().map(key).collect();
            let mut sorted = keys.clone();
            sorted.sort();
            if direction == "DESC" {
                sorted.reverse();
            }
            assert_eq!(keys, sorted, "{field} {direction}: in order");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_by_role_and_text_with_true_totals() {
    let app = TestApp::spawn().await;
    let (owner, org) = organization(&app).await;

    let all = page(&owner, json!({ "id": org })).await;
    assert_eq!(all["totalCount"], 56);

    let managers = walk(&owner, json!({ "id": org, "role": "MANAGER" }), 3, false).await;
    assert_eq!(managers.len(), 10);
    assert!(managers.iter().all(|m| m["role"] == "MANAGER"));
    assert_eq!(
        page(&owner, json!({ "id": org, "role": "MANAGER" })).await["totalCount"],
        10
    );
    assert_eq!(
        page(&owner, json!({ "id": org, "role": "OWNER" })).await["totalCount"],
        1
    );

    // Case-insensitive, on the name or the email.
    let by_name = walk(&owner, json!({ "id": org, "query": "MGR 00" }), 4, false).await;
    assert_eq!(by_name.len(), 10);
    assert_eq!(
        page(&owner, json!({ "id": org, "query": "MGR 00" })).await["totalCount"],
        10
    );
    let by_email = page(&owner, json!({ "id": org, "query": "mem039@EXAMPLE" })).await;
    assert_eq!(by_email["totalCount"], 1);
    assert_eq!(
        emails(&[by_email["edges"][0]["node"].clone()]),
        ["mem039@example.com"]
    );

    // Both filters at once; and LIKE wildcards in the text are literal.
    assert_eq!(
        page(
            &owner,
            json!({ "id": org, "query": "mgr", "role": "ADMIN" })
        )
        .await["totalCount"],
        0
    );
    assert_eq!(
        page(&owner, json!({ "id": org, "query": "%" })).await["totalCount"],
        0
    );
    assert_eq!(
        page(&owner, json!({ "id": org, "query": "m_m" })).await["totalCount"],
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_size_and_cursors_are_checked() {
    let app = TestApp::spawn().await;
    let (owner, org) = organization(&app).await;

    assert_eq!(
        page(&owner, json!({ "id": org })).await["edges"]
            .as_array()
            .unwrap()
            .len(),
        20
    );
    assert_eq!(
        page(&owner, json!({ "id": org, "first": 100 })).await["edges"]
            .as_array()
            .unwrap()
            .len(),
        56
    );
    for bad in [
        json!({ "first": 0 }),
        json!({ "first": 101 }),
        json!({ "last": -1 }),
        json!({ "first": 1, "last": 1 }),
    ] {
        let mut variables = bad.clone();
        variables["id"] = json!(org);
        assert_eq!(
            owner.error_code(MEMBERS, variables).await,
            "BAD_USER_INPUT",
            "{bad}"
        );
    }

    let by_email = page(
        &owner,
        json!({ "id": org, "first": 2, "orderBy": { "field": "EMAIL", "direction": "ASC" } }),
    )
    .await;
    let cursor = by_email["pageInfo"]["endCursor"].clone();
    let wrong_order =
        json!({ "id": org, "after": cursor, "orderBy": { "field": "NAME", "direction": "ASC" } });
    assert_eq!(
        owner.error_code(MEMBERS, wrong_order).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        owner
            .error_code(MEMBERS, json!({ "id": org, "after": "not a cursor" }))
            .await,
        "BAD_USER_INPUT"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_costs_the_same_statements_whatever_its_size() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@example.com").await;
    let org = owner.create_org("Acme").await;
    app.add_members(&org, "mem", 120, Role::Member).await;
    let query = r#"query($id: ID!, $first: Int) { organization(id: $id) { members(first: $first) {
        totalCount nodes { id role permissions credits seat joinedAt
          user { id email name } organization { id name viewerRole } } } } }"#;

    let mut costs = Vec::new();
    for size in [1, 10, 100] {
        let variables = json!({ "id": org, "first": size });
        let (cost, data) = app
            .statements_of(async || owner.ok(query, variables.clone()).await)
            .await;
        costs.push(cost);
        assert_eq!(
            data["organization"]["members"]["nodes"]
                .as_array()
                .unwrap()
                .len(),
            size
        );
    }
    assert_eq!(costs[0], costs[1], "statements per page: {costs:?}");
    assert_eq!(costs[1], costs[2], "statements per page: {costs:?}");
    assert!(costs[0] <= 3, "statements per page: {costs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_memberships_list_every_organization() {
    let app = TestApp::spawn().await;
    let ada = app.sign_up("ada@example.com").await;
    let mut orgs = Vec::new();
    for name in ["One", "Two", "Three"] {
        orgs.push(ada.create_org(name).await);
    }
    let bob = app.sign_up("bob@example.com").await;
    app.join(&orgs[1], &bob, Role::Manager).await;

    let query = "query($first: Int, $after: String) { viewer { memberships(first: $first, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } nodes { role permissions organization { name } } } } }";
    let first = ada.ok(query, json!({ "first": 2 })).await["viewer"]["memberships"].clone();
    assert_eq!(first["totalCount"], 3);
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let rest = ada
        .ok(
            query,
            json!({ "first": 2, "after": first["pageInfo"]["endCursor"] }),
        )
        .await;
    let names: Vec<&str> = first["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["viewer"]["memberships"]["nodes"].as_array().unwrap())
        .map(|n| n["organization"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["One", "Two", "Three"]);

    let bobs = bob.ok(query, json!({})).await["viewer"]["memberships"].clone();
    assert_eq!(bobs["totalCount"], 1);
    assert_eq!(bobs["nodes"][0]["role"], "MANAGER");
    assert_eq!(
        bobs["nodes"][0]["permissions"],
        json!([
            "VIEW_BILLING",
            "UPDATE_MEMBERS",
            "VIEW_MEMBERS",
            "MANAGE_RESOURCES"
        ])
    );
}
