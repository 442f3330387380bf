//! `LoopUntil` (and its old name `WaitFor`) in a built binary: it stops when its condition
//! holds, or at `maxIterations` (FAILED with `failOnMaxReached`), waiting `interval` between
//! iterations; each iteration's task runs are recorded.

use std::process::Command;

use kflow_tests::{build_flow, task_run};
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
    let dir = std::env::temp_dir().join(format!("kflow-loops-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let flow = dir.join("loops.yml");
    std::fs::write(&flow, LOOPS).unwrap();
    let bin = build_flow(&flow).unwrap();
    let out = Command::new(&bin)
        .args(["run", "--state", dir.join("state").to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
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
