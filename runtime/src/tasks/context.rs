//! The API a task type implements: [`Task`] on its properties struct, run with a
//! [`TaskContext`]. Rust plugins will implement the same trait.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::execution::State;
use crate::history::History;
use crate::kv::KvWrite;
use crate::namespace_files::NamespaceFiles;
use crate::plan::Level;
use crate::storage::Storage;
use std::io::Read;

/// A runnable task type. `Self` is its properties struct, deserialized from the task's
/// properties after their templates are rendered (unknown fields are refused, so every
/// property the definition declares must be a field).
pub trait Task: DeserializeOwned + Send + Sync + 'static {
    /// What `outputs.<id>.*` holds (`()` for none); it must match the definition's outputs.
    type Output: Serialize + Send;

    /// The task finishes without waiting on the clock, a process or the network, so its
    /// start need not be committed separately from its end.
    const INSTANT: bool = false;

    /// One attempt. An error fails the attempt (retries and `allowFailure` apply).
    fn run(
        &self,
        ctx: &mut TaskContext<'_>,
    ) -> impl Future<Output = Result<Self::Output, TaskError>> + Send;
}

/// Why an attempt failed: logged as an ERROR line of the task run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskError {
    pub message: String,
}

impl std::fmt::Display for TaskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<String> for TaskError {
    fn from(message: String) -> Self {
        TaskError { message }
    }
}

impl From<&str> for TaskError {
    fn from(message: &str) -> Self {
        TaskError {
            message: message.to_string(),
        }
    }
}

/// What the executor offers a running task: implemented by the executor for each task run.
pub(crate) trait Port: Sync {
    fn log(&self, level: Level, message: &str);
    fn render(&self, template: &str) -> Result<Value, String>;
    /// As `render`, with `extra` variables on top (an item's fields).
    fn render_with(&self, template: &str, extra: &Map<String, Value>) -> Result<Value, String>;
    fn secret(&self, name: &str) -> Result<String, String>;
    fn kv(&self, namespace: Option<&str>, key: &str) -> Result<Option<Value>, String>;
    fn kv_set(&self, write: &KvWrite<'_>) -> Result<(), String>;
    fn kv_keys(&self, namespace: &str, prefix: &str) -> Result<Vec<String>, String>;
    fn kv_delete(&self, namespace: &str, key: &str) -> Result<bool, String>;
    fn namespace(&self) -> &str;
    fn flow_id(&self) -> &str;
    fn storage(&self) -> Option<&Storage>;
    fn namespace_files(&self) -> NamespaceFiles<'_>;
    /// Inside a `WorkingDirectory`: its folder.
    fn working_dir(&self) -> Option<&str>;
    fn history(&self) -> Option<&dyn History>;
    /// Whether `text` holds a secret value this execution read.
    fn holds_secret(&self, text: &str) -> bool;
    /// Execution variables (`vars`): set (refused for an existing one unless `overwrite`),
    /// removed (refused for a missing one unless `ignore_missing`).
    fn set_variables(&self, variables: Map<String, Value>, overwrite: bool) -> Result<(), String>;
    fn unset_variables(&self, names: &[String], ignore_missing: bool) -> Result<(), String>;
    fn add_labels(&self, labels: Map<String, Value>);
    /// The execution's labels now.
    fn labels(&self) -> Map<String, Value>;
    /// Starts executions of the binary's other flows (none outside an execution launched
    /// with a launcher).
    fn subflows(&self) -> Option<&dyn crate::launch::Subflows>;
    /// Whether the execution prints its log lines on stderr.
    fn echo_logs(&self) -> bool;
    fn exit(&self, state: State);
    fn execution_id(&self) -> &str;
    fn task_id(&self) -> &str;
    fn task_run_id(&self) -> &str;
    /// The task run of the flowable task around this one, if any.
    fn parent_task_run_id(&self) -> Option<&str>;
}

/// The context of one attempt: logging, rendering, secrets, KV, the execution's labels and
/// end state. (Internal storage, metrics and cancellation arrive with the durable core,
/// [6/13]; a timeout or kill drops the attempt's future today.)
pub struct TaskContext<'a> {
    port: &'a dyn Port,
    warning: bool,
}

impl<'a> TaskContext<'a> {
    pub(crate) fn new(port: &'a dyn Port) -> Self {
        TaskContext {
            port,
            warning: false,
        }
    }

    /// A log line of this task run.
    pub fn log(&self, level: Level, message: &str) {
        self.port.log(level, message);
    }

