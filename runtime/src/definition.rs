//! What a plugin type is, as data: its names, properties (type, required, rendered or not) and
//! outputs. The compiler's checker reads these definitions; the runtime's task types declare
//! themselves with them (`crate::tasks`), so the checker and the executor share one
//! declaration per runnable type.
//!
//! Everything here is `const`-constructible and free of the executor's dependencies, so the
//! compiler can read it without compiling tokio or `SQLite`.

/// Kestra's execution and task-run states (`io.kestra.core.models.flows.State.Type`).
pub const STATES: &[&str] = &[
    "CREATED",
    "RUNNING",
    "PAUSED",
    "RESTARTED",
    "KILLING",
    "SUCCESS",
    "WARNING",
    "FAILED",
    "KILLED",
    "CANCELLED",
    "QUEUED",
    "RETRYING",
    "RETRIED",
    "SKIPPED",
    "BREAKPOINT",
];

/// Log levels (`org.slf4j.event.Level`).
pub const LOG_LEVELS: &[&str] = &["ERROR", "WARN", "INFO", "DEBUG", "TRACE"];

/// Which slot a plugin type fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PluginKind {
    Task,
    Trigger,
    Condition,
    TaskRunner,
}

/// One plugin type: a task, a trigger, a condition or a task runner.
#[derive(Debug)]
pub struct PluginDef {
    pub kind: PluginKind,
    /// The canonical (current) type name, e.g. `io.kestra.plugin.core.log.Log`.
    pub name: &'static str,
    /// Older or newer names Kestra also accepts for this type.
    pub aliases: &'static [&'static str],
    /// Flowable tasks run other tasks (Sequential, If, `ForEach`, ...).
    pub flowable: bool,
    /// Properties specific to this type. The properties every task (or trigger) has
    /// (`id`, `type`, `retry`, `timeout`, `runIf`, `conditions`, ...) live in the model, not here.
    pub properties: &'static [PropDef],
    /// What `outputs.<id>.*` holds after the task ran (for triggers: `trigger.*`).
    pub outputs: &'static [OutputDef],
    /// Set when Kestra marks the type deprecated; the text names the replacement.
    pub deprecated: Option<&'static str>,
    /// Whether this version's runtime can run the type: its definition lives in the runtime's
    /// `tasks` module, next to its implementation (flowable tasks: the executor's constructs).
    /// Types the checker knows but the runtime cannot run yet are plain data, `false`.
    pub runnable: bool,
    /// The runtime's cargo feature the implementation needs (`http`: the HTTP client), which
    /// `kflowc build` turns on only for flows that use such a type.
    pub feature: Option<&'static str>,
    /// The task runs in a folder of its own (scripts, command-line tools): the executor makes
    /// one for each attempt outside a `WorkingDirectory` (`workingDir`, `outputDir`).
    pub working_dir: bool,
}

/// One property of a plugin type.
#[derive(Debug)]
pub struct PropDef {
    pub name: &'static str,
    pub ty: PropType,
    pub required: bool,
    /// Rendered as a Pebble expression at run time (Kestra's `@PluginProperty(dynamic = true)`
    /// or `Property<T>`).
    pub dynamic: bool,
    /// Set when Kestra marks the property deprecated; the text names the replacement.
    pub deprecated: Option<&'static str>,
    /// Accepted by the checker but not acted on by this version's runtime (a property of a
    /// runnable type that arrives with a later version): `check` warns that it is ignored.
    pub not_run_yet: bool,
}

