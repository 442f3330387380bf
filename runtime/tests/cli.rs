//! The generated binary's command line, driven through `cli::run_cli` with a flow built by
//! hand from the plan types (as generated code builds it).
#![cfg(feature = "executor")]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use kflow_runtime::cli::{run_cli, VersionInfo};
use kflow_runtime::plan::{
    Flow, Input, InputType, Prop, RecoverMissed, Schedule, Task, TaskKind, Trigger, TriggerKind,
};
use serde_json::{json, Value};

const VERSION: VersionInfo = VersionInfo { kflowc: "9.8.7" };

/// The source hash the test flows are given.
const SOURCE_HASH: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A fresh directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "kflow-cli-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }

    fn arg(&self) -> String {
        self.0.to_str().unwrap().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `mount` with these arguments; false where this machine does not let the test mount.
fn mount(args: &[&str]) -> bool {
    std::process::Command::new("mount")
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

fn input(id: &str, ty: InputType) -> Input {
    Input::new(id, ty)
}

/// A runnable task's kind with these properties (text or templates).
fn run(properties: &[(&str, &str)]) -> TaskKind {
    TaskKind::Run {
        properties: properties
            .iter()
            .map(|(name, text)| (name.to_string(), Prop::text(text).unwrap()))
            .collect(),
    }
}

fn hello(tasks: Vec<Task>) -> Flow {
    let mut count = input("count", InputType::Int);
    count.min = Some(1.0);
    count.defaults = Some(json!(1));
    count.description = Some("How many greetings".into());
    Flow {
        source_name: "hello.yml".into(),
        description: Some("Says hello.".into()),
        inputs: vec![input("name", InputType::String), count],
        labels: vec![("team".into(), "data".into())],
        tasks,
        triggers: vec![Trigger {
            id: "daily".into(),
            type_name: "io.kestra.plugin.core.trigger.Schedule".into(),
            disabled: false,
            stop_after: Vec::new(),
            conditions: Vec::new(),
            labels: Vec::new(),
            kind: TriggerKind::Schedule(Schedule {
                cron: "@daily".into(),
                with_seconds: false,
                timezone: None,
                inputs: None,
                late_maximum_delay: None,
                recover_missed: RecoverMissed::All,
            }),
        }],
        ..Flow::new("hello", "company.team")
    }
}

fn greeting_flow() -> Flow {
    hello(vec![
        Task::new(
            "greet",
            "io.kestra.plugin.core.log.Log",
            run(&[("message", "Hello {{ inputs.name }} x{{ inputs.count }}")]),
        ),
        Task::new(
            "answer",
            "io.kestra.plugin.core.debug.Return",
            run(&[("format", "{{ inputs.count * 21 }}")]),
        ),
    ])
}

fn failing_flow() -> Flow {
    hello(vec![Task::new(
        "boom",
        "io.kestra.plugin.core.execution.Fail",
        run(&[("errorMessage", "it broke")]),
    )])
}

struct Output {
    code: u8,
    stdout: String,
    stderr: String,
}

impl Output {
    /// The summary: the last line on stdout.
    fn summary(&self) -> Value {
        let last = self.stdout.lines().last().expect("a summary line");
        serde_json::from_str(last).expect("the last line is JSON")
    }
}

fn cli(flow: &Flow, args: &[&str]) -> Output {
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let argv = std::iter::once("hello").chain(args.iter().copied());
    let mut flow = flow.clone();
    if flow.source_hash.is_empty() {
        flow.source_hash = SOURCE_HASH.into();
    }
    let bundle = kflow_runtime::bundle::Bundle::single(flow, &[]);
    let code = run_cli(&bundle, &VERSION, argv, &mut stdout, &mut stderr);
    Output {
        code,
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    }
}

#[test]
fn run_prints_the_summary_last_and_exits_0() {
    let state = TempDir::new();
    let out = cli(
        &greeting_flow(),
        &[
            "run",
            "--input",
            "name=Ada",
            "--input",
            "count=2",
            "--label",
            "env=test",
            "--state",
            &state.arg(),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let summary = out.summary();
    assert_eq!(summary["state"], "SUCCESS");
    assert_eq!(
        summary["labels"],
        json!({"team": "data", "env": "test", "system.correlationId": summary["id"]})
    );
    assert_eq!(summary["id"].as_str().unwrap().len(), 22);
    let runs = summary["task_runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["task_id"], "greet");
    assert_eq!(runs[1]["outputs"], json!({"value": "42"}));
    for key in [
        "task_id",
        "task_run_id",
        "parent_task_run_id",
        "value",
        "state",
        "attempts",
        "outputs",
    ] {
        assert!(runs[0].get(key).is_some(), "task run has `{key}`");
    }
    for key in [
        "id",
        "state",
        "outputs",
        "labels",
        "duration_ms",
        "task_runs",
    ] {
        assert!(summary.get(key).is_some(), "summary has `{key}`");
    }
    assert!(state.0.join("state.db").is_file());
}

#[test]
fn failed_executions_exit_1() {
    let state = TempDir::new();
    let out = cli(
        &failing_flow(),
        &["run", "--input", "name=Ada", "--state", &state.arg()],
    );
    assert_eq!(out.code, 1);
    assert_eq!(out.summary()["state"], "FAILED");
}

/// `--format human` (the default when stdout is a terminal) ends with a summary for people, not
/// the JSON line; the exit status is the same.
#[test]
fn a_human_summary_on_request() {
    let state = TempDir::new();
    let out = cli(
        &failing_flow(),
        &[
            "run",
            "--input",
            "name=Ada",
            "--state",
            &state.arg(),
            "--format",
            "human",
        ],
    );
    assert_eq!(out.code, 1);
    let first = out.stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("execution ") && first.contains("  FAILED  in "),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains('{'), "{}", out.stdout);
    assert!(out
        .stdout
        .lines()
        .any(|l| l.trim_start().starts_with("FAILED")));
}

#[test]
fn bad_inputs_exit_2_naming_each_input() {
    let state = TempDir::new();
    let out = cli(
        &greeting_flow(),
        &[
            "run",
            "--input",
            "count=abc",
            "--input",
            "nmae=x",
            "--state",
            &state.arg(),
        ],
    );
    assert_eq!(out.code, 2);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "error: input `nmae`: not an input of this flow; did you mean `name`?\n\
         error: input `name`: missing required input: expected a STRING (give it with --input name=VALUE)\n\
         error: input `count`: expected an INT, got \"abc\"\n"
    );
    assert!(
        !state.0.exists(),
        "nothing is recorded for an execution that never started"
    );

    let out = cli(
        &greeting_flow(),
        &[
            "run",
            "--input",
            "name=Ada",
            "--input",
            "count=0",
            "--state",
            &state.arg(),
        ],
    );
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "error: input `count`: expected an INT of at least 1, got 0\n"
    );
}

#[test]
fn inputs_from_a_json_file() {
    let state = TempDir::new();
    std::fs::create_dir_all(&state.0).unwrap();
    let file = state.0.join("inputs.json");
    std::fs::write(&file, r#"{"name": "Bo", "count": 3}"#).unwrap();
    let file_arg = file.to_str().unwrap();
    let out = cli(
        &greeting_flow(),
        &["run", "--inputs", file_arg, "--state", &state.arg()],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.summary()["task_runs"][1]["outputs"]["value"], "63");

    // The command line wins over the file.
    let out = cli(
        &greeting_flow(),
        &[
            "run",
            "--inputs",
            file_arg,
            "--input",
            "count=1",
            "--state",
            &state.arg(),
        ],
    );
    assert_eq!(out.summary()["task_runs"][1]["outputs"]["value"], "21");

    std::fs::write(&file, "[1, 2]").unwrap();
    let out = cli(
        &greeting_flow(),
        &["run", "--inputs", file_arg, "--state", &state.arg()],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("expected a JSON object of input values, got a list"),
        "{}",
        out.stderr
    );

    // A key given twice is an error naming it, not a silent choice of the last value.
    std::fs::write(&file, r#"{"name": "Bo", "count": 3, "name": "Al"}"#).unwrap();
    let out = cli(
        &greeting_flow(),
        &["run", "--inputs", file_arg, "--state", &state.arg()],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("the key `name` is given twice"),
        "{}",
        out.stderr
    );

    let out = cli(
        &greeting_flow(),
        &["run", "--inputs", "/no/such.json", "--state", &state.arg()],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .starts_with("error: --inputs /no/such.json: cannot read"),
        "{}",
        out.stderr
    );
}

#[test]
fn executions_lists_newest_first() {
    let state = TempDir::new();
    let empty = cli(
        &greeting_flow(),
        &["executions", "--state", &state.arg(), "--format", "json"],
    );
    assert_eq!((empty.code, empty.stdout.trim()), (0, "[]"));
    assert!(!state.0.exists(), "listing creates no state");

    let first = cli(
        &greeting_flow(),
        &["run", "--input", "name=A", "--state", &state.arg()],
    )
    .summary();
    let second = cli(
        &failing_flow(),
        &["run", "--input", "name=B", "--state", &state.arg()],
    )
    .summary();

    let out = cli(
        &greeting_flow(),
        &["executions", "--state", &state.arg(), "--format", "json"],
    );
    assert_eq!(out.code, 0);
    let list: Value = serde_json::from_str(&out.stdout).unwrap();
    let ids: Vec<&Value> = list.as_array().unwrap().iter().map(|e| &e["id"]).collect();
    assert_eq!(ids, [&second["id"], &first["id"]]);
    assert_eq!(list[0]["state"], "FAILED");
    assert_eq!(list[1]["inputs"], json!({"count": 1, "name": "A"}));
    assert!(list[1]["start"].as_str().unwrap().ends_with('Z'));

    let table = cli(
        &greeting_flow(),
        &["executions", "--state", &state.arg(), "--limit", "1"],
    );
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", table.stdout);
    assert!(
        lines[0].starts_with("ID")
            && lines[0].contains("STATE")
            && lines[0].contains("DURATION")
            && lines[0].ends_with("ACTIONS")
    );
    assert!(lines[1].starts_with(second["id"].as_str().unwrap()));
    assert!(lines[1].contains("FAILED"));

    let bad = cli(&greeting_flow(), &["executions", "--format", "yaml"]);
    assert_eq!(bad.code, 2);
}

#[test]
fn inputs_prints_a_json_schema() {
    let out = cli(&greeting_flow(), &["inputs"]);
    assert_eq!(out.code, 0);
    let schema: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["required"], json!(["name"]));
    assert_eq!(schema["properties"]["count"]["type"], "integer");
    assert_eq!(schema["properties"]["count"]["default"], 1);
    assert_eq!(
        schema["properties"]["count"]["description"],
        "How many greetings"
    );
}

#[test]
fn info_describes_the_binary() {
    let out = cli(&greeting_flow(), &["info"]);
    assert_eq!(out.code, 0);
    let info: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(info["id"], "hello");
    assert_eq!(info["namespace"], "company.team");
    assert_eq!(info["source_hash"], SOURCE_HASH);
    assert_eq!(info["kflowc_version"], "9.8.7");
    assert_eq!(
        info["triggers"],
        json!([{"id": "daily", "type": "io.kestra.plugin.core.trigger.Schedule"}])
    );
}

#[test]
fn version_help_and_bad_arguments() {
    let out = cli(&greeting_flow(), &["--version"]);
    assert_eq!(out.code, 0);
    assert_eq!(
        out.stdout,
        "hello (flow company.team.hello, source sha256 0123456789ab, kflowc 9.8.7)\n"
    );

    let out = cli(&greeting_flow(), &["--help"]);
    assert_eq!(out.code, 0);
    for word in [
        "run",
        "serve",
        "inputs",
        "info",
        "executions",
        "kill -9",
        "power cut",
    ] {
        assert!(
            out.stdout.contains(word),
            "--help mentions {word}:\n{}",
            out.stdout
        );
    }
    let out = cli(&greeting_flow(), &["run", "--help"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("--input <ID=VALUE>"), "{}", out.stdout);
    assert!(out.stdout.contains("Exit status"), "{}", out.stdout);

    let out = cli(&greeting_flow(), &[]);
    assert_eq!(out.code, 2, "no command is a usage error");

    let out = cli(&greeting_flow(), &["exections"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("similar subcommand exists: 'executions'"),
        "{}",
        out.stderr
    );

    let out = cli(&greeting_flow(), &["run", "--input", "name"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("expected KEY=VALUE"), "{}", out.stderr);

    let out = cli(&greeting_flow(), &["run", "--limit", "3"]);
    assert_eq!(out.code, 2);
}

/// `triggers` lists each trigger with its next tick; `disable`/`enable` keep a switch in the
/// state; an unknown trigger is a usage error naming the ones there are.
#[test]
fn triggers_are_listed_disabled_and_enabled() {
    let state = TempDir::new();
    let dir = state.0.to_str().unwrap();
    let out = cli(
        &greeting_flow(),
        &["triggers", "--format", "json", "--state", dir],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let listed: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(listed[0]["id"], "daily");
    assert_eq!(listed[0]["status"], "enabled");
    assert!(listed[0]["last"].is_null());
    // @daily: the next midnight, in the host's zone.
    assert!(
        listed[0]["next"].as_str().unwrap().contains("T00:00:00"),
        "{listed}"
    );

    let out = cli(
        &greeting_flow(),
        &["triggers", "disable", "daily", "--state", dir],
    );
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "trigger `daily` disabled\n")
    );
    let out = cli(&greeting_flow(), &["triggers", "--state", dir]);
    assert!(out.stdout.contains("disabled"), "{}", out.stdout);
    let out = cli(
        &greeting_flow(),
        &["triggers", "enable", "daily", "--state", dir],
    );
    assert_eq!(out.code, 0);
    let out = cli(&greeting_flow(), &["triggers", "--state", dir]);
    assert!(out.stdout.contains("enabled"), "{}", out.stdout);

    let out = cli(
        &greeting_flow(),
        &["triggers", "disable", "hourly", "--state", dir],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("no trigger `hourly` (the triggers: daily)"),
        "{}",
        out.stderr
    );
    let out = cli(
        &greeting_flow(),
        &[
            "backfill",
            "--trigger",
            "daily",
            "--start",
            "tomorrow",
            "--end",
            "2024-01-01",
            "--state",
            dir,
        ],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--start `tomorrow` is not a date"),
        "{}",
        out.stderr
    );
}

/// A flow of `n` `OutputValues` tasks, each with an output of `size` bytes to record.
fn heavy_flow(n: usize, size: usize) -> Flow {
    let blob = json!({ "blob": "x".repeat(size) });
    hello(
        (0..n)
            .map(|i| {
                Task::new(
                    &format!("out_{i}"),
                    "io.kestra.plugin.core.output.OutputValues",
                    TaskKind::Run {
                        properties: vec![("values".into(), Prop::Value(blob.clone()))],
                    },
                )
            })
            .collect(),
    )
}

/// A full disk stops the execution where recording failed: no further task runs unrecorded,
/// the error says why, the exit status is 1. (The disk is a small tmpfs, mounted when the test
/// runs as root with the right to mount; elsewhere the test says it was skipped.)
#[test]
fn a_full_disk_stops_the_execution_with_a_clear_error() {
    let state = TempDir::new();
    std::fs::create_dir_all(&state.0).unwrap();
    let mounted = mount(&["-t", "tmpfs", "-o", "size=512k", "tmpfs", &state.arg()]);
    if !mounted {
        eprintln!("skipped: cannot mount a small tmpfs here to fill it");
        return;
    }
    let out = cli(
        &heavy_flow(400, 4096),
        &["run", "--input", "name=disk", "--state", &state.arg()],
    );
    let _ = std::process::Command::new("umount").arg(&state.0).status();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("error: state:"), "{}", out.stderr);
    let summary = out.summary();
    assert_eq!(summary["state"], "FAILED");
    let ran = summary["task_runs"].as_array().unwrap().len();
    assert!(ran < 400, "{ran} tasks ran on a full disk");
}

/// A state file whose pages are damaged is refused when it is opened, naming the file and what
/// to do, before anything runs.
#[test]
fn a_damaged_state_is_refused_before_anything_runs() {
    let state = TempDir::new();
    let out = cli(
        &heavy_flow(50, 2000),
        &["run", "--input", "name=a", "--state", &state.arg()],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let db = state.0.join("state.db");
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() > 16 * 4096, "{} bytes", bytes.len());
    for byte in &mut bytes[8 * 4096..12 * 4096] {
        *byte = 0xA5;
    }
    std::fs::write(&db, bytes).unwrap();
    let out = cli(
        &greeting_flow(),
        &["run", "--input", "name=b", "--state", &state.arg()],
    );
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("state.db"), "{}", out.stderr);
    assert!(out.stderr.contains("move it away"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "nothing ran: {}", out.stdout);
}

/// `executions` reads a state it cannot write: here a file system mounted read-only (when the
/// test may mount one; elsewhere it says it was skipped).
#[test]
fn executions_are_listed_from_a_read_only_state() {
    let state = TempDir::new();
    std::fs::create_dir_all(&state.0).unwrap();
    let mounted = mount(&["-t", "tmpfs", "-o", "size=4m", "tmpfs", &state.arg()]);
    if !mounted {
        eprintln!("skipped: cannot mount a tmpfs here to make it read-only");
        return;
    }
    let ran = cli(
        &greeting_flow(),
        &["run", "--input", "name=ro", "--state", &state.arg()],
    );
    let remounted = mount(&["-o", "remount,ro", &state.arg()]);
    let listed = cli(
        &greeting_flow(),
        &["executions", "--format", "json", "--state", &state.arg()],
    );
    let _ = std::process::Command::new("umount").arg(&state.0).status();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(remounted, "the tmpfs could not be made read-only");
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let rows: Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(rows[0]["id"], ran.summary()["id"]);
    assert_eq!(rows[0]["state"], "SUCCESS");
}

/// A secret's value is masked wherever the execution writes it out (summary, task outputs, flow
/// outputs, labels, logs, the state file), while tasks pass it to each other as it is.
#[test]
fn secrets_are_masked_wherever_they_are_written() {
    const VALUE: &str = "s3cr3t-Value-42";
    // base64 of VALUE, as Kestra's open-source edition reads `SECRET_<NAME>`.
    std::env::set_var("SECRET_KFLOW_TEST_TOKEN", "czNjcjN0LVZhbHVlLTQy");
    let mut flow = hello(vec![
        Task::new(
            "say",
            "io.kestra.plugin.core.log.Log",
            run(&[("message", "the token is {{ secret('KFLOW_TEST_TOKEN') }}")]),
        ),
        Task::new(
            "give",
            "io.kestra.plugin.core.debug.Return",
            run(&[("format", "{{ secret('KFLOW_TEST_TOKEN') }}")]),
        ),
        Task::new(
            "count",
            "io.kestra.plugin.core.debug.Return",
            run(&[("format", "{{ outputs.give.value | length }}")]),
        ),
        Task::new(
            "label",
            "io.kestra.plugin.core.execution.Labels",
            run(&[(
                "labels",
                "{\"token\": \"{{ secret('KFLOW_TEST_TOKEN') }}\"}",
            )]),
        ),
    ]);
    flow.outputs = vec![kflow_runtime::plan::FlowOutput {
        id: "token".into(),
        ty: InputType::String,
        value: Prop::text("{{ outputs.give.value }}").unwrap(),
    }];
    let state = TempDir::new();
    let out = cli(
        &flow,
        &["run", "--input", "name=x", "--state", &state.arg()],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stdout.contains(VALUE), "{}", out.stdout);
    assert!(!out.stderr.contains(VALUE));
    let summary = out.summary();
    assert_eq!(summary["task_runs"][1]["outputs"]["value"], "******");
    // The next task read the real value (15 characters), not the mask.
    assert_eq!(summary["task_runs"][2]["outputs"]["value"], "15");
    assert_eq!(summary["outputs"]["token"], "******");
    assert_eq!(summary["labels"]["token"], "******");
    // Nothing in the state: the database, its WAL and every other file, byte for byte.
    let mut folders = vec![state.0.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(VALUE.len()).any(|w| w == VALUE.as_bytes()),
                "the secret is in {}",
                path.display()
            );
        }
    }
}

/// `read()` in a flow never reads the host's files (`/etc/passwd`, `/proc/self/environ`); a
/// secret can come from a systemd credential file.
#[test]
fn flows_read_no_local_files_and_take_systemd_credentials() {
    let state = TempDir::new();
    let reader = hello(vec![Task::new(
        "peek",
        "io.kestra.plugin.core.debug.Return",
        run(&[("format", "{{ read('/etc/passwd') }}")]),
    )]);
    let out = cli(
        &reader,
        &["run", "--input", "name=x", "--state", &state.arg()],
    );
    assert_eq!(out.code, 1);
    assert_eq!(out.summary()["task_runs"][0]["state"], "FAILED");
    assert!(!out.stdout.contains("root:"), "{}", out.stdout);

    let credentials = TempDir::new();
    std::fs::create_dir_all(&credentials.0).unwrap();
    std::fs::write(
        credentials.0.join("KFLOW_TEST_CREDENTIAL"),
        "from-systemd\n",
    )
    .unwrap();
    std::env::set_var("CREDENTIALS_DIRECTORY", &credentials.0);
    let user = hello(vec![Task::new(
        "length",
        "io.kestra.plugin.core.debug.Return",
        run(&[("format", "{{ secret('KFLOW_TEST_CREDENTIAL') | length }}")]),
    )]);
    let out = cli(
        &user,
        &["run", "--input", "name=x", "--state", &state.arg()],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.summary()["task_runs"][0]["outputs"]["value"], "12");
}
