//! The registry of task, trigger, condition and task-runner types.
//!
//! The types the runtime can run are defined once, in the runtime's `tasks` module (names,
//! properties, outputs and implementation side by side); this registry reads those definitions
//! as they are. Types the checker knows but the runtime cannot run yet are plain data, one
//! static table per family (the `catalog_*` modules), marked `runnable: false`.
//! Kestra's documented names are the truth; older and newer names of one type are aliases.

mod catalog_conditions;
mod catalog_integrations;
mod catalog_runners;
mod catalog_scripts;
mod catalog_tasks;
mod catalog_triggers;

pub use kflow_runtime::definition::*;

/// A task type the checker knows but the runtime cannot run yet (the catalogs' entries).
const fn known_task(
    name: &'static str,
    aliases: &'static [&'static str],
    properties: &'static [PropDef],
    outputs: &'static [OutputDef],
    deprecated: Option<&'static str>,
) -> PluginDef {
    let mut def = PluginDef::known(PluginKind::Task, name, aliases, properties, outputs);
    def.deprecated = deprecated;
    def
}

/// Every registered plugin of every family.
pub fn all() -> impl Iterator<Item = &'static PluginDef> {
    [
        kflow_runtime::tasks::DEFINITIONS,
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
