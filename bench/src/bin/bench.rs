//! `bench`: the platform's benchmarks and their report (see the crate documentation).
//! `make bench` runs `write`, `projector`, `read`, `burst`, `archive` and `e2e` in turn, then `report`.

use bench::error::BenchError;
use bench::parts::archive::ArchiveOptions;
use bench::parts::burst::BurstOptions;
use bench::parts::e2e::E2eOptions;
use bench::parts::projector::ProjectorOptions;
use bench::parts::read::ReadOptions;
use bench::parts::soak::SoakOptions;
use bench::parts::write::WriteOptions;
use bench::stack::{Stack, StackSettings};
use clap::{Parser, Subcommand};
use service_kit::settings::LogSettings;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The platform's benchmarks: each figure beside its limit measured in the same run.
#[derive(Debug, Parser)]
#[command(name = "bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Where each part writes its results and `report` reads them (default:
    /// `<repo-root>/.stack/bench`).
    #[arg(long, env = "BENCH_OUT")]
    results_dir: Option<PathBuf>,
    #[command(flatten)]
    stack: StackSettings,
    #[command(flatten)]
    log: LogSettings,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// write-api's CPU per tag beside a no-op server's, latency from three sides,
    /// flat-out context (stops the projector while measuring).
    Write(WriteOptions),
    /// The projector's catch-up on a backlog beside the raw consume rate.
    Projector(ProjectorOptions),
    /// The read path on a loaded day of tags, under ingestion (moves the services onto
    /// the loaded database for the run).
    Read(ReadOptions),
    /// read-api under bursts and overload on the read part's loaded day: 200 profile
    /// queries at once on an idle stack, the sustained capacity, twice it, the recovery
    /// (moves the services onto the loaded database for the run).
    Burst(BurstOptions),
    /// The whole platform at 1,000 tags/s, every answer checked (moves the services
    /// onto a scratch topic and database for the run). Fails on any wrong answer.
    E2e(E2eOptions),
    /// The contract's load on a loaded day for half an hour, then with the retention
    /// windows shortened, recorded per minute; writes docs/soak.md and its plots.
    Soak(SoakOptions),
    /// The archive: bytes per tag, the archiver's CPU at 1,000 tags/s, freshness, and a
    /// rebuild from the archive against one from the broker (scratch topics; writes
    /// docs/bench-archive.md).
    Archive {
        #[command(flatten)]
        options: ArchiveOptions,
        /// Where the report goes (relative: to the repository).
        #[arg(long, env = "BENCH_REPORT_DIR", default_value = "docs")]
        out_dir: PathBuf,
    },
    /// Loads tags of loadgen's stream into a scratch database (what `read` and `e2e`
    /// do first), then stops.
    Load(LoadCommand),
    /// The capacity model (docs/capacity.md): sizing from the per-unit costs of
    /// docs/capacity/inputs.json, its plot, and, given a measured run's per-component
    /// cores (make cluster-test's cpu-full.tsv), the prediction beside the measurement.
    /// Needs no running stack.
    Capacity(CapacityOptions),
    /// Writes docs/benchmarks.md and the detail reports from the results files.
    Report {
        /// Where the reports go (relative: to the repository). Smoke runs write
        /// elsewhere, so docs/ keeps the real figures.
        #[arg(long, env = "BENCH_REPORT_DIR", default_value = "docs")]
        out_dir: PathBuf,
    },
}

/// Flags of `bench load`.
#[derive(Debug, clap::Args)]
struct LoadCommand {
    /// The scratch database.
    #[arg(long, env = "BENCH_LOAD_DB")]
    database: String,
    /// Tags to load.
    #[arg(long = "tags", env = "BENCH_LOAD_TAGS", default_value_t = 86_400_000)]
    tags: u64,
    /// Seed of the stream.
    #[arg(long, env = "BENCH_LOAD_SEED", default_value_t = 1)]
    seed: u64,
    /// Rows per insert.
    #[arg(long, env = "BENCH_LOAD_CHUNK_ROWS", default_value_t = 1_000_000)]
    chunk_rows: u64,
    /// Load again even when the database already holds these tags.
    #[arg(long, env = "BENCH_LOAD_FORCE")]
    force: bool,
    /// The migrations to apply.
    #[arg(long, env = "MIGRATIONS_DIR", default_value = "migrations")]
    migrations_dir: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    service_kit::telemetry::init(&cli.log);
    // Interrupted, the benchmark is dropped where it stands: its guards put the stack
    // back (services on the defaults, the projector started, the no-op server killed).
    let outcome = tokio::select! {
        outcome = run(cli) => outcome,
        () = service_kit::shutdown::signal() => Err(BenchError::Stack("interrupted".to_owned())),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            let error = service_kit::error::chain(&error);
            tracing::error!(%error, "benchmark failed");
            eprintln!("bench: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Flags of `bench capacity` (paths relative to the repository).
#[derive(Debug, clap::Args)]
struct CapacityOptions {
    /// The model's inputs.
    #[arg(
        long,
        env = "CAPACITY_INPUTS",
        default_value = "docs/capacity/inputs.json"
    )]
    inputs: PathBuf,
    /// The document whose generated section is replaced.
    #[arg(long, env = "CAPACITY_DOC", default_value = "docs/capacity.md")]
    doc: PathBuf,
    /// The plot.
    #[arg(long, env = "CAPACITY_PLOT", default_value = "docs/capacity/cores.png")]
    plot: PathBuf,
    /// A run's per-component cores (`component<TAB>cores<TAB>rss` lines), to set the
    /// model's prediction for its load and shape beside.
    #[arg(long, env = "CAPACITY_MEASURED")]
    measured: Option<PathBuf>,
    /// What the measured run was, in words (its command, date and conditions).
    #[arg(
        long,
        env = "CAPACITY_MEASURED_LABEL",
        default_value = "make cluster-test"
    )]
    measured_label: String,
    /// The measured run's tags per second.
    #[arg(long, default_value_t = 1000.0)]
    measured_tags_per_s: f64,
    /// The measured run's profile reads per second.
    #[arg(long, default_value_t = 100.0)]
    measured_profiles_per_s: f64,
    /// The measured run's aggregates queries per second.
    #[arg(long, default_value_t = 1.0)]
    measured_aggregates_per_s: f64,
    /// The share of the measured run's profile reads that reached ClickHouse (read-api's
    /// `read_api_profile_cache_total`: misses over all lookups).
    #[arg(long, default_value_t = 1.0)]
    measured_profile_reads_to_clickhouse: f64,
}

