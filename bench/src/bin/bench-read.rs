//! `bench-read`: open-loop profile or aggregates queries against read-api (`--read-api`)
//! or, as the same SQL, straight to ClickHouse (`--direct`); prints a JSON report (and
//! writes it to `--json-out`). `scripts/bench-read.sh` runs every case and writes the report.

use bench::read::{DataShape, RequestMix, Target};
use clap::{Parser, ValueEnum};
use service_kit::settings::ClickHouseSettings;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// read-api latency beside the same SQL sent straight to ClickHouse.
#[derive(Debug, Parser)]
#[command(name = "bench-read")]
struct Cli {
    /// Which endpoint's queries.
    #[arg(value_enum)]
    queries: Queries,
    /// For aggregates: which filters are present, 0 to 7 (bit 1 origin, 2 brand, 4 category).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..8))]
    mask: u8,
    /// read-api base URL; without it, `--direct`.
    #[arg(long)]
    read_api: Option<String>,
    /// Send read-api's SQL straight to ClickHouse (the `--clickhouse-*` settings).
    #[arg(long, conflicts_with = "read_api")]
    direct: bool,
    /// An extra ClickHouse setting for `--direct`, `NAME=VALUE` (e.g. `log_queries=1`); repeatable.
    #[arg(long, value_parser = parse_option)]
    clickhouse_option: Vec<(String, String)>,
    /// ClickHouse and the loaded database (for `--direct`).
    #[command(flatten)]
    clickhouse: ClickHouseSettings,
    /// Requests per second.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Seconds to send.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Client deadline per request, ms (default: 200 for profiles, 60,000 for aggregates,
    /// the contract's timeouts).
    #[arg(long)]
    deadline_ms: Option<u64>,
    /// Seed of the request mix.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// First event time of the loaded data, ms.
    #[arg(long, default_value_t = 1_772_323_200_000)]
    data_start_ms: i64,
    /// Event time after the last loaded tag, ms (default: 24 h after the start).
    #[arg(long)]
    data_end_ms: Option<i64>,
    /// Distinct cookies in the data.
    #[arg(long, default_value_t = 1_000_000)]
    cookies: u32,
    /// Most requests in flight.
    #[arg(long, default_value_t = 2048)]
    max_in_flight: usize,
    /// Also write the JSON report here.
    #[arg(long)]
    json_out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Queries {
    /// `POST /user_profiles/{cookie}`.
    Profiles,
    /// `POST /aggregates` with the filters of `--mask`.
    Aggregates,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_deadline = match cli.queries {
        Queries::Profiles => 200,
        Queries::Aggregates => 60_000,
    };
    let deadline = Duration::from_millis(cli.deadline_ms.unwrap_or(default_deadline));
    let target = match (&cli.read_api, cli.direct) {
        (Some(url), false) => match Target::http(url, deadline) {
            Ok(target) => target,
            Err(error) => {
                eprintln!("bench-read: {error}");
                return ExitCode::FAILURE;
            }
        },
        (None, true) => Target::direct(&cli.clickhouse, &cli.clickhouse_option, deadline),
        _ => {
            eprintln!("bench-read: give --read-api URL or --direct");
            return ExitCode::FAILURE;
        }
    };
    let shape = DataShape {
        start_ms: cli.data_start_ms,
        end_ms: cli
            .data_end_ms
            .unwrap_or(cli.data_start_ms + 24 * 3_600_000),
        cookies: cli.cookies,
        origins: 1_000,
        brands: 250,
        categories: 67,
    };
    let mix = Arc::new(Mutex::new(RequestMix::new(cli.seed, shape)));
    let queries = match cli.queries {
        Queries::Profiles => None,
        Queries::Aggregates => Some(cli.mask),
    };
    let report = bench::open_loop::run(
        cli.rate,
        Duration::from_secs(cli.seconds),
        cli.max_in_flight,
        |_| {
            let request = mix
                .lock()
                .map(|mut mix| match queries {
                    None => mix.profile(),
                    Some(mask) => mix.aggregates(mask),
                })
                .ok();
            let target = target.clone();
            async move {
                match request {
                    Some(request) => target.send(request).await,
                    None => false,
                }
            }
        },
    )
    .await;
    let text = match serde_json::to_string(&report) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("bench-read: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("{text}");
    if let Some(path) = cli.json_out {
        if let Err(error) = std::fs::write(&path, text) {
            eprintln!("bench-read: cannot write {}: {error}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn parse_option(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .ok_or_else(|| "expected NAME=VALUE".to_owned())
}
