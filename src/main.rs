use std::process::ExitCode;

use clap::Parser;
use orgql::config::{Cli, Command, LogFormat};
use orgql::{Server, graphql, open_database};
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt().with_env_filter(
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    );
    match cli.config.log_format {
        LogFormat::Text => logs.init(),
        // One object a line, the request span's fields (its id) included.
        LogFormat::Json => logs
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&cli.config).await,
        Command::Migrate => open_database(&cli.config)
            .await
            .map(drop)
            .map_err(|e| e.to_string()),
        Command::Seed {
            members,
            name,
            slug,
        } => seed(&cli.config, members, &name, slug.as_deref()).await,
        Command::PrintSchema => {
            print!("{}", graphql::print_schema());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("orgql: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: &orgql::config::Config) -> Result<(), String> {
    let server = Server::start(config).await.map_err(|e| e.to_string())?;
    tracing::info!(graphiql = %format!("http://{}/graphql", server.addr), "orgql is serving");
    server.run_until_signal().await.map_err(|e| e.to_string())
}

async fn seed(
    config: &orgql::config::Config,
    members: usize,
    name: &str,
    slug: Option<&str>,
) -> Result<(), String> {
    if members == 0 {
        return Err("--members: an organization has at least its owner (1)".into());
    }
    let db = open_database(config).await.map_err(|e| e.to_string())?;
    let seeded = orgql::seed::seed_organization(&db, members, name, slug)
        .await
        .map_err(|e| format!("seeding failed: {e:?}"))?;
    println!("{}", serde_json::to_string(&seeded).expect("serializes"));
    Ok(())
}
