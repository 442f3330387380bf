//! What flows checked or built together say of one another: a Subflow's inputs against the
//! inputs its target declares, its `outputs.<task>.outputs.<id>` against the target's outputs,
//! a Flow trigger's upstream flows, a flow defined twice; and what `build` (all the flows
//! there are) adds: every flow named must be among them.

use kflow_compiler::source::SourceFile;
use kflow_compiler::{check_sources, Options};

const CHILD: &str = "id: child
namespace: team
inputs:
  - id: name
    type: STRING
  - id: count
    type: INT
    defaults: 1
tasks:
  - id: hi
    type: io.kestra.plugin.core.log.Log
    message: \"{{ inputs.name }}\"
outputs:
  - id: greeting
    type: STRING
    value: \"hi {{ inputs.name }}\"
";

/// `(file, line, code, message)` of every diagnostic, checked together.
fn findings(files: &[(&str, &str)], complete: bool) -> Vec<(String, usize, String, String)> {
    let sources = files
        .iter()
        .map(|(name, text)| SourceFile::new(*name, (*text).to_string()))
        .collect();
    let checked = check_sources(sources, Options::default(), complete);
    let mut out = Vec::new();
    for (c, (name, _)) in checked.iter().zip(files) {
        for d in &c.report.diagnostics {
            let line = c.report.source.line_col(d.span.start).line;
            out.push((
                (*name).to_string(),
                line,
                d.code.as_str().to_string(),
                d.message.clone(),
            ));
        }
    }
    out
}

fn parent(inputs: &str, message: &str) -> String {
    format!(
        "id: parent
namespace: team
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: team
    flowId: child
    inputs:
{inputs}
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: \"{message}\"
"
    )
}

#[test]
fn a_subflow_is_checked_against_its_target() {
    let good = parent("      name: Ada", "{{ outputs.call.outputs.greeting }}");
    assert_eq!(
        findings(&[("parent.yml", &good), ("child.yml", CHILD)], true),
        vec![]
    );

    // An input the child does not have, one of the wrong type, and the required one missing.
    let bad = parent(
        "      nmae: Ada\n      count: many",
        "{{ outputs.call.outputs.greting }}",
    );
    let found = findings(&[("parent.yml", &bad), ("child.yml", CHILD)], false);
    let codes: Vec<(usize, &str)> = found.iter().map(|f| (f.1, f.2.as_str())).collect();
    assert_eq!(
        codes,
        vec![(8, "KF206"), (9, "KF206"), (10, "KF206"), (13, "KF403")],
        "{found:#?}"
    );
    assert!(found[0].3.contains("required input `name`"), "{found:#?}");
    assert!(found[1].3.contains("no input `nmae`"), "{found:#?}");
    assert!(
        found[2].3.contains("`many` is not a whole number"),
        "{found:#?}"
    );
    assert!(found[3].3.contains("greting"), "{found:#?}");

    // Alone, the parent's target is unknown: nothing to say about its inputs or outputs.
    assert_eq!(findings(&[("parent.yml", &bad)], false), vec![]);
}

#[test]
fn build_needs_every_flow_named() {
    let calls_missing = parent("      name: Ada", "x").replace("flowId: child", "flowId: chlid");
    // `check`: a name close to a flow given is a warning (did you mean), `build` an error.
    let found = findings(
        &[("parent.yml", &calls_missing), ("child.yml", CHILD)],
        false,
    );
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].1, found[0].2.as_str()), (7, "KF205"));
    let checked = check_sources(
        vec![
            SourceFile::new("parent.yml", calls_missing.clone()),
            SourceFile::new("child.yml", CHILD.to_string()),
        ],
        Options::default(),
        false,
    );
    assert_eq!(checked[0].report.error_count(), 0);
    let checked = check_sources(
        vec![
            SourceFile::new("parent.yml", calls_missing.clone()),
            SourceFile::new("child.yml", CHILD.to_string()),
        ],
        Options::default(),
        true,
    );
    assert_eq!(checked[0].report.error_count(), 1);
    // Another namespace may be deployed elsewhere: `check` says nothing, `build` refuses.
    let elsewhere = parent("      name: Ada", "x").replace(
        "namespace: team\n    flowId",
        "namespace: other\n    flowId",
    );
    assert_eq!(findings(&[("parent.yml", &elsewhere)], false), vec![]);
    let found = findings(&[("parent.yml", &elsewhere)], true);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].2, "KF205");

    // A Flow trigger's upstream flows.
    let downstream = "id: downstream
namespace: team
tasks:
  - id: hi
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: after
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: after
      flows:
        - namespace: team
          flowId: chid
";
    let found = findings(
        &[("downstream.yml", downstream), ("child.yml", CHILD)],
        true,
    );
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].1, found[0].2.as_str()), (14, "KF205"));
    assert!(found[0].3.contains("team.chid"));
    // An upstream flow of another namespace: the trigger would never fire, a warning.
    let elsewhere = downstream.replace(
        "namespace: team\n          flowId",
        "namespace: other\n          flowId",
    );
    let checked = check_sources(
        vec![SourceFile::new("downstream.yml", elsewhere)],
        Options::default(),
        true,
    );
    let report = &checked[0].report;
    assert_eq!(report.error_count(), 0);
    assert_eq!(report.diagnostics.len(), 1, "{:#?}", report.diagnostics);
    assert_eq!(report.diagnostics[0].code.as_str(), "KF205");

    // The same flow twice.
    let found = findings(&[("a.yml", CHILD), ("b.yml", CHILD)], false);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        (found[0].0.as_str(), found[0].2.as_str()),
        ("b.yml", "KF207")
    );
}

/// A Flow trigger fires on the states kflow records of an upstream execution: its end, and
/// RUNNING and PAUSED in the trigger's own `states`; any other state, or a state not ended in
/// a precondition, never matches and is warned about at its line.
#[test]
fn flow_trigger_states_that_never_match_are_warned() {
    let listener = |states: &str, preconditions: &str| {
        format!(
            "id: listener
namespace: team
tasks:
  - id: hi
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: upstream
    type: io.kestra.plugin.core.trigger.Flow
    states: {states}
{preconditions}"
        )
    };
    let warned = |yaml: String| -> Vec<(usize, String)> {
        findings(&[("listener.yml", &yaml), ("child.yml", CHILD)], true)
            .into_iter()
            .map(|(_, line, code, message)| {
                assert_eq!(code, "KF112", "{message}");
                (line, message)
            })
            .collect()
    };
    assert_eq!(
        warned(listener("[RUNNING, PAUSED, SUCCESS, FAILED]", "")),
        vec![]
    );
    let found = warned(listener("[CREATED, SUCCESS]", ""));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].0, 10);
    assert!(found[0].1.contains("`CREATED`"), "{}", found[0].1);
    let found = warned(listener(
        "[SUCCESS]",
        "    preconditions:
      id: both
      flows:
        - namespace: team
          flowId: child
          states: [PAUSED]
",
    ));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].0, 16);
    assert!(
        found[0]
            .1
            .contains("preconditions are met by ended executions"),
        "{}",
        found[0].1
    );
}
