//! The plan a generated binary runs: the flow's tasks as typed data. The compiler's `lower`
//! stage builds it (the only place that interprets property values); `emit` prints it as JSON
//! into the generated crate, and the binary reads it back at start, parsing every template once.
//! `./<flow> plan` prints it again, so what the compiler lowered and what the binary holds can
//! be compared.
//!
//! Everything here is plain data with serde, free of the executor's dependencies.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::expr::{self, Template};

/// Where a template starts in the flow file, so a run-time error names the YAML position
/// (1-based line and column in characters, as `kflowc check` reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

/// A template with where each of its expressions and tags starts in the flow file: `(offset in
/// the template text, position in the file)`, in order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "TemplateText", into = "TemplateText")]
pub struct TemplateProp {
    pub source: String,
    pub anchors: Vec<(u32, Position)>,
    template: Template,
}

/// How a template is written in the plan: its text; it is parsed when the plan is read.
#[derive(Serialize, Deserialize)]
struct TemplateText {
    template: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    at: Vec<(u32, Position)>,
}

impl TryFrom<TemplateText> for TemplateProp {
    type Error = String;
    fn try_from(text: TemplateText) -> Result<Self, String> {
        let template = expr::parse(&text.template)
            .map_err(|e| format!("template `{}` does not parse: {e}", text.template))?;
        Ok(TemplateProp {
            source: text.template,
            anchors: text.at,
            template,
        })
    }
}

impl From<TemplateProp> for TemplateText {
    fn from(prop: TemplateProp) -> Self {
        TemplateText {
            template: prop.source,
            at: prop.anchors,
        }
    }
}

impl TemplateProp {
    /// The parsed template.
    pub fn template(&self) -> &Template {
        &self.template
    }

    /// The file position of a byte offset in the template: the nearest expression start at or
    /// before it, moved along the same line.
    pub fn position_of(&self, offset: usize) -> Option<Position> {
        let offset = u32::try_from(offset).unwrap_or(u32::MAX);
        let (start, at) = self.anchors.iter().rev().find(|(o, _)| *o <= offset)?;
        let between = self
            .source
            .get(*start as usize..offset as usize)
            .unwrap_or("");
        if between.contains('\n') {
            return Some(*at);
        }
        let moved = u32::try_from(between.chars().count()).unwrap_or(0);
        Some(Position {
            line: at.line,
            column: at.column.saturating_add(moved),
        })
    }
}

/// A property as written in the flow: literal JSON whose strings may be templates. Templates
/// are parsed when the plan is read and rendered when the task runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Prop {
    Value(Value),
    Template(Box<TemplateProp>),
    List(Vec<Prop>),
    Map(Vec<(String, Prop)>),
}

/// A template that failed while a property rendered, with where it is in the flow file.
#[derive(Debug, Clone)]
pub struct RenderError {
    pub message: String,
    pub at: Option<Position>,
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl RenderError {
    /// `message (flow.yml:12:18)`, or the message alone when the position is unknown.
    pub fn describe(&self, source_name: &str) -> String {
        match self.at {
            Some(at) if !source_name.is_empty() => {
                format!("{} ({source_name}:{}:{})", self.message, at.line, at.column)
            }
            _ => self.message.clone(),
        }
    }
}

impl Prop {
    /// A string: a template when it contains `{{`, `{%` or `{#`, else a literal.
    pub fn text(source: &str) -> Result<Prop, String> {
        Prop::text_at(source, Vec::new())
    }

    /// A string with the file positions of its expressions (see [`TemplateProp`]).
    pub fn text_at(source: &str, anchors: Vec<(u32, Position)>) -> Result<Prop, String> {
        if expr::is_template(source) {
            let template = TemplateProp::try_from(TemplateText {
                template: source.to_string(),
                at: anchors,
            })?;
            Ok(Prop::Template(Box::new(template)))
        } else {
            Ok(Prop::Value(Value::String(source.to_string())))
        }
    }

