//! Kestra's `docker.Build`, `docker.Run` and `docker.Push`, run by the `docker` command-line
//! tool (or `podman`), whichever has a daemon that answers; none answering fails the task
//! saying so (a client is often installed without a daemon).
//!
//! - `host` is `DOCKER_HOST` (`CONTAINER_HOST` for podman). `config` and `credentials` become
//!   a `config.json` in a private folder outside the working directory (`DOCKER_CONFIG`,
//!   `REGISTRY_AUTH_FILE`), removed after the task: no secret is on a command line.
//! - `Build`: `dockerfile` is the Dockerfile's text (or a path in the working directory); the
//!   working directory (with `inputFiles` and `namespaceFiles`) is the build context; `tags`,
//!   `buildArgs`, `labels`, `target`, `platforms`, `pull`; `push` pushes every tag after.
//!   `imageId` is the built image's id.
//! - `Run`: `containerImage` with `commands` as its command, the working directory mounted at
//!   the same path; `env` reaches the container by name only (`-e NAME`), the values through
//!   the environment. Outputs as a script task's (`::{"outputs":…}::` lines, `outputFiles`).
//!   `wait: false` starts the container detached.
//! - `Push`: pushes each of `tags`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::script::{
    ScriptOutput, CPU, CREDENTIALS, DEVICE_REQUEST, DOCKER_CONFIG, INPUT_FILES, MEMORY,
    PULL_POLICY, SCRIPT_OUTPUTS,
};
use crate::definition::shapes::NAMESPACE_FILES;
use crate::definition::{out, prop, OutputDef, PluginDef, PropDef, PropType::*, ValueType};

/// How to reach the daemon and the registry: every Docker task's properties, then its own.
macro_rules! docker_props {
    ($($extra:expr),* $(,)?) => {
        &[
            prop("host", String),
            prop("config", DOCKER_CONFIG),
            prop("credentials", Object(CREDENTIALS)),
            $($extra),*
        ]
    };
}

static BUILD_PROPS: &[PropDef] = docker_props![
    prop("dockerfile", String),
    prop("platforms", List(&String)),
    prop("push", Bool),
    prop("pull", Bool),
    prop("tags", List(&String)).required(),
    prop("buildArgs", Map(&String)),
    prop("labels", Map(&String)),
    prop("target", String),
    prop("namespaceFiles", Object(NAMESPACE_FILES)).not_dynamic(),
    prop("inputFiles", INPUT_FILES),
];

static RUN_PROPS: &[PropDef] = docker_props![
    prop("containerImage", String).required(),
    prop("commands", List(&String)),
    prop("entryPoint", List(&String)),
    prop("env", Map(&String)),
    prop("user", String),
    prop("volumes", List(&String)),
    prop("networkMode", String),
    prop("pullPolicy", PULL_POLICY),
    prop("privileged", Bool),
    prop("portBindings", List(&String)),
    prop("extraHosts", List(&String)),
    prop("shmSize", String),
    prop("wait", Bool),
    prop("memory", Object(MEMORY)).not_dynamic().not_run_yet(),
    prop("cpu", Object(CPU)).not_dynamic().not_run_yet(),
    prop("deviceRequests", List(&Object(DEVICE_REQUEST)))
        .not_dynamic()
        .not_run_yet(),
    prop("namespaceFiles", Object(NAMESPACE_FILES)).not_dynamic(),
    prop("inputFiles", INPUT_FILES),
    prop("outputFiles", List(&String)),
];

static PUSH_PROPS: &[PropDef] = docker_props![prop("tags", List(&String)).required()];

static BUILD_OUTPUTS: &[OutputDef] = &[out("imageId", ValueType::String)];

pub const BUILD: usize = 0;
pub const RUN: usize = 1;
pub const PUSH: usize = 2;

