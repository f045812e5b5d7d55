//! The loadgen binary: `run` (the checking harness: tags, queries in debug mode, final
//! round; a summary on screen, exit status 1 on any wrong answer), `ingest` (HTTP load)
//! and `produce-ceiling` (raw broker rate). Each writes its JSON report to `--json-out`
//! when given; `ingest` and `produce-ceiling` also print it.

use clap::{Parser, Subcommand};
use loadgen::harness::HarnessOptions;
use loadgen::ingest::IngestOptions;
use schemas::EventTime;
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
    /// Emulates the reference harness and is stricter: sends the stream, asks profile and
    /// aggregates queries in debug mode about settled tags, compares every answer with
    /// its own model, then asks a final round over everything. Exit status 1 on any
    /// wrong answer, failed query or lost tag.
    Run {
        /// Base URL of the whole API (the front door).
        #[arg(long, default_value = "http://127.0.0.1:8000")]
        url: String,
        /// Tags to send, 1 ms of event time each (120,000 = 2 minutes).
        #[arg(long, default_value_t = 120_000)]
        tags: u64,
        /// Tags per second; 0 = flat out.
        #[arg(long, default_value_t = 1000)]
        rate: u32,
        /// Most tag requests in flight.
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
        /// Stream seed (also seeds the choice of queries).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// First event time (an instant such as 2026-03-01T00:00:00Z). Against a platform
        /// that already holds tags in this stream's time range the answers cannot match:
        /// start after its newest tag (scripts/lib.sh: next_stream_start) or reset it.
        #[arg(long, value_parser = parse_start, default_value = "2026-03-01T00:00:00Z")]
        start: EventTime,
        /// Client deadline of a tag request, ms (the contract's 200).
        #[arg(long, default_value_t = 200)]
        tag_deadline_ms: u64,
        /// Client deadline of a profile query, ms (the contract's 200).
        #[arg(long, default_value_t = 200)]
        profile_deadline_ms: u64,
        /// Client deadline of an aggregates query, ms (the contract's 60,000).
        #[arg(long, default_value_t = 60_000)]
        aggregate_deadline_ms: u64,
        /// Time after a 204 within which a tag must show in profiles, ms (contract: 10,000).
        #[arg(long, default_value_t = 10_000)]
        profile_lag_ms: u64,
        /// Time after a 204 within which a tag must count in aggregates, ms (contract: 60,000).
        #[arg(long, default_value_t = 60_000)]
        aggregate_lag_ms: u64,
        /// A profile query every this many tags (0 = none).
        #[arg(long, default_value_t = 10)]
        profile_every: u64,
        /// An aggregates query every this many tags (0 = none).
        #[arg(long, default_value_t = 1000)]
        aggregate_every: u64,
        /// A freshness probe (204 to visible in its profile, polled every 50 ms) every this
        /// many tags, unless one is still running (0 = none).
        #[arg(long, default_value_t = 0)]
        freshness_every: u64,
        /// Cookies sampled for the final round, besides the hot ones.
        #[arg(long, default_value_t = 200)]
        final_profiles: usize,
        /// No progress bar.
        #[arg(long)]
        no_progress: bool,
    },
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
    /// Prints the first whole minute after the newest tag stored in ClickHouse: a `run
    /// --start` that does not mix with what the platform already holds.
    NextStart {
        #[command(flatten)]
        clickhouse: service_kit::settings::ClickHouseSettings,
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

fn parse_start(text: &str) -> Result<EventTime, String> {
    EventTime::parse_instant(text).map_err(|error| error.to_string())
}

/// The checking run: the summary goes to the screen, the JSON to `--json-out`.
async fn run_harness(options: HarnessOptions, json_out: Option<PathBuf>) -> ExitCode {
    let report = match loadgen::harness::run(options).await {
        Ok(report) => report,
        Err(error) => {
            eprintln!("loadgen: {error}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", report.summary_text());
    if let Some(path) = json_out {
        if let Err(error) = loadgen::report::write_json(&path, &report) {
            eprintln!("loadgen: {}", service_kit::error::chain(&error));
            return ExitCode::FAILURE;
        }
    }
    if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let report = match cli.command {
        Command::Run {
            url,
            tags,
            rate,
            concurrency,
            seed,
            start,
            tag_deadline_ms,
            profile_deadline_ms,
            aggregate_deadline_ms,
            profile_lag_ms,
            aggregate_lag_ms,
            profile_every,
            aggregate_every,
            freshness_every,
            final_profiles,
            no_progress,
        } => {
            let options = HarnessOptions {
                base_url: url,
                tags,
                rate,
                concurrency,
                seed,
                start_ms: start.millis(),
                tag_deadline: Duration::from_millis(tag_deadline_ms),
                profile_deadline: Duration::from_millis(profile_deadline_ms),
                aggregate_deadline: Duration::from_millis(aggregate_deadline_ms),
                profile_lag: Duration::from_millis(profile_lag_ms),
                aggregate_lag: Duration::from_millis(aggregate_lag_ms),
                profile_every,
                aggregate_every,
                freshness_every,
                final_profiles,
                final_aggregates_within: None,
                progress: !no_progress,
            };
            return run_harness(options, cli.json_out).await;
        }
        Command::NextStart { clickhouse } => {
            return match loadgen::start::after_newest(&clickhouse).await {
                Ok(start) => {
                    println!("{start}");
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("loadgen: cannot read the newest tag: {error}");
                    ExitCode::FAILURE
                }
            };
        }
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
                start_ms: None,
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
