//! One execution's life, shared by every way an execution starts (`run` today; `serve`'s
//! triggers, subflows and `include_flow!` next): inputs resolved and validated → a concurrency
//! slot (given back by a guard on every path) → execute → record → a retry as a new execution
//! when the flow's `retry` says so.
//!
//! [`launch`] is an `async fn` that starts no runtime of its own: given owned (`Arc`) parts and
//! a `Send` event handler, its future is `Send + 'static`, so a multi-threaded host can spawn it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::execution::{new_id, now_ms, State, Summary};
use crate::executor::{self, KillSignal, Launch, Prior, Recorder};
use crate::expr::Host;
use crate::inputs::{self, InputError};
use crate::plan::{ConcurrencyBehavior, Flow};
use crate::state::{StateError, Store};

/// What an execution is started with: raw input values (as the command line or a request
/// gives them) and labels.
#[derive(Debug, Default, Clone)]
pub struct LaunchRequest {
    /// `ID=VALUE` pairs; a repeated id adds values to a list input.
    pub input_pairs: Vec<(String, String)>,
    /// A JSON object of input values (the pairs win over it).
    pub input_values: Option<Map<String, Value>>,
    pub labels: Map<String, Value>,
    /// Print log lines to stderr.
    pub echo_logs: bool,
    /// Kills the execution (and stops a chain of retries, or a wait for a concurrency slot)
    /// when it turns `true`.
    pub kill: Option<KillSignal>,
    /// Take up a recorded execution (restart, resume, replay) instead of starting anew: the
    /// input pairs and values above are then not read.
    pub take_up: Option<TakeUp>,
    /// A new execution already recorded CREATED under this id (a trigger's tick: see
    /// [`crate::state::Store::handle_tick`]), with these validated inputs.
    pub created: Option<(String, Map<String, Value>)>,
    /// The `trigger` variable (a trigger started it, or the execution taken up).
    pub trigger: Option<Value>,
    /// Starts the executions its `Subflow` tasks ask for (the flows of the same binary).
    pub subflows: Option<SubflowLauncher>,
}

/// Starts executions of the flows hosted beside the running one (the same binary): what a
/// `Subflow` task calls. `run` launches them in its own process; `serve` launches them as it
/// launches a trigger's executions (its Flow triggers then see them end too).
pub trait Subflows: Send + Sync {
    /// The hosted flow `namespace.flow_id`, if this binary has it.
    fn flow(&self, namespace: &str, flow_id: &str) -> Option<Arc<Flow>>;
    /// Starts `request` (a new execution, its inputs validated: `created`) on `flow` in the
    /// background; the future resolves to its last summary when it ends (`None` when it could
    /// not run). Dropping the future does not stop the execution: its `kill` does.
    fn start(&self, flow: Arc<Flow>, request: LaunchRequest)
        -> BoxFuture<'static, Option<Summary>>;
}

pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// A shared [`Subflows`] (a newtype so that requests stay `Debug`).
#[derive(Clone)]
pub struct SubflowLauncher(pub Arc<dyn Subflows>);

impl std::fmt::Debug for SubflowLauncher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubflowLauncher")
    }
}

/// Launches subflow executions in this process, beside the execution that asks (`run`,
/// `resume`, `restart`, `replay`, `backfill`): the caller waits for [`InProcess::all_ended`]
/// before it exits, so that children not waited for are not cut off.
#[derive(Clone)]
pub struct InProcess {
    flows: Arc<Vec<crate::bundle::Hosted>>,
    store: Arc<Store>,
    /// Kills every child too (the command's signal).
    kill: Option<KillSignal>,
    /// Children started and not ended.
    running: Arc<tokio::sync::watch::Sender<usize>>,
}

impl InProcess {
    pub fn new(
        bundle: &crate::bundle::Bundle,
        store: &Arc<Store>,
        kill: Option<KillSignal>,
    ) -> InProcess {
        InProcess {
            flows: Arc::new(bundle.flows.clone()),
            store: Arc::clone(store),
            kill,
            running: Arc::new(tokio::sync::watch::channel(0).0),
        }
    }

    /// What a request carries to start its subflows here.
    pub fn launcher(&self) -> SubflowLauncher {
        SubflowLauncher(Arc::new(self.clone()))
    }

