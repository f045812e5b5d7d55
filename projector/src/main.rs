//! The projector binary: parse settings, project until SIGTERM.

use clap::Parser;
use projector::config::Config;
use projector::startup::Application;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    service_kit::telemetry::init(&config.log);
    let application = match Application::build(config).await {
        Ok(application) => application,
        Err(error) => {
            tracing::error!(error = %error, "projector failed to start");
            return ExitCode::FAILURE;
        }
    };
    match application.run_until(service_kit::shutdown::signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %error, "projector stopped on error");
            ExitCode::FAILURE
        }
    }
}
