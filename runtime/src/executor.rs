//! The executor: walks a [`Flow`]'s tasks with Kestra's semantics — sequential branches that stop
//! at the first failure, `errors` then `finally`, retries and timeouts per attempt,
//! `allowFailure`/`allowWarning`, `runIf`, concurrent branches, loops whose task runs carry a
//! value — and records every task run, attempt, output and log line through a [`Recorder`].
//!
//! One thread: branches run concurrently as futures on the current thread (tasks wait on the
//! clock, processes and I/O, not the CPU), so the shared state needs no locks.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::execution::{new_id, now_ms, Attempt, State, Summary, TaskRun};
use crate::expr::{self, walk, Host};
use crate::plan::{Flow, Level, Prop, Retry, RetryKind, Task, TaskKind};
use crate::tasks;

/// Where an execution's progress goes: the state store, or nowhere.
pub trait Recorder {
    fn execution_started(
        &self,
        _id: &str,
        _flow: &Flow,
        _inputs: &Map<String, Value>,
        _started_ms: u64,
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
}

/// Records nothing (tests, benchmarks).
pub struct NoRecorder;

impl Recorder for NoRecorder {}

/// What one execution is started with.
pub struct Launch {
    pub inputs: Map<String, Value>,
    pub labels: Map<String, Value>,
    /// Print log lines to stderr.
    pub echo_logs: bool,
    /// Which execution of a `retry: {behavior: CREATE_NEW_EXECUTION}` chain this is (1 for the
    /// first), and how long ago the chain's first execution started.
    pub attempt: u32,
    pub chain_elapsed: Duration,
}

impl Launch {
    /// A first execution.
    pub fn new(inputs: Map<String, Value>, labels: Map<String, Value>, echo_logs: bool) -> Launch {
        Launch {
            inputs,
            labels,
            echo_logs,
            attempt: 1,
            chain_elapsed: Duration::ZERO,
        }
    }
}

type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

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
}

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
}

/// The host templates see during an execution: the binary's host, plus this execution's logs.
struct ExecutionHost<'a> {
    base: &'a dyn Host,
    shared: &'a RefCell<Shared>,
}

impl Host for ExecutionHost<'_> {
    fn secret(&self, key: &str) -> Result<String, String> {
        self.base.secret(key)
    }
    fn kv(&self, namespace: Option<&str>, key: &str) -> Result<Option<Value>, String> {
        self.base.kv(namespace, key)
    }
    fn read(&self, path: &str) -> Result<String, String> {
        self.base.read(path)
    }
    fn now(&self) -> jiff::Timestamp {
        self.base.now()
    }
    fn file_size(&self, path: &str) -> Result<u64, String> {
        self.base.file_size(path)
    }
    fn file_exists(&self, path: &str) -> Result<bool, String> {
        self.base.file_exists(path)
    }
    fn error_logs(&self) -> Result<Value, String> {
        Ok(Value::Array(self.shared.borrow().error_logs.clone()))
    }
}

pub struct Executor<'f> {
    flow: &'f Flow,
    host: &'f dyn Host,
    recorder: &'f dyn Recorder,
    id: String,
    started_ms: u64,
    /// `flow` and `execution` as templates see them: fixed for the whole execution.
    flow_var: Value,
    execution_var: Value,
    inputs: Map<String, Value>,
    vars: Value,
    echo_logs: bool,
    attempt: u32,
    chain_elapsed: Duration,
    shared: RefCell<Shared>,
}

/// Run one execution to its end.
pub fn run(flow: &Flow, launch: Launch, host: &dyn Host, recorder: &dyn Recorder) -> Summary {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread tokio runtime can always be built");
    let executor = Executor::new(flow, launch, host, recorder);
    runtime.block_on(executor.execute())
}

impl<'f> Executor<'f> {
    fn new(flow: &'f Flow, launch: Launch, host: &'f dyn Host, recorder: &'f dyn Recorder) -> Self {
        let started_ms = now_ms();
        let mut labels: Map<String, Value> = flow
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        labels.extend(launch.labels);
        let id = new_id();
        // Kestra links an execution and the ones it starts with this label; a first execution
        // is its own correlation.
        labels
            .entry("system.correlationId".to_string())
            .or_insert_with(|| Value::String(id.clone()));
        Executor {
            flow,
            host,
            recorder,
            flow_var: json!({ "id": flow.id, "namespace": flow.namespace, "revision": 1 }),
            execution_var: json!({ "id": id, "startDate": iso_instant(started_ms), "originalId": id }),
            id,
            started_ms,
            inputs: launch.inputs,
            vars: Value::Object(flow.variables.clone()),
            echo_logs: launch.echo_logs,
            attempt: launch.attempt,
            chain_elapsed: launch.chain_elapsed,
            shared: RefCell::new(Shared {
                task_runs: Vec::new(),
                index: HashMap::new(),
                outputs: Map::new(),
                labels,
                states: Map::new(),
                exit: None,
                error_logs: Vec::new(),
                retry_execution: None,
            }),
        }
    }

