use std::path::PathBuf;
use std::str::FromStr;

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};

/// Where the data lives: a SQLite file (the embedded default) or a
/// PostgreSQL database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl FromStr for DatabaseUrl {
    type Err = super::SetupError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(s.to_owned()));
        }
        if let Some(path) = s.strip_prefix("sqlite://") {
            if !path.is_empty() {
                return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
            }
        } else if !s.is_empty() && !s.contains("://") && !s.contains(':') {
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(s)));
        }
        Err(super::SetupError::UnsupportedUrl(s.to_owned()))
    }
}

impl DatabaseUrl {
    /// The URL without its password, for messages and logs.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => {
                let Some((scheme, rest)) = url.split_once("://") else {
                    return url.clone();
                };
                match rest.split_once('@') {
                    Some((credentials, host)) => {
                        let user = credentials.split(':').next().unwrap_or_default();
                        format!("{scheme}://{user}@{host}")
                    }
                    None => url.clone(),
                }
            }
        }
    }
}

/// Splits `postgres://…/name?params` into the URL of the server's `postgres`
/// maintenance database and `name`.
fn maintenance_url(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let (authority, path) = rest.split_once('/')?;
    let (name, params) = match path.split_once('?') {
        Some((name, params)) => (name, format!("?{params}")),
        None => (path, String::new()),
    };
    (!name.is_empty()).then(|| {
        (
            format!("{scheme}://{authority}/postgres{params}"),
            name.to_owned(),
        )
    })
}

/// Lets `DATABASE_URL=postgres://…/orgql cargo run` work on a server where
/// the database has not been created yet.
pub(super) async fn create_postgres_database_if_missing(url: &str) -> Result<(), String> {
    let first_error = match AsyncPgConnection::establish(url).await {
        Ok(_) => return Ok(()),
        Err(e) => e.to_string(),
    };
    let Some((maintenance, name)) = maintenance_url(url) else {
        return Err(first_error);
    };
    if !first_error.contains("does not exist") {
        return Err(first_error);
    }
    let mut conn = AsyncPgConnection::establish(&maintenance)
        .await
        .map_err(|_| first_error.clone())?;
    let quoted = name.replace('"', "\"\"");
    match conn
        .batch_execute(&format!("CREATE DATABASE \"{quoted}\""))
        .await
    {
        Ok(()) => tracing::info!(database = %name, "created PostgreSQL database"),
        // Another instance created it in the meantime.
        Err(e) if e.to_string().contains("already exists") => {}
        Err(e) => return Err(format!("{first_error}; creating it failed: {e}")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_supported_forms() {
        assert_eq!(
            "data/x.db".parse::<DatabaseUrl>().unwrap(),
            DatabaseUrl::Sqlite("data/x.db".into())
        );
        assert_eq!(
            "sqlite:///tmp/x.db".parse::<DatabaseUrl>().unwrap(),
            DatabaseUrl::Sqlite("/tmp/x.db".into())
        );
        assert!(matches!(
            "postgresql://u@h/db".parse::<DatabaseUrl>().unwrap(),
            DatabaseUrl::Postgres(_)
        ));
        assert!("mysql://root@h/db".parse::<DatabaseUrl>().is_err());
        assert!("sqlite://".parse::<DatabaseUrl>().is_err());
    }

    #[test]
    fn redacts_the_password() {
        let url: DatabaseUrl = "postgres://me:secret@db:5432/orgql".parse().unwrap();
        assert_eq!(url.redacted(), "postgres://me@db:5432/orgql");
    }

    #[test]
    fn finds_the_maintenance_database() {
        assert_eq!(
            maintenance_url("postgres://u@h:5432/orgql?sslmode=disable"),
            Some((
                "postgres://u@h:5432/postgres?sslmode=disable".into(),
                "orgql".into()
            ))
        );
    }
}