/// The properties of the three tasks (each type's definition says which it has).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DockerProps {
    #[serde(default)]
    pub host: Option<Value>,
    #[serde(default)]
    pub config: Option<Value>,
    #[serde(default)]
    pub credentials: Option<Value>,
    #[serde(default)]
    pub dockerfile: Option<Value>,
    #[serde(default)]
    pub platforms: Option<Value>,
    #[serde(default)]
    pub push: Option<Value>,
    #[serde(default)]
    pub pull: Option<Value>,
    #[serde(default)]
    pub tags: Option<Value>,
    #[serde(default)]
    pub build_args: Option<Value>,
    #[serde(default)]
    pub labels: Option<Value>,
    #[serde(default)]
    pub target: Option<Value>,
    #[serde(default)]
    pub container_image: Option<Value>,
    #[serde(default)]
    pub commands: Option<Value>,
    #[serde(default)]
    pub entry_point: Option<Value>,
    #[serde(default)]
    pub env: Option<Value>,
    #[serde(default)]
    pub user: Option<Value>,
    #[serde(default)]
    pub volumes: Option<Value>,
    #[serde(default)]
    pub network_mode: Option<Value>,
    #[serde(default)]
    pub pull_policy: Option<Value>,
    #[serde(default)]
    pub privileged: Option<Value>,
    #[serde(default)]
    pub port_bindings: Option<Value>,
    #[serde(default)]
    pub extra_hosts: Option<Value>,
    #[serde(default)]
    pub shm_size: Option<Value>,
    #[serde(default)]
    pub wait: Option<Value>,
    #[serde(default)]
    pub memory: Option<Value>,
    #[serde(default)]
    pub cpu: Option<Value>,
    #[serde(default)]
    pub device_requests: Option<Value>,
    #[serde(default)]
    pub namespace_files: Option<Value>,
    #[serde(default)]
    pub input_files: Option<Value>,
    #[serde(default)]
    pub output_files: Option<Value>,
}

/// One Docker task: `OP` is [`BUILD`], [`RUN`] or [`PUSH`].
#[derive(Debug)]
pub struct Docker<const OP: usize>(pub DockerProps);

impl<'de, const OP: usize> Deserialize<'de> for Docker<OP> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        DockerProps::deserialize(deserializer).map(Docker)
    }
}

impl<const OP: usize> Docker<OP> {
    pub const DEFINITION: PluginDef = (match OP {
        BUILD => PluginDef::runnable_task(
            "io.kestra.plugin.docker.cli.Build",
            &["io.kestra.plugin.docker.Build"],
            BUILD_PROPS,
            BUILD_OUTPUTS,
        ),
        RUN => PluginDef::runnable_task(
            "io.kestra.plugin.docker.Run",
            &[],
            RUN_PROPS,
            SCRIPT_OUTPUTS,
        ),
        _ => PluginDef::runnable_task("io.kestra.plugin.docker.Push", &[], PUSH_PROPS, &[]),
    })
    .in_working_dir()
    .with_feature("tools");
}

pub type DockerBuild = Docker<BUILD>;
pub type DockerRun = Docker<RUN>;
pub type DockerPush = Docker<PUSH>;

/// What a Docker task gives: `imageId` (Build), a script's outputs (Run), nothing (Push).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_id: Option<std::string::String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub script: Option<ScriptOutput>,
}

#[cfg(feature = "tools")]
mod run {
    use base64::Engine as _;
    use serde_json::{json, Map, Value};

    use super::{Docker, DockerOutput, DockerProps, BUILD, RUN};
    use crate::expr::value::to_display_string;
    use crate::plan::Level;
    use crate::tasks::props::{flag, list, optional_text};
    use crate::tasks::script::run::{
        container_cli, run_commands, shell_quote, Commands, PrivateDir,
    };
    use crate::tasks::script::ScriptProps;
    use crate::tasks::{Task, TaskContext, TaskError};

    const SH: &[&str] = &["/bin/sh", "-c"];
    const INSTALL: &str = "Docker Engine or Podman, with its daemon running";
    const DOCKER_HUB: &str = "https://index.docker.io/v1/";

