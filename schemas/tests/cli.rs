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

#[test]
fn check_fails_on_a_version_that_breaks_readers_and_on_unbundled_files() {
    let dir = std::env::temp_dir().join(format!("schemas-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(
        dir.join("user_tag.v1.avsc"),
        schemas::avro::current_version().text,
    )
    .expect("write v1");
    std::fs::write(
        dir.join("user_tag.v2.avsc"),
        include_str!("fixtures/user_tag.v2-incompatible.avsc"),
    )
    .expect("write v2");
    let output = schemas(&["check", "--dir", &dir.to_string_lossy()]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("bundles"),
        "an unbundled file is reported"
    );

    std::fs::remove_file(dir.join("user_tag.v2.avsc")).expect("remove v2");
    let output = schemas(&["check", "--dir", &dir.to_string_lossy()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
