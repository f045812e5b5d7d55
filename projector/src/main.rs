//! The projector binary: parse settings, project until SIGTERM.

use clap::Parser;
use projector::config::{Config, Mode};
use projector::startup::Application;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    service_kit::telemetry::init(&config.log);
    if let Some(Mode::Rebuild {
        target_database,
        migrations_dir,
    }) = config.mode.clone()
    {
        return match projector::rebuild::rebuild(config, &target_database, &migrations_dir).await {
            Ok(report) => {
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
        };
    }
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
