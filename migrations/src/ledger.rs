//! The ledger of applied migrations, `schema_migrations`, and the rule it enforces: a
//! migration is frozen once applied.
//!
//! The problem: the runner applies a version once and never again, so a file edited
//! after a database applied it changes nothing there. That database silently keeps
//! the old schema while every new one gets the new: `0001_create_user_tags.sql` was
//! edited five times that way before this ledger kept checksums.
//!
//! The policy, as Flyway, sqlx and refinery have it: each applied migration is recorded
//! with its version, its file name and its [`checksum`] (SHA-256 of the file, comments
//! included, line endings read as LF). Before a run applies anything, every recorded
//! migration is compared with the file of its version, and the run stops, naming the
//! file, when one was edited or renamed since: a change goes into a new migration, and
//! a database made by other files is rebuilt (docs/operations.md, "Migrations are
//! frozen"). A recorded version with no file (a database migrated by a newer release)
//! is left alone, as before.
//!
//! Databases migrated before the ledger kept checksums (the runner up to 3ea1401)
//! record their versions without one: nothing says which text of each file made them.
//! A run refuses them too, listing the files, until an operator who knows they were
//! made by these files records the checksums once (`migrate --accept-unverified`, see
//! [`crate::accept_unverified`]), or rebuilds them. That record is a row of its own
//! beside the original one (same version, name and `applied_at`, with the checksum),
//! so the ledger is only ever inserted into, on one server as on a cluster.

use crate::{Migration, MigrationError};
use clickhouse::Row;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The checksum the ledger records for a migration file's `bytes`: lower-case hex
/// SHA-256 of the file with every CRLF read as LF (a checkout that converts line
/// endings is not an edit).
pub fn checksum(bytes: &[u8]) -> String {
    let mut hasher = Sha256::new();
    let mut rest = bytes;
    while let Some(at) = rest.windows(2).position(|pair| pair == b"\r\n") {
        hasher.update(&rest[..at]);
        hasher.update(b"\n");
        rest = &rest[at + 2..];
    }
    hasher.update(rest);
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The ledger's columns, in order. The checksum is empty in rows recorded before
/// checksums were kept.
pub(crate) const COLUMNS: &str =
    "(version UInt32, file_name String, checksum String DEFAULT '', applied_at DateTime DEFAULT now())";

/// Gives a ledger created before checksums were kept its checksum column (a no-op on
/// any other). Binds nothing; `{on_cluster}` is empty or ` ON CLUSTER c`.
pub(crate) fn add_checksum_column(table: &str, on_cluster: &str) -> String {
    format!(
        "ALTER TABLE {table}{on_cluster} ADD COLUMN IF NOT EXISTS checksum String DEFAULT '' AFTER file_name"
    )
}

/// Reads every row of the ledger.
pub(crate) const READ: &str = "SELECT ?fields FROM schema_migrations ORDER BY version";

/// Records an applied migration. Binds: version, file name, checksum.
pub(crate) const RECORD: &str =
    "INSERT INTO schema_migrations (version, file_name, checksum) VALUES (?, ?, ?)";

/// Records the checksum of a version applied before checksums were kept, beside its
/// original row and with its time. Binds: checksum, version.
pub(crate) const ACCEPT: &str = "\
    INSERT INTO schema_migrations (version, file_name, checksum, applied_at) \
    SELECT version, any(file_name), ?, min(applied_at) FROM schema_migrations \
    WHERE version = ? GROUP BY version";

/// One row of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Row, Deserialize)]
pub struct Recorded {
    /// The migration's version.
    pub version: u32,
    /// Its file name when it was applied.
    pub file_name: String,
    /// Its file's checksum when it was applied; empty if applied before checksums were
    /// kept.
    pub checksum: String,
}

/// What the ledger says about the migrations of a folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verified {
    /// Versions applied with these very files.
    pub applied: Vec<u32>,
    /// Versions applied before checksums were kept (by these files or not: nothing
    /// says), with the file of each.
    pub unverified: Vec<(u32, String)>,
}

/// Compares the ledger of `database` with `migrations` (in version order). Refuses the
/// first migration, in version order, that was applied under another name or with
/// another checksum.
pub fn verify(
    database: &str,
    migrations: &[Migration],
    recorded: &[Recorded],
) -> Result<Verified, MigrationError> {
    let mut by_version: BTreeMap<u32, Vec<&Recorded>> = BTreeMap::new();
    for row in recorded {
        by_version.entry(row.version).or_default().push(row);
    }
    let mut verified = Verified::default();
    for migration in migrations {
        let Some(rows) = by_version.remove(&migration.version) else {
            continue;
        };
        if let Some(renamed) = rows.iter().find(|row| row.file_name != migration.file_name) {
            return Err(MigrationError::Renamed {
                database: database.to_owned(),
                version: migration.version,
                recorded: renamed.file_name.clone(),
                file_name: migration.file_name.clone(),
            });
        }
        let checksums: Vec<&str> = rows
            .iter()
            .map(|row| row.checksum.as_str())
            .filter(|checksum| !checksum.is_empty())
            .collect();
        if let Some(other) = checksums
            .iter()
            .find(|checksum| **checksum != migration.checksum)
        {
            return Err(MigrationError::Edited {
                database: database.to_owned(),
                file_name: migration.file_name.clone(),
                recorded: (*other).to_owned(),
                current: migration.checksum.clone(),
            });
        }
        if checksums.is_empty() {
            verified
                .unverified
                .push((migration.version, migration.file_name.clone()));
        } else {
            verified.applied.push(migration.version);
        }
    }
    for (version, rows) in by_version {
        tracing::warn!(
            database,
            version,
            file_name = rows.first().map_or("", |row| row.file_name.as_str()),
            "a recorded migration has no file here (applied by a newer release?); left alone"
        );
    }
    Ok(verified)
}