    impl<const OP: usize> Task for Docker<OP> {
        type Output = DockerOutput;

        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<DockerOutput, TaskError> {
            let props = &self.0;
            let private = PrivateDir::new("docker", ctx.task_run_id())?;
            let mut env = Vec::new();
            if let Some(host) = optional_text(props.host.as_ref()).filter(|h| !h.is_empty()) {
                env.push(("DOCKER_HOST".to_string(), host.clone()));
                env.push(("CONTAINER_HOST".to_string(), host));
            }
            let name = ["Build", "Run", "Push"][OP.min(2)];
            let cli = container_cli(&env).await.map_err(|why| {
                format!("docker.{name} needs a Docker daemon, and none answers ({why})")
            })?;
            if let Some(config) = registry_config(props)? {
                let path = private.write("config.json", &config)?;
                env.push((
                    "DOCKER_CONFIG".to_string(),
                    private.path().to_string_lossy().into_owned(),
                ));
                env.push(("REGISTRY_AUTH_FILE".to_string(), path));
            }
            let tags = list(props.tags.as_ref(), "tags")?;
            let mut lines = Vec::new();
            let mut script = ScriptProps::default();
            let mut image_id = None;
            match OP {
                BUILD => {
                    if tags.is_empty() {
                        return Err("`tags`: name the image to build".into());
                    }
                    let dir = ctx
                        .working_dir()
                        .ok_or("docker.Build runs in a working directory, and none was made")?
                        .to_path_buf();
                    let dockerfile = match optional_text(props.dockerfile.as_ref()) {
                        Some(text) if !text.contains('\n') && dir.join(&text).is_file() => {
                            dir.join(text).to_string_lossy().into_owned()
                        }
                        Some(text) => private.write("Dockerfile", &text)?,
                        None => dir.join("Dockerfile").to_string_lossy().into_owned(),
                    };
                    let iid = private.path().join("image-id");
                    let mut args = vec![cli.to_string(), "build".into(), "-f".into(), dockerfile];
                    for tag in &tags {
                        args.extend(["-t".to_string(), tag.clone()]);
                    }
                    for (flag_name, property, value) in [
                        ("--build-arg", "buildArgs", props.build_args.as_ref()),
                        ("--label", "labels", props.labels.as_ref()),
                    ] {
                        for (key, value) in pairs(value, property)? {
                            args.extend([flag_name.to_string(), format!("{key}={value}")]);
                        }
                    }
                    if let Some(target) = optional_text(props.target.as_ref()) {
                        args.extend(["--target".to_string(), target]);
                    }
                    let platforms = list(props.platforms.as_ref(), "platforms")?;
                    if !platforms.is_empty() {
                        args.extend(["--platform".to_string(), platforms.join(",")]);
                    }
                    if flag(props.pull.as_ref(), "pull", true)? {
                        args.push("--pull".into());
                    }
                    args.extend([
                        "--iidfile".to_string(),
                        iid.to_string_lossy().into_owned(),
                        dir.to_string_lossy().into_owned(),
                    ]);
                    lines.push(command_line(&args));
                    if flag(props.push.as_ref(), "push", false)? {
                        for tag in &tags {
                            lines.push(command_line(&[cli.into(), "push".into(), tag.clone()]));
                        }
                    }
                    script.input_files.clone_from(&props.input_files);
                    script.namespace_files.clone_from(&props.namespace_files);
                    image_id = Some(iid);
                }
                RUN => {
                    lines.push(run_line(cli, props, ctx)?);
                    script.env.clone_from(&props.env);
                    script.input_files.clone_from(&props.input_files);
                    script.namespace_files.clone_from(&props.namespace_files);
                    script.output_files.clone_from(&props.output_files);
                }
                _ => {
                    if tags.is_empty() {
                        return Err("`tags`: name the images to push".into());
                    }
                    for tag in &tags {
                        lines.push(command_line(&[cli.into(), "push".into(), tag.clone()]));
                    }
                }
            }
            ctx.log(Level::Info, &format!("{cli} {name}: {}", tags.join(", ")));
            let commands = Commands {
                lines,
                env,
                files: Vec::new(),
                interpreter: SH,
                image: "",
                program: Some((cli, INSTALL)),
                read_line: None,
                // The CLI reports progress on stderr; a container's stderr is the task's.
                stderr_warns: OP == RUN,
            };
            let output = run_commands(&script, commands, ctx).await?;
            let image_id = match image_id {
                Some(path) => Some(
                    std::fs::read_to_string(&path)
                        .map_err(|e| format!("the built image's id: {e}"))?
                        .trim()
                        .to_string(),
                ),
                None => None,
            };
            drop(private);
            Ok(DockerOutput {
                image_id,
                script: (OP == RUN).then_some(output),
            })
        }
    }

    fn command_line(args: &[String]) -> String {
        args.iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A map property's entries as text.
    fn pairs(value: Option<&Value>, property: &str) -> Result<Vec<(String, String)>, TaskError> {
        match value {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Object(map)) => Ok(map
                .iter()
                .map(|(k, v)| (k.clone(), to_display_string(v)))
                .collect()),
            Some(other) => Err(format!("`{property}` must be a map, got {other}").into()),
        }
    }

