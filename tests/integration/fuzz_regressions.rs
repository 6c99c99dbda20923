//! Replays the fuzzers' inputs without cargo-fuzz: every file under
//! `fuzz/regressions/TARGET/` (inputs that once crashed hoist, each fixed)
//! and `fuzz/corpus/TARGET/` (the seed corpus) goes through
//! `hoist::fuzzing::TARGET`, the very function the fuzz target runs. A
//! panic fails the test, naming the file.

use std::path::Path;

fn replay(kind: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind);
    let mut count = 0;
    for (target, run) in hoist::fuzzing::TARGETS {
        let dir = root.join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        for file in files.iter().filter(|f| f.is_file()) {
            let data = std::fs::read(file).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(
                outcome.is_ok(),
                "fuzz target {target} panics on {}",
                file.display()
            );
            count += 1;
        }
    }
    count
}

#[test]
fn fuzz_regressions_do_not_crash() {
    // Empty until a fuzzer finds something; the folders exist from then on.
    replay("regressions");
}

#[test]
fn fuzz_seed_corpus_does_not_crash() {
    assert!(replay("corpus") >= 7, "the seed corpus is missing");
}

#[test]
fn every_fuzz_target_has_seeds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for (target, _) in hoist::fuzzing::TARGETS {
        assert!(
            root.join("fuzz_targets")
                .join(format!("{target}.rs"))
                .is_file(),
            "no fuzz/fuzz_targets/{target}.rs"
        );
        let seeds = std::fs::read_dir(root.join("corpus").join(target)).map_or(0, |d| d.count());
        assert!(seeds > 0, "no seed corpus for {target}");
    }
}
