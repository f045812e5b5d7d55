//! `migrate`: applies the ClickHouse migrations, then exits (non-zero on failure).

use clap::Parser;
use migrations::{ClusterName, Target};
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
    /// Cluster (a `remote_servers` name of the servers' configuration) to migrate with
    /// ON CLUSTER DDL: Replicated* local tables `<name>_local` and Distributed tables
    /// `<name>` over them. Unset: one server, the files as written.
    #[arg(long, env = "CLICKHOUSE_CLUSTER")]
    cluster: Option<ClusterName>,
    /// Print every migration's statements as rendered for the target, without
    /// connecting to ClickHouse, then exit.
    #[arg(long)]
    print_sql: bool,
    #[command(flatten)]
    clickhouse: ClickHouseSettings,
    #[command(flatten)]
    log: LogSettings,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    service_kit::telemetry::init(&cli.log);
    let target = cli
        .cluster
        .clone()
        .map_or(Target::SingleNode, Target::Cluster);
    let database = &cli.clickhouse.database;
    if cli.print_sql {
        return match print_sql(&cli, &target) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("migrate: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let server = service_kit::clickhouse::server_client(&cli.clickhouse);
    match migrations::apply_to(&server, database, &cli.dir, &target).await {
        Ok(applied) => {
            tracing::info!(applied = applied.len(), database = %database, cluster = ?cli.cluster.as_ref().map(ClusterName::as_str), "migrations up to date");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(error = %error, "migrations failed");
            eprintln!("migrate: {error}");
            ExitCode::FAILURE
        }
    }
}

fn print_sql(cli: &Cli, target: &Target) -> Result<(), migrations::MigrationError> {
    let database = &cli.clickhouse.database;
    migrations::check_database(target, database)?;
    for migration in migrations::discover(&cli.dir)? {
        println!("-- {}", migration.file_name);
        for statement in migration.statements(target, database)? {
            println!("{statement};\n");
        }
    }
    Ok(())
}
