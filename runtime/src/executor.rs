//! The executor: walks a [`Flow`]'s tasks with Kestra's semantics — sequential branches that stop
//! at the first failure, `errors` then `finally`, retries and timeouts per attempt,
//! `allowFailure`/`allowWarning`, `runIf`, concurrent branches, loops whose task runs carry a
//! value — and records every task run, attempt, output and log line through a [`Recorder`].
//!
//! Branches run concurrently as futures of one task (tasks wait on the clock, processes and
//! I/O, not the CPU). The execution's future is `Send`, so a multi-threaded host (a program
//! using `include_flow!`, `serve`) can run it; its shared state sits behind one mutex that is
//! never held across an `await`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::context;
use crate::execution::{new_id, now_ms, Attempt, State, Summary, TaskRun};
use crate::expr::{self, walk, Host};
use crate::formats::iso_instant;
use crate::history::History;
use crate::kv::{KvStore, KvWrite, NoKv};
use crate::lock;
use crate::namespace_files::NamespaceFiles;
use crate::plan::{
    DagNode, DurationProp, Flow, Level, PauseBehavior, Prop, RenderError, Retry, RetryKind, Sla,
    SlaBehavior, SlaCheck, Task, TaskKind,
};
use crate::storage::Storage;
use crate::tasks::{self, TaskContext};
use crate::workdir;
use std::path::Path;

/// The task-run attempts this process runs at once (`serve --max-task-runs`), across all its
/// executions; unlimited when unset.
static TASK_RUN_PLACES: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();

/// Limits the task-run attempts this process runs at once to `places` (once; later calls are
/// ignored).
pub fn limit_task_runs(places: usize) {
    let _ = TASK_RUN_PLACES.set(tokio::sync::Semaphore::new(places.max(1)));
}

/// Where an execution's progress goes: the state store, or nowhere.
pub trait Recorder: Sync {
    fn execution_started(
        &self,
        _id: &str,
        _flow: &Flow,
        _inputs: &Map<String, Value>,
        _started_ms: u64,
        _original_id: &str,
    ) {
    }
    /// A task run was created or changed (state, attempts, outputs).
    fn task_run(&self, _execution_id: &str, _run: &TaskRun) {}
    fn log(
        &self,
        _execution_id: &str,
        _task_run_id: &str,
        _level: Level,
        _message: &str,
        _at_ms: u64,
    ) {
    }
    fn execution_ended(&self, _summary: &Summary) {}
    /// The execution waits (PAUSED: a Pause with a duration) or runs again (RUNNING).
    fn execution_state(&self, _id: &str, _state: State) {}
    /// Why recording failed, once it has (a full disk, a damaged file): the executor then
    /// starts no further task, since nothing may run that is not recorded.
    fn failure(&self) -> Option<String> {
        None
    }
    /// The KV store that lives beside the record (none by default).
    fn kv_store(&self) -> &dyn KvStore {
        &NoKv
    }
    /// The internal storage that lives beside the record (none by default).
    fn storage(&self) -> Option<&Storage> {
        None
    }
    /// The recorded history, for tasks that read or prune it (none by default).
    fn history(&self) -> Option<&dyn History> {
        None
    }
}

/// Records nothing (tests, benchmarks).
pub struct NoRecorder;

impl Recorder for NoRecorder {}

/// What one execution is started with.
pub struct Launch {
    /// The execution's id: a new one, or the one restarted or resumed.
    pub id: String,
    /// The flow's revision in the state (`flow.revision`).
    pub revision: i64,
    /// Task runs recorded before, taken up again (restart, resume, replay).
    pub prior: Option<Prior>,
    pub inputs: Map<String, Value>,
    pub labels: Map<String, Value>,
    /// Print log lines to stderr.
    pub echo_logs: bool,
    /// Which execution of a `retry: {behavior: CREATE_NEW_EXECUTION}` chain this is (1 for the
    /// first), and how long ago the chain's first execution started.
    pub attempt: u32,
    pub chain_elapsed: Duration,
    /// Set to `true` to kill the execution (SIGTERM, `kill`): see [`KillSignal`].
    pub kill: Option<KillSignal>,
    /// The `trigger` variable, when a trigger started the execution.
    pub trigger: Option<Value>,
    /// Starts the executions of `Subflow` tasks.
    pub subflows: Option<crate::launch::SubflowLauncher>,
}

/// Kills an execution when it turns `true`: the running tasks are cancelled (their futures,
/// and with them their timers and processes, dropped), every unfinished task run and the
/// execution are recorded KILLED, and no further task (nor `errors`/`finally`) starts, as
/// Kestra's kill does.
pub type KillSignal = tokio::sync::watch::Receiver<bool>;

/// The task runs of an earlier run that an execution takes up: a task run that succeeded is
/// kept as it is (its outputs are read from it) and its task does not run again; one that did
/// not is run again, as a new attempt of the same task run; flowable task runs are entered
/// again and their children matched the same way. A task run is matched by task id, parent
/// task run and loop value. Tasks of `errors`, `finally` and `afterExecution` branches always
/// run anew.
#[derive(Debug, Clone)]
pub struct Prior {
    /// The same execution continues (`restart`, `resume`: same id, same task-run ids, the
    /// original start) or a new one starts from these (`replay`: new ids).
    pub same_execution: bool,
    pub task_runs: Vec<TaskRun>,
    /// When the execution taken up started.
    pub started_ms: u64,
    /// `execution.originalId`: the first execution of a replay chain.
    pub original_id: String,
    /// `resume`: the values of the paused task's `onResume` inputs.
    pub resume_inputs: Option<Map<String, Value>>,
}

impl Launch {
    /// A first execution.
    pub fn new(inputs: Map<String, Value>, labels: Map<String, Value>, echo_logs: bool) -> Launch {
        Launch {
            id: new_id(),
            revision: 1,
            prior: None,
            inputs,
            labels,
            echo_logs,
            attempt: 1,
            chain_elapsed: Duration::ZERO,
            kill: None,
            trigger: None,
            subflows: None,
        }
    }
}