    /// Renders a template with the variables this task sees (as Kestra's `runContext.render`).
    pub fn render(&self, template: &str) -> Result<Value, TaskError> {
        self.port.render(template).map_err(TaskError::from)
    }

    /// Renders a template with the variables this task sees and `extra` on top (Kestra's
    /// `runContext.render(template, item)` for the items of a file).
    pub fn render_with(
        &self,
        template: &str,
        extra: &Map<String, Value>,
    ) -> Result<Value, TaskError> {
        self.port
            .render_with(template, extra)
            .map_err(TaskError::from)
    }

    /// A secret's value (`secret('NAME')`).
    pub fn secret(&self, name: &str) -> Result<String, TaskError> {
        self.port.secret(name).map_err(TaskError::from)
    }

    /// A KV value of the flow's namespace, or of `namespace`.
    pub fn kv(&self, namespace: Option<&str>, key: &str) -> Result<Option<Value>, TaskError> {
        self.port.kv(namespace, key).map_err(TaskError::from)
    }

    /// Writes a KV value (refused when it holds a secret this execution read: the KV store is
    /// plain text on disk).
    pub fn kv_set(&self, write: &KvWrite<'_>) -> Result<(), TaskError> {
        self.port.kv_set(write).map_err(TaskError::from)
    }

    /// The unexpired KV keys of `namespace` starting with `prefix`, sorted.
    pub fn kv_keys(&self, namespace: &str, prefix: &str) -> Result<Vec<String>, TaskError> {
        self.port
            .kv_keys(namespace, prefix)
            .map_err(TaskError::from)
    }

    /// Deletes a KV key; whether it existed.
    pub fn kv_delete(&self, namespace: &str, key: &str) -> Result<bool, TaskError> {
        self.port.kv_delete(namespace, key).map_err(TaskError::from)
    }

    /// The flow's namespace.
    pub fn namespace(&self) -> &str {
        self.port.namespace()
    }

    /// The flow's internal storage (see [`crate::storage`]).
    pub fn storage(&self) -> Result<&Storage, TaskError> {
        self.port
            .storage()
            .ok_or_else(|| TaskError::from("this execution has no internal storage (no state)"))
    }

    /// Stores a file of this task run under `name`; its `kestra:///` URI.
    pub fn put_file(&self, name: &str, from: &mut dyn Read) -> Result<String, TaskError> {
        let uri = self.task_file_uri(name);
        self.storage()?.put(&uri, from)?;
        Ok(uri)
    }

    /// The `kestra:///` URI a file of this task run named `name` is stored under.
    pub fn task_file_uri(&self, name: &str) -> String {
        Storage::task_file(
            self.port.namespace(),
            self.port.flow_id(),
            self.port.execution_id(),
            self.port.task_id(),
            self.port.task_run_id(),
            name,
        )
    }

