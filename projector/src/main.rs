//! The projector binary: parse settings, then project until SIGTERM, or rebuild, or
//! reconcile.

use clap::Parser;
use projector::{Application, Config, Mode, ReconcileRequest};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    service_kit::telemetry::init(&config.log);
    match config.mode.clone() {
        None => project(config).await,
        Some(Mode::Snapshot { target_database }) => {
            let server = service_kit::clickhouse::server_client(&config.clickhouse);
            match projector::take_snapshot(&server, &config.clickhouse.database, &target_database)
                .await
            {
                Ok(rows) => {
                    println!(
                        "copied {rows} profile rows into database {target_database}; rebuild from it with --from-snapshot {target_database}"
                    );
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    tracing::error!(error = %service_kit::error::chain(&error), "snapshot failed");
                    ExitCode::FAILURE
                }
            }
        }
        Some(Mode::Rebuild {
            target_database,
            from_snapshot,
            from_archive,
            archive_url,
            migrations_dir,
        }) => match projector::rebuild(
            config,
            &target_database,
            &migrations_dir,
            from_snapshot.as_deref(),
            from_archive.then_some(archive_url.as_str()),
        )
        .await
        {
            Ok(report) => {
                if let Some(archive) = &report.archive {
                    println!(
                        "from the archive: {} records ({} tags) in {} files in {:.1} s, {:.0} records/s",
                        archive.records,
                        archive.tags,
                        archive.files,
                        archive.elapsed.as_secs_f64(),
                        archive.records_per_second()
                    );
                }
                println!(
                    "rebuilt {} messages into database {} in {:.1} s; switch with CLICKHOUSE_DATABASE={}",
                    report.messages,
                    report.database,
                    report.elapsed.as_secs_f64(),
                    report.database
                );
                ExitCode::SUCCESS
            }
            Err(error) => {
                tracing::error!(error = %service_kit::error::chain(&error), "rebuild failed");
                ExitCode::FAILURE
            }
        },
        Some(Mode::Reconcile {
            from,
            to,
            scratch_database,
            keep,
            json_out,
            metrics_out,
            migrations_dir,
        }) => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|elapsed| elapsed.as_secs())
                .unwrap_or_default();
            let request = ReconcileRequest {
                from,
                to,
                scratch_database: scratch_database
                    .unwrap_or_else(|| format!("{}_reconcile_{nanos}", config.clickhouse.database)),
                keep,
                json_out,
                metrics_out,
                migrations_dir,
            };
            match projector::reconcile(config, &request).await {
                Ok(report) => {
                    println!(
                        "reconciled {} to {}: {} minute and dimension combinations and {} rollup keys compared, {} tags in the log, {} live, {} differences ({:.1} s)",
                        report.from,
                        report.to,
                        report.combinations_compared,
                        report.rollup_keys_compared,
                        report.tags_in_log,
                        report.tags_live,
                        report.differences.len(),
                        report.seconds
                    );
                    for difference in &report.differences {
                        println!(
                            "  {}",
                            serde_json::to_string(difference).unwrap_or_default()
                        );
                    }
                    if report.differences.is_empty() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    }
                }
                Err(error) => {
                    tracing::error!(error = %service_kit::error::chain(&error), "reconcile failed");
                    ExitCode::from(2)
                }
            }
        }
    }
}

async fn project(config: Config) -> ExitCode {
    let application = match Application::build(config).await {
        Ok(application) => application,
        Err(error) => {
            tracing::error!(error = %service_kit::error::chain(&error), "projector failed to start");
            return ExitCode::FAILURE;
        }
    };
    match application.run_until(service_kit::shutdown::signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %service_kit::error::chain(&error), "projector stopped on error");
            ExitCode::FAILURE
        }
    }
}
