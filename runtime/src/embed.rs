//! A flow inside a Rust program: what the modules `include_flow!` generates call. A
//! [`Runner`] holds where the state is, the secrets given in code and the program's other
//! flows (its subflows); [`Runner::run`] runs one execution through [`crate::launch`], as the
//! binary's `run` does, and [`Runner::serve`] runs the flows' triggers, as `serve` does, both
//! inside the host program's tokio runtime (current-thread or multi-threaded).
//!
//! Typed values cross with two traits: [`InputValue`] (a Rust value as the input's JSON) and
//! [`OutputValue`] (a flow output's JSON as a Rust value).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use crate::bundle::{Bundle, BundledFlow};
use crate::execution::{State, Summary};
use crate::expr::GivenSecrets;
use crate::launch::{launch, InProcess, LaunchError, LaunchRequest};
use crate::state::Store;

pub use crate::serve::{ApiAuth, Retention, ServeOptions};

/// A future the host program awaits (it need not be `Send`: await it where it is made).
pub type Serving<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Error>> + 'a>>;

/// Where the state of a [`Runner`] lives.
#[derive(Debug, Clone)]
enum StateAt {
    /// As the binary's: `$STATE_DIRECTORY`, else `$XDG_STATE_HOME/kflow/<namespace>.<id>`...
    Default,
    Dir(PathBuf),
    /// A private folder made for this runner and removed with it (tests).
    Ephemeral,
}

/// Runs embedded flows: their state, the secrets given in code, and the flows they may start
/// as subflows. Cheap to make; the state is opened at the first execution and kept.
pub struct Runner {
    state_at: StateAt,
    secrets: BTreeMap<String, String>,
    flows: Vec<BundledFlow>,
    echo_logs: bool,
    opened: Mutex<Option<Opened>>,
    /// The bundles made so far, by the plan of the flow they run first: a plan is read once,
    /// not at every execution.
    bundles: Mutex<Vec<(&'static str, Bundle)>>,
}

/// The state once opened (the folder of an ephemeral one is removed after the store closes).
struct Opened {
    store: Arc<Store>,
    _removed: Option<RemovedOnDrop>,
}

struct RemovedOnDrop(PathBuf);

impl Drop for RemovedOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Default for Runner {
    fn default() -> Self {
        Runner::new()
    }
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("state_at", &self.state_at)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field("flows", &self.flows.len())
            .finish_non_exhaustive()
    }
}

impl Runner {
    /// The binary's defaults: the state where `./<flow> run` keeps it, secrets from
    /// `SECRET_<KEY>` variables, log lines on stderr.
    pub fn new() -> Runner {
        Runner {
            state_at: StateAt::Default,
            secrets: BTreeMap::new(),
            flows: Vec::new(),
            echo_logs: true,
            opened: Mutex::new(None),
            bundles: Mutex::new(Vec::new()),
        }
    }

    /// Keep the state (executions, logs, KV, files) in `dir`.
    #[must_use]
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Runner {
        self.state_at = StateAt::Dir(dir.into());
        self.state_changed()
    }

    /// A state of its own in a fresh private folder (in memory, `/dev/shm`, where the system
    /// has it), removed when the runner is dropped: for tests.
    #[must_use]
    pub fn ephemeral(mut self) -> Runner {
        self.state_at = StateAt::Ephemeral;
        self.state_changed()
    }

    /// The secret `key` (what `{{ secret('KEY') }}` reads), before the environment's; masked in
    /// logs and outputs like every secret.
    #[must_use]
    pub fn secret(mut self, key: impl Into<String>, value: impl Into<String>) -> Runner {
        self.secrets.insert(key.into(), value.into());
        self.flows_changed()
    }

    /// Another embedded flow (`other::flow()`): the flows run here start it as a subflow, and
    /// [`Runner::serve`] runs its triggers too.
    #[must_use]
    pub fn with_flow(mut self, flow: BundledFlow) -> Runner {
        self.flows.push(flow);
        self.flows_changed()
    }

    /// Print the executions' log lines on stderr (on by default).
    #[must_use]
    pub fn echo_logs(mut self, echo: bool) -> Runner {
        self.echo_logs = echo;
        self
    }

    /// This runner with the state it opened dropped: a new place applies to the next run.
    fn state_changed(self) -> Runner {
        *crate::lock(&self.opened) = None;
        self
    }

    /// This runner with the bundles it read dropped: new secrets or flows apply to the next run.
    fn flows_changed(self) -> Runner {
        crate::lock(&self.bundles).clear();
        self
    }

