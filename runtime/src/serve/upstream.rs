//! Flow triggers: an execution of one flow of the binary starts when executions of others
//! change state.
//!
//! - Every state an execution takes (RUNNING when it starts or is resumed, PAUSED, and its
//!   end) is recorded in the state in order, and offered to every Flow trigger of the other
//!   flows. Without `preconditions`, the trigger fires when the execution went to one of its
//!   `states` and its `conditions` hold of it: a flow with `states: [RUNNING, PAUSED, SUCCESS]`
//!   that watches one with a Pause fires four times (RUNNING, PAUSED, RUNNING, SUCCESS), as
//!   Kestra's. As in Kestra, the conditions see the upstream execution as `flow`, `execution`,
//!   `outputs` (its tasks' outputs) and `labels`, and `ExecutionOutputs` its flow outputs as
//!   `trigger.outputs`; the execution started reads it as `trigger.*` (`executionId`,
//!   `namespace`, `flowId`, `flowRevision`, `state`, `outputs`, `labels`).
//! - With `preconditions`, it fires when each of its `flows` and `where` entries has been met
//!   by an execution that ended within the time window (and, with `resetOnSuccess`, after the
//!   last firing); the execution completing them is `trigger.*`. The ended executions are read
//!   back from the state, so a restart forgets nothing.
//! - Exactly once: the execution a trigger starts is created in one fsynced commit keyed by the
//!   state change (an `Idempotency-Key` of the trigger's own), and the trigger's position (the
//!   last state change it looked at) is kept in the state with an ordinary commit (a position
//!   lost in a power cut only offers changes again, which their keys make harmless): when
//!   `serve` starts, the changes after it are offered.
//! - A flow's own executions do not fire its Flow triggers (that would loop).

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::{inputs_with, say, Served};
use crate::bundle::{Bundle, Hosted};
use crate::execution::{new_id, now_ms};
use crate::plan::{ExecutionFilter, Filter, FlowTrigger, Preconditions, Trigger, TriggerKind};
use crate::state::{Created, ExecutionRow, StateChange, TriggeredExecution};

/// The most ended executions read back at once (recovery, and one preconditions window).
const MAX_READ_BACK: usize = 10_000;

/// How often the state is looked at for executions other processes ended.
pub const CATCH_UP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// One Flow trigger and the flow it starts.
struct Watcher {
    hosted: Hosted,
    trigger: Trigger,
    upstream: FlowTrigger,
}

/// The binary's Flow triggers.
pub(super) struct FlowTriggers {
    watchers: Vec<Watcher>,
}

impl FlowTriggers {
    pub fn of(bundle: &Bundle) -> FlowTriggers {
        let mut watchers = Vec::new();
        for hosted in &bundle.flows {
            for trigger in &hosted.flow.triggers {
                if let TriggerKind::Flow(upstream) = &trigger.kind {
                    if !trigger.disabled {
                        watchers.push(Watcher {
                            hosted: hosted.clone(),
                            trigger: trigger.clone(),
                            upstream: upstream.clone(),
                        });
                    }
                }
            }
        }
        FlowTriggers { watchers }
    }

    /// Whether the binary has Flow triggers.
    pub fn any(&self) -> bool {
        !self.watchers.is_empty()
    }

    /// Offers each Flow trigger the state changes after its position, oldest first: when
    /// `serve` starts (what happened while it was not running), whenever this process records
    /// one, and every [`CATCH_UP_EVERY`] (what other processes on the state ran: `./bundle run
    /// FLOW`, `restart`). A trigger served for the first time starts from now. One caller at
    /// a time (the loop of [`FlowTriggers::follow`], or `serve`'s start).
    pub fn catch_up(&self, served: &Arc<Served>) {
        let mut positions: Vec<Option<u64>> = self
            .watchers
            .iter()
            .map(|w| match w.position(served) {
                Ok(position) => Some(position),
                Err(e) => {
                    say("ERROR", &format!("trigger `{}`: {e}", w.trigger.id));
                    None
                }
            })
            .collect();
        let Some(mut from) = positions.iter().flatten().min().copied() else {
            return;
        };
        loop {
            let changes = match served.store.changes_after(from, MAX_READ_BACK) {
                Ok(changes) => changes,
                Err(e) => {
                    say("ERROR", &format!("Flow triggers: {e}"));
                    return;
                }
            };
            for change in &changes {
                for (watcher, position) in self.watchers.iter().zip(&mut positions) {
                    if position.is_some_and(|p| change.seq > p) {
                        watcher.offer(served, change);
                        *position = Some(change.seq);
                    }
                }
            }
            match changes.last() {
                Some(last) if changes.len() == MAX_READ_BACK => from = last.seq,
                _ => return,
            }
        }
    }