/// The `labels` variable as Kestra builds it (`Label.toNestedMap`): a dotted key nests, so
/// `labels.system.correlationId` reads `system.correlationId`. A key that would replace a
/// value already there (or nest under one) keeps its flat place.
pub(crate) fn nested_labels(labels: &Map<String, Value>) -> Map<String, Value> {
    let mut nested = Map::new();
    for (key, value) in labels {
        let parts: Vec<&str> = key.split('.').collect();
        let mut at = &mut nested;
        let mut placed = false;
        for (i, part) in parts.iter().enumerate() {
            if i + 1 == parts.len() {
                if !at.get(*part).is_some_and(Value::is_object) {
                    at.insert((*part).to_string(), value.clone());
                    placed = true;
                }
                break;
            }
            let slot = at
                .entry((*part).to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            match slot {
                Value::Object(inner) => at = inner,
                _ => break,
            }
        }
        if !placed {
            nested.insert(key.clone(), value.clone());
        }
    }
    nested
}

/// Why an execution stopped before its phases ended.
enum Stop<'f> {
    Killed,
    Sla(&'f Sla),
}

/// Resolves when `kill` turns `true`; never, when nobody can kill.
async fn killed(kill: Option<KillSignal>) {
    if let Some(mut kill) = kill {
        if kill.wait_for(|k| *k).await.is_ok() {
            return;
        }
    }
    std::future::pending::<()>().await;
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How an attempt ended, when it did not fail.
struct Outcome {
    state: State,
    outputs: Option<Value>,
}

/// Where a task runs: its parent task run, the loop values above it, and its flowable parents
/// as `parent`/`parents` show them.
#[derive(Clone, Default)]
struct Frame {
    parent_run: Option<String>,
    /// Loop values from the outermost loop in, with their iteration index.
    values: Vec<(Value, usize)>,
    /// The flowable task runs above, nearest first: `{taskrun: {value}}`, as Kestra shows them.
    parents: Vec<Value>,
    /// Inside a `WorkingDirectory`: its task run (`workerTaskrun`).
    working_directory: Option<Value>,
    /// Inside a `WorkingDirectory`: the folder its tasks share (`workingDir`).
    working_dir: Option<Arc<str>>,
    /// In an `errors`, `finally` or `afterExecution` branch: nothing is taken up from a prior
    /// run (see [`Prior`]).
    fresh: bool,
}

/// How a prior task run is found again: task id, the prior id of its parent task run, loop
/// value (as JSON text).
type PriorKey = (String, Option<String>, String);

struct Shared {
    task_runs: Vec<TaskRun>,
    index: HashMap<String, usize>,
    outputs: Map<String, Value>,
    labels: Map<String, Value>,
    states: Map<String, Value>,
    /// Set by `execution.Exit`: no further task starts and the execution ends in this state.
    exit: Option<State>,
    /// ERROR log lines so far, for `errorLogs()`.
    error_logs: Vec<Value>,
    /// A task asked for the execution to be retried as a new one, after this wait.
    retry_execution: Option<Duration>,
    /// The execution's end state, once known (`execution.state` in `afterExecution`).
    ending: Option<State>,
    /// Recording failed: no further task starts, not even `errors` or `finally`.
    halted: bool,
    /// The secret values read so far: masked in every log line, recorded output, error and
    /// summary (values pass between tasks unmasked).
    secrets: Vec<String>,
    /// Prior task runs not taken up yet (see [`Prior`]).
    /// Several for one key when a `LoopUntil` ran its tasks again: taken in creation order.
    prior: HashMap<PriorKey, std::collections::VecDeque<TaskRun>>,
    /// For each task run taken up: its id in the prior run (the same for a restart or resume),
    /// and its state there.
    taken_up: HashMap<String, (String, State)>,
    /// `resume`: the paused task's `onResume` values, for the Pause task that was PAUSED.
    resume_inputs: Option<Map<String, Value>>,
    /// `vars` once `SetVariables`/`UnsetVariables` changed them (the flow's `variables` until
    /// then, in the constant layer).
    vars: Option<Map<String, Value>>,
}

impl Shared {
    /// `text` with every secret value read so far replaced by `******`.
    fn mask(&self, text: &str) -> String {
        // Longest first, so that a secret containing another is masked whole.
        let mut secrets: Vec<&String> = self.secrets.iter().collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let mut out = text.to_string();
        for secret in secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }

    /// A value with every string masked (object keys included).
    fn mask_value(&self, value: &Value) -> Value {
        if self.secrets.is_empty() {
            return value.clone();
        }
        match value {
            Value::String(text) => Value::String(self.mask(text)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.mask_value(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.mask(k), self.mask_value(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// What a secret's value is written as.
const MASK: &str = "******";

/// `LoopUntil`'s wait between iterations when `checkFrequency.interval` is not given (Kestra
/// 0.23 and later; it was a second before).
const LOOP_INTERVAL: Duration = Duration::from_secs(60);

/// A `LoopUntil`'s condition and limits, durations rendered.
struct LoopLimits<'a> {
    condition: &'a Prop,
    fail_on_max_reached: Option<&'a Prop>,
    max_iterations: Option<u64>,
    max_duration: Option<Duration>,
    interval: Duration,
}

/// The host templates see during an execution: the binary's host, plus this execution's logs.
struct ExecutionHost<'a> {
    base: &'a (dyn Host + Sync),
    shared: &'a Mutex<Shared>,
    kv: &'a dyn KvStore,
    /// `read()`, `fileSize()` and `fileExists()` of `kestra:///` URIs read it.
    storage: Option<&'a Storage>,
    /// The flow's namespace: `kv()` reads there unless told another.
    namespace: &'a str,
}

impl ExecutionHost<'_> {
    /// The storage that holds `path`, when it is a `kestra:///` URI of a file that is not a
    /// namespace file (an error when this execution has none).
    fn stored(&self, path: &str) -> Result<Option<&Storage>, String> {
        if NamespaceFiles::names_one(path) {
            return Ok(None);
        }
        self.storage
            .map(Some)
            .ok_or_else(|| format!("`{path}`: this execution has no internal storage"))
    }

    fn namespace_files(&self) -> NamespaceFiles<'_> {
        NamespaceFiles::new(self.namespace, self.base.bundled_files(), self.storage)
    }
}

impl Host for ExecutionHost<'_> {
    /// A secret's value, remembered so that it is masked wherever the execution writes it out.
    fn secret(&self, key: &str) -> Result<String, String> {
        let value = self.base.secret(key)?;
        let mut shared = lock(self.shared);
        if !value.is_empty() && !shared.secrets.contains(&value) {
            shared.secrets.push(value.clone());
        }
        Ok(value)
    }
    fn kv(&self, namespace: Option<&str>, key: &str) -> Result<Option<Value>, String> {
        self.kv.kv_get(namespace.unwrap_or(self.namespace), key)
    }
    fn read(&self, path: &str) -> Result<String, String> {
        let limit = crate::expr::eval::MAX_RENDER_BYTES as u64;
        match self.stored(path)? {
            Some(storage) => storage.read_text(path, limit),
            None => self.namespace_files().read_text(path, limit),
        }
    }
    fn now(&self) -> jiff::Timestamp {
        self.base.now()
    }
    fn file_size(&self, path: &str) -> Result<u64, String> {
        match self.stored(path)? {
            Some(storage) => storage.size(path),
            None => self.namespace_files().size(path),
        }
    }
    fn file_exists(&self, path: &str) -> Result<bool, String> {
        match self.stored(path)? {
            Some(storage) => storage.exists(path),
            None => self.namespace_files().exists(path),
        }
    }
    fn error_logs(&self) -> Result<Value, String> {
        Ok(Value::Array(lock(self.shared).error_logs.clone()))
    }
    fn bundled_files(&self) -> &'static [(&'static str, &'static [u8])] {
        self.base.bundled_files()
    }
}

pub struct Executor<'f> {
    flow: &'f Flow,
    host: &'f (dyn Host + Sync),
    recorder: &'f dyn Recorder,
    id: String,
    started_ms: u64,
    /// `execution` as templates see it, but for its `state`.
    execution_var: Value,
    inputs: Map<String, Value>,
    /// The variables that stay the same for the whole execution (`flow`, `inputs`, `vars`,
    /// `envs`, `globals`, `kestra`): built once, shared by every render, never copied.
    constant_vars: Map<String, Value>,
    echo_logs: bool,
    attempt: u32,
    chain_elapsed: Duration,
    kill: Option<KillSignal>,
    subflows: Option<crate::launch::SubflowLauncher>,
    shared: Mutex<Shared>,
    /// `execution.originalId`.
    original_id: String,
    /// A restart or resume: prior task runs keep their ids.
    same_execution: bool,
}

/// Run one execution to its end, on the caller's tokio runtime (it needs the time driver).
pub async fn execute(
    flow: &Flow,
    launch: Launch,
    host: &(dyn Host + Sync),
    recorder: &dyn Recorder,
) -> Summary {
    Executor::new(flow, launch, host, recorder).execute().await
}

impl<'f> Executor<'f> {
    fn new(
        flow: &'f Flow,
        launch: Launch,
        host: &'f (dyn Host + Sync),
        recorder: &'f dyn Recorder,
    ) -> Self {
        let same = launch.prior.as_ref().filter(|p| p.same_execution);
        let same_execution = same.is_some();
        let started_ms = same.map_or_else(now_ms, |p| p.started_ms);
        let id = launch.id;
        let original_id = launch
            .prior
            .as_ref()
            .map_or_else(|| id.clone(), |p| p.original_id.clone());
        let (prior, resume_inputs) = match launch.prior {
            Some(prior) => {
                let mut runs: HashMap<PriorKey, std::collections::VecDeque<TaskRun>> =
                    HashMap::new();
                for run in &prior.task_runs {
                    let value = run.value.as_ref().map(Value::to_string).unwrap_or_default();
                    runs.entry((run.task_id.clone(), run.parent_id.clone(), value))
                        .or_default()
                        .push_back(run.clone());
                }
                (runs, prior.resume_inputs)
            }
            None => (HashMap::new(), None),
        };
        let mut labels: Map<String, Value> = flow
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        labels.extend(launch.labels);
        // Kestra links an execution and the ones it starts with this label; a first execution
        // is its own correlation.
        labels
            .entry("system.correlationId".to_string())
            .or_insert_with(|| Value::String(id.clone()));
        Executor {
            flow,
            host,
            recorder,
            constant_vars: constant_vars(
                flow,
                &launch.inputs,
                launch.revision,
                launch.trigger.as_ref(),
            ),
            execution_var: context::object(context::EXECUTION, |name| match name {
                "id" => Value::String(id.clone()),
                "originalId" => Value::String(original_id.clone()),
                "startDate" => Value::String(iso_instant(started_ms)),
                _ => Value::Null,
            }),
            id,
            started_ms,
            inputs: launch.inputs,
            echo_logs: launch.echo_logs,
            attempt: launch.attempt,
            chain_elapsed: launch.chain_elapsed,
            kill: launch.kill,
            subflows: launch.subflows,
            shared: Mutex::new(Shared {
                task_runs: Vec::new(),
                index: HashMap::new(),
                outputs: Map::new(),
                labels,
                states: Map::new(),
                exit: None,
                error_logs: Vec::new(),
                retry_execution: None,
                ending: None,
                halted: false,
                secrets: Vec::new(),
                prior,
                taken_up: HashMap::new(),
                resume_inputs,
                vars: None,
            }),
            original_id,
            same_execution,
        }
    }

    async fn execute(self) -> Summary {
        self.recorder.execution_started(
            &self.id,
            self.flow,
            &self.inputs,
            self.started_ms,
            &self.original_id,
        );
        let phases = std::pin::pin!(self.phases());
        let stop = std::pin::pin!(self.stop());
        let (mut state, outputs) = match futures_util::future::select(phases, stop).await {
            futures_util::future::Either::Left((ended, _)) => ended,
            futures_util::future::Either::Right((Stop::Killed, _)) => {
                self.kill_unfinished();
                (State::Killed, None)
            }
            futures_util::future::Either::Right((Stop::Sla(sla), _)) => {
                self.kill_unfinished();
                let state = self.violated(sla).unwrap_or(State::Failed);
                (state, None)
            }
        };
        if !matches!(state, State::Killed | State::Paused) {
            state = self.check_sla(state);
        }
        let shared = self.shared();
        // A failure that will be retried as a new execution ends this one RETRIED (a killed
        // execution is not retried).
        let retry_after = shared
            .retry_execution
            .filter(|_| state.is_failure() && state != State::Killed);
        if retry_after.is_some() {
            state = State::Retried;
        }
        let outputs = outputs.map(|o| shared.mask_value(&o));
        let labels = match shared.mask_value(&Value::Object(shared.labels.clone())) {
            Value::Object(labels) => labels,
            _ => Map::new(),
        };
        let summary = Summary {
            id: self.id.clone(),
            state,
            retry_after,
            outputs,
            labels,
            duration_ms: now_ms().saturating_sub(self.started_ms),
            task_runs: shared.task_runs.clone(),
        };
        self.recorder.execution_ended(&summary);
        summary
    }

    /// The execution's phases: its tasks, `errors`, `finally`, the flow's outputs,
    /// `afterExecution`; the end state and the outputs.
    async fn phases(&self) -> (State, Option<Value>) {
        let root = Frame::default();
        let mut state = self.branch(&self.flow.tasks, &root).await;
        if state == State::Paused {
            // Waits for `resume`: nothing after the pause runs, not `errors` nor `finally`.
            self.log(
                None,
                Level::Info,
                &format!(
                    "paused: `{} resume {}` continues the execution",
                    self.flow.id, self.id
                ),
            );
            return (State::Paused, None);
        }
        if state.is_failure() && !self.flow.errors.is_empty() {
            self.branch_ignoring_exit(&self.flow.errors, &root).await;
        }
        if !self.flow.finally.is_empty() {
            let finally = self.branch_ignoring_exit(&self.flow.finally, &root).await;
            state = state.worst(finally);
        }
        if let Some(exit) = self.shared().exit {
            state = exit;
        }
        if self.shared().halted {
            state = State::Failed;
        }
        let mut outputs = None;
        if matches!(state, State::Success | State::Warning) && !self.flow.outputs.is_empty() {
            match self.flow_outputs() {
                Ok(values) => outputs = Some(Value::Object(values)),
                Err(message) => {
                    self.log(None, Level::Error, &format!("flow outputs: {message}"));
                    state = State::Failed;
                }
            }
        }
        self.shared().ending = Some(state);
        if !self.flow.after_execution.is_empty() {
            self.branch_ignoring_exit(&self.flow.after_execution, &root)
                .await;
        }
        (state, outputs)
    }

    /// What stops an execution before its phases end: a kill, or a `MAX_DURATION` SLA that
    /// fails or cancels it.
    async fn stop(&self) -> Stop<'_> {
        let kill = std::pin::pin!(killed(self.kill.clone()));
        let sla = std::pin::pin!(self.max_duration());
        match futures_util::future::select(kill, sla).await {
            futures_util::future::Either::Left(((), _)) => Stop::Killed,
            futures_util::future::Either::Right((sla, _)) => Stop::Sla(sla),
        }
    }

    /// Resolves with the `MAX_DURATION` SLA (FAIL or CANCEL) that runs out first; never when
    /// there is none.
    async fn max_duration(&self) -> &Sla {
        let first = self
            .flow
            .sla
            .iter()
            .filter(|s| s.behavior != SlaBehavior::None)
            .filter_map(|s| match &s.check {
                SlaCheck::MaxDuration(limit) => Some((s, *limit)),
                SlaCheck::Assertion(_) => None,
            })
            .min_by_key(|(_, limit)| *limit);
        let Some((sla, limit)) = first else {
            return std::future::pending().await;
        };
        let elapsed = Duration::from_millis(now_ms().saturating_sub(self.started_ms));
        tokio::time::sleep(limit.saturating_sub(elapsed)).await;
        sla
    }

    /// The SLAs checked when the execution has ended: a `MAX_DURATION` that only labels, and
    /// every `EXECUTION_ASSERTION`. Returns the end state they leave.
    fn check_sla(&self, state: State) -> State {
        let mut state = state;
        let elapsed = Duration::from_millis(now_ms().saturating_sub(self.started_ms));
        for sla in &self.flow.sla {
            let violated = match &sla.check {
                SlaCheck::MaxDuration(limit) => elapsed >= *limit,
                SlaCheck::Assertion(assertion) => {
                    let vars = self.variables(assertion, &Frame::default(), None);
                    match assertion.render_layered(&vars, &self.constant_vars, &self.host()) {
                        Ok(value) => !is_truthy(&value),
                        Err(e) => {
                            let message = format!("sla `{}`: {}", sla.id, self.describe(&e));
                            self.log(None, Level::Error, &message);
                            true
                        }
                    }
                }
            };
            if violated {
                if let Some(ended) = self.violated(sla) {
                    state = ended;
                }
            }
        }
        state
    }

    /// An SLA was violated: its labels are added; the state it ends the execution in, if any.
    fn violated(&self, sla: &Sla) -> Option<State> {
        let mut shared = self.shared();
        for (key, value) in &sla.labels {
            shared
                .labels
                .insert(key.clone(), Value::String(value.clone()));
        }
        drop(shared);
        self.log(None, Level::Warn, &format!("sla `{}` violated", sla.id));
        match sla.behavior {
            SlaBehavior::Fail => Some(State::Failed),
            SlaBehavior::Cancel => Some(State::Cancelled),
            SlaBehavior::None => None,
        }
    }

    /// After a kill: every task run that had not ended, and its running attempt, end KILLED.
    fn kill_unfinished(&self) {
        let killed: Vec<TaskRun> = {
            let mut shared = self.shared();
            let at = now_ms();
            shared
                .task_runs
                .iter_mut()
                .filter(|run| !run.state.is_terminal())
                .map(|run| {
                    run.state = State::Killed;
                    if let Some(attempt) =
                        run.attempts.last_mut().filter(|a| !a.state.is_terminal())
                    {
                        attempt.state = State::Killed;
                        attempt.ended_ms = at;
                    }
                    run.clone()
                })
                .collect()
        };
        for run in &killed {
            self.recorder.task_run(&self.id, run);
        }
        self.log(None, Level::Warn, "the execution was killed");
    }

    fn flow_outputs(&self) -> Result<Map<String, Value>, String> {
        let mut values = Map::new();
        for output in &self.flow.outputs {
            let vars = self.variables(&output.value, &Frame::default(), None);
            let rendered = output
                .value
                .render_layered(&vars, &self.constant_vars, &self.host())
                .map_err(|e| format!("output `{}`: {}", output.id, self.describe(&e)))?;
            let typed = crate::inputs::coerce_output(output.ty, rendered)
                .map_err(|e| format!("output `{}`: {e}", output.id))?;
            values.insert(output.id.clone(), typed);
        }
        Ok(values)
    }

    /// Tasks one after another; a failure stops the branch. Stops early after `Exit`.
    fn branch<'a>(&'a self, tasks: &'a [Task], frame: &'a Frame) -> BoxFuture<'a, State> {
        Box::pin(async move {
            let mut state = State::Success;
            for task in tasks {
                let stopped = {
                    let shared = self.shared();
                    shared.exit.is_some() || shared.halted
                };
                if stopped {
                    break;
                }
                let result = self.task(task, frame).await;
                state = state.worst(result);
                if result.is_failure() || result == State::Paused {
                    break;
                }
            }
            state
        })
    }

    /// `errors`, `finally` and `afterExecution` run even after `Exit`, and anew after a
    /// restart (see [`Prior`]).
    async fn branch_ignoring_exit(&self, tasks: &[Task], frame: &Frame) -> State {
        let exit = self.shared().exit.take();
        let frame = Frame {
            fresh: true,
            ..frame.clone()
        };
        let state = self.branch(tasks, &frame).await;
        let mut shared = self.shared();
        shared.exit = shared.exit.or(exit);
        state
    }

    /// Tasks at the same time, at most `limit` at once (0: no limit).
    async fn concurrently(&self, tasks: &[Task], frame: &Frame, limit: usize) -> State {
        self.bounded(limit, tasks.iter().map(|task| self.task(task, frame)))
            .await
    }

    /// Run `jobs` with at most `limit` running at once (0: no limit). After a failure (or an
    /// `Exit`) the jobs not yet started are not started, as in Kestra; the result is the worst
    /// end state.
    async fn bounded<'a>(
        &'a self,
        limit: usize,
        jobs: impl Iterator<Item = impl Future<Output = State> + 'a>,
    ) -> State {
        let semaphore = Arc::new(tokio::sync::Semaphore::new(if limit == 0 {
            tokio::sync::Semaphore::MAX_PERMITS
        } else {
            limit
        }));
        let failed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let runs = jobs.map(|job| {
            let semaphore = Arc::clone(&semaphore);
            let failed = Arc::clone(&failed);
            async move {
                let _permit = semaphore.acquire().await.ok();
                if failed.load(std::sync::atomic::Ordering::Relaxed) || self.shared().exit.is_some()
                {
                    return State::Success;
                }
                let state = job.await;
                if state.is_failure() {
                    failed.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                state
            }
        });
        futures_util::future::join_all(runs)
            .await
            .into_iter()
            .fold(State::Success, State::worst)
    }

    /// One task: its task run, `runIf`, attempts or children, and the end state after
    /// `allowFailure`/`allowWarning`.
    fn task<'a>(&'a self, task: &'a Task, frame: &'a Frame) -> BoxFuture<'a, State> {
        Box::pin(async move {
            // Fail-stop: once the state cannot record, nothing else runs.
            if let Some(problem) = self.recorder.failure() {
                let first = !std::mem::replace(&mut self.shared().halted, true);
                if first {
                    self.log(
                        None,
                        Level::Error,
                        &format!("stopped: {problem}; no further task runs unrecorded"),
                    );
                }
                return State::Failed;
            }
            let (run_id, prior) = self.create_run(task, frame);
            if let Some(prior) = prior.filter(|p| {
                !is_flowable(&task.kind)
                    && matches!(p.state, State::Success | State::Warning | State::Skipped)
            }) {
                return self.keep(task, &run_id, frame, &prior);
            }
            if let Some(run_if) = &task.run_if {
                let vars = self.variables(run_if, frame, Some((task, &run_id)));
                match run_if.render_layered(&vars, &self.constant_vars, &self.host()) {
                    Ok(value) if !is_truthy(&value) => {
                        self.finish(&run_id, &task.id, State::Skipped, None);
                        return State::Skipped;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        self.log(
                            Some(&run_id),
                            Level::Error,
                            &format!("runIf: {}", self.describe(&e)),
                        );
                        return self.end(task, &run_id, State::Failed);
                    }
                }
            }
            let state = if is_flowable(&task.kind) {
                self.set_state(&run_id, State::Running);
                self.flowable(task, &run_id, frame).await
            } else {
                self.attempts(task, &run_id, frame).await
            };
            if state == State::Paused {
                // Not ended: it waits for `resume`.
                return state;
            }
            self.end(task, &run_id, state)
        })
    }

    /// A flowable task: its children, then its own `errors` (on failure) and `finally`.
    async fn flowable(&self, task: &Task, run_id: &str, frame: &Frame) -> State {
        let mut parents = Vec::with_capacity(frame.parents.len() + 1);
        parents.push(json!({ "taskrun": {
            "value": frame.values.last().map_or(Value::Null, |(v, _)| v.clone()),
        } }));
        parents.extend(frame.parents.iter().cloned());
        let (working_directory, working_dir) = if matches!(
            task.kind,
            TaskKind::WorkingDirectory { .. }
        ) {
            let worker = json!({ "id": run_id, "taskId": task.id, "value": frame.values.last().map(|(v, _)| v.clone()) });
            let dir = std::env::temp_dir().join(format!("kflow-{}-{run_id}", self.id));
            if let Err(e) = std::fs::create_dir_all(&dir) {
                let message = format!("cannot create the working directory {}: {e}", dir.display());
                self.log(Some(run_id), Level::Error, &message);
                return State::Failed;
            }
            (
                Some(worker),
                Some(Arc::from(dir.to_string_lossy().as_ref())),
            )
        } else {
            (frame.working_directory.clone(), frame.working_dir.clone())
        };
        let inner = Frame {
            parent_run: Some(run_id.to_string()),
            values: frame.values.clone(),
            parents,
            working_directory,
            working_dir,
            fresh: frame.fresh,
        };
        let mut state = match &task.kind {
            TaskKind::Sequential { tasks } => self.branch(tasks, &inner).await,
            TaskKind::WorkingDirectory {
                tasks,
                input_files,
                output_files,
                namespace_files,
                cache,
            } => {
                let dir = inner.working_dir.clone().unwrap_or_else(|| Arc::from(""));
                let folder = Path::new(&*dir);
                let prepared = cache
                    .as_deref()
                    .map(|c| self.working_directory_cache(c, task, run_id, frame))
                    .transpose()
                    .map_err(|e| format!("cache: {e}"))
                    .and_then(|cache| {
                        let restored = self.prepare_working_directory(
                            cache.as_ref(),
                            namespace_files.as_deref(),
                            input_files.as_deref(),
                            task,
                            run_id,
                            frame,
                            folder,
                        )?;
                        Ok((cache, restored))
                    });
                let mut state = match prepared {
                    Ok((cache, restored)) => {
                        let state = self.branch(tasks, &inner).await;
                        if let Some(cache) =
                            cache.filter(|_| matches!(state, State::Success | State::Warning))
                        {
                            self.save_cache(&cache, run_id, folder, restored);
                        }
                        state
                    }
                    Err(message) => {
                        self.log(Some(run_id), Level::Error, &message);
                        State::Failed
                    }
                };
                if state != State::Paused {
                    if let Some(patterns) = output_files {
                        if let Err(message) =
                            self.store_output_files(patterns, task, run_id, frame, folder)
                        {
                            self.log(
                                Some(run_id),
                                Level::Error,
                                &format!("outputFiles: {message}"),
                            );
                            state = state.worst(State::Failed);
                        }
                    }
                }
                // The folder lives as long as the WorkingDirectory runs.
                let _ = std::fs::remove_dir_all(folder);
                state
            }
            TaskKind::Parallel { tasks, concurrent } => {
                self.concurrently(tasks, &inner, *concurrent).await
            }
            TaskKind::Dag { tasks, concurrent } => self.dag(tasks, &inner, *concurrent).await,
            TaskKind::If {
                condition,
                then,
                otherwise,
            } => match self.render(condition, task, run_id, frame) {
                Ok(value) => {
                    let holds = is_truthy(&value);
                    self.set_outputs(
                        run_id,
                        &task.id,
                        frame,
                        json!({ "evaluationResult": holds }),
                    );
                    let branch = if holds { then } else { otherwise };
                    self.branch(branch, &inner).await
                }
                Err(message) => {
                    self.log(Some(run_id), Level::Error, &format!("condition: {message}"));
                    State::Failed
                }
            },
            TaskKind::Switch {
                value,
                cases,
                defaults,
            } => match self.render(value, task, run_id, frame) {
                Ok(value) => {
                    let key = expr::value::to_display_string(&value);
                    let matched = cases.iter().any(|(case, _)| *case == key);
                    self.set_outputs(
                        run_id,
                        &task.id,
                        frame,
                        json!({ "value": key, "defaults": !matched }),
                    );
                    match cases.iter().find(|(case, _)| *case == key) {
                        Some((_, branch)) => self.branch(branch, &inner).await,
                        None if !defaults.is_empty() => self.branch(defaults, &inner).await,
                        None => {
                            let message =
                                format!("no case matches `{key}` and there are no `defaults`");
                            self.log(Some(run_id), Level::Error, &message);
                            State::Failed
                        }
                    }
                }
                Err(message) => {
                    self.log(Some(run_id), Level::Error, &format!("value: {message}"));
                    State::Failed
                }
            },
            TaskKind::ForEach {
                values,
                concurrency_limit,
                parallel_tasks,
                tasks,
            } => match self
                .render(values, task, run_id, frame)
                .and_then(loop_values)
            {
                Ok(items) => {
                    self.each(tasks, &inner, items, *concurrency_limit, *parallel_tasks)
                        .await
                }
                Err(message) => {
                    self.log(Some(run_id), Level::Error, &format!("values: {message}"));
                    State::Failed
                }
            },
            TaskKind::LoopUntil {
                condition,
                tasks,
                fail_on_max_reached,
                max_iterations,
                max_duration,
                interval,
            } => {
                let limits = (|| {
                    let duration = |d: &DurationProp| self.duration(d, task, run_id, frame);
                    Ok::<_, String>((
                        max_duration.as_deref().map(duration).transpose()?,
                        interval
                            .as_deref()
                            .map(duration)
                            .transpose()?
                            .unwrap_or(LOOP_INTERVAL),
                    ))
                })();
                match limits {
                    Ok((max_duration, interval)) => {
                        let limits = LoopLimits {
                            condition,
                            fail_on_max_reached: fail_on_max_reached.as_deref(),
                            max_iterations: *max_iterations,
                            max_duration,
                            interval,
                        };
                        self.loop_until(task, run_id, frame, tasks, &inner, &limits)
                            .await
                    }
                    Err(message) => {
                        self.log(Some(run_id), Level::Error, &message);
                        State::Failed
                    }
                }
            }
            TaskKind::Pause {
                delay,
                tasks,
                behavior,
                on_pause,
                ..
            } => match delay {
                // A pause taken up again by a restart or resume has paused already.
                _ if self.taken_up(run_id).is_some() => {
                    let resumed = self.taken_up(run_id) == Some(State::Paused);
                    let values = self.shared().resume_inputs.take().filter(|_| resumed);
                    if let Some(values) = values {
                        self.set_outputs(
                            run_id,
                            &task.id,
                            frame,
                            json!({
                                "onResume": values,
                                "resumed": { "on": iso_instant(now_ms()) },
                            }),
                        );
                    }
                    self.branch(tasks, &inner).await
                }
                None => {
                    self.set_state(run_id, State::Paused);
                    let paused = self.branch(on_pause, &inner).await;
                    if paused.is_failure() {
                        return paused;
                    }
                    return State::Paused;
                }
                Some(delay) => match self.duration(delay, task, run_id, frame) {
                    Ok(delay) => {
                        self.set_state(run_id, State::Paused);
                        let paused = self.branch(on_pause, &inner).await;
                        if paused.is_failure() {
                            return paused;
                        }
                        // The execution shows PAUSED while it waits, as Kestra shows it; its
                        // process stays its owner (a kill reaches it).
                        self.recorder.execution_state(&self.id, State::Paused);
                        tokio::time::sleep(delay).await;
                        self.recorder.execution_state(&self.id, State::Running);
                        self.set_state(run_id, State::Running);
                        match behavior {
                            PauseBehavior::Resume => self.branch(tasks, &inner).await,
                            PauseBehavior::Warn => {
                                self.branch(tasks, &inner).await.worst(State::Warning)
                            }
                            PauseBehavior::Cancel => {
                                self.log(
                                    Some(run_id),
                                    Level::Warn,
                                    "the pause ended: the execution is cancelled (`behavior: CANCEL`)",
                                );
                                self.shared().exit = Some(State::Cancelled);
                                State::Cancelled
                            }
                            PauseBehavior::Fail => {
                                self.log(
                                    Some(run_id),
                                    Level::Error,
                                    "the pause ended without a resume (`behavior: FAIL`)",
                                );
                                State::Failed
                            }
                        }
                    }
                    Err(message) => {
                        self.log(Some(run_id), Level::Error, &format!("delay: {message}"));
                        State::Failed
                    }
                },
            },
            TaskKind::Run { .. } => {
                self.log(
                    Some(run_id),
                    Level::Error,
                    "a runnable task has no children",
                );
                State::Failed
            }
        };
        if state == State::Paused {
            return state;
        }
        if state.is_failure() && !task.errors.is_empty() {
            self.branch_ignoring_exit(&task.errors, &inner).await;
        }
        if !task.finally.is_empty() {
            let finally = self.branch_ignoring_exit(&task.finally, &inner).await;
            state = state.worst(finally);
        }
        state
    }

    /// A Dag's tasks: each starts as soon as the tasks it depends on have ended without
    /// failing, at most `limit` at once (0: no limit). After a failure no new task starts (the
    /// running ones finish), as in a Parallel; tasks whose dependencies never ended get no
    /// task run.
    async fn dag(&self, nodes: &[DagNode], frame: &Frame, limit: usize) -> State {
        use futures_util::stream::{FuturesUnordered, StreamExt};
        let mut ended: HashMap<&str, State> = HashMap::new();
        let mut started = vec![false; nodes.len()];
        let mut running = FuturesUnordered::new();
        let mut state = State::Success;
        loop {
            let stopped = {
                let shared = self.shared();
                shared.exit.is_some() || shared.halted
            };
            if !state.is_failure() && !stopped {
                for (index, node) in nodes.iter().enumerate() {
                    if limit > 0 && running.len() >= limit {
                        break;
                    }
                    // A paused dependency has not ended.
                    let ready = !started[index]
                        && node.depends_on.iter().all(|d| {
                            ended
                                .get(d.as_str())
                                .is_some_and(|s| s.is_terminal() && !s.is_failure())
                        });
                    if ready {
                        started[index] = true;
                        running.push(async move {
                            (node.task.id.as_str(), self.task(&node.task, frame).await)
                        });
                    }
                }
            }
            let Some((id, ended_state)) = running.next().await else {
                break;
            };
            ended.insert(id, ended_state);
            state = state.worst(ended_state);
        }
        state
    }

    /// A `WorkingDirectory`'s folder made ready, in Kestra's order: its cache restored, the
    /// namespace files copied, the `inputFiles` written. When the cache was restored.
    #[allow(clippy::too_many_arguments)]
    fn prepare_working_directory(
        &self,
        cache: Option<&workdir::Cache>,
        namespace_files: Option<&Prop>,
        input_files: Option<&Prop>,
        task: &Task,
        run_id: &str,
        frame: &Frame,
        folder: &Path,
    ) -> Result<Option<std::time::SystemTime>, String> {
        let mut restored = None;
        if let (Some(cache), Some(storage)) = (cache, self.recorder.storage()) {
            restored = cache
                .restore(folder, storage)
                .map_err(|e| format!("cache: {e}"))?;
            if restored.is_some() {
                self.log(Some(run_id), Level::Debug, "cache restored");
            }
        }
        if let Some(spec) = namespace_files {
            let spec = self.render(spec, task, run_id, frame)?;
            let spec = workdir::NamespaceFilesSpec::parse(&spec, &self.flow.namespace)
                .map_err(|e| format!("namespaceFiles: {e}"))?;
            if let Some(spec) = spec {
                let copied = workdir::write_namespace_files(
                    folder,
                    &spec,
                    &self.namespace_files(),
                    |warning| self.log(Some(run_id), Level::Warn, warning),
                )
                .map_err(|e| format!("namespaceFiles: {e}"))?;
                self.log(
                    Some(run_id),
                    Level::Debug,
                    &format!("{copied} namespace file(s) copied into the working directory"),
                );
            }
        }
        if let Some(files) = input_files {
            let files = workdir::input_files(self.render(files, task, run_id, frame)?)
                .map_err(|e| format!("inputFiles: {e}"))?;
            workdir::write_inputs(folder, &files, self.recorder.storage())
                .map_err(|e| format!("inputFiles: {e}"))?;
        }
        Ok(restored)
    }

    /// A `WorkingDirectory`'s `cache`: one per task and loop value.
    fn working_directory_cache(
        &self,
        cache: &Prop,
        task: &Task,
        run_id: &str,
        frame: &Frame,
    ) -> Result<workdir::Cache, String> {
        let value = frame
            .values
            .last()
            .map(|(v, _)| expr::value::to_display_string(v));
        let prefix = workdir::Cache::prefix(
            &self.flow.namespace,
            &self.flow.id,
            &task.id,
            value.as_deref(),
        );
        workdir::Cache::parse(&self.render(cache, task, run_id, frame)?, prefix)
    }

    /// Keeps the cached files for the next run; a failure to is a warning, not the task's.
    fn save_cache(
        &self,
        cache: &workdir::Cache,
        run_id: &str,
        folder: &Path,
        restored: Option<std::time::SystemTime>,
    ) {
        let Some(storage) = self.recorder.storage() else {
            return;
        };
        match cache.save(folder, storage, restored) {
            Ok(Some(count)) => {
                self.log(
                    Some(run_id),
                    Level::Debug,
                    &format!("{count} file(s) cached"),
                );
            }
            Ok(None) => {}
            Err(message) => self.log(
                Some(run_id),
                Level::Warn,
                &format!("cache not updated: {message}"),
            ),
        }
    }

    /// A `WorkingDirectory`'s files matching `outputFiles`, stored; `outputs.<id>.outputFiles`
    /// maps each name to its URI.
    fn store_output_files(
        &self,
        patterns: &Prop,
        task: &Task,
        run_id: &str,
        frame: &Frame,
        folder: &Path,
    ) -> Result<(), String> {
        let rendered = self.render(patterns, task, run_id, frame)?;
        let patterns = tasks::props::list(Some(&rendered), "outputFiles").map_err(|e| e.message)?;
        let storage = self
            .recorder
            .storage()
            .ok_or("this execution has no internal storage")?;
        let stored = workdir::store_matching(folder, &patterns, |name, file| {
            let uri = Storage::task_file(
                &self.flow.namespace,
                &self.flow.id,
                &self.id,
                &task.id,
                run_id,
                name,
            );
            storage.put(&uri, file)?;
            Ok(uri)
        })?;
        self.set_outputs(run_id, &task.id, frame, json!({ "outputFiles": stored }));
        Ok(())
    }

    /// `LoopUntil`: iterations of `tasks` (`outputs.<loop>.iterationCount` counts them from 1)
    /// until `condition` holds after one, `interval` apart. Kestra's order: after an iteration
    /// that did not fail, the limits are checked first (reaching one ends the loop, FAILED with
    /// `failOnMaxReached`), then the condition.
    async fn loop_until(
        &self,
        task: &Task,
        run_id: &str,
        frame: &Frame,
        tasks: &[Task],
        inner: &Frame,
        limits: &LoopLimits<'_>,
    ) -> State {
        let started = Instant::now();
        let mut iteration: u64 = 1;
        loop {
            self.set_outputs(
                run_id,
                &task.id,
                frame,
                json!({ "iterationCount": iteration }),
            );
            let state = self.branch(tasks, inner).await;
            let stopped = {
                let shared = self.shared();
                shared.exit.is_some() || shared.halted
            };
            if state.is_failure() || state == State::Paused || stopped {
                return state;
            }
            let reached = if limits.max_iterations.is_some_and(|max| iteration >= max) {
                Some("Max iterations reached")
            } else if limits
                .max_duration
                .is_some_and(|max| started.elapsed() >= max)
            {
                Some("Max duration reached")
            } else {
                None
            };
            if let Some(reason) = reached {
                self.log(Some(run_id), Level::Warn, reason);
                let fail = match limits.fail_on_max_reached {
                    None => Ok(false),
                    Some(prop) => self
                        .render(prop, task, run_id, frame)
                        .map(|v| is_truthy(&v)),
                };
                return match fail {
                    Ok(true) => State::Failed,
                    Ok(false) => state,
                    Err(message) => {
                        self.log(
                            Some(run_id),
                            Level::Error,
                            &format!("failOnMaxReached: {message}"),
                        );
                        State::Failed
                    }
                };
            }
            match self.render(limits.condition, task, run_id, frame) {
                Ok(value) if is_truthy(&value) => return state,
                Ok(_) => {}
                Err(message) => {
                    self.log(Some(run_id), Level::Error, &format!("condition: {message}"));
                    return State::Failed;
                }
            }
            tokio::time::sleep(limits.interval).await;
            iteration += 1;
        }
    }

    /// A loop's tasks once per value, `limit` values at a time (0: all at once).
    async fn each(
        &self,
        tasks: &[Task],
        frame: &Frame,
        items: Vec<Value>,
        limit: usize,
        parallel_tasks: bool,
    ) -> State {
        let iterations = items.into_iter().enumerate().map(|(iteration, item)| {
            let mut values = frame.values.clone();
            values.push((item, iteration));
            let inner = Frame {
                parent_run: frame.parent_run.clone(),
                values,
                parents: frame.parents.clone(),
                working_directory: frame.working_directory.clone(),
                working_dir: frame.working_dir.clone(),
                fresh: frame.fresh,
            };
            async move {
                if parallel_tasks {
                    self.concurrently(tasks, &inner, 0).await
                } else {
                    self.branch(tasks, &inner).await
                }
            }
        });
        self.bounded(limit, iterations).await
    }

    /// A runnable task's attempts: retried per `retry`, each bounded by `timeout`.
    async fn attempts(&self, task: &Task, run_id: &str, frame: &Frame) -> State {
        let first = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            // A place among the task runs this process runs at once, when they are limited;
            // the run stays CREATED until it has one.
            let _place = match TASK_RUN_PLACES.get() {
                Some(places) => places.acquire().await.ok(),
                None => None,
            };
            let started = now_ms();
            // The run's RUNNING state and its new attempt are one recorded change; a task that
            // cannot wait on anything (Log, Return, …) is recorded once, when it ends, which is
            // still before the next task starts.
            let start = |run: &mut TaskRun| {
                run.state = State::Running;
                run.attempts.push(Attempt {
                    state: State::Running,
                    started_ms: started,
                    ended_ms: started,
                });
            };
            if is_instant(task) {
                let mut shared = self.shared();
                if let Some(&i) = shared.index.get(run_id) {
                    start(&mut shared.task_runs[i]);
                }
            } else {
                self.with_run(run_id, start);
            }
            let limit = task
                .timeout
                .as_ref()
                .map(|t| self.duration(t, task, run_id, frame))
                .transpose()
                .map_err(|e| format!("timeout: {e}"));
            let result = match limit {
                Err(message) => Err(message),
                Ok(Some(limit)) => {
                    let deadline = Instant::now().checked_add(limit);
                    let work = self.runnable(task, run_id, frame, deadline);
                    match tokio::time::timeout(limit, work).await {
                        Ok(result) => result,
                        Err(_) => Err(format!("Timeout after {}", human_duration(limit))),
                    }
                }
                Ok(None) => self.runnable(task, run_id, frame, None).await,
            };
            let state = match result {
                Ok(outcome) => {
                    if let Some(outputs) = outcome.outputs {
                        self.set_outputs(run_id, &task.id, frame, outputs);
                    }
                    outcome.state
                }
                Err(message) => {
                    self.log(Some(run_id), Level::Error, &message);
                    State::Failed
                }
            };
            self.end_attempt(run_id, state);
            let Some(retry) = task.retry.as_ref() else {
                return state;
            };
            let retryable =
                state == State::Failed || (state == State::Warning && retry.warning_on_retry);
            if !retryable {
                return state;
            }
            let policy = match self.policy(retry, task, run_id, frame) {
                Ok(policy) => policy,
                Err(message) => {
                    self.log(Some(run_id), Level::Error, &format!("retry: {message}"));
                    return state;
                }
            };
            if retry.new_execution {
                // The whole execution is retried, as a new one, by whoever launched it.
                let elapsed = self.chain_elapsed + first.elapsed();
                if let Some(wait) = policy.next(self.attempt, elapsed) {
                    self.shared().retry_execution = Some(wait);
                }
                return state;
            }
            let Some(wait) = policy.next(attempt, first.elapsed()) else {
                return state;
            };
            self.set_state(run_id, State::Retrying);
            tokio::time::sleep(wait).await;
        }
    }

    /// A runnable task's work for one attempt: its properties rendered, then its type's
    /// implementation (see [`crate::tasks`]).
    /// Rendering counts against the attempt's `timeout` too (`deadline`): a template that
    /// would run past it fails.
    async fn runnable(
        &self,
        task: &Task,
        run_id: &str,
        frame: &Frame,
        deadline: Option<Instant>,
    ) -> Result<Outcome, String> {
        let TaskKind::Run { properties } = &task.kind else {
            return Err(format!("`{}` is flowable", task.type_name));
        };
        let implementation = tasks::implementation(&task.type_name).ok_or_else(|| {
            format!(
                "task type `{}` is not supported by this kflow runtime",
                task.type_name
            )
        })?;
        // A script or tool outside a `WorkingDirectory` gets a folder of its own for the
        // attempt, removed when it ends (or is killed).
        let own_dir = match tasks::definition(&task.type_name) {
            Some(d) if d.working_dir && frame.working_dir.is_none() => {
                Some(workdir::TaskDir::create(&self.id, run_id)?)
            }
            _ => None,
        };
        let with_dir;
        let frame = match &own_dir {
            Some(dir) => {
                with_dir = Frame {
                    working_dir: Some(Arc::from(dir.path().to_string_lossy().as_ref())),
                    ..frame.clone()
                };
                &with_dir
            }
            None => frame,
        };
        let rendered = expr::with_deadline(deadline, || {
            let mut rendered = Map::new();
            for (name, prop) in properties {
                let value = self
                    .render(prop, task, run_id, frame)
                    .map_err(|e| format!("{name}: {e}"))?;
                rendered.insert(name.clone(), value);
            }
            Ok::<_, String>(rendered)
        })?;
        let port = TaskPort {
            executor: self,
            task,
            run_id,
            frame,
        };
        let mut ctx = TaskContext::new(&port);
        let outputs = implementation
            .run(Value::Object(rendered), &mut ctx)
            .await
            .map_err(|e| e.message)?;
        Ok(Outcome {
            state: if ctx.warned() {
                State::Warning
            } else {
                State::Success
            },
            outputs,
        })
    }

    // ---- rendering ---------------------------------------------------------------------------

    fn render(
        &self,
        prop: &Prop,
        task: &Task,
        run_id: &str,
        frame: &Frame,
    ) -> Result<Value, String> {
        let vars = self.variables(prop, frame, Some((task, run_id)));
        prop.render_layered(&vars, &self.constant_vars, &self.host())
            .map_err(|e| self.describe(&e))
    }

    /// A template error with the flow file, line and column of the expression.
    fn describe(&self, error: &RenderError) -> String {
        error.describe(&self.flow.source_name)
    }

    /// A `retry` with its durations fixed or rendered now.
    fn policy(
        &self,
        retry: &Retry,
        task: &Task,
        run_id: &str,
        frame: &Frame,
    ) -> Result<RetryPolicy, String> {
        let duration = |d: &DurationProp| self.duration(d, task, run_id, frame);
        Ok(RetryPolicy {
            kind: retry.kind,
            interval: duration(&retry.interval)?,
            max_interval: retry.max_interval.as_ref().map(duration).transpose()?,
            max_attempt: retry.max_attempt,
            max_duration: retry.max_duration.as_ref().map(duration).transpose()?,
            delay_factor: retry.delay_factor,
        })
    }

    /// A duration property: fixed, or rendered now.
    fn duration(
        &self,
        value: &DurationProp,
        task: &Task,
        run_id: &str,
        frame: &Frame,
    ) -> Result<Duration, String> {
        match value {
            DurationProp::Fixed(duration) => Ok(*duration),
            DurationProp::Rendered(prop) => {
                expr::value::duration_of(&self.render(prop, task, run_id, frame)?)
            }
        }
    }

    fn shared(&self) -> MutexGuard<'_, Shared> {
        lock(&self.shared)
    }

    fn host(&self) -> ExecutionHost<'_> {
        ExecutionHost {
            base: self.host,
            shared: &self.shared,
            kv: self.recorder.kv_store(),
            storage: self.recorder.storage(),
            namespace: &self.flow.namespace,
        }
    }

    /// Namespace files: uploaded to the storage, then bundled into the binary.
    fn namespace_files(&self) -> NamespaceFiles<'_> {
        NamespaceFiles::new(
            &self.flow.namespace,
            self.host.bundled_files(),
            self.recorder.storage(),
        )
    }

    /// The variables a template sees at this task, beyond the execution's constant ones: only
    /// the roots it reads (a loop over 10,000 values must not copy the outputs and labels for
    /// each), all of them when it can read names it does not show (`render()`, templated map
    /// keys). Which fields `execution`, `taskrun`, ... hold is published in [`crate::context`].
    fn variables(
        &self,
        prop: &Prop,
        frame: &Frame,
        task: Option<(&Task, &str)>,
    ) -> Map<String, Value> {
        let roots = roots(prop);
        let wants = |name: &str| roots.all || roots.names.iter().any(|r| r == name);
        let mut vars = Map::new();
        let shared = self.shared();
        if wants("execution") {
            let mut execution = self.execution_var.clone();
            execution["state"] =
                Value::String(shared.ending.unwrap_or(State::Running).as_str().to_string());
            vars.insert("execution".into(), execution);
        }
        if wants("labels") {
            vars.insert(
                "labels".into(),
                Value::Object(nested_labels(&shared.labels)),
            );
        }
        if wants("outputs") {
            vars.insert("outputs".into(), Value::Object(shared.outputs.clone()));
        }
        if wants("tasks") {
            vars.insert("tasks".into(), Value::Object(shared.states.clone()));
        }
        if let Some(changed) = shared.vars.as_ref().filter(|_| wants("vars")) {
            // Shadows the constant layer's `vars`.
            vars.insert("vars".into(), Value::Object(changed.clone()));
        }
        let Some((task, run_id)) = task else {
            return vars;
        };
        if wants("taskrun") {
            let run = shared.index.get(run_id).map(|&i| &shared.task_runs[i]);
            let mut taskrun = context::object(context::TASKRUN, |name| match name {
                "id" => Value::String(run_id.to_string()),
                // When the task run started (its first attempt), not when this renders.
                "startDate" => Value::String(iso_instant(
                    run.and_then(|r| r.attempts.first())
                        .map_or_else(now_ms, |a| a.started_ms),
                )),
                // Attempts before this one (Kestra counts from 0).
                "attemptsCount" => {
                    Value::from(run.map_or(0, |r| r.attempts.len().saturating_sub(1)))
                }
                "parentId" => frame.parent_run.clone().map_or(Value::Null, Value::String),
                _ => Value::Null,
            });
            if let Some((value, iteration)) = frame.values.last() {
                if let Value::Object(fields) = &mut taskrun {
                    fields.insert("value".into(), value.clone());
                    fields.insert("iteration".into(), Value::from(*iteration));
                }
            }
            vars.insert("taskrun".into(), taskrun);
        }
        if wants("task") {
            let value = context::object(context::TASK, |name| match name {
                "id" => Value::String(task.id.clone()),
                "type" => Value::String(task.type_name.clone()),
                _ => Value::Null,
            });
            vars.insert("task".into(), value);
        }
        if let Some(worker) = frame
            .working_directory
            .as_ref()
            .filter(|_| wants("workerTaskrun"))
        {
            vars.insert("workerTaskrun".into(), worker.clone());
        }
        if let Some(dir) = frame.working_dir.as_ref().filter(|_| wants("workingDir")) {
            vars.insert("workingDir".into(), Value::String(dir.to_string()));
        }
        if let Some(dir) = frame.working_dir.as_ref() {
            if wants("outputDir") {
                let output_dir = workdir::output_dir(Path::new(&**dir), run_id);
                vars.insert(
                    "outputDir".into(),
                    Value::String(output_dir.to_string_lossy().into_owned()),
                );
            }
        }
        // `parent` is the flowable task run above; `parents` all of them, nearest first.
        if let Some(first) = frame.parents.first() {
            if wants("parent") {
                vars.insert("parent".into(), first.clone());
            }
            if wants("parents") {
                vars.insert("parents".into(), Value::Array(frame.parents.clone()));
            }
        }
        vars
    }

    // ---- task runs ---------------------------------------------------------------------------

    /// A new task run, or the prior one this task run takes up (see [`Prior`]), returned too.
    fn create_run(&self, task: &Task, frame: &Frame) -> (String, Option<TaskRun>) {
        let value = frame.values.last().map(|(v, _)| v.clone());
        let mut shared = self.shared();
        let prior = if frame.fresh || shared.prior.is_empty() {
            None
        } else {
            let parent = frame
                .parent_run
                .as_ref()
                .map(|p| shared.taken_up.get(p).map_or(p, |(old, _)| old).clone());
            let key = (
                task.id.clone(),
                parent,
                value.as_ref().map(Value::to_string).unwrap_or_default(),
            );
            shared
                .prior
                .get_mut(&key)
                .and_then(std::collections::VecDeque::pop_front)
        };
        let run = match &prior {
            Some(before) => TaskRun {
                id: if self.same_execution {
                    before.id.clone()
                } else {
                    new_id()
                },
                parent_id: frame.parent_run.clone(),
                ..before.clone()
            },
            None => TaskRun {
                id: new_id(),
                task_id: task.id.clone(),
                parent_id: frame.parent_run.clone(),
                value,
                state: State::Created,
                attempts: Vec::new(),
                outputs: None,
            },
        };
        // Recorded with its first change (running, or skipped): one commit instead of three.
        let id = run.id.clone();
        if let Some(before) = &prior {
            shared
                .taken_up
                .insert(id.clone(), (before.id.clone(), before.state));
        }
        let position = shared.task_runs.len();
        shared.index.insert(id.clone(), position);
        shared.task_runs.push(run);
        (id, prior)
    }

    /// The state a task run had in the prior run it takes up, if it takes one up.
    fn taken_up(&self, run_id: &str) -> Option<State> {
        self.shared().taken_up.get(run_id).map(|(_, state)| *state)
    }

    /// A prior task run that succeeded (or was skipped) is kept: its outputs are read from it
    /// and its task does not run again.
    fn keep(&self, task: &Task, run_id: &str, frame: &Frame, prior: &TaskRun) -> State {
        if let Some(outputs) = &prior.outputs {
            self.set_outputs(run_id, &task.id, frame, outputs.clone());
        }
        self.finish(run_id, &task.id, prior.state, None);
        prior.state
    }

    fn with_run(&self, run_id: &str, change: impl FnOnce(&mut TaskRun)) {
        let snapshot = {
            let mut shared = self.shared();
            let Some(&i) = shared.index.get(run_id) else {
                return;
            };
            change(&mut shared.task_runs[i]);
            shared.task_runs[i].clone()
        };
        self.recorder.task_run(&self.id, &snapshot);
    }

    fn set_state(&self, run_id: &str, state: State) {
        self.with_run(run_id, |run| run.state = state);
    }

    /// Close the current attempt; recorded with the task run's end state (one commit).
    fn end_attempt(&self, run_id: &str, state: State) {
        let mut shared = self.shared();
        let Some(&i) = shared.index.get(run_id) else {
            return;
        };
        if let Some(attempt) = shared.task_runs[i].attempts.last_mut() {
            attempt.state = state;
            attempt.ended_ms = now_ms();
        }
    }

    fn finish(&self, run_id: &str, task_id: &str, state: State, outputs: Option<Value>) {
        self.with_run(run_id, |run| {
            run.state = state;
            if outputs.is_some() {
                run.outputs = outputs;
            }
        });
        self.shared()
            .states
            .insert(task_id.to_string(), json!({ "state": state.as_str() }));
    }

    /// The end state after `allowFailure` (a failure becomes WARNING) and `allowWarning`
    /// (a warning becomes SUCCESS).
    fn end(&self, task: &Task, run_id: &str, state: State) -> State {
        let mut state = state;
        if task.allow_failure && state == State::Failed {
            state = State::Warning;
        }
        if task.allow_warning && state == State::Warning {
            state = State::Success;
        }
        self.finish(run_id, &task.id, state, None);
        state
    }

    /// Store a task run's outputs, keyed by its loop values as Kestra does
    /// (`outputs.task[value].…`).
    fn set_outputs(&self, run_id: &str, task_id: &str, frame: &Frame, outputs: Value) {
        // Recorded with the task run's end state.
        let mut shared = self.shared();
        if let Some(&i) = shared.index.get(run_id) {
            // Recorded and printed masked; later tasks read them as they are.
            let masked = shared.mask_value(&outputs);
            shared.task_runs[i].outputs = Some(masked);
        }
        let mut slot = shared
            .outputs
            .entry(task_id.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        for (value, _) in &frame.values {
            let key = expr::value::to_display_string(value);
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            slot = slot
                .as_object_mut()
                .expect("just made an object")
                .entry(key)
                .or_insert_with(|| Value::Object(Map::new()));
        }
        *slot = outputs;
    }

    fn log(&self, run_id: Option<&str>, level: Level, message: &str) {
        let message = &self.shared().mask(message);
        let at = now_ms();
        let task_id = run_id
            .and_then(|id| {
                let shared = self.shared();
                shared
                    .index
                    .get(id)
                    .map(|&i| shared.task_runs[i].task_id.clone())
            })
            .unwrap_or_default();
        if self.echo_logs {
            // One write per line (stderr is unbuffered: `eprintln!` writes each piece).
            use std::io::Write as _;
            let line = crate::execution::stderr_line(
                at,
                level.as_str(),
                Some(&self.id),
                &task_id,
                message,
            );
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
        if level == Level::Error {
            self.shared().error_logs.push(json!({
                "taskId": task_id,
                "taskRunId": run_id,
                "level": "ERROR",
                "message": message,
                "timestamp": iso_instant(at),
            }));
        }
        self.recorder
            .log(&self.id, run_id.unwrap_or(""), level, message, at);
    }
}

/// What a running task sees of its execution (see [`TaskContext`]).
struct TaskPort<'e, 'f> {
    executor: &'e Executor<'f>,
    task: &'e Task,
    run_id: &'e str,
    frame: &'e Frame,
}

impl tasks::Port for TaskPort<'_, '_> {
    fn log(&self, level: Level, message: &str) {
        // `logLevel`: lines below the task's level are not kept.
        if self.task.log_level.is_some_and(|min| level < min) {
            return;
        }
        self.executor.log(Some(self.run_id), level, message);
    }
    fn render(&self, template: &str) -> Result<Value, String> {
        let prop = Prop::text(template)?;
        self.executor
            .render(&prop, self.task, self.run_id, self.frame)
    }
    fn render_with(&self, template: &str, extra: &Map<String, Value>) -> Result<Value, String> {
        let prop = Prop::text(template)?;
        let executor = self.executor;
        let mut vars = executor.variables(&prop, self.frame, Some((self.task, self.run_id)));
        vars.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        prop.render_layered(&vars, &executor.constant_vars, &executor.host())
            .map_err(|e| executor.describe(&e))
    }
    fn secret(&self, name: &str) -> Result<String, String> {
        self.executor.host().secret(name)
    }
    fn kv(&self, namespace: Option<&str>, key: &str) -> Result<Option<Value>, String> {
        self.executor.host().kv(namespace, key)
    }
    fn kv_set(&self, write: &KvWrite<'_>) -> Result<(), String> {
        // The KV store is plain text on disk, and secrets never reach the state.
        if self.holds_secret(&write.value.to_string()) {
            return Err(format!(
                "the value for the KV key `{}` holds a secret; the KV store keeps values in plain text, so it is not written",
                write.key
            ));
        }
        self.executor.recorder.kv_store().kv_set(write)
    }
    fn set_variables(&self, variables: Map<String, Value>, overwrite: bool) -> Result<(), String> {
        let mut shared = self.executor.shared();
        let mut current = shared
            .vars
            .clone()
            .unwrap_or_else(|| self.executor.flow.variables.clone());
        for (name, value) in variables {
            if !overwrite && current.contains_key(&name) {
                return Err(format!(
                    "the variable `{name}` exists and `overwrite` is false"
                ));
            }
            current.insert(name, value);
        }
        shared.vars = Some(current);
        Ok(())
    }
    fn unset_variables(&self, names: &[String], ignore_missing: bool) -> Result<(), String> {
        let mut shared = self.executor.shared();
        let mut current = shared
            .vars
            .clone()
            .unwrap_or_else(|| self.executor.flow.variables.clone());
        for name in names {
            if current.remove(name).is_none() && !ignore_missing {
                return Err(format!(
                    "there is no variable `{name}` to unset (`ignoreMissing: true` allows it)"
                ));
            }
        }
        shared.vars = Some(current);
        Ok(())
    }
    fn holds_secret(&self, text: &str) -> bool {
        let shared = self.executor.shared();
        !shared.secrets.is_empty() && shared.mask(text) != text
    }
    fn flow_id(&self) -> &str {
        &self.executor.flow.id
    }
    fn storage(&self) -> Option<&Storage> {
        self.executor.recorder.storage()
    }
    fn namespace_files(&self) -> NamespaceFiles<'_> {
        self.executor.namespace_files()
    }
    fn working_dir(&self) -> Option<&str> {
        self.frame.working_dir.as_deref()
    }
    fn history(&self) -> Option<&dyn History> {
        self.executor.recorder.history()
    }
    fn kv_keys(&self, namespace: &str, prefix: &str) -> Result<Vec<String>, String> {
        self.executor.recorder.kv_store().kv_keys(namespace, prefix)
    }
    fn kv_delete(&self, namespace: &str, key: &str) -> Result<bool, String> {
        self.executor.recorder.kv_store().kv_delete(namespace, key)
    }
    fn namespace(&self) -> &str {
        &self.executor.flow.namespace
    }
    fn add_labels(&self, labels: Map<String, Value>) {
        self.executor.shared().labels.extend(labels);
    }
    fn labels(&self) -> Map<String, Value> {
        self.executor.shared().labels.clone()
    }
    fn subflows(&self) -> Option<&dyn crate::launch::Subflows> {
        self.executor.subflows.as_ref().map(|s| s.0.as_ref())
    }
    fn echo_logs(&self) -> bool {
        self.executor.echo_logs
    }
    fn exit(&self, state: State) {
        self.executor.shared().exit = Some(state);
    }
    fn execution_id(&self) -> &str {
        &self.executor.id
    }
    fn task_id(&self) -> &str {
        &self.task.id
    }
    fn task_run_id(&self) -> &str {
        self.run_id
    }
    fn parent_task_run_id(&self) -> Option<&str> {
        self.frame.parent_run.as_deref()
    }
}

