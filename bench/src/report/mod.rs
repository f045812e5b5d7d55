//! `bench report`: assembles `docs/benchmarks.md` (every figure beside its limit) and the detail reports `docs/bench-write.md`,
//! `bench-projector.md`, `bench-read.md` and `bench-burst.md` from the results files each part wrote
//! (`.stack/bench/*.json`; `make soak`'s and `make chaos`'s too, for the cost targets). Medians, ratios and verdicts are computed here, from every
//! run's raw figures; a part that has not run shows as 'not run' in the summary and
//! leaves its detail report alone. A part run below its default sizes (a smoke run)
//! marks every report it appears in, at the top.
//!
//! Layout: [`format`] (numbers, tables), [`template`] (the prose: Markdown templates under
//! `bench/templates/`), one module
//! per detail report ([`write`], [`projector`], [`read`], [`burst`]) that also gives its rows of
//! the summary, [`targets`] (issue 24's cost targets, each from the run that measures it)
//! and [`summary`] (the whole-platform rows and `benchmarks.md`).

pub mod archive;
pub mod burst;
pub mod format;
pub mod projector;
pub mod read;
pub mod soak;
pub mod summary;
pub mod targets;
pub mod template;
pub mod write;

use crate::error::BenchError;
use crate::machine::RunInfo;
use crate::parts::burst::BurstResults;
use crate::parts::e2e::E2eResults;
use crate::parts::projector::ProjectorResults;
use crate::parts::read::ReadResults;
use crate::parts::soak::SoakResults;
use crate::parts::write::WriteResults;
use crate::parts::{load, Part};
use std::path::{Path, PathBuf};
use targets::ChaosRecoveries;

/// The results files found.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// `write.json`.
    pub write: Option<WriteResults>,
    /// `projector.json`.
    pub projector: Option<ProjectorResults>,
    /// `read.json`.
    pub read: Option<ReadResults>,
    /// `burst.json`.
    pub burst: Option<BurstResults>,
    /// `e2e.json`.
    pub e2e: Option<E2eResults>,
    /// `soak.json` (`make soak`): the day's data at the contract's load, for the cost
    /// targets.
    pub soak: Option<SoakResults>,
    /// `make chaos`'s report (`../chaos/report.json` beside the results directory): the
    /// projector's kills, for the cost targets.
    pub chaos: Option<ChaosRecoveries>,
}

impl Inputs {
    /// Reads whatever results `dir` holds.
    pub fn load(dir: &Path) -> Result<Self, BenchError> {
        Ok(Self {
            write: load(dir, Part::Write)?,
            projector: load(dir, Part::Projector)?,
            read: load(dir, Part::Read)?,
            burst: load(dir, Part::Burst)?,
            e2e: load(dir, Part::E2e)?,
            soak: load(dir, Part::Soak)?,
            chaos: dir
                .parent()
                .and_then(|stack| ChaosRecoveries::load(&stack.join("chaos").join("report.json"))),
        })
    }

    /// The provenance of each part present, by name.
    pub fn runs(&self) -> Vec<(&'static str, &RunInfo)> {
        let mut runs = Vec::new();
        if let Some(write) = &self.write {
            runs.push(("write path", &write.info));
        }
        if let Some(projector) = &self.projector {
            runs.push(("projector", &projector.info));
        }
        if let Some(read) = &self.read {
            runs.push(("read path", &read.info));
        }
        if let Some(burst) = &self.burst {
            runs.push(("overload", &burst.info));
        }
        if let Some(e2e) = &self.e2e {
            runs.push(("whole platform", &e2e.info));
        }
        runs
    }
}

/// One row of the summary table.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// What is measured.
    pub figure: String,
    /// This run's figure.
    pub measured: String,
    /// Its limit or target (measured in the same run when it is a measurement).
    pub limit: String,
    /// The verdict, with the ratio when there is one.
    pub verdict: String,
}

impl SummaryRow {
    /// The cells in table order.
    pub fn cells(&self) -> Vec<String> {
        vec![
            self.figure.clone(),
            self.measured.clone(),
            self.limit.clone(),
            self.verdict.clone(),
        ]
    }

    /// A row for a part that has not run.
    pub fn not_run(figure: &str) -> Self {
        Self {
            figure: figure.to_owned(),
            measured: "not run".to_owned(),
            limit: String::new(),
            verdict: "not measured".to_owned(),
        }
    }
}

/// The banner of a report whose figures come from a smoke run.
pub fn smoke_banner(infos: &[&RunInfo]) -> String {
    if infos.iter().all(|info| info.full_size) {
        return String::new();
    }
    "> **Smoke run.** At least one part ran below its default sizes and durations (to prove \
     the benchmarks work, not to measure the platform): these figures are not the \
     benchmark. `make bench` on a quiet machine gives the real report.\n\n"
        .to_owned()
}

/// The provenance line of a detail report.
pub fn provenance(command: &str, info: &RunInfo, repeats: usize) -> String {
    format!(
        "Produced by `{command}` on {} at {}.\nMachine: {}; ClickHouse 26.9 (chdb-core), Tansu 0.6 (sqlite), nginx. \
         {}.\n",
        info.date(),
        info.commit,
        info.machine.describe(),
        if repeats == 1 {
            "One run".to_owned()
        } else {
            format!("Medians of {repeats} runs")
        }
    )
}

/// Writes `benchmarks.md` and the detail reports of the parts present into `out_dir`.
/// Returns the files written.
pub fn render_all(inputs: &Inputs, out_dir: &Path) -> Result<Vec<PathBuf>, BenchError> {
    std::fs::create_dir_all(out_dir)
        .map_err(BenchError::io(format!("creating {}", out_dir.display())))?;
    let mut documents = vec![("benchmarks.md", summary::render(inputs)?)];
    if let Some(results) = &inputs.write {
        documents.push(("bench-write.md", write::render(results)?));
    }
    if let Some(results) = &inputs.projector {
        documents.push(("bench-projector.md", projector::render(results)?));
    }
    if let Some(results) = &inputs.read {
        documents.push(("bench-read.md", read::render(results)?));
    }
    if let Some(results) = &inputs.burst {
        documents.push(("bench-burst.md", burst::render(results)?));
    }
    let mut written = Vec::new();
    for (name, text) in documents {
        let path = out_dir.join(name);
        std::fs::write(&path, text)
            .map_err(BenchError::io(format!("writing {}", path.display())))?;
        tracing::info!(path = %path.display(), "report written");
        written.push(path);
    }
    Ok(written)
}

/// Fails, quoting `text`, unless it says every one of `sentences` (the reports' tests).
#[cfg(test)]
#[track_caller]
pub(crate) fn assert_says(text: &str, sentences: &[&str]) {
    for sentence in sentences {
        assert!(text.contains(sentence), "{sentence}\n{text}");
    }
}