    /// One execution of `flow` with `inputs` (validated as the command line's are), to its end.
    pub async fn run<O: FlowOutputs>(
        &self,
        flow: BundledFlow,
        inputs: Map<String, Value>,
    ) -> Result<Execution<O>, Error> {
        let bundle = self.bundle(flow)?;
        let hosted = bundle.flows[0].clone();
        let store = self.store(&bundle)?;
        let subflows = InProcess::new(&bundle, &store, None);
        let request = LaunchRequest {
            input_values: Some(inputs),
            echo_logs: self.echo_logs,
            subflows: Some(subflows.launcher()),
            ..LaunchRequest::default()
        };
        let summary = launch(hosted.flow, request, hosted.host, store, |_| {})
            .await
            .map_err(|e| match e {
                LaunchError::Inputs(errors) => {
                    Error::Inputs(errors.iter().map(ToString::to_string).collect())
                }
                other => Error::State(other.to_string()),
            })?;
        subflows.all_ended().await;
        Execution::of(summary)
    }

    /// Runs the triggers of `flow` and of the flows given with [`Runner::with_flow`] (their
    /// schedules, webhooks on `options.listen`, Flow triggers) until `stop` resolves, then
    /// drains as `serve` does on SIGTERM.
    pub async fn serve(
        &self,
        flow: BundledFlow,
        options: ServeOptions,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let bundle = self.bundle(flow)?;
        let store = self.store(&bundle)?;
        let (stopping, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            stop.await;
            let _ = stopping.send(true);
        });
        crate::serve::serve(&bundle, store, options, stopped)
            .await
            .map_err(Error::Serve)
    }

    /// [`Runner::serve`] whose HTTP routes (the webhooks, `/health`, `/metrics`; Kestra's REST
    /// API only when `options.auth` has credentials) the host program's own axum server
    /// answers: merge the router into the application's, and await the future beside it; it
    /// ends once `stop` resolved and running executions drained. `options.listen` is unused.
    pub async fn serve_routes<'a>(
        &'a self,
        flow: BundledFlow,
        mut options: ServeOptions,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(axum::Router, Serving<'a>), Error> {
        let (routes, router) = crate::serve::RoutesTo::channel();
        options.routes = Some(routes);
        let mut serving: Serving<'a> = Box::pin(self.serve(flow, options, stop));
        // `serve` hands the routes over once its triggers are set up, before it waits.
        match futures_util::future::select(router, &mut serving).await {
            futures_util::future::Either::Left((Ok(router), _)) => Ok((router, serving)),
            futures_util::future::Either::Left((Err(_), _)) => Err(Error::Serve(
                "serve ended before its routes were ready".into(),
            )),
            futures_util::future::Either::Right((ended, _)) => {
                Err(ended.err().unwrap_or_else(|| {
                    Error::Serve("serve ended before its routes were ready".into())
                }))
            }
        }
    }

    /// `first` and the runner's other flows (each once), their plans read (once per runner).
    fn bundle(&self, first: BundledFlow) -> Result<Bundle, Error> {
        let mut bundles = crate::lock(&self.bundles);
        if let Some((_, bundle)) = bundles
            .iter()
            .find(|(plan, _)| std::ptr::eq(*plan, first.plan))
        {
            return Ok(bundle.clone());
        }
        let mut flows = vec![first];
        flows.extend(
            self.flows
                .iter()
                .filter(|f| !std::ptr::eq(f.plan, first.plan))
                .copied(),
        );
        let secrets = GivenSecrets(Arc::new(self.secrets.clone()));
        let mut bundle = Bundle::of("embedded", &flows, &secrets).map_err(Error::Plan)?;
        if bundle.flows.len() == 1 {
            bundle.name.clone_from(&bundle.flows[0].flow.id);
        }
        bundles.push((first.plan, bundle.clone()));
        Ok(bundle)
    }

    /// The state, opened at the first use.
    fn store(&self, bundle: &Bundle) -> Result<Arc<Store>, Error> {
        let mut opened = crate::lock(&self.opened);
        if let Some(opened) = opened.as_ref() {
            return Ok(Arc::clone(&opened.store));
        }
        let (dir, removed) = match &self.state_at {
            StateAt::Default => (
                crate::state::state_dir(None, &bundle.state_leaf())
                    .map_err(|e| Error::State(e.to_string()))?,
                None,
            ),
            StateAt::Dir(dir) => (dir.clone(), None),
            StateAt::Ephemeral => {
                let dir = ephemeral_dir();
                (dir.clone(), Some(RemovedOnDrop(dir)))
            }
        };
        let store = Arc::new(Store::open(&dir).map_err(|e| Error::State(e.to_string()))?);
        *opened = Some(Opened {
            store: Arc::clone(&store),
            _removed: removed,
        });
        Ok(store)
    }
}

