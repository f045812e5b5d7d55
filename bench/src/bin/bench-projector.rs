//! `bench-projector`: the raw consume rate of a topic (`consume`) and the real projector's
//! catch-up on the same backlog (`catch-up`), each printed as JSON (and written to
//! `--json-out`). `scripts/bench-projector.sh` runs both and writes the report.

use bench::catch_up::CatchUpOptions;
use bench::consume::Work;
use clap::{Parser, Subcommand};
use service_kit::settings::{ClickHouseSettings, KafkaSettings};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Projector catch-up beside the raw consume rate of the same broker.
#[derive(Debug, Parser)]
#[command(name = "bench-projector")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Also write the JSON report here.
    #[arg(long, global = true)]
    json_out: Option<PathBuf>,
    /// Longest a measurement may take, seconds.
    #[arg(long, global = true, default_value_t = 900)]
    timeout_s: u64,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Reads the topic's whole backlog with the projector's consumer settings.
    Consume {
        /// What to do per message.
        #[arg(long, value_enum, default_value = "raw")]
        work: Work,
        /// A librdkafka setting over the projector's, `NAME=VALUE`; repeatable.
        #[arg(long, value_parser = parse_option)]
        consumer_option: Vec<(String, String)>,
        /// Broker and topic.
        #[command(flatten)]
        kafka: KafkaSettings,
    },
    /// Runs the projector binary on the backlog until ClickHouse holds every row.
    CatchUp {
        /// The projector binary.
        #[arg(long, default_value = "target/release/projector")]
        projector: PathBuf,
        /// Where the projector's output goes.
        #[arg(long, default_value = "/dev/null")]
        log: PathBuf,
        /// File holding ClickHouse's pid (for its CPU time).
        #[arg(long)]
        clickhouse_pid_file: Option<PathBuf>,
        /// File holding the broker's pid (for its CPU time).
        #[arg(long)]
        broker_pid_file: Option<PathBuf>,
        /// Broker and topic.
        #[command(flatten)]
        kafka: KafkaSettings,
        /// ClickHouse and the migrated, empty database to project into.
        #[command(flatten)]
        clickhouse: ClickHouseSettings,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let timeout = Duration::from_secs(cli.timeout_s);
    let report = match cli.command {
        Command::Consume {
            work,
            consumer_option,
            kafka,
        } => {
            let runtime = tokio::runtime::Handle::current();
            tokio::task::spawn_blocking(move || {
                bench::consume::measure(&kafka, work, &consumer_option, timeout, &runtime)
            })
            .await
            .map_err(anyhow::Error::from)
            .and_then(|report| Ok(serde_json::to_value(report?)?))
        }
        Command::CatchUp {
            projector,
            log,
            clickhouse_pid_file,
            broker_pid_file,
            kafka,
            clickhouse,
        } => {
            let pid =
                |file: Option<PathBuf>| file.and_then(|file| bench::process::pid_from_file(&file));
            let options = CatchUpOptions {
                projector,
                kafka,
                clickhouse,
                log,
                clickhouse_pid: pid(clickhouse_pid_file),
                broker_pid: pid(broker_pid_file),
                timeout,
            };
            bench::catch_up::measure(options)
                .await
                .map_err(anyhow::Error::from)
                .and_then(|report| Ok(serde_json::to_value(report)?))
        }
    };
    finish(report, cli.json_out)
}

fn finish(report: anyhow::Result<serde_json::Value>, json_out: Option<PathBuf>) -> ExitCode {
    match report {
        Ok(report) => {
            let text = report.to_string();
            println!("{text}");
            if let Some(path) = json_out {
                if let Err(error) = std::fs::write(&path, text) {
                    eprintln!("bench-projector: cannot write {}: {error}", path.display());
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("bench-projector: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn parse_option(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .ok_or_else(|| "expected NAME=VALUE".to_owned())
}
