//! The database: one pool over SQLite or PostgreSQL, chosen at run time from
//! the URL, one query code path for both (see [`with_conn!`]), and a neutral
//! "notify on commit" ([`notify`]). It imports nothing from the layers above:
//! units of work return any error that a [`DbError`] converts into.

mod notify;
pub mod outage;
pub mod schema;
mod url;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::{ConnectionError, SqliteConnection};
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection, TransactionManager};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::watch;

use notify::Wakes;
pub use notify::{LocalNotifications, NOTIFY_CHANNEL, Staged, notify, wake_on_commit};
pub use url::DatabaseUrl;

pub type SqliteConn = SyncConnectionWrapper<SqliteConnection>;

const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Per-connection settings for a server: WAL lets readers run beside the one
/// writer, busy_timeout makes writers queue instead of failing with
/// SQLITE_BUSY, and NORMAL sync is durable in WAL mode except on power loss.
const SQLITE_SETUP: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 15000;";

/// A connection borrowed from the pool, of either backend. Inside a write
/// transaction it carries what the transaction staged for its commit (see
/// [`notify`]).
pub enum Conn<'a> {
    Postgres(&'a mut AsyncPgConnection, Option<&'a mut Staged>),
    Sqlite(&'a mut SqliteConn, Option<&'a mut Staged>),
}

/// What the database layer itself can fail with; the layers above turn it
/// into their own error type.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    /// No connection could be had: the database is out of reach.
    #[error("database pool: {0}")]
    Pool(String),
    #[error("transaction task: {0}")]
    Task(String),
    #[error("a notification or a wake was staged outside a write transaction")]
    StagedOutsideTransaction,
}

/// Runs `$body` with `$c` bound to the concrete connection of each backend.
/// The body is type-checked once per backend, so a query one backend cannot
/// run fails to compile instead of failing at run time.
macro_rules! with_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match &mut *$conn {
            $crate::db::Conn::Postgres($c, _) => {
                let $c = &mut **$c;
                $body
            }
            $crate::db::Conn::Sqlite($c, _) => {
                let $c = &mut **$c;
                $body
            }
        }
    };
}
pub(crate) use with_conn;

/// Inserts owned rows in one multi-row statement on either backend, as
/// `get_results` with `returning $columns`, or `execute` without.
/// diesel-async cannot batch-insert on SQLite; the sync connection inside
/// the wrapper can, so that arm runs there.
macro_rules! insert_all {
    ($conn:expr, $table:expr, $rows:expr, returning $columns:expr) => {
        match &mut *$conn {
            $crate::db::Conn::Postgres(c, _) => {
                diesel_async::RunQueryDsl::get_results(
                    diesel::insert_into($table)
                        .values($rows)
                        .returning($columns),
                    &mut **c,
                )
                .await
            }
            $crate::db::Conn::Sqlite(c, _) => {
                let rows = $rows;
                c.spawn_blocking(move |c| {
                    diesel::RunQueryDsl::get_results(
                        diesel::insert_into($table).values(rows).returning($columns),
                        c,
                    )
                })
                .await
            }
        }
    };
    ($conn:expr, $table:expr, $rows:expr) => {
        match &mut *$conn {
            $crate::db::Conn::Postgres(c, _) => {
                diesel_async::RunQueryDsl::execute(
                    diesel::insert_into($table).values($rows),
                    &mut **c,
                )
                .await
            }
            $crate::db::Conn::Sqlite(c, _) => {
                let rows = $rows;
                c.spawn_blocking(move |c| {
                    diesel::RunQueryDsl::execute(diesel::insert_into($table).values(rows), c)
                })
                .await
            }
        }
    };
}
pub(crate) use insert_all;

// Lives for one unit of work, on the stack of the task that runs it.
#[allow(clippy::large_enum_variant)]
enum Pooled {
    Postgres(Object<AsyncPgConnection>),
    Sqlite(Object<SqliteConn>),
}