    /// Whether rendering can change the value (it holds a template somewhere).
    pub fn is_dynamic(&self) -> bool {
        match self {
            Prop::Value(_) => false,
            Prop::Template(_) => true,
            Prop::List(items) => items.iter().any(Prop::is_dynamic),
            Prop::Map(entries) => entries.iter().any(|(_, p)| p.is_dynamic()),
        }
    }

    /// Every template inside, in order.
    pub fn templates<'a>(&'a self, out: &mut Vec<&'a TemplateProp>) {
        match self {
            Prop::Value(_) => {}
            Prop::Template(template) => out.push(template),
            Prop::List(items) => items.iter().for_each(|p| p.templates(out)),
            Prop::Map(entries) => entries.iter().for_each(|(_, p)| p.templates(out)),
        }
    }

    /// Render every template inside, as Kestra renders a property recursively.
    pub fn render(
        &self,
        vars: &Map<String, Value>,
        host: &dyn expr::Host,
    ) -> Result<Value, RenderError> {
        self.render_layered(vars, &Map::new(), host)
    }

    /// [`Prop::render`] with a second layer of variables shared across renders (see
    /// [`expr::render_layered`]).
    pub fn render_layered(
        &self,
        vars: &Map<String, Value>,
        shared: &Map<String, Value>,
        host: &dyn expr::Host,
    ) -> Result<Value, RenderError> {
        Ok(match self {
            Prop::Value(value) => value.clone(),
            Prop::Template(template) => {
                let text =
                    expr::render_layered(&template.template, vars, shared, host).map_err(|e| {
                        RenderError {
                            at: template.position_of(e.span.start),
                            message: e.message,
                        }
                    })?;
                Value::String(text)
            }
            Prop::List(items) => Value::Array(
                items
                    .iter()
                    .map(|p| p.render_layered(vars, shared, host))
                    .collect::<Result<_, _>>()?,
            ),
            Prop::Map(entries) => {
                let mut map = Map::new();
                for (key, prop) in entries {
                    // Kestra renders keys too (`labels: {"{{ inputs.k }}": v}`).
                    let key = if expr::is_template(key) {
                        let unreadable = |message: String| RenderError { message, at: None };
                        let template = expr::parse(key).map_err(|e| unreadable(e.message))?;
                        expr::render_layered(&template, vars, shared, host)
                            .map_err(|e| unreadable(e.message))?
                    } else {
                        key.clone()
                    };
                    map.insert(key, prop.render_layered(vars, shared, host)?);
                }
                Value::Object(map)
            }
        })
    }
}

/// A duration: fixed when the flow writes one, or a template rendered (to ISO-8601 text) when
/// the task runs (`timeout: "{{ inputs.limit }}"`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DurationProp {
    Fixed(Duration),
    Rendered(Prop),
}

/// One flow, ready to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flow {
    pub id: String,
    pub namespace: String,
    /// SHA-256 of the flow's source text, for `info`.
    pub source_hash: String,
    /// The flow file's name as given to kflowc, for positions in run-time errors.
    #[serde(default)]
    pub source_name: String,
    pub description: Option<String>,
    pub inputs: Vec<Input>,
    /// `variables`, readable as `vars.*` (strings in it render only through `render()`).
    pub variables: Map<String, Value>,
    pub labels: Vec<(String, String)>,
    pub tasks: Vec<Task>,
    pub errors: Vec<Task>,
    pub finally: Vec<Task>,
    pub after_execution: Vec<Task>,
    pub outputs: Vec<FlowOutput>,
    /// `concurrency.limit`: executions at once (0: no limit) and what a run over it does.
    pub concurrency: Option<Concurrency>,
    /// `sla`: what the execution must meet, and what happens when it does not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sla: Vec<Sla>,
    pub triggers: Vec<Trigger>,
}

/// One service-level agreement of the flow.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sla {
    pub id: String,
    pub check: SlaCheck,
    pub behavior: SlaBehavior,
    /// Added to the execution when the SLA is violated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaCheck {
    /// `MAX_DURATION`: violated once the execution has run this long.
    MaxDuration(Duration),
    /// `EXECUTION_ASSERTION`: violated when this renders false at the end of the execution.
    Assertion(Prop),
}

