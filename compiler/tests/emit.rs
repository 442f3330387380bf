//! The generated `main.rs` of representative flows, as insta snapshots: what `kflowc emit`
//! writes is reviewed like any other code.

use kflow_compiler::build;
use kflow_compiler::{check_source, source::SourceFile, Options};

fn emitted(relative: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative);
    let text = std::fs::read_to_string(&path).expect("example flow");
    let checked = check_source(SourceFile::new(relative, text.clone()), Options::default());
    assert_eq!(checked.report.error_count(), 0);
    let flow = checked.flow.expect("flow");
    build::generate(&flow, &text, relative, build::RUNTIME_FROM_FLOW, Vec::new()).main_rs
}

#[test]
fn emitted_main_rs() {
    for flow in [
        "examples/core/greet.yml",
        "examples/core/failure_handling.yml",
        "examples/core/branches.yml",
    ] {
        let name = flow
            .rsplit('/')
            .next()
            .unwrap()
            .trim_end_matches(".yml")
            .to_string();
        insta::assert_snapshot!(format!("emit__{name}"), emitted(flow));
    }
}