/// The variables that stay the same for a whole execution.
fn constant_vars(
    flow: &Flow,
    inputs: &Map<String, Value>,
    revision: i64,
    trigger: Option<&Value>,
) -> Map<String, Value> {
    let mut vars = Map::new();
    let flow_var = context::object(context::FLOW, |name| match name {
        "id" => Value::String(flow.id.clone()),
        "namespace" => Value::String(flow.namespace.clone()),
        // Kestra's open-source edition has one tenant, `main`.
        "tenantId" => Value::String("main".into()),
        "revision" => Value::from(revision),
        _ => Value::Null,
    });
    vars.insert("flow".into(), flow_var);
    vars.insert("inputs".into(), Value::Object(inputs.clone()));
    vars.insert("vars".into(), Value::Object(flow.variables.clone()));
    vars.insert("envs".into(), envs());
    vars.insert("globals".into(), Value::Object(Map::new()));
    vars.insert("kestra".into(), kestra());
    if let Some(trigger) = trigger {
        vars.insert("trigger".into(), trigger.clone());
    }
    vars
}

/// `kestra`: the server settings Kestra exposes, from `KESTRA_URL` and `KESTRA_ENVIRONMENT`.
fn kestra() -> Value {
    context::object(context::KESTRA, |name| {
        let variable = match name {
            "url" => "KESTRA_URL",
            "environment" => "KESTRA_ENVIRONMENT",
            _ => return Value::Null,
        };
        std::env::var(variable).map_or(Value::Null, Value::String)
    })
}

