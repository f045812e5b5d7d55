//! `migrate`: applies the ClickHouse migrations, then exits (non-zero on failure).

use clap::Parser;
use service_kit::settings::{ClickHouseSettings, LogSettings};
use std::path::PathBuf;
use std::process::ExitCode;

/// Applies the ClickHouse migrations of a folder in order, recording each applied version.
#[derive(Debug, Parser)]
#[command(name = "migrate", version)]
struct Cli {
    /// Folder holding the NNNN_name.sql files.
    #[arg(long, env = "MIGRATIONS_DIR", default_value = "migrations")]
    dir: PathBuf,
    #[command(flatten)]
    clickhouse: ClickHouseSettings,
    #[command(flatten)]
    log: LogSettings,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    service_kit::telemetry::init(&cli.log);
    let server = service_kit::clickhouse::server_client(&cli.clickhouse);
    match migrations::apply(&server, &cli.clickhouse.database, &cli.dir).await {
        Ok(applied) => {
            tracing::info!(applied = applied.len(), database = %cli.clickhouse.database, "migrations up to date");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(error = %error, "migrations failed");
            eprintln!("migrate: {error}");
            ExitCode::FAILURE
        }
    }
}
