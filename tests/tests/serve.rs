//! `serve` with real processes and the real clock: an every-second schedule runs once a tick;
//! `serve` killed with SIGKILL mid-execution and started again accounts for every tick exactly
//! once under `recoverMissedSchedules` ALL, LAST and NONE (the interrupted executions are
//! restarted); `triggers disable` stops a trigger; `backfill` runs a DST window's ticks in
//! order; SIGTERM drains and exits 0.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use kflow_tests::{build_yaml, executions, scratch_dir, start_serve, terminate};
use serde_json::Value;

fn call(binary: &Path, state: &Path, args: &[&str]) -> Output {
    Command::new(binary)
        .args(args)
        .args(["--state", state.to_str().unwrap()])
        .output()
        .expect("the binary runs")
}

/// The tick (seconds since the epoch) each execution ran for, sorted.
fn ticks(executions: &[Value]) -> Vec<i64> {
    let mut ticks: Vec<i64> = executions
        .iter()
        .map(|e| {
            let date = e["trigger"]["date"]
                .as_str()
                .unwrap_or_else(|| panic!("{e}"));
            date.parse::<jiff::Timestamp>().unwrap().as_second()
        })
        .collect();
    ticks.sort_unstable();
    ticks
}

fn every_second(id: &str, recover: &str, sleep: &str) -> String {
    format!(
        "id: {id}
namespace: kflow.tests
inputs:
  - id: second
    type: STRING
tasks:
  - id: work
    type: io.kestra.plugin.core.flow.Sleep
    duration: {sleep}
  - id: said
    type: io.kestra.plugin.core.debug.Return
    format: \"{{{{ inputs.second }}}} {{{{ trigger.date }}}}\"
triggers:
  - id: tick
    type: io.kestra.plugin.core.trigger.Schedule
    cron: \"* * * * * *\"
    withSeconds: true
    timezone: UTC
    recoverMissedSchedules: {recover}
    labels:
      started-by: schedule
    inputs:
      second: \"{{{{ trigger.date | date('ss') }}}}\"
"
    )
}

#[test]
fn an_every_second_schedule_runs_once_a_tick_and_sigterm_drains() {
    let bin = build_yaml("every_second", &every_second("every_second", "ALL", "PT0S"));
    let dir = scratch_dir("serve-every");
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state");
    let log = dir.join("serve.log");
    let serve = start_serve(&bin, &state, &log, &[], &[]);
    std::thread::sleep(Duration::from_millis(4_500));
    assert_eq!(
        terminate(serve),
        Some(0),
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    let runs = executions(&bin, &state);
    let ticks = ticks(&runs);
    // 4.5 s of serving: 4 or 5 ticks, one execution each, consecutive seconds.
    assert!((4..=5).contains(&ticks.len()), "{ticks:?}");
    assert!(ticks.windows(2).all(|w| w[1] == w[0] + 1), "{ticks:?}");
    for run in &runs {
        assert_eq!(run["state"], "SUCCESS", "{run}");
        // The trigger's labels are the execution's.
        assert_eq!(run["labels"]["started-by"], "schedule", "{run}");
        // The rendered trigger input reached the execution.
        let second = run["inputs"]["second"].as_str().unwrap();
        assert!(
            run["trigger"]["date"]
                .as_str()
                .unwrap()
                .contains(&format!(":{second}Z")),
            "{run}"
        );
    }
    let listed = String::from_utf8_lossy(&call(&bin, &state, &["triggers"]).stdout).to_string();
    assert!(
        listed.contains("tick") && listed.contains("enabled"),
        "{listed}"
    );

    // Disabled from the command line: serving fires nothing, not even the ticks missed while
    // no serve ran (recoverMissedSchedules ALL would run them for an enabled trigger).
    let out = call(&bin, &state, &["triggers", "disable", "tick"]);
    assert_eq!(out.status.code(), Some(0));
    std::thread::sleep(Duration::from_millis(1_500));
    let serve = start_serve(&bin, &state, &log, &[], &[]);
    std::thread::sleep(Duration::from_millis(2_500));
    assert_eq!(terminate(serve), Some(0));
    assert_eq!(executions(&bin, &state).len(), runs.len());
    let listed = String::from_utf8_lossy(&call(&bin, &state, &["triggers"]).stdout).to_string();
    assert!(listed.contains("disabled"), "{listed}");

    // One serve per state.
    let out = call(&bin, &state, &["triggers", "enable", "tick"]);
    assert_eq!(out.status.code(), Some(0));
    let serve = start_serve(&bin, &state, &log, &[], &[]);
    std::thread::sleep(Duration::from_millis(500));
    let second = call(&bin, &state, &["serve"]);
    assert_eq!(second.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&second.stderr).contains("another `serve`"));
    assert_eq!(terminate(serve), Some(0));
}

