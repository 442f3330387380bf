//! "Acknowledged means durable" for webhooks, with real processes: `serve` killed with SIGKILL
//! while requests are in flight keeps every execution it answered 200 for (and the next
//! `serve` runs them to the end); under strace, every answered request's commit is fsynced
//! before its answer is written.

use std::collections::{BTreeSet, HashMap};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kflow_tests::{
    build_yaml, executions, http, listening_address, scratch_dir, start_serve, terminate,
};

const FLOW: &str = r#"id: durable_hooks
namespace: kflow.tests
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.body.n }}"
  - id: second
    type: io.kestra.plugin.core.log.Log
    message: "request {{ outputs.first.value }}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: durable-key
"#;

const PATH: &str = "/api/v1/main/executions/webhook/kflow.tests/durable_hooks/durable-key";

#[test]
fn sigkill_with_requests_in_flight_loses_no_acknowledged_execution() {
    let bin = build_yaml("durable_hooks", FLOW);
    let dir = scratch_dir("webhook-sigkill");
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state");
    let log = dir.join("serve.log");
    let listen = ["--listen", "127.0.0.1:0"];
    let mut serve = start_serve(&bin, &state, &log, &listen, &[]);
    let addr = listening_address(&log);

    // Four clients send requests as fast as answers come, until the server is gone (each at
    // most 5,000 requests or 30 s).
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let killed = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|client| {
            let (addr, acknowledged, killed) =
                (addr.clone(), Arc::clone(&acknowledged), Arc::clone(&killed));
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(30);
                for n in 0..5_000 {
                    if Instant::now() > deadline {
                        break;
                    }
                    let body = format!("{{\"n\": {}}}", client * 10_000 + n);
                    match http(
                        &addr,
                        "POST",
                        PATH,
                        &[("content-type", "application/json")],
                        body.as_bytes(),
                    ) {
                        Ok(reply) if reply.status == 200 => {
                            let id = reply.json()["id"].as_str().unwrap().to_string();
                            acknowledged.lock().unwrap().push(id);
                        }
                        Ok(reply) => panic!("{} {}", reply.status, reply.text()),
                        // The server was killed: this request was not answered.
                        Err(_) if killed.load(Ordering::SeqCst) => break,
                        Err(e) => panic!("{e}"),
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1_500));
    killed.store(true, Ordering::SeqCst);
    serve.kill().unwrap(); // SIGKILL
    serve.wait().unwrap();
    for client in clients {
        client.join().unwrap();
    }
    let acknowledged: BTreeSet<String> = acknowledged.lock().unwrap().iter().cloned().collect();
    assert!(
        acknowledged.len() >= 20,
        "only {} answered",
        acknowledged.len()
    );

    let recorded: BTreeSet<String> = executions(&bin, &state)
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let lost: Vec<_> = acknowledged.difference(&recorded).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged executions lost: {lost:?}",
        lost.len()
    );

    // The next serve runs the ones the kill interrupted to their end.
    let serve = start_serve(&bin, &state, &log, &listen, &[]);
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let runs = executions(&bin, &state);
        let unfinished = runs
            .iter()
            .filter(|r| acknowledged.contains(r["id"].as_str().unwrap()))
            .filter(|r| r["state"] != "SUCCESS")
            .count();
        if unfinished == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{unfinished} still not SUCCESS");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(terminate(serve), Some(0));
}

/// One system call from an `strace -f -y -tt` line: the thread, the call, its first
/// argument (the descriptor, with `-y` its path or socket), and whether this line ends it.
struct Call<'a> {
    thread: &'a str,
    name: &'a str,
    target: &'a str,
    rest: &'a str,
    ends: bool,
}

fn call(line: &str) -> Option<Call<'_>> {
    // `THREAD  HH:MM:SS.micros CALL(...`: the columns are separated by one or more spaces.
    let (thread, line) = line.trim_start().split_once(' ')?;
    let (_time, line) = line.trim_start().split_once(' ')?;
    if let Some(resumed) = line.strip_prefix("<... ") {
        let (name, rest) = resumed.split_once(" resumed>")?;
        return Some(Call {
            thread,
            name,
            target: "",
            rest,
            ends: true,
        });
    }
    let (name, rest) = line.split_once('(')?;
    let target = rest.split([',', ')']).next().unwrap_or_default();
    Some(Call {
        thread,
        name,
        target,
        rest,
        ends: !rest.ends_with("<unfinished ...>"),
    })
}

