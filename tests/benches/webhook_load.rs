//! Webhook load: a real `serve` on the loopback gets webhooks at a fixed rate (open loop: each
//! request is due at its own time, and its latencies count from then, so a slow answer does
//! not hide the ones queued behind it). Prints a Markdown table: requests acknowledged and
//! executions recorded for them (none may be lost), latency from the request to its answer
//! (sent after the fsynced commit), to the execution's first task run, and to its end; idle
//! and peak RSS of `serve`. First, what one commit costs in the state with each
//! `synchronous` mode: an execution created as a request's (FULL, fsynced) and an action
//! recorded (NORMAL).
//!
//! ```sh
//! cargo bench -p kflow-tests --bench webhook_load            # 500 requests/s for 20 s
//! RATE=200 SECONDS=5 cargo bench -p kflow-tests --bench webhook_load
//! ```
//!
//! Bounded: at most RATE × SECONDS requests (RATE ≤ 5,000, SECONDS ≤ 120), all to 127.0.0.1.

use std::collections::HashMap;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kflow_runtime::execution::new_id;
use kflow_runtime::serde_json::{Map, Value};
use kflow_runtime::state::{Store, TriggeredExecution};
use kflow_tests::{build_yaml, http, listening_address, scratch_dir, start_serve, terminate};

const FLOW: &str = r#"id: load_hooks
namespace: bench
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
    key: load-key
"#;

const PATH: &str = "/api/v1/main/executions/webhook/bench/load_hooks/load-key";
const WORKERS: usize = 32;

fn setting(name: &str, default: u64, max: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .clamp(1, max)
}

fn epoch_us(at: SystemTime) -> u64 {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
}

/// A line of /proc/PID/status (in kB there), as MB with one decimal.
fn status_mb(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .unwrap_or(0);
    format!("{}.{}", kb / 1024, kb % 1024 * 10 / 1024)
}

/// The `p`th percentile (nearest rank) of sorted values; 0 for none.
fn percentile(sorted: &[u64], p: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len()).div_ceil(100);
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Microseconds as milliseconds with two decimals.
fn ms(us: u64) -> String {
    format!("{}.{:02}", us / 1000, us % 1000 / 10)
}

struct Sent {
    due_us: u64,
    answer_us: u64,
    id: Option<String>,
}

/// Microseconds per commit: FULL (an execution created as a request's) and NORMAL (an
/// action recorded), 1,000 each in a fresh state.
fn commit_costs() -> (u64, u64) {
    let dir = scratch_dir("commit-cost");
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::open(&dir).unwrap();
    let flow = kflow_tests::lowered(FLOW);
    let n = 1_000u32;
    let mut last = String::new();
    let started = Instant::now();
    for _ in 0..n {
        last = new_id();
        let start = TriggeredExecution {
            id: last.clone(),
            inputs: Map::new(),
            labels: Map::new(),
            trigger: Value::Null,
        };
        store.create_requested(&flow, &start, None).unwrap();
    }
    let full = started.elapsed() / n;
    let started = Instant::now();
    for _ in 0..n {
        store.record_action(&last, "bench", "").unwrap();
    }
    let normal = started.elapsed() / n;
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    let us = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    (us(full), us(normal))
}

