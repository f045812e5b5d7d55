//! `schemas`: the schema evolution tool.
//!
//! - `check`: every version in `schemas/avro/` can read data of the one before it
//!   (apache-avro's compatibility checker), and every file there is bundled;
//! - `register`: pushes every version, oldest first, to a Confluent registry under
//!   `<topic>-value` (the registry enforces its own compatibility level too);
//! - `show`: prints the current version and its schema.

use clap::{Parser, Subcommand};
use schemas::avro;
use schemas::SchemaCatalog;
use std::path::PathBuf;
use std::process::ExitCode;

/// Checks, registers and shows the user-tag Avro schemas.
#[derive(Debug, Parser)]
#[command(name = "schemas", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Proves each version is backward compatible with every version before it; on
    /// the bundled folder (the default) also that every file there is bundled.
    Check {
        /// Folder of `user_tag.vN.avsc` files (default: the bundled one).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Also require the folder's versions to be exactly the bundled ones (always on
        /// for the bundled folder).
        #[arg(long)]
        require_bundled: bool,
    },
    /// Registers every version, oldest first.
    Register {
        /// Schema registry URL.
        #[arg(long, env = "SCHEMA_REGISTRY_URL")]
        url: String,
        /// Tag topic; the subject is `<topic>-value`.
        #[arg(long, env = "KAFKA_TOPIC", default_value = "user-tags")]
        topic: String,
    },
    /// Prints the current version and its schema.
    Show,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Check {
            dir,
            require_bundled,
        } => check(dir, require_bundled),
        Command::Register { url, topic } => register(&url, &topic).await,
        Command::Show => {
            let current = avro::current_version();
            println!("version {}\n{}", current.version, current.text.trim_end());
            ExitCode::SUCCESS
        }
    }
}

fn check(dir: Option<PathBuf>, require_bundled: bool) -> ExitCode {
    let require_bundled = require_bundled || dir.is_none();
    let dir = dir.unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("avro"));
    let files = match versions_in(&dir) {
        Ok(files) => files,
        Err(message) => {
            eprintln!("schemas check: {message}");
            return ExitCode::FAILURE;
        }
    };
    let on_disk: Vec<u32> = files.iter().map(|(version, _)| *version).collect();
    let pairs: Vec<(u32, &str)> = files
        .iter()
        .map(|(version, text)| (*version, text.as_str()))
        .collect();
    for (version, text) in &pairs {
        if let Err(error) = avro::parse_schema(text) {
            eprintln!(
                "schemas check: version {version}: {}",
                service_kit_free_chain(&error)
            );
            return ExitCode::FAILURE;
        }
    }
    if let Err(error) = avro::check_backward(&pairs) {
        eprintln!("schemas check: {error}");
        return ExitCode::FAILURE;
    }
    if require_bundled {
        let bundled: Vec<u32> = avro::VERSIONS
            .iter()
            .map(|version| version.version)
            .collect();
        if on_disk != bundled {
            eprintln!("schemas check: files in {} are versions {on_disk:?} but avro::VERSIONS bundles {bundled:?}", dir.display());
            return ExitCode::FAILURE;
        }
        let edited: Vec<u32> = avro::VERSIONS
            .iter()
            .zip(&pairs)
            .filter(|(version, (_, text))| version.text != *text)
            .map(|(version, _)| version.version)
            .collect();
        if !edited.is_empty() {
            eprintln!("schemas check: versions {edited:?} in {} differ from what avro::VERSIONS bundles (a released version never changes: add a new one)", dir.display());
            return ExitCode::FAILURE;
        }
    }
    match on_disk.as_slice() {
        [] => {
            eprintln!("schemas check: no user_tag.vN.avsc in {}", dir.display());
            ExitCode::FAILURE
        }
        [only] => {
            println!("schemas check: version {only} parses; there is no older version to be compatible with");
            ExitCode::SUCCESS
        }
        _ => {
            println!("schemas check: versions {on_disk:?} are each backward compatible with every version before");
            ExitCode::SUCCESS
        }
    }
}

/// An error and its causes on one line (the schemas crate does not depend on
/// service-kit).
fn service_kit_free_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// `(version, text)` of every `user_tag.vN.avsc` in `dir`, by version.
fn versions_in(dir: &std::path::Path) -> Result<Vec<(u32, String)>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|error| format!("cannot read {}: {error}", dir.display()))?;
    let mut versions = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(version) = name
            .strip_prefix("user_tag.v")
            .and_then(|rest| rest.strip_suffix(".avsc"))
        else {
            continue;
        };
        let version = version
            .parse::<u32>()
            .map_err(|_| format!("bad schema file name {name}"))?;
        let text = std::fs::read_to_string(entry.path())
            .map_err(|error| format!("cannot read {name}: {error}"))?;
        versions.push((version, text));
    }
    versions.sort_by_key(|(version, _)| *version);
    Ok(versions)
}

async fn register(url: &str, topic: &str) -> ExitCode {
    let catalog = match SchemaCatalog::from_registry_url(Some(url)) {
        Ok(catalog) => catalog,
        Err(error) => {
            eprintln!("schemas register: {error}");
            return ExitCode::FAILURE;
        }
    };
    let subject = SchemaCatalog::subject_for_topic(topic);
    for version in avro::VERSIONS {
        match catalog.register(&subject, version.text).await {
            Ok(id) => println!(
                "version {} registered under {subject} with id {id}",
                version.version
            ),
            Err(error) => {
                eprintln!("schemas register: version {}: {error}", version.version);
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
