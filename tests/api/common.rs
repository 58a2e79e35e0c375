//! The test harness: a real server on 127.0.0.1:0 over a fresh database
//! (SQLite, or PostgreSQL when TEST_DATABASE_URL is set), and clients that
//! speak to it over HTTP.

use std::net::SocketAddr;
use std::path::PathBuf;

use orgql::Server;
use orgql::config::Config;
use orgql::domain::Role;
use serde_json::{Value, json};

use crate::smtp::{Mailbox, SmtpPort, SmtpServer};

// Shared with the benchmarks, which use parts the tests do not.
#[allow(dead_code)]
#[path = "../support/server_process.rs"]
pub mod server_process;
pub use server_process::ServerProcess;

pub struct TestApp {
    pub server: Server,
    pub url: String,
    /// What the SMTP server received (while it runs).
    pub mailbox: Mailbox,
    smtp_port: Option<SmtpPort>,
    smtp: Option<SmtpServer>,
    more_instances: std::sync::Mutex<Vec<Server>>,
    http: reqwest::Client,
    /// What the server was started with (more instances are started alike).
    config: Config,
    database: ScratchDatabase,
}

/// A database of a test's own, dropped when the test ends: a SQLite file,
/// or, when TEST_DATABASE_URL is set, a PostgreSQL database on that server.
pub struct ScratchDatabase {
    pub url: String,
    kind: TestDatabase,
}

impl ScratchDatabase {
    pub fn new() -> ScratchDatabase {
        let name = unique_name();
        match std::env::var("TEST_DATABASE_URL") {
            Ok(base) if !base.is_empty() => {
                let (server, _) = base
                    .rsplit_once('/')
                    .expect("TEST_DATABASE_URL is postgres://host/db");
                ScratchDatabase {
                    url: format!("{server}/{name}"),
                    kind: TestDatabase::Postgres {
                        maintenance_url: format!("{server}/postgres"),
                        name,
                    },
                }
            }
            _ => {
                let path = std::env::temp_dir().join(format!("{name}.db"));
                ScratchDatabase {
                    url: path.display().to_string(),
                    kind: TestDatabase::Sqlite(path),
                }
            }
        }
    }
}

enum TestDatabase {
    Sqlite(PathBuf),
    /// The server URL of the maintenance database, and the test's own name.
    Postgres {
        maintenance_url: String,
        name: String,
    },
}

fn unique_name() -> String {
    format!(
        "orgql_test_{}_{}",
        std::process::id(),
        orgql::domain::tokens::new_token()[..10]
            .to_lowercase()
            .replace('-', "_")
    )
}

/// The defaults, on a free port, with mail to `smtp_addr`.
fn test_config(database_url: &str, smtp_addr: SocketAddr) -> Config {
    let mut config = Config::with_database(database_url);
    config.bind = "127.0.0.1:0".parse().unwrap();
    config.db_pool_size = Some(8);
    config.smtp_url = Some(format!("smtp://{smtp_addr}"));
    config.mail_retry_max = std::time::Duration::from_secs(1);
    // Tests sign up many accounts from one address; the limit has a test.
    config.auth_rate_limit = 10_000;
    config
}

impl TestApp {
    /// A server whose mail goes to a running SMTP server.
    pub async fn spawn() -> TestApp {
        Self::spawn_configured(|_| {}).await
    }

    /// The same, with settings changed by `configure`.
    pub async fn spawn_configured(configure: impl FnOnce(&mut Config)) -> TestApp {
        let mut app = Self::start(configure).await;
        app.start_smtp().await;
        app
    }

    /// A server whose SMTP server is not up (yet): mail waits in the outbox.
    pub async fn spawn_with_smtp_down() -> TestApp {
        Self::start(|_| {}).await
    }

    async fn start(configure: impl FnOnce(&mut Config)) -> TestApp {
        let smtp_port = SmtpPort::reserve();
        let smtp_addr = smtp_port.addr();
        let database = ScratchDatabase::new();
        let mut config = test_config(&database.url, smtp_addr);
        configure(&mut config);
        let server = Server::start(&config).await.expect("server starts");
        let url = format!("http://{}/graphql", server.addr);
        TestApp {
            server,
            url,
            mailbox: Mailbox::default(),
            smtp_port: Some(smtp_port),
            smtp: None,
            more_instances: Default::default(),
            http: reqwest::Client::new(),
            config,
            database,
        }
    }

    pub async fn start_smtp(&mut self) {
        let port = self.smtp_port.take().expect("the SMTP server starts once");
        self.smtp = Some(SmtpServer::start(port, self.mailbox.clone()).await);
    }