impl Pooled {
    fn conn(&mut self) -> Conn<'_> {
        match self {
            Pooled::Postgres(c) => Conn::Postgres(c, None),
            Pooled::Sqlite(c) => Conn::Sqlite(c, None),
        }
    }
}

#[derive(Clone)]
enum Pools {
    Postgres(Pool<AsyncPgConnection>),
    Sqlite(Pool<SqliteConn>),
}

/// The body of a database unit of work: borrows the connection for as long
/// as the returned future runs.
pub trait Work<T, E>:
    for<'c, 'd> FnOnce(&'c mut Conn<'d>) -> BoxFuture<'c, Result<T, E>> + Send + 'static
{
}
impl<T, E, F> Work<T, E> for F where
    F: for<'c, 'd> FnOnce(&'c mut Conn<'d>) -> BoxFuture<'c, Result<T, E>> + Send + 'static
{
}

/// A unit of work as a value, for code that stores or chooses one at run time.
pub type BoxedWork<T, E> =
    Box<dyn for<'c, 'd> FnOnce(&'c mut Conn<'d>) -> BoxFuture<'c, Result<T, E>> + Send + 'static>;

pub fn boxed_work<T, E>(work: impl Work<T, E>) -> BoxedWork<T, E> {
    Box::new(work)
}

/// Why the database could not be set up; the message names the setting.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(
        "--database-url / DATABASE_URL: {0:?} is not supported (use sqlite://PATH, a file path, postgres:// or postgresql://)"
    )]
    UnsupportedUrl(String),
    #[error("--database-url / DATABASE_URL: cannot open {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("--database-url / DATABASE_URL: migrating {url} failed: {reason}")]
    Migration { url: String, reason: String },
}

#[derive(Debug, Clone, Copy)]
pub struct PoolStatus {
    pub size: usize,
    pub available: usize,
    pub waiting: usize,
}

/// The database handle shared by the whole server: a pool, a counter of the
/// SQL statements it has run (tests read it to prove N+1-free queries),
/// where SQLite's committed notifications go, and the workers' wakes.
#[derive(Clone)]
pub struct Db {
    pools: Pools,
    statements: Arc<AtomicU64>,
    local_notifications: Arc<OnceLock<LocalNotifications>>,
    wakes: Arc<Wakes>,
}

