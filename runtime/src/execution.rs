//! What an execution is made of, as Kestra records it: states, task runs with their attempts
//! and outputs, and the summary a `run` prints.

use serde_json::{json, Map, Value};

/// Kestra's states of executions, task runs and attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Created,
    Running,
    Success,
    Warning,
    Failed,
    Killed,
    Skipped,
    Retrying,
    Paused,
    /// Not run: the flow's concurrency limit was reached with `behavior: CANCEL`.
    Cancelled,
    /// Failed, and retried as a new execution (`retry.behavior: CREATE_NEW_EXECUTION`).
    Retried,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Created => "CREATED",
            State::Running => "RUNNING",
            State::Success => "SUCCESS",
            State::Warning => "WARNING",
            State::Failed => "FAILED",
            State::Killed => "KILLED",
            State::Skipped => "SKIPPED",
            State::Retrying => "RETRYING",
            State::Paused => "PAUSED",
            State::Cancelled => "CANCELLED",
            State::Retried => "RETRIED",
        }
    }

    pub fn parse(text: &str) -> Option<State> {
        Some(match text {
            "CREATED" => State::Created,
            "RUNNING" => State::Running,
            "SUCCESS" => State::Success,
            "WARNING" => State::Warning,
            "FAILED" => State::Failed,
            "KILLED" => State::Killed,
            "SKIPPED" => State::Skipped,
            "RETRYING" => State::Retrying,
            "PAUSED" => State::Paused,
            "CANCELLED" => State::Cancelled,
            "RETRIED" => State::Retried,
            _ => return None,
        })
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            State::Success
                | State::Warning
                | State::Failed
                | State::Killed
                | State::Skipped
                | State::Cancelled
                | State::Retried
        )
    }

    /// FAILED or KILLED: what stops a branch.
    pub fn is_failure(self) -> bool {
        matches!(self, State::Failed | State::Killed)
    }

    /// The worse of two end states, as a parent takes its children's: FAILED/KILLED over
    /// PAUSED (a branch waits for `resume`) over WARNING over SUCCESS; SKIPPED counts as
    /// success.
    #[must_use]
    pub fn worst(self, other: State) -> State {
        fn rank(s: State) -> u8 {
            match s {
                State::Killed => 5,
                State::Failed => 4,
                State::Paused => 3,
                State::Warning => 2,
                _ => 1,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

/// One attempt of a task run.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub state: State,
    pub started_ms: u64,
    pub ended_ms: u64,
}

/// One task run: a task, once per loop value, as Kestra creates them.
#[derive(Debug, Clone)]
pub struct TaskRun {
    pub id: String,
    pub task_id: String,
    pub parent_id: Option<String>,
    pub value: Option<Value>,
    pub state: State,
    pub attempts: Vec<Attempt>,
    pub outputs: Option<Value>,
}

impl TaskRun {
    pub fn to_json(&self) -> Value {
        json!({
            "task_id": self.task_id,
            "task_run_id": self.id,
            "parent_task_run_id": self.parent_id,
            "value": self.value,
            "state": self.state.as_str(),
            "attempts": self.attempts.iter().map(|a| json!({"state": a.state.as_str()})).collect::<Vec<_>>(),
            "outputs": self.outputs,
        })
    }
}

/// The end of an execution, as `run` prints it.
#[derive(Debug, Clone)]
pub struct Summary {
    pub id: String,
    pub state: State,
    pub outputs: Option<Value>,
    pub labels: Map<String, Value>,
    pub duration_ms: u64,
    pub task_runs: Vec<TaskRun>,
    /// Set when the execution is to be retried as a new one after this wait.
    pub retry_after: Option<std::time::Duration>,
}

impl Summary {
    /// An execution that did not run at all (the concurrency limit said no).
    pub fn refused(flow: &crate::plan::Flow, state: State) -> Summary {
        Summary {
            id: new_id(),
            state,
            outputs: None,
            labels: flow
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
            duration_ms: 0,
            task_runs: Vec::new(),
            retry_after: None,
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "state": self.state.as_str(),
            "outputs": self.outputs,
            "labels": self.labels,
            "duration_ms": self.duration_ms,
            "task_runs": self.task_runs.iter().map(TaskRun::to_json).collect::<Vec<_>>(),
        })
    }
}

/// Kestra-style ids: 22 base62 characters from 16 random bytes.
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No entropy source (a bare chroot): mix the clock, the process id and a counter, so
        // ids stay unique and unguessable enough to not collide across processes.
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        // Truncating the nanoseconds is the point: only their low bits vary.
        #[allow(clippy::cast_possible_truncation)]
        let mut state = u64::from(std::process::id())
            ^ (nanos as u64).rotate_left(17)
            ^ ((nanos >> 64) as u64)
            ^ COUNTER
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for chunk in bytes.chunks_mut(8) {
            // splitmix64
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes()[..chunk.len()]);
        }
    }
    // Base62, as Kestra's ids: letters and digits only, so an id never starts with `-` (which a
    // command line would take for an option) and reads the same in a URL or a file name.
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut number = u128::from_le_bytes(bytes);
    let mut out = [0u8; 22];
    for digit in out.iter_mut().rev() {
        *digit = ALPHABET[(number % 62) as usize];
        number /= 62;
    }
    out.iter().map(|&b| char::from(b)).collect()
}

/// Whether this process writes its stderr log lines as JSON (`serve --log-format json`).
static JSON_LOGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Log lines on stderr as JSON objects from now on (for a log shipper), or as text.
pub fn log_as_json(on: bool) {
    JSON_LOGS.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// A log line as this process writes it on stderr: [`log_line`]'s text, or after
/// [`log_as_json`] one JSON object a line (`timestamp`, `level`, `executionId`, `taskId`,
/// `message`; `executionId` null for `serve`'s own lines).
pub fn stderr_line(
    at_ms: u64,
    level: &str,
    execution_id: Option<&str>,
    task_id: &str,
    message: &str,
) -> String {
    if !JSON_LOGS.load(std::sync::atomic::Ordering::Relaxed) {
        return log_line(at_ms, level, task_id, message);
    }
    let mut line = serde_json::json!({
        "timestamp": crate::formats::iso_instant(at_ms),
        "level": level,
        "executionId": execution_id,
        "taskId": task_id,
        "message": message,
    })
    .to_string();
    line.push('\n');
    line
}

/// A log line as `run` prints it on stderr and `logs` prints it from the state:
/// `2024-01-01T10:00:00.000Z INFO  task_id message`.
pub fn log_line(at_ms: u64, level: &str, task_id: &str, message: &str) -> String {
    format!(
        "{} {level:<5} {task_id} {message}\n",
        crate::formats::iso_instant(at_ms)
    )
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::new_id;

    /// 22 letters and digits, as Kestra's ids: never a leading `-` a command line would read
    /// as an option.
    #[test]
    fn ids_are_base62() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids
            .iter()
            .all(|id| id.len() == 22 && id.chars().all(|c| c.is_ascii_alphanumeric())));
    }
}
