//! Core runnable tasks of [6/13], in process: `execution.SetVariables` and `UnsetVariables`
//! (later tasks read the changed `vars`; `overwrite: false` and a missing name without
//! `ignoreMissing` fail; `check` accepts names that only exist once the flow has set them) and
//! `templating.TemplatedTask`.

use kflow_tests::{lowered, run_in_process, task_run};

#[test]
fn set_and_unset_execution_variables() {
    let plan = lowered(
        "id: vars
namespace: kflow.tests
variables:
  region: eu
tasks:
  - id: before
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ vars.region }}\"
  - id: set
    type: io.kestra.plugin.core.execution.SetVariables
    variables:
      region: us
      replicas: \"{{ 1 + 2 }}\"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ vars.region }} x{{ vars.replicas }}\"
  - id: keep
    type: io.kestra.plugin.core.execution.SetVariables
    overwrite: false
    variables:
      region: asia
    allowFailure: true
  - id: unset
    type: io.kestra.plugin.core.execution.UnsetVariables
    variables: [replicas]
  - id: gone
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ vars.replicas ?? 'none' }} {{ vars.region }}\"
  - id: missing
    type: io.kestra.plugin.core.execution.UnsetVariables
    variables: [replicas]
    allowFailure: true
  - id: tolerant
    type: io.kestra.plugin.core.execution.UnsetVariables
    variables: [replicas]
    ignoreMissing: true
",
    );
    let (_, summary, stderr) = run_in_process(&plan, &[]);
    assert_eq!(summary["state"], "WARNING", "{summary} {stderr}");
    let value = |task: &str| task_run(&summary, task)["outputs"]["value"].clone();
    assert_eq!(value("before"), "eu");
    assert_eq!(value("after"), "us x3");
    assert_eq!(task_run(&summary, "keep")["state"], "WARNING");
    assert_eq!(value("gone"), "none us");
    assert_eq!(task_run(&summary, "missing")["state"], "WARNING");
    assert_eq!(task_run(&summary, "tolerant")["state"], "SUCCESS");
}

/// `TemplatedTask`: the rendered `spec` runs as this task run, with the templated task's
/// outputs; flowable types and nested `TemplatedTask`s are refused.
#[test]
fn templated_task_runs_the_task_its_spec_renders_to() {
    let plan = lowered(
        "id: templated
namespace: kflow.tests
inputs:
  - id: kind
    type: STRING
    defaults: Return
tasks:
  - id: generated
    type: io.kestra.plugin.core.templating.TemplatedTask
    spec: |
      id: inner
      type: io.kestra.plugin.core.debug.{{ inputs.kind }}
      format: \"{% raw %}{{ task.id }} in {{ flow.id }}{% endraw %}\"
  - id: reads
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ outputs.generated.value }}\"
  - id: flowable
    type: io.kestra.plugin.core.templating.TemplatedTask
    spec: |
      id: seq
      type: io.kestra.plugin.core.flow.Sequential
      tasks: []
    allowFailure: true
",
    );
    let (_, summary, stderr) = run_in_process(&plan, &[]);
    assert_eq!(summary["state"], "WARNING", "{summary} {stderr}");
    // The templated task's properties render as this task's: `task.id` is `generated`.
    assert_eq!(
        task_run(&summary, "generated")["outputs"]["value"],
        "generated in templated"
    );
    assert_eq!(
        task_run(&summary, "reads")["outputs"]["value"],
        "generated in templated"
    );
    assert_eq!(task_run(&summary, "flowable")["state"], "WARNING");
}

/// `WorkingDirectory`: `inputFiles` (text, or a stored file by URI) are in its folder for its
/// tasks; files matching `outputFiles` are stored and their URIs are its outputs; a name that
/// climbs out of the folder fails it.
#[test]
fn working_directory_input_and_output_files() {
    let plan = lowered(
        "id: workdir
namespace: kflow.tests
tasks:
  - id: seed
    type: io.kestra.plugin.core.storage.Write
    content: stored before
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    inputFiles:
      data/a.csv: \"x,y\"
      copy.txt: \"{{ outputs.seed.uri }}\"
      ignored.log: not an output
    outputFiles:
      - \"**.csv\"
      - copy.txt
    tasks:
      - id: inside
        type: io.kestra.plugin.core.debug.Return
        format: \"{{ workingDir }}\"
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ read(outputs.wd.outputFiles['data/a.csv']) }} / {{ read(outputs.wd.outputFiles['copy.txt']) }}\"
  - id: escape
    type: io.kestra.plugin.core.flow.WorkingDirectory
    allowFailure: true
    inputFiles:
      ../outside.txt: nope
    tasks:
      - id: never
        type: io.kestra.plugin.core.log.Log
        message: never