/// `envs`: the `KESTRA_*` environment variables, lower-cased without the prefix, as Kestra
/// exposes them.
fn envs() -> Value {
    Value::Object(
        std::env::vars()
            .filter_map(|(k, v)| {
                Some((k.strip_prefix("KESTRA_")?.to_lowercase(), Value::String(v)))
            })
            .collect(),
    )
}

/// Tasks that finish without waiting on the clock, a process or the network.
fn is_instant(task: &Task) -> bool {
    tasks::implementation(&task.type_name).is_some_and(tasks::DynTask::instant)
}

fn is_flowable(kind: &TaskKind) -> bool {
    !matches!(kind, TaskKind::Run { .. })
}

/// The top-level variable names a property's templates read.
struct Roots {
    names: Vec<String>,
    /// The property calls a function that reads variables it does not name (`render()`,
    /// `currentEachOutput()`, ...), or has templated map keys: it may read any variable.
    all: bool,
}

fn roots(prop: &Prop) -> Roots {
    let mut roots = Roots {
        names: Vec::new(),
        all: false,
    };
    let mut templates = Vec::new();
    prop.templates(&mut templates);
    for template in templates {
        walk::exprs(template.template(), &mut |e| match &e.kind {
            expr::ExprKind::Var(name) if !roots.names.contains(name) => {
                roots.names.push(name.clone());
            }
            expr::ExprKind::Function(call)
                if expr::library::function(&call.name.name)
                    .is_some_and(|f| f.signature.reads_context) =>
            {
                roots.all = true;
            }
            _ => {}
        });
    }
    fn templated_keys(prop: &Prop) -> bool {
        match prop {
            Prop::Map(entries) => entries
                .iter()
                .any(|(k, p)| expr::is_template(k) || templated_keys(p)),
            Prop::List(items) => items.iter().any(templated_keys),
            _ => false,
        }
    }
    roots.all |= templated_keys(prop);
    roots
}

