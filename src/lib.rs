//! orgql: a GraphQL API server for organization membership.
//!
//! The layers, each importing only those below it (docs/architecture.md
//! walks a request through them):
//!
//! ```text
//! transport (HTTP, WebSocket, the accept loop)
//!   │   └─ principal: bearer -> principal, asking the domain and oidc directly
//!   ▼
//! graphql (schema, resolvers, loaders, limits)
//!   ▼
//! events · mail · webhooks · worker · oidc   (the bus, the senders and their loop, the provider's keys)
//!   ▼
//! domain (every rule, transaction and access decision; recorder, lease queues)
//!   ▼
//! db (pool, both backends, migrations, notify on commit)
//! ```
//!
//! Leaves beside them: `config`, `ids`, `metrics`. The mail and webhook
//! workers run their queues (`domain::lease_queue`) with one loop,
//! [`worker`]. This file wires the layers together: it turns the
//! configuration into each layer's settings, starts the event bus and the
//! workers, and serves. The binary (`src/main.rs`) is a thin CLI over
//! [`Server`]; the tests start the same server in-process.

pub mod config;
pub mod credit_expiry;
pub mod db;
pub mod domain;
pub mod events;
pub mod graphql;
pub mod ids;
pub mod mail;
pub mod metrics;
pub mod oidc;
pub mod seed;
pub mod transport;
pub mod webhooks;
pub mod worker;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::db::{Db, SetupError};
use crate::domain::accounts::AccountSettings;
use crate::domain::attempts::Attempts;
use crate::domain::invitations::InvitationSettings;
use crate::domain::webhooks::WebhookSettings;
use crate::events::EventBus;
use crate::graphql::QueryLimits;