    /// Resolves once every child started here has ended.
    pub async fn all_ended(&self) {
        let mut running = self.running.subscribe();
        let _ = running.wait_for(|n| *n == 0).await;
    }
}

impl Subflows for InProcess {
    fn flow(&self, namespace: &str, flow_id: &str) -> Option<Arc<Flow>> {
        self.flows
            .iter()
            .find(|h| h.flow.namespace == namespace && h.flow.id == flow_id)
            .map(|h| Arc::clone(&h.flow))
    }

    fn start(
        &self,
        flow: Arc<Flow>,
        mut request: LaunchRequest,
    ) -> BoxFuture<'static, Option<Summary>> {
        let Some(host) = self
            .flows
            .iter()
            .find(|h| Arc::ptr_eq(&h.flow, &flow))
            .map(|h| Arc::clone(&h.host))
        else {
            return Box::pin(async { None });
        };
        request.kill = match (request.kill.take(), self.kill.clone()) {
            (Some(own), Some(all)) => Some(either_kill(own, all)),
            (own, all) => own.or(all),
        };
        request.subflows = Some(self.launcher());
        if let Err(e) = record_child(&self.store, &flow, &request) {
            eprintln!("error: a subflow execution could not be recorded: {e}");
            return Box::pin(async { None });
        }
        self.running.send_modify(|n| *n += 1);
        let running = Arc::clone(&self.running);
        let store = Arc::clone(&self.store);
        let (ended, summary) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let result = launch(flow, request, host, store, |_| {}).await;
            running.send_modify(|n| *n = n.saturating_sub(1));
            match result {
                Ok(summary) => {
                    let _ = ended.send(summary);
                }
                Err(e) => eprintln!("error: a subflow execution could not start: {e}"),
            }
        });
        Box::pin(async move { summary.await.ok() })
    }
}

/// A subflow's execution recorded CREATED with its `trigger` (the parent) before it starts, so
/// that `executions` shows what started it and a restart has it.
pub fn record_child(store: &Store, flow: &Flow, request: &LaunchRequest) -> Result<(), StateError> {
    let Some((id, inputs)) = &request.created else {
        return Ok(());
    };
    let start = crate::state::TriggeredExecution {
        id: id.clone(),
        inputs: inputs.clone(),
        labels: request.labels.clone(),
        trigger: request.trigger.clone().unwrap_or(Value::Null),
    };
    store.create_requested(flow, &start, None).map(drop)
}

/// A kill signal that turns `true` when either `a` or `b` does (a closed one never does).
pub fn either_kill(a: KillSignal, b: KillSignal) -> KillSignal {
    let (tx, rx) = tokio::sync::watch::channel(*a.borrow() || *b.borrow());
    tokio::spawn(async move {
        let (mut a, mut b) = (a, b);
        let first = std::pin::pin!(killed_by(&mut a));
        let second = std::pin::pin!(killed_by(&mut b));
        let closed = std::pin::pin!(tx.closed());
        let either = futures_util::future::select(first, second);
        if let futures_util::future::Either::Left(_) =
            futures_util::future::select(either, closed).await
        {
            let _ = tx.send(true);
        }
    });
    rx
}

/// Resolves when `kill` turns `true`; never when its sender is gone without doing so.
pub async fn killed_by(kill: &mut KillSignal) {
    if kill.wait_for(|k| *k).await.is_err() {
        std::future::pending::<()>().await;
    }
}

impl LaunchRequest {
    /// A request that takes up the recorded execution `row`: the same execution (`restart`,
    /// `resume`) or a new one from it (`replay`).
    pub fn taking_up(
        row: &crate::state::ExecutionRow,
        store: &Store,
        same_execution: bool,
    ) -> Result<LaunchRequest, StateError> {
        let task_runs = store.task_runs(&row.id)?;
        Ok(LaunchRequest {
            labels: row.labels.clone(),
            echo_logs: true,
            take_up: Some(TakeUp {
                id: if same_execution {
                    row.id.clone()
                } else {
                    new_id()
                },
                inputs: row.inputs.clone(),
                prior: Prior {
                    same_execution,
                    task_runs,
                    started_ms: row.started_ms,
                    original_id: row.original_id.clone().unwrap_or_else(|| row.id.clone()),
                    resume_inputs: None,
                },
            }),
            trigger: row.trigger.clone(),
            ..LaunchRequest::default()
        })
    }
}

