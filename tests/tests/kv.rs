//! The KV store, end to end: a value set by one execution of a built binary is read by the
//! next (through `kv()` and `kv.Get`), namespaces keep keys apart, a `ttl` expires the value;
//! in one execution, `overwrite: false`, `kv.Delete` and the refusal to store a secret.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use kflow_tests::{build_yaml, scratch_dir, summary_of, task_run};
use serde_json::{json, Value};

const COUNTER: &str = "id: kv_counter
namespace: kflow.tests
inputs:
  - id: ttl
    type: DURATION
    defaults: PT1H
tasks:
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ kv('count', errorOnMissing=false) ?? 0 }}\"
  - id: write
    type: io.kestra.plugin.core.kv.Set
    key: count
    value: \"{{ (kv('count', errorOnMissing=false) ?? 0) + 1 }}\"
    kvType: NUMBER
    ttl: \"{{ inputs.ttl }}\"
  - id: get
    type: io.kestra.plugin.core.kv.Get
    key: count
  - id: elsewhere
    type: io.kestra.plugin.core.kv.Set
    namespace: another.team
    key: count
    value: in another namespace
  - id: keys
    type: io.kestra.plugin.core.kv.GetKeys
  - id: both
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ kv('count') }} / {{ kv('count', 'another.team') }}\"
";

/// `binary run ARGS`: the exit code, the summary and stderr.
fn execute(binary: &Path, state: &Path, args: &[&str]) -> (Option<i32>, Value, String) {
    let out = Command::new(binary)
        .arg("run")
        .args(["--state", state.to_str().unwrap()])
        .args(args)
        .env("SECRET_KV_TOKEN", "c2VjcmV0LXZhbHVlLTQy")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    (out.status.code(), summary_of(&out), stderr)
}

fn run(binary: &Path, state: &Path, args: &[&str]) -> Value {
    let (code, summary, stderr) = execute(binary, state, args);
    assert_eq!(code, Some(0), "{summary}\n{stderr}");
    summary
}

#[test]
fn a_value_set_by_one_execution_is_read_by_the_next_until_it_expires() {
    let bin = build_yaml("kv_counter", COUNTER);
    let state = scratch_dir("kv-state");

    let first = run(&bin, &state, &[]);
    assert_eq!(task_run(&first, "read")["outputs"]["value"], "0");
    assert_eq!(task_run(&first, "get")["outputs"]["value"], json!(1));
    let second = run(&bin, &state, &[]);
    assert_eq!(task_run(&second, "read")["outputs"]["value"], "1");
    assert_eq!(task_run(&second, "get")["outputs"]["value"], json!(2));
    assert_eq!(
        task_run(&second, "keys")["outputs"]["keys"],
        json!(["count"])
    );
    assert_eq!(
        task_run(&second, "both")["outputs"]["value"],
        "2 / in another namespace"
    );

    // A short ttl: the value is there at once and gone after it.
    let third = run(&bin, &state, &["--input", "ttl=PT0.5S"]);
    assert_eq!(task_run(&third, "get")["outputs"]["value"], json!(3));
    std::thread::sleep(Duration::from_millis(800));
    let fourth = run(&bin, &state, &[]);
    assert_eq!(task_run(&fourth, "read")["outputs"]["value"], "0");
    assert_eq!(task_run(&fourth, "get")["outputs"]["value"], json!(1));
}

#[test]
fn overwrite_delete_missing_keys_and_secrets() {
    let bin = build_yaml(
        "kv_rules",
        "id: kv_rules
namespace: kflow.tests
tasks:
  - id: set
    type: io.kestra.plugin.core.kv.Set
    key: config
    value: {region: eu, replicas: 3}
  - id: keep
    type: io.kestra.plugin.core.kv.Set
    key: config
    value: other
    overwrite: false
    allowFailure: true
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ kv('config').region }} {{ kv('config').replicas }}\"
  - id: delete
    type: io.kestra.plugin.core.kv.Delete
    key: config
  - id: again
    type: io.kestra.plugin.core.kv.Delete
    key: config
  - id: missing
    type: io.kestra.plugin.core.kv.Get
    key: config
  - id: secret
    type: io.kestra.plugin.core.kv.Set
    key: token
    value: \"{{ secret('KV_TOKEN') }}\"
    allowFailure: true
  - id: strict
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ kv('token') }}\"
",
    );
    let state = scratch_dir("kv-rules");
    let (code, summary, stderr) = execute(&bin, &state, &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(task_run(&summary, "keep")["state"], "WARNING");
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(task_run(&summary, "read")["outputs"]["value"], "eu 3");
    assert_eq!(task_run(&summary, "delete")["outputs"]["deleted"], true);
    assert_eq!(task_run(&summary, "again")["outputs"]["deleted"], false);
    assert_eq!(
        task_run(&summary, "missing")["outputs"]["value"],
        Value::Null
    );
    assert_eq!(task_run(&summary, "secret")["state"], "WARNING");
    assert!(stderr.contains("holds a secret"), "{stderr}");
    assert!(!stderr.contains("secret-value-42"));
    // `kv()` fails on a missing key by default (Kestra 0.22 and later).
    assert_eq!(task_run(&summary, "strict")["state"], "FAILED");
    assert!(stderr.contains("'token' does not exist"), "{stderr}");
}
