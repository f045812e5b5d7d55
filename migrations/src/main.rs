//! `migrate`: applies the ClickHouse migrations, then exits (non-zero on failure, and
//! before changing anything when a recorded migration's file was edited: see the
//! library's `ledger` module).

use clap::Parser;
use migrations::{ClusterName, Target};
use service_kit::settings::{ClickHouseSettings, LogSettings, ShardSettings};
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
    /// Minutes an aggregate row is kept after the ten minutes it was ingested in
    /// (retention runs on ingestion time, never event time).
    #[arg(long, env = "AGGREGATES_RETENTION_MINUTES", default_value_t = 24 * 60)]
    aggregates_retention_minutes: u32,
    /// Print every migration's statements as rendered for the target, without
    /// connecting to ClickHouse, then exit.
    #[arg(long)]
    print_sql: bool,
    /// First record the files' checksums for the versions the database recorded without
    /// one (migrated before checksums were kept), taking them as made by these files.
    /// Only for a database known to have been made by these very files; a version
    /// recorded with another checksum is still refused.
    #[arg(long)]
    accept_unverified: bool,
    #[command(flatten)]
    clickhouse: ClickHouseSettings,
    /// With --cluster: every shard's server of a cluster whose shards have one replica
    /// each and no Keeper (the local sharded stack: its ClickHouse can neither replicate
    /// nor run ON CLUSTER DDL). The cluster's tables are then made with the engines as
    /// written, each statement run on each server in turn, each server keeping its own
    /// ledger, and retention altered on each.
    #[command(flatten)]
    shards: ShardSettings,
    #[command(flatten)]
    log: LogSettings,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    service_kit::telemetry::init(&cli.log);
    let target = match (&cli.cluster, cli.shards.urls.is_empty()) {
        (None, true) => Target::SingleNode,
        (None, false) => {
            eprintln!("migrate: --clickhouse-shard-url needs --cluster");
            return ExitCode::from(2);
        }
        (Some(cluster), true) => Target::Cluster(cluster.clone()),
        (Some(cluster), false) => Target::UnreplicatedShards(cluster.clone()),
    };
    let database = &cli.clickhouse.database;
    if cli.print_sql {
        return match print_sql(&cli, &target) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("migrate: {}", service_kit::error::chain(&error));
                ExitCode::FAILURE
            }
        };
    }
    // One server, or every shard of an unreplicated cluster in turn.
    let servers: Vec<ClickHouseSettings> = if cli.shards.urls.is_empty() {
        vec![cli.clickhouse.clone()]
    } else {
        cli.shards.servers(&cli.clickhouse)
    };
    let retention = migrations::Retention {
        aggregates_minutes: cli.aggregates_retention_minutes,
    };
    for settings in &servers {
        let server = service_kit::clickhouse::server_client(settings);
        let outcome = async {
            if cli.accept_unverified {
                let accepted =
                    migrations::accept_unverified(&server, database, &cli.dir, &target).await?;
                tracing::warn!(accepted = accepted.len(), files = %accepted.join(","), database = %database, server = %settings.url, "checksums recorded for migrations applied before checksums were kept");
            }
            let applied = migrations::apply_to(&server, database, &cli.dir, &target).await?;
            let retention_changed =
                migrations::apply_retention(&server, database, &target, retention).await?;
            Ok::<_, migrations::MigrationError>((applied, retention_changed))
        };
        match outcome.await {
            Ok((applied, retention_changed)) => {
                tracing::info!(applied = applied.len(), retention_changed, aggregates_retention_minutes = retention.aggregates_minutes, database = %database, server = %settings.url, cluster = ?cli.cluster.as_ref().map(ClusterName::as_str), "migrations up to date");
            }
            Err(error) => {
                let error = service_kit::error::chain(&error);
                tracing::error!(%error, server = %settings.url, "migrations failed");
                eprintln!("migrate: {}: {error}", settings.url);
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
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