/// The shape a property's YAML value must have.
#[derive(Debug)]
pub enum PropType {
    /// Any scalar; numbers and booleans are accepted and read as text, as Jackson does.
    String,
    Int,
    Number,
    Bool,
    /// ISO-8601 duration such as `PT10S`.
    Duration,
    /// One of these strings (case-sensitive, as Kestra's enums).
    Enum(&'static [&'static str]),
    List(&'static PropType),
    /// A map with string keys and values of this type.
    Map(&'static PropType),
    /// A nested object with known keys.
    Object(&'static [PropDef]),
    /// A list of tasks (`tasks`, `errors`, `finally`, `then`, `else`, ...).
    Tasks,
    /// A map of string to list of tasks (Switch `cases`).
    TaskMap,
    /// A nested object with its own `type`, looked up in the registry (conditions, task runners).
    Plugin(PluginKind),
    /// Any of these shapes (e.g. a string or a list of strings).
    OneOf(&'static [PropType]),
    /// Anything: free-form data.
    Any,
}

/// One field of a plugin's outputs.
#[derive(Debug)]
pub struct OutputDef {
    pub name: &'static str,
    pub ty: ValueType,
    /// Present only when a property has this value (`uri` only with `fetchType: STORE`).
    pub only_with: Option<(&'static str, &'static str)>,
}

impl OutputDef {
    #[must_use]
    pub const fn only_with(mut self, property: &'static str, value: &'static str) -> Self {
        self.only_with = Some((property, value));
        self
    }
}

/// The static type of a value that expressions can read.
#[derive(Debug)]
pub enum ValueType {
    String,
    Int,
    Number,
    Bool,
    /// A URI of a file in internal storage (`kestra:///...`), printed as a string.
    Uri,
    DateTime,
    Duration,
    List(&'static ValueType),
    Map(&'static ValueType),
    Object(&'static [OutputDef]),
    /// Untyped: anything goes, never a false error.
    Any,
}

/// Shorthand constructors so catalog entries stay one line per property.
pub const fn prop(name: &'static str, ty: PropType) -> PropDef {
    PropDef {
        name,
        ty,
        required: false,
        dynamic: true,
        deprecated: None,
        not_run_yet: false,
    }
}

impl PropDef {
    #[must_use]
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    #[must_use]
    pub const fn not_dynamic(mut self) -> Self {
        self.dynamic = false;
        self
    }
    #[must_use]
    pub const fn deprecated(mut self, why: &'static str) -> Self {
        self.deprecated = Some(why);
        self
    }
    #[must_use]
    pub const fn not_run_yet(mut self) -> Self {
        self.not_run_yet = true;
        self
    }
}

pub const fn out(name: &'static str, ty: ValueType) -> OutputDef {
    OutputDef {
        name,
        ty,
        only_with: None,
    }
}

impl PluginDef {
    /// A type the checker knows; `runnable` is set by [`PluginDef::runnable_task`].
    pub const fn known(
        kind: PluginKind,
        name: &'static str,
        aliases: &'static [&'static str],
        properties: &'static [PropDef],
        outputs: &'static [OutputDef],
    ) -> PluginDef {
        PluginDef {
            kind,
            name,
            aliases,
            flowable: false,
            properties,
            outputs,
            deprecated: None,
            runnable: false,
            feature: None,
            working_dir: false,
        }
    }

    /// The task runs in a folder of its own (see [`PluginDef::working_dir`]).
    #[must_use]
    pub const fn in_working_dir(mut self) -> PluginDef {
        self.working_dir = true;
        self
    }

    /// The implementation needs the runtime's cargo feature `feature`.
    #[must_use]
    pub const fn with_feature(mut self, feature: &'static str) -> PluginDef {
        self.feature = Some(feature);
        self
    }

    /// A task type this runtime runs (its implementation sits beside the definition).
    pub const fn runnable_task(
        name: &'static str,
        aliases: &'static [&'static str],
        properties: &'static [PropDef],
        outputs: &'static [OutputDef],
    ) -> PluginDef {
        PluginDef {
            runnable: true,
            ..PluginDef::known(PluginKind::Task, name, aliases, properties, outputs)
        }
    }

    /// A flowable task the executor runs itself (its children are in `Tasks` properties).
    pub const fn flowable_task(
        name: &'static str,
        aliases: &'static [&'static str],
        properties: &'static [PropDef],
        outputs: &'static [OutputDef],
    ) -> PluginDef {
        PluginDef::runnable_task(name, aliases, properties, outputs).flowable()
    }

    /// Kestra marks the type deprecated; `why` names the replacement.
    #[must_use]
    pub const fn deprecated_for(mut self, why: &'static str) -> PluginDef {
        self.deprecated = Some(why);
        self
    }

    /// A flowable type (its children are in `Tasks` properties).
    #[must_use]
    pub const fn flowable(mut self) -> PluginDef {
        self.flowable = true;
        self
    }

    /// Whether `name` is this type's name or one of its aliases.
    pub fn answers_to(&self, name: &str) -> bool {
        self.name == name || self.aliases.contains(&name)
    }

    pub fn property(&self, name: &str) -> Option<&'static PropDef> {
        self.properties.iter().find(|p| p.name == name)
    }

    pub fn output(&self, name: &str) -> Option<&'static OutputDef> {
        self.outputs.iter().find(|o| o.name == name)
    }
}

/// Shapes several task types share.
pub mod shapes {
    use super::PropType::{self, *};
    use super::{prop, PropDef};

    /// A value documented as "a string or a list" (`ForEach.values`, `EachSequential.value`):
    /// a JSON array rendered at run time, or a YAML list.
    pub const STRING_OR_LIST: PropType = OneOf(&[String, List(&Any)]);

    /// Glob patterns or file names: one string or a list of strings.
    pub const STRING_OR_STRINGS: PropType = OneOf(&[String, List(&String)]);

    /// Files to create: a map of file name to content, or a JSON string of that map.
    pub const FILES_MAP: PropType = OneOf(&[Map(&String), String]);

    /// `io.kestra.core.models.tasks.NamespaceFiles`.
    pub const NAMESPACE_FILES: &[PropDef] = &[
        prop("enabled", Bool),
        prop("include", List(&String)),
        prop("exclude", List(&String)),
        prop("namespaces", List(&String)),
        prop("ifExists", Enum(&["OVERWRITE", "FAIL", "WARN", "IGNORE"])),
        prop("folderPerNamespace", Bool),
    ];

    /// `List<Label>` as `ListOrMapOfLabelDeserializer` reads it: a map of key to value, or a
    /// list of `{key, value}` (the `labels` of `Subflow` and `ForEachItem`).
    pub const LABELS: PropType = OneOf(&[
        Map(&String),
        List(&Object(&[
            prop("key", String).required(),
            prop("value", String).required(),
        ])),
    ]);

    /// `FlowableTask.getErrors()` / `getFinally()` (`finally` added in 0.21).
    pub const fn errors() -> PropDef {
        prop("errors", Tasks).not_dynamic()
    }
    pub const fn finally() -> PropDef {
        prop("finally", Tasks).not_dynamic()
    }
}
