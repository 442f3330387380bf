//! Kestra's REST API on a real `serve`, driven with curl as Kestra's documentation shows it:
//! start an execution with a multipart form (a file for a FILE input) or JSON, wait for it,
//! get it, search, read and follow its logs, resume a paused one, kill and restart a running
//! one; credentials when they are set; `/metrics` in Prometheus' format.

use std::process::Command;
use std::time::{Duration, Instant};

use kflow_tests::{
    build_yaml, listening_address, scratch_dir, start_serve, terminate, wait_for_log,
};
use serde_json::Value;

const FLOW: &str = r#"id: api_flow
namespace: kflow.tests
inputs:
  - id: user
    type: STRING
  - id: doc
    type: FILE
    required: false
  - id: mode
    type: STRING
    defaults: run
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "hello {{ inputs.user }}"
  - id: content
    type: io.kestra.plugin.core.debug.Return
    runIf: "{{ inputs.doc != null }}"
    format: "{{ read(inputs.doc) | trim }}"
  - id: wait_here
    type: io.kestra.plugin.core.flow.Pause
    runIf: "{{ inputs.mode == 'pause' }}"
    onResume:
      - id: approved
        type: BOOLEAN
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    runIf: "{{ inputs.mode == 'sleep' }}"
    duration: PT60S
"#;

