//! Kestra script tasks (plugin-scripts: `io.kestra.plugin.scripts.<language>.{Commands,Script}`,
//! the deprecated JVM `Eval` / `FileTransform` and `io.kestra.core.tasks.scripts.*` tasks) and
//! the webhook notification tasks (Slack, Microsoft Teams, Discord).
//!
//! Only type-specific properties are listed; the ones every task has (`id`, `type`, `retry`,
//! `timeout`, `runIf`, `allowFailure`, ...) live in the model. Properties inherited from the
//! script base classes (`AbstractExecScript`, `AbstractPythonExecScript`, `AbstractBash`, ...)
//! are listed with each type, since Kestra accepts them there.

use super::known_task as task;
use super::{out, prop, OutputDef, PluginDef, PropDef, PropType::*, ValueType};
use kflow_runtime::tasks::script::{DOCKER_OPTIONS, INPUT_FILES, RUNNER_TYPES};

/// `AbstractBash` properties (the deprecated `io.kestra.core.tasks.scripts.*` tasks).
macro_rules! bash_props {
    ($($extra:expr),* $(,)?) => {
        &[
            prop("runner", Enum(RUNNER_TYPES)),
            prop("dockerOptions", Object(DOCKER_OPTIONS)).not_dynamic(),
            prop("interpreter", String),
            prop("interpreterArgs", List(&String)).not_dynamic(),
            prop("exitOnFailed", Bool),
            prop("files", List(&String)).deprecated("use outputFiles"),
            prop("outputsFiles", List(&String)).deprecated("use outputFiles"),
            prop("outputFiles", List(&String)),
            prop("outputDirs", List(&String)).deprecated("use outputFiles"),
            prop("inputFiles", INPUT_FILES),
            prop("env", Map(&String)),
            prop("warningOnStdErr", Bool).deprecated("not used anymore"),
            $($extra),*
        ]
    };
}

/// `io.kestra.core.tasks.scripts.ScriptOutput`.
static BASH_OUTPUTS: &[OutputDef] = &[
    out("exitCode", ValueType::Int),
    out("vars", ValueType::Map(&ValueType::Any)),
    out("stdOutLineCount", ValueType::Int),
    out("stdErrLineCount", ValueType::Int),
    out("files", ValueType::Map(&ValueType::Uri)),
    out("outputFiles", ValueType::Map(&ValueType::Uri)),
];

/// `io.kestra.plugin.scripts.jvm.Eval` (nashorn, jython, groovy).
static EVAL_PROPS: &[PropDef] = &[prop("script", String), prop("outputs", List(&String))];
static EVAL_OUTPUTS: &[OutputDef] = &[
    out("result", ValueType::Any),
    out("outputs", ValueType::Map(&ValueType::Any)),
];

/// `io.kestra.plugin.scripts.jvm.FileTransform` (nashorn, jython, groovy).
static FILE_TRANSFORM_PROPS: &[PropDef] = &[
    prop("script", String),
    prop("from", String).required(),
    prop("concurrent", Int).not_dynamic(), // @Min(2)
];
static FILE_TRANSFORM_OUTPUTS: &[OutputDef] = &[out("uri", ValueType::Uri)];

pub(super) static PLUGINS: &[PluginDef] = &[
    // The incoming-webhook and execution-summary notifications (Slack, Teams, Discord) run:
    // their definitions are in
    // the runtime (`kflow_runtime::tasks::notify`).
    // The `<language>.Commands` / `.Script` types run: their definitions are in the runtime
    // (`kflow_runtime::tasks::script`).
    // io.kestra.core.tasks.scripts.Bash (AbstractBash)
    task(
        "io.kestra.core.tasks.scripts.Bash",
        &[],
        bash_props![prop("commands", List(&String)).required()],
        BASH_OUTPUTS,
        Some("use io.kestra.plugin.scripts.shell.Script or io.kestra.plugin.scripts.shell.Commands"),
    ),
    // io.kestra.core.tasks.scripts.Node (AbstractBash; runs `main.js` from inputFiles)
    task(
        "io.kestra.core.tasks.scripts.Node",
        &[],
        bash_props![prop("nodePath", String), prop("npmPath", String), prop("args", List(&String))],
        BASH_OUTPUTS,
        Some("use io.kestra.plugin.scripts.node.Script or io.kestra.plugin.scripts.node.Commands"),
    ),
    // io.kestra.core.tasks.scripts.Python (AbstractBash)
    task(
        "io.kestra.core.tasks.scripts.Python",
        &[],
        bash_props![
            prop("pythonPath", String),
            prop("args", List(&String)),
            prop("requirements", List(&String)),
            prop("commands", List(&String)),
            prop("virtualEnv", Bool).not_dynamic(),
            prop("packageManager", Enum(&["UV", "PIP"])),
        ],
        BASH_OUTPUTS,
        Some("use io.kestra.plugin.scripts.python.Script or io.kestra.plugin.scripts.python.Commands"),
    ),
    // io.kestra.plugin.scripts.nashorn.{Eval,FileTransform}
    task(
        "io.kestra.plugin.scripts.nashorn.Eval",
        &[],
        EVAL_PROPS,
        EVAL_OUTPUTS,
        Some("use io.kestra.plugin.graalvm.js.Eval"),
    ),
    task(
        "io.kestra.plugin.scripts.nashorn.FileTransform",
        &[],
        FILE_TRANSFORM_PROPS,
        FILE_TRANSFORM_OUTPUTS,
        Some("use io.kestra.plugin.graalvm.js.FileTransform"),
    ),
    // io.kestra.plugin.scripts.jython.{Eval,FileTransform}
    task(
        "io.kestra.plugin.scripts.jython.Eval",
        &[],
        EVAL_PROPS,
        EVAL_OUTPUTS,
        Some("use io.kestra.plugin.graalvm.python.Eval"),
    ),
    task(
        "io.kestra.plugin.scripts.jython.FileTransform",
        &[],
        FILE_TRANSFORM_PROPS,
        FILE_TRANSFORM_OUTPUTS,
        Some("use io.kestra.plugin.graalvm.python.FileTransform"),
    ),
    // io.kestra.plugin.scripts.groovy.{Eval,FileTransform}
    task(
        "io.kestra.plugin.scripts.groovy.Eval",
        &[],
        EVAL_PROPS,
        EVAL_OUTPUTS,
        Some("use a io.kestra.plugin.graalvm.*.Eval task"),
    ),
    task(
        "io.kestra.plugin.scripts.groovy.FileTransform",
        &[],
        FILE_TRANSFORM_PROPS,
        FILE_TRANSFORM_OUTPUTS,
        Some("use a io.kestra.plugin.graalvm.*.FileTransform task"),
    ),
];
