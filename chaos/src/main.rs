//! The chaos binary: `chaos run` replays the stream through the front door of the local
//! stack while it injects each fault in turn, prints what each cost, writes the JSON
//! report and the table of `docs/reliability.md`, and exits 1 if anything was lost,
//! counted twice, answered wrong, or never recovered.

use chaos::fault::Fault;
use chaos::run::ChaosOptions;
use clap::{Parser, Subcommand};
use service_kit::settings::{ClickHouseSettings, LogSettings};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The platform under faults.
#[derive(Debug, Parser)]
#[command(name = "chaos", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Logging.
    #[command(flatten)]
    log: LogSettings,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Replays the stream at a steady rate with checking, and injects one fault per slot.
    Run {
        /// The front door of the local stack.
        #[arg(
            id = "front_door",
            long = "url",
            env = "ALLEZON_URL",
            default_value = "http://127.0.0.1:8000"
        )]
        front_door: String,
        /// The faults, one per slot, in order: projector, write-api, read-api,
        /// clickhouse, tansu, and on the sharded stack (make cluster-up) projector-1 and
        /// clickhouse-2 (kill -9 and restart), or freeze-clickhouse.
        #[arg(
            long,
            env = "CHAOS_FAULTS",
            value_delimiter = ',',
            default_value = "projector,projector,projector,write-api,read-api,clickhouse,tansu,freeze-clickhouse"
        )]
        faults: Vec<String>,
        /// Seconds of SIGSTOP in freeze-clickhouse (past the projector's 10 s ClickHouse timeout).
        #[arg(long, env = "CHAOS_FREEZE_SECONDS", default_value_t = 15)]
        freeze_seconds: u64,
        /// Length of a slot, seconds of stream.
        #[arg(long, env = "CHAOS_SLOT_SECONDS", default_value_t = 120)]
        slot_seconds: u64,
        /// How far into its slot a fault hits, seconds.
        #[arg(long, env = "CHAOS_LEAD_SECONDS", default_value_t = 20)]
        lead_seconds: u64,
        /// Quiet stream after the last slot, seconds.
        #[arg(long, env = "CHAOS_TAIL_SECONDS", default_value_t = 30)]
        tail_seconds: u64,
        /// No first slot without a fault.
        #[arg(long, env = "CHAOS_NO_BASELINE")]
        no_baseline: bool,
        /// Tags per second.
        #[arg(long, env = "CHAOS_RATE", default_value_t = 1000)]
        rate: u32,
        /// Stream seed.
        #[arg(long, env = "CHAOS_SEED", default_value_t = 13)]
        seed: u64,
        /// Time after a 204 within which a tag must show in profiles, ms (the contract's).
        #[arg(long, default_value_t = 10_000)]
        profile_lag_ms: u64,
        /// Time after a 204 within which a tag must count in aggregates, ms (the contract's).
        #[arg(long, default_value_t = 60_000)]
        aggregate_lag_ms: u64,
        /// Seconds a path may take to recover before it counts as never.
        #[arg(long, env = "CHAOS_RECOVERY_TIMEOUT_SECONDS", default_value_t = 120)]
        recovery_timeout_seconds: u64,
        /// The checkout whose stack is disturbed (its scripts/ and .stack/).
        #[arg(long, env = "CHAOS_STACK_ROOT", default_value = ".")]
        stack_root: PathBuf,
        /// Write the JSON report here.
        #[arg(long, env = "CHAOS_JSON_OUT")]
        json_out: Option<PathBuf>,
        /// Replace the generated section of this document (docs/reliability.md).
        #[arg(long, env = "CHAOS_DOC")]
        doc: Option<PathBuf>,
        /// The stack's ClickHouse.
        #[command(flatten)]
        clickhouse: ClickHouseSettings,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    service_kit::telemetry::init(&cli.log);
    let Command::Run {
        front_door,
        faults,
        freeze_seconds,
        slot_seconds,
        lead_seconds,
        tail_seconds,
        no_baseline,
        rate,
        seed,
        profile_lag_ms,
        aggregate_lag_ms,
        recovery_timeout_seconds,
        stack_root,
        json_out,
        doc,
        clickhouse,
    } = cli.command;
    let freeze = Duration::from_secs(freeze_seconds);
    let faults: Result<Vec<Fault>, String> = faults
        .iter()
        .map(|fault| Fault::parse(fault.trim(), freeze))
        .collect();
    let faults = match faults {
        Ok(faults) => faults,
        Err(error) => {
            tracing::error!(error = %error, "invalid --faults");
            return ExitCode::from(2);
        }
    };
    let options = ChaosOptions {
        base_url: front_door,
        clickhouse,
        stack_root,
        faults,
        baseline: !no_baseline,
        slot: Duration::from_secs(slot_seconds),
        lead: Duration::from_secs(lead_seconds),
        tail: Duration::from_secs(tail_seconds),
        rate,
        seed,
        profile_lag: Duration::from_millis(profile_lag_ms),
        aggregate_lag: Duration::from_millis(aggregate_lag_ms),
        recovery_timeout: Duration::from_secs(recovery_timeout_seconds),
    };
    let report = match chaos::run::run(options).await {
        Ok(report) => report,
        Err(error) => {
            tracing::error!(error = %service_kit::error::chain(&error), "chaos run failed");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", report.summary_text());
    if let Some(path) = json_out {
        if let Err(error) = loadgen::report::write_json(&path, &report) {
            tracing::error!(error = %service_kit::error::chain(&error), "cannot write the JSON report");
            return ExitCode::FAILURE;
        }
    }
    if let Some(path) = doc {
        if let Err(error) = chaos::report::write_into(&path, &report.section()) {
            tracing::error!(path = %path.display(), error = %error, "cannot write the document");
            return ExitCode::FAILURE;
        }
    }
    if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent_and_parses() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["chaos", "run", "--url", "http://127.0.0.1:28000"])
            .map_err(|error| error.to_string());
        assert!(cli.is_ok(), "{cli:?}");
    }
}