/// A recorded execution taken up again (see [`Prior`]).
#[derive(Debug, Clone)]
pub struct TakeUp {
    /// The id it runs under: the same for a restart or resume, a new one for a replay.
    pub id: String,
    /// The inputs as recorded (already validated when it first started).
    pub inputs: Map<String, Value>,
    pub prior: Prior,
}

/// What happens along the way, for the caller to show.
#[derive(Debug)]
pub enum LaunchEvent<'a> {
    /// The flow's concurrency limit is reached and the execution waits for a slot.
    Queued { limit: u32 },
    /// The concurrency limit is reached and `behavior` refuses the execution (its summary
    /// follows as `Ended`).
    Refused { limit: u32, state: State },
    /// An execution ended (a chain of retried executions has several).
    Ended(&'a Summary),
    /// The state could not record everything; the execution ran.
    Unrecorded(String),
    /// The execution failed and is retried as a new one after `wait`.
    Retrying { id: &'a str, wait: Duration },
}

/// Why no execution ran.
#[derive(Debug)]
pub enum LaunchError {
    /// The inputs are wrong: every problem, each naming its input.
    Inputs(Vec<InputError>),
    State(StateError),
    /// A FILE input could not be copied into internal storage.
    Files(String),
}

impl std::fmt::Display for LaunchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LaunchError::Inputs(errors) => {
                let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
                f.write_str(&lines.join("\n"))
            }
            LaunchError::State(e) => write!(f, "{e}"),
            LaunchError::Files(e) => f.write_str(e),
        }
    }
}

/// How often a queued execution looks for a free slot.
const QUEUE_POLL: Duration = Duration::from_millis(200);

/// How often a running execution looks for a kill asked for from another process (`kill ID`)
/// and writes the log lines of tasks still running (`logs --follow`).
pub const KILL_POLL: Duration = Duration::from_millis(250);