fn capacity(root: &std::path::Path, options: &CapacityOptions) -> Result<(), BenchError> {
    use bench::capacity::{Inputs, Load, Measured};
    let inputs = Inputs::load(&root.join(&options.inputs))?;
    let measured = match &options.measured {
        None => None,
        Some(path) => {
            let tsv =
                std::fs::read_to_string(root.join(path)).map_err(|source| BenchError::Io {
                    what: format!("reading {}", path.display()),
                    source,
                })?;
            Some(Measured {
                label: options.measured_label.clone(),
                load: Load {
                    tags_per_s: options.measured_tags_per_s,
                    profiles_per_s: options.measured_profiles_per_s,
                    aggregates_per_s: options.measured_aggregates_per_s,
                    profile_reads_to_clickhouse: options.measured_profile_reads_to_clickhouse,
                },
                roles: bench::capacity::measured_roles(&tsv),
            })
        }
    };
    let section = bench::capacity::section(&inputs, measured.as_ref())?;
    let doc = root.join(&options.doc);
    loadgen::document::replace_section(
        &doc,
        bench::capacity::SECTION_BEGIN,
        bench::capacity::SECTION_END,
        &section,
    )
    .map_err(|source| BenchError::Io {
        what: format!("writing {}", doc.display()),
        source,
    })?;
    let plot = root.join(&options.plot);
    if let Some(folder) = plot.parent() {
        std::fs::create_dir_all(folder).map_err(|source| BenchError::Io {
            what: format!("creating {}", folder.display()),
            source,
        })?;
    }
    bench::plot::draw(
        &bench::plot::Chart {
            title: "Cores per role at the contract's mix (a profile read per 10 tags)",
            x_label: "log10 tags/s",
            y_label: "log10 cores",
            series: bench::capacity::plot_series(&inputs)?,
            limit: None,
        },
        &plot,
    )?;
    tracing::info!(doc = %doc.display(), plot = %plot.display(), "capacity model written");
    Ok(())
}

async fn run(cli: Cli) -> Result<ExitCode, BenchError> {
    if let Command::Capacity(options) = &cli.command {
        capacity(&cli.stack.repo_root, options)?;
        return Ok(ExitCode::SUCCESS);
    }
    let results_dir = cli
        .results_dir
        .clone()
        .unwrap_or_else(|| cli.stack.repo_root.join(".stack").join("bench"));
    let stack = Stack::new(cli.stack)?;
    match cli.command {
        Command::Write(options) => {
            bench::parts::write::run(&stack, &options, &results_dir).await?;
        }
        Command::Projector(options) => {
            bench::parts::projector::run(&stack, &options, &results_dir).await?;
        }
        Command::Read(options) => {
            bench::parts::read::run(&stack, &options, &results_dir).await?;
        }
        Command::Burst(options) => {
            bench::parts::burst::run(&stack, &options, &results_dir).await?;
        }
        Command::Archive { options, out_dir } => {
            let results = bench::parts::archive::run(&stack, &options, &results_dir).await?;
            bench::report::archive::write(&results, &stack.settings.repo_root.join(out_dir))?;
        }
        Command::Soak(options) => {
            let results = bench::parts::soak::run(&stack, &options, &results_dir).await?;
            let report_dir = stack.settings.repo_root.join(&options.report_dir);
            bench::report::soak::write(&results, &report_dir)?;
        }
        Command::E2e(options) => {
            let results = bench::parts::e2e::run(&stack, &options, &results_dir).await?;
            if !results.harness.passed {
                tracing::error!(
                    "the whole-platform run found wrong answers, failed queries or lost tags"
                );
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Load(load) => {
            stack.check_own().await?;
            let report = bench::loader::load(&bench::loader::LoadOptions {
                clickhouse: stack.clickhouse(&load.database),
                migrations_dir: stack.settings.repo_root.join(&load.migrations_dir),
                tags: load.tags,
                seed: load.seed,
                chunk_rows: load.chunk_rows,
                force: load.force,
                insert_timeout: Duration::from_secs(600),
            })
            .await?;
            tracing::info!(
                database = %report.database,
                tags = report.tags,
                seconds = report.seconds,
                rows_per_second = report.rows_per_second,
                loaded_now = report.loaded_now,
                "load done"
            );
        }
        Command::Capacity(_) => {}
        Command::Report { out_dir } => {
            let inputs = bench::report::Inputs::load(&results_dir)?;
            let docs = stack.settings.repo_root.join(out_dir);
            bench::report::render_all(&inputs, &docs)?;
            // The archive's report is its own page, rewritten from its figures too.
            if let Some(archive) = bench::parts::load::<bench::parts::archive::ArchiveResults>(
                &results_dir,
                bench::parts::Part::Archive,
            )? {
                bench::report::archive::write(&archive, &docs)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
