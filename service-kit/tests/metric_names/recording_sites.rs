//! No crate of the workspace records a metric under a literal name: every
//! `counter!`, `gauge!` and `histogram!` takes its name from
//! [`service_kit::metric_names`], so the module's list is the whole list.

use std::path::{Path, PathBuf};

/// The `.rs` files under `dir`, recursively.
fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn every_metric_is_recorded_through_the_module() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for crate_dir in std::fs::read_dir(&workspace)
        .expect("the workspace is readable")
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.join("Cargo.toml").is_file())
    {
        for code in ["src", "tests", "benches", "examples"] {
            rust_files(&crate_dir.join(code), &mut files);
        }
    }
    assert!(files.len() > 50, "found only {} source files", files.len());
    let mut literal = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a source file is readable");
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        for recorder in ["counter!(\"", "gauge!(\"", "histogram!(\""] {
            if compact.contains(recorder) {
                literal.push(format!("{} ({recorder}...)", file.display()));
            }
        }
    }
    assert!(
        literal.is_empty(),
        "metrics recorded under a literal name, not one of service_kit::metric_names: {literal:#?}"
    );
}