#[test]
fn each_acknowledged_request_is_fsynced_before_its_answer() {
    let strace = Command::new("strace").arg("-V").output();
    assert!(
        strace.is_ok_and(|o| o.status.success()),
        "strace is needed for this test: `tests/setup.sh` installs it"
    );
    let bin = build_yaml(
        "traced_hooks",
        &FLOW.replace("id: durable_hooks", "id: traced_hooks"),
    );
    let dir = scratch_dir("webhook-strace");
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state");
    let log = dir.join("serve.log");
    let trace = dir.join("trace.txt");
    let mut command = Command::new("strace");
    command
        .args(["-f", "-y", "-tt", "-s", "24", "-o"])
        .arg(&trace)
        .args([
            "-e",
            "trace=read,recvfrom,write,writev,sendto,pwrite64,fsync,fdatasync",
        ])
        .arg(&bin)
        .args([
            "serve",
            "--state",
            state.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ]);
    let mut strace = command
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("strace starts");
    let addr = listening_address(&log);
    let path = PATH.replace("durable_hooks", "traced_hooks");

    // One request at a time, so that each answer's window holds only its own commit.
    let requests = 20;
    for n in 0..requests {
        let body = format!("{{\"n\": {n}}}");
        let reply = http(
            &addr,
            "POST",
            &path,
            &[("content-type", "application/json")],
            body.as_bytes(),
        )
        .unwrap();
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    let children =
        std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", strace.id())).unwrap();
    let serve_pid: u32 = children.split_whitespace().next().unwrap().parse().unwrap();
    Command::new("kill")
        .args(["-TERM", &serve_pid.to_string()])
        .status()
        .unwrap();
    assert!(
        strace.wait().unwrap().success(),
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );

    let text = std::fs::read_to_string(&trace).unwrap();
    let state_dir = state.to_string_lossy().to_string();
    // Per socket: the line where its request was read, and whether the state was written and
    // fsynced since (by one thread: its write, then an fsync it began after that write).
    let mut open: HashMap<String, (usize, bool)> = HashMap::new();
    let mut wrote_wal: HashMap<&str, usize> = HashMap::new();
    let mut syncing: HashMap<&str, usize> = HashMap::new();
    let mut answered = 0;
    for (index, line) in text.lines().enumerate() {
        let Some(call) = call(line) else { continue };
        match call.name {
            "read" | "recvfrom"
                if call.target.contains("socket:") && call.rest.contains("\"POST ") =>
            {
                open.insert(call.target.to_string(), (index, false));
            }
            "pwrite64" if call.target.contains(&state_dir) && call.target.contains("-wal") => {
                wrote_wal.insert(call.thread, index);
            }
            "fsync" | "fdatasync" => {
                if !call.ends {
                    if call.target.contains(&state_dir) {
                        syncing.insert(call.thread, index);
                    }
                    continue;
                }
                let began = if call.target.is_empty() {
                    syncing.remove(call.thread)
                } else {
                    call.target.contains(&state_dir).then_some(index)
                };
                let (Some(began), true) = (began, call.rest.contains("= 0")) else {
                    continue;
                };
                let wrote = wrote_wal.get(call.thread).copied();
                for (read_at, synced) in open.values_mut() {
                    if wrote.is_some_and(|w| w > *read_at && w < began) {
                        *synced = true;
                    }
                }
            }
            "write" | "writev" | "sendto" if call.rest.contains("HTTP/1.1 200") => {
                let (_, synced) = open.remove(call.target).unwrap_or_else(|| {
                    panic!("an answer on a socket with no request read: {line}")
                });
                assert!(synced, "answered before its commit was fsynced: {line}");
                answered += 1;
            }
            _ => {}
        }
    }
    assert_eq!(answered, requests, "answers found in the trace");
}