/// Kestra's truth for rendered conditions (`runIf`, `If.condition`): false for `false`, `0`,
/// `-0`, an empty string and null; everything else is true.
pub fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => {
            let s = s.trim();
            !(s.is_empty() || s.eq_ignore_ascii_case("false") || s == "0" || s == "-0")
        }
        _ => true,
    }
}

/// `ForEach.values`: a list, or a string holding a JSON list. Values that are not strings
/// become their JSON text, as Kestra's `taskrun.value` does.
fn loop_values(rendered: Value) -> Result<Vec<Value>, String> {
    let list = match rendered {
        Value::Array(items) => items,
        Value::String(text) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Array(items)) => items,
            _ => {
                return Err(format!(
                    "values must be a list or a JSON list, not `{text}`"
                ))
            }
        },
        other => {
            return Err(format!(
                "values must be a list, not {}",
                expr::value::describe(&other)
            ))
        }
    };
    if list.iter().any(Value::is_null) {
        return Err("values cannot contain null".into());
    }
    Ok(list
        .into_iter()
        .map(|item| match item {
            Value::String(s) => Value::String(s),
            other => Value::String(expr::value::to_json(&other)),
        })
        .collect())
}

/// A `retry` as it applies to one attempt: every duration known.
struct RetryPolicy {
    kind: RetryKind,
    interval: Duration,
    max_interval: Option<Duration>,
    max_attempt: Option<u32>,
    max_duration: Option<Duration>,
    delay_factor: Option<f64>,
}

