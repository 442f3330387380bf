//! `http.Trigger` under `serve`, against a real HTTP server started by the test: a request
//! every interval (its headers rendered, a secret among them), an execution only for the
//! responses that meet `responseCondition`, with the response as `trigger.*`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kflow_tests::{base64, build_yaml, executions, scratch_dir, start_serve, terminate};

const FLOW: &str = "id: http_poll
namespace: kflow.tests
tasks:
  - id: got
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ trigger.code }} {{ trigger.body.n }}\"
outputs:
  - id: got
    type: STRING
    value: \"{{ outputs.got.value }}\"
triggers:
  - id: poll
    type: io.kestra.plugin.core.http.Trigger
    uri: \"{{ secret('STATUS_URI') }}\"
    interval: PT0.2S
    headers:
      X-Token: \"{{ secret('STATUS_TOKEN') }}\"
    responseCondition: \"{{ response.statusCode == 200 and response.body.ready }}\"
";

/// Answers every request with `{"ready": ..., "n": ...}`: ready for the 3rd and 4th only. Keeps
/// each request's head.
fn status_server() -> (String, Arc<AtomicUsize>, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let served = Arc::new(AtomicUsize::new(0));
    let heads = Arc::new(Mutex::new(Vec::new()));
    let (count, seen) = (Arc::clone(&served), Arc::clone(&heads));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            seen.lock().unwrap().push(head);
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            let body = format!("{{\"ready\": {}, \"n\": {n}}}", n == 3 || n == 4);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (addr, served, heads)
}

#[test]
fn an_http_trigger_fires_for_the_responses_that_meet_its_condition() {
    let bin = build_yaml("http_poll", FLOW);
    let (addr, served, heads) = status_server();
    let dir = scratch_dir("http-poll");
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state");
    let log = dir.join("serve.log");
    let uri = base64(&format!("http://{addr}/status"));
    let token = base64("t0ken-s3cret");
    let serve = start_serve(
        &bin,
        &state,
        &log,
        &[],
        &[("SECRET_STATUS_URI", &uri), ("SECRET_STATUS_TOKEN", &token)],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while served.load(Ordering::SeqCst) < 7 {
        assert!(
            Instant::now() < deadline,
            "{} requests: {}",
            served.load(Ordering::SeqCst),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(terminate(serve), Some(0));
    // The header went out with the secret's value.
    assert!(heads
        .lock()
        .unwrap()
        .iter()
        .all(|h| h.to_ascii_lowercase().contains("x-token: t0ken-s3cret")));
    // Two responses met the condition: two executions, each with its response.
    let mut got: Vec<String> = executions(&bin, &state)
        .iter()
        .map(|e| {
            assert_eq!(e["state"], "SUCCESS", "{e}");
            assert_eq!(e["trigger"]["code"], 200, "{e}");
            assert_eq!(e["trigger"]["body"]["ready"], true, "{e}");
            e["outputs"]["got"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    got.sort();
    assert_eq!(got, ["200 3", "200 4"]);
    // The secret URL is not in the state's log lines (nor anywhere the logs go).
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("t0ken-s3cret"), "{text}");
}
