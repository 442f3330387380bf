//! Kestra task runner types: the values of a script task's `taskRunner:` property.
//!
//! The only property every task runner has is `type` (`io.kestra.core.models.tasks.runners.TaskRunner`).
//! The runners were renamed before release (`ProcessTaskRunner` -> `Process`,
//! `DockerTaskRunner` -> `Docker`) without keeping the old names, so neither has an alias.
//! Task runners have no outputs of their own: what they report lands in the script task's
//! `taskRunner` output.

use super::{prop, PluginDef, PluginKind, PropDef, PropType::*};

pub(super) use kflow_runtime::tasks::script::{
    CPU, CREDENTIALS, DEVICE_REQUEST, DOCKER_CONFIG, MEMORY, PULL_POLICY,
};

/// Shorthand for a task runner entry.
const fn runner(name: &'static str, properties: &'static [PropDef]) -> PluginDef {
    PluginDef::known(PluginKind::TaskRunner, name, &[], properties, &[])
}

pub(super) static PLUGINS: &[PluginDef] = &[
    // io.kestra.plugin.core.runner.Process: a local subprocess, no options.
    runner("io.kestra.plugin.core.runner.Process", &[]),
    // io.kestra.plugin.scripts.runner.docker.Docker
    runner(
        "io.kestra.plugin.scripts.runner.docker.Docker",
        &[
            prop("host", String),
            prop("config", DOCKER_CONFIG),
            prop("credentials", Object(CREDENTIALS)),
            // Hidden, kept for the old `docker:` options; the task's `containerImage` is the way.
            prop("image", String).deprecated("use the task's containerImage"),
            prop("user", String),
            prop("entryPoint", List(&String)),
            prop("extraHosts", List(&String)),
            prop("networkMode", String),
            prop("portBindings", List(&String)),
            prop("volumes", List(&String)),
            prop("pullPolicy", PULL_POLICY),
            prop("deviceRequests", List(&Object(DEVICE_REQUEST))).not_dynamic(),
            prop("cpu", Object(CPU)).not_dynamic(),
            prop("memory", Object(MEMORY)).not_dynamic(),
            prop("shmSize", String),
            prop("privileged", Bool),
            prop("fileHandlingStrategy", Enum(&["MOUNT", "VOLUME"])),
            prop("delete", Bool),
            prop("wait", Bool),
            prop("killGracePeriod", Duration).not_dynamic(),
            prop("resume", Bool),
        ],
    ),
];
