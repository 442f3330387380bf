//! Kestra task runner types: the values of a script task's `taskRunner:` property.
//!
//! The only property every task runner has is `type` (`io.kestra.core.models.tasks.runners.TaskRunner`).
//! The runners were renamed before release (`ProcessTaskRunner` -> `Process`,
//! `DockerTaskRunner` -> `Docker`) without keeping the old names, so neither has an alias.
//! Task runners have no outputs of their own: what they report lands in the script task's
//! `taskRunner` output.

use super::{prop, PluginDef, PluginKind, PropDef, PropType, PropType::*};

/// `io.kestra.plugin.scripts.runner.docker.PullPolicy`.
pub(super) const PULL_POLICY: PropType = Enum(&["IF_NOT_PRESENT", "ALWAYS", "NEVER"]);

/// `io.kestra.plugin.scripts.runner.docker.Credentials`.
pub(super) static CREDENTIALS: &[PropDef] = &[
    prop("registry", String),
    prop("username", String),
    prop("password", String),
    prop("registryToken", String),
    prop("identityToken", String),
    prop("auth", String),
];

/// `io.kestra.plugin.scripts.runner.docker.DeviceRequest`.
pub(super) static DEVICE_REQUEST: &[PropDef] = &[
    prop("driver", String),
    prop("count", Int),
    prop("deviceIds", List(&String)),
    prop("capabilities", List(&List(&String))),
    prop("options", Map(&String)),
];

/// `io.kestra.plugin.scripts.runner.docker.Cpu`. `cpus` is a `Property<Long>` but Docker reads it
/// as a double (`cpus: 1.5` is documented), so it is typed as a number.
pub(super) static CPU: &[PropDef] = &[prop("cpus", Number)];

/// `io.kestra.plugin.scripts.runner.docker.Memory`.
pub(super) static MEMORY: &[PropDef] = &[
    prop("memory", String),
    prop("memorySwap", String),
    prop("memorySwappiness", String),
    prop("memoryReservation", String),
    prop("kernelMemory", String),
    prop("oomKillDisable", Bool),
];

/// Docker's `config`: a JSON string or the parsed `config.json` object.
pub(super) const DOCKER_CONFIG: PropType = OneOf(&[String, Map(&Any)]);

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
