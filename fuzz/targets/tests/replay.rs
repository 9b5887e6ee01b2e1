//! Replays every checked-in fuzz input on stable: `fuzz/corpus/<target>/` (the minimised seed
//! corpus) and `fuzz/artifacts/<target>/` (inputs that once crashed a target, kept as
//! regressions after the fix). A target panicking on any of them fails the test.

use std::path::Path;

fn inputs(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<_> = rd.map(|e| e.expect("read_dir entry").path()).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

#[test]
fn replay_corpus_and_artifacts() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("fuzz/");
    let mut failures = Vec::new();
    for (name, target) in isula_fuzz_targets::TARGETS {
        let corpus = inputs(&fuzz.join("corpus").join(name));
        assert!(!corpus.is_empty(), "fuzz/corpus/{name} has no seed inputs");
        for file in corpus.iter().chain(&inputs(&fuzz.join("artifacts").join(name))) {
            let data = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            if std::panic::catch_unwind(|| target(&data)).is_err() {
                failures.push(file.display().to_string());
            }
        }
    }
    assert!(failures.is_empty(), "fuzz targets panicked on: {failures:#?}");
}
