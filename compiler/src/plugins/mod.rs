//! The registry of task, trigger, condition and task-runner types.
//!
//! One static table per family (see the `catalog_*` modules). Both the checker and (later)
//! codegen read from here: adding a task type is one entry plus its runtime implementation.
//! Kestra's documented names are the truth; older and newer names of one type are aliases.

mod catalog_conditions;
mod catalog_integrations;
mod catalog_runners;
mod catalog_scripts;
mod catalog_tasks;
mod catalog_triggers;

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
    pub(crate) const fn only_with(mut self, property: &'static str, value: &'static str) -> Self {
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
pub(crate) const fn prop(name: &'static str, ty: PropType) -> PropDef {
    PropDef {
        name,
        ty,
        required: false,
        dynamic: true,
        deprecated: None,
    }
}

impl PropDef {
    pub(crate) const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub(crate) const fn not_dynamic(mut self) -> Self {
        self.dynamic = false;
        self
    }
    pub(crate) const fn deprecated(mut self, why: &'static str) -> Self {
        self.deprecated = Some(why);
        self
    }
}

pub(crate) const fn out(name: &'static str, ty: ValueType) -> OutputDef {
    OutputDef {
        name,
        ty,
        only_with: None,
    }
}

impl PluginDef {
    pub fn property(&self, name: &str) -> Option<&'static PropDef> {
        self.properties.iter().find(|p| p.name == name)
    }

    pub fn output(&self, name: &str) -> Option<&'static OutputDef> {
        self.outputs.iter().find(|o| o.name == name)
    }
}

/// Every registered plugin of every family.
pub fn all() -> impl Iterator<Item = &'static PluginDef> {
    [
        catalog_tasks::PLUGINS,
        catalog_scripts::PLUGINS,
        catalog_triggers::PLUGINS,
        catalog_conditions::PLUGINS,
        catalog_runners::PLUGINS,
        catalog_integrations::PLUGINS,
    ]
    .into_iter()
    .flatten()
}

/// The plugin of this kind registered under `name` or one of its aliases.
pub fn lookup(kind: PluginKind, name: &str) -> Option<&'static PluginDef> {
    index().get(&(kind_tag(kind), name)).copied()
}

/// Registered names of this kind, canonical names and aliases, for "did you mean" suggestions.
pub fn names(kind: PluginKind) -> impl Iterator<Item = &'static str> {
    all()
        .filter(move |p| p.kind == kind)
        .flat_map(|p| std::iter::once(p.name).chain(p.aliases.iter().copied()))
}

fn kind_tag(kind: PluginKind) -> u8 {
    kind as u8
}

type Index = std::collections::HashMap<(u8, &'static str), &'static PluginDef>;

fn index() -> &'static Index {
    static INDEX: std::sync::OnceLock<Index> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index = Index::new();
        for plugin in all() {
            for name in std::iter::once(plugin.name).chain(plugin.aliases.iter().copied()) {
                index.insert((kind_tag(plugin.kind), name), plugin);
            }
        }
        index
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name and alias resolves to its own entry: no type is registered twice, and no
    /// property is declared twice on one type.
    #[test]
    fn names_are_unique_and_resolve() {
        let mut seen = std::collections::HashSet::new();
        for plugin in all() {
            for name in std::iter::once(plugin.name).chain(plugin.aliases.iter().copied()) {
                assert!(
                    seen.insert((kind_tag(plugin.kind), name)),
                    "{name} is registered twice"
                );
                assert!(
                    std::ptr::eq(lookup(plugin.kind, name).unwrap(), plugin),
                    "{name} resolves elsewhere"
                );
            }
            let mut props = std::collections::HashSet::new();
            for prop in plugin.properties {
                assert!(
                    props.insert(prop.name),
                    "{}: property {} twice",
                    plugin.name,
                    prop.name
                );
            }
        }
        println!(
            "{} plugin types, {} names with aliases",
            all().count(),
            seen.len()
        );
    }
}