",
    );
    let (_, summary, stderr) = run_in_process(&plan, &[]);
    assert_eq!(summary["state"], "WARNING", "{summary} {stderr}");
    let files = &task_run(&summary, "wd")["outputs"]["outputFiles"];
    assert_eq!(
        files.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["copy.txt", "data/a.csv"]
    );
    assert!(files["data/a.csv"]
        .as_str()
        .unwrap()
        .ends_with("/data/a.csv"));
    assert_eq!(
        task_run(&summary, "read")["outputs"]["value"],
        "x,y / stored before"
    );
    assert_eq!(task_run(&summary, "escape")["state"], "WARNING");
    assert!(summary["task_runs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["task_id"] != "never"));
}

/// `storage.FilterItems` and `DeduplicateItems` over the rows of an Ion file (each row's fields
/// are variables of the template), and `Reverse`.
#[test]
fn filter_and_deduplicate_the_items_of_a_file() {
    let plan = lowered(
        "id: items
namespace: kflow.tests
tasks:
  - id: rows
    type: io.kestra.plugin.core.storage.Write
    content: |
      {key:\"a\",value:1}
      {key:\"b\",value:5}
      {key:\"a\",value:7}
      {key:\"c\",value:null}
  - id: big
    type: io.kestra.plugin.core.storage.FilterItems
    from: \"{{ outputs.rows.uri }}\"
    filterCondition: \"{{ value > 2 }}\"
    errorOrNullBehavior: EXCLUDE
  - id: small
    type: io.kestra.plugin.core.storage.FilterItems
    from: \"{{ outputs.rows.uri }}\"
    filterCondition: \"{{ value > 2 }}\"
    filterType: EXCLUDE
    errorOrNullBehavior: INCLUDE
  - id: unique
    type: io.kestra.plugin.core.storage.DeduplicateItems
    from: \"{{ outputs.rows.uri }}\"
    expr: \"{{ key }}\"
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ read(outputs.big.uri) | trim }} | {{ read(outputs.small.uri) | trim }} | {{ read(outputs.unique.uri) | trim }}\"
  - id: reversed
    type: io.kestra.plugin.core.storage.Reverse
    from: \"{{ outputs.rows.uri }}\"
  - id: read_reversed
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ read(outputs.reversed.uri) }}\"
",
    );
    let (_, summary, stderr) = run_in_process(&plan, &[]);
    assert_eq!(summary["state"], "SUCCESS", "{summary} {stderr}");
    let outputs = |task: &str| task_run(&summary, task)["outputs"].clone();
    assert_eq!(outputs("big")["processedItemsTotal"], 4);
    assert_eq!(outputs("big")["droppedItemsTotal"], 2);
    assert_eq!(outputs("unique")["numKeys"], 3);
    assert_eq!(outputs("unique")["droppedItemsTotal"], 1);
    assert_eq!(
        outputs("read")["value"],
        concat!(
            "{key:\"b\",value:5}\n{key:\"a\",value:7}",
            " | {key:\"a\",value:1}\n{key:\"c\",value:null}",
            " | {key:\"b\",value:5}\n{key:\"a\",value:7}\n{key:\"c\",value:null}"
        )
    );
    assert_eq!(
        outputs("read_reversed")["value"],
        "{key:\"c\",value:null}\n{key:\"a\",value:7}\n{key:\"b\",value:5}\n{key:\"a\",value:1}\n"
    );
}

/// `Reverse` reads a file from its end a chunk at a time: lines that straddle chunks (here
/// 20,000 lines, about 190 KiB, three chunks) come out whole and in reverse order.
#[test]
fn reverse_keeps_lines_whole_across_chunks() {
    let plan = lowered(
        "id: reverse
namespace: kflow.tests
tasks:
  - id: lines
    type: io.kestra.plugin.core.storage.Write
    content: \"{% for i in range(1, 20000) %}line {{ i }}\\n{% endfor %}\"
  - id: reversed
    type: io.kestra.plugin.core.storage.Reverse
    from: \"{{ outputs.lines.uri }}\"
  - id: text
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ read(outputs.reversed.uri) }}\"
",
    );
    let (_, summary, stderr) = run_in_process(&plan, &[]);
    assert_eq!(summary["state"], "SUCCESS", "{summary} {stderr}");
    let text = task_run(&summary, "text")["outputs"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    let lines: Vec<&str> = text.lines().collect();
    let expected: Vec<String> = (1..=20_000).rev().map(|i| format!("line {i}")).collect();
    assert_eq!(lines, expected);
}
