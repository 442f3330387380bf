//! `LoopUntil` (and its old name `WaitFor`) in a built binary: it stops when its condition
//! holds, or at `maxIterations` (FAILED with `failOnMaxReached`), waiting `interval` between
//! iterations; each iteration's task runs are recorded.

use std::process::Command;

use kflow_tests::{build_yaml, scratch_dir, summary_of, task_run};
use serde_json::Value;

const LOOPS: &str = "id: loops
namespace: kflow.tests
tasks:
  - id: until_three
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: \"{{ outputs.count.value == '3' }}\"
    checkFrequency:
      interval: PT0.2S
    tasks:
      - id: count
        type: io.kestra.plugin.core.debug.Return
        format: \"{{ outputs.until_three.iterationCount }}\"
  - id: capped
    type: io.kestra.plugin.core.flow.WaitFor
    condition: \"{{ false }}\"
    checkFrequency:
      maxIterations: 2
      interval: PT0.1S
    tasks:
      - id: tick
        type: io.kestra.plugin.core.log.Log
        message: \"tick {{ outputs.capped.iterationCount }}\"
  - id: strict
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: \"{{ false }}\"
    failOnMaxReached: true
    allowFailure: true
    checkFrequency:
      maxIterations: 2
      interval: PT0.1S
    tasks:
      - id: tock
        type: io.kestra.plugin.core.log.Log
        message: tock
";

fn runs<'a>(summary: &'a Value, task: &str) -> Vec<&'a Value> {
    summary["task_runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["task_id"] == task)
        .collect()
}

#[test]
fn loop_until_stops_on_its_condition_and_at_max_iterations() {
    let bin = build_yaml("loops", LOOPS);
    let out = Command::new(&bin)
        .args(["run", "--state", scratch_dir("loops").to_str().unwrap()])
        .output()
        .unwrap();
    let summary = summary_of(&out);
    // `strict` fails at its maximum (allowed to: WARNING), so the execution ends WARNING.
    assert_eq!(summary["state"], "WARNING", "{summary}");

    // Three iterations, the condition read after each; the iteration count is an output.
    let counts: Vec<&Value> = runs(&summary, "count")
        .iter()
        .map(|r| &r["outputs"]["value"])
        .collect();
    assert_eq!(counts, ["1", "2", "3"]);
    assert_eq!(task_run(&summary, "until_three")["state"], "SUCCESS");
    assert_eq!(
        task_run(&summary, "until_three")["outputs"]["iterationCount"],
        3
    );
    // Iterations are `interval` apart: 2 waits of 0.2 s, then 1 of 0.1 s in each capped loop.
    assert!(summary["duration_ms"].as_u64().unwrap() >= 600, "{summary}");

    // At maxIterations the loop ends: SUCCESS without failOnMaxReached, FAILED with it.
    assert_eq!(runs(&summary, "tick").len(), 2);
    assert_eq!(task_run(&summary, "capped")["state"], "SUCCESS");
    assert_eq!(runs(&summary, "tock").len(), 2);
    assert_eq!(task_run(&summary, "strict")["state"], "WARNING");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Max iterations reached"), "{stderr}");
}

/// A restart takes each iteration of a `LoopUntil` up in order: the first iteration's task run
/// is kept, the second's failed one gets a new attempt (in process, through the binary's
/// command line, on one state).
#[test]
fn a_restart_takes_loop_iterations_up_in_order() {
    let flow = kflow_tests::lowered(
        "id: flaky_loop
namespace: kflow.tests
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: \"{{ outputs.loop.iterationCount == 2 }}\"
    checkFrequency:
      interval: PT0.05S
    tasks:
      - id: step
        type: io.kestra.plugin.core.execution.Fail
        condition: \"{{ outputs.loop.iterationCount == 2 and taskrun.attemptsCount == 0 }}\"
",
    );
    let state = std::env::temp_dir().join(format!("kflow-loop-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let version = kflow_runtime::cli::VersionInfo { kflowc: "test" };
    let bundle = kflow_runtime::bundle::Bundle::single(flow.clone(), &[]);
    let cli = |args: &[&str]| {
        let mut argv = vec!["flaky_loop"];
        argv.extend(args);
        argv.extend(["--state", state.to_str().unwrap(), "--format", "json"]);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = kflow_runtime::cli::run_cli(&bundle, &version, argv, &mut out, &mut err);
        let out = String::from_utf8_lossy(&out).to_string();
        let summary: Value = serde_json::from_str(out.lines().last().unwrap_or("null")).unwrap();
        (code, summary)
    };
    let (code, first) = cli(&["run"]);
    assert_eq!(code, 1, "{first}");
    assert_eq!(runs(&first, "step").len(), 2);
    let id = first["id"].as_str().unwrap().to_string();
    let (code, restarted) = cli(&["restart", &id]);
    assert_eq!(code, 0, "{restarted}");
    let steps = runs(&restarted, "step");
    assert_eq!(steps.len(), 2, "{restarted}");
    // The first iteration kept as it was; the second one attempted again.
    assert_eq!(
        steps[0]["task_run_id"],
        runs(&first, "step")[0]["task_run_id"]
    );
    assert_eq!(steps[0]["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(steps[1]["attempts"].as_array().unwrap().len(), 2);
    assert_eq!(steps[1]["state"], "SUCCESS");
    let _ = std::fs::remove_dir_all(&state);
}
