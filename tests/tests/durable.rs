//! Durable executions, end to end with real binaries and real processes: a run killed with
//! SIGKILL is marked FAILED by the next process that opens the state and `restart` finishes
//! it; a PAUSED execution is resumed with its `onResume` inputs; `replay --from` keeps the
//! earlier task runs; `kill` stops a run from another process; `logs` prints what the run
//! logged; every action shows in `executions`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use kflow_tests::{build_yaml, scratch_dir, summary_of};
use serde_json::Value;

fn binary(name: &str, yaml: &str) -> PathBuf {
    build_yaml(name, yaml)
}

fn scratch(name: &str) -> PathBuf {
    scratch_dir(&format!("durable-{name}"))
}

/// `binary ARGS --state STATE`, waited for.
fn call(binary: &Path, state: &Path, args: &[&str]) -> Output {
    Command::new(binary)
        .args(args)
        .args(["--state", state.to_str().unwrap()])
        .output()
        .expect("the binary runs")
}

/// `binary run --state STATE` in the background (its summary on a pipe).
fn start_run(binary: &Path, state: &Path) -> std::process::Child {
    Command::new(binary)
        .args(["run", "--state", state.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts")
}

fn summary(out: &Output) -> Value {
    summary_of(out)
}

fn run_of<'a>(summary: &'a Value, task: &str) -> &'a Value {
    summary["task_runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["task_id"] == task)
        .unwrap_or_else(|| panic!("no task run of {task}: {summary}"))
}

fn executions(binary: &Path, state: &Path) -> Value {
    let out = call(binary, state, &["executions", "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn actions(execution: &Value) -> Vec<String> {
    execution["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap().to_string())
        .collect()
}

/// Waits until `logs ID` prints a line containing `text`; the id of the only execution.
fn wait_for_log(binary: &Path, state: &Path, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "no log line with `{text}`");
        if let Some(id) = std::fs::metadata(state.join("state.db"))
            .ok()
            .and_then(|_| {
                executions(binary, state)[0]["id"]
                    .as_str()
                    .map(String::from)
            })
        {
            let logs = call(binary, state, &["logs", &id]);
            if String::from_utf8_lossy(&logs.stdout).contains(text) {
                return id;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `wait` sleeps a minute on its first attempt and a moment on the next, so a restart can
/// finish what a SIGKILL interrupted.
const INTERRUPTED: &str = "id: interrupted
namespace: kflow.tests
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ now() }}\"
  - id: started
    type: io.kestra.plugin.core.log.Log
    message: waiting now
  - id: wait
    type: io.kestra.plugin.core.flow.Sleep
    duration: \"{{ taskrun.attemptsCount == 0 ? 'PT60S' : 'PT0.1S' }}\"
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: \"after {{ outputs.first.value }}\"
";

#[cfg(unix)]
#[test]
fn a_run_killed_with_sigkill_is_marked_failed_and_restart_finishes_it() {
    let bin = binary("interrupted", INTERRUPTED);
    let state = scratch("sigkill");
    let mut child = start_run(&bin, &state);
    // The log line of `started` is in the state while `wait` runs (`logs` reads it there).
    let id = wait_for_log(&bin, &state, "waiting now");
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL: nothing runs in the process after this.
    child.wait().unwrap();
    // Reading does not change the state: the execution still says RUNNING.
    assert_eq!(executions(&bin, &state)[0]["state"], "RUNNING");

    // The next process that opens the state for writing finds the execution's process gone.
    let killed = call(&bin, &state, &["kill", &id]);
    assert_eq!(
        killed.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&killed.stderr)
    );
    assert!(String::from_utf8_lossy(&killed.stderr).contains("already ended FAILED"));
    let listed = &executions(&bin, &state)[0];
    assert_eq!(listed["state"], "FAILED");
    assert_eq!(actions(listed), ["marked-failed"]);
    let logs = String::from_utf8_lossy(&call(&bin, &state, &["logs", &id]).stdout).to_string();
    assert!(
        logs.contains("the process running this execution ended before it did"),
        "{logs}"
    );

    let restarted = call(&bin, &state, &["restart", &id]);
    assert_eq!(
        restarted.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&restarted.stderr)
    );
    let summary = summary(&restarted);
    assert_eq!(summary["id"], id.as_str());
    assert_eq!(summary["state"], "SUCCESS");
    assert_eq!(summary["labels"]["system.restarted"], "true");
    // `first` and `started` are kept as they were: one attempt each, the output of before.
    let first = run_of(&summary, "first");
    assert_eq!(first["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(
        run_of(&summary, "started")["attempts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // `wait` has the interrupted attempt and the one that finished it.
    let wait = run_of(&summary, "wait");
    let attempts: Vec<&Value> = wait["attempts"].as_array().unwrap().iter().collect();
    assert_eq!(attempts.len(), 2, "{wait}");
    assert_eq!(attempts[0]["state"], "FAILED");
    assert_eq!(attempts[1]["state"], "SUCCESS");
    assert_eq!(
        run_of(&summary, "last")["outputs"]["value"],
        format!("after {}", first["outputs"]["value"].as_str().unwrap())
    );
    let listed = &executions(&bin, &state)[0];
    assert_eq!(listed["state"], "SUCCESS");
    assert_eq!(actions(listed), ["marked-failed", "restart"]);
    // A successful execution cannot be restarted; it can be replayed.
    let again = call(&bin, &state, &["restart", &id]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("`replay`"));
}

const APPROVAL: &str = "id: approval
namespace: kflow.tests
tasks:
  - id: before
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ now() }}\"
  - id: approve
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
      - id: reason
        type: STRING
        defaults: no reason
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ outputs.approve.onResume.approved }}: {{ outputs.approve.onResume.reason }}\"
";

#[test]
fn a_paused_execution_is_resumed_with_its_on_resume_inputs() {
    let bin = binary("approval", APPROVAL);
    let state = scratch("pause");
    let paused = call(&bin, &state, &["run"]);
    assert_eq!(
        paused.status.code(),
        Some(3),
        "PAUSED has its own exit status"
    );
    let first = summary(&paused);
    assert_eq!(first["state"], "PAUSED");
    assert_eq!(run_of(&first, "approve")["state"], "PAUSED");
    assert!(first["task_runs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["task_id"] != "after"));
    let id = first["id"].as_str().unwrap();
    assert!(String::from_utf8_lossy(&paused.stderr).contains(&format!("approval resume {id}")));
    assert_eq!(executions(&bin, &state)[0]["state"], "PAUSED");

    // The onResume inputs are validated as flow inputs are: nothing runs on a wrong one.
    let wrong = call(&bin, &state, &["resume", id, "--input", "approved=maybe"]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("approved"));
    let missing = call(&bin, &state, &["resume", id]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(executions(&bin, &state)[0]["state"], "PAUSED");

    let resumed = call(&bin, &state, &["resume", id, "--input", "approved=true"]);
    assert_eq!(
        resumed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let done = summary(&resumed);
    assert_eq!(done["id"], id);
    assert_eq!(done["state"], "SUCCESS");
    assert_eq!(run_of(&done, "approve")["state"], "SUCCESS");
    assert_eq!(
        run_of(&done, "after")["outputs"]["value"],
        "true: no reason"
    );
    // `before` did not run again.
    assert_eq!(
        run_of(&done, "before")["outputs"],
        run_of(&first, "before")["outputs"]
    );
    let listed = &executions(&bin, &state)[0];
    assert_eq!(actions(listed), ["resume"]);
    // Only a paused execution resumes.
    assert_eq!(call(&bin, &state, &["resume", id]).status.code(), Some(2));

    // A paused execution can be killed: no process runs it.
    let again = summary(&call(&bin, &state, &["run"]));
    let killed = call(&bin, &state, &["kill", again["id"].as_str().unwrap()]);
    assert_eq!(killed.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&killed.stdout).contains("KILLED"));
}

const REPLAYED: &str = "id: replayed
namespace: kflow.tests
inputs:
  - id: who
    type: STRING
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ inputs.who }} at {{ now() }}\"
  - id: second
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ outputs.first.value }} then {{ now() }}\"
";

