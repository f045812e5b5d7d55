//! The ClickHouse client every service uses, plus its readiness probe.
//!
//! Rows are validated against the table schema (the `clickhouse` crate reads the
//! column names and types the server sends with RowBinaryWithNamesAndTypes), so a
//! migration that changes a column the code reads fails loudly instead of decoding
//! garbage.

use crate::health::DependencyStatus;
use crate::settings::ClickHouseSettings;
use clickhouse::Client;
use std::time::Duration;

/// A client for the configured database.
pub fn client(settings: &ClickHouseSettings) -> Client {
    server_client(settings).with_database(&settings.database)
}

/// A client without a database, for creating one.
pub fn server_client(settings: &ClickHouseSettings) -> Client {
    Client::default()
        .with_url(&settings.url)
        .with_user(&settings.user)
        .with_password(&settings.password)
}

/// Checks that ClickHouse answers `SELECT 1` within `timeout`.
pub async fn probe(client: &Client, timeout: Duration) -> DependencyStatus {
    let query = client.query("SELECT 1").fetch_one::<u8>();
    let error = match tokio::time::timeout(timeout, query).await {
        Ok(Ok(_)) => None,
        Ok(Err(error)) => Some(error.to_string()),
        Err(_) => Some(format!("no answer within {timeout:?}")),
    };
    DependencyStatus {
        name: "clickhouse",
        ready: error.is_none(),
        error,
    }
}