    /// Catches up until `stop`: at once when this process records a state change, and every
    /// [`CATCH_UP_EVERY`] for other processes'.
    pub async fn follow(&self, served: &Arc<Served>, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            let changed = std::pin::pin!(served.store.changed().notified());
            let slept = std::pin::pin!(super::sleep_or_stop(CATCH_UP_EVERY, &mut stop));
            if let futures_util::future::Either::Right((true, _)) =
                futures_util::future::select(changed, slept).await
            {
                return;
            }
            self.catch_up(served);
        }
    }
}

impl Watcher {
    /// The last state change this trigger looked at. A trigger kept the end time of the last
    /// ended execution it looked at before state changes were recorded: it goes on from the
    /// change recorded then.
    fn position(&self, served: &Served) -> Result<u64, crate::state::StateError> {
        let store = &served.store;
        let flow_id = &self.hosted.flow.id;
        let marker = change_marker(&self.trigger.id);
        if let Some(seq) = store.trigger_state(flow_id, &marker)?.last_tick_ms {
            return Ok(seq);
        }
        let seq = match store.trigger_state(flow_id, &self.trigger.id)?.last_tick_ms {
            Some(ended_ms) => store.change_at(ended_ms)?,
            None => store.last_change()?,
        };
        store.advance_trigger_positions(flow_id, &[(&marker, seq)])?;
        Ok(seq)
    }

    /// Looks at one state change: fires when it completes what the trigger waits for; the
    /// position moves past it either way.
    fn offer(&self, served: &Arc<Served>, change: &StateChange) {
        let flow = &self.hosted.flow;
        let id = &self.trigger.id;
        let row = &change.execution;
        if !(row.namespace == flow.namespace && row.flow_id == flow.id) {
            // The execution as it was at the change: its flow outputs and end come with its end.
            let mut row = row.clone();
            row.state = change.state;
            if !change.state.is_terminal() {
                row.outputs = None;
                row.ended_ms = None;
            }
            let disabled = served
                .store
                .trigger_state(&flow.id, id)
                .is_ok_and(|s| s.disabled);
            if !disabled {
                match self.fires(served, &row) {
                    Ok(Some(variables)) => self.fire(served, &row, change.seq, variables),
                    Ok(None) => {}
                    Err(e) => say(
                        "WARN",
                        &format!("trigger `{id}`: execution {} not considered: {e}", row.id),
                    ),
                }
            }
        }
        let marker = change_marker(id);
        if let Err(e) = served
            .store
            .advance_trigger_positions(&flow.id, &[(id, change.at_ms), (&marker, change.seq)])
        {
            say("ERROR", &format!("trigger `{id}`: {e}"));
        }
    }

    /// `trigger.*` when `row` fires the trigger.
    fn fires(&self, served: &Served, row: &ExecutionRow) -> Result<Option<Value>, String> {
        let variables = variables(served, row);
        let host = self.hosted.host.as_ref();
        let states = &self.upstream.states;
        let holds = |row: &ExecutionRow| {
            let vars = condition_vars(served, row);
            crate::schedule::conditions_hold_in(&self.trigger.conditions, &vars, host)
        };
        let Some(preconditions) = &self.upstream.preconditions else {
            let fires = states.iter().any(|s| s == row.state.as_str()) && holds(row)?;
            return Ok(fires.then_some(variables));
        };
        // Preconditions are met by ended executions (`check` warns of other states there).
        if !row.state.is_terminal() || !holds(row)? {
            return Ok(None);
        }
        // Only an execution that meets one of them can complete them.
        let meets = |row: &ExecutionRow| -> Result<Vec<bool>, String> {
            let mut met: Vec<bool> = preconditions
                .flows
                .iter()
                .map(|f| upstream_flow_met(f, states, row))
                .collect();
            if !preconditions.filters.is_empty() || !preconditions.conditions.is_empty() {
                let vars = condition_vars(served, row);
                // A MultipleCondition's: the trigger's other conditions hold of the execution
                // too.
                let counts = preconditions.conditions.is_empty()
                    || crate::schedule::conditions_hold_in(&self.trigger.conditions, &vars, host)
                        .unwrap_or(false);
                for condition in &preconditions.conditions {
                    met.push(
                        counts
                            && crate::schedule::conditions_hold_in(
                                std::slice::from_ref(condition),
                                &vars,
                                host,
                            )
                            .unwrap_or(false),
                    );
                }
                for filter in &preconditions.filters {
                    // A filter that cannot be evaluated for this execution is not met by it.
                    met.push(filter_met(filter, row, &vars, host).unwrap_or(false));
                }
            }
            Ok(met)
        };
        let mut met = meets(row)?;
        if !met.iter().any(|m| *m) {
            return Ok(None);
        }
        let since = self.window_start(served, preconditions);
        let earlier = served
            .store
            .ended_after(since, MAX_READ_BACK)
            .map_err(|e| e.to_string())?;
        for other in earlier.iter().filter(|o| o.id != row.id) {
            if met.iter().all(|m| *m) {
                break;
            }
            if other.ended_ms > row.ended_ms {
                continue;
            }
            for (slot, now) in met.iter_mut().zip(meets(other)?) {
                *slot |= now;
            }
        }
        Ok(met.iter().all(|m| *m).then_some(variables))
    }

