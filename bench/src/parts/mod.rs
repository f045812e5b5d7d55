//! The benchmarks, one module per part of `make bench`, each with its flags (every size
//! and duration a flag with an environment fallback; the defaults are the full run),
//! its run, and the results it writes as JSON under the results directory
//! (`.stack/bench/<part>.json`), which `bench report` reads:
//! - [`write`]: write-api's CPU per accepted tag beside a no-op server's at the same
//!   fixed rates, latency at 1,000 tags/s from three sides, flat-out context;
//! - [`projector`]: catch-up on a backlog beside the raw consume rate;
//! - [`read`]: profiles and aggregates on a loaded day of tags, with ingestion through
//!   the front door, the highest profile rate served, ClickHouse's CPU and memory;
//! - [`burst`]: read-api under bursts and overload on the same loaded day: 200 profile
//!   queries at once on an idle stack, the sustained capacity, twice it (fast 503s for
//!   the excess), the recovery after;
//! - [`e2e`]: the whole platform at 1,000 tags/s through the front door, every answer
//!   checked (`loadgen run`), peak memory, bytes per tag;
//! - [`archive`]: the archive's bytes per tag, the archiver's CPU at 1,000 tags/s, the
//!   archive's freshness, and a rebuild from the archive timed against one from the
//!   broker (its own report, `docs/bench-archive.md`);
//! - [`soak`]: the contract's load on a loaded day for half an hour and more, per
//!   minute, then with short retention windows (`make soak`, its own report
//!   `docs/soak.md`).
//!
//! Each results file keeps every run's raw figures; medians, ratios and verdicts are
//! computed when the report is assembled, from the same numbers.

pub mod archive;
pub mod burst;
pub mod e2e;
pub mod projector;
pub mod read;
pub mod soak;
pub mod write;

use crate::error::BenchError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// A part of `make bench`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The write path.
    Write,
    /// The projector.
    Projector,
    /// The read path.
    Read,
    /// Bursts and overload of the read path.
    Burst,
    /// The whole platform.
    E2e,
    /// The soak.
    Soak,
    /// The archive.
    Archive,
}

impl Part {
    /// The results file's name.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Write => "write.json",
            Self::Projector => "projector.json",
            Self::Read => "read.json",
            Self::Burst => "burst.json",
            Self::E2e => "e2e.json",
            Self::Soak => "soak.json",
            Self::Archive => "archive.json",
        }
    }
}

/// Writes `results` of `part` into `dir`.
pub fn save<T: Serialize>(dir: &Path, part: Part, results: &T) -> Result<PathBuf, BenchError> {
    std::fs::create_dir_all(dir).map_err(BenchError::io(format!("creating {}", dir.display())))?;
    let path = dir.join(part.file_name());
    let text = serde_json::to_string_pretty(results).map_err(|source| BenchError::Results {
        path: path.clone(),
        source,
    })?;
    std::fs::write(&path, text).map_err(BenchError::io(format!("writing {}", path.display())))?;
    tracing::info!(path = %path.display(), "results written");
    Ok(path)
}

/// Reads the results of `part` from `dir`; `None` when that part has not run.
pub fn load<T: DeserializeOwned>(dir: &Path, part: Part) -> Result<Option<T>, BenchError> {
    let path = dir.join(part.file_name());
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(BenchError::Io {
                what: format!("reading {}", path.display()),
                source: error,
            })
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|source| BenchError::Results { path, source })
}

/// The median over runs of a figure each run may lack (`None` when no run has it).
pub fn median_of<T>(runs: &[T], figure: impl Fn(&T) -> Option<f64>) -> Option<f64> {
    crate::stats::median(runs.iter().filter_map(figure))
}