/// What a violated SLA does: end the execution FAILED or CANCELLED, or only add its labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SlaBehavior {
    Fail,
    Cancel,
    None,
}

impl Flow {
    /// A flow with nothing in it yet (tests and tools fill in what they need).
    pub fn new(id: &str, namespace: &str) -> Flow {
        Flow {
            id: id.to_string(),
            namespace: namespace.to_string(),
            source_hash: String::new(),
            source_name: String::new(),
            description: None,
            inputs: Vec::new(),
            variables: Map::new(),
            labels: Vec::new(),
            tasks: Vec::new(),
            errors: Vec::new(),
            finally: Vec::new(),
            after_execution: Vec::new(),
            outputs: Vec::new(),
            concurrency: None,
            sla: Vec::new(),
            triggers: Vec::new(),
        }
    }

    /// The task with this id, anywhere in the flow (ids are unique in a flow).
    pub fn find_task(&self, id: &str) -> Option<&Task> {
        let mut stack: Vec<&Task> = self
            .tasks
            .iter()
            .chain(&self.errors)
            .chain(&self.finally)
            .chain(&self.after_execution)
            .collect();
        while let Some(task) = stack.pop() {
            if task.id == id {
                return Some(task);
            }
            stack.extend(task.children());
        }
        None
    }

    /// The plan as the JSON that `emit` prints and the binary reads.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a plan printed by [`Flow::to_json`]; every template is parsed here.
    pub fn from_json(text: &str) -> Result<Flow, String> {
        serde_json::from_str(text).map_err(|e| format!("the flow's plan cannot be read: {e}"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ConcurrencyBehavior {
    Queue,
    Cancel,
    Fail,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Concurrency {
    pub limit: u32,
    pub behavior: ConcurrencyBehavior,
}

/// The trigger types `serve` runs (canonical names); a flow's other triggers are listed by
/// `info` and `triggers` but not run, and `kflowc check` warns about them (KF112).
pub const SERVED_TRIGGERS: &[&str] = &[
    "io.kestra.plugin.core.trigger.Schedule",
    "io.kestra.plugin.core.trigger.ScheduleOnDates",
    "io.kestra.plugin.core.trigger.Webhook",
    "io.kestra.plugin.core.trigger.Flow",
    "io.kestra.plugin.core.http.Trigger",
];

/// The condition types a served trigger evaluates (canonical names).
pub const SERVED_CONDITIONS: &[&str] = &[
    "io.kestra.plugin.core.condition.DayWeek",
    "io.kestra.plugin.core.condition.DayWeekInMonth",
    "io.kestra.plugin.core.condition.Weekend",
    "io.kestra.plugin.core.condition.DateTimeBetween",
    "io.kestra.plugin.core.condition.TimeBetween",
    "io.kestra.plugin.core.condition.Expression",
    "io.kestra.plugin.core.condition.Not",
    "io.kestra.plugin.core.condition.Or",
    // On a Flow trigger: the upstream execution that ended.
    "io.kestra.plugin.core.condition.ExecutionFlow",
    "io.kestra.plugin.core.condition.ExecutionNamespace",
    "io.kestra.plugin.core.condition.ExecutionStatus",
    "io.kestra.plugin.core.condition.ExecutionLabels",
    "io.kestra.plugin.core.condition.ExecutionOutputs",
];

/// A trigger of the flow.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trigger {
    pub id: String,
    /// The canonical type name.
    pub type_name: String,
    /// `disabled: true` in the flow (`triggers enable` cannot override it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
    /// `stopAfter`: once an execution it started ends in one of these states, the trigger
    /// disables itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop_after: Vec<String>,
    /// All must hold for a tick to start an execution.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Added to the labels of the executions it starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<(String, String)>,
    pub kind: TriggerKind,
}

impl Trigger {
    /// The labels of an execution it starts.
    pub fn execution_labels(&self) -> serde_json::Map<String, serde_json::Value> {
        self.labels
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    Schedule(Schedule),
    /// `ScheduleOnDates`: fixed instants (rendered when `serve` starts).
    ScheduleOnDates {
        dates: Prop,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timezone: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        inputs: Option<Prop>,
        recover_missed: RecoverMissed,
    },
    /// `Webhook`: an execution per request to Kestra's webhook paths with this `key`.
    Webhook(Webhook),
    /// `Flow`: an execution when executions of the binary's other flows end as it says.
    Flow(FlowTrigger),
    /// `http.Trigger`: a request every `interval`; an execution when the response meets
    /// `response_condition`.
    HttpPoll(Box<HttpPoll>),
    /// A type (or a condition) `serve` does not run in this version.
    NotServed {
        why: String,
    },
}

/// A webhook trigger (see `serve`'s HTTP server).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Webhook {
    /// Rendered once when `serve` starts (it may read a secret).
    pub key: Prop,
    /// Answer when the execution has ended (500 when it failed), not when it is created.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wait: bool,
    /// With `wait`: the answer carries the flow's outputs.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub return_outputs: bool,
    /// With `wait` and `returnOutputs`: the answer's content type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_content_type: Option<String>,
    /// The execution's inputs, rendered with `trigger.*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Prop>,
    /// `fetchType: STORE`: the body goes to internal storage (`trigger.uri`), streamed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub store_body: bool,
}

/// `http.Trigger`'s request and condition (templates rendered at each poll, with secrets).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HttpPoll {
    pub uri: Prop,
    pub method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Prop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<Prop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Prop>,
    /// How long between two requests (Kestra's default: a minute).
    pub interval: Duration,
    /// Rendered with `response` (`statusCode`, `body`, `headers`): `true` fires.
    pub response_condition: Prop,
    /// The longest a request may take (`options.readTimeout`, else 10 s).
    pub timeout: Duration,
}

/// A Flow trigger: fires when an execution of another flow of the binary ends in one of
/// `states` and the trigger's conditions hold of it; with `preconditions`, when each of them
/// has been met by an execution that ended within the time window (since the last firing,
/// with `reset_on_success`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlowTrigger {
    /// The upstream end states that fire (Kestra's default: every terminal state).
    pub states: Vec<String>,
    /// The execution's inputs, rendered with `trigger.*` (`trigger.outputs` included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Prop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preconditions: Option<Preconditions>,
}

/// `preconditions` of a Flow trigger.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Preconditions {
    /// `flows`: each must have an execution that ended as it says.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flows: Vec<UpstreamFlow>,
    /// `where`: each must be met by some ended execution.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<ExecutionFilter>,
    /// A `MultipleCondition`'s conditions (its older form): each must hold of some ended
    /// execution.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// How far back an execution counts (`timeWindow.window`, a day by default).
    pub window: Duration,
    /// After firing, earlier executions no longer count (`resetOnSuccess`, the default).
    pub reset_on_success: bool,
}

/// `preconditions.flows[]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpstreamFlow {
    pub namespace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<String>,
    /// Empty: the trigger's `states`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<(String, String)>,
}

