//! Flows with expression mistakes of every kind (`tests/cases/expr-flows/`): the diagnostics
//! `kflowc check` prints for each are insta snapshots, so a change in position, wording or help
//! shows up in review. `clean.yml` uses every feature correctly and must stay silent.

use kflow_compiler::Options;
use kflow_tests::{check_file, flow_files, human, project_dir};

#[test]
fn expression_flow_cases_match_their_snapshots() {
    let root = project_dir();
    let dir = root.join("tests/cases/expr-flows");
    let files = flow_files(&dir);
    assert!(
        files.len() >= 10,
        "expected the expression flow cases in {}",
        dir.display()
    );
    for path in files {
        let report = check_file(&path, &root, Options::default());
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if name == "clean" {
            assert!(
                report.diagnostics.is_empty(),
                "clean.yml must check clean:\n{}",
                human(&report)
            );
            continue;
        }
        assert!(!report.diagnostics.is_empty(), "{name}.yml reports nothing");
        insta::assert_snapshot!(format!("expr_flow__{name}"), human(&report));
    }
}