/// curl with these arguments: the HTTP status and the body.
fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl runs (tests/setup.sh installs it)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (status.trim().parse().unwrap_or(0), body.to_string())
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// Polls the execution until `done` holds (30 s at most).
fn until(base: &str, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = curl(&[&format!("{base}/executions/{id}")]);
        assert_eq!(status, 200, "{body}");
        let execution = json(&body);
        if done(&execution) {
            return execution;
        }
        assert!(Instant::now() < deadline, "{execution}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn state_is(state: &'static str) -> impl Fn(&Value) -> bool {
    move |e: &Value| e["state"]["current"] == state
}

#[test]
fn kestra_api_clients_start_follow_resume_kill_and_restart_executions() {
    let bin = build_yaml("api_flow", FLOW);
    let dir = scratch_dir("api");
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state");
    let log = dir.join("serve.log");
    let doc = dir.join("report.txt");
    std::fs::write(&doc, "quarterly numbers\n").unwrap();
    let serve = start_serve(&bin, &state, &log, &["--listen", "127.0.0.1:0"], &[]);
    let addr = listening_address(&log);
    let base = format!("http://{addr}/api/v1/main");
    let create = format!("{base}/executions/kflow.tests/api_flow");

    // A multipart form with a file, waited for.
    let (status, body) = curl(&[
        "-X",
        "POST",
        &format!("{create}?wait=true&labels=team:edge"),
        "-F",
        "user=Ana",
        "-F",
        &format!("doc=@{}", doc.display()),
    ]);
    assert_eq!(status, 200, "{body}");
    let execution = json(&body);
    assert_eq!(execution["state"]["current"], "SUCCESS", "{execution}");
    assert_eq!(execution["inputs"]["user"], "Ana");
    assert!(execution["inputs"]["doc"]
        .as_str()
        .unwrap()
        .starts_with("kestra:///"));
    assert_eq!(
        execution["labels"][0],
        serde_json::json!({"key": "team", "value": "edge"})
    );
    let content = execution["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["taskId"] == "content")
        .expect("the content task ran");
    assert_eq!(content["outputs"]["value"], "quarterly numbers");
    let first = execution["id"].as_str().unwrap().to_string();

    // Get it; its logs.
    let (status, body) = curl(&[&format!("{base}/executions/{first}")]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["taskRunList"][0]["taskId"], "hello");
    let (status, body) = curl(&[&format!("{base}/logs/{first}")]);
    assert_eq!(status, 200);
    assert!(
        json(&body)
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["message"] == "hello Ana"),
        "{body}"
    );

    // JSON inputs, not waited for: CREATED at once, SUCCESS soon after.
    let (status, body) = curl(&[
        "-X",
        "POST",
        &create,
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"user": "Bo"}"#,
    ]);
    assert_eq!(status, 200, "{body}");
    let second = json(&body)["id"].as_str().unwrap().to_string();
    until(&base, &second, state_is("SUCCESS"));

    // A retry with the same Idempotency-Key: the first execution; the retry's upload is not kept.
    let upload = |key: &str| {
        curl(&[
            "-X",
            "POST",
            &create,
            "-H",
            key,
            "-F",
            "user=Ed",
            "-F",
            &format!("doc=@{}", doc.display()),
        ])
    };
    let (_, body) = upload("Idempotency-Key: upload-1");
    let (status, again) = upload("Idempotency-Key: upload-1");
    assert_eq!(status, 200, "{again}");
    assert_eq!(json(&again)["id"], json(&body)["id"]);
    until(
        &base,
        json(&body)["id"].as_str().unwrap(),
        state_is("SUCCESS"),
    );
    let stored = kflow_tests::files_under(&state)
        .into_iter()
        .filter(|f| f.to_string_lossy().contains("/inputs/doc/"))
        .count();
    assert_eq!(stored, 2, "Ana's file and Ed's first one");

    // Bad inputs: 422 with the reason; an unknown flow or execution: 404.
    let (status, body) = curl(&["-X", "POST", &create, "-F", "mode=run"]);
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("user"), "{body}");
    let (status, _) = curl(&[
        "-X",
        "POST",
        &format!("{base}/executions/kflow.tests/nope"),
        "-F",
        "user=x",
    ]);
    assert_eq!(status, 404);
    let (status, _) = curl(&[&format!("{base}/executions/0000000000000000000000")]);
    assert_eq!(status, 404);

    // Paused: its logs followed to the pause, a bad resume refused, a good one continues it.
    let (_, body) = curl(&["-X", "POST", &create, "-F", "user=Cy", "-F", "mode=pause"]);
    let paused = json(&body)["id"].as_str().unwrap().to_string();
    until(&base, &paused, state_is("PAUSED"));
    let (status, events) = curl(&[
        "-N",
        "--max-time",
        "20",
        &format!("{base}/logs/{paused}/follow"),
    ]);
    assert_eq!(status, 200);
    assert!(
        events.contains("data: ") && events.contains("hello Cy"),
        "{events}"
    );
    let resume = format!("{base}/executions/{paused}/resume");
    let (status, body) = curl(&["-X", "POST", &resume, "-F", "approved=perhaps"]);
    assert_eq!(status, 422, "{body}");
    let (status, body) = curl(&["-X", "POST", &resume, "-F", "approved=true"]);
    assert_eq!(status, 204, "{body}");
    until(&base, &paused, state_is("SUCCESS"));
    let (status, _) = curl(&["-X", "POST", &resume, "-F", "approved=true"]);
    assert_eq!(status, 409, "an ended execution is not resumed");

    // Running: killed, restarted (running again), killed again.
    let (_, body) = curl(&["-X", "POST", &create, "-F", "user=Di", "-F", "mode=sleep"]);
    let sleeping = json(&body)["id"].as_str().unwrap().to_string();
    let nap_running = |e: &Value| {
        e["taskRunList"].as_array().is_some_and(|runs| {
            runs.iter()
                .any(|r| r["taskId"] == "nap" && r["state"]["current"] == "RUNNING")
        })
    };
    until(&base, &sleeping, nap_running);
    let kill = format!("{base}/executions/{sleeping}/kill");
    let (status, _) = curl(&["-X", "DELETE", &kill]);
    assert_eq!(status, 202);
    until(&base, &sleeping, state_is("KILLED"));
    let (status, body) = curl(&[
        "-X",
        "POST",
        &format!("{base}/executions/{sleeping}/restart"),
    ]);
    assert_eq!(status, 200, "{body}");
    until(&base, &sleeping, nap_running);
    let (status, _) = curl(&["-X", "DELETE", &kill]);
    assert_eq!(status, 202);
    let killed = until(&base, &sleeping, state_is("KILLED"));
    assert_eq!(
        killed["labels"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["key"] == "system.restarted")
            .count(),
        1
    );

    // Search, on the older path too.
    let (status, body) = curl(&[&format!(
        "http://{addr}/api/v1/executions/search?state=SUCCESS&size=2"
    )]);
    assert_eq!(status, 200, "{body}");
    let page = json(&body);
    assert_eq!(page["total"], 4, "{page}");
    assert_eq!(page["results"].as_array().unwrap().len(), 2);

    // Metrics.
    let (status, metrics) = curl(&[&format!("http://{addr}/metrics")]);
    assert_eq!(status, 200);
    assert!(
        metrics.contains("kflow_executions{flow=\"api_flow\",state=\"SUCCESS\"} 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains("kflow_executions{flow=\"api_flow\",state=\"KILLED\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("kflow_task_run_duration_seconds_count{flow=\"api_flow\",task=\"hello\"}"),
        "{metrics}"
    );

    assert_eq!(terminate(serve), Some(0));
}

#[test]
fn the_api_asks_for_credentials_when_they_are_set_and_off_the_loopback() {
    let bin = build_yaml("api_auth", &FLOW.replace("id: api_flow", "id: api_auth"));
    let dir = scratch_dir("api-auth");
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state");
    let log = dir.join("serve.log");

    // Off the loopback without credentials: refused at start.
    let mut refused = start_serve(&bin, &state, &log, &["--listen", "0.0.0.0:0"], &[]);
    assert_eq!(refused.wait().unwrap().code(), Some(1));
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .contains("KFLOW_API_TOKEN"));

    let env = [
        ("KFLOW_API_TOKEN", "t0ken"),
        ("KFLOW_API_BASIC_AUTH", "admin:pa55"),
    ];
    let serve = start_serve(&bin, &state, &log, &["--listen", "127.0.0.1:0"], &env);
    let addr = listening_address(&log);
    let search = format!("http://{addr}/api/v1/main/executions/search");
    assert_eq!(curl(&[&search]).0, 401);
    assert_eq!(curl(&["-H", "Authorization: Bearer wrong", &search]).0, 401);
    assert_eq!(curl(&["-H", "Authorization: Bearer t0ken", &search]).0, 200);
    assert_eq!(curl(&["-u", "admin:pa55", &search]).0, 200);
    assert_eq!(curl(&["-u", "admin:nope", &search]).0, 401);
    // Open: health and metrics.
    assert_eq!(curl(&[&format!("http://{addr}/health")]).0, 200);
    assert_eq!(curl(&[&format!("http://{addr}/metrics")]).0, 200);
    assert_eq!(terminate(serve), Some(0));
    assert!(!std::fs::read_to_string(&log).unwrap().contains("pa55"));
}

