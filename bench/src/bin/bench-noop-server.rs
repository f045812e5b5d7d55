//! `bench-noop-server`: the write path's floor (see `bench::noop`). Serves until SIGTERM.

use clap::Parser;
use service_kit::settings::{parse_listen, LogSettings};
use std::net::SocketAddr;
use std::process::ExitCode;

/// Answers POST /user_tags with 204 without parsing: the CPU floor write-api is compared with.
#[derive(Debug, Parser)]
#[command(name = "bench-noop-server")]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "BENCH_NOOP_LISTEN", default_value = "127.0.0.1:18090", value_parser = parse_listen)]
    listen: SocketAddr,
    #[command(flatten)]
    log: LogSettings,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    service_kit::telemetry::init(&cli.log);
    let listener = match tokio::net::TcpListener::bind(cli.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(listen = %cli.listen, error = %error, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    service_kit::http::serve(
        listener,
        bench::noop::router(),
        service_kit::shutdown::signal(),
        "bench-noop-server",
    )
    .await;
    ExitCode::SUCCESS
}
