//! Several flows in one binary, with real processes: `./bundle run FLOW` runs the flow named;
//! a `Subflow` with `wait` returns the child's outputs, labels reach the child, and a failing
//! child fails the parent with `transmitFailed`; killing the parent (`kill ID` from another
//! shell) kills the child it waits for; under `serve`, a Flow trigger fires on an upstream
//! SUCCESS and not on FAILED, `preconditions` wait for every upstream flow, and executions that
//! ended while `serve` was not running fire the trigger when it starts.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use kflow_tests::{
    build_yamls, executions, http, listening_address, scratch_dir, start_serve, summary_of,
    terminate,
};
use serde_json::Value;

fn call(binary: &Path, state: &Path, args: &[&str]) -> Output {
    Command::new(binary)
        .args(args)
        .args(["--state", state.to_str().unwrap()])
        .output()
        .expect("the binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The executions of `flow` in `state`, oldest first.
fn of_flow(binary: &Path, state: &Path, flow: &str) -> Vec<Value> {
    let mut list: Vec<Value> = executions(binary, state)
        .into_iter()
        .filter(|e| e["flow_id"] == flow)
        .collect();
    list.reverse();
    list
}

/// Waits until `check` holds of the executions, or panics after a minute showing them.
fn wait_until(binary: &Path, state: &Path, what: &str, check: impl Fn(&[Value]) -> bool) {
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let all = executions(binary, state);
        if check(&all) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "waited a minute for {what}: {all:#?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

const CHILD: &str = "id: child
namespace: kflow.bundle
inputs:
  - id: name
    type: STRING
  - id: fail
    type: BOOLEAN
    defaults: false
tasks:
  - id: maybe_fail
    type: io.kestra.plugin.core.flow.If
    condition: \"{{ inputs.fail }}\"
    then:
      - id: boom
        type: io.kestra.plugin.core.execution.Fail
        errorMessage: the child was told to fail
outputs:
  - id: greeting
    type: STRING
    value: \"hello {{ inputs.name }}\"
";

const PARENT: &str = "id: parent
namespace: kflow.bundle
labels:
  team: data
inputs:
  - id: who
    type: STRING
  - id: fail
    type: BOOLEAN
    defaults: false
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: kflow.bundle
    flowId: child
    wait: true
    transmitFailed: true
    inheritLabels: true
    labels:
      called-by: parent
    inputs:
      name: \"{{ inputs.who }}\"
      fail: \"{{ inputs.fail }}\"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ outputs.call.outputs.greeting }} ({{ outputs.call.state }})\"
outputs:
  - id: result
    type: STRING
    value: \"{{ outputs.after.value }}\"
";

#[test]
fn a_subflow_returns_its_outputs_and_transmits_its_failure() {
    let bin = build_yamls("bundle_sub", &[("parent", PARENT), ("child", CHILD)]);
    let dir = scratch_dir("bundle-sub");
    let state = dir.join("state");

    // Without a flow named, a bundle says which it hosts.
    let out = call(&bin, &state, &["run"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("kflow.bundle.parent") && stderr(&out).contains("kflow.bundle.child"),
        "{}",
        stderr(&out)
    );

    let out = call(
        &bin,
        &state,
        &["run", "parent", "--input", "who=Ada", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary = summary_of(&out);
    assert_eq!(summary["outputs"]["result"], "hello Ada (SUCCESS)");
    let children = of_flow(&bin, &state, "child");
    assert_eq!(children.len(), 1, "{children:#?}");
    let child = &children[0];
    assert_eq!(child["state"], "SUCCESS");
    assert_eq!(child["outputs"]["greeting"], "hello Ada");
    // The parent's labels (inheritLabels) and the task's own; the parent's correlation id.
    assert_eq!(child["labels"]["team"], "data", "{child}");
    assert_eq!(child["labels"]["called-by"], "parent", "{child}");
    assert_eq!(child["labels"]["system.correlationId"], summary["id"]);
    assert_eq!(child["trigger"]["executionId"], summary["id"]);
    let call_run = kflow_tests::task_run(&summary, "call");
    assert_eq!(call_run["outputs"]["executionId"], child["id"]);

    // A failing child fails the Subflow task (transmitFailed), and so the parent.
    let out = call(
        &bin,
        &state,
        &[
            "run",
            "parent",
            "--input",
            "who=Bo",
            "--input",
            "fail=true",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let summary = summary_of(&out);
    assert_eq!(summary["state"], "FAILED");
    assert_eq!(kflow_tests::task_run(&summary, "call")["state"], "FAILED");
    let children = of_flow(&bin, &state, "child");
    assert_eq!(children.len(), 2);
    assert_eq!(children[1]["state"], "FAILED");

    // The child runs on its own too; its wrong inputs are refused as any flow's.
    let out = call(&bin, &state, &["run", "child", "--input", "name=Cy"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = call(&bin, &state, &["run", "child", "--input", "fail=maybe"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn killing_a_parent_kills_the_subflow_it_waits_for() {
    let sleeper = "id: sleeper
namespace: kflow.bundle
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT60S
";
    let waiter = "id: waiter
namespace: kflow.bundle
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: kflow.bundle
    flowId: sleeper
";
    let bin = build_yamls("bundle_kill", &[("waiter", waiter), ("sleeper", sleeper)]);
    let dir = scratch_dir("bundle-kill");
    let state = dir.join("state");
    let started = Instant::now();
    let run = Command::new(&bin)
        .args(["run", "waiter", "--format", "json", "--state"])
        .arg(&state)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(&bin, &state, "the child to run", |all| {
        all.iter()
            .any(|e| e["flow_id"] == "sleeper" && e["state"] == "RUNNING")
    });
    let parent = of_flow(&bin, &state, "waiter")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = call(&bin, &state, &["kill", &parent]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(50));
    assert_eq!(summary_of(&out)["state"], "KILLED");
    let child = &of_flow(&bin, &state, "sleeper")[0];
    assert_eq!(child["state"], "KILLED", "{child}");
}

const UPSTREAM: &str = "id: upstream
namespace: kflow.bundle
inputs:
  - id: fail
    type: BOOLEAN
    defaults: false
tasks:
  - id: maybe_fail
    type: io.kestra.plugin.core.flow.If
    condition: \"{{ inputs.fail }}\"
    then:
      - id: boom
        type: io.kestra.plugin.core.execution.Fail
outputs:
  - id: count
    type: INT
    value: \"{{ 40 + 2 }}\"
";

const OTHER: &str = "id: other
namespace: kflow.bundle
tasks:
  - id: hi
    type: io.kestra.plugin.core.log.Log
    message: hi
";

const ON_SUCCESS: &str = "id: on_success
namespace: kflow.bundle
inputs:
  - id: count
    type: INT
tasks:
  - id: got
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ inputs.count }} from {{ trigger.flowId }} {{ trigger.executionId }}\"
triggers:
  - id: after_upstream
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      count: \"{{ trigger.outputs.count }}\"
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: kflow.bundle
        flowId: upstream
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in: [SUCCESS]
";

const BOTH_DONE: &str = "id: both_done
namespace: kflow.bundle
tasks:
  - id: done
    type: io.kestra.plugin.core.log.Log
    message: both ran
triggers:
  - id: both
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: both
      timeWindow:
        type: DURATION_WINDOW
        window: PT1H
      flows:
        - namespace: kflow.bundle
          flowId: upstream
          states: [SUCCESS]
        - namespace: kflow.bundle
          flowId: other
          states: [SUCCESS]
";

#[test]
fn flow_triggers_fire_on_what_they_wait_for() {
    let bin = build_yamls(
        "bundle_flow_triggers",
        &[
            ("upstream", UPSTREAM),
            ("other", OTHER),
            ("on_success", ON_SUCCESS),
            ("both_done", BOTH_DONE),
        ],
    );
    let dir = scratch_dir("bundle-flow-triggers");
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state");
    let log = dir.join("serve.log");
    let serve = start_serve(&bin, &state, &log, &["--listen", "127.0.0.1:0"], &[]);
    let addr = listening_address(&log);
    let start = |flow: &str, body: &str| {
        let reply = http(
            &addr,
            "POST",
            &format!("/api/v1/main/executions/kflow.bundle/{flow}?wait=true"),
            &[("content-type", "application/json")],
            body.as_bytes(),
        )
        .unwrap();
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()
    };
    let failed = start("upstream", r#"{"fail": true}"#);
    assert_eq!(failed["state"]["current"], "FAILED");
    let succeeded = start("upstream", "{}");
    assert_eq!(succeeded["state"]["current"], "SUCCESS");
    wait_until(&bin, &state, "on_success to run", |all| {
        all.iter()
            .any(|e| e["flow_id"] == "on_success" && e["state"] == "SUCCESS")
    });
    // `both_done` waits for `other` too.
    std::thread::sleep(Duration::from_millis(500));
    assert!(of_flow(&bin, &state, "both_done").is_empty());
    start("other", "{}");
    wait_until(&bin, &state, "both_done to run", |all| {
        all.iter()
            .any(|e| e["flow_id"] == "both_done" && e["state"] == "SUCCESS")
    });
    // Once each: the FAILED upstream fired nothing, and `other` alone is not both.
    start("other", "{}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(terminate(serve), Some(0));
    let fired = of_flow(&bin, &state, "on_success");
    assert_eq!(fired.len(), 1, "{fired:#?}");
    assert_eq!(fired[0]["trigger"]["executionId"], succeeded["id"]);
    assert_eq!(fired[0]["inputs"]["count"], 42);
    assert_eq!(
        fired[0]["outputs"],
        Value::Null,
        "on_success declares no outputs"
    );
    assert_eq!(of_flow(&bin, &state, "both_done").len(), 1);

    // An upstream execution that ends while no `serve` runs fires the trigger when one
    // starts again, once.
    let out = call(&bin, &state, &["run", "upstream"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ran = summary_of(&out)["id"].clone();
    for _ in 0..2 {
        let serve = start_serve(&bin, &state, &log, &[], &[]);
        wait_until(&bin, &state, "the missed upstream to fire", |all| {
            all.iter().any(|e| {
                e["flow_id"] == "on_success"
                    && e["trigger"]["executionId"] == ran
                    && e["state"] == "SUCCESS"
            })
        });
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(terminate(serve), Some(0));
    }
    assert_eq!(of_flow(&bin, &state, "on_success").len(), 2);
}

const BATCH: &str = "id: batch
namespace: kflow.bundle
inputs:
  - id: items
    type: STRING
  - id: iteration
    type: INT
tasks:
  - id: lines
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ read(inputs.items) | trim | split('\\n') | length }}\"
outputs:
  - id: count
    type: INT
    value: \"{{ outputs.lines.value }}\"
  - id: first
    type: STRING
    value: \"{{ read(inputs.items) | trim | split('\\n') | first }}\"
  - id: iteration
    type: INT
    value: \"{{ inputs.iteration }}\"
";

const EACH: &str = "id: each
namespace: kflow.bundle
inputs:
  - id: file
    type: FILE
tasks:
  - id: batches
    type: io.kestra.plugin.core.flow.ForEachItem
    items: \"{{ inputs.file }}\"
    batch:
      rows: 100
    namespace: kflow.bundle
    flowId: batch
    inputs:
      items: \"{{ taskrun.items }}\"
      iteration: \"{{ taskrun.iteration }}\"
  - id: merged
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ read(outputs.batches_merge.subflowOutputs) }}\"
outputs:
  - id: batches
    type: INT
    value: \"{{ outputs.batches_items.numberOfBatches }}\"
  - id: succeeded
    type: INT
    value: \"{{ outputs.batches_items.iterations.SUCCESS }}\"
  - id: merged
    type: STRING
    value: \"{{ outputs.merged.value }}\"
";

#[test]
fn for_each_item_runs_a_subflow_per_batch_of_a_10000_line_file() {
    let bin = build_yamls("bundle_each", &[("each", EACH), ("batch", BATCH)]);
    let dir = scratch_dir("bundle-each");
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state");
    let items = dir.join("items.txt");
    let lines: Vec<String> = (1..=10_000).map(|n| n.to_string()).collect();
    std::fs::write(&items, lines.join("\n") + "\n").unwrap();
    let out = call(
        &bin,
        &state,
        &[
            "run",
            "each",
            "--input",
            &format!("file={}", items.display()),
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary = summary_of(&out);
    assert_eq!(summary["outputs"]["batches"], 100, "{summary}");
    assert_eq!(summary["outputs"]["succeeded"], 100, "{summary}");
    // Kestra's task runs: the ForEachItem, then its split, items and merge.
    let ids: Vec<&str> = summary["task_runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["task_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "batches",
            "batches_split",
            "batches_items",
            "batches_merge",
            "merged"
        ]
    );
    // One line of Ion per batch, in batch order: 100 items each, the first of each batch.
    let merged = summary["outputs"]["merged"].as_str().unwrap();
    let rows: Vec<&str> = merged.lines().collect();
    assert_eq!(rows.len(), 100, "{merged}");
    for (n, row) in rows.iter().enumerate() {
        assert!(row.contains("count:100"), "{row}");
        assert!(
            row.contains(&format!("first:\"{}\"", n * 100 + 1)),
            "batch {n}: {row}"
        );
        assert!(row.contains(&format!("iteration:{n}")), "batch {n}: {row}");
    }
    let children = of_flow(&bin, &state, "batch");
    assert_eq!(children.len(), 100);
    assert!(children.iter().all(|c| c["state"] == "SUCCESS"));
}