/// `preconditions.where[]`: filters joined by `AND` (the default) or `OR`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecutionFilter {
    pub id: String,
    pub any: bool,
    pub filters: Vec<Filter>,
}

/// One filter: a field of the execution (`FLOW_ID`, `NAMESPACE`, `STATE`, `EXPRESSION`),
/// how it compares (`EQUAL_TO`, `IN`, `STARTS_WITH`, ...) and the value(s).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Filter {
    pub field: String,
    pub op: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Prop>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// `Schedule`: an execution at each tick of `cron`, in `timezone` (the host's zone when unset,
/// UTC where it has none).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Schedule {
    pub cron: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub with_seconds: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// The execution's inputs, rendered with `trigger.*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Prop>,
    /// A tick handled later than this after its time is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_maximum_delay: Option<Duration>,
    pub recover_missed: RecoverMissed,
}

/// `recoverMissedSchedules`: what happens to the ticks that passed while `serve` was not
/// running. Kestra's default is ALL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum RecoverMissed {
    /// Every missed tick runs, oldest first.
    #[default]
    All,
    /// Only the most recent missed tick runs.
    Last,
    /// None run; the schedule resumes from now.
    None,
}

impl RecoverMissed {
    pub fn as_str(self) -> &'static str {
        match self {
            RecoverMissed::All => "ALL",
            RecoverMissed::Last => "LAST",
            RecoverMissed::None => "NONE",
        }
    }
}

