//! `flow.Dag` in a built binary: independent tasks run at the same time and a task starts only
//! once its `dependsOn` have ended; the log lines' timestamps (`logs ID`) prove both.

use std::process::Command;

use kflow_tests::{build_yaml, scratch_dir, summary_of};

const DAG: &str = "id: diamond
namespace: kflow.tests
tasks:
  - id: dag
    type: io.kestra.plugin.core.flow.Dag
    tasks:
      - task:
          id: left
          type: io.kestra.plugin.core.flow.Sequential
          tasks:
            - id: left_start
              type: io.kestra.plugin.core.log.Log
              message: left starts
            - id: left_wait
              type: io.kestra.plugin.core.flow.Sleep
              duration: PT0.6S
            - id: left_end
              type: io.kestra.plugin.core.log.Log
              message: left ends
      - task:
          id: right
          type: io.kestra.plugin.core.flow.Sequential
          tasks:
            - id: right_start
              type: io.kestra.plugin.core.log.Log
              message: right starts
            - id: right_wait
              type: io.kestra.plugin.core.flow.Sleep
              duration: PT0.6S
            - id: right_end
              type: io.kestra.plugin.core.log.Log
              message: right ends
      - task:
          id: join
          type: io.kestra.plugin.core.log.Log
          message: join starts
        dependsOn: [left, right]
";

/// The timestamp of the log line holding `text` (ISO-8601 in UTC with milliseconds: as text,
/// later is greater).
fn at<'a>(logs: &'a str, text: &str) -> &'a str {
    let line = logs
        .lines()
        .find(|l| l.contains(text))
        .unwrap_or_else(|| panic!("no `{text}` in {logs}"));
    line.split_whitespace().next().unwrap()
}

#[test]
fn a_dag_runs_independent_tasks_together_and_waits_for_dependencies() {
    let bin = build_yaml("diamond", DAG);
    let state = scratch_dir("dag");
    let out = Command::new(&bin)
        .args(["run", "--state", state.to_str().unwrap()])
        .output()
        .unwrap();
    let summary = summary_of(&out);
    assert_eq!(summary["state"], "SUCCESS", "{summary}");
    let logs = Command::new(&bin)
        .args(["logs", summary["id"].as_str().unwrap(), "--state"])
        .arg(&state)
        .output()
        .unwrap();
    let logs = String::from_utf8_lossy(&logs.stdout).to_string();
    let (left_start, right_start) = (at(&logs, "left starts"), at(&logs, "right starts"));
    let (left_end, right_end) = (at(&logs, "left ends"), at(&logs, "right ends"));
    let join = at(&logs, "join starts");
    // Together: each branch starts before the other ends.
    assert!(left_start < right_end && right_start < left_end, "{logs}");
    // The join waits for both.
    assert!(join >= left_end && join >= right_end, "{logs}");
}