fn main() {
    let (full, normal) = commit_costs();
    let rate = setting("RATE", 500, 5_000);
    let seconds = setting("SECONDS", 20, 120);
    let total = rate * seconds;
    let bin = build_yaml("load_hooks", FLOW);
    let dir = scratch_dir("webhook-load");
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state");
    let log = dir.join("serve.log");
    let serve = start_serve(&bin, &state, &log, &["--listen", "127.0.0.1:0"], &[]);
    let addr = listening_address(&log);
    std::thread::sleep(Duration::from_secs(1));
    let idle_rss = status_mb(serve.id(), "VmRSS:");

    let (jobs, queue) = mpsc::channel::<(u64, Instant, SystemTime)>();
    let queue = Arc::new(Mutex::new(queue));
    let (done, results) = mpsc::channel::<Sent>();
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (queue, done, addr) = (Arc::clone(&queue), done.clone(), addr.clone());
            std::thread::spawn(move || loop {
                let job = queue.lock().unwrap().recv();
                let Ok((n, due, due_wall)) = job else { return };
                let body = format!("{{\"n\": {n}}}");
                let reply = http(
                    &addr,
                    "POST",
                    PATH,
                    &[("content-type", "application/json")],
                    body.as_bytes(),
                );
                let answer_us = u64::try_from(due.elapsed().as_micros()).unwrap_or(u64::MAX);
                let id = match reply {
                    Ok(reply) if reply.status == 200 => {
                        reply.json()["id"].as_str().map(str::to_string)
                    }
                    _ => None,
                };
                let _ = done.send(Sent {
                    due_us: epoch_us(due_wall),
                    answer_us,
                    id,
                });
            })
        })
        .collect();
    drop(done);
    let interval = Duration::from_secs(1) / u32::try_from(rate).unwrap();
    let (start, start_wall) = (Instant::now(), SystemTime::now());
    for n in 0..total {
        let offset = interval * u32::try_from(n).unwrap();
        let due = start + offset;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        jobs.send((n, due, start_wall + offset)).unwrap();
    }
    drop(jobs);
    let sent: Vec<Sent> = results.iter().collect();
    for worker in workers {
        worker.join().unwrap();
    }

    // Every acknowledged execution ends (at most a minute after the last request).
    let acknowledged: HashMap<&str, u64> = sent
        .iter()
        .filter_map(|s| s.id.as_deref().map(|id| (id, s.due_us)))
        .collect();
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let ended = Store::open_read_only(&state)
            .ok()
            .flatten()
            .and_then(|store| store.executions(usize::MAX).ok())
            .map_or(0, |rows| {
                rows.iter().filter(|r| r.ended_ms.is_some()).count()
            });
        if ended >= acknowledged.len() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let peak_rss = status_mb(serve.id(), "VmHWM:");
    terminate(serve);

    let store = Store::open_read_only(&state).unwrap().expect("a state");
    let rows = store.executions(usize::MAX).unwrap();
    let mut to_start = Vec::new();
    let mut to_end = Vec::new();
    let mut recorded = 0;
    for row in &rows {
        let Some(due) = acknowledged.get(row.id.as_str()) else {
            continue;
        };
        recorded += 1;
        let first = store
            .task_runs(&row.id)
            .unwrap()
            .iter()
            .flat_map(|t| t.attempts.iter().map(|a| a.started_ms))
            .min();
        if let Some(first) = first {
            to_start.push((first * 1000).saturating_sub(*due)); // the state records ms
        }
        if let Some(end) = row.ended_ms {
            to_end.push((end * 1000).saturating_sub(*due));
        }
    }
    let mut answers: Vec<u64> = sent
        .iter()
        .filter(|s| s.id.is_some())
        .map(|s| s.answer_us)
        .collect();
    for list in [&mut answers, &mut to_start, &mut to_end] {
        list.sort_unstable();
    }
    let lost = acknowledged.len() - recorded;
    println!(
        "| webhook load: {rate} requests/s for {seconds} s, loopback, {WORKERS} client threads | |"
    );
    println!("|---|---|");
    println!(
        "| requests sent / acknowledged (200) / not | {} / {} / {} |",
        sent.len(),
        acknowledged.len(),
        sent.len() - acknowledged.len()
    );
    println!("| executions recorded for them / lost | {recorded} / {lost} |");
    println!(
        "| request → answer (committed, fsynced): p50 / p99 / max | {} / {} / {} ms |",
        ms(percentile(&answers, 50)),
        ms(percentile(&answers, 99)),
        ms(answers.last().copied().unwrap_or(0))
    );
    println!(
        "| request → first task run starts: p50 / p99 (1 ms resolution) | {} / {} ms |",
        percentile(&to_start, 50) / 1000,
        percentile(&to_start, 99) / 1000
    );
    println!(
        "| request → execution ended: p50 / p99 (1 ms resolution) | {} / {} ms |",
        percentile(&to_end, 50) / 1000,
        percentile(&to_end, 99) / 1000
    );
    println!("| serve RSS: idle / peak under load | {idle_rss} / {peak_rss} MB |");
    println!("| one commit in the state: FULL (fsynced) / NORMAL | {full} / {normal} µs |");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(lost, 0, "acknowledged executions lost");
}
