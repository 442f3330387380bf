//! The recorded history in a built binary: `log.Fetch` copies this execution's lines into
//! internal storage (by level and task); `PurgeExecutions` removes ended executions with their
//! logs and files, never the one running; `PurgeLogs` removes lines by level.

use std::path::Path;
use std::process::Command;

use kflow_tests::{build_yaml, files_under, scratch_dir, summary_of, task_run};
use serde_json::Value;

const KEEPER: &str = "id: keeper
namespace: kflow.tests
inputs:
  - id: purge
    type: BOOLEAN
    defaults: false
tasks:
  - id: chatter
    type: io.kestra.plugin.core.log.Log
    message: [just saying, \"{{ 'careful' }}\"]
  - id: warn
    type: io.kestra.plugin.core.log.Log
    level: WARN
    message: watch out
  - id: fetch
    type: io.kestra.plugin.core.log.Fetch
    level: WARN
  - id: fetched
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ read(outputs.fetch.uri) }}\"
  - id: file
    type: io.kestra.plugin.core.storage.Write
    content: kept until purged
  - id: purge_executions
    type: io.kestra.plugin.core.execution.PurgeExecutions
    runIf: \"{{ inputs.purge }}\"
    endDate: \"{{ now() }}\"
  - id: purge_logs
    type: io.kestra.plugin.core.log.PurgeLogs
    runIf: \"{{ inputs.purge }}\"
    endDate: \"{{ now() }}\"
    logLevels: [INFO]
";

fn run(bin: &Path, state: &Path, purge: bool) -> Value {
    let out = Command::new(bin)
        .args(["run", "--state", state.to_str().unwrap(), "--input"])
        .arg(format!("purge={purge}"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    summary_of(&out)
}

#[test]
fn fetch_and_purge_the_recorded_history() {
    let bin = build_yaml("keeper", KEEPER);
    let state = scratch_dir("history");

    let first = run(&bin, &state, false);
    // WARN and above only: one line, as an Ion struct naming its task.
    assert_eq!(task_run(&first, "fetch")["outputs"]["size"], 1);
    let fetched = task_run(&first, "fetched")["outputs"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(fetched.contains("taskId:\"warn\""), "{fetched}");
    assert!(fetched.contains("message:\"watch out\""), "{fetched}");
    assert!(!fetched.contains("just saying"), "{fetched}");
    assert_eq!(files_under(&state.join("storage")).len(), 2);

    let second = run(&bin, &state, true);
    // The first execution goes, with its logs and its two files; the running one stays.
    let purged = &task_run(&second, "purge_executions")["outputs"];
    assert_eq!(purged["executionsCount"], 1, "{second}");
    assert_eq!(purged["storagesCount"], 2, "{second}");
    assert!(purged["logsCount"].as_u64().unwrap() >= 3, "{second}");
    // This execution's INFO lines so far (chatter's two) are purged; its WARN line is not.
    assert_eq!(
        task_run(&second, "purge_logs")["outputs"]["count"],
        2,
        "{second}"
    );
    let listed = Command::new(&bin)
        .args(["executions", "--format", "json", "--state"])
        .arg(&state)
        .output()
        .unwrap();
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], second["id"]);
    let logs = Command::new(&bin)
        .args(["logs", second["id"].as_str().unwrap(), "--state"])
        .arg(&state)
        .output()
        .unwrap();
    let logs = String::from_utf8_lossy(&logs.stdout);
    assert!(
        logs.contains("watch out") && !logs.contains("just saying"),
        "{logs}"
    );
    assert_eq!(files_under(&state.join("storage")).len(), 2);
}
