//! Webhook triggers against a real `serve` process on the loopback: Kestra's two paths and
//! methods, its answers for good and bad requests (200, 204, 404, 413, 422, 500), `wait` with
//! `returnOutputs` and `responseContentType`, multipart bodies, `fetchType: STORE`, and an
//! `Idempotency-Key` that makes a client's retry return the first execution instead of
//! starting a second one.

use kflow_tests::{
    build_yaml, executions, http, listening_address, scratch_dir, start_serve, terminate, HttpReply,
};
use serde_json::Value;

const FLOW: &str = r#"id: hooks
namespace: kflow.tests
inputs:
  - id: count
    type: INT
    defaults: 1
outputs:
  - id: echoed
    type: STRING
    value: "{{ outputs.say.value }}"
tasks:
  - id: fail_if_asked
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ trigger.body.fail ?? false }}"
  - id: say
    type: io.kestra.plugin.core.debug.Return
    format: "count={{ inputs.count }} body={{ trigger.body | json }}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: "{{ secret('HOOK_KEY') }}"
    labels:
      source: hook
    inputs:
      count: "{{ trigger.body.count ?? 2 }}"
    conditions:
      - type: io.kestra.plugin.core.condition.Expression
        expression: "{{ (trigger.body.kind ?? 'go') == 'go' }}"
  - id: sync
    type: io.kestra.plugin.core.trigger.Webhook
    key: sync-key
    wait: true
  - id: outputs
    type: io.kestra.plugin.core.trigger.Webhook
    key: outputs-key
    wait: true
    returnOutputs: true
  - id: upload
    type: io.kestra.plugin.core.trigger.Webhook
    key: upload-key
    fetchType: STORE
  - id: text
    type: io.kestra.plugin.core.trigger.Webhook
    key: text-key
    wait: true
    returnOutputs: true
    responseContentType: text/plain
"#;

/// The webhook key, given to the binary as a Kestra secret (base64 in `SECRET_HOOK_KEY`).
const KEY: &str = "s3cr3t-k3y";

