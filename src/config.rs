//! Every setting, from a flag or its environment variable, with its default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::db::{DatabaseUrl, SetupError};
use crate::domain::invitations::InvitationSettings;

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

    /// Public URL of the web app; invitation links are {APP_URL}/invitations/accept?token=TOKEN.
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

    /// How long a WebSocket client has to send connection_init.
    #[arg(long, env = "WS_INIT_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration, global = true)]
    pub ws_init_timeout: Duration,

    /// Longest wait between two delivery attempts of a message while the SMTP server is down (e.g. 5m).
    #[arg(long, env = "MAIL_RETRY_MAX", default_value = "5m", value_parser = humantime::parse_duration, global = true)]
    pub mail_retry_max: Duration,
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

    pub fn invitation_settings(&self) -> InvitationSettings {
        InvitationSettings {
            app_url: self.app_url.trim_end_matches('/').to_owned(),
            ttl: chrono::Duration::from_std(self.invitation_ttl)
                .unwrap_or(chrono::Duration::days(7)),
        }
    }

    pub fn pool_size(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        self.db_pool_size.unwrap_or((cores * 4).max(8))
    }
}