#[test]
fn replay_from_a_task_run_reuses_the_outputs_before_it() {
    let bin = binary("replayed", REPLAYED);
    let state = scratch("replay");
    let original = summary(&call(&bin, &state, &["run", "--input", "who=ada"]));
    assert_eq!(original["state"], "SUCCESS");
    let id = original["id"].as_str().unwrap();
    let second = run_of(&original, "second")["task_run_id"].as_str().unwrap();
    std::thread::sleep(Duration::from_millis(5));

    let replay = call(&bin, &state, &["replay", id, "--from", second]);
    assert_eq!(
        replay.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    let replay = summary(&replay);
    assert_ne!(replay["id"], original["id"]);
    assert_eq!(replay["state"], "SUCCESS");
    assert_eq!(replay["labels"]["system.replay"], "true");
    // `first` is kept (same output, not run again); `second` runs anew, reading it.
    let kept = run_of(&replay, "first");
    assert_eq!(kept["outputs"], run_of(&original, "first")["outputs"]);
    assert_ne!(
        kept["task_run_id"],
        run_of(&original, "first")["task_run_id"]
    );
    let first_value = kept["outputs"]["value"].as_str().unwrap();
    let new_second = run_of(&replay, "second")["outputs"]["value"]
        .as_str()
        .unwrap();
    assert!(new_second.starts_with(&format!("{first_value} then ")));
    assert_ne!(
        run_of(&replay, "second")["outputs"],
        run_of(&original, "second")["outputs"]
    );

    // Without --from everything runs again, with the recorded inputs.
    let whole = summary(&call(&bin, &state, &["replay", id]));
    assert_ne!(
        run_of(&whole, "first")["outputs"],
        run_of(&original, "first")["outputs"]
    );
    assert!(run_of(&whole, "first")["outputs"]["value"]
        .as_str()
        .unwrap()
        .starts_with("ada at "));

    let listed = executions(&bin, &state);
    let by_id = |id: &Value| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|e| &e["id"] == id)
            .unwrap()
    };
    assert_eq!(actions(by_id(&original["id"])), ["replayed", "replayed"]);
    assert_eq!(actions(by_id(&replay["id"])), ["replay"]);
    assert_eq!(by_id(&replay["id"])["original_id"], original["id"]);

    let unknown = call(&bin, &state, &["replay", id, "--from", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no task run `nope`"));
}

const LONG: &str = "id: long
namespace: kflow.tests
tasks:
  - id: started
    type: io.kestra.plugin.core.log.Log
    message: sleeping now
  - id: wait
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT60S
  - id: never
    type: io.kestra.plugin.core.log.Log
    message: not reached
";

#[test]
fn kill_stops_a_run_from_another_process_and_logs_follow_it() {
    let bin = binary("long", LONG);
    let state = scratch("kill");
    let child = start_run(&bin, &state);
    let id = wait_for_log(&bin, &state, "sleeping now");
    let follower = Command::new(&bin)
        .args(["logs", &id, "--follow", "--state", state.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let killed = call(&bin, &state, &["kill", &id]);
    assert_eq!(
        killed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&killed.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&killed.stdout).trim(),
        format!("execution {id} KILLED")
    );
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(1));
    let summary = summary(&out);
    assert_eq!(summary["state"], "KILLED");
    assert_eq!(run_of(&summary, "wait")["state"], "KILLED");
    // `logs --follow` ends with the execution, having printed its lines.
    let followed = follower.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&followed.stdout);
    assert!(text.contains(" started sleeping now"), "{text}");
    assert!(text.contains("the execution was killed"), "{text}");
    assert_eq!(actions(&executions(&bin, &state)[0]), ["kill"]);
}