/// The refusal of a database whose ledger holds versions without a checksum.
pub(crate) fn unverified_error(database: &str, unverified: &[(u32, String)]) -> MigrationError {
    MigrationError::Unverified {
        database: database.to_owned(),
        file_names: unverified
            .iter()
            .map(|(_, file_name)| file_name.clone())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migration(version: u32, text: &str) -> Migration {
        Migration {
            version,
            file_name: format!("{version:04}_m.sql"),
            sql: text.to_owned(),
            checksum: checksum(text.as_bytes()),
        }
    }

    fn row(version: u32, file_name: &str, checksum: &str) -> Recorded {
        Recorded {
            version,
            file_name: file_name.to_owned(),
            checksum: checksum.to_owned(),
        }
    }

    #[test]
    fn the_checksum_is_sha256_of_the_file_with_crlf_read_as_lf() {
        assert_eq!(
            checksum(b"hello world"),
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert_eq!(checksum(b"a\r\nb\r\n"), checksum(b"a\nb\n"));
        assert_ne!(checksum(b"a\nb"), checksum(b"a\n b"));
        assert_ne!(checksum(b"a\rb"), checksum(b"a\nb"), "a lone CR is kept");
    }

    #[test]
    fn recorded_checksums_must_match_their_files() {
        let files = [migration(1, "CREATE a"), migration(2, "CREATE b")];
        let recorded = [row(1, "0001_m.sql", &files[0].checksum)];
        assert_eq!(
            verify("d", &files, &recorded).expect("same files"),
            Verified {
                applied: vec![1],
                unverified: Vec::new()
            }
        );

        let edited = [migration(1, "CREATE a -- edited"), migration(2, "CREATE b")];
        match verify("d", &edited, &recorded) {
            Err(MigrationError::Edited {
                database,
                file_name,
                recorded,
                current,
            }) => {
                assert_eq!((database.as_str(), file_name.as_str()), ("d", "0001_m.sql"));
                assert_eq!(recorded, files[0].checksum);
                assert_eq!(current, edited[0].checksum);
            }
            other => panic!("an edited migration passed: {other:?}"),
        }

        let renamed = [row(1, "0001_old_name.sql", &files[0].checksum)];
        assert!(matches!(
            verify("d", &files, &renamed),
            Err(MigrationError::Renamed { version: 1, recorded, .. }) if recorded == "0001_old_name.sql"
        ));
    }

    #[test]
    fn versions_without_a_checksum_are_unverified_until_one_is_recorded() {
        let files = [migration(1, "CREATE a"), migration(2, "CREATE b")];
        let legacy = [row(1, "0001_m.sql", ""), row(2, "0002_m.sql", "")];
        assert_eq!(
            verify("d", &files, &legacy).expect("not edited"),
            Verified {
                applied: Vec::new(),
                unverified: vec![(1, "0001_m.sql".to_owned()), (2, "0002_m.sql".to_owned())]
            }
        );
        // Accepted: the row with the checksum beside the original one decides.
        let mut accepted = legacy.to_vec();
        accepted.push(row(1, "0001_m.sql", &files[0].checksum));
        accepted.push(row(2, "0002_m.sql", "0000"));
        let verdict = verify("d", &files, &accepted);
        assert!(
            matches!(&verdict, Err(MigrationError::Edited { file_name, .. }) if file_name == "0002_m.sql"),
            "{verdict:?}"
        );
    }

    #[test]
    fn the_refusals_name_the_file_and_say_what_to_do() {
        let edited = MigrationError::Edited {
            database: "allezon".to_owned(),
            file_name: "0001_create_user_tags.sql".to_owned(),
            recorded: "aa".to_owned(),
            current: "bb".to_owned(),
        }
        .to_string();
        assert!(edited.contains("0001_create_user_tags.sql"), "{edited}");
        assert!(edited.contains("new migration"), "{edited}");
        assert!(edited.contains("docs/operations.md"), "{edited}");
        let unverified =
            unverified_error("allezon", &[(1, "0001_create_user_tags.sql".to_owned())]).to_string();
        assert!(
            unverified.contains("0001_create_user_tags.sql"),
            "{unverified}"
        );
        assert!(unverified.contains("--accept-unverified"), "{unverified}");
        assert!(unverified.contains("docs/operations.md"), "{unverified}");
    }
}
