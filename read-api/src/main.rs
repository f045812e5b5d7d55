//! The read-api binary: parse settings, serve until SIGTERM.

use clap::Parser;
use read_api::Application;
use read_api::Config;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    service_kit::telemetry::init(&config.log);
    let application = match Application::build(config).await {
        Ok(application) => application,
        Err(error) => {
            tracing::error!(error = %error, "read-api failed to start");
            return ExitCode::FAILURE;
        }
    };
    application.run_until(service_kit::shutdown::signal()).await;
    ExitCode::SUCCESS
}