impl Db {
    /// Opens the database, creating it (and a SQLite file's folder) if it
    /// does not exist, and applies pending migrations.
    pub async fn connect(url: &DatabaseUrl, pool_size: usize) -> Result<Db, SetupError> {
        let statements = Arc::new(AtomicU64::new(0));
        let pool_error =
            |e: diesel_async::pooled_connection::deadpool::BuildError| SetupError::Unreachable {
                url: url.redacted(),
                reason: e.to_string(),
            };
        let pools = match url {
            DatabaseUrl::Postgres(pg) => {
                url::create_postgres_database_if_missing(pg)
                    .await
                    .map_err(|reason| SetupError::Unreachable {
                        url: url.redacted(),
                        reason,
                    })?;
                let config = manager_config::<AsyncPgConnection>(&statements, None);
                let manager = AsyncDieselConnectionManager::new_with_config(pg, config);
                Pools::Postgres(
                    Pool::builder(manager)
                        .max_size(pool_size)
                        .build()
                        .map_err(pool_error)?,
                )
            }
            DatabaseUrl::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| SetupError::Unreachable {
                        url: url.redacted(),
                        reason: format!("cannot create {}: {e}", dir.display()),
                    })?;
                }
                let config = manager_config::<SqliteConn>(&statements, Some(SQLITE_SETUP));
                let manager =
                    AsyncDieselConnectionManager::new_with_config(path.to_string_lossy(), config);
                Pools::Sqlite(
                    Pool::builder(manager)
                        .max_size(pool_size)
                        .build()
                        .map_err(pool_error)?,
                )
            }
        };
        let db = Db {
            pools,
            statements,
            local_notifications: Arc::default(),
            wakes: Arc::default(),
        };
        db.migrate().await.map_err(|reason| SetupError::Migration {
            url: url.redacted(),
            reason,
        })?;
        Ok(db)
    }

    async fn migrate(&self) -> Result<(), String> {
        // The harness drives the async connection from blocking code.
        let run = |pooled: Pooled| {
            tokio::task::spawn_blocking(move || match pooled {
                Pooled::Postgres(c) => {
                    let conn = Object::take(c);
                    diesel_async::AsyncMigrationHarness::new(conn)
                        .run_pending_migrations(POSTGRES_MIGRATIONS)
                        .map(drop)
                }
                Pooled::Sqlite(c) => {
                    let conn = Object::take(c);
                    diesel_async::AsyncMigrationHarness::new(conn)
                        .run_pending_migrations(SQLITE_MIGRATIONS)
                        .map(drop)
                }
            })
        };
        let pooled = self.pooled().await.map_err(|e| e.to_string())?;
        run(pooled)
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    }

    async fn pooled(&self) -> Result<Pooled, DbError> {
        let unavailable =
            |e: diesel_async::pooled_connection::deadpool::PoolError| DbError::Pool(e.to_string());
        Ok(match &self.pools {
            Pools::Postgres(p) => Pooled::Postgres(p.get().await.map_err(unavailable)?),
            Pools::Sqlite(p) => Pooled::Sqlite(p.get().await.map_err(unavailable)?),
        })
    }

    /// Where the notifications of committed SQLite transactions go (set
    /// once, by whoever delivers them). PostgreSQL delivers its own, through
    /// LISTEN, to every instance.
    pub fn deliver_local_notifications(&self, to: LocalNotifications) {
        if self.local_notifications.set(to).is_err() {
            tracing::error!("local notifications already have a receiver; the new one is ignored");
        }
    }

    /// How many connections are open, idle, and awaited.
    pub fn pool_status(&self) -> PoolStatus {
        let (size, available, waiting) = match &self.pools {
            Pools::Postgres(p) => {
                let s = p.status();
                (s.size, s.available, s.waiting)
            }
            Pools::Sqlite(p) => {
                let s = p.status();
                (s.size, s.available, s.waiting)
            }
        };
        PoolStatus {
            size,
            available,
            waiting,
        }
    }

    /// Runs read-only work on a pooled connection.
    pub async fn read<T, E>(&self, work: impl Work<T, E>) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError>,
    {
        self.read_borrowing(async move |c| work(c).await).await
    }

    /// [`Db::read`] for work awaited where it is written: an async closure,
    /// which may borrow from its caller and needs no box (a [`Work`] must be
    /// boxed because it may be stored or sent to another task).
    pub async fn read_borrowing<T, E>(
        &self,
        work: impl AsyncFnOnce(&mut Conn<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<DbError>,
    {
        let mut pooled = self.pooled().await?;
        work(&mut pooled.conn()).await
    }

    /// Runs `work` in one transaction (`BEGIN IMMEDIATE` on SQLite, so
    /// concurrent writers queue instead of failing) and commits it when it
    /// returns Ok, rolls it back otherwise.
    ///
    /// The transaction runs in its own task: a client that disconnects
    /// mid-request drops the request's future, but never a transaction
    /// half-way, so no pooled connection is left inside an open transaction.
    pub async fn write<T, E>(&self, work: impl Work<T, E>) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.transaction(Write::Change, work).await
    }

    /// Like [`Db::write`], for a worker's record of its own progress (a
    /// claim, an attempt's outcome) on work it does at least once anyway:
    /// on PostgreSQL its commit does not wait for the WAL flush, so it does
    /// not queue behind the changes it serves.
    /// (A database crash may lose the last such records: the work is then
    /// done again, which at least once allows.)
    pub async fn write_progress<T, E>(&self, work: impl Work<T, E>) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.transaction(Write::Progress, work).await
    }

    async fn transaction<T, E>(&self, kind: Write, work: impl Work<T, E>) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let mut pooled = self.pooled().await?;
        let local_notifications = self.local_notifications.clone();
        let wakes = self.wakes.clone();
        let task = tokio::spawn(async move {
            let mut staged = Staged::default();
            let mut conn = match &mut pooled {
                Pooled::Postgres(c) => Conn::Postgres(c, Some(&mut staged)),
                Pooled::Sqlite(c) => Conn::Sqlite(c, Some(&mut staged)),
            };
            begin(&mut conn).await.map_err(DbError::from)?;
            if let (Write::Progress, Conn::Postgres(c, _)) = (kind, &mut conn) {
                c.batch_execute("SET LOCAL synchronous_commit = off")
                    .await
                    .map_err(DbError::from)?;
            }
            match work(&mut conn).await {
                Ok(value) => {
                    with_conn!(&mut conn, |c| commit(c).await).map_err(DbError::from)?;
                    wakes.wake(&staged.wakes);
                    if let Some(deliver) = local_notifications
                        .get()
                        .filter(|_| !staged.notifications.is_empty())
                    {
                        deliver(staged.notifications);
                    }
                    Ok(value)
                }
                Err(error) => {
                    with_conn!(&mut conn, |c| rollback(c).await).map_err(DbError::from)?;
                    Err(error)
                }
            }
        });
        task.await.map_err(|e| DbError::Task(e.to_string()))?
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        self.read(|c| {
            async move {
                with_conn!(c, |c| c.batch_execute("SELECT 1").await).map_err(DbError::from)
            }
            .boxed()
        })
        .await
        .is_ok()
    }

    /// Changes after each commit in this process that staged a wake of
    /// `queue` ([`wake_on_commit`]): a worker that drains a queue waits on
    /// it rather than polling, and no other commit wakes it.
    pub fn wakes(&self, queue: &'static str) -> watch::Receiver<u64> {
        self.wakes.sender(queue).subscribe()
    }

    /// SQL statements run since start, by every connection of the pool.
    pub fn statements_executed(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }
}