const KNOBS: &str = r#"id: knobs
namespace: kflow.tests
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "hello"
  - id: each
    type: io.kestra.plugin.core.flow.EachParallel
    value: "[1, 2, 3, 4]"
    tasks:
      - id: nap
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT0.3S
"#;

fn instant(text: &Value) -> jiff::Timestamp {
    text.as_str().unwrap().parse().unwrap()
}

#[test]
fn serve_knobs_bound_task_runs_keep_house_and_write_json_logs() {
    let bin = build_yaml("knobs", KNOBS);
    let dir = scratch_dir("api-knobs");
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state");
    let log = dir.join("serve.log");
    // An execution that ends now is older than --keep-executions PT1S in 1.5 s.
    let out = Command::new(&bin)
        .args(["run", "--state", state.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(Duration::from_millis(1_500));

    let knobs = [
        "--listen",
        "127.0.0.1:0",
        "--keep-executions",
        "PT1S",
        "--max-task-runs",
        "1",
        "--log-format",
        "json",
    ];
    let serve = start_serve(&bin, &state, &log, &knobs, &[]);
    let addr = listening_address(&log);
    let base = format!("http://{addr}/api/v1/main");
    wait_for_log(&log, "housekeeping: removed 1 ended execution(s)");
    let (_, body) = curl(&[&format!("{base}/executions/search")]);
    assert_eq!(
        json(&body)["total"],
        0,
        "the old execution was removed: {body}"
    );

    // One task run at a time: the four parallel naps do not overlap.
    let (status, body) = curl(&[
        "-X",
        "POST",
        &format!("{base}/executions/kflow.tests/knobs?wait=true"),
    ]);
    assert_eq!(status, 200, "{body}");
    let execution = json(&body);
    assert_eq!(execution["state"]["current"], "SUCCESS", "{execution}");
    let mut naps: Vec<(jiff::Timestamp, jiff::Timestamp)> = execution["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["taskId"] == "nap")
        .map(|r| {
            (
                instant(&r["state"]["startDate"]),
                instant(&r["state"]["endDate"]),
            )
        })
        .collect();
    assert_eq!(naps.len(), 4);
    naps.sort();
    for pair in naps.windows(2) {
        assert!(pair[1].0 >= pair[0].1, "task runs overlapped: {naps:?}");
    }

    assert_eq!(terminate(serve), Some(0));
    // Every line serve wrote is a JSON object; the execution's carry its id.
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text.lines().map(json).collect();
    let id = execution["id"].as_str().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l["executionId"] == id && l["message"] == "hello"),
        "{text}"
    );
    assert!(lines
        .iter()
        .all(|l| l["timestamp"].is_string() && l["level"].is_string()));
}

fn limited(behavior: &str) -> String {
    format!(
        "id: limited_{}
namespace: kflow.tests
concurrency:
  limit: 1
  behavior: {behavior}
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT1S
",
        behavior.to_lowercase()
    )
}

/// Flow `concurrency` applies to executions `serve` starts: with one running, a second one
/// (started through the API, as a webhook or a schedule would) waits (QUEUE), is CANCELLED or
/// FAILED, as Kestra documents; it keeps the id it was answered with.
#[test]
fn flow_concurrency_applies_to_executions_serve_starts() {
    for behavior in ["QUEUE", "CANCEL", "FAIL"] {
        let id = format!("limited_{}", behavior.to_lowercase());
        let bin = build_yaml(&id, &limited(behavior));
        let dir = scratch_dir(&format!("api-{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("serve.log");
        let serve = start_serve(
            &bin,
            &dir.join("state"),
            &log,
            &["--listen", "127.0.0.1:0"],
            &[],
        );
        let base = format!("http://{}/api/v1/main", listening_address(&log));
        let create = format!("{base}/executions/kflow.tests/{id}");
        let (_, body) = curl(&["-X", "POST", &create]);
        let first = json(&body)["id"].as_str().unwrap().to_string();
        until(&base, &first, state_is("RUNNING"));
        let (status, body) = curl(&["-X", "POST", &create]);
        assert_eq!(status, 200, "{body}");
        let second = json(&body)["id"].as_str().unwrap().to_string();
        match behavior {
            "QUEUE" => {
                // It waits while the first runs, then runs: its nap starts after the first's ends.
                let done = until(&base, &first, state_is("SUCCESS"));
                let after = until(&base, &second, state_is("SUCCESS"));
                let nap = |e: &Value, at: &str| {
                    instant(&e["taskRunList"].as_array().unwrap()[0]["state"][at])
                };
                assert!(nap(&after, "startDate") >= nap(&done, "endDate"), "{after}");
            }
            "CANCEL" => {
                until(&base, &second, state_is("CANCELLED"));
                until(&base, &first, state_is("SUCCESS"));
            }
            _ => {
                until(&base, &second, state_is("FAILED"));
                until(&base, &first, state_is("SUCCESS"));
            }
        }
        let (_, body) = curl(&[&format!("{base}/executions/search")]);
        assert_eq!(
            json(&body)["total"],
            2,
            "no other execution was made: {body}"
        );
        assert_eq!(terminate(serve), Some(0));
    }
}
