//! The generated `main.rs` of representative flows, as insta snapshots: what `kflowc emit`
//! writes is reviewed like any other code.

use std::fmt::Write as _;

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

/// The runtime features a flow's crate asks for: exactly the families its tasks use, so a
/// binary carries no task code it cannot reach.
#[test]
fn a_flow_crate_turns_on_only_the_families_it_uses() {
    let features = |types: &[&str]| {
        let mut yaml = String::from("id: f\nnamespace: n\ntasks:\n");
        for (i, ty) in types.iter().enumerate() {
            writeln!(yaml, "  - id: t{i}\n    type: {ty}").unwrap();
            yaml.push_str(match *ty {
                t if t.ends_with("Request") => "    uri: http://127.0.0.1:1/\n",
                t if t.ends_with("python.Script") => "    script: print(1)\n",
                t if t.ends_with("sqlite.Query") => {
                    "    url: jdbc:sqlite:x.db\n    sql: select 1\n"
                }
                t if t.ends_with("CsvToIon") => "    from: x\n",
                t if t.ends_with("git.Clone") => "    url: https://example.com/r.git\n",
                t if t.ends_with("SlackIncomingWebhook") => {
                    "    url: http://127.0.0.1:1/\n    payload: x\n"
                }
                t if t.ends_with("Log") => "    message: hi\n",
                other => panic!("no sample for {other}"),
            });
        }
        let checked = check_source(SourceFile::new("f.yml", yaml.clone()), Options::default());
        assert_eq!(checked.report.error_count(), 0, "{yaml}");
        let krate = build::generate(
            &checked.flow.expect("flow"),
            &yaml,
            "f.yml",
            build::RUNTIME_FROM_FLOW,
            Vec::new(),
        );
        let line = krate
            .cargo_toml
            .lines()
            .find(|l| l.starts_with("kflow-runtime"))
            .expect("the runtime dependency")
            .to_string();
        line.split_once("features = ")
            .map_or(String::new(), |(_, rest)| {
                rest.trim_end_matches(" }").to_string()
            })
    };
    let log = "io.kestra.plugin.core.log.Log";
    assert_eq!(features(&[log]), "");
    assert_eq!(
        features(&[
            log,
            "io.kestra.plugin.core.http.Request",
            "io.kestra.plugin.scripts.python.Script"
        ]),
        r#"["http"]"#
    );
    assert_eq!(
        features(&["io.kestra.plugin.jdbc.sqlite.Query"]),
        r#"["sql"]"#
    );
    assert_eq!(
        features(&["io.kestra.plugin.serdes.csv.CsvToIon"]),
        r#"["serdes"]"#
    );
    assert_eq!(features(&["io.kestra.plugin.git.Clone"]), r#"["tools"]"#);
    assert_eq!(
        features(&[
            "io.kestra.plugin.notifications.slack.SlackIncomingWebhook",
            "io.kestra.plugin.git.Clone"
        ]),
        r#"["notify", "tools"]"#
    );
}
