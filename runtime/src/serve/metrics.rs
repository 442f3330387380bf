//! What `/metrics` shows, in Prometheus' text format: executions by state (from the state),
//! executions running and waiting for a place, task-run durations by task (a histogram since
//! `serve` started), and each schedule's lag (how late its last tick fired).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::execution::Summary;

/// The histogram's upper bounds, in milliseconds (shown in seconds).
const BUCKETS_MS: [u64; 12] = [
    1, 5, 10, 50, 100, 500, 1_000, 5_000, 10_000, 60_000, 300_000, 3_600_000,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS_MS.len()],
    count: u64,
    sum_ms: u64,
}

/// The counters `serve` keeps while it runs.
#[derive(Default)]
pub(super) struct Metrics {
    waiting: AtomicUsize,
    running: AtomicUsize,
    /// By flow and task.
    durations: Mutex<BTreeMap<(String, String), Histogram>>,
    /// By flow and trigger.
    lag_ms: Mutex<BTreeMap<(String, String), u64>>,
}

/// The guard of a counted execution: it counts as running until dropped.
pub(super) struct Running<'m>(&'m Metrics);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// An execution waits for a place.
    pub fn waiting(&self) {
        self.waiting.fetch_add(1, Ordering::Relaxed);
    }

    /// The waiting execution got its place.
    pub fn runs(&self) -> Running<'_> {
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        self.running.fetch_add(1, Ordering::Relaxed);
        Running(self)
    }

    /// The waiting execution will not run (`serve` stops).
    pub fn gave_up(&self) {
        self.waiting.fetch_sub(1, Ordering::Relaxed);
    }

    /// The task runs of an ended execution of `flow`.
    pub fn ended(&self, flow: &str, summary: &Summary) {
        let mut durations = self
            .durations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for run in &summary.task_runs {
            let (Some(first), Some(last)) = (run.attempts.first(), run.attempts.last()) else {
                continue;
            };
            let ms = last.ended_ms.saturating_sub(first.started_ms);
            let histogram = durations
                .entry((flow.to_string(), run.task_id.clone()))
                .or_default();
            histogram.count += 1;
            histogram.sum_ms += ms;
            for (count, bound) in histogram.counts.iter_mut().zip(BUCKETS_MS) {
                if ms <= bound {
                    *count += 1;
                }
            }
        }
    }

    /// How late a schedule's tick fired.
    pub fn lag(&self, flow: &str, trigger: &str, late_ms: u64) {
        let mut lag = self
            .lag_ms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        lag.insert((flow.to_string(), trigger.to_string()), late_ms);
    }

    /// The text `/metrics` answers; `by_state` counts the state's executions by flow and state.
    pub fn render(&self, by_state: &[(String, String, u64)]) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP kflow_executions Executions in the state, by state."
        );
        let _ = writeln!(out, "# TYPE kflow_executions gauge");
        for (flow, state, count) in by_state {
            let _ = writeln!(
                out,
                "kflow_executions{{flow=\"{}\",state=\"{}\"}} {count}",
                escape(flow),
                escape(state)
            );
        }
        let _ = writeln!(
            out,
            "# HELP kflow_executions_running Executions running now."
        );
        let _ = writeln!(out, "# TYPE kflow_executions_running gauge");
        let _ = writeln!(
            out,
            "kflow_executions_running {}",
            self.running.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP kflow_executions_queued Executions waiting for a place (--max-executions)."
        );
        let _ = writeln!(out, "# TYPE kflow_executions_queued gauge");
        let _ = writeln!(
            out,
            "kflow_executions_queued {}",
            self.waiting.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP kflow_task_run_duration_seconds Task runs ended since serve started, by task."
        );
        let _ = writeln!(out, "# TYPE kflow_task_run_duration_seconds histogram");
        let durations = self
            .durations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for ((flow, task), histogram) in durations.iter() {
            let (flow, task) = (escape(flow), escape(task));
            for (count, bound) in histogram.counts.iter().zip(BUCKETS_MS) {
                let _ = writeln!(
                    out,
                    "kflow_task_run_duration_seconds_bucket{{flow=\"{flow}\",task=\"{task}\",le=\"{}\"}} {count}",
                    seconds(bound)
                );
            }
            let _ = writeln!(
                out,
                "kflow_task_run_duration_seconds_bucket{{flow=\"{flow}\",task=\"{task}\",le=\"+Inf\"}} {}",
                histogram.count
            );
            let _ = writeln!(
                out,
                "kflow_task_run_duration_seconds_sum{{flow=\"{flow}\",task=\"{task}\"}} {}",
                seconds(histogram.sum_ms)
            );
            let _ = writeln!(
                out,
                "kflow_task_run_duration_seconds_count{{flow=\"{flow}\",task=\"{task}\"}} {}",
                histogram.count
            );
        }
        drop(durations);
        let _ = writeln!(
            out,
            "# HELP kflow_trigger_lag_seconds How late the trigger's last tick fired."
        );
        let _ = writeln!(out, "# TYPE kflow_trigger_lag_seconds gauge");
        let lag = self
            .lag_ms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for ((flow, trigger), ms) in lag.iter() {
            let _ = writeln!(
                out,
                "kflow_trigger_lag_seconds{{flow=\"{}\",trigger=\"{}\"}} {}",
                escape(flow),
                escape(trigger),
                seconds(*ms)
            );
        }
        out
    }
}

/// Milliseconds as seconds with three decimals.
fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// A label value as the text format wants it.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