    /// The oldest end that counts: the window's start, or the last firing when later (with
    /// `resetOnSuccess`).
    fn window_start(&self, served: &Served, preconditions: &Preconditions) -> u64 {
        let window = u64::try_from(preconditions.window.as_millis()).unwrap_or(u64::MAX);
        let start = now_ms().saturating_sub(window);
        if !preconditions.reset_on_success {
            return start;
        }
        let fired = served
            .store
            .trigger_state(&self.hosted.flow.id, &fired_marker(&self.trigger.id))
            .ok()
            .and_then(|s| s.last_tick_ms)
            .unwrap_or(0);
        start.max(fired)
    }

    /// Starts the trigger's execution for `row` as state change `seq` left it, once: a second
    /// offer of the same change finds the first one by its key.
    fn fire(&self, served: &Arc<Served>, row: &ExecutionRow, seq: u64, variables: Value) {
        let flow = &self.hosted.flow;
        let trigger = &self.trigger;
        let mut vars = condition_vars(served, row);
        vars.insert("trigger".into(), variables.clone());
        let inputs = match inputs_with(&self.hosted, trigger, &vars) {
            Ok(inputs) => inputs,
            Err(e) => {
                say(
                    "WARN",
                    &format!(
                        "trigger `{}`: execution {} went {} but its inputs are not valid: {e}",
                        trigger.id,
                        row.id,
                        row.state.as_str()
                    ),
                );
                return;
            }
        };
        let id = new_id();
        let start = TriggeredExecution {
            id: id.clone(),
            inputs: inputs.clone(),
            labels: trigger.execution_labels(),
            trigger: variables.clone(),
        };
        let key = format!("flow-trigger:{}:{}:{seq}", trigger.id, row.id);
        match served.store.create_requested(flow, &start, Some(&key)) {
            Ok(Created::New) => {}
            Ok(Created::Existing(_)) => return,
            Err(e) => {
                say("ERROR", &format!("trigger `{}`: {e}", trigger.id));
                return;
            }
        }
        if self.upstream.preconditions.is_some() {
            let marker = fired_marker(&trigger.id);
            if let Err(e) = served
                .store
                .handle_tick(flow, &marker, row.ended_ms.unwrap_or(0), None)
            {
                say("ERROR", &format!("trigger `{}`: {e}", trigger.id));
            }
        }
        say(
            "INFO",
            &format!(
                "trigger `{}`: execution {} of {} went {}; started execution {id}",
                trigger.id,
                row.id,
                row.flow_id,
                row.state.as_str()
            ),
        );
        served.start_created(&self.hosted, trigger, id, inputs, variables);
    }
}

/// Where a Flow trigger keeps the last state change it looked at: the position of a marker
/// beside it (its own position is the time of that change, as `triggers` shows it).
fn change_marker(trigger_id: &str) -> String {
    format!("{trigger_id}/change")
}

/// Where a Flow trigger with preconditions keeps its last firing: the position of a marker
/// beside it (`/` cannot be in a trigger id).
fn fired_marker(trigger_id: &str) -> String {
    format!("{trigger_id}/fired")
}

/// `trigger.*` for an execution of the binary.
fn variables(served: &Served, row: &ExecutionRow) -> Value {
    let revision = served
        .hosted(&row.namespace, &row.flow_id)
        .and_then(|h| served.store.revision(&h.flow.source_hash).ok());
    variables_of(row, revision)
}

