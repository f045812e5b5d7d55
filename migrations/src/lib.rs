//! The ClickHouse migration runner.
//!
//! Migrations are the files `NNNN_name.sql` beside this crate, one statement each
//! (so no SQL splitting is needed), applied in version order. Each applied version is
//! recorded in `schema_migrations`; re-running applies only what is new. A failing
//! migration stops the run with the file name and ClickHouse's message.
//! Unqualified table names resolve to the configured database.

use clickhouse::sql::Identifier;
use clickhouse::Client;
use std::path::{Path, PathBuf};

/// One migration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The `NNNN` prefix.
    pub version: u32,
    /// The file name, e.g. `0001_create_user_tags.sql`.
    pub file_name: String,
    /// The statement.
    pub sql: String,
}

/// Why migrations could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// The migrations folder cannot be read.
    #[error("cannot read migrations in {path}")]
    ReadDir {
        /// The folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file name does not start with a version number, or two files share one.
    #[error("bad migration file name {0}: expected NNNN_name.sql with a unique NNNN")]
    BadFileName(String),
    /// ClickHouse refused a migration.
    #[error("migration {file_name} failed: {message}")]
    Failed {
        /// The file that failed.
        file_name: String,
        /// ClickHouse's message.
        message: String,
    },
    /// The bookkeeping queries failed (ClickHouse unreachable, for instance).
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
}

/// The migrations shipped in this repository.
pub fn bundled_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Reads and orders the migrations of `dir`.
pub fn discover(dir: &Path) -> Result<Vec<Migration>, MigrationError> {
    let read_dir_error = |source| MigrationError::ReadDir {
        path: dir.to_owned(),
        source,
    };
    let mut migrations = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_dir_error)? {
        let path = entry.map_err(read_dir_error)?.path();
        let file_name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default()
            .to_owned();
        if !file_name.ends_with(".sql") {
            continue;
        }
        let version = file_name
            .split_once('_')
            .and_then(|(prefix, _)| prefix.parse::<u32>().ok())
            .ok_or_else(|| MigrationError::BadFileName(file_name.clone()))?;
        let sql = std::fs::read_to_string(&path).map_err(read_dir_error)?;
        migrations.push(Migration {
            version,
            file_name,
            sql: sql.trim().trim_end_matches(';').to_owned(),
        });
    }
    migrations.sort_by_key(|migration| migration.version);
    if let Some(pair) = migrations
        .windows(2)
        .find(|pair| pair[0].version == pair[1].version)
    {
        return Err(MigrationError::BadFileName(pair[1].file_name.clone()));
    }
    Ok(migrations)
}

/// Creates `database` if needed and applies the migrations of `dir` not yet recorded there.
/// Returns the file names applied by this run.
pub async fn apply(
    server: &Client,
    database: &str,
    dir: &Path,
) -> Result<Vec<String>, MigrationError> {
    let migrations = discover(dir)?;
    server
        .query("CREATE DATABASE IF NOT EXISTS ?")
        .bind(Identifier(database))
        .execute()
        .await?;
    let client = server.clone().with_database(database);
    client
        .query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, file_name String, applied_at DateTime DEFAULT now()) \
             ENGINE = MergeTree ORDER BY version",
        )
        .execute()
        .await?;
    let applied: Vec<u32> = client
        .query("SELECT version FROM schema_migrations")
        .fetch_all()
        .await?;
    let mut newly_applied = Vec::new();
    for migration in migrations
        .into_iter()
        .filter(|migration| !applied.contains(&migration.version))
    {
        tracing::info!(file = %migration.file_name, database, "applying migration");
        client
            .query(&migration.sql)
            .execute()
            .await
            .map_err(|error| MigrationError::Failed {
                file_name: migration.file_name.clone(),
                message: error.to_string(),
            })?;
        client
            .query("INSERT INTO schema_migrations (version, file_name) VALUES (?, ?)")
            .bind(migration.version)
            .bind(&migration.file_name)
            .execute()
            .await?;
        newly_applied.push(migration.file_name);
    }
    Ok(newly_applied)
}
