//! `docs/bench-archive.md` from `bench archive`'s figures: the prose, the tables and the
//! goals' checks are in `bench/templates/bench-archive.md`.

use crate::error::BenchError;
use crate::parts::archive::ArchiveResults;
use std::path::{Path, PathBuf};

/// Writes `bench-archive.md` into `docs_dir`; the file written.
pub fn write(results: &ArchiveResults, docs_dir: &Path) -> Result<PathBuf, BenchError> {
    let text = render(results)?;
    std::fs::create_dir_all(docs_dir)
        .map_err(BenchError::io(format!("creating {}", docs_dir.display())))?;
    let path = docs_dir.join("bench-archive.md");
    std::fs::write(&path, text).map_err(BenchError::io(format!("writing {}", path.display())))?;
    Ok(path)
}

/// `docs/bench-archive.md`: the figures; the prose, the tables and the goals' checks are
/// in `bench/templates/bench-archive.md`.
pub fn render(results: &ArchiveResults) -> Result<String, BenchError> {
    let (steady, replay) = (&results.steady, &results.replay);
    let (broker_rate, archive_rate) = results.rebuild_rates();
    let context = minijinja::context! {
        smoke => !results.info.full_size,
        date => results.info.date(),
        machine => results.info.machine.describe(),
        commit => &results.info.commit,
        rate => steady.tags as f64 / steady.seconds.max(1e-9),
        partitions => results.replay_partitions(),
        bytes_per_tag => results.bytes_per_tag(),
        core_percent => results.core_percent(),
        cpu_per_tag_us => results.cpu_per_tag_us(),
        replay_bytes_per_tag => replay.bytes as f64 / replay.tags.max(1) as f64,
        archive_catch_up_s => replay.tags as f64 / replay.archive_rate.max(1e-9),
        broker_rate,
        archive_rate,
        steady,
        replay,
    };
    super::template::render(
        "bench-archive.md",
        include_str!("../../templates/bench-archive.md"),
        context,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::RunInfo;
    use crate::parts::archive::{Replay, SteadyState};

    /// A full run meeting its goals whose replay rate was reported, or a smoke run
    /// missing both goals whose replay rate was not.
    fn results(full: bool) -> ArchiveResults {
        ArchiveResults {
            info: RunInfo::fixture(full),
            steady: SteadyState {
                tags: 240_000,
                seconds: 240.2,
                archiver_cores: if full { 0.012 } else { 0.08 },
                cpu_window_seconds: 210.0,
                cpu_window_tags: 210_000,
                files: 10,
                bytes: if full { 2_400_000 } else { 4_800_000 },
                records: 240_000,
                freshness_p50_s: 30.2,
                freshness_p99_s: 59.4,
                freshness_max_s: 60.1,
            },
            replay: Replay {
                tags: 1_000_000,
                archive_rate: 16_000.0,
                bytes: 9_800_000,
                files: 4,
                broker_rebuild_seconds: 80.5,
                archive_rebuild_seconds: 40.25,
                archive_replay_rate: full.then_some(50_000.0),
                counted: (1_000_000, 1_000_000),
            },
            partitions: 2,
        }
    }

    #[test]
    fn the_report_gives_each_figure_beside_its_goal() {
        let text = render(&results(true)).expect("rendered");
        crate::report::assert_says(
            &text,
            &[
                "on 2026-12-01, 2 cores (AMD EPYC), 24 GiB, Linux 6.1, commit abc1234.",
                "## At the contract's load: 999 tags/s for 240 s",
                "| 10.0 B (10 files, 2400000 B, 240000 records) | ≤ 15 B | met |",
                "| 1.20% of a core (12.0 µs a tag, 210 s after a 30 s warm-up) | ≤ 5% | met |",
                "| 30.2 / 59.4 / 60.1 s |",
                "all of it in place 62 s after the archiver started, 16000 records/s",
                "| 40.2 | 24845 |",
                "ran at 50000 records/s",
            ],
        );
        let smoke = render(&results(false)).expect("rendered");
        crate::report::assert_says(
            &smoke,
            &[
                "**Smoke run: below the default sizes",
                "| ≤ 15 B | **not met** |",
                "| ≤ 5% | **not met** |",
                "ran at (not reported) records/s",
            ],
        );
    }
}
