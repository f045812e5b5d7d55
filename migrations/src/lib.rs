//! The ClickHouse migration runner.
//!
//! Migrations are the files `NNNN_name.sql` beside this crate, one statement each
//! (so no SQL splitting is needed), applied in version order. Each applied version is
//! recorded in `schema_migrations`; re-running applies only what is new. A failing
//! migration stops the run with the file name and ClickHouse's message.
//! On a single server, unqualified table names resolve to the configured database.
//!
//! The same files serve a single server and a cluster: [`template`] explains the
//! `{{...}}` placeholders that name what a migration creates, and how they render for
//! each [`Target`]. On a single server the files run exactly as written.
//!
//! Layout: this file discovers and applies migrations; [`template`] renders them;
//! `src/main.rs` is the `migrate` binary.

pub mod retention;
pub mod template;

use clickhouse::sql::Identifier;
use clickhouse::Client;
pub use retention::{apply_retention, Retention};
use std::path::{Path, PathBuf};
pub use template::{ClusterName, Target, TemplateError};

/// One migration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The `NNNN` prefix.
    pub version: u32,
    /// The file name, e.g. `0001_create_user_tags.sql`.
    pub file_name: String,
    /// The statement as written, placeholders included (see [`template`]).
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
    #[error("migration {file_name} failed")]
    Failed {
        /// The file that failed.
        file_name: String,
        /// ClickHouse's refusal.
        #[source]
        source: clickhouse::error::Error,
    },
    /// ClickHouse refused the retention window.
    #[error("setting the retention window failed")]
    Retention(#[source] clickhouse::error::Error),
    /// A migration's placeholders do not render for the target.
    #[error("migration {file_name}: {source}")]
    Template {
        /// The file.
        file_name: String,
        /// What is wrong with it.
        #[source]
        source: TemplateError,
    },
    /// On a cluster the database name appears unquoted in paths and engine arguments.
    #[error("database name {0:?} cannot be used on a cluster: expected letters, digits and '_'")]
    ClusterDatabaseName(String),
    /// The bookkeeping queries failed (ClickHouse unreachable, for instance).
    #[error("clickhouse")]
    ClickHouse(#[from] clickhouse::error::Error),
}

impl Migration {
    /// The statements this migration runs on `target` in `database`, in order: one on a
    /// single server (the file as written), two on a cluster for a table (the local
    /// table, then the Distributed table over it).
    pub fn statements(
        &self,
        target: &Target,
        database: &str,
    ) -> Result<Vec<String>, MigrationError> {
        template::render(&self.sql, target, database).map_err(|source| MigrationError::Template {
            file_name: self.file_name.clone(),
            source,
        })
    }
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

/// Checks that `database` can be used on `target` (on a cluster its name appears
/// unquoted in replication paths and engine arguments).
pub fn check_database(target: &Target, database: &str) -> Result<(), MigrationError> {
    match target {
        Target::Cluster(_) if !template::is_plain_identifier(database) => {
            Err(MigrationError::ClusterDatabaseName(database.to_owned()))
        }
        _ => Ok(()),
    }
}

/// Creates `database` if needed and applies the migrations of `dir` not yet recorded there,
/// on a single server. Returns the file names applied by this run.
pub async fn apply(
    server: &Client,
    database: &str,
    dir: &Path,
) -> Result<Vec<String>, MigrationError> {
    apply_to(server, database, dir, &Target::SingleNode).await
}

/// Like [`apply`], on `target`. On a cluster, `server` is any server of it: the
/// database, `schema_migrations` and every migration are created `ON CLUSTER`, and
/// `schema_migrations` is replicated to every server, so the next run may use another
/// one. Every pending migration is rendered before the first one runs, so a bad
/// placeholder stops the run before it changes anything.
pub async fn apply_to(
    server: &Client,
    database: &str,
    dir: &Path,
    target: &Target,
) -> Result<Vec<String>, MigrationError> {
    let migrations = discover(dir)?;
    let client = server.clone().with_database(database);
    match target {
        Target::SingleNode => {
            server
                .query("CREATE DATABASE IF NOT EXISTS ?")
                .bind(Identifier(database))
                .execute()
                .await?;
            client
                .query(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, file_name String, applied_at DateTime DEFAULT now()) \
                     ENGINE = MergeTree ORDER BY version",
                )
                .execute()
                .await?;
        }
        Target::Cluster(cluster) => {
            check_database(target, database)?;
            server
                .query(&format!(
                    "CREATE DATABASE IF NOT EXISTS {database} ON CLUSTER {cluster}"
                ))
                .execute()
                .await?;
            // One replicated log of applied versions for the whole cluster: the path has
            // no {shard}, so each server needs a replica name unique across the cluster.
            client
                .query(&format!(
                    "CREATE TABLE IF NOT EXISTS {database}.schema_migrations ON CLUSTER {cluster} \
                     (version UInt32, file_name String, applied_at DateTime DEFAULT now()) \
                     ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/schema_migrations', '{{shard}}-{{replica}}') \
                     ORDER BY version"
                ))
                .execute()
                .await?;
        }
    }
    let applied: Vec<u32> = client
        .query("SELECT version FROM schema_migrations")
        .fetch_all()
        .await?;
    let pending = migrations
        .into_iter()
        .filter(|migration| !applied.contains(&migration.version))
        .map(|migration| {
            let statements = migration.statements(target, database)?;
            Ok((migration, statements))
        })
        .collect::<Result<Vec<_>, MigrationError>>()?;
    let mut newly_applied = Vec::new();
    for (migration, statements) in pending {
        tracing::info!(file = %migration.file_name, database, "applying migration");
        for statement in &statements {
            client
                .query(statement)
                .execute()
                .await
                .map_err(|source| MigrationError::Failed {
                    file_name: migration.file_name.clone(),
                    source,
                })?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_needs_a_database_name_usable_unquoted() {
        let cluster = Target::Cluster("prod".parse().expect("cluster name"));
        assert!(check_database(&cluster, "allezon_v2").is_ok());
        assert!(matches!(
            check_database(&cluster, "allezon-v2"),
            Err(MigrationError::ClusterDatabaseName(name)) if name == "allezon-v2"
        ));
        assert!(check_database(&Target::SingleNode, "allezon-v2").is_ok());
    }
}
