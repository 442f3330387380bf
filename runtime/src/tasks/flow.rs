//! `io.kestra.plugin.core.flow`: Sleep, and the flowable types the executor runs itself
//! (Sequential, Parallel, If, Switch, the loops, Pause, `WorkingDirectory`). A flowable type's
//! definition names its child-task slots (`Tasks` properties); the compiler's `lower` stage
//! turns them into the plan's [`crate::plan::TaskKind`] variants.

use serde::Deserialize;
use serde_json::Value;

use crate::definition::shapes::{errors, finally, FILES_MAP, NAMESPACE_FILES, STRING_OR_LIST};
use crate::definition::{out, prop, PluginDef, PluginKind, PropType::*, ValueType};

/// `flow.Sleep`: waits `duration`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Sleep {
    pub duration: Value,
}

impl Sleep {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.flow.Sleep",
        &[],
        &[prop("duration", Duration).required()],
        &[],
    );
}

#[cfg(feature = "executor")]
mod run {
    use super::Sleep;
    use crate::tasks::{Task, TaskContext, TaskError};

    impl Task for Sleep {
        type Output = ();
        async fn run(&self, _ctx: &mut TaskContext<'_>) -> Result<(), TaskError> {
            let duration = crate::expr::value::duration_of(&self.duration)?;
            tokio::time::sleep(duration).await;
            Ok(())
        }
    }
}

/// `flow.Sequential` (`tasks` is `@NotEmpty` in 1.0).
pub const SEQUENTIAL: PluginDef = PluginDef::flowable_task(
    "io.kestra.plugin.core.flow.Sequential",
    &["io.kestra.core.tasks.flows.Sequential"],
    &[
        prop("tasks", Tasks).required().not_dynamic(),
        errors(),
        finally(),
    ],
    &[],
);

/// `flow.AllowFailure` (extends Sequential): its tasks run one after another; when they fail,
/// its `errors` run and it ends WARNING, and the flow goes on.
pub const ALLOW_FAILURE: PluginDef = PluginDef::flowable_task(
    "io.kestra.plugin.core.flow.AllowFailure",
    &["io.kestra.core.tasks.flows.AllowFailure"],
    &[
        prop("tasks", Tasks).required().not_dynamic(),
        errors(),
        finally(),
    ],
    &[],
);

/// `flow.Dag`: each task starts once the tasks of its `dependsOn` have finished, `concurrent`
/// at once (0: all). Each entry is `{task, dependsOn}` (`Dag.DagTask`).
pub const DAG: PluginDef = PluginDef::flowable_task(
    "io.kestra.plugin.core.flow.Dag",
    &["io.kestra.core.tasks.flows.Dag"],
    &[
        prop("concurrent", Int),
        prop(
            "tasks",
            List(&Object(&[
                prop("task", Any).required().not_dynamic(),
                prop("dependsOn", List(&String)).not_dynamic(),
            ])),
        )
        .required()
        .not_dynamic(),
        errors(),
        finally(),
    ],
    &[],
);

/// `flow.Parallel`: `concurrent` children at once (0: all).
pub const PARALLEL: PluginDef = PluginDef::flowable_task(
    "io.kestra.plugin.core.flow.Parallel",
    &["io.kestra.core.tasks.flows.Parallel"],
    &[
        prop("concurrent", Int),
        prop("tasks", Tasks).required().not_dynamic(),
        errors(),
        finally(),
    ],
    &[],
);

/// `flow.If`.
pub const IF: PluginDef = PluginDef::flowable_task(
    "io.kestra.plugin.core.flow.If",
    &["io.kestra.core.tasks.flows.If"],
    &[
        prop("condition", String),
        prop("then", Tasks).required().not_dynamic(),
        prop("else", Tasks).not_dynamic(),
        errors(),
        finally(),
    ],
    &[out("evaluationResult", ValueType::Bool)],
);

/// `flow.Switch`.
pub const SWITCH: PluginDef = PluginDef::flowable_task(
    "io.kestra.plugin.core.flow.Switch",
    &["io.kestra.core.tasks.flows.Switch"],
    &[
        prop("value", String).required(),
        prop("cases", TaskMap).not_dynamic(),
        prop("defaults", Tasks).not_dynamic(),
        errors(),
        finally(),
    ],
    &[
        out("value", ValueType::String),
        out("defaults", ValueType::Bool),
    ],
);

/// `flow.ForEach` (extends Sequential).
pub const FOR_EACH: PluginDef = PluginDef::flowable_task(
    "io.kestra.plugin.core.flow.ForEach",
    &[],
    &[
        prop("values", STRING_OR_LIST).required(),
        prop("concurrencyLimit", Int).not_dynamic(),
        prop("tasks", Tasks).required().not_dynamic(),
        errors(),
        finally(),
    ],
    &[],
);

