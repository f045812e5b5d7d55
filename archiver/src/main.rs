//! The archiver binary: parse settings, then archive until SIGTERM, or verify.

use archiver::{Application, Config, Mode};
use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    service_kit::telemetry::init(&config.log);
    match config.mode.clone() {
        None => archive(config).await,
        Some(Mode::Verify { json_out }) => {
            match archiver::verify_archive(&config).await {
                Ok(report) => {
                    let json = serde_json::to_string_pretty(&report).unwrap_or_default();
                    if let Some(path) = json_out {
                        if let Err(error) = std::fs::write(&path, &json) {
                            tracing::error!(%error, path = %path.display(), "report not written");
                            return ExitCode::from(2);
                        }
                    }
                    println!("{json}");
                    let records: u64 = report.partitions.iter().map(|p| p.records).sum();
                    if report.passed() {
                        println!("archive verified: {} partitions, {records} records, no gap, no overlap", report.partitions.len());
                        ExitCode::SUCCESS
                    } else {
                        println!("archive NOT verified: {} problems", report.problems.len());
                        ExitCode::from(1)
                    }
                }
                Err(error) => {
                    tracing::error!(error = %service_kit::error::chain(&error), "verify failed");
                    ExitCode::from(2)
                }
            }
        }
    }
}

async fn archive(config: Config) -> ExitCode {
    let application = match Application::build(config).await {
        Ok(application) => application,
        Err(error) => {
            tracing::error!(error = %service_kit::error::chain(&error), "archiver failed to start");
            return ExitCode::FAILURE;
        }
    };
    match application.run_until(service_kit::shutdown::signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %service_kit::error::chain(&error), "archiver stopped on error");
            ExitCode::FAILURE
        }
    }
}
