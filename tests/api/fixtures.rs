//! Third-party counterparts the suite starts on loopback: Node programs in
//! `tests/fixtures/` (an OpenID provider, a Standard Webhooks receiver).
//! Their npm packages are installed (`npm ci`) the first time a test needs
//! them, and whenever their lock file changed since.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Runs `npm ci` in `dir` unless its node_modules matches its lock file.
fn install(dir: &Path) {
    static INSTALLING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    let lock = std::fs::read(dir.join("package-lock.json")).expect("a package-lock.json");
    let hash: String = Sha256::digest(&lock)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let stamp = dir.join("node_modules/.orgql-lock-sha256");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == hash) {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .status()
        .expect("npm runs (Node.js and npm are needed by these tests)");
    assert!(status.success(), "npm ci failed in {}", dir.display());
    std::fs::write(stamp, hash).unwrap();
}

/// A running fixture program; stopped when dropped.
pub struct NodeFixture {
    child: Child,
    // Held open: the program exits when it closes (--exit-with-stdin).
    _stdin: ChildStdin,
    /// The JSON line it printed when ready.
    pub ready: Value,
}

impl NodeFixture {
    pub fn start(name: &str, args: &[String]) -> NodeFixture {
        let dir = fixture_dir(name);
        install(&dir);
        let mut child = Command::new("node")
            .arg("server.mjs")
            .arg("--exit-with-stdin")
            .args(args)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready = serde_json::from_str(&line)
            .unwrap_or_else(|_| panic!("{name} did not start: {line:?}"));
        NodeFixture {
            child,
            _stdin: stdin,
            ready,
        }
    }

    pub fn port(&self) -> u16 {
        self.ready["port"].as_u64().unwrap() as u16
    }
}

impl Drop for NodeFixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// POSTs `body` to a fixture's control API, which must accept it; its answer.
async fn control(http: &reqwest::Client, url: String, body: Value) -> Value {
    let response = http.post(&url).json(&body).send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{url}: {status} {text}");
    match text.is_empty() {
        true => Value::Null,
        false => serde_json::from_str(&text).unwrap_or_else(|_| panic!("{url}: not JSON: {text}")),
    }
}

/// The OpenID provider (oauth2-mock-server) with its control API.
pub struct OidcProvider {
    fixture: Option<NodeFixture>,
    pub issuer: String,
    port: u16,
    keys_file: PathBuf,
    http: reqwest::Client,
}

impl OidcProvider {
    pub fn start() -> OidcProvider {
        let keys_file = std::env::temp_dir().join(format!(
            "orgql-oidc-keys-{}-{}.json",
            std::process::id(),
            orgql::domain::tokens::new_token()[..8].replace(['-', '_'], "x")
        ));
        let mut provider = OidcProvider {
            fixture: None,
            issuer: String::new(),
            port: 0,
            keys_file,
            http: reqwest::Client::new(),
        };
        provider.resume();
        provider
    }

    /// Stops the provider (its port answers nothing).
    pub fn stop(&mut self) {
        self.fixture = None;
    }

    /// Starts it again on the same port, with the same keys.
    pub fn resume(&mut self) {
        let args = vec![
            "--port".to_owned(),
            self.port.to_string(),
            "--keys".to_owned(),
            self.keys_file.display().to_string(),
        ];
        let fixture = NodeFixture::start("oidc-provider", &args);
        self.port = fixture.port();
        self.issuer = fixture.ready["issuer"].as_str().unwrap().to_owned();
        self.fixture = Some(fixture);
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        control(&self.http, format!("{}/control/{path}", self.issuer), body).await
    }

    /// A token the provider signs: `options` as its control API takes them
    /// (`claims`, `expiresIn`, `alg`, `kid`, `secret`, `header`).
    pub async fn token(&self, options: Value) -> String {
        let token = self.control("token", options).await;
        token["token"].as_str().unwrap().to_owned()
    }

    /// A token for `sub` with these extra claims, otherwise the defaults.
    pub async fn token_for(&self, sub: &str, claims: Value) -> String {
        let mut all = json!({ "sub": sub });
        all.as_object_mut()
            .unwrap()
            .extend(claims.as_object().cloned().unwrap_or_default());
        self.token(json!({ "claims": all })).await
    }

    /// New keys; the old ones are dropped from the key set.
    pub async fn rotate(&self) {
        self.control("rotate", json!({ "keepOld": false })).await;
    }

    /// While down, discovery and the key set answer 503.
    pub async fn outage(&self, down: bool) {
        self.control("outage", json!({ "down": down })).await;
    }

    /// How many times the key set was fetched.
    pub async fn key_set_fetches(&self) -> u64 {
        let stats: Value = self
            .http
            .get(format!("{}/control/stats", self.issuer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        stats["jwksRequests"].as_u64().unwrap()
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.keys_file);
    }
}

/// The Standard Webhooks receiver, which verifies every delivery with the
/// reference verifier (the `standardwebhooks` npm package).
pub struct WebhookReceiver {
    _fixture: NodeFixture,
    pub url: String,
    http: reqwest::Client,
}

impl WebhookReceiver {
    pub fn start() -> WebhookReceiver {
        let fixture = NodeFixture::start("webhook-receiver", &[]);
        let url = fixture.ready["url"].as_str().unwrap().to_owned();
        WebhookReceiver {
            _fixture: fixture,
            url,
            http: reqwest::Client::new(),
        }
    }

    /// Where the endpoint `name` receives.
    pub fn endpoint_url(&self, name: &str) -> String {
        format!("{}/hooks/{name}", self.url)
    }

    /// Configures the endpoint `name`: its secret, and how it answers
    /// (`failFirst`, `failStatus`, `hang`, `hangFirst`, `status`, `delayMs`).
    pub async fn configure(&self, name: &str, secret: &str, behaviour: Value) {
        let mut body = json!({ "name": name, "secret": secret });
        body.as_object_mut()
            .unwrap()
            .extend(behaviour.as_object().cloned().unwrap_or_default());
        control(&self.http, format!("{}/control/endpoints", self.url), body).await;
    }

    /// What the endpoint `name` received, in arrival order.
    pub async fn deliveries(&self, name: &str) -> Vec<Value> {
        let body: Value = self
            .http
            .get(format!("{}/control/deliveries?name={name}", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["deliveries"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until the endpoint `name` has received `count` deliveries.
    pub async fn wait_for(
        &self,
        name: &str,
        count: usize,
        within: std::time::Duration,
    ) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let received = self.deliveries(name).await;
            if received.len() >= count || tokio::time::Instant::now() > deadline {
                return received;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}
