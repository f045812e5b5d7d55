//! The ClickHouse migration runner.
//!
//! Migrations are the files `NNNN_name.sql` beside this crate, one statement each
//! (so no SQL splitting is needed), applied in version order. Each applied version is
//! recorded in `schema_migrations` with its file's checksum; re-running applies only
//! what is new, and refuses to run at all when a recorded migration's file was edited
//! since ([`ledger`]: an applied migration is frozen). A failing migration stops the
//! run with the file name and ClickHouse's message.
//! On a single server, unqualified table names resolve to the configured database.
//!
//! The same files serve a single server and a cluster: [`template`] explains the
//! `{{...}}` placeholders that name what a migration creates, and how they render for
//! each [`Target`]. On a single server the files run exactly as written.
//!
//! Layout: this file discovers and applies migrations; [`ledger`] records them and
//! checks what was recorded; [`template`] renders them; `src/main.rs` is the `migrate`
//! binary. `released.sha256` beside the files lists the released ones (merged into
//! main) with their checksums, in `sha256sum` format; the tests hold every listed file
//! to its checksum and upgrade a database made by that set to the current one.

pub mod ledger;
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
    /// The file's [`ledger::checksum`].
    pub checksum: String,
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
    /// A recorded migration's file changed after the database applied it.
    #[error(
        "migration {file_name} was edited after database {database} applied it (checksum recorded {recorded}, file now {current}): \
         an applied migration is frozen, so restore the file and put the change in a new migration; \
         a database made by other files is rebuilt (docs/operations.md, \"Migrations are frozen\")"
    )]
    Edited {
        /// The database.
        database: String,
        /// The file.
        file_name: String,
        /// The checksum the database recorded.
        recorded: String,
        /// The file's checksum now.
        current: String,
    },
    /// A recorded migration's version now has a file of another name.
    #[error(
        "migration {version} was applied to database {database} as {recorded}, but its file is now {file_name}: \
         an applied migration is frozen, so restore its name (docs/operations.md, \"Migrations are frozen\")"
    )]
    Renamed {
        /// The database.
        database: String,
        /// The version.
        version: u32,
        /// The file name the database recorded.
        recorded: String,
        /// The file's name now.
        file_name: String,
    },
    /// Versions recorded before the ledger kept checksums: nothing says which files made
    /// them.
    #[error(
        "database {database} recorded {} migrations without a checksum, before migrate kept them ({}): \
         nothing says these files made it; rebuild it, or, if these very files made it, \
         record their checksums once with `migrate --accept-unverified` (docs/operations.md, \"Migrations are frozen\")",
        file_names.len(),
        file_names.join(", ")
    )]
    Unverified {
        /// The database.
        database: String,
        /// The files of the unverified versions, in version order.
        file_names: Vec<String>,
    },
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
        let bytes = std::fs::read(&path).map_err(read_dir_error)?;
        let sql = String::from_utf8(bytes.clone()).map_err(|error| {
            read_dir_error(std::io::Error::new(std::io::ErrorKind::InvalidData, error))
        })?;
        migrations.push(Migration {
            version,
            file_name,
            sql: sql.trim().trim_end_matches(';').to_owned(),
            checksum: ledger::checksum(&bytes),
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
        Target::Cluster(_) | Target::UnreplicatedShards(_)
            if !template::is_plain_identifier(database) =>
        {
            Err(MigrationError::ClusterDatabaseName(database.to_owned()))
        }
        _ => Ok(()),
    }
}

/// Creates `database` if needed and applies the migrations of `dir` not yet recorded there,
/// on a single server. Returns the file names applied by this run. Refuses to apply
/// anything when a recorded migration's file changed since, or when versions were
/// recorded without a checksum ([`ledger`]).
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
    prepare_ledger(server, database, target).await?;
    let recorded: Vec<ledger::Recorded> = client.query(ledger::READ).fetch_all().await?;
    let verified = ledger::verify(database, &migrations, &recorded)?;
    if !verified.unverified.is_empty() {
        return Err(ledger::unverified_error(database, &verified.unverified));
    }
    let pending = migrations
        .into_iter()
        .filter(|migration| !verified.applied.contains(&migration.version))
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
            .query(ledger::RECORD)
            .bind(migration.version)
            .bind(&migration.file_name)
            .bind(&migration.checksum)
            .execute()
            .await?;
        newly_applied.push(migration.file_name);
    }
    Ok(newly_applied)
}

/// Records the checksums of the files of `dir` for the versions `database` recorded
/// without one (applied before the ledger kept checksums), so that [`apply_to`] takes
/// them as applied by these files from now on. An operator's decision, made once per
/// database: only for a database known to have been made by these very files. Still
/// refuses a migration recorded with another checksum or name. Returns the file names
/// whose checksums were recorded.
pub async fn accept_unverified(
    server: &Client,
    database: &str,
    dir: &Path,
    target: &Target,
) -> Result<Vec<String>, MigrationError> {
    let migrations = discover(dir)?;
    let client = server.clone().with_database(database);
    prepare_ledger(server, database, target).await?;
    let recorded: Vec<ledger::Recorded> = client.query(ledger::READ).fetch_all().await?;
    let verified = ledger::verify(database, &migrations, &recorded)?;
    let mut accepted = Vec::new();
    for (version, file_name) in verified.unverified {
        let Some(migration) = migrations
            .iter()
            .find(|migration| migration.version == version)
        else {
            continue;
        };
        tracing::warn!(file = %file_name, database, checksum = %migration.checksum, "recording the checksum of a migration applied before checksums were kept, as told");
        client
            .query(ledger::ACCEPT)
            .bind(&migration.checksum)
            .bind(version)
            .execute()
            .await?;
        accepted.push(file_name);
    }
    Ok(accepted)
}

/// Creates `database` and its ledger if needed, and gives a ledger made before
/// checksums were kept its checksum column.
async fn prepare_ledger(
    server: &Client,
    database: &str,
    target: &Target,
) -> Result<(), MigrationError> {
    let client = server.clone().with_database(database);
    check_database(target, database)?;
    match target {
        // Unreplicated shards keep a ledger each: migrate applies to each in turn.
        Target::SingleNode | Target::UnreplicatedShards(_) => {
            server
                .query("CREATE DATABASE IF NOT EXISTS ?")
                .bind(Identifier(database))
                .execute()
                .await?;
            client
                .query(&format!(
                    "CREATE TABLE IF NOT EXISTS schema_migrations {} ENGINE = MergeTree ORDER BY version",
                    ledger::COLUMNS
                ))
                .execute()
                .await?;
            client
                .query(&ledger::add_checksum_column("schema_migrations", ""))
                .execute()
                .await?;
        }
        Target::Cluster(cluster) => {
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
                     {} \
                     ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/schema_migrations', '{{shard}}-{{replica}}') \
                     ORDER BY version",
                    ledger::COLUMNS
                ))
                .execute()
                .await?;
            client
                .query(&ledger::add_checksum_column(
                    &format!("{database}.schema_migrations"),
                    &format!(" ON CLUSTER {cluster}"),
                ))
                .execute()
                .await?;
        }
    }
    Ok(())
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