    pub fn anonymous(&self) -> Client {
        Client {
            http: self.http.clone(),
            url: self.url.clone(),
            token: None,
            user_id: None,
        }
    }

    /// Signs up a new account; its name is the email's local part.
    pub async fn sign_up(&self, email: &str) -> Client {
        self.anonymous().sign_up(email).await
    }

    /// Adds members through the domain layer (invitations arrive with their
    /// own issue): `count` users named `{prefix}{n}` with `role`.
    pub async fn add_members(&self, organization_id: &str, prefix: &str, count: usize, role: Role) {
        let id = db_id(organization_id);
        let people: Vec<(String, String, Role)> = (0..count)
            .map(|n| {
                (
                    format!("{prefix}{n:03}@example.com"),
                    format!("{prefix} {n:03}"),
                    role,
                )
            })
            .collect();
        orgql::seed::add_members(&self.server.db, id, &people, "not-a-usable-hash")
            .await
            .expect("members added");
    }

    /// Joins an existing account to an organization through the domain layer.
    pub async fn join(&self, organization_id: &str, client: &Client, role: Role) {
        let organization_id = db_id(organization_id);
        let user_id = db_id(client.user_id.as_deref().unwrap());
        self.server
            .db
            .write(move |tx| {
                Box::pin(async move {
                    orgql::domain::members::add(tx, organization_id, user_id, role)
                        .await
                        .map(drop)
                })
            })
            .await
            .expect("joined");
    }

    /// On PostgreSQL, a second server on the same database (as behind a
    /// load balancer), and its GraphQL URL; None on SQLite.
    pub async fn second_instance_url(&self) -> Option<String> {
        let TestDatabase::Postgres { .. } = &self.database.kind else {
            return None;
        };
        // The same settings, on a port of its own.
        let server = Server::start(&self.config)
            .await
            .expect("a second instance starts");
        let http_url = format!("http://{}/graphql", server.addr);
        self.more_instances.lock().unwrap().push(server);
        Some(http_url)
    }

    pub fn statements(&self) -> u64 {
        self.server.db.statements_executed()
    }

    /// The SQL statements `request` costs, and its result: the fewest of
    /// five runs, since the server's workers (the outboxes, the event
    /// relay) use the same pool meanwhile. `request` must be a read.
    pub async fn statements_of<T>(&self, mut request: impl AsyncFnMut() -> T) -> (u64, T) {
        let mut fewest = u64::MAX;
        let mut result = None;
        for _ in 0..5 {
            let before = self.statements();
            result = Some(request().await);
            fewest = fewest.min(self.statements() - before);
        }
        (fewest, result.expect("ran"))
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        let base = self.url.trim_end_matches("/graphql");
        self.http.get(format!("{base}{path}")).send().await.unwrap()
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        match &self.kind {
            TestDatabase::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            TestDatabase::Postgres {
                maintenance_url,
                name,
            } => {
                let (url, name) = (maintenance_url.clone(), name.clone());
                // Drop cannot await: drop the database from a runtime of its own.
                std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    runtime.block_on(async {
                        use diesel_async::{
                            AsyncConnection, AsyncPgConnection, SimpleAsyncConnection,
                        };
                        let mut conn = AsyncPgConnection::establish(&url)
                            .await
                            .expect("maintenance connection");
                        conn.batch_execute(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await
                        .unwrap();
                    });
                })
                .join()
                .unwrap();
            }
        }
    }
}

/// An owner and Ada, a member, in one organization "Acme": the two clients,
/// the organization's ID and Ada's member ID.
pub async fn owner_and_ada(app: &TestApp) -> (Client, Client, String, String) {
    let owner = app.sign_up("owner@example.com").await;
    let org = owner.create_org("Acme").await;
    let ada = app.sign_up("ada@example.com").await;
    app.join(&org, &ada, Role::Member).await;
    let ada_member = owner.member_id(&org, &ada).await;
    (owner, ada, org, ada_member)
}

/// The database id inside a global ID ("Type:id", base64url).
pub fn db_id(global: &str) -> i64 {
    use base64::Engine;
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(global)
        .unwrap();
    String::from_utf8(text)
        .unwrap()
        .split_once(':')
        .unwrap()
        .1
        .parse()
        .unwrap()
}

/// A GraphQL client, signed in or not.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    url: String,
    pub token: Option<String>,
    pub user_id: Option<String>,
}

impl Client {
    /// An anonymous client of the server whose GraphQL URL is `url`.
    pub fn anonymous_at(url: &str) -> Client {
        Client {
            http: reqwest::Client::new(),
            url: url.to_owned(),
            token: None,
            user_id: None,
        }
    }