/// Why the server could not start; the message names the setting to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Database(#[from] SetupError),
    #[error(transparent)]
    Mail(#[from] mail::MailSetupError),
    #[error("--cors-origins / CORS_ORIGINS: {0:?} is not an origin (scheme://host[:port], or *)")]
    CorsOrigin(String),
    #[error("--client-ip-header / CLIENT_IP_HEADER: {0:?} is not a header name")]
    ClientIpHeader(String),
    #[error(transparent)]
    IdentityProvider(#[from] oidc::SettingsError),
    #[error("--bind / BIND_ADDR: cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Opens the database named by the configuration and applies migrations.
pub async fn open_database(config: &Config) -> Result<Db, SetupError> {
    Db::connect(&config.database()?, config.pool_size()).await
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub db: Db,
    pub outbox: worker::Handle,
    shutdown: watch::Sender<bool>,
    shutdown_timeout: Duration,
    /// One permit per WebSocket connection: all back means all closed.
    websockets: Arc<Semaphore>,
    max_websockets: u32,
    task: JoinHandle<()>,
    outbox_task: Option<JoinHandle<()>>,
    webhooks: worker::Handle,
    webhook_task: Option<JoinHandle<()>>,
    hold_expiry: worker::Handle,
    hold_expiry_task: Option<JoinHandle<()>>,
    /// The event relay, its PostgreSQL listener and the event pruner.
    event_tasks: Vec<JoinHandle<()>>,
}

/// The settings that can be wrong, read before anything is opened, so a
/// bad one stops the start with a message that names it.
struct Settings {
    cors: Option<tower_http::cors::CorsLayer>,
    client_ip_header: Option<axum::http::HeaderName>,
    provider: Option<oidc::ProviderSettings>,
    mail: mail::Transport,
    mail_from: lettre::message::Mailbox,
    database: db::DatabaseUrl,
}

impl Settings {
    fn read(config: &Config) -> Result<Settings, StartError> {
        let client_ip_header = match &config.client_ip_header {
            Some(name) => Some(
                axum::http::HeaderName::try_from(name.as_str())
                    .map_err(|_| StartError::ClientIpHeader(name.clone()))?,
            ),
            None => None,
        };
        Ok(Settings {
            cors: transport::cors_layer(&config.cors_origins).map_err(StartError::CorsOrigin)?,
            client_ip_header,
            provider: oidc::settings(
                config.oidc_issuer.as_deref(),
                config.oidc_audience.as_deref(),
            )?,
            mail: mail::Transport::new(config.smtp_url.as_deref(), &config.mail_dir)?,
            mail_from: mail::parse_from(&config.mail_from)?,
            database: config.database()?,
        })
    }
}

/// The database, migrated and tidied, with the event bus over it.
struct Data {
    db: Db,
    bus: EventBus,
    /// The event relay, its PostgreSQL listener and the event pruner.
    event_tasks: Vec<JoinHandle<()>>,
}

impl Data {
    async fn open(config: &Config, database: &db::DatabaseUrl) -> Result<Data, StartError> {
        let db = Db::connect(database, config.pool_size()).await?;
        // Housekeeping, not a precondition: a failure (a sign-up racing it on
        // another instance) leaves the rows for the next start.
        if let Err(error) = domain::stored_addresses::put_in_normal_form(&db).await {
            tracing::error!(?error, "stored addresses could not be put in normal form");
        }
        let unreachable = |reason| SetupError::Unreachable {
            url: database.redacted(),
            reason,
        };
        let (bus, relay) = EventBus::start(db.clone()).await.map_err(unreachable)?;
        db.deliver_local_notifications(bus.local_notifications());
        let mut event_tasks = vec![
            relay,
            events::prune_periodically(db.clone(), config.event_retention),
        ];
        if let db::DatabaseUrl::Postgres(url) = database {
            let listener = events::listen(url.clone(), bus.clone()).await;
            event_tasks.push(listener.map_err(unreachable)?);
        }
        Ok(Data {
            db,
            bus,
            event_tasks,
        })
    }
}

/// The mail and webhook workers, running.
struct Workers {
    outbox: (worker::Handle, JoinHandle<()>),
    webhooks: (worker::Handle, JoinHandle<()>),
    hold_expiry: (worker::Handle, JoinHandle<()>),
}

impl Workers {
    /// `instance` names the claims they take: the same name after a restart
    /// (the host and port), so a restarted instance takes its claims back.
    fn start(
        config: &Config,
        mail: mail::Transport,
        from: lettre::message::Mailbox,
        db: &Db,
        metrics: &Arc<metrics::Metrics>,
        instance: String,
    ) -> Workers {
        let outbox = mail::OutboxWorker {
            db: db.clone(),
            transport: mail,
            from,
            retry_max: config.mail_retry_max,
            metrics: metrics.clone(),
            instance: instance.clone(),
        }
        .spawn();
        let webhooks = webhooks::WebhookWorker {
            db: db.clone(),
            settings: webhook_settings(config),
            retention: config.webhook_retention,
            metrics: metrics.clone(),
            instance,
        }
        .spawn();
        let hold_expiry = credit_expiry::HoldExpiry { db: db.clone() }.spawn();
        Workers {
            outbox,
            webhooks,
            hold_expiry,
        }
    }
}

impl Server {
    /// Opens the database and starts serving on `config.bind`.
    pub async fn start(config: &Config) -> Result<Server, StartError> {
        let settings = Settings::read(config)?;
        let Data {
            db,
            bus,
            event_tasks,
        } = Data::open(config, &settings.database).await?;
        let bind_error = |source| StartError::Bind {
            addr: config.bind,
            source,
        };
        let listener = TcpListener::bind(config.bind).await.map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let metrics = Arc::new(metrics::Metrics::default());
        let host = hostname::get()
            .map_or_else(|_| "localhost".into(), |h| h.to_string_lossy().into_owned());
        let instance = format!("{host}:{}", addr.port());
        let workers = Workers::start(
            config,
            settings.mail,
            settings.mail_from,
            &db,
            &metrics,
            instance,
        );

        let max_websockets = u32::try_from(config.max_ws_connections)
            .unwrap_or(u32::MAX)
            .min(Semaphore::MAX_PERMITS as u32);
        let websockets = Arc::new(Semaphore::new(max_websockets as usize));
        let (shutdown, shutting_down) = watch::channel(false);
        let attempts = NonZeroU32::new(config.auth_rate_limit).unwrap_or(NonZeroU32::MIN);
        let provider = settings.provider;
        let state = transport::AppState {
            services: Arc::new(graphql::Services {
                db: db.clone(),
                events: bus,
                accounts: AccountSettings {
                    password_accounts: config.password_accounts,
                },
                provider_issuer: provider.as_ref().map(|p| p.issuer.clone()),
                invitations: invitation_settings(config),
                webhooks: webhook_settings(config),
                renders: Default::default(),
                documents: Default::default(),
                attempts: Attempts::new(attempts, config.login_cooldown),
            }),
            provider: provider.map(|settings| Arc::new(oidc::Provider::start(settings))),
            schema: graphql::build_schema(config.introspection),
            limits: query_limits(config),
            client_ip_header: settings.client_ip_header,
            metrics: metrics.clone(),
            websockets: transport::WebSocketSettings {
                init_timeout: config.ws_init_timeout,
                max_subscriptions: config.max_subscriptions_per_connection,
                connections: websockets.clone(),
                shutdown: shutting_down.clone(),
            },
        };
        let app = transport::router(state, config.request_timeout, settings.cors);
        let limits = transport::ConnectionLimits {
            header_read_timeout: config.header_read_timeout,
            idle_timeout: config.idle_timeout,
            max_connections: config.max_connections,
        };
        let task = tokio::spawn(transport::serve(
            listener,
            app,
            limits,
            metrics,
            shutting_down,
        ));
        let Workers {
            outbox: (outbox, outbox_task),
            webhooks: (webhooks, webhook_task),
            hold_expiry: (hold_expiry, hold_expiry_task),
        } = workers;
        Ok(Server {
            addr,
            db,
            outbox,
            outbox_task: Some(outbox_task),
            webhooks,
            webhook_task: Some(webhook_task),
            hold_expiry,
            hold_expiry_task: Some(hold_expiry_task),
            event_tasks,
            shutdown,
            shutdown_timeout: config.shutdown_timeout,
            websockets,
            max_websockets,
            task,
        })
    }

    /// Serves until the process is told to stop (Ctrl-C or SIGTERM).
    pub async fn run_until_signal(mut self) -> std::io::Result<()> {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.stop().await
    }

    /// Stops accepting, closes WebSocket connections with a close frame,
    /// lets in-flight requests finish within the shutdown timeout, lets the
    /// outbox worker finish the message it is sending, and returns.
    pub async fn stop(&mut self) -> std::io::Result<()> {
        self.shutdown.send_replace(true);
        let deadline = tokio::time::Instant::now() + self.shutdown_timeout;
        match tokio::time::timeout_at(deadline, &mut self.task).await {
            Ok(served) => served.map_err(std::io::Error::other)?,
            Err(_) => {
                tracing::warn!("requests still running after the shutdown timeout are cut off");
                self.task.abort();
            }
        }
        let closed = self.websockets.acquire_many(self.max_websockets);
        if tokio::time::timeout_at(deadline, closed).await.is_err() {
            tracing::warn!("WebSocket connections still open after the shutdown timeout");
        }
        // The workers finish what they are sending, never half of it.
        self.outbox.stop();
        self.webhooks.stop();
        self.hold_expiry.stop();
        for worker in [
            self.outbox_task.take(),
            self.webhook_task.take(),
            self.hold_expiry_task.take(),
        ]
        .into_iter()
        .flatten()
        {
            let _ = worker.await;
        }
        for task in self.event_tasks.drain(..) {
            task.abort();
        }
        Ok(())
    }
}

fn webhook_settings(config: &Config) -> WebhookSettings {
    WebhookSettings {
        allow_private_networks: config.webhook_allow_private_networks,
    }
}

fn invitation_settings(config: &Config) -> InvitationSettings {
    InvitationSettings {
        app_url: config.app_url.trim_end_matches('/').to_owned(),
        ttl: chrono::Duration::from_std(config.invitation_ttl).unwrap_or(chrono::Duration::days(7)),
    }
}

fn query_limits(config: &Config) -> QueryLimits {
    QueryLimits {
        max_query_bytes: config.max_query_bytes,
        max_depth: config.max_query_depth,
        max_complexity: config.max_query_complexity,
        max_aliases: config.max_query_aliases,
        max_root_fields: config.max_root_fields,
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("SIGTERM handler installs");
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
