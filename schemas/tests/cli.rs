//! The `schemas` command as an operator runs it.

use std::process::Command;

fn schemas(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_schemas"))
        .args(args)
        .output()
        .expect("schemas runs")
}

#[test]
fn check_passes_on_the_bundled_versions_and_show_prints_the_current_one() {
    let output = schemas(&["check"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let shown = String::from_utf8_lossy(&schemas(&["show"]).stdout).into_owned();
    assert!(
        shown.starts_with(&format!(
            "version {}",
            schemas::avro::current_version().version
        )),
        "{shown}"
    );
}

/// A folder holding the current schema as v1 and `v2` as version 2.
fn folder_with_v2(name: &str, v2: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("schemas-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(
        dir.join("user_tag.v1.avsc"),
        schemas::avro::current_version().text,
    )
    .expect("write v1");
    std::fs::write(dir.join("user_tag.v2.avsc"), v2).expect("write v2");
    dir
}

#[test]
fn check_fails_on_a_version_that_breaks_readers_naming_the_field() {
    let dir = folder_with_v2(
        "incompatible",
        include_str!("fixtures/user_tag.v2-incompatible.avsc"),
    );
    let output = schemas(&["check", "--dir", &dir.to_string_lossy()]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "an incompatible v2 passed");
    assert!(
        stderr.contains("version 2 cannot read data written with version 1")
            && stderr.contains("consent"),
        "the compatibility checker did not say why: {stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_passes_a_compatible_v2_unless_bundling_is_required() {
    let dir = folder_with_v2(
        "compatible",
        include_str!("fixtures/user_tag.v2-example.avsc"),
    );
    let output = schemas(&["check", "--dir", &dir.to_string_lossy()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("versions [1, 2]"));
    let output = schemas(&[
        "check",
        "--dir",
        &dir.to_string_lossy(),
        "--require-bundled",
    ]);
    assert!(!output.status.success(), "an unbundled v2 passed");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("bundles"),
        "an unbundled file is reported"
    );
    // The bundled versions with v1's file edited: a released version never changes.
    let edited = std::env::temp_dir().join(format!("schemas-edited-{}", std::process::id()));
    std::fs::create_dir_all(&edited).expect("temp dir");
    for version in schemas::avro::VERSIONS {
        let text = if version.version == 1 {
            version.text.replace("Version 1.", "Version 1, edited.")
        } else {
            version.text.to_owned()
        };
        std::fs::write(
            edited.join(format!("user_tag.v{}.avsc", version.version)),
            text,
        )
        .expect("write");
    }
    let output = schemas(&[
        "check",
        "--dir",
        &edited.to_string_lossy(),
        "--require-bundled",
    ]);
    assert!(
        !output.status.success(),
        "an edited released version passed"
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("versions [1] in"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let _ = std::fs::remove_dir_all(&edited);
    let _ = std::fs::remove_dir_all(&dir);
}
