//! A slice of `make chaos` for `make test`, on the running stack (`make up`): the
//! harness replays 2 minutes 20 s of stream at 1,000 tags/s through the front door while
//! the projector is killed (SIGKILL) and restarted twice and ClickHouse is frozen
//! (SIGSTOP) for 12 s, past the projector's 10 s ClickHouse timeout. The checks are the
//! full run's: no tag answered 204 lost, none counted twice, no wrong answer, the final
//! round all correct, and every recovery within the run. Stale answers (right as of the
//! fault, missing only tags answered 204 since: freshness past 10 s while recovering;
//! a 12 s freeze cannot avoid them) are printed, not failed. The report goes to
//! `.stack/chaos/slice.json`.
//!
//! It kills components of the shared stack, so it is the only test of this binary:
//! cargo runs test binaries one after another, so no other test sees the stack with a
//! component down. Whatever happens, the stack is whole again when it ends.

use chaos::fault::Fault;
use chaos::run::ChaosOptions;
use chaos::stack::Component;
use service_kit::settings::ClickHouseSettings;
use std::path::PathBuf;
use std::time::Duration;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_projectors_and_a_frozen_clickhouse_lose_nothing_and_count_nothing_twice() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let options = ChaosOptions {
        base_url: env_or("ALLEZON_URL", "http://127.0.0.1:8000"),
        clickhouse: ClickHouseSettings {
            url: env_or("CLICKHOUSE_URL", "http://127.0.0.1:8123"),
            database: env_or("CLICKHOUSE_DATABASE", "allezon"),
            user: env_or("CLICKHOUSE_USER", "default"),
            password: env_or("CLICKHOUSE_PASSWORD", ""),
        },
        stack_root: root.clone(),
        faults: vec![
            Fault::Kill(Component::Projector),
            Fault::Kill(Component::Projector),
            Fault::Freeze {
                component: Component::ClickHouse,
                duration: Duration::from_secs(12),
            },
        ],
        baseline: false,
        slot: Duration::from_secs(40),
        lead: Duration::from_secs(10),
        tail: Duration::from_secs(20),
        rate: 1_000,
        seed: 29,
        profile_lag: Duration::from_secs(10),
        aggregate_lag: Duration::from_secs(60),
        recovery_timeout: Duration::from_secs(60),
    };
    let outcome = chaos::run::run(options).await;
    // Whatever happened, leave the stack whole for the tests that follow.
    chaos::run::restore(&chaos::stack::Stack::new(&root)).await;
    let report = outcome.expect("the chaos run runs (make up)");
    println!("{}", report.summary_text());
    let json = serde_json::to_string_pretty(&report).unwrap_or_default();
    let kept = std::fs::create_dir_all(root.join(".stack/chaos"))
        .and_then(|()| std::fs::write(root.join(".stack/chaos/slice.json"), json));
    if let Err(error) = kept {
        eprintln!("report not written: {error}");
    }
    let wrong: Vec<_> = report
        .slots
        .iter()
        .flat_map(|slot| &slot.wrong_examples)
        .collect();

    assert!(
        report.passed,
        "{}\nwrong answers, for example: {wrong:#?}",
        report.problems.join("\n")
    );
    assert_eq!(report.slots.len(), 3);
    // Enough was checked for the verdict to mean something.
    assert!(
        report.harness.profiles.correct >= 5_000,
        "{:?}",
        report.harness.profiles
    );
    assert!(
        report.harness.final_profiles.correct >= 16,
        "{:?}",
        report.harness.final_profiles
    );
    for slot in &report.slots {
        assert!(slot.recovered_after().is_some(), "{slot:?}");
        let counts = slot.integrity.expect("counts");
        assert!(counts.accepted >= 40_000, "{counts:?}");
    }
}