/// What a Flow trigger's conditions see of the upstream execution `row`.
fn condition_vars(served: &Served, row: &ExecutionRow) -> Map<String, Value> {
    let mut outputs = Map::new();
    for run in served.store.task_runs(&row.id).unwrap_or_default() {
        if let (Some(value), None) = (&run.outputs, &run.value) {
            outputs.insert(run.task_id.clone(), value.clone());
        }
    }
    let flow_outputs = row
        .outputs
        .clone()
        .unwrap_or_else(|| Value::Object(Map::new()));
    let mut vars = Map::new();
    vars.insert(
        "flow".into(),
        json!({"id": row.flow_id, "namespace": row.namespace, "revision": row.revision}),
    );
    vars.insert(
        "execution".into(),
        json!({
            "id": row.id,
            "state": row.state.as_str(),
            "startDate": crate::formats::iso_instant(row.started_ms),
            "originalId": row.original_id.clone().unwrap_or_else(|| row.id.clone()),
        }),
    );
    vars.insert("outputs".into(), Value::Object(outputs));
    vars.insert("labels".into(), Value::Object(row.labels.clone()));
    vars.insert("trigger".into(), json!({ "outputs": flow_outputs }));
    vars
}

fn variables_of(row: &ExecutionRow, revision: Option<i64>) -> Value {
    json!({
        "executionId": row.id,
        "namespace": row.namespace,
        "flowId": row.flow_id,
        "flowRevision": revision.unwrap_or(row.revision),
        "state": row.state.as_str(),
        "outputs": row.outputs.clone().unwrap_or_else(|| Value::Object(Map::new())),
        "labels": row.labels,
    })
}

/// `preconditions.flows[]` met by `row`.
fn upstream_flow_met(
    wanted: &crate::plan::UpstreamFlow,
    states: &[String],
    row: &ExecutionRow,
) -> bool {
    let states = if wanted.states.is_empty() {
        states
    } else {
        &wanted.states
    };
    row.namespace == wanted.namespace
        && wanted.flow_id.as_ref().is_none_or(|f| *f == row.flow_id)
        && states.iter().any(|s| s == row.state.as_str())
        && wanted.labels.iter().all(|(k, v)| {
            row.labels
                .get(k)
                .is_some_and(|have| crate::expr::value::to_display_string(have) == *v)
        })
}

/// `preconditions.where[]` met by `row` (`vars`: what its conditions see of it).
fn filter_met(
    filter: &ExecutionFilter,
    row: &ExecutionRow,
    vars: &Map<String, Value>,
    host: &dyn crate::expr::Host,
) -> Result<bool, String> {
    // In order, stopping at the first that decides (an expression about another flow's
    // labels is not rendered for an execution whose flow id already failed).
    for one in &filter.filters {
        let met = one_filter(one, row, vars, host)?;
        if met == filter.any {
            return Ok(met);
        }
    }
    Ok(!filter.any)
}

fn one_filter(
    filter: &Filter,
    row: &ExecutionRow,
    vars: &Map<String, Value>,
    host: &dyn crate::expr::Host,
) -> Result<bool, String> {
    let value = match &filter.value {
        Some(prop) => Some(crate::expr::value::to_display_string(
            &prop.render(vars, host).map_err(|e| e.to_string())?,
        )),
        None => None,
    };
    let field: Option<String> = match filter.field.as_str() {
        "FLOW_ID" => Some(row.flow_id.clone()),
        "NAMESPACE" => Some(row.namespace.clone()),
        "STATE" => Some(row.state.as_str().to_string()),
        // The value is the expression, rendered above.
        _ => value.clone(),
    };
    let wanted = value.unwrap_or_default();
    let field_text = field.clone().unwrap_or_default();
    Ok(match filter.op.as_str() {
        "EQUAL_TO" => field_text == wanted,
        "NOT_EQUAL_TO" => field_text != wanted,
        "IN" => filter.values.contains(&field_text),
        "NOT_IN" => !filter.values.contains(&field_text),
        "IS_TRUE" => field_text.trim() == "true",
        "IS_FALSE" => field_text.trim() == "false",
        "IS_NULL" => field.is_none_or(|f| f.is_empty()),
        "IS_NOT_NULL" => field.is_some_and(|f| !f.is_empty()),
        "STARTS_WITH" => field_text.starts_with(&wanted),
        "ENDS_WITH" => field_text.ends_with(&wanted),
        "CONTAINS" => field_text.contains(&wanted),
        "REGEX" => regex::Regex::new(&wanted)
            .map_err(|e| format!("REGEX `{wanted}`: {e}"))?
            .is_match(&field_text),
        other => return Err(format!("filter type `{other}` is not known")),
    })
}
