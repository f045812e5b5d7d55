//! Generated sections of committed documents: a tool that writes figures into prose
//! (chaos's table in `docs/reliability.md`, the capacity model's in `docs/capacity.md`)
//! replaces only the text between its two marker lines, so the prose around it stays
//! as people wrote it.

use std::path::Path;

/// Replaces the text between the markers `begin` and `end` in `document` with
/// `section`; appends both markers and the section when they are absent.
pub fn replace_section(
    document: &Path,
    begin: &str,
    end: &str,
    section: &str,
) -> std::io::Result<()> {
    let existing = std::fs::read_to_string(document).unwrap_or_default();
    let generated = format!("{begin}\n{section}{end}");
    let updated = match (existing.find(begin), existing.find(end)) {
        (Some(from), Some(to)) if from < to => format!(
            "{}{generated}{}",
            &existing[..from],
            &existing[to + end.len()..]
        ),
        _ => format!("{existing}\n{generated}\n"),
    };
    std::fs::write(document, updated)
}
