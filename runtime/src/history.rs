//! What tasks read and prune of the recorded history: an execution's log lines (`log.Fetch`),
//! and purges that keep an edge host's state small (`execution.PurgeExecutions`,
//! `log.PurgeLogs`). The state implements it (see [`crate::state::Store`]).

use crate::execution::State;
use crate::plan::Level;

/// One recorded log line, with its task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub task_id: Option<String>,
    pub task_run_id: Option<String>,
    pub level: String,
    pub message: String,
    pub at_ms: u64,
}

/// Which executions `PurgeExecutions` removes: ended ones, started in `[start_ms, end_ms)`, in
/// one of `states` (any when empty), never `keep` (the execution purging).
#[derive(Debug, Clone)]
pub struct ExecutionPurge<'a> {
    pub start_ms: Option<u64>,
    pub end_ms: u64,
    pub states: Vec<State>,
    pub keep: &'a str,
    pub executions: bool,
    pub logs: bool,
    pub storage: bool,
}

/// What a purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub executions: u64,
    pub logs: u64,
    pub files: u64,
}

/// Which log lines `PurgeLogs` removes: written in `[start_ms, end_ms)`, of `execution_id` when
/// given, at one of `levels` (any when empty).
#[derive(Debug, Clone)]
pub struct LogPurge<'a> {
    pub start_ms: Option<u64>,
    pub end_ms: u64,
    pub execution_id: Option<&'a str>,
    pub levels: Vec<Level>,
}

pub trait History: Sync {
    /// An execution's log lines at `min_level` or above, of `task_ids` when not empty, in
    /// order.
    fn fetch_logs(
        &self,
        execution_id: &str,
        min_level: Level,
        task_ids: &[String],
    ) -> Result<Vec<LogLine>, String>;
    fn purge_executions(&self, purge: &ExecutionPurge<'_>) -> Result<Purged, String>;
    /// The number of lines removed.
    fn purge_logs(&self, purge: &LogPurge<'_>) -> Result<u64, String>;
}