    /// `docker run` of `containerImage` with `commands`, the working directory mounted.
    fn run_line(
        cli: &str,
        props: &DockerProps,
        ctx: &TaskContext<'_>,
    ) -> Result<String, TaskError> {
        let image =
            optional_text(props.container_image.as_ref()).ok_or("`containerImage` is required")?;
        let dir = ctx
            .working_dir()
            .ok_or("docker.Run runs in a working directory, and none was made")?
            .to_string_lossy()
            .into_owned();
        let mut args = vec![cli.to_string(), "run".into()];
        if flag(props.wait.as_ref(), "wait", true)? {
            args.push("--rm".into());
        } else {
            args.push("--detach".into());
        }
        args.extend(["-v".into(), format!("{dir}:{dir}"), "-w".into(), dir]);
        for (name, _) in pairs(props.env.as_ref(), "env")? {
            args.extend(["-e".to_string(), name]);
        }
        let entry = list(props.entry_point.as_ref(), "entryPoint")?;
        let mut entry = entry.into_iter();
        if let Some(first) = entry.next() {
            args.extend(["--entrypoint".to_string(), first]);
        }
        for (flag_name, property, value) in [
            ("-v", "volumes", props.volumes.as_ref()),
            ("-p", "portBindings", props.port_bindings.as_ref()),
            ("--add-host", "extraHosts", props.extra_hosts.as_ref()),
        ] {
            for item in list(value, property)? {
                args.extend([flag_name.to_string(), item]);
            }
        }
        for (flag_name, value) in [
            ("--user", props.user.as_ref()),
            ("--network", props.network_mode.as_ref()),
            ("--shm-size", props.shm_size.as_ref()),
        ] {
            if let Some(value) = optional_text(value).filter(|v| !v.is_empty()) {
                args.extend([flag_name.to_string(), value]);
            }
        }
        if let Some(policy) = optional_text(props.pull_policy.as_ref()) {
            let pull = match policy.as_str() {
                "IF_NOT_PRESENT" => "missing",
                "ALWAYS" => "always",
                "NEVER" => "never",
                other => {
                    return Err(format!(
                        "`pullPolicy` must be IF_NOT_PRESENT, ALWAYS or NEVER, got {other}"
                    )
                    .into())
                }
            };
            args.push(format!("--pull={pull}"));
        }
        if flag(props.privileged.as_ref(), "privileged", false)? {
            args.push("--privileged".into());
        }
        args.push(image);
        // The rest of `entryPoint` comes before the commands, as the entry point's arguments.
        args.extend(entry);
        args.extend(list(props.commands.as_ref(), "commands")?);
        Ok(command_line(&args))
    }

    /// `config` with `credentials` added to its `auths`, as the CLI's `config.json`.
    fn registry_config(props: &DockerProps) -> Result<Option<String>, TaskError> {
        let mut config = match props.config.as_ref() {
            None | Some(Value::Null) => Map::new(),
            Some(Value::String(text)) if text.trim().is_empty() => Map::new(),
            Some(Value::String(text)) => match serde_json::from_str(text) {
                Ok(Value::Object(map)) => map,
                _ => return Err("`config` must be a JSON object (Docker's config.json)".into()),
            },
            Some(Value::Object(map)) => map.clone(),
            Some(other) => return Err(format!("`config` must be a map, got {other}").into()),
        };
        let credentials = props.credentials.as_ref().filter(|c| !c.is_null());
        if let Some(credentials) = credentials {
            let text = |name: &str| optional_text(credentials.get(name)).filter(|t| !t.is_empty());
            let registry = text("registry").unwrap_or_else(|| DOCKER_HUB.into());
            let mut entry = Map::new();
            if let Some(auth) = text("auth") {
                entry.insert("auth".into(), json!(auth));
            } else if let Some(username) = text("username") {
                let password = text("password").unwrap_or_default();
                let auth = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{password}"));
                entry.insert("auth".into(), json!(auth));
            }
            if let Some(token) = text("identityToken") {
                entry.insert("identitytoken".into(), json!(token));
            }
            if let Some(token) = text("registryToken") {
                entry.insert("registrytoken".into(), json!(token));
            }
            let auths = config
                .entry("auths")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(auths) = auths {
                auths.insert(registry, Value::Object(entry));
            } else {
                return Err("`config.auths` must be a map".into());
            }
        }
        Ok((!config.is_empty()).then(|| Value::Object(config).to_string()))
    }
}