/// A folder no other runner uses: under `/dev/shm` (memory) where it exists.
fn ephemeral_dir() -> PathBuf {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    base.join(format!(
        "kflow-embedded-{}-{}",
        std::process::id(),
        crate::execution::new_id()
    ))
}

/// An ended execution: its id, state and typed outputs (`None` unless it succeeded), with the
/// whole summary (task runs, labels, duration) as the binary prints it.
#[derive(Debug, Clone)]
pub struct Execution<O> {
    pub id: String,
    pub state: State,
    pub outputs: Option<O>,
    pub summary: Summary,
}

impl<O: FlowOutputs> Execution<O> {
    fn of(summary: Summary) -> Result<Execution<O>, Error> {
        let empty = Map::new();
        let values = summary
            .outputs
            .as_ref()
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let outputs = match summary.state {
            State::Success | State::Warning => {
                Some(O::from_values(values).map_err(Error::Outputs)?)
            }
            _ => None,
        };
        Ok(Execution {
            id: summary.id.clone(),
            state: summary.state,
            outputs,
            summary,
        })
    }

    /// Whether it ended SUCCESS or WARNING.
    pub fn succeeded(&self) -> bool {
        matches!(self.state, State::Success | State::Warning)
    }
}

/// Why an embedded execution could not run (an execution that ran and failed is an
/// [`Execution`] with its state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Wrong inputs: one message per problem, each naming its input.
    Inputs(Vec<String>),
    /// The state could not be opened or written.
    State(String),
    /// The plan does not fit this runtime (the macro and the runtime differ in version).
    Plan(String),
    /// An output does not have its declared type.
    Outputs(String),
    /// The triggers could not be served.
    Serve(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Inputs(messages) => f.write_str(&messages.join("\n")),
            Error::State(m) => write!(f, "state: {m}"),
            Error::Plan(m) => write!(f, "plan: {m}"),
            Error::Outputs(m) => write!(f, "outputs: {m}"),
            Error::Serve(m) => write!(f, "serve: {m}"),
        }
    }
}

impl std::error::Error for Error {}

/// A flow's `Outputs` struct, read from the execution's outputs.
pub trait FlowOutputs: Sized {
    fn from_values(values: &Map<String, Value>) -> Result<Self, String>;
}

/// A flow without declared outputs.
impl FlowOutputs for () {
    fn from_values(_: &Map<String, Value>) -> Result<(), String> {
        Ok(())
    }
}

/// The output `id` of `values` as `T` (generated `Outputs` call it per field).
pub fn output<T: OutputValue>(values: &Map<String, Value>, id: &str) -> Result<T, String> {
    T::from_output(values.get(id).unwrap_or(&Value::Null))
        .map_err(|expected| format!("output `{id}` is not {expected}"))
}

/// A Rust value as an input's JSON value (what `--input` or the API would give).
pub trait InputValue {
    fn to_input(&self) -> Value;
}

/// A flow output's JSON value as a Rust value; the error says what was expected.
pub trait OutputValue: Sized {
    fn from_output(value: &Value) -> Result<Self, &'static str>;
}

macro_rules! json_values {
    ($($ty:ty => $read:expr, $expected:literal;)*) => {$(
        impl InputValue for $ty {
            fn to_input(&self) -> Value {
                Value::from(self.clone())
            }
        }
        impl OutputValue for $ty {
            fn from_output(value: &Value) -> Result<Self, &'static str> {
                let read: fn(&Value) -> Option<$ty> = $read;
                read(value).ok_or($expected)
            }
        }
    )*};
}

json_values! {
    String => |v| v.as_str().map(str::to_string), "a string";
    i64 => Value::as_i64, "an integer";
    f64 => Value::as_f64, "a number";
    bool => Value::as_bool, "a boolean";
}

impl InputValue for Value {
    fn to_input(&self) -> Value {
        self.clone()
    }
}

impl OutputValue for Value {
    fn from_output(value: &Value) -> Result<Self, &'static str> {
        Ok(value.clone())
    }
}

impl<T: InputValue> InputValue for Vec<T> {
    fn to_input(&self) -> Value {
        Value::Array(self.iter().map(InputValue::to_input).collect())
    }
}

impl<T: OutputValue> OutputValue for Vec<T> {
    fn from_output(value: &Value) -> Result<Self, &'static str> {
        value
            .as_array()
            .ok_or("a list")?
            .iter()
            .map(T::from_output)
            .collect()
    }
}

