//! What can be done to a recorded execution from outside it: restart, resume, kill. The
//! command line (`restart`, `resume`, `kill`) and `serve`'s REST API make the same checks and
//! the same records through these.

use serde_json::{Map, Value};

use crate::execution::State;
use crate::inputs;
use crate::launch::LaunchRequest;
use crate::plan::{Flow, TaskKind};
use crate::state::{ExecutionRow, Store};

/// Why an action was not taken.
#[derive(Debug)]
pub enum Refused {
    /// The execution is not in a state that allows it (the message says which would).
    State(String),
    /// The values given are not valid (one message each).
    Invalid(Vec<String>),
    /// The state could not be read or written.
    Failed(String),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::State(m) | Refused::Failed(m) => f.write_str(m),
            Refused::Invalid(errors) => f.write_str(&errors.join("; ")),
        }
    }
}

fn failed(e: &impl ToString) -> Refused {
    Refused::Failed(e.to_string())
}

/// A FAILED or KILLED execution runs again as itself, keeping what succeeded (Kestra's
/// restart); recorded as a `restart` action.
pub fn restart(store: &Store, row: &ExecutionRow) -> Result<LaunchRequest, Refused> {
    if !row.state.is_failure() {
        return Err(Refused::State(format!(
            "execution {} is {}: only a FAILED or KILLED execution can be restarted{}",
            row.id,
            row.state.as_str(),
            if row.state.is_terminal() {
                " (`replay` runs any ended one again as a new execution)"
            } else {
                ""
            }
        )));
    }
    let mut request = LaunchRequest::taking_up(row, store, true).map_err(|e| failed(&e))?;
    // As Kestra marks a restarted execution.
    request
        .labels
        .insert("system.restarted".into(), Value::String("true".into()));
    store
        .record_action(&row.id, "restart", "")
        .map_err(|e| failed(&e))?;
    Ok(request)
}

/// A PAUSED execution continues after its Pause with the `onResume` inputs given (as
/// `ID=VALUE` pairs and a JSON object, validated as flow inputs are); recorded as `resume`.
pub fn resume(
    flow: &Flow,
    store: &Store,
    row: &ExecutionRow,
    pairs: Vec<(String, String)>,
    values: Option<Map<String, Value>>,
) -> Result<LaunchRequest, Refused> {
    if row.state != State::Paused {
        return Err(Refused::State(format!(
            "execution {} is {}, not PAUSED: only a paused execution can be resumed{}",
            row.id,
            row.state.as_str(),
            if row.state.is_failure() {
                " (`restart` runs a failed or killed one again)"
            } else {
                ""
            }
        )));
    }
    let mut request = LaunchRequest::taking_up(row, store, true).map_err(|e| failed(&e))?;
    let Some(take_up) = request.take_up.as_mut() else {
        return Err(Refused::Failed("nothing to resume".into()));
    };
    // The inputs of the Pause that waits (the first, if branches paused at several).
    let on_resume = take_up
        .prior
        .task_runs
        .iter()
        .find(|r| r.state == State::Paused)
        .and_then(|r| flow.find_task(&r.task_id))
        .map(|task| match &task.kind {
            TaskKind::Pause { on_resume, .. } => on_resume.clone(),
            _ => Vec::new(),
        })
        .unwrap_or_default();
    let mut declared = Flow::new(&flow.id, &flow.namespace);
    declared.inputs = on_resume;
    let values = inputs::resolve(&declared, pairs, values).map_err(|errors| {
        Refused::Invalid(errors.iter().map(|e| format!("onResume: {e}")).collect())
    })?;
    let names: Vec<&str> = values.keys().map(String::as_str).collect();
    store
        .record_action(&row.id, "resume", &format!("inputs: {}", names.join(", ")))
        .map_err(|e| failed(&e))?;
    take_up.prior.resume_inputs = Some(values);
    Ok(request)
}

/// What [`kill`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Kill {
    /// The process running it was asked to kill it (it records KILLED when it has).
    Asked,
    /// No process runs it: it was recorded KILLED here.
    Ended,
}

/// Kills an execution that has not ended; recorded as a `kill` action.
pub fn kill(store: &Store, row: &ExecutionRow) -> Result<Kill, Refused> {
    if row.state.is_terminal() {
        return Err(Refused::State(format!(
            "execution {} has already ended {}",
            row.id,
            row.state.as_str()
        )));
    }
    if store.running_alive(row) {
        store.request_kill(&row.id).map_err(|e| failed(&e))?;
        store
            .record_action(&row.id, "kill", "asked of the running process")
            .map_err(|e| failed(&e))?;
        Ok(Kill::Asked)
    } else {
        store
            .end_unowned(&row.id, State::Killed, "kill", "killed by `kill`")
            .map_err(|e| failed(&e))?;
        Ok(Kill::Ended)
    }
}
