//! `http.Request` and `http.Download` in a built binary, against a real HTTP server started by
//! the test (it records what it received): methods, headers, JSON, form and multipart bodies,
//! basic and bearer auth, a secret in a header, `allowFailed`, a failed answer, a download into
//! internal storage sent back as a multipart file, an empty download, and a proxy from the
//! environment.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output};

use kflow_tests::{base64, build_yamls, scratch_dir, summary_of, task_run, RecordingServer, Route};
use serde_json::json;

const TASKS: &str = r#"id: http_tasks
namespace: kflow.tests
inputs:
  - id: base
    type: STRING
tasks:
  - id: get
    type: io.kestra.plugin.core.http.Request
    uri: "{{ inputs.base }}/json?page=2"
    headers:
      X-Token: "{{ secret('API_TOKEN') }}"
  - id: name
    type: io.kestra.plugin.core.debug.Return
    format: "{{ json(outputs.get.body).name }} {{ outputs.get.code }} {{ outputs.get.headers['content-type'][0] }}"
  - id: post_json
    type: io.kestra.plugin.core.http.Request
    uri: "{{ inputs.base }}/echo"
    method: POST
    body:
      greeting: hello
      n: 2
  - id: form
    type: io.kestra.plugin.core.http.Request
    uri: "{{ inputs.base }}/echo"
    method: POST
    formData:
      user: Ada Lovelace
      n: 3
  - id: basic
    type: io.kestra.plugin.core.http.Request
    uri: "{{ inputs.base }}/echo"
    options:
      auth:
        type: BASIC
        username: ada
        password: "{{ secret('API_TOKEN') }}"
  - id: bearer
    type: io.kestra.plugin.core.http.Request
    uri: "{{ inputs.base }}/echo"
    method: PUT
    contentType: text/plain
    body: plain text
    options:
      auth:
        type: BEARER
        token: abc123
  - id: missing_allowed
    type: io.kestra.plugin.core.http.Request
    uri: "{{ inputs.base }}/missing"
    options:
      allowFailed: true
  - id: download
    type: io.kestra.plugin.core.http.Download
    uri: "{{ inputs.base }}/export"
  - id: upload
    type: io.kestra.plugin.core.http.Request
    uri: "{{ inputs.base }}/upload"
    method: POST
    contentType: multipart/form-data
    formData:
      note: hi
      file: "{{ outputs.download.uri }}"
"#;

const FAILING: &str = r#"id: http_failing
namespace: kflow.tests
inputs:
  - id: base
    type: STRING
  - id: path
    type: STRING
tasks:
  - id: request
    type: io.kestra.plugin.core.http.Request
    uri: "{{ inputs.base }}{{ inputs.path }}"
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: not reached
"#;

const EMPTY: &str = r#"id: http_empty
namespace: kflow.tests
inputs:
  - id: base
    type: STRING
tasks:
  - id: download
    type: io.kestra.plugin.core.http.Download
    uri: "{{ inputs.base }}/empty"
"#;

const PROXIED: &str = "id: http_proxied
namespace: kflow.tests
tasks:
  - id: get
    type: io.kestra.plugin.core.http.Request
    uri: http://kflow-proxied.test/json
";

/// 3 MiB of CSV: more than one chunk of any buffer on the way.
fn export() -> Vec<u8> {
    let mut csv = String::from("id,name\n");
    let mut i = 0;
    while csv.len() < 3 << 20 {
        let _ = writeln!(csv, "{i},row {i}");
        i += 1;
    }
    csv.into_bytes()
}

fn server() -> RecordingServer {
    let mut download = Route::new("/export", 200, "text/csv", export());
    download
        .headers
        .push_str("content-disposition: attachment; filename=\"data.csv\"\r\n");
    RecordingServer::start(vec![
        Route::new(
            "/json",
            200,
            "application/json",
            r#"{"name": "kflow", "n": 3}"#,
        ),
        Route::new("/echo", 200, "text/plain", "ok"),
        Route::new("/upload", 200, "text/plain", "stored"),
        Route::new("/empty", 200, "text/plain", ""),
        Route::new("/fails", 500, "text/plain", "the database is down"),
        download,
    ])
}

/// `./bin run FLOW --input ...` on `state`, with no proxy from the environment unless given.
fn run(bin: &Path, state: &Path, flow: &str, inputs: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(bin);
    command.args(["run", flow, "--state"]).arg(state);
    for input in inputs {
        command.args(["--input", input]);
    }
    for name in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command.output().expect("the binary runs")
}