    /// Namespace files: uploaded ones, then those bundled into the binary.
    pub fn namespace_files(&self) -> NamespaceFiles<'_> {
        self.port.namespace_files()
    }

    /// Inside a `WorkingDirectory`: the folder its tasks share.
    pub fn working_dir(&self) -> Option<&std::path::Path> {
        self.port.working_dir().map(std::path::Path::new)
    }

    /// The recorded history (`log.Fetch`, the purges).
    pub fn history(&self) -> Option<&dyn History> {
        self.port.history()
    }

    /// The flow's id.
    pub fn flow_id(&self) -> &str {
        self.port.flow_id()
    }

    /// The URI prefix of this execution's files.
    pub fn execution_files(&self) -> String {
        Storage::execution_prefix(
            self.port.namespace(),
            self.port.flow_id(),
            self.port.execution_id(),
        )
    }

    /// Refuses text that holds a secret this execution read: the state (KV store, internal
    /// storage) is plain text on disk.
    pub fn refuse_secrets(&self, text: &str, what: &str) -> Result<(), TaskError> {
        if self.port.holds_secret(text) {
            return Err(format!(
                "{what} holds a secret; the state keeps it in plain text, so it is not written"
            )
            .into());
        }
        Ok(())
    }

    /// Sets execution variables, read by later tasks as `vars.<name>`.
    pub fn set_variables(
        &self,
        variables: Map<String, Value>,
        overwrite: bool,
    ) -> Result<(), TaskError> {
        self.port
            .set_variables(variables, overwrite)
            .map_err(TaskError::from)
    }

    /// Removes execution variables.
    pub fn unset_variables(&self, names: &[String], ignore_missing: bool) -> Result<(), TaskError> {
        self.port
            .unset_variables(names, ignore_missing)
            .map_err(TaskError::from)
    }

    /// Adds labels to the execution.
    pub fn add_labels(&self, labels: Map<String, Value>) {
        self.port.add_labels(labels);
    }

    /// The execution's labels.
    pub fn labels(&self) -> Map<String, Value> {
        self.port.labels()
    }

    /// Starts executions of the other flows of this binary (`Subflow`).
    pub fn subflows(&self) -> Result<&dyn crate::launch::Subflows, TaskError> {
        self.port.subflows().ok_or_else(|| {
            TaskError::from(
                "this execution cannot start subflows (it was not launched by `run` or `serve`)",
            )
        })
    }

    /// Whether the execution prints its log lines on stderr (its subflows do the same).
    pub fn echo_logs(&self) -> bool {
        self.port.echo_logs()
    }

    /// Ends the execution in `state` once this task is done (no further task starts).
    pub fn exit(&self, state: State) {
        self.port.exit(state);
    }

    /// Ends this attempt in WARNING instead of SUCCESS.
    pub fn warn(&mut self) {
        self.warning = true;
    }

    pub(crate) fn warned(&self) -> bool {
        self.warning
    }

    pub fn execution_id(&self) -> &str {
        self.port.execution_id()
    }

    pub fn task_id(&self) -> &str {
        self.port.task_id()
    }

    pub fn task_run_id(&self) -> &str {
        self.port.task_run_id()
    }

    /// The task run of the flowable task around this one, if any.
    pub fn parent_task_run_id(&self) -> Option<&str> {
        self.port.parent_task_run_id()
    }
}

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A task type behind a pointer: deserializes the rendered properties, runs, serializes the
/// outputs (`None` for a type without outputs).
pub(crate) trait DynTask: Sync {
    fn instant(&self) -> bool;
    /// Whether rendered properties deserialize into the type's properties struct.
    fn accepts(&self, properties: Value) -> Result<(), String>;
    fn run<'a>(
        &'static self,
        properties: Value,
        ctx: &'a mut TaskContext<'_>,
    ) -> BoxFuture<'a, Result<Option<Value>, TaskError>>;
}

pub(crate) struct Runner<T>(PhantomData<fn() -> T>);

impl<T: Task> Runner<T> {
    pub(crate) const INSTANCE: &'static Runner<T> = &Runner(PhantomData);
}

impl<T: Task> DynTask for Runner<T> {
    fn instant(&self) -> bool {
        T::INSTANT
    }

    fn accepts(&self, properties: Value) -> Result<(), String> {
        serde_json::from_value::<T>(properties)
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn run<'a>(
        &'static self,
        properties: Value,
        ctx: &'a mut TaskContext<'_>,
    ) -> BoxFuture<'a, Result<Option<Value>, TaskError>> {
        Box::pin(async move {
            let task: T = serde_json::from_value(properties)
                .map_err(|e| TaskError::from(format!("properties: {e}")))?;
            let output = task.run(ctx).await?;
            let value = serde_json::to_value(output)
                .map_err(|e| TaskError::from(format!("outputs: {e}")))?;
            Ok(match value {
                Value::Null => None,
                other => Some(other),
            })
        })
    }
}

/// A type whose implementation needs a cargo feature this binary was built without: the type
/// is known (its definition is in every binary) and a task of it fails saying why.
/// `kflowc build` turns on the features of the types a flow uses, so only a binary built some
/// other way meets this. (Unused in a binary with every feature.)
/// It holds the feature's name only: reading the type's properties would link their
/// deserializer into every binary (about 0.2 MB for all the families).
#[allow(dead_code)]
pub(crate) struct Unbuilt(pub(crate) &'static str);

#[allow(dead_code)]
impl Unbuilt {
    fn why(&self) -> String {
        format!(
            "this binary was built without kflow-runtime's `{}` feature; `kflowc build` turns it on for flows that use this type",
            self.0
        )
    }
}

impl DynTask for Unbuilt {
    fn instant(&self) -> bool {
        false
    }

    fn accepts(&self, _properties: Value) -> Result<(), String> {
        Err(self.why())
    }

    fn run<'a>(
        &'static self,
        _properties: Value,
        _ctx: &'a mut TaskContext<'_>,
    ) -> BoxFuture<'a, Result<Option<Value>, TaskError>> {
        Box::pin(async move { Err(TaskError::from(self.why())) })
    }
}
