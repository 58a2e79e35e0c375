//! Every setting, from a flag or its environment variable, with its
//! default: plain values, which `lib.rs` turns into each layer's settings.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::db::{DatabaseUrl, SetupError};

#[derive(Debug, Parser)]
#[command(
    name = "orgql",
    version,
    about = "GraphQL API server for organization membership"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL) and exit.
    PrintSchema,
    /// Create an organization with N members (for demos and benchmarks) and print it as JSON.
    Seed {
        /// Members, the owner included.
        #[arg(long)]
        members: usize,
        #[arg(long, default_value = "Seeded Organization")]
        name: String,
        /// Derived from the name when not given.
        #[arg(long)]
        slug: Option<String>,
    },
}

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(
        long = "bind",
        env = "BIND_ADDR",
        default_value = "127.0.0.1:8000",
        global = true
    )]
    pub bind: SocketAddr,

    /// sqlite://PATH or a file path (created on first run), postgres://… or postgresql://…
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "data/orgql.db",
        global = true
    )]
    pub database_url: String,

    /// Database connections in the pool [default: 4 per CPU core, at least 8].
    #[arg(long, env = "DB_POOL_SIZE", global = true)]
    pub db_pool_size: Option<usize>,

    /// SMTP server for outgoing mail (smtp://user:pass@host:port or smtps://…); unset: mail is written to --mail-dir.
    #[arg(long, env = "SMTP_URL", global = true)]
    pub smtp_url: Option<String>,

    /// Folder for .eml files when no SMTP server is configured.
    #[arg(long, env = "MAIL_DIR", default_value = "data/mail", global = true)]
    pub mail_dir: PathBuf,

    /// Sender of outgoing mail.
    #[arg(
        long,
        env = "MAIL_FROM",
        default_value = "orgql <noreply@localhost>",
        global = true
    )]
    pub mail_from: String,

    /// Public URL of the web app that mails link to: {APP_URL}/invitations/accept?token=TOKEN, {APP_URL}/verify-email?token=TOKEN, {APP_URL}/reset-password?token=TOKEN.
    #[arg(
        long,
        env = "APP_URL",
        default_value = "http://127.0.0.1:8000",
        global = true
    )]
    pub app_url: String,

    /// How long an invitation stays valid (e.g. 7d, 48h).
    #[arg(long, env = "INVITATION_TTL", default_value = "7d", value_parser = humantime::parse_duration, global = true)]
    pub invitation_ttl: Duration,

    /// How long the link of an email verification mail works (e.g. 24h).
    #[arg(long, env = "EMAIL_VERIFICATION_TTL", default_value = "24h", value_parser = humantime::parse_duration, global = true)]
    pub email_verification_ttl: Duration,

    /// How long the link of a password reset mail works (e.g. 1h).
    #[arg(long, env = "PASSWORD_RESET_TTL", default_value = "1h", value_parser = humantime::parse_duration, global = true)]
    pub password_reset_ttl: Duration,

    /// How long live events are kept for subscriptions to resume from (`after`); an older cursor must refetch.
    #[arg(long, env = "EVENT_RETENTION", default_value = "24h", value_parser = humantime::parse_duration, global = true)]
    pub event_retention: Duration,

    /// How long a WebSocket client has to send connection_init.
    #[arg(long, env = "WS_INIT_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration, global = true)]
    pub ws_init_timeout: Duration,

    /// Longest wait between two delivery attempts of a message while the SMTP server is down (e.g. 5m).
    #[arg(long, env = "MAIL_RETRY_MAX", default_value = "5m", value_parser = humantime::parse_duration, global = true)]
    pub mail_retry_max: Duration,

    /// The product's OpenID Connect provider (issuer URL; https, or http on a loopback address): its JWTs are accepted as bearer tokens.
    #[arg(long, env = "OIDC_ISSUER", global = true)]
    pub oidc_issuer: Option<String>,

    /// The audience the provider's tokens must name (their `aud`); required with --oidc-issuer.
    #[arg(long, env = "OIDC_AUDIENCE", global = true)]
    pub oidc_audience: Option<String>,

    /// Offer orgql's own password accounts (signUp, logIn); false when people sign in only at the identity provider.
    #[arg(long, env = "PASSWORD_ACCOUNTS", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub password_accounts: bool,

    /// Let webhook endpoints be plain http and on special-use addresses: loopback, private, link-local, ... (development and tests only).
    #[arg(long, env = "WEBHOOK_ALLOW_PRIVATE_NETWORKS", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub webhook_allow_private_networks: bool,

    /// How long delivered and failed webhook deliveries are kept (e.g. 7d).
    #[arg(long, env = "WEBHOOK_RETENTION", default_value = "7d", value_parser = humantime::parse_duration, global = true)]
    pub webhook_retention: Duration,

    /// Serve introspection (`__schema`, `__type`) and "did you mean" hints; turn off in production.
    #[arg(long, env = "INTROSPECTION", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub introspection: bool,

    /// Largest query text in bytes.
    #[arg(long, env = "MAX_QUERY_BYTES", default_value_t = 32 * 1024, global = true)]
    pub max_query_bytes: usize,

    /// Deepest field nesting of a query.
    #[arg(long, env = "MAX_QUERY_DEPTH", default_value_t = 10, global = true)]
    pub max_query_depth: usize,

    /// Highest query complexity: 1 per field, a connection its page size times its nodes' fields.
    #[arg(
        long,
        env = "MAX_QUERY_COMPLEXITY",
        default_value_t = 10_000,
        global = true
    )]
    pub max_query_complexity: usize,

    /// Most aliases in one query document.
    #[arg(long, env = "MAX_QUERY_ALIASES", default_value_t = 30, global = true)]
    pub max_query_aliases: usize,

    /// Most root fields in one operation.
    #[arg(long, env = "MAX_ROOT_FIELDS", default_value_t = 20, global = true)]
    pub max_root_fields: usize,

    /// Origins allowed to call the API from a browser (comma-separated, e.g. https://app.example.com); unset: no CORS headers.
    #[arg(long, env = "CORS_ORIGINS", value_delimiter = ',', global = true)]
    pub cors_origins: Vec<String>,

    /// Header that carries the client's address when a proxy forwards every request (e.g. X-Forwarded-For); unset: the connection's address.
    #[arg(long, env = "CLIENT_IP_HEADER", global = true)]
    pub client_ip_header: Option<String>,

    /// Attempts per minute from one IP address at logIn, signUp and the invitation-token operations (generous: many people may share an address).
    #[arg(long, env = "AUTH_RATE_LIMIT", default_value_t = 600, value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub auth_rate_limit: u32,

    /// After its failed log-ins (10 from anywhere, 5 from one address), an account forgets one per this long (e.g. 1m).
    #[arg(long, env = "LOGIN_COOLDOWN", default_value = "1m", value_parser = humantime::parse_duration, global = true)]
    pub login_cooldown: Duration,

    /// Longest time an HTTP request may take, from its head's arrival to the response (the head has --header-read-timeout).
    #[arg(long, env = "REQUEST_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration, global = true)]
    pub request_timeout: Duration,

    /// How long a new connection has to send its first request head (request line and headers); then it is closed.
    #[arg(long, env = "HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration, global = true)]
    pub header_read_timeout: Duration,

    /// How long a kept-alive connection may wait for its next request, that request's head included; then it is closed. An open WebSocket is never idle.
    #[arg(long, env = "IDLE_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration, global = true)]
    pub idle_timeout: Duration,

    /// Most connections open at once, WebSocket ones included; more wait to be accepted until one closes.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 25_000, value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub max_connections: u32,

    /// Most WebSocket connections open at once.
    #[arg(
        long,
        env = "MAX_WS_CONNECTIONS",
        default_value_t = 20_000,
        global = true
    )]
    pub max_ws_connections: usize,

    /// Most subscriptions running on one WebSocket connection.
    #[arg(
        long,
        env = "MAX_SUBSCRIPTIONS_PER_CONNECTION",
        default_value_t = 100,
        global = true
    )]
    pub max_subscriptions_per_connection: usize,

    /// How long a shutdown waits for in-flight requests before it closes them.
    #[arg(long, env = "SHUTDOWN_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration, global = true)]
    pub shutdown_timeout: Duration,

    /// Log lines as human-readable text or as JSON objects.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// Settings with every default, for tests and tools.
    pub fn with_database(database_url: &str) -> Config {
        let mut config = Cli::parse_from(["orgql"]).config;
        config.database_url = database_url.to_owned();
        config
    }

    pub fn database(&self) -> Result<DatabaseUrl, SetupError> {
        self.database_url.parse()
    }

    pub fn pool_size(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        self.db_pool_size.unwrap_or((cores * 4).max(8))
    }
}
