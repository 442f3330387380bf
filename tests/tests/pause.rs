//! Pause (Kestra 1.0): `onPause` runs when the pause starts; after `pauseDuration` the
//! `behavior` says what follows: RESUME goes on, WARN goes on with the pause WARNING, CANCEL ends
//! the execution CANCELLED, FAIL fails the pause. Without a duration the execution waits
//! PAUSED (exit 3) for `resume` (see `durable.rs`).

use kflow_tests::{lowered, run_in_process, task_run};
use serde_json::Value;

fn flow(behavior: &str, duration: &str) -> String {
    format!(
        "id: pausing
namespace: kflow.tests
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    {duration}
    behavior: {behavior}
    onPause:
      id: notify
      type: io.kestra.plugin.core.debug.Return
      format: paused at {{{{ taskrun.startDate }}}}
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: went on
errors:
  - id: handled
    type: io.kestra.plugin.core.log.Log
    message: handled
"
    )
}

fn ids(summary: &Value) -> Vec<&str> {
    summary["task_runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["task_id"].as_str().unwrap())
        .collect()
}

#[test]
fn behavior_after_the_pause_duration() {
    let cases = [
        (
            "RESUME",
            "SUCCESS",
            "SUCCESS",
            vec!["pause", "notify", "after"],
        ),
        (
            "WARN",
            "WARNING",
            "WARNING",
            vec!["pause", "notify", "after"],
        ),
        ("CANCEL", "CANCELLED", "CANCELLED", vec!["pause", "notify"]),
        (
            "FAIL",
            "FAILED",
            "FAILED",
            vec!["pause", "notify", "handled"],
        ),
    ];
    for (behavior, execution, pause, runs) in cases {
        let plan = lowered(&flow(behavior, "pauseDuration: PT0.1S"));
        let (_, summary, stderr) = run_in_process(&plan, &[]);
        assert_eq!(
            summary["state"], execution,
            "{behavior}: {summary} {stderr}"
        );
        assert_eq!(task_run(&summary, "pause")["state"], pause, "{behavior}");
        assert_eq!(ids(&summary), runs, "{behavior}");
        // onPause ran under the pause, before the wait.
        let notify = task_run(&summary, "notify");
        assert_eq!(notify["state"], "SUCCESS");
        assert_eq!(
            notify["parent_task_run_id"],
            task_run(&summary, "pause")["task_run_id"]
        );
    }
}

#[test]
fn on_pause_runs_before_a_pause_without_duration_waits() {
    let plan = lowered(&flow("RESUME", ""));
    let (code, summary, _) = run_in_process(&plan, &[]);
    assert_eq!(code, 3);
    assert_eq!(summary["state"], "PAUSED");
    assert_eq!(ids(&summary), ["pause", "notify"]);
    assert_eq!(task_run(&summary, "notify")["state"], "SUCCESS");
}
