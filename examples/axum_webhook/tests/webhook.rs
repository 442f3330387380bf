//! The example as a user runs it: the application answers its routes, runs the flow for a
//! request, answers the flow's webhook (kflow's route in its router) with the execution's
//! outputs, keeps Kestra's REST API off (no credentials given), and Ctrl-C (SIGINT) stops it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A loopback port free at this moment.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.1 request; the response's status line and body, or `None` while nothing listens.
fn request(port: u16, method: &str, path: &str, body: &str) -> Option<(String, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_string(), body.to_string()))
}

/// Waits until `port` answers `GET path`.
fn wait_for(port: u16, path: &str, app: &mut Child) -> (String, String) {
    let start = Instant::now();
    loop {
        if let Some(reply) = request(port, "GET", path, "") {
            return reply;
        }
        assert!(app.try_wait().unwrap().is_none(), "the application exited");
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "port {port} never answered"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_application_serves_its_routes_and_the_flows_webhook() {
    let app_port = free_port();
    let state = std::env::temp_dir().join(format!("kflow-axum-example-{}", std::process::id()));
    let mut app = Command::new(env!("CARGO_BIN_EXE_kflow-example-axum-webhook"))
        .env("APP_LISTEN", format!("127.0.0.1:{app_port}"))
        .env("STATE_DIR", &state)
        .spawn()
        .unwrap();

    let (status, body) = wait_for(app_port, "/", &mut app);
    assert!(status.contains("200"), "{status}");
    assert_eq!(body, "a shop with a flow inside\n");
    // A route of the application runs the flow and answers with its typed output.
    let (status, body) = request(app_port, "GET", "/quote?quantity=4", "").unwrap();
    assert!(status.contains("200"), "{status}");
    assert_eq!(body, "38.0\n");

    // The flow's webhook, in the application's router: it waits for the execution and returns
    // its outputs.
    let path = "/api/v1/main/executions/webhook/kflow.examples/quote/orders";
    let (status, body) = request(app_port, "POST", path, r#"{"quantity": 2}"#).unwrap();
    assert!(status.contains("200"), "{status} {body}");
    assert!(body.contains("19.0"), "{body}");
    let (status, _) = request(app_port, "GET", "/health", "").unwrap();
    assert!(status.contains("200"), "{status}");
    // Without credentials the REST API is not mounted: the host may listen anywhere.
    let (status, _) = request(app_port, "GET", "/api/v1/executions", "").unwrap();
    assert!(status.contains("404"), "{status}");

    // Ctrl-C stops the application and the triggers, cleanly.
    Command::new("kill")
        .args(["-INT", &app.id().to_string()])
        .status()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = app.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "it did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    let _ = std::fs::remove_dir_all(&state);
}