/// Runs one execution of `flow` (and the new executions its retry policy asks for) and returns
/// the last summary. Events are reported to `on_event` as they happen.
pub async fn launch(
    flow: Arc<Flow>,
    request: LaunchRequest,
    host: Arc<dyn Host + Send + Sync>,
    store: Arc<Store>,
    mut on_event: impl FnMut(LaunchEvent<'_>),
) -> Result<Summary, LaunchError> {
    let (values, take_up) = match (request.take_up, request.created.as_ref()) {
        (Some(take_up), _) => (take_up.inputs.clone(), Some(take_up)),
        (None, Some((_, inputs))) => (inputs.clone(), None),
        (None, None) => (
            inputs::resolve(&flow, request.input_pairs, request.input_values)
                .map_err(LaunchError::Inputs)?,
            None,
        ),
    };
    let revision = store
        .revision(&flow.source_hash)
        .map_err(LaunchError::State)?;
    // An execution already recorded (taken up, or created by a trigger or a request) keeps its
    // id when the concurrency limit refuses it: its row ends, no other row is made.
    let recorded_id: Option<String> = take_up
        .as_ref()
        .map(|t| t.id.clone())
        .or_else(|| request.created.as_ref().map(|(id, _)| id.clone()));

    // Flow-level `concurrency`: a slot among the runs sharing this state, or the behavior says
    // what to do instead.
    let _slot = match flow.concurrency.filter(|c| c.limit > 0) {
        None => None,
        Some(concurrency) => {
            let mut queued = false;
            loop {
                if let Some(slot) =
                    Slot::acquire(&store, &flow, concurrency.limit).map_err(LaunchError::State)?
                {
                    break Some(slot);
                }
                match concurrency.behavior {
                    ConcurrencyBehavior::Queue
                        if request.kill.as_ref().is_some_and(|k| *k.borrow()) =>
                    {
                        // Killed while waiting for a slot: it never started.
                        let summary = record_refused(
                            &store,
                            &flow,
                            &values,
                            State::Killed,
                            recorded_id.as_deref(),
                        );
                        on_event(LaunchEvent::Ended(&summary));
                        return Ok(summary);
                    }
                    ConcurrencyBehavior::Queue => {
                        if !queued {
                            on_event(LaunchEvent::Queued {
                                limit: concurrency.limit,
                            });
                            queued = true;
                        }
                        tokio::time::sleep(QUEUE_POLL).await;
                    }
                    ConcurrencyBehavior::Cancel | ConcurrencyBehavior::Fail => {
                        let state = if concurrency.behavior == ConcurrencyBehavior::Cancel {
                            State::Cancelled
                        } else {
                            State::Failed
                        };
                        on_event(LaunchEvent::Refused {
                            limit: concurrency.limit,
                            state,
                        });
                        let summary =
                            record_refused(&store, &flow, &values, state, recorded_id.as_deref());
                        on_event(LaunchEvent::Ended(&summary));
                        return Ok(summary);
                    }
                }
            }
        }
    };

    // `retry: {behavior: CREATE_NEW_EXECUTION}`: a failed execution ends RETRIED and a new one
    // starts after the retry's wait; the retries share the first one's correlation id.
    let chain_start = Instant::now();
    let mut launch = Launch::new(values, request.labels, request.echo_logs);
    launch.revision = revision;
    launch.trigger = request.trigger;
    launch.subflows = request.subflows.clone();
    match (take_up, request.created) {
        (Some(take_up), _) => {
            launch.id = take_up.id;
            launch.prior = Some(take_up.prior);
        }
        (None, Some((id, _))) => launch.id = id,
        (None, None) => {
            if let Some(storage) = crate::executor::Recorder::storage(store.as_ref()) {
                store_input_files(&flow, &launch.id, &mut launch.inputs, storage)
                    .map_err(LaunchError::Files)?;
            }
        }
    }
    loop {
        let next = Launch {
            id: new_id(),
            prior: None,
            inputs: launch.inputs.clone(),
            labels: launch.labels.clone(),
            kill: None,
            trigger: launch.trigger.clone(),
            subflows: launch.subflows.clone(),
            ..launch
        };
        let summary = watched(&flow, launch, host.as_ref(), &store, request.kill.clone()).await;
        if let Some(problem) = store.take_error() {
            on_event(LaunchEvent::Unrecorded(problem));
        }
        on_event(LaunchEvent::Ended(&summary));
        let Some(wait) = summary.retry_after else {
            return Ok(summary);
        };
        if request.kill.as_ref().is_some_and(|k| *k.borrow()) {
            return Ok(summary);
        }
        on_event(LaunchEvent::Retrying {
            id: &summary.id,
            wait,
        });
        tokio::time::sleep(wait).await;
        launch = Launch {
            attempt: next.attempt + 1,
            chain_elapsed: chain_start.elapsed(),
            ..next
        };
        launch
            .labels
            .entry("system.correlationId".to_string())
            .or_insert_with(|| Value::String(summary.id.clone()));
    }
}

/// An execution that never ran (the concurrency limit said no, or it was killed waiting),
/// recorded like any execution, so that `executions` shows it with its state.
fn record_refused(
    store: &Store,
    flow: &Flow,
    inputs: &Map<String, Value>,
    state: State,
    recorded_id: Option<&str>,
) -> Summary {
    let mut summary = Summary::refused(flow, state);
    if let Some(id) = recorded_id {
        summary.id = id.to_string();
    }
    let recorder: &dyn Recorder = store;
    recorder.execution_started(&summary.id, flow, inputs, now_ms(), &summary.id);
    recorder.execution_ended(&summary);
    summary
}

/// FILE inputs are copied into the execution's internal storage (streaming), and their values
/// become the `kestra:///` URIs of the copies, as Kestra uploads them: tasks, restarts and
/// replays read the copy, whatever happens to the local file.
pub fn store_input_files(
    flow: &Flow,
    execution_id: &str,
    values: &mut Map<String, Value>,
    storage: &crate::storage::Storage,
) -> Result<(), String> {
    use crate::plan::InputType;
    use crate::storage::Storage;
    for input in flow.inputs.iter().filter(|i| i.ty == InputType::File) {
        let Some(slot) = inputs::value_mut(values, &input.id) else {
            continue;
        };
        let Value::String(local) = slot else {
            continue;
        };
        let Some(encoded) = local.strip_prefix("file://") else {
            continue;
        };
        let path = percent_encoding::percent_decode_str(encoded)
            .decode_utf8_lossy()
            .to_string();
        let name = std::path::Path::new(&path)
            .file_name()
            .map_or_else(|| "file".to_string(), |n| n.to_string_lossy().to_string());
        let uri = Storage::input_file(&flow.namespace, &flow.id, execution_id, &input.id, &name);
        let mut file = std::fs::File::open(&path)
            .map_err(|e| format!("input `{}`: cannot read {path}: {e}", input.id))?;
        storage
            .put(&uri, &mut file)
            .map_err(|e| format!("input `{}`: {e}", input.id))?;
        *slot = Value::String(uri);
    }
    Ok(())
}

/// One execution, killed when `kill` turns `true` or when another process asks the state to
/// kill it; meanwhile the log lines of running tasks are written every [`KILL_POLL`].
async fn watched(
    flow: &Flow,
    mut launch: Launch,
    host: &(dyn Host + Sync),
    store: &Store,
    kill: Option<KillSignal>,
) -> Summary {
    let (killer, killed) = tokio::sync::watch::channel(false);
    launch.kill = Some(killed);
    let id = launch.id.clone();
    let execution = std::pin::pin!(executor::execute(flow, launch, host, store));
    let watch = std::pin::pin!(async {
        let mut kill = kill;
        loop {
            let tick = std::pin::pin!(tokio::time::sleep(KILL_POLL));
            let signal = std::pin::pin!(async {
                match kill.as_mut() {
                    Some(kill) => killed_by(kill).await,
                    None => std::future::pending().await,
                }
            });
            let signalled = matches!(
                futures_util::future::select(tick, signal).await,
                futures_util::future::Either::Right(_)
            );
            store.flush_pending_logs();
            if signalled || store.kill_requested(&id) {
                let _ = killer.send(true);
                // The execution ends by itself now.
                return std::future::pending::<std::convert::Infallible>().await;
            }
        }
    });
    match futures_util::future::select(execution, watch).await {
        futures_util::future::Either::Left((summary, _)) => summary,
        futures_util::future::Either::Right((never, _)) => match never {},
    }
}

/// One of the flow's concurrency slots, given back when dropped (on every path out of
/// [`launch`], early returns and errors included).
struct Slot {
    store: Arc<Store>,
    id: i64,
}

impl Slot {
    fn acquire(store: &Arc<Store>, flow: &Flow, limit: u32) -> Result<Option<Slot>, StateError> {
        Ok(store.acquire_slot(flow, limit)?.map(|id| Slot {
            store: Arc::clone(store),
            id,
        }))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.store.release_slot(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_static<F: std::future::Future + Send + 'static>(_: &F) {}

    /// A host program's multi-threaded runtime can spawn a launch: the future is `Send` and
    /// owns what it needs.
    #[test]
    fn the_launch_future_is_send_and_static() {
        let flow = Arc::new(Flow::new("f", "n"));
        let dir = std::env::temp_dir().join(format!("kflow-launch-{}", std::process::id()));
        let store = Arc::new(Store::open(&dir).unwrap());
        let future = launch(
            flow,
            LaunchRequest::default(),
            Arc::new(crate::expr::EnvHost),
            store,
            |_| {},
        );
        assert_send_static(&future);
        let summary = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(future)
            .unwrap();
        assert_eq!(summary.state, State::Success);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// An execution refused by the flow's `concurrency` is recorded with its state, under the
    /// id that was printed.
    #[test]
    fn refused_executions_are_recorded() {
        let mut flow = Flow::new("limited", "n");
        flow.concurrency = Some(crate::plan::Concurrency {
            limit: 1,
            behavior: ConcurrencyBehavior::Fail,
        });
        let flow = Arc::new(flow);
        let dir = std::env::temp_dir().join(format!("kflow-refused-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Arc::new(Store::open(&dir).unwrap());
        // This process holds the only slot.
        assert!(store.acquire_slot(&flow, 1).unwrap().is_some());
        let mut refused = false;
        let summary = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(launch(
                flow,
                LaunchRequest::default(),
                Arc::new(crate::expr::EnvHost),
                Arc::clone(&store),
                |event| refused |= matches!(event, LaunchEvent::Refused { .. }),
            ))
            .unwrap();
        assert!(refused);
        assert_eq!(summary.state, State::Failed);
        let rows = store.executions(10).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].id, summary.id);
        assert_eq!(rows[0].state, State::Failed);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