impl<T: OutputValue> OutputValue for Option<T> {
    fn from_output(value: &Value) -> Result<Self, &'static str> {
        match value {
            Value::Null => Ok(None),
            other => T::from_output(other).map(Some),
        }
    }
}

/// Dates, times and durations cross as their ISO 8601 text, as the command line takes them.
macro_rules! text_values {
    ($($ty:ty, $expected:literal;)*) => {$(
        impl InputValue for $ty {
            fn to_input(&self) -> Value {
                Value::String(self.to_string())
            }
        }
        impl OutputValue for $ty {
            fn from_output(value: &Value) -> Result<Self, &'static str> {
                value.as_str().and_then(|s| s.parse().ok()).ok_or($expected)
            }
        }
    )*};
}

text_values! {
    jiff::Timestamp, "an instant (2024-01-01T10:00:00Z)";
    jiff::civil::Date, "a date (2024-01-01)";
    jiff::civil::Time, "a time (10:00:00)";
    jiff::SignedDuration, "a duration (PT1H30M)";
}

#[cfg(test)]
mod tests {
    use super::{InputValue, OutputValue, Runner};
    use crate::bundle::BundledFlow;
    use crate::plan::{Flow, Input, InputType};
    use serde_json::{json, Map, Value};

    fn embedded(id: &str) -> BundledFlow {
        let plan = serde_json::to_string(&Flow::new(id, "kflow.tests")).unwrap();
        BundledFlow {
            plan: Box::leak(plan.into_boxed_str()),
            namespace_files: &[],
        }
    }

    /// A runner reads a plan once, and a flow given after a run is in the next one's bundle.
    #[test]
    fn bundles_are_kept_until_the_flows_change() {
        let (parent, child) = (embedded("parent"), embedded("child"));
        let runner = Runner::new();
        let first = runner.bundle(parent).unwrap();
        let again = runner.bundle(parent).unwrap();
        assert!(std::sync::Arc::ptr_eq(
            &first.flows[0].flow,
            &again.flows[0].flow
        ));
        assert_eq!(first.name, "parent");
        let runner = runner.with_flow(child);
        let ids: Vec<String> = runner
            .bundle(parent)
            .unwrap()
            .flows
            .iter()
            .map(|h| h.flow.id.clone())
            .collect();
        assert_eq!(ids, ["parent", "child"]);
    }

    /// What a typed field gives is what the inputs take, and the value they keep reads back as
    /// the same Rust value (dates, times and durations cross as text).
    #[test]
    fn typed_values_are_what_the_inputs_accept() {
        let at: jiff::Timestamp = "2024-05-01T10:00:00Z".parse().unwrap();
        let day: jiff::civil::Date = "2024-05-01".parse().unwrap();
        let time: jiff::civil::Time = "10:30:00".parse().unwrap();
        let took = jiff::SignedDuration::from_secs(5400);
        let given = [
            ("at", InputType::Datetime, at.to_input()),
            ("day", InputType::Date, day.to_input()),
            ("time", InputType::Time, time.to_input()),
            ("took", InputType::Duration, took.to_input()),
            ("n", InputType::Int, 7_i64.to_input()),
            ("x", InputType::Float, 1.5_f64.to_input()),
            ("ok", InputType::Bool, true.to_input()),
            ("tags", InputType::Array, vec!["a".to_string()].to_input()),
        ];
        let mut flow = Flow::new("typed", "kflow.tests");
        let mut values = Map::new();
        for (id, ty, value) in &given {
            let mut input = Input::new(id, *ty);
            if *ty == InputType::Array {
                input.item_type = Some(InputType::String);
            }
            flow.inputs.push(input);
            values.insert((*id).to_string(), value.clone());
        }
        let resolved = crate::inputs::resolve(&flow, Vec::new(), Some(values))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(jiff::Timestamp::from_output(&resolved["at"]), Ok(at));
        assert_eq!(jiff::civil::Date::from_output(&resolved["day"]), Ok(day));
        assert_eq!(jiff::civil::Time::from_output(&resolved["time"]), Ok(time));
        assert_eq!(
            jiff::SignedDuration::from_output(&resolved["took"]),
            Ok(took)
        );
        assert_eq!(resolved["n"], json!(7));
        assert_eq!(
            Vec::<String>::from_output(&resolved["tags"]),
            Ok(vec!["a".to_string()])
        );
        assert_eq!(i64::from_output(&Value::from("7")), Err("an integer"));
    }
}
