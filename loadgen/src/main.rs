//! The loadgen binary: `ingest` (HTTP load) and `produce-ceiling` (raw broker rate),
//! each printing a JSON report (and writing it to `--json-out` when given).

use clap::{Parser, Subcommand};
use loadgen::ingest::IngestOptions;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Allezon's own harness: load the platform and measure it.
#[derive(Debug, Parser)]
#[command(name = "loadgen", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Also write the JSON report here.
    #[arg(long, global = true)]
    json_out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sends tags to POST /user_tags and reports rate and latency.
    Ingest {
        /// Base URL: the front door (http://127.0.0.1:8000) or write-api (http://127.0.0.1:8081).
        #[arg(long, default_value = "http://127.0.0.1:8000")]
        url: String,
        /// Tags per second; 0 = flat out.
        #[arg(long, default_value_t = 1000)]
        rate: u32,
        /// Seconds to send.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Most requests in flight.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Stream seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Client deadline per request, ms (the contract's 200).
        #[arg(long, default_value_t = 200)]
        deadline_ms: u64,
    },
    /// Produces tags straight to the broker with write-api's producer settings.
    ProduceCeiling {
        /// Brokers.
        #[arg(long, env = "KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
        brokers: String,
        /// Topic (use a scratch topic).
        #[arg(long)]
        topic: String,
        /// Records to produce.
        #[arg(long, default_value_t = 100_000)]
        count: u64,
        /// Most unacknowledged records.
        #[arg(long, default_value_t = 5_000)]
        in_flight: usize,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let report = match cli.command {
        Command::Ingest {
            url,
            rate,
            seconds,
            concurrency,
            seed,
            deadline_ms,
        } => {
            let options = IngestOptions {
                base_url: url,
                rate,
                duration: Duration::from_secs(seconds),
                concurrency,
                seed,
                deadline: Duration::from_millis(deadline_ms),
            };
            loadgen::ingest::run(options)
                .await
                .map_err(anyhow::Error::from)
                .and_then(|report| serde_json::to_value(report).map_err(anyhow::Error::from))
        }
        Command::ProduceCeiling {
            brokers,
            topic,
            count,
            in_flight,
        } => {
            let settings = service_kit::settings::KafkaSettings {
                brokers,
                topic,
                schema_registry_url: None,
            };
            loadgen::ceiling::measure(&settings, count, in_flight)
                .await
                .map_err(anyhow::Error::from)
                .and_then(|report| serde_json::to_value(report).map_err(anyhow::Error::from))
        }
    };
    match report {
        Ok(report) => {
            let text = report.to_string();
            println!("{text}");
            if let Some(path) = cli.json_out {
                if let Err(error) = std::fs::write(&path, text) {
                    eprintln!("loadgen: cannot write {}: {error}", path.display());
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("loadgen: {error:#}");
            ExitCode::FAILURE
        }
    }
}
