//! Kestra's core task types (`io.kestra.plugin.core.*`), as defined in kestra-io/kestra's
//! `core/src/main/java/io/kestra/plugin/core/`.
//!
//! Reference sources: the December 2024 snapshot of kestra-io/kestra (0.21 development line)
//! and the `releases/v1.0.x` branch. Where the two differ, the entry accepts both: a property
//! is listed if either version has it, and is dynamic if either version renders it (`Property<T>`
//! or `@PluginProperty(dynamic = true)`). Properties Kestra 1.0 deprecated carry the replacement.
//! The few later additions that real flows use (e.g. `kv.PurgeKV.behavior`) are noted inline.
//!
//! The properties every task has (`id`, `type`, `retry`, `timeout`, `runIf`, ...) are not listed:
//! the model handles them.

use super::shapes::{errors, finally, STRING_OR_STRINGS};
use super::{out, prop, OutputDef, PluginDef, PropDef, PropType::*, ValueType};

// ---- shapes shared by several entries ------------------------------------------------------

const fn task(
    name: &'static str,
    aliases: &'static [&'static str],
    properties: &'static [PropDef],
    outputs: &'static [OutputDef],
) -> PluginDef {
    super::known_task(name, aliases, properties, outputs, None)
}

const fn flowable(
    name: &'static str,
    aliases: &'static [&'static str],
    properties: &'static [PropDef],
    outputs: &'static [OutputDef],
) -> PluginDef {
    task(name, aliases, properties, outputs).flowable()
}

const fn deprecated(def: PluginDef, why: &'static str) -> PluginDef {
    def.deprecated_for(why)
}

pub(super) static PLUGINS: &[PluginDef] = &[
    // execution/Resume.java
    task(
        "io.kestra.plugin.core.execution.Resume",
        &[],
        &[
            prop("namespace", String),
            prop("flowId", String),
            prop("executionId", String),
            prop("inputs", Map(&Any)),
        ],
        &[],
    ),
    // execution/Count.java (`flows` items: io.kestra.core.models.executions.statistics.Flow)
    task(
        "io.kestra.plugin.core.execution.Count",
        &["io.kestra.core.tasks.executions.Counts"],
        &[
            prop(
                "flows",
                List(&Object(&[
                    prop("namespace", String).required().not_dynamic(),
                    prop("flowId", String).required().not_dynamic(),
                ])),
            )
            .not_dynamic(),
            prop("states", List(&Enum(super::STATES))),
            prop("startDate", String).required(),
            prop("endDate", String),
            prop("expression", String).required(),
            prop("namespaces", List(&String)),
        ],
        &[
            out(
                "results",
                ValueType::List(&ValueType::Object(&[
                    out("namespace", ValueType::String),
                    out("flowId", ValueType::String),
                    out("count", ValueType::Int),
                ])),
            ),
            out("total", ValueType::Int),
        ],
    ),
    // flow/ForEachItem.java runs: its definition is in the runtime (`kflow_runtime::tasks::foreach_item`).
    // flow/Subflow.java runs: its definition is in the runtime (`kflow_runtime::tasks::subflow`).
    // flow/Template.java (@Deprecated)
    deprecated(
        flowable(
            "io.kestra.plugin.core.flow.Template",
            &["io.kestra.core.tasks.flows.Template"],
            &[
                prop("namespace", String).required().not_dynamic(),
                prop("templateId", String).required().not_dynamic(),
                prop("args", Map(&String)),
                errors(),
                finally(),
            ],
            &[out("args", ValueType::Map(&ValueType::Any))],
        ),
        "use a subflow (`io.kestra.plugin.core.flow.Subflow`)",
    ),
    // ---- kv ------------------------------------------------------------------------------------

    // kv.Set, Get, Delete and GetKeys run: their definitions are in the runtime
    // (`kflow_runtime::tasks::kv`).
    // kv/PurgeKV.java (Kestra 1.0; `behavior` added and `expiredOnly` deprecated in 1.1)
    task(
        "io.kestra.plugin.core.kv.PurgeKV",
        &[],
        &[
            prop("keyPattern", String),
            prop("namespaces", List(&String)),
            prop("namespacePattern", String),
            prop("includeChildNamespaces", Bool),
            prop("expiredOnly", Bool).deprecated("use `behavior` (`type: key`, `expiredOnly`)"),
            prop("behavior", Any),
        ],
        &[out("size", ValueType::Int)],
    ),
    // ---- state (AbstractState: name, namespace, taskrunValue; deprecated in Kestra 1.1) --------

    // state/Set.java
    deprecated(
        task(
            "io.kestra.plugin.core.state.Set",
            &["io.kestra.core.tasks.states.Set"],
            &[
                prop("name", String),
                prop("namespace", Bool),
                prop("taskrunValue", Bool),
                prop("data", Map(&Any)),
            ],
            &[out("count", ValueType::Int), out("key", ValueType::String)],
        ),
        "use the KV store (`io.kestra.plugin.core.kv.Set`)",
    ),
    // state/Get.java
    deprecated(
        task(
            "io.kestra.plugin.core.state.Get",
            &["io.kestra.core.tasks.states.Get"],
            &[
                prop("name", String),
                prop("namespace", Bool),
                prop("taskrunValue", Bool),
                prop("errorOnMissing", Bool),
            ],
            &[
                out("count", ValueType::Int),
                out("data", ValueType::Map(&ValueType::Any)),
            ],
        ),
        "use the KV store (`io.kestra.plugin.core.kv.Get`)",
    ),
    // state/Delete.java
    deprecated(
        task(
            "io.kestra.plugin.core.state.Delete",
            &["io.kestra.core.tasks.states.Delete"],
            &[
                prop("name", String),
                prop("namespace", Bool),
                prop("taskrunValue", Bool),
                prop("errorOnMissing", Bool),
            ],
            &[out("deleted", ValueType::Bool)],
        ),
        "use the KV store (`io.kestra.plugin.core.kv.Delete`)",
    ),
    // ---- storage -------------------------------------------------------------------------------

    // storage.Write, Size, Delete, Concat, Split and PurgeCurrentExecutionFiles run: their
    // definitions are in the runtime (`kflow_runtime::tasks::storage`).
    // ---- http (AbstractHttp + HttpInterface) ---------------------------------------------------

    // http.Request and http.Download run: their definitions are in the runtime
    // (`kflow_runtime::tasks::http`).
    // ---- namespace files -----------------------------------------------------------------------

    // namespace/DeleteFiles.java (`deleteParentFolder` added by 1.0)
    task(
        "io.kestra.plugin.core.namespace.DeleteFiles",
        &[],
        &[
            prop("namespace", String).required(),
            prop("files", STRING_OR_STRINGS).required(),
            prop("deleteParentFolder", Bool),
        ],
        &[out("files", ValueType::Map(&ValueType::Uri))],
    ),
    // ---- misc ----------------------------------------------------------------------------------

    // trigger/Toggle.java (a task, despite its package)
    task(
        "io.kestra.plugin.core.trigger.Toggle",
        &["io.kestra.core.tasks.trigger.Toggle"],
        &[
            prop("namespace", String),
            prop("flowId", String),
            prop("trigger", String).required(),
            prop("enabled", Bool).not_dynamic(),
        ],
        &[],
    ),
    // metric/Publish.java (Kestra 1.0): `metrics` is a list of counter/timer/gauge objects.
    task(
        "io.kestra.plugin.core.metric.Publish",
        &[],
        &[prop("metrics", List(&Any))],
        &[],
    ),
];