/// What a write transaction is: see [`Db::write`] and [`Db::write_progress`].
#[derive(Clone, Copy, PartialEq)]
enum Write {
    Change,
    Progress,
}

/// How the pool makes a connection: it counts statements, runs `setup_sql`
/// once, and is recycled the fast way (no test query on every checkout; a
/// connection that died is marked broken by the query that finds out).
fn manager_config<C>(
    statements: &Arc<AtomicU64>,
    setup_sql: Option<&'static str>,
) -> ManagerConfig<C>
where
    C: AsyncConnection + SimpleAsyncConnection + 'static,
{
    let statements = statements.clone();
    let mut config = ManagerConfig::<C>::default();
    config.recycling_method = RecyclingMethod::Fast;
    config.custom_setup = Box::new(move |url| {
        let statements = statements.clone();
        async move {
            let mut conn = C::establish(url).await?;
            if let Some(sql) = setup_sql {
                conn.batch_execute(sql)
                    .await
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
            }
            conn.set_instrumentation(StatementCounter(statements));
            Ok(conn)
        }
        .boxed()
    });
    config
}

async fn begin(conn: &mut Conn<'_>) -> diesel::QueryResult<()> {
    match conn {
        Conn::Postgres(c, _) => diesel_async::AnsiTransactionManager::begin_transaction(*c).await,
        Conn::Sqlite(c, _) => {
            c.spawn_blocking(|c| {
                diesel::connection::AnsiTransactionManager::begin_transaction_sql(
                    c,
                    "BEGIN IMMEDIATE",
                )
            })
            .await
        }
    }
}

async fn commit<C: AsyncConnection>(c: &mut C) -> diesel::QueryResult<()> {
    C::TransactionManager::commit_transaction(c).await
}

async fn rollback<C: AsyncConnection>(c: &mut C) -> diesel::QueryResult<()> {
    C::TransactionManager::rollback_transaction(c).await
}

/// Counts every statement a connection starts.
struct StatementCounter(Arc<AtomicU64>);

impl Instrumentation for StatementCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { .. } = event {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}