#[test]
fn http_tasks_send_what_they_say_and_keep_what_they_get() {
    let bin = build_yamls(
        "http_tasks",
        &[
            ("http_tasks", TASKS),
            ("http_failing", FAILING),
            ("http_empty", EMPTY),
            ("http_proxied", PROXIED),
        ],
    );
    let server = server();
    let dir = scratch_dir("http-tasks");
    let state = dir.join("state");
    let base = format!("base={}", server.url(""));
    let token = "t0ken-s3cret";
    let out = run(
        &bin,
        &state,
        "http_tasks",
        &[&base],
        &[("SECRET_API_TOKEN", &base64(token))],
    );
    let summary = summary_of(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(summary["state"], "SUCCESS", "{summary:#}\n{stderr}");
    // The secret went out, and appears nowhere in what the run printed.
    assert!(!stderr.contains(token) && !summary.to_string().contains(token));

    // GET with a header; the body is text, read with json().
    let get = &server.received_at("/json")[0];
    assert_eq!(
        (get.method.as_str(), get.target.as_str()),
        ("GET", "/json?page=2")
    );
    assert_eq!(get.header("x-token"), Some(token));
    let outputs = &task_run(&summary, "get")["outputs"];
    assert_eq!(outputs["code"], 200);
    assert_eq!(outputs["body"], r#"{"name": "kflow", "n": 3}"#);
    assert_eq!(outputs["uri"], server.url("/json?page=2"));
    assert_eq!(
        task_run(&summary, "name")["outputs"]["value"],
        "kflow 200 application/json"
    );

    let echoed = server.received_at("/echo");
    assert_eq!(echoed.len(), 4, "{echoed:#?}");
    // A map body goes as JSON.
    assert_eq!(echoed[0].method, "POST");
    assert_eq!(echoed[0].header("content-type"), Some("application/json"));
    assert_eq!(echoed[0].json(), json!({"greeting": "hello", "n": 2}));
    // formData without multipart: URL-encoded.
    assert_eq!(
        echoed[1].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(echoed[1].text(), "user=Ada+Lovelace&n=3");
    // Basic auth, its password a secret.
    let basic = format!("Basic {}", base64(&format!("ada:{token}")));
    assert_eq!(echoed[2].header("authorization"), Some(basic.as_str()));
    // Bearer, PUT, a text body with its content type.
    assert_eq!(echoed[3].method, "PUT");
    assert_eq!(echoed[3].header("authorization"), Some("Bearer abc123"));
    assert_eq!(echoed[3].header("content-type"), Some("text/plain"));
    assert_eq!(echoed[3].text(), "plain text");

    // A 404 allowed: its code and body are outputs.
    let missing = &task_run(&summary, "missing_allowed")["outputs"];
    assert_eq!(
        (missing["code"].as_u64(), missing["body"].as_str()),
        (Some(404), Some("no such path"))
    );

    // The download is in internal storage, named after Content-Disposition, whole.
    let download = &task_run(&summary, "download")["outputs"];
    let expected = export();
    assert_eq!(download["length"], expected.len());
    let uri = download["uri"].as_str().unwrap();
    assert!(
        uri.starts_with("kestra:///kflow/tests/http_tasks/executions/")
            && uri.ends_with("/data.csv"),
        "{uri}"
    );
    let stored = state
        .join("storage")
        .join(uri.trim_start_matches("kestra:///"));
    assert_eq!(std::fs::read(&stored).unwrap(), expected);

    // Then sent back as a multipart file, with a text part beside it.
    let upload = &server.received_at("/upload")[0];
    let content_type = upload.header("content-type").unwrap();
    assert!(
        content_type.starts_with("multipart/form-data; boundary="),
        "{content_type}"
    );
    let body = upload.body.as_slice();
    let text = String::from_utf8_lossy(body);
    assert!(
        text.contains("name=\"note\"\r\n\r\nhi\r\n"),
        "{}",
        &text[..200.min(text.len())]
    );
    assert!(text.contains("name=\"file\"; filename=\"data.csv\""));
    assert!(body
        .windows(expected.len())
        .any(|w| w == expected.as_slice()));

    // A 500 fails the task, naming the code and the start of the body; nothing after runs.
    let out = run(&bin, &state, "http_failing", &[&base, "path=/fails"], &[]);
    let summary = summary_of(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(summary["state"], "FAILED", "{summary:#}");
    assert!(
        stderr.contains("answered 500 Internal Server Error: the database is down"),
        "{stderr}"
    );
    assert!(!stderr.contains("not reached"));
    // A connection refused is an error too (the port of a server that is gone).
    let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone_base = format!("base=http://{}", gone.local_addr().unwrap());
    drop(gone);
    let out = run(&bin, &state, "http_failing", &[&gone_base, "path=/x"], &[]);
    assert_eq!(summary_of(&out)["state"], "FAILED");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("GET http://127.0.0.1:"), "{stderr}");

    // An empty download fails unless failOnEmptyResponse: false.
    let out = run(&bin, &state, "http_empty", &[&base], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(summary_of(&out)["state"], "FAILED");
    assert!(
        stderr.contains("empty body (`failOnEmptyResponse: false` accepts it)"),
        "{stderr}"
    );

    // HTTP_PROXY from the environment: the request goes to the proxy, for the URL asked.
    let proxy = server.url("");
    let out = run(&bin, &state, "http_proxied", &[], &[("HTTP_PROXY", &proxy)]);
    let summary = summary_of(&out);
    assert_eq!(
        summary["state"],
        "SUCCESS",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(server
        .received()
        .iter()
        .any(|r| r.target == "http://kflow-proxied.test/json"));
    // NO_PROXY names it: straight to the host, which does not resolve.
    let out = run(
        &bin,
        &state,
        "http_proxied",
        &[],
        &[("HTTP_PROXY", &proxy), ("NO_PROXY", "kflow-proxied.test")],
    );
    assert_eq!(summary_of(&out)["state"], "FAILED");
}