impl RetryPolicy {
    /// The wait before the next attempt, or `None` when the policy is exhausted.
    fn next(&self, attempts_made: u32, elapsed: Duration) -> Option<Duration> {
        let retry = self;
        if retry.max_attempt.is_some_and(|max| attempts_made >= max) {
            return None;
        }
        let wait = match retry.kind {
            RetryKind::Constant => retry.interval,
            RetryKind::Exponential => {
                let factor = retry.delay_factor.unwrap_or(2.0);
                let exponent = i32::try_from(attempts_made.saturating_sub(1)).unwrap_or(i32::MAX);
                // Saturates instead of overflowing after many attempts.
                let wait = Duration::try_from_secs_f64(
                    retry.interval.as_secs_f64() * factor.powi(exponent),
                )
                .unwrap_or(Duration::MAX);
                retry.max_interval.map_or(wait, |max| wait.min(max))
            }
            RetryKind::Random => {
                let low = retry.interval;
                let high = retry.max_interval.unwrap_or(low).max(low);
                let mut byte = [0u8; 8];
                let _ = getrandom::fill(&mut byte);
                #[allow(clippy::cast_precision_loss)]
                let fraction = u64::from_le_bytes(byte) as f64 / u64::MAX as f64;
                low + high.saturating_sub(low).mul_f64(fraction)
            }
        };
        if retry
            .max_duration
            .is_some_and(|max| elapsed.saturating_add(wait) > max)
        {
            return None;
        }
        if retry.max_attempt.is_none() && retry.max_duration.is_none() {
            // Kestra requires one of the two; never retry forever.
            return None;
        }
        Some(wait)
    }
}

/// `00:00:00.100`, as Kestra logs a timeout.
fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An exponential retry after many attempts saturates instead of overflowing.
    #[test]
    fn exponential_waits_saturate() {
        let policy = RetryPolicy {
            kind: RetryKind::Exponential,
            interval: Duration::from_secs(1),
            max_interval: None,
            max_attempt: Some(u32::MAX),
            max_duration: Some(Duration::from_secs(3600)),
            delay_factor: Some(10.0),
        };
        assert_eq!(policy.next(1, Duration::ZERO), Some(Duration::from_secs(1)));
        assert_eq!(
            policy.next(2, Duration::ZERO),
            Some(Duration::from_secs(10))
        );
        // 10^999 seconds: past any maxDuration, and no panic on the way.
        assert_eq!(policy.next(1000, Duration::ZERO), None);
        let capped = RetryPolicy {
            max_interval: Some(Duration::from_secs(60)),
            max_duration: None,
            ..policy
        };
        assert_eq!(
            capped.next(1000, Duration::MAX),
            Some(Duration::from_secs(60))
        );
    }
}