    /// A new account's client at the same endpoint (password `password123`,
    /// named after the address's local part).
    pub async fn sign_up(&self, email: &str) -> Client {
        let name = email.split('@').next().unwrap();
        let data = self
            .ok(
                "mutation($input: SignUpInput!) { signUp(input: $input) { token user { id } } }",
                json!({ "input": { "email": email, "name": name, "password": "password123" } }),
            )
            .await;
        let token = data["signUp"]["token"].as_str().unwrap().to_owned();
        let user_id = data["signUp"]["user"]["id"].as_str().unwrap().to_owned();
        Client {
            token: Some(token),
            user_id: Some(user_id),
            ..self.clone()
        }
    }

    /// The same endpoint with another bearer token.
    pub fn with_token(&self, token: &str) -> Client {
        Client {
            token: Some(token.to_owned()),
            user_id: None,
            ..self.clone()
        }
    }

    /// The same client, talking to another instance's GraphQL URL.
    pub fn at(&self, url: &str) -> Client {
        Client {
            url: url.to_owned(),
            ..self.clone()
        }
    }

    /// The whole response body: data and errors.
    pub async fn query(&self, query: &str, variables: Value) -> Value {
        let mut request = self
            .http
            .post(&self.url)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        response.json().await.unwrap()
    }

    /// A GraphQL multipart request (the upload spec) with one file at
    /// `variables.input.file`: the status and the body.
    pub async fn upload(&self, query: &str, mut variables: Value, file: Vec<u8>) -> (u16, Value) {
        variables["input"]["file"] = Value::Null;
        let operations = json!({ "query": query, "variables": variables }).to_string();
        let form = reqwest::multipart::Form::new()
            .text("operations", operations)
            .text("map", r#"{"0": ["variables.input.file"]}"#)
            .part(
                "0",
                reqwest::multipart::Part::bytes(file)
                    .file_name("people.csv")
                    .mime_str("text/csv")
                    .unwrap(),
            );
        let mut request = self
            .http
            .post(&self.url)
            .multipart(form)
            .header("GraphQL-Preflight", "1");
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// The data of a query that must succeed.
    pub async fn ok(&self, query: &str, variables: Value) -> Value {
        let body = self.query(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// The `extensions.code` of the first error of a query that must fail.
    pub async fn error_code(&self, query: &str, variables: Value) -> String {
        let body = self.query(query, variables).await;
        body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error: {body:#}"))
            .to_owned()
    }

    /// Logs in again as the same user: a second session.
    pub async fn new_session(&self, app: &TestApp) -> Client {
        let data = self.ok("{ viewer { user { email } } }", json!({})).await;
        let email = data["viewer"]["user"]["email"].as_str().unwrap().to_owned();
        let data = app
            .anonymous()
            .ok(
                "mutation($input: LogInInput!) { logIn(input: $input) { token } }",
                json!({ "input": { "email": email, "password": "password123" } }),
            )
            .await;
        Client {
            token: Some(data["logIn"]["token"].as_str().unwrap().to_owned()),
            ..self.clone()
        }
    }

    /// Proves the account's address by the link of the verification mail
    /// its sign-up got, as its owner would.
    pub async fn prove_address(&self, app: &TestApp) {
        let data = self.ok("{ viewer { user { email } } }", json!({})).await;
        let email = data["viewer"]["user"]["email"].as_str().unwrap().to_owned();
        let token = app.mailbox.verifications().last_to(&email).await.token();
        let verified = app
            .anonymous()
            .ok(
                "mutation($t: String!) { verifyEmail(input: {token: $t}) { emailVerified } }",
                json!({ "t": token }),
            )
            .await;
        assert_eq!(verified["verifyEmail"]["emailVerified"], true);
    }

    /// The member ID of `who` in the organization, as this client sees it.
    pub async fn member_id(&self, organization_id: &str, who: &Client) -> String {
        let data = self
            .ok(
                "query($org: ID!, $user: ID!) { organization(id: $org) { member(userId: $user) { id } } }",
                json!({ "org": organization_id, "user": who.user_id }),
            )
            .await;
        data["organization"]["member"]["id"]
            .as_str()
            .expect("a member")
            .to_owned()
    }

    /// Creates an organization and returns its global ID.
    pub async fn create_org(&self, name: &str) -> String {
        let data = self
            .ok(
                "mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { organization { id } } }",
                json!({ "input": { "name": name } }),
            )
            .await;
        data["createOrganization"]["organization"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}