/// `flow.EachSequential` (@Deprecated since 0.19; extends Sequential).
pub const EACH_SEQUENTIAL: PluginDef = PluginDef::flowable_task(
    "io.kestra.plugin.core.flow.EachSequential",
    &["io.kestra.core.tasks.flows.EachSequential"],
    &[
        prop("value", STRING_OR_LIST).required(),
        prop("tasks", Tasks).required().not_dynamic(),
        errors(),
        finally(),
    ],
    &[],
)
.deprecated_for("use `io.kestra.plugin.core.flow.ForEach`");

/// `flow.EachParallel` (@Deprecated since 0.19; extends Parallel).
pub const EACH_PARALLEL: PluginDef = PluginDef::flowable_task(
    "io.kestra.plugin.core.flow.EachParallel",
    &["io.kestra.core.tasks.flows.EachParallel"],
    &[
        prop("concurrent", Int),
        prop("value", STRING_OR_LIST).required(),
        prop("tasks", Tasks).required().not_dynamic(),
        errors(),
        finally(),
    ],
    &[],
)
.deprecated_for("use `io.kestra.plugin.core.flow.ForEach` with `concurrencyLimit`");

/// `flow.LoopUntil` (`flow.WaitFor` before Kestra 0.23): runs its tasks again and again until
/// `condition` holds after an iteration, waiting `checkFrequency.interval` between iterations,
/// at most `maxIterations` times and `maxDuration` long (`failOnMaxReached` fails it then).
pub const LOOP_UNTIL: PluginDef = PluginDef::flowable_task(
    "io.kestra.plugin.core.flow.LoopUntil",
    &["io.kestra.plugin.core.flow.WaitFor"],
    &[
        prop("tasks", Tasks).required().not_dynamic(),
        prop("condition", String).required(),
        prop("failOnMaxReached", Bool),
        prop(
            "checkFrequency",
            Object(&[
                // A literal: kflow does not render a template here (`check` says so).
                prop("maxIterations", Int).not_dynamic(),
                prop("maxDuration", Duration),
                prop("interval", Duration),
            ]),
        )
        .not_dynamic(),
        errors(),
        finally(),
    ],
    &[out("iterationCount", ValueType::Int)],
);

/// `flow.Pause`: runs `onPause`, then waits `delay`/`pauseDuration` (then goes on as `behavior`
/// says) or, without a duration, until `resume`; then runs its (deprecated) `tasks`.
pub const PAUSE: PluginDef = PluginDef::flowable_task(
    "io.kestra.plugin.core.flow.Pause",
    &["io.kestra.core.tasks.flows.Pause"],
    &[
        prop("delay", Duration).deprecated("use `pauseDuration`"),
        prop("pauseDuration", Duration),
        prop("behavior", Enum(&["RESUME", "WARN", "CANCEL", "FAIL"])).not_dynamic(),
        // One task, read as a branch of its own (`onPause`).
        prop("onPause", Plugin(PluginKind::Task)).not_dynamic(),
        prop("onResume", List(&Any)).not_dynamic(),
        errors(),
        finally(),
        prop("tasks", Tasks)
            .not_dynamic()
            .deprecated("put the tasks after the Pause task"),
    ],
    &[
        out("onResume", ValueType::Map(&ValueType::Any)),
        out(
            "resumed",
            ValueType::Object(&[
                out("by", ValueType::String),
                out("on", ValueType::DateTime),
                out("to", ValueType::String),
            ]),
        ),
    ],
);

/// `flow.WorkingDirectory` (extends Sequential; NamespaceFiles/InputFiles/OutputFiles).
pub const WORKING_DIRECTORY: PluginDef = PluginDef::flowable_task(
    "io.kestra.plugin.core.flow.WorkingDirectory",
    &[
        "io.kestra.core.tasks.flows.WorkingDirectory",
        "io.kestra.core.tasks.flows.Worker",
    ],
    &[
        prop("tasks", Tasks).required().not_dynamic(),
        errors(),
        finally(),
        prop(
            "cache",
            Object(&[
                prop("ttl", Duration),
                prop("patterns", List(&String)).required(),
            ]),
        )
        .not_dynamic(),
        prop("namespaceFiles", Object(NAMESPACE_FILES)).not_dynamic(),
        prop("inputFiles", FILES_MAP),
        prop("outputFiles", List(&String)),
    ],
    &[out("outputFiles", ValueType::Map(&ValueType::Uri))],
);