/// Several processes starting on the same new state at once all run: creating the database,
/// switching it to WAL and migrating it wait for each other (switching to WAL does not wait by
/// itself, and used to fail one run in two with "database is locked").
#[test]
fn runs_starting_together_on_a_new_state_all_run() {
    let bin = binary(
        "together",
        "id: together\nnamespace: kflow.tests\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
    );
    for round in 0..5 {
        let state = scratch(&format!("together-{round}"));
        let children: Vec<_> = (0..4)
            .map(|_| {
                Command::new(&bin)
                    .args(["run", "--state", state.to_str().unwrap()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_eq!(executions(&bin, &state).as_array().unwrap().len(), 4);
    }
}

const TIMED_PAUSE: &str = "id: timed_pause
namespace: kflow.tests
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT60S
  - id: last
    type: io.kestra.plugin.core.log.Log
    message: not reached
";

/// A Pause with a duration shows the execution PAUSED while it waits (as Kestra does), and a
/// `kill` reaches the process waiting at once, not when the duration ends (Kestra's
/// `PauseTest#killTimedPause`).
#[test]
fn a_timed_pause_shows_paused_and_is_killed_at_once() {
    let bin = binary("timed_pause", TIMED_PAUSE);
    let state = scratch("timed-pause");
    let child = start_run(&bin, &state);
    let deadline = Instant::now() + Duration::from_secs(30);
    let id = loop {
        assert!(Instant::now() < deadline, "never PAUSED");
        if state.join("state.db").exists() {
            let listed = executions(&bin, &state);
            if listed[0]["state"] == "PAUSED" {
                break listed[0]["id"].as_str().unwrap().to_string();
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let started = Instant::now();
    let killed = call(&bin, &state, &["kill", &id]);
    assert_eq!(killed.status.code(), Some(0));
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(20));
    let summary = summary(&out);
    assert_eq!(summary["state"], "KILLED");
    assert_eq!(run_of(&summary, "pause")["state"], "KILLED");
    assert!(summary["task_runs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["task_id"] != "last"));
}