fn post(addr: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpReply {
    http(addr, "POST", path, headers, body).expect("the server answers")
}

const JSON: (&str, &str) = ("content-type", "application/json");

#[test]
fn webhooks_answer_as_kestra_does_and_an_idempotency_key_starts_one_execution() {
    let bin = build_yaml("hooks", FLOW);
    let dir = scratch_dir("webhook");
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state");
    let log = dir.join("serve.log");
    let serve = start_serve(
        &bin,
        &state,
        &log,
        &[
            "--listen",
            "127.0.0.1:0",
            "--max-body",
            "1024",
            "--max-stored-body",
            "8192",
        ],
        &[("SECRET_HOOK_KEY", "czNjcjN0LWszeQ==")],
    );
    let addr = listening_address(&log);
    let current = format!("/api/v1/main/executions/webhook/kflow.tests/hooks/{KEY}");
    let older = format!("/api/v1/executions/webhook/kflow.tests/hooks/{KEY}");
    let mut started = Vec::new();

    // 200 on both paths, with the execution as Kestra returns it; a credential header sent
    // along is masked (the state keeps trigger.headers).
    let bearer = ("Authorization", "Bearer pl41n-t0ken");
    let reply = post(&addr, &current, &[JSON, bearer], br#"{"count": 5}"#);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let execution = reply.json();
    assert_eq!(execution["namespace"], "kflow.tests");
    assert_eq!(execution["flowId"], "hooks");
    assert_eq!(execution["state"]["current"], "CREATED");
    assert_eq!(execution["trigger"]["id"], "hook");
    assert_eq!(execution["trigger"]["variables"]["body"]["count"], 5);
    let headers = &execution["trigger"]["variables"]["headers"];
    assert_eq!(headers["authorization"], serde_json::json!(["******"]));
    started.push(execution["id"].as_str().unwrap().to_string());
    let reply = http(&addr, "GET", &format!("{older}?tag=a&tag=b"), &[], b"").unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    let variables = &reply.json()["trigger"]["variables"];
    assert_eq!(
        variables["parameters"]["tag"],
        serde_json::json!(["a", "b"])
    );
    assert_eq!(variables["body"], Value::Null);
    started.push(reply.json()["id"].as_str().unwrap().to_string());
    let reply = http(&addr, "PUT", &older, &[], &[0xff, 0xfe, 0x00, 0x01]).unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    // A body that is not text arrives base64.
    assert_eq!(reply.json()["trigger"]["variables"]["body"], "//4AAQ==");
    started.push(reply.json()["id"].as_str().unwrap().to_string());

    // 404: a wrong key, another flow, another namespace.
    for path in [
        "/api/v1/main/executions/webhook/kflow.tests/hooks/wrong".to_string(),
        format!("/api/v1/main/executions/webhook/kflow.tests/other/{KEY}"),
        format!("/api/v1/executions/webhook/elsewhere/hooks/{KEY}"),
    ] {
        let reply = post(&addr, &path, &[JSON], b"{}");
        assert_eq!(reply.status, 404, "{path}: {}", reply.text());
    }
    // 204: the trigger's condition does not hold.
    let reply = post(&addr, &current, &[JSON], br#"{"kind": "stop"}"#);
    assert_eq!(reply.status, 204, "{}", reply.text());
    // 422: the input the trigger renders is not an INT, with the reason.
    let reply = post(&addr, &current, &[JSON], br#"{"count": "many"}"#);
    assert_eq!(reply.status, 422, "{}", reply.text());
    assert!(reply.json()["message"].as_str().unwrap().contains("count"));
    // 413: over --max-body.
    let reply = post(&addr, &current, &[], &[b'x'; 4096]);
    assert_eq!(reply.status, 413, "{}", reply.text());

    // A multipart form: its fields and its files (stored).
    let form = b"--XyZ\r\nContent-Disposition: form-data; name=\"city\"\r\n\r\nLyon\r\n--XyZ\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"notes.txt\"\r\nContent-Type: text/plain\r\n\r\nfirst line\r\nsecond line\r\n--XyZ--\r\n";
    let multipart = ("content-type", "multipart/form-data; boundary=XyZ");
    let reply = post(&addr, &current, &[multipart], form);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let variables = &reply.json()["trigger"]["variables"];
    assert_eq!(variables["formFields"]["city"], "Lyon");
    let part = &variables["parts"][0];
    assert_eq!(part["name"], "doc");
    assert_eq!(part["fileName"], "notes.txt");
    assert_eq!(part["size"], 23);
    let part_uri = part["uri"].as_str().unwrap().to_string();
    started.push(reply.json()["id"].as_str().unwrap().to_string());
    let broken = post(&addr, &current, &[multipart], b"--XyZ\r\nno end");
    assert_eq!(broken.status, 400, "{}", broken.text());

    // fetchType STORE: a body over --max-body streamed to storage, `trigger.uri` naming it;
    // one over --max-stored-body refused, nothing left behind.
    let upload = "/api/v1/main/executions/webhook/kflow.tests/hooks/upload-key";
    let big: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let reply = post(&addr, upload, &[], &big);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let stored_uri = reply.json()["trigger"]["variables"]["uri"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(stored_uri.starts_with("kestra:///kflow/tests/hooks/executions/"));
    started.push(reply.json()["id"].as_str().unwrap().to_string());
    let reply = post(&addr, upload, &[], &[7u8; 9000]);
    assert_eq!(reply.status, 413, "{}", reply.text());

    // `wait`: the ended execution.
    let sync = "/api/v1/main/executions/webhook/kflow.tests/hooks/sync-key";
    let reply = http(&addr, "PUT", sync, &[], b"hello").unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    let execution = reply.json();
    assert_eq!(execution["state"]["current"], "SUCCESS");
    assert_eq!(execution["outputs"]["echoed"], "count=1 body=\"hello\"");
    started.push(execution["id"].as_str().unwrap().to_string());
    // `returnOutputs`: the flow's outputs alone.
    let outputs = "/api/v1/main/executions/webhook/kflow.tests/hooks/outputs-key";
    let retried = ("Idempotency-Key", "sync-7");
    let reply = post(&addr, outputs, &[JSON, retried], b"[1, 2]");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json(),
        serde_json::json!({"echoed": "count=1 body=[1,2]"})
    );
    // Its retry gets the same answer, from the same execution.
    let again = post(&addr, outputs, &[JSON, retried], b"[1, 2]");
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json(), reply.json());
    // 500 when the waited-for execution fails.
    let reply = post(&addr, sync, &[JSON], br#"{"fail": true}"#);
    assert_eq!(reply.status, 500, "{}", reply.text());
    assert_eq!(reply.json()["state"]["current"], "FAILED");
    started.push(reply.json()["id"].as_str().unwrap().to_string());
    // `responseContentType`: the output alone, as that type.
    let text = "/api/v1/main/executions/webhook/kflow.tests/hooks/text-key";
    let reply = post(&addr, text, &[JSON], br#"{"n": 1}"#);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("text/plain"));
    assert_eq!(reply.text(), r#"count=1 body={"n":1}"#);

    // A retried request with the same Idempotency-Key: the first execution, once.
    let key = ("Idempotency-Key", "order-42");
    let first = post(&addr, &current, &[JSON, key], br#"{"count": 7}"#);
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.header("idempotent-replayed"), None);
    let retry = post(&addr, &current, &[JSON, key], br#"{"count": 7}"#);
    assert_eq!(retry.status, 200, "{}", retry.text());
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.json()["id"], first.json()["id"]);
    started.push(first.json()["id"].as_str().unwrap().to_string());

    assert_eq!(http(&addr, "GET", "/health", &[], b"").unwrap().status, 200);

    // SIGTERM: the started executions end, then serve exits 0.
    let log_text = || std::fs::read_to_string(&log).unwrap();
    assert_eq!(terminate(serve), Some(0), "{}", log_text());
    assert!(!log_text().contains(KEY), "the key is a secret");
    let state_files = kflow_tests::files_under(&state);
    for file in &state_files {
        let bytes = std::fs::read(file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("pl41n-t0ken"),
            "{} holds the token",
            file.display()
        );
    }

    let runs = executions(&bin, &state);
    // Exactly the executions that were answered 200 or 500, plus the outputs and text ones.
    assert_eq!(runs.len(), started.len() + 2, "{runs:#?}");
    for id in &started {
        let run = runs.iter().find(|r| r["id"] == id.as_str()).unwrap();
        let expected = if run["trigger"]["body"]["fail"] == true {
            "FAILED"
        } else {
            "SUCCESS"
        };
        assert_eq!(run["state"], expected, "{run}");
    }
    let counted = runs
        .iter()
        .find(|r| r["id"] == started[0].as_str())
        .unwrap();
    assert_eq!(counted["inputs"]["count"], 5);
    assert_eq!(
        counted["labels"]["source"], "hook",
        "the trigger's labels: {counted}"
    );

    // The stored files hold what was sent: the multipart file and the streamed body, and
    // the refused bodies left nothing.
    let stored = |uri: &str| {
        let relative = uri.trim_start_matches("kestra:///");
        let file = kflow_tests::files_under(&state)
            .into_iter()
            .find(|f| f.to_string_lossy().ends_with(relative))
            .unwrap_or_else(|| panic!("{uri} is not stored"));
        std::fs::read(file).unwrap()
    };
    assert_eq!(stored(&part_uri), b"first line\r\nsecond line");
    assert_eq!(stored(&stored_uri), big);
    let files = kflow_tests::files_under(&state)
        .into_iter()
        .filter(|f| f.to_string_lossy().contains("/trigger/"))
        .count();
    assert_eq!(files, 2);
}
