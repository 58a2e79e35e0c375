use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
use orgql::db::schema::{invitations, memberships, users};
use orgql::domain::Role;
use serde_json::{Value, json};

use crate::common::{Client, ScratchDatabase, ServerProcess, TestApp, db_id};

const SIGN_UP: &str =
    "mutation($input: SignUpInput!) { signUp(input: $input) { token user { id email name } } }";
const LOG_IN: &str =
    "mutation($input: LogInInput!) { logIn(input: $input) { token user { email } } }";
const VIEWER: &str = "{ viewer { user { email name } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_log_in_and_log_out() {
    let app = TestApp::spawn().await;
    let anonymous = app.anonymous();

    let data = anonymous
        .ok(SIGN_UP, json!({ "input": { "email": "  Ada@Example.COM ", "name": " Ada Lovelace ", "password": "analytical" } }))
        .await;
    assert_eq!(data["signUp"]["user"]["email"], "ada@example.com");
    assert_eq!(data["signUp"]["user"]["name"], "Ada Lovelace");
    let token = data["signUp"]["token"].as_str().unwrap();
    assert!(token.len() >= 43, "a 256-bit token: {token}");

    // The email is compared case-insensitively.
    let data = anonymous
        .ok(
            LOG_IN,
            json!({ "input": { "email": "ADA@example.com", "password": "analytical" } }),
        )
        .await;
    let second = anonymous.with_token(data["logIn"]["token"].as_str().unwrap());
    assert_ne!(second.token.as_deref(), Some(token));
    assert_eq!(
        second.ok(VIEWER, json!({})).await["viewer"]["user"]["email"],
        "ada@example.com"
    );

    assert_eq!(
        second.ok("mutation { logOut }", json!({})).await["logOut"],
        true
    );
    // The ended session is anonymous from its next request on...
    assert_eq!(
        second.ok(VIEWER, json!({})).await["viewer"],
        serde_json::Value::Null
    );
    assert_eq!(
        second.error_code("mutation { logOut }", json!({})).await,
        "UNAUTHENTICATED"
    );
    // ...while the sign-up session lives on.
    let first = anonymous.with_token(token);
    assert_eq!(
        first.ok(VIEWER, json!({})).await["viewer"]["user"]["name"],
        "Ada Lovelace"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_rejects_bad_input_and_duplicates() {
    let app = TestApp::spawn().await;
    let anonymous = app.anonymous();
    let sign_up = |email: &str, name: &str, password: &str| json!({ "input": { "email": email, "name": name, "password": password } });

    assert_eq!(
        anonymous
            .error_code(SIGN_UP, sign_up("ada@example.com", "Ada", "short"))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        anonymous
            .error_code(SIGN_UP, sign_up("not-an-email", "Ada", "long enough"))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        anonymous
            .error_code(SIGN_UP, sign_up("ada@example.com", "   ", "long enough"))
            .await,
        "BAD_USER_INPUT"
    );

    anonymous
        .ok(SIGN_UP, sign_up("ada@example.com", "Ada", "long enough"))
        .await;
    assert_eq!(
        anonymous
            .error_code(SIGN_UP, sign_up("ADA@example.com", "Ada 2", "long enough"))
            .await,
        "CONFLICT"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_look_the_same_whether_or_not_the_account_exists() {
    let app = TestApp::spawn().await;
    app.sign_up("ada@example.com").await;
    let anonymous = app.anonymous();

    let wrong_password = anonymous
        .query(
            LOG_IN,
            json!({ "input": { "email": "ada@example.com", "password": "wrong password" } }),
        )
        .await;
    let no_account = anonymous
        .query(
            LOG_IN,
            json!({ "input": { "email": "bob@example.com", "password": "wrong password" } }),
        )
        .await;
    assert_eq!(
        wrong_password["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    assert_eq!(
        wrong_password["errors"][0]["message"],
        no_account["errors"][0]["message"]
    );
    assert_eq!(
        wrong_password["errors"][0]["extensions"],
        no_account["errors"][0]["extensions"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_token_is_an_anonymous_request() {
    let app = TestApp::spawn().await;
    let forged = app.anonymous().with_token("forged");
    assert_eq!(
        forged.ok(VIEWER, json!({})).await["viewer"],
        serde_json::Value::Null
    );
    assert_eq!(
        forged
            .error_code(
                "mutation { createOrganization(input: {name: \"X\"}) { organization { id } } }",
                json!({})
            )
            .await,
        "UNAUTHENTICATED"
    );
}

/// `ë` written as one code point (NFC) and as `e` with a combining diaeresis
/// (NFD): one address, so one account, found by either.
const COMPOSED: &str = "Zo\u{00EB}@example.com";
const DECOMPOSED: &str = "zoe\u{0308}@example.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_composed_or_decomposed_is_one_account() {
    let app = TestApp::spawn().await;
    let anonymous = app.anonymous();
    let sign_up = |email: &str| json!({ "input": { "email": email, "name": "Zoë", "password": "long enough" } });

    let data = anonymous.ok(SIGN_UP, sign_up(DECOMPOSED)).await;
    assert_eq!(data["signUp"]["user"]["email"], "zo\u{00EB}@example.com");
    assert_eq!(
        anonymous.error_code(SIGN_UP, sign_up(COMPOSED)).await,
        "CONFLICT"
    );
    for email in [COMPOSED, DECOMPOSED] {
        let data = anonymous
            .ok(
                LOG_IN,
                json!({ "input": { "email": email, "password": "long enough" } }),
            )
            .await;
        assert_eq!(
            data["logIn"]["user"]["email"], "zo\u{00EB}@example.com",
            "{email:?}"
        );
    }
    // Lower-casing a composed capital can leave a text that composes
    // further: J + caron is stored as the one code point ǰ.
    let data = anonymous
        .ok(SIGN_UP, sign_up("J\u{030C}ANE@example.com"))
        .await;
    assert_eq!(data["signUp"]["user"]["email"], "\u{01F0}ane@example.com");
    let data = anonymous
        .ok(
            LOG_IN,
            json!({ "input": { "email": "\u{01F0}ane@example.com", "password": "long enough" } }),
        )
        .await;
    assert_eq!(data["logIn"]["user"]["email"], "\u{01F0}ane@example.com");
}

/// Runs `$body` (a diesel future over `$c`) straight on the database, in a
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

/// Addresses as a build before NFC stored them, written straight to the
/// database; the server started on it again puts each in normal form,
/// except where two rows would then hold one address: those it names in a
/// warning and leaves, merging nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_addresses_are_put_in_normal_form_at_start_unless_they_collide() {
    let database = ScratchDatabase::new();
    let mut server = ServerProcess::start(&database.url, &["--log-format", "json"]).await;
    let anonymous = Client::anonymous_at(&server.url);
    let sign_up = async |email: &str| {
        let input = json!({ "input": { "email": email, "name": "X", "password": "long enough" } });
        let data = anonymous.ok(SIGN_UP, input).await;
        let id = data["signUp"]["user"]["id"].as_str().unwrap().to_owned();
        let token = data["signUp"]["token"].as_str().unwrap().to_owned();
        (db_id(&id), anonymous.with_token(&token))
    };
    let (_, owner) = sign_up("owner@example.com").await;
    let org = owner.create_org("Acme").await;
    let (zoe, _) = sign_up("zoe@example.com").await;
    let (remy_nfd, _) = sign_up("remy@example.com").await;
    let (remy_nfc, _) = sign_up("r\u{00E9}my@example.com").await;
    let invite = async |email: &str| {
        let data = owner.ok("mutation($org: ID!, $email: String!) { inviteMember(input: {organizationId: $org, email: $email, role: MEMBER}) { invitation { id } } }", json!({ "org": org, "email": email })).await;
        db_id(data["inviteMember"]["invitation"]["id"].as_str().unwrap())
    };
    let jose = invite("jose@example.com").await;
    let ines_nfd = invite("ines@example.com").await;
    let ines_nfc = invite("in\u{00E8}s@example.com").await;

    // What an older build stored: decomposed addresses.
    let config = orgql::config::Config::with_database(&database.url);
    let db = orgql::open_database(&config).await.unwrap();
    let organization_id = db_id(&org);
    db.write(move |tx| {
        Box::pin(async move {
            orgql::domain::members::add(tx, organization_id, zoe, Role::Member)
                .await
                .map(drop)
        })
    })
    .await
    .unwrap();
    for (id, email) in [
        (zoe, "zoe\u{0308}@example.com"),
        (remy_nfd, "re\u{0301}my@example.com"),
    ] {
        on_db!(db, |c| diesel::update(users::table.find(id))
            .set(users::email.eq(email))
            .execute(c));
        on_db!(db, |c| diesel::update(
            memberships::table.filter(memberships::user_id.eq(id))
        )
        .set(memberships::user_email.eq(email))
        .execute(c));
    }
    for (id, email) in [
        (jose, "jose\u{0301}@example.com"),
        (ines_nfd, "ine\u{0300}s@example.com"),
    ] {
        on_db!(db, |c| diesel::update(invitations::table.find(id))
            .set(invitations::email.eq(email))
            .execute(c));
    }
    let log_in = |email: &str| json!({ "input": { "email": email, "password": "long enough" } });
    assert_eq!(
        anonymous
            .error_code(LOG_IN, log_in("zo\u{00EB}@example.com"))
            .await,
        "UNAUTHENTICATED",
        "stored decomposed, the address is not found"
    );

    server.kill();
    server.resume().await;

    let warnings: Vec<Value> = server
        .log()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["level"] == "WARN")
        .map(|line| line["fields"].clone())
        .collect();
    let collisions: Vec<(String, String, String)> = warnings
        .iter()
        .filter(|fields| {
            fields["message"]
                .as_str()
                .unwrap()
                .contains("nothing merged")
        })
        .map(|f| {
            (
                f["table"].as_str().unwrap().to_owned(),
                f["address"].as_str().unwrap().to_owned(),
                f["ids"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        collisions,
        [
            (
                "users".to_owned(),
                "r\u{00E9}my@example.com".to_owned(),
                format!("[{remy_nfd}, {remy_nfc}]")
            ),
            (
                "invitations".to_owned(),
                "in\u{00E8}s@example.com".to_owned(),
                format!("[{ines_nfd}, {ines_nfc}]")
            ),
        ],
        "{warnings:#?}"
    );
    println!("at start: {warnings:#?}");

    // Zoë, alone in her form, is rewritten, her membership's copy too, and
    // logs in by either form; the two Rémys and the two Inès stay as they were.
    for email in ["zo\u{00EB}@example.com", "zoe\u{0308}@example.com"] {
        let data = anonymous.ok(LOG_IN, log_in(email)).await;
        assert_eq!(data["logIn"]["user"]["email"], "zo\u{00EB}@example.com");
    }
    let stored: Vec<(i64, String)> = on_db!(db, |c| users::table
        .filter(users::id.eq_any([zoe, remy_nfd, remy_nfc]))
        .select((users::id, users::email))
        .order(users::id)
        .load(c));
    assert_eq!(
        stored,
        [
            (zoe, "zo\u{00EB}@example.com".to_owned()),
            (remy_nfd, "re\u{0301}my@example.com".to_owned()),
            (remy_nfc, "r\u{00E9}my@example.com".to_owned()),
        ]
    );
    let copy: String = on_db!(db, |c| memberships::table
        .filter(memberships::user_id.eq(zoe))
        .select(memberships::user_email)
        .first(c));
    assert_eq!(copy, "zo\u{00EB}@example.com");
    let pending: Vec<(i64, String, String)> = on_db!(db, |c| invitations::table
        .filter(invitations::id.eq_any([jose, ines_nfd, ines_nfc]))
        .select((invitations::id, invitations::email, invitations::status))
        .order(invitations::id)
        .load(c));
    assert_eq!(
        pending,
        [
            (
                jose,
                "jos\u{00E9}@example.com".to_owned(),
                "PENDING".to_owned()
            ),
            (
                ines_nfd,
                "ine\u{0300}s@example.com".to_owned(),
                "PENDING".to_owned()
            ),
            (
                ines_nfc,
                "in\u{00E8}s@example.com".to_owned(),
                "PENDING".to_owned()
            ),
        ]
    );
}