/// A condition of a trigger: its canonical type, its properties, and the conditions it holds
/// (`Not`, `Or`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Condition {
    pub type_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<(String, Prop)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// Kestra's input types, as the runtime reads them; the deprecated spellings (`BOOL`, `ENUM`)
/// are the compiler's business and arrive here as `BOOLEAN` and `SELECT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum InputType {
    String,
    Int,
    Float,
    #[serde(rename = "BOOLEAN")]
    Bool,
    Select,
    Multiselect,
    Datetime,
    Date,
    Time,
    Duration,
    File,
    Json,
    Yaml,
    Uri,
    Secret,
    Array,
    Email,
}

impl Input {
    /// A required input of this type with no default, bounds or choices.
    pub fn new(id: &str, ty: InputType) -> Input {
        Input {
            id: id.to_string(),
            ty,
            required: true,
            description: None,
            defaults: None,
            validator: None,
            values: Vec::new(),
            item_type: None,
            allow_custom_value: false,
            min: None,
            max: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Input {
    pub id: String,
    pub ty: InputType,
    pub required: bool,
    pub description: Option<String>,
    pub defaults: Option<Value>,
    pub validator: Option<String>,
    /// SELECT/MULTISELECT choices.
    pub values: Vec<String>,
    /// SELECT/MULTISELECT: a value outside `values` is accepted too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_custom_value: bool,
    /// ARRAY item type.
    pub item_type: Option<InputType>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlowOutput {
    pub id: String,
    pub ty: InputType,
    pub value: Prop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetryKind {
    Constant,
    Exponential,
    Random,
}

/// `retry`: how many attempts and how long between them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Retry {
    pub kind: RetryKind,
    pub interval: DurationProp,
    /// Exponential: the ceiling; Random: the upper bound (interval is the lower).
    pub max_interval: Option<DurationProp>,
    pub max_attempt: Option<u32>,
    pub max_duration: Option<DurationProp>,
    pub delay_factor: Option<f64>,
    /// Retry even when the task ended in WARNING.
    pub warning_on_retry: bool,
    /// `behavior: CREATE_NEW_EXECUTION`: retry the whole execution as a new one, not the task.
    pub new_execution: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    /// A level by its name (`INFO`, ...), as the plan spells it.
    pub fn parse(text: &str) -> Option<Level> {
        serde_json::from_value(serde_json::Value::String(text.to_string())).ok()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    /// The canonical type name (aliases are resolved by the compiler).
    pub type_name: String,
    pub kind: TaskKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_if: Option<Prop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<DurationProp>,
    /// The policy the task runs with: its own `retry`, else its nearest parent's, else the
    /// flow's (resolved by the compiler).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_failure: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_warning: bool,
    /// `logLevel`: the task's log lines below this level are not kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<Level>,
    /// A flowable task's own `errors` and `finally`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Task>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finally: Vec<Task>,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_false(value: &bool) -> bool {
    !*value
}

impl Task {
    pub fn new(id: &str, type_name: &str, kind: TaskKind) -> Task {
        Task {
            id: id.to_string(),
            type_name: type_name.to_string(),
            kind,
            run_if: None,
            timeout: None,
            retry: None,
            allow_failure: false,
            allow_warning: false,
            log_level: None,
            errors: Vec::new(),
            finally: Vec::new(),
        }
    }

    /// The child tasks (all branches), for walking the tree.
    pub fn children(&self) -> Vec<&Task> {
        let mut out: Vec<&Task> = Vec::new();
        match &self.kind {
            TaskKind::Sequential { tasks }
            | TaskKind::WorkingDirectory { tasks, .. }
            | TaskKind::Parallel { tasks, .. }
            | TaskKind::ForEach { tasks, .. }
            | TaskKind::LoopUntil { tasks, .. } => out.extend(tasks),
            TaskKind::Pause {
                tasks, on_pause, ..
            } => out.extend(on_pause.iter().chain(tasks)),
            TaskKind::If {
                then, otherwise, ..
            } => out.extend(then.iter().chain(otherwise)),
            TaskKind::Dag { tasks, .. } => out.extend(tasks.iter().map(|n| &n.task)),
            TaskKind::Switch {
                cases, defaults, ..
            } => out.extend(cases.iter().flat_map(|(_, t)| t).chain(defaults)),
            TaskKind::Run { .. } => {}
        }
        out.extend(self.errors.iter().chain(&self.finally));
        out
    }
}

/// What a Pause with a duration does once it has passed (Kestra 1.0): go on (`RESUME`), go on
/// with the pause WARNING (`WARN`), end the execution CANCELLED (`CANCEL`) or fail the pause
/// (`FAIL`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PauseBehavior {
    #[default]
    Resume,
    Warn,
    Cancel,
    Fail,
}

impl PauseBehavior {
    // serde's `skip_serializing_if` passes a reference.
    #[allow(clippy::trivially_copy_pass_by_ref)]
    fn is_resume(&self) -> bool {
        *self == PauseBehavior::Resume
    }
}

/// A task of a `Dag` and the ids of the tasks it waits for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DagNode {
    pub task: Task,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

/// What a task does: a runnable type's properties, run by its implementation in
/// [`crate::tasks`], or one of the executor's flowable constructs with its child-task slots.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// A runnable type: its properties (as written, templates rendered when it runs) are
    /// deserialized into the type's properties struct.
    Run {
        properties: Vec<(String, Prop)>,
    },
    Sequential {
        tasks: Vec<Task>,
    },
    /// Its tasks share a folder: the `cache` is restored into it, then `namespace_files` and
    /// `input_files` are written; after them, files matching `output_files` are stored and the
    /// cache updated.
    WorkingDirectory {
        tasks: Vec<Task>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        input_files: Option<Box<Prop>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output_files: Option<Box<Prop>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace_files: Option<Box<Prop>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache: Option<Box<Prop>>,
    },
    /// `concurrent`: children at once (0: all).
    Parallel {
        tasks: Vec<Task>,
        concurrent: usize,
    },
    /// `flow.Dag`: each task starts once its `depends_on` have ended (not failed),
    /// `concurrent` at once (0: all).
    Dag {
        tasks: Vec<DagNode>,
        concurrent: usize,
    },
    If {
        condition: Prop,
        then: Vec<Task>,
        otherwise: Vec<Task>,
    },
    Switch {
        value: Prop,
        cases: Vec<(String, Vec<Task>)>,
        defaults: Vec<Task>,
    },
    /// `ForEach` (and the deprecated EachSequential/EachParallel): the tasks run once per
    /// value, `concurrency_limit` values at once (0: all). `EachParallel` also runs the tasks of
    /// one value in parallel.
    ForEach {
        values: Prop,
        concurrency_limit: usize,
        parallel_tasks: bool,
        tasks: Vec<Task>,
    },
    /// `flow.LoopUntil`/`WaitFor`: the tasks once per iteration until `condition` holds after
    /// one, `interval` apart (Kestra 1.0's default: a minute), at most `max_iterations` times
    /// and `max_duration` long (no limit by default, as in Kestra 1.0).
    LoopUntil {
        condition: Prop,
        tasks: Vec<Task>,
        // Boxed: rare, and a `Prop` is large (every task's kind has this enum's size).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fail_on_max_reached: Option<Box<Prop>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_iterations: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_duration: Option<Box<DurationProp>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        interval: Option<Box<DurationProp>>,
    },
    /// `flow.Pause`: waits its `delay`/`pauseDuration`, or without one leaves the execution
    /// PAUSED until `resume`, which gives the `on_resume` inputs; then runs its (deprecated)
    /// `tasks`.
    Pause {
        delay: Option<DurationProp>,
        tasks: Vec<Task>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        on_resume: Vec<Input>,
        /// What happens when `delay` has passed.
        #[serde(default, skip_serializing_if = "PauseBehavior::is_resume")]
        behavior: PauseBehavior,
        /// Runs when the pause starts.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        on_pause: Vec<Task>,
    },
}