/// Serve 3 s (executions take 1.5 s, so some are running), SIGKILL, 3 s down, serve 3 s
/// again, SIGTERM: the ticks of the executions, and when each started.
fn crash_and_recover(recover: &str) -> (Vec<Value>, String) {
    let id = format!("recover_{}", recover.to_lowercase());
    let bin = build_yaml(&id, &every_second(&id, recover, "PT1.5S"));
    let dir = scratch_dir(&format!("serve-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state");
    let log = dir.join("serve.log");
    let mut serve = start_serve(&bin, &state, &log, &[], &[]);
    std::thread::sleep(Duration::from_secs(3));
    serve.kill().unwrap();
    serve.wait().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let serve = start_serve(&bin, &state, &log, &[], &[]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(terminate(serve), Some(0));
    (
        executions(&bin, &state),
        std::fs::read_to_string(&log).unwrap(),
    )
}

/// What the restarted serve said of the missed ticks: (missed, run).
fn recovered(log: &str, policy: &str) -> (usize, usize) {
    let line = log
        .lines()
        .find(|l| l.contains("missed while serve was not running"))
        .unwrap_or_else(|| panic!("no missed ticks:\n{log}"));
    assert!(
        line.contains(&format!("recoverMissedSchedules {policy} runs")),
        "{line}"
    );
    let number = |before: &str| -> usize {
        line.split(before)
            .next()
            .unwrap()
            .split_whitespace()
            .last()
            .unwrap()
            .parse()
            .unwrap()
    };
    let run: usize = line.rsplit(' ').next().unwrap().parse().unwrap();
    (number(" tick(s) missed"), run)
}

/// Gaps in a sorted run of seconds: how many seconds each misses.
fn gaps(ticks: &[i64]) -> Vec<i64> {
    ticks
        .windows(2)
        .map(|w| w[1] - w[0] - 1)
        .filter(|g| *g > 0)
        .collect()
}

fn assert_exactly_once(runs: &[Value], log: &str) {
    let ticks = ticks(runs);
    let distinct: BTreeSet<i64> = ticks.iter().copied().collect();
    assert_eq!(distinct.len(), ticks.len(), "a tick ran twice: {ticks:?}");
    // The executions SIGKILL interrupted were restarted by the next serve, and ended.
    let restarted: Vec<&Value> = runs
        .iter()
        .filter(|r| {
            r["actions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["action"] == "restart")
        })
        .collect();
    assert!(!restarted.is_empty(), "nothing was restarted:\n{log}");
    for run in runs {
        assert_eq!(run["state"], "SUCCESS", "{run}\n{log}");
    }
}

#[test]
fn every_tick_runs_exactly_once_across_sigkill_under_each_recovery_policy() {
    // ALL: the ticks missed while down all ran (late): no gap.
    let (runs, log) = crash_and_recover("ALL");
    assert_exactly_once(&runs, &log);
    assert_eq!(
        gaps(&ticks(&runs)),
        Vec::<i64>::new(),
        "{:?}\n{log}",
        ticks(&runs)
    );
    let (missed, run) = recovered(&log, "ALL");
    assert!(missed >= 2 && run == missed, "{log}");
    // LAST: only the newest missed tick ran.
    let (runs, log) = crash_and_recover("LAST");
    assert_exactly_once(&runs, &log);
    let gaps_last = gaps(&ticks(&runs));
    assert_eq!(gaps_last.len(), 1, "{:?}\n{log}", ticks(&runs));
    let (missed, run) = recovered(&log, "LAST");
    assert_eq!(
        (run, gaps_last[0]),
        (1, i64::try_from(missed).unwrap() - 1),
        "{log}"
    );
    // NONE: none of them ran.
    let (runs, log) = crash_and_recover("NONE");
    assert_exactly_once(&runs, &log);
    let gaps_none = gaps(&ticks(&runs));
    assert_eq!(gaps_none.len(), 1, "{:?}\n{log}", ticks(&runs));
    let (missed, run) = recovered(&log, "NONE");
    assert_eq!(
        (run, gaps_none[0]),
        (0, i64::try_from(missed).unwrap()),
        "{log}"
    );
}

const DST: &str = "id: dst
namespace: kflow.tests
tasks:
  - id: when
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ trigger.date }} after {{ trigger.previous }}\"
triggers:
  - id: nightly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: \"30 2 * * *\"
    timezone: America/New_York
  - id: weekdays
    type: io.kestra.plugin.core.trigger.Schedule
    cron: \"0 9 * * *\"
    timezone: Europe/Paris
    conditions:
      - type: io.kestra.plugin.core.condition.Not
        conditions:
          - type: io.kestra.plugin.core.condition.Weekend
";

fn backfilled(bin: &Path, state: &Path, args: &[&str]) -> Vec<String> {
    let out = call(
        bin,
        state,
        &[&["backfill", "--format", "json"], args].concat(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let summary: Value = serde_json::from_str(l).unwrap();
            summary["task_runs"][0]["outputs"]["value"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn backfill_runs_a_dst_window_in_order_with_conditions() {
    let bin = build_yaml("dst", DST);
    let state = scratch_dir("serve-dst").join("state");
    // New York springs forward on 2024-03-10: 02:30 does not exist and fires at 03:30.
    assert_eq!(
        backfilled(
            &bin,
            &state,
            &[
                "--trigger",
                "nightly",
                "--start",
                "2024-03-09",
                "--end",
                "2024-03-11T12:00:00"
            ]
        ),
        [
            "2024-03-09T02:30:00-05:00 after ",
            "2024-03-10T03:30:00-04:00 after 2024-03-09T02:30:00-05:00",
            "2024-03-11T02:30:00-04:00 after 2024-03-10T03:30:00-04:00",
        ]
    );
    // It falls back on 2024-11-03: 01:30 happens twice, 02:30 once; the days are all there.
    assert_eq!(
        backfilled(
            &bin,
            &state,
            &[
                "--trigger",
                "nightly",
                "--start",
                "2024-11-02T12:00:00Z",
                "--end",
                "2024-11-04T12:00:00Z"
            ]
        )
        .len(),
        2
    );
    // The Not(Weekend) condition skips 2024-03-30 and 31 (a Saturday and Sunday); Paris
    // changes to summer time on the 31st and 09:00 stays 09:00.
    assert_eq!(
        backfilled(
            &bin,
            &state,
            &[
                "--trigger",
                "weekdays",
                "--start",
                "2024-03-29",
                "--end",
                "2024-04-01T23:00:00"
            ]
        ),
        [
            "2024-03-29T09:00:00+01:00 after ",
            "2024-04-01T09:00:00+02:00 after 2024-03-31T09:00:00+02:00",
        ]
    );
    let out = call(
        &bin,
        &state,
        &[
            "backfill",
            "--trigger",
            "nope",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-02",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no trigger `nope`"));
}
