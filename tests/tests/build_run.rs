//! End to end: every flow in `examples/` is built with the same code `kflowc build` runs (one
//! cached workspace, a real `cargo build`, a static binary), then run as a process; states,
//! outputs, task runs and exit codes are what Kestra would give.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use kflow_compiler::{check_source, source::SourceFile, Options};
use kflow_tests::{build_flow, flow_files, project_dir};
use serde_json::Value;

/// Build one flow file, holding the plan lowered in process; returns the binary.
fn binary(path: &Path) -> PathBuf {
    static LOCK: OnceLock<std::sync::Mutex<()>> = OnceLock::new();
    // cargo serializes builds in one target dir anyway; this keeps the output readable.
    let _guard = LOCK
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    build_flow(path).unwrap_or_else(|e| panic!("building {}: {e}", path.display()))
}

fn example(name: &str) -> PathBuf {
    project_dir().join("examples").join(name)
}

fn state_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kflow-e2e-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn run(binary: &Path, test: &str, args: &[&str]) -> (Output, Value) {
    let state = state_dir(test);
    let output = Command::new(binary)
        .arg("run")
        .args(["--state", state.to_str().unwrap()])
        .args(args)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let summary: Value = serde_json::from_str(last).unwrap_or_else(|e| {
        panic!(
            "last stdout line is not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output, summary)
}

fn runs<'a>(summary: &'a Value, task: &str) -> Vec<&'a Value> {
    summary["task_runs"]
        .as_array()
        .expect("task_runs")
        .iter()
        .filter(|r| r["task_id"] == task)
        .collect()
}

fn order(summary: &Value) -> Vec<String> {
    summary["task_runs"]
        .as_array()
        .expect("task_runs")
        .iter()
        .map(|r| r["task_id"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn greet_reads_inputs_loops_and_returns_outputs() {
    let bin = binary(&example("core/greet.yml"));
    let (out, summary) = run(&bin, "greet", &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(summary["state"], "SUCCESS");
    assert_eq!(summary["outputs"]["greeting"], "WORLD");
    assert_eq!(summary["outputs"]["last_step"], "WORLD #2");
    assert_eq!(summary["labels"]["team"], "docs");
    assert_eq!(order(&summary), ["hello", "shout", "count", "step", "step"]);
    let steps = runs(&summary, "step");
    assert_eq!(steps[0]["value"], "1");
    assert_eq!(steps[1]["outputs"]["value"], "WORLD #2");
    assert_eq!(
        steps[0]["parent_task_run_id"],
        runs(&summary, "count")[0]["task_run_id"]
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Hello world!"));

    let (out, summary) = run(
        &bin,
        "greet-inputs",
        &["--input", "name=kflow", "--input", "times=3"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(summary["outputs"]["last_step"], "KFLOW #3");
    assert_eq!(runs(&summary, "step").len(), 3);
}

#[test]
fn a_bad_input_exits_two_naming_the_input() {
    let bin = binary(&example("core/greet.yml"));
    let state = state_dir("bad-input");
    let out = Command::new(&bin)
        .args([
            "run",
            "--state",
            state.to_str().unwrap(),
            "--input",
            "times=many",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("times"), "{stderr}");
}

#[test]
fn failures_run_errors_then_finally_with_retries_and_allowed_failures() {
    let bin = binary(&example("core/failure_handling.yml"));
    let (out, summary) = run(&bin, "failure", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(summary["state"], "FAILED");
    assert_eq!(
        order(&summary),
        ["flaky", "before_crash", "crash", "alert", "cleanup"]
    );
    let flaky = runs(&summary, "flaky")[0];
    assert_eq!(
        flaky["state"], "WARNING",
        "allowFailure turns FAILED into WARNING"
    );
    assert_eq!(
        flaky["attempts"].as_array().unwrap().len(),
        3,
        "maxAttempt: 3"
    );
    assert_eq!(runs(&summary, "crash")[0]["state"], "FAILED");
    assert_eq!(runs(&summary, "cleanup")[0]["state"], "SUCCESS");
    assert!(String::from_utf8_lossy(&out.stderr).contains("fatal: failure_handling cannot go on"));
}

#[test]
fn branches_overlap_in_parallel_and_choose_by_input() {
    let bin = binary(&example("core/branches.yml"));
    let (out, summary) = run(&bin, "branches", &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(summary["state"], "SUCCESS");
    // Three sleeps of 0.5 s: in parallel they take about 0.5 s, one after another 1.5 s.
    let duration = summary["duration_ms"].as_u64().unwrap();
    assert!(duration < 1_200, "Parallel did not overlap: {duration} ms");
    assert!(runs(&summary, "dry_run").len() == 1 && runs(&summary, "deploy").is_empty());
    assert_eq!(
        runs(&summary, "dev_settings")[0]["outputs"]["value"],
        "small"
    );
    assert_eq!(runs(&summary, "only_prod")[0]["state"], "SKIPPED");
    assert_eq!(summary["labels"]["env"], "dev");

    let (_, summary) = run(&bin, "branches-prod", &["--input", "env=prod"]);
    assert_eq!(runs(&summary, "deploy").len(), 1);
    assert_eq!(
        runs(&summary, "prod_settings")[0]["outputs"]["value"],
        "large"
    );
    assert_eq!(runs(&summary, "only_prod")[0]["state"], "SUCCESS");
    let (out, _) = run_raw(&bin, "branches-bad", &["--input", "env=staging"]);
    assert_eq!(out.status.code(), Some(2));
}

fn run_raw(binary: &Path, test: &str, args: &[&str]) -> (Output, String) {
    let state = state_dir(test);
    let out = Command::new(binary)
        .args(["run", "--state", state.to_str().unwrap()])
        .args(args)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    (out, stderr)
}

#[test]
fn exit_ends_the_execution_in_its_state() {
    let bin = binary(&example("core/early_exit.yml"));
    let (out, summary) = run(&bin, "exit", &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(summary["state"], "WARNING");
    assert_eq!(order(&summary), ["check", "stop"]);
}

/// Every example either builds and runs to a clear end, holding exactly the plan the compiler
/// lowers, or is refused by `build` (`KF111`) at each task whose type this version's runtime
/// cannot run (`BigQuery`). `examples_e2e.rs` runs those it can against local servers.
#[test]
fn every_example_builds_or_is_refused_at_each_task_it_cannot_run() {
    let mut built = 0;
    let mut refused = 0;
    for path in flow_files(&project_dir().join("examples")) {
        let text = std::fs::read_to_string(&path).expect("flow file");
        let checked = check_source(
            SourceFile::new(&path, text.clone()),
            Options {
                allow_unknown_types: false,
                runnable: true,
            },
        );
        let flow = checked.flow.as_ref().expect("a checked flow");
        let cannot_run: Vec<String> = flow
            .all_tasks()
            .iter()
            .filter(|t| !kflow_compiler::lower::is_runnable(t.plugin))
            .map(|t| t.id.value.clone())
            .collect();
        if !cannot_run.is_empty() {
            let diagnostics = &checked.report.diagnostics;
            let not_runnable: Vec<_> = diagnostics
                .iter()
                .filter(|d| d.code == kflow_compiler::diag::Code::NotRunnable)
                .collect();
            assert_eq!(
                not_runnable.len(),
                cannot_run.len(),
                "{}: one refusal per task that cannot run ({cannot_run:?})",
                path.display()
            );
            assert_eq!(
                checked.report.error_count(),
                not_runnable.len(),
                "{}: nothing else is wrong",
                path.display()
            );
            refused += 1;
            continue;
        }
        // `binary` also holds the binary's plan against the one lowered in process; a flow
        // that starts others (resilient_flow) is built with them and named to `run`.
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let companions = kflow_tests::companions(&path);
        let bin = if companions.is_empty() {
            binary(&path)
        } else {
            let mut paths = vec![path.clone()];
            paths.extend(companions);
            kflow_tests::build_flows(&paths, &format!("bundle_{name}"))
                .unwrap_or_else(|e| panic!("building {}: {e}", path.display()))
        };
        let info = Command::new(&bin).arg("info").output().expect("info runs");
        assert_eq!(info.status.code(), Some(0), "{}", path.display());
        // A required input without a default (the include_flow! example's `city`) is given.
        let plan = kflow_compiler::build::plan(flow, &text, &name);
        let mut args = vec![flow.id.value.clone()];
        for input in plan
            .inputs
            .iter()
            .filter(|i| i.required && i.defaults.is_none())
        {
            use kflow_runtime::plan::InputType;
            let value = match input.ty {
                InputType::Int | InputType::Float => "1",
                InputType::Bool => "true",
                _ => "x",
            };
            args.extend(["--input".to_string(), format!("{}={value}", input.id)]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (out, _) = run_raw(&bin, &name, &args);
        let code = out.status.code();
        assert!(
            matches!(code, Some(0..=1)),
            "{}: exit {code:?}",
            path.display()
        );
        built += 1;
    }
    assert!(
        built >= 5 && refused >= 1,
        "built {built}, refused {refused}"
    );
}

/// The binary is statically linked: no program interpreter, and it runs in an empty chroot
/// (no `/lib`, no `/etc`, nothing but itself).
#[test]
fn the_binary_is_static_and_runs_in_an_empty_chroot() {
    let bin = binary(&example("core/greet.yml"));
    let elf = std::fs::read(&bin).expect("binary");
    assert!(
        !has_interpreter(&elf),
        "the binary asks for a dynamic loader (PT_INTERP)"
    );
    if let Ok(out) = Command::new("file").arg(&bin).output() {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("statically linked") || text.contains("static-pie linked"),
            "{text}"
        );
    }
    let jail = std::env::temp_dir().join(format!("kflow-jail-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&jail);
    std::fs::create_dir_all(&jail).unwrap();
    std::fs::copy(&bin, jail.join("greet")).unwrap();
    // chroot needs root; elsewhere a user namespace gives the same empty root.
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    let mut command = if is_root {
        Command::new("chroot")
    } else {
        let mut c = Command::new("unshare");
        c.args(["--user", "--map-root-user", "chroot"]);
        c
    };
    let out = command
        .arg(&jail)
        .args(["/greet", "run", "--state", "/state", "--input", "name=jail"])
        .output()
        .expect("chroot runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap()).expect("summary");
    assert_eq!(summary["outputs"]["greeting"], "JAIL");
    assert!(
        jail.join("state/state.db").exists(),
        "the state was written inside the jail"
    );
    let _ = std::fs::remove_dir_all(&jail);
}

/// Whether an ELF64 file has a `PT_INTERP` program header (a dynamic loader to run it).
fn has_interpreter(elf: &[u8]) -> bool {
    let read = |at: usize, n: usize| -> u64 {
        elf.get(at..at + n).map_or(0, |b| {
            b.iter()
                .rev()
                .fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
        })
    };
    assert_eq!(elf.get(..4), Some(&b"\x7fELF"[..]), "not an ELF file");
    let phoff = usize::try_from(read(0x20, 8)).unwrap();
    let phentsize = usize::try_from(read(0x36, 2)).unwrap();
    let phnum = usize::try_from(read(0x38, 2)).unwrap();
    (0..phnum).any(|i| read(phoff + i * phentsize, 4) == 3)
}

/// Flow-level `concurrency`: two runs sharing a state directory, limit 1, QUEUE: the second
/// waits for the first, so together they take two sleeps, not one.
#[test]
fn a_concurrency_limit_queues_the_second_run() {
    let bin = binary(&example("core/one_at_a_time.yml"));
    let state = state_dir("concurrency");
    let start = std::time::Instant::now();
    let spawn = || {
        Command::new(&bin)
            .args(["run", "--state", state.to_str().unwrap()])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("runs")
    };
    let first = spawn();
    let second = spawn();
    let first = first.wait_with_output().expect("first ends");
    let second = second.wait_with_output().expect("second ends");
    let elapsed = start.elapsed();
    assert_eq!(first.status.code(), Some(0));
    assert_eq!(second.status.code(), Some(0));
    assert!(
        elapsed >= std::time::Duration::from_millis(1_500),
        "ran together: {elapsed:?}"
    );
    let queued = [&first, &second]
        .iter()
        .any(|o| String::from_utf8_lossy(&o.stderr).contains("queued"));
    assert!(queued, "neither run reported waiting");
    let listing = Command::new(&bin)
        .args([
            "executions",
            "--state",
            state.to_str().unwrap(),
            "--format",
            "json",
        ])
        .output()
        .expect("executions");
    let rows: Value = serde_json::from_slice(&listing.stdout).expect("JSON");
    assert_eq!(rows.as_array().map(Vec::len), Some(2));
}

/// `retry: {behavior: CREATE_NEW_EXECUTION}` (Kestra's `RetryCaseTest` flows): the execution is
/// retried as new executions, which end RETRIED, RETRIED, then FAILED, with `maxAttempt` or
/// `maxDuration`, on the task or the flow.
#[test]
fn retries_as_new_executions_end_retried_retried_failed() {
    for flow in [
        "retry-new-execution-task-attempts.yml",
        "retry-new-execution-flow-attempts.yml",
        "retry-new-execution-task-duration.yml",
        "retry-new-execution-flow-duration.yml",
    ] {
        let bin = binary(&kflow_tests::corpus_dir().join("kestra/valids").join(flow));
        let (out, _) = run_raw(&bin, flow, &[]);
        assert_eq!(out.status.code(), Some(1), "{flow}");
        let states: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .map(|s| s["state"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(states, ["RETRIED", "RETRIED", "FAILED"], "{flow}");
    }
}

/// SIGTERM kills a running execution the way Kestra's kill does: the running task is
/// cancelled, it and the execution are recorded KILLED, the summary is printed, exit 1.
#[cfg(unix)]
#[test]
fn sigterm_kills_the_execution_and_records_it() {
    let dir = state_dir("sigterm-flow");
    std::fs::create_dir_all(&dir).unwrap();
    let flow = dir.join("long_wait.yml");
    std::fs::write(
        &flow,
        "id: long_wait\nnamespace: kflow.tests\ntasks:\n  - id: first\n    type: io.kestra.plugin.core.log.Log\n    message: started\n  - id: wait\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT60S\n  - id: never\n    type: io.kestra.plugin.core.log.Log\n    message: not reached\n",
    )
    .unwrap();
    let bin = binary(&flow);
    let state = state_dir("sigterm");
    let child = Command::new(&bin)
        .args(["run", "--state", state.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary starts");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let started = std::time::Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let out = child.wait_with_output().expect("the binary ends");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(summary["state"], "KILLED");
    assert_eq!(order(&summary), ["first", "wait"]);
    assert_eq!(runs(&summary, "first")[0]["state"], "SUCCESS");
    assert_eq!(runs(&summary, "wait")[0]["state"], "KILLED");
    assert!(String::from_utf8_lossy(&out.stderr).contains("SIGTERM received"));
    // The state holds the same.
    let listed = Command::new(&bin)
        .args([
            "executions",
            "--format",
            "json",
            "--state",
            state.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed[0]["id"], summary["id"]);
    assert_eq!(listed[0]["state"], "KILLED");
}