    async fn execute(self) -> Summary {
        self.recorder
            .execution_started(&self.id, self.flow, &self.inputs, self.started_ms);
        let root = Frame::default();
        let mut state = self.branch(&self.flow.tasks, &root).await;
        if state.is_failure() && !self.flow.errors.is_empty() {
            self.branch_ignoring_exit(&self.flow.errors, &root).await;
        }
        if !self.flow.finally.is_empty() {
            let finally = self.branch_ignoring_exit(&self.flow.finally, &root).await;
            state = state.worst(finally);
        }
        if let Some(exit) = self.shared.borrow().exit {
            state = exit;
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
        if !self.flow.after_execution.is_empty() {
            self.branch_ignoring_exit(&self.flow.after_execution, &root)
                .await;
        }
        let shared = self.shared.borrow();
        // A failure that will be retried as a new execution ends this one RETRIED.
        let retry_after = shared.retry_execution.filter(|_| state.is_failure());
        if retry_after.is_some() {
            state = State::Retried;
        }
        let summary = Summary {
            id: self.id.clone(),
            state,
            retry_after,
            outputs,
            labels: shared.labels.clone(),
            duration_ms: now_ms().saturating_sub(self.started_ms),
            task_runs: shared.task_runs.clone(),
        };
        self.recorder.execution_ended(&summary);
        summary
    }

    fn flow_outputs(&self) -> Result<Map<String, Value>, String> {
        let mut values = Map::new();
        for output in &self.flow.outputs {
            let vars = self.variables(&output.value, &Frame::default(), None);
            let rendered = output
                .value
                .render(&vars, &self.host())
                .map_err(|e| format!("output `{}`: {e}", output.id))?;
            let typed = crate::inputs::coerce_output(output.ty, rendered)
                .map_err(|e| format!("output `{}`: {e}", output.id))?;
            values.insert(output.id.clone(), typed);
        }
        Ok(values)
    }

    /// Tasks one after another; a failure stops the branch. Stops early after `Exit`.
    fn branch<'a>(&'a self, tasks: &'a [Task], frame: &'a Frame) -> LocalFuture<'a, State> {
        Box::pin(async move {
            let mut state = State::Success;
            for task in tasks {
                if self.shared.borrow().exit.is_some() {
                    break;
                }
                let result = self.task(task, frame).await;
                state = state.worst(result);
                if result.is_failure() {
                    break;
                }
            }
            state
        })
    }

    /// `errors`, `finally` and `afterExecution` run even after `Exit`.
    async fn branch_ignoring_exit(&self, tasks: &[Task], frame: &Frame) -> State {
        let exit = self.shared.borrow_mut().exit.take();
        let state = self.branch(tasks, frame).await;
        let mut shared = self.shared.borrow_mut();
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
        let semaphore = Rc::new(tokio::sync::Semaphore::new(if limit == 0 {
            tokio::sync::Semaphore::MAX_PERMITS
        } else {
            limit
        }));
        let failed = Rc::new(std::cell::Cell::new(false));
        let runs = jobs.map(|job| {
            let semaphore = Rc::clone(&semaphore);
            let failed = Rc::clone(&failed);
            async move {
                let _permit = semaphore.acquire().await.ok();
                if failed.get() || self.shared.borrow().exit.is_some() {
                    return State::Success;
                }
                let state = job.await;
                if state.is_failure() {
                    failed.set(true);
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
    fn task<'a>(&'a self, task: &'a Task, frame: &'a Frame) -> LocalFuture<'a, State> {
        Box::pin(async move {
            let run_id = self.create_run(task, frame);
            if let Some(run_if) = &task.run_if {
                let vars = self.variables(run_if, frame, Some((task, &run_id)));
                match run_if.render(&vars, &self.host()) {
                    Ok(value) if !is_truthy(&value) => {
                        self.finish(&run_id, &task.id, State::Skipped, None);
                        return State::Skipped;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        self.log(Some(&run_id), Level::Error, &format!("runIf: {e}"));
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
        let working_directory = if matches!(task.kind, TaskKind::WorkingDirectory { .. }) {
            Some(
                json!({ "id": run_id, "taskId": task.id, "value": frame.values.last().map(|(v, _)| v.clone()) }),
            )
        } else {
            frame.working_directory.clone()
        };
        let inner = Frame {
            parent_run: Some(run_id.to_string()),
            values: frame.values.clone(),
            parents,
            working_directory,
        };
        let mut state = match &task.kind {
            TaskKind::Sequential { tasks } | TaskKind::WorkingDirectory { tasks } => {
                self.branch(tasks, &inner).await
            }
            TaskKind::Parallel { tasks, concurrent } => {
                self.concurrently(tasks, &inner, *concurrent).await
            }
            TaskKind::If {
                condition,
                then,
                otherwise,
            } => match self.render(condition, task, run_id, frame) {
                Ok(value) => {
                    let branch = if is_truthy(&value) { then } else { otherwise };
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
            TaskKind::Pause { delay, tasks } => match delay {
                None => {
                    self.log(
                        Some(run_id),
                        Level::Error,
                        "a Pause without `delay` waits for a manual resume, which this runtime cannot do yet",
                    );
                    State::Failed
                }
                Some(delay) => match self
                    .render(delay, task, run_id, frame)
                    .and_then(|d| tasks::duration(&d))
                {
                    Ok(delay) => {
                        self.set_state(run_id, State::Paused);
                        tokio::time::sleep(delay).await;
                        self.set_state(run_id, State::Running);
                        self.branch(tasks, &inner).await
                    }
                    Err(message) => {
                        self.log(Some(run_id), Level::Error, &format!("delay: {message}"));
                        State::Failed
                    }
                },
            },
            _ => unreachable!("only flowable kinds reach here"),
        };
        if state.is_failure() && !task.errors.is_empty() {
            self.branch_ignoring_exit(&task.errors, &inner).await;
        }
        if !task.finally.is_empty() {
            let finally = self.branch_ignoring_exit(&task.finally, &inner).await;
            state = state.worst(finally);
        }
        state
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
            if is_instant(&task.kind) {
                let mut shared = self.shared.borrow_mut();
                if let Some(&i) = shared.index.get(run_id) {
                    start(&mut shared.task_runs[i]);
                }
            } else {
                self.with_run(run_id, start);
            }
            let work = self.runnable(task, run_id, frame);
            let result = match task.timeout {
                Some(limit) => match tokio::time::timeout(limit, work).await {
                    Ok(result) => result,
                    Err(_) => Err(format!("Timeout after {}", human_duration(limit))),
                },
                None => work.await,
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
            let retryable = state == State::Failed
                || (state == State::Warning && task.retry.is_some_and(|r| r.warning_on_retry));
            if let Some(retry) = task.retry.filter(|r| r.new_execution && retryable) {
                // The whole execution is retried, as a new one, by whoever launched it.
                let elapsed = self.chain_elapsed + first.elapsed();
                if let Some(wait) = next_retry(&retry, self.attempt, elapsed) {
                    self.shared.borrow_mut().retry_execution = Some(wait);
                }
                return state;
            }
            let Some(wait) = task
                .retry
                .filter(|_| retryable)
                .and_then(|retry| next_retry(&retry, attempt, first.elapsed()))
            else {
                return state;
            };
            self.set_state(run_id, State::Retrying);
            tokio::time::sleep(wait).await;
        }
    }

    /// A runnable task's work for one attempt.
    async fn runnable(
        &self,
        task: &Task,
        run_id: &str,
        frame: &Frame,
    ) -> Result<tasks::Outcome, String> {
        let render = |prop: &Prop| self.render(prop, task, run_id, frame);
        match &task.kind {
            TaskKind::Log { message, level } => {
                let value = render(message)?;
                let lines = match value {
                    Value::Array(items) => {
                        items.iter().map(expr::value::to_display_string).collect()
                    }
                    other => vec![expr::value::to_display_string(&other)],
                };
                for line in lines {
                    self.log(Some(run_id), *level, &line);
                }
                Ok(tasks::Outcome::success(None))
            }
            TaskKind::Return { format } => {
                let value = match format {
                    Some(format) => render(format)?,
                    None => Value::Null,
                };
                Ok(tasks::Outcome::success(Some(json!({ "value": value }))))
            }
            TaskKind::OutputValues { values } => {
                let values = render(values)?;
                Ok(tasks::Outcome::success(Some(json!({ "values": values }))))
            }

            TaskKind::Sleep { duration } => {
                let duration = tasks::duration(&render(duration)?)?;
                tokio::time::sleep(duration).await;
                Ok(tasks::Outcome::success(None))
            }
            TaskKind::Fail { condition, message } => {
                if let Some(condition) = condition {
                    if !is_truthy(&render(condition)?) {
                        return Ok(tasks::Outcome::success(None));
                    }
                }
                let message = match message {
                    Some(message) => expr::value::to_display_string(&render(message)?),
                    None => "Task failure".to_string(),
                };
                Err(message)
            }
            TaskKind::Exit { state } => {
                let text = expr::value::to_display_string(&render(state)?);
                let state = match text.as_str() {
                    "" | "SUCCESS" => State::Success,
                    "WARNING" => State::Warning,
                    "KILLED" => State::Killed,
                    "FAILED" => State::Failed,
                    other => {
                        return Err(format!(
                            "Exit `state` must be SUCCESS, WARNING, KILLED or FAILED, not {other}"
                        ))
                    }
                };
                self.shared.borrow_mut().exit = Some(state);
                Ok(tasks::Outcome::success(None))
            }
            TaskKind::Labels { labels } => {
                let added = tasks::labels(render(labels)?)?;
                self.shared.borrow_mut().labels.extend(added);
                Ok(tasks::Outcome::success(None))
            }
            TaskKind::Unsupported => Err(format!(
                "task type `{}` is not supported by this kflow runtime yet",
                task.type_name
            )),
            _ => unreachable!("flowable kinds run in `flowable`"),
        }
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
        prop.render(&vars, &self.host()).map_err(|e| e.message)
    }

    fn host(&self) -> ExecutionHost<'_> {
        ExecutionHost {
            base: self.host,
            shared: &self.shared,
        }
    }

    /// The variables a template sees at this task. `outputs` and `tasks` are copied only when
    /// the template reads them (a loop over 10,000 values must not copy 10,000 outputs each time).
    fn variables(
        &self,
        prop: &Prop,
        frame: &Frame,
        task: Option<(&Task, &str)>,
    ) -> Map<String, Value> {
        let roots = roots(prop);
        let wants = |name: &str| roots.iter().any(|r| r == name);
        let mut vars = Map::new();
        vars.insert("flow".into(), self.flow_var.clone());
        vars.insert("execution".into(), self.execution_var.clone());
        vars.insert("inputs".into(), Value::Object(self.inputs.clone()));
        if wants("envs") {
            vars.insert("envs".into(), envs());
        }
        vars.insert("vars".into(), self.vars.clone());
        let shared = self.shared.borrow();
        vars.insert("labels".into(), Value::Object(shared.labels.clone()));
        if wants("outputs") {
            vars.insert("outputs".into(), Value::Object(shared.outputs.clone()));
        }
        if wants("tasks") {
            vars.insert("tasks".into(), Value::Object(shared.states.clone()));
        }
        if let Some((task, run_id)) = task {
            let mut taskrun = Map::new();
            taskrun.insert("id".into(), Value::String(run_id.to_string()));
            // When the task run started (its first attempt), not when this template renders.
            let started = shared
                .index
                .get(run_id)
                .and_then(|&i| shared.task_runs[i].attempts.first())
                .map_or_else(now_ms, |a| a.started_ms);
            taskrun.insert("startDate".into(), Value::String(iso_instant(started)));
            taskrun.insert(
                "attemptsCount".into(),
                Value::from(
                    shared
                        .index
                        .get(run_id)
                        // Attempts before this one (Kestra counts from 0).
                        .map_or(0, |&i| shared.task_runs[i].attempts.len().saturating_sub(1)),
                ),
            );
            if let Some(parent) = &frame.parent_run {
                taskrun.insert("parentId".into(), Value::String(parent.clone()));
            }
            if let Some((value, iteration)) = frame.values.last() {
                taskrun.insert("value".into(), value.clone());
                taskrun.insert("iteration".into(), Value::from(*iteration));
            }
            vars.insert("taskrun".into(), Value::Object(taskrun));
            vars.insert(
                "task".into(),
                json!({ "id": task.id, "type": task.type_name }),
            );
            if let Some(worker) = &frame.working_directory {
                vars.insert("workerTaskrun".into(), worker.clone());
            }
            // `parent` is the flowable task run above; `parents` all of them, nearest first.
            if let Some(first) = frame.parents.first() {
                vars.insert("parent".into(), first.clone());
                vars.insert("parents".into(), Value::Array(frame.parents.clone()));
            }
        }
        vars
    }

    // ---- task runs ---------------------------------------------------------------------------

    fn create_run(&self, task: &Task, frame: &Frame) -> String {
        let run = TaskRun {
            id: new_id(),
            task_id: task.id.clone(),
            parent_id: frame.parent_run.clone(),
            value: frame.values.last().map(|(v, _)| v.clone()),
            state: State::Created,
            attempts: Vec::new(),
            outputs: None,
        };
        // Recorded with its first change (running, or skipped): one commit instead of three.
        let id = run.id.clone();
        let mut shared = self.shared.borrow_mut();
        let position = shared.task_runs.len();
        shared.index.insert(id.clone(), position);
        shared.task_runs.push(run);
        id
    }

    fn with_run(&self, run_id: &str, change: impl FnOnce(&mut TaskRun)) {
        let snapshot = {
            let mut shared = self.shared.borrow_mut();
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
        let mut shared = self.shared.borrow_mut();
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
        self.shared
            .borrow_mut()
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
        let mut shared = self.shared.borrow_mut();
        if let Some(&i) = shared.index.get(run_id) {
            shared.task_runs[i].outputs = Some(outputs.clone());
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
        let at = now_ms();
        let task_id = run_id
            .and_then(|id| {
                let shared = self.shared.borrow();
                shared
                    .index
                    .get(id)
                    .map(|&i| shared.task_runs[i].task_id.clone())
            })
            .unwrap_or_default();
        if self.echo_logs {
            // One write per line (stderr is unbuffered: `eprintln!` writes each piece).
            use std::io::Write as _;
            let line = format!(
                "{} {:<5} {task_id} {message}\n",
                iso_instant(at),
                level.as_str()
            );
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
        if level == Level::Error {
            self.shared.borrow_mut().error_logs.push(json!({
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
fn is_instant(kind: &TaskKind) -> bool {
    matches!(
        kind,
        TaskKind::Log { .. }
            | TaskKind::Return { .. }
            | TaskKind::OutputValues { .. }
            | TaskKind::Fail { .. }
            | TaskKind::Exit { .. }
            | TaskKind::Labels { .. }
            | TaskKind::Unsupported
    )
}

fn is_flowable(kind: &TaskKind) -> bool {
    matches!(
        kind,
        TaskKind::Sequential { .. }
            | TaskKind::WorkingDirectory { .. }
            | TaskKind::Parallel { .. }
            | TaskKind::If { .. }
            | TaskKind::Switch { .. }
            | TaskKind::ForEach { .. }
            | TaskKind::Pause { .. }
    )
}

/// The top-level variable names a property's templates read.
fn roots(prop: &Prop) -> Vec<String> {
    let mut names = Vec::new();
    let mut visit = |p: &Prop| {
        if let Prop::Template(template) = p {
            walk::exprs(&template.1, &mut |e| {
                if let expr::ExprKind::Var(name) = &e.kind {
                    if !names.contains(name) {
                        names.push(name.clone());
                    }
                }
            });
        }
    };
    fn each(p: &Prop, f: &mut dyn FnMut(&Prop)) {
        f(p);
        match p {
            Prop::List(items) => items.iter().for_each(|i| each(i, f)),
            Prop::Map(entries) => entries.iter().for_each(|(_, i)| each(i, f)),
            _ => {}
        }
    }
    each(prop, &mut visit);
    names
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

/// The wait before the next attempt, or `None` when the retry policy is exhausted.
fn next_retry(retry: &Retry, attempts_made: u32, elapsed: Duration) -> Option<Duration> {
    if retry.max_attempt.is_some_and(|max| attempts_made >= max) {
        return None;
    }
    let wait = match retry.kind {
        RetryKind::Constant => retry.interval,
        RetryKind::Exponential => {
            let factor = retry.delay_factor.unwrap_or(2.0);
            let exponent = i32::try_from(attempts_made.saturating_sub(1)).unwrap_or(i32::MAX);
            let wait = retry.interval.mul_f64(factor.powi(exponent));
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
    if retry.max_duration.is_some_and(|max| elapsed + wait > max) {
        return None;
    }
    if retry.max_attempt.is_none() && retry.max_duration.is_none() {
        // Kestra requires one of the two; never retry forever.
        return None;
    }
    Some(wait)
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

/// Milliseconds since the epoch as an ISO-8601 instant (`2024-01-01T10:00:00.123Z`).
pub fn iso_instant(ms: u64) -> String {
    let ts = jiff::Timestamp::from_millisecond(i64::try_from(ms).unwrap_or(i64::MAX))
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}
