//! Kestra's command-line tool tasks (`dbt.cli.DbtCLI`, `terraform.cli.TerraformCLI`,
//! `ansible.cli.AnsibleCLI`, `aws.cli.AwsCLI`, `gcp.cli.GCloudCLI`, `azure.cli.AzCLI`): script
//! tasks whose commands call one known tool. One implementation for all of them (the script
//! runner of [`super::script`]) and a row per tool in [`TOOLS`]: its program, how to install it,
//! its own properties and how they reach the tool (environment variables, files written into
//! the working directory).
//!
//! The tool runs from `PATH` as a local process (or in its image with the Docker runner). When
//! the shell cannot find it, the task fails naming the missing program and how to install it.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::script::{exec_script_props, ScriptOutput, ScriptProps, DOCKER_OPTIONS, SCRIPT_OUTPUTS};
use crate::definition::shapes::NAMESPACE_FILES;
use crate::definition::{prop, OutputDef, PluginDef, PluginKind, PropDef, PropType::*};

/// One command-line tool task.
pub struct Tool {
    pub name: &'static str,
    pub props: &'static [PropDef],
    pub outputs: &'static [OutputDef],
    /// The program the commands call (a missing command starting with it is reported).
    pub program: &'static str,
    /// How to install it, for the missing-program error.
    pub install: &'static str,
    /// The Docker runner's image when the task names none (Kestra's).
    pub image: &'static str,
    /// The tool's own properties: the others are the script properties.
    pub own: &'static [&'static str],
    /// Own properties handed to the tool as environment variables.
    pub env: &'static [(&'static str, &'static str)],
    /// Own properties written to a file in the working directory, whose path is given to the
    /// tool in environment variables: (property, file name, variables).
    pub files: &'static [(&'static str, &'static str, &'static [&'static str])],
}

/// `dbt.cli.DbtCLI.KvStoreManifest`.
static DBT_KV_MANIFEST: &[PropDef] = &[
    prop("key", String).required(),
    prop("namespace", String).required(),
];

/// The properties of the CLI tasks that are their own `Task` rather than `AbstractExecScript`
/// (AWS, Google Cloud, Azure), followed by the type's own.
macro_rules! tool_props {
    ($($extra:expr),* $(,)?) => {
        &[
            prop("commands", List(&String)).required(),
            prop("env", Map(&String)),
            prop("docker", Object(DOCKER_OPTIONS)).not_dynamic().deprecated("use taskRunner"),
            prop("taskRunner", Plugin(PluginKind::TaskRunner)).not_dynamic(),
            prop("containerImage", String),
            prop("namespaceFiles", Object(NAMESPACE_FILES)).not_dynamic(),
            prop("inputFiles", super::script::INPUT_FILES),
            prop("outputFiles", List(&String)),
            $($extra),*
        ]
    };
}

/// Terraform's and Ansible's: [`tool_props`] and `beforeCommands`.
macro_rules! cli_props {
    ($($extra:expr),* $(,)?) => {
        tool_props![prop("beforeCommands", List(&String)), $($extra),*]
    };
}

/// The tools, in the order of the `Cli` aliases below.
pub static TOOLS: &[Tool] = &[
    Tool {
        name: "io.kestra.plugin.dbt.cli.DbtCLI",
        props: exec_script_props![
            prop("commands", List(&String)).required(),
            prop("profiles", String),
            prop("projectDir", String),
            prop("parseRunResults", Bool),
            prop("storeManifest", Object(DBT_KV_MANIFEST)).not_dynamic(),
            prop("loadManifest", Object(DBT_KV_MANIFEST)).not_dynamic(),
            prop("logFormat", Enum(&["JSON", "TEXT", "DEBUG", "NONE"])),
            prop("engine", Enum(&["CORE", "FUSION"])),
        ],
        outputs: SCRIPT_OUTPUTS,
        program: "dbt",
        install: "for example `pip install dbt-core dbt-duckdb`",
        image: "ghcr.io/kestra-io/dbt",
        own: &[
            "profiles",
            "projectDir",
            "parseRunResults",
            "storeManifest",
            "loadManifest",
            "logFormat",
            "engine",
        ],
        env: &[],
        files: &[],
    },
    Tool {
        name: "io.kestra.plugin.terraform.cli.TerraformCLI",
        props: cli_props![prop("failFast", Bool)],
        outputs: SCRIPT_OUTPUTS,
        program: "terraform",
        install: "from HashiCorp's releases or your system's packages",
        image: "hashicorp/terraform",
        own: &[],
        env: &[],
        files: &[],
    },
    Tool {
        name: "io.kestra.plugin.ansible.cli.AnsibleCLI",
        props: cli_props![prop("ansibleConfig", String)],
        outputs: SCRIPT_OUTPUTS,
        program: "ansible",
        install: "for example `pip install ansible-core`",
        image: "cytopia/ansible:latest-tools",
        own: &["ansibleConfig"],
        env: &[],
        files: &[("ansibleConfig", "ansible.cfg", &["ANSIBLE_CONFIG"])],
    },
    Tool {
        name: "io.kestra.plugin.aws.cli.AwsCLI",
        props: tool_props![
            prop("accessKeyId", String),
            prop("secretKeyId", String),
            prop("sessionToken", String),
            prop("region", String),
            prop("endpointOverride", String),
            prop("stsRoleArn", String),
            prop("stsRoleExternalId", String),
            prop("stsRoleSessionName", String),
            prop("stsRoleSessionDuration", Duration).not_run_yet(),
            prop("stsEndpointOverride", String).not_run_yet(),
            prop(
                "stsCredentialSource",
                Enum(&["Environment", "Ec2InstanceMetadata", "EcsContainer"])
            ),
            prop("outputFormat", Enum(&["JSON", "TEXT", "TABLE", "YAML"])),
        ],
        outputs: SCRIPT_OUTPUTS,
        program: "aws",
        install: "for example `pip install awscli`",
        image: "amazon/aws-cli",
        own: &[
            "accessKeyId",
            "secretKeyId",
            "sessionToken",
            "region",
            "endpointOverride",
            "stsRoleArn",
            "stsRoleExternalId",
            "stsRoleSessionName",
            "stsRoleSessionDuration",
            "stsEndpointOverride",
            "stsCredentialSource",
            "outputFormat",
        ],
        env: &[
            ("accessKeyId", "AWS_ACCESS_KEY_ID"),
            ("secretKeyId", "AWS_SECRET_ACCESS_KEY"),
            ("sessionToken", "AWS_SESSION_TOKEN"),
            ("region", "AWS_DEFAULT_REGION"),
            ("endpointOverride", "AWS_ENDPOINT_URL"),
        ],
        files: &[],
    },
    Tool {
        name: "io.kestra.plugin.gcp.cli.GCloudCLI",
        props: tool_props![prop("serviceAccount", String), prop("projectId", String)],
        outputs: SCRIPT_OUTPUTS,
        program: "gcloud",
        install: "the Google Cloud CLI, from Google's packages",
        image: "google/cloud-sdk",
        own: &["serviceAccount", "projectId"],
        env: &[("projectId", "CLOUDSDK_CORE_PROJECT")],
        files: &[(
            "serviceAccount",
            ".kflow-gcp-service-account.json",
            &[
                "GOOGLE_APPLICATION_CREDENTIALS",
                "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE",
            ],
        )],
    },
    Tool {
        name: "io.kestra.plugin.azure.cli.AzCLI",
        props: tool_props![
            prop("username", String),
            prop("password", String),
            prop("tenant", String),
            prop("servicePrincipal", Bool),
        ],
        outputs: SCRIPT_OUTPUTS,
        program: "az",
        install: "for example `pip install azure-cli`",
        image: "mcr.microsoft.com/azure-cli",
        own: &["username", "password", "tenant", "servicePrincipal"],
        env: &[
            ("username", "KFLOW_AZ_USERNAME"),
            ("password", "KFLOW_AZ_PASSWORD"),
            ("tenant", "KFLOW_AZ_TENANT"),
        ],
        files: &[],
    },
];

/// The properties of one tool task, as rendered: the tool's own, and the script properties.
#[derive(Debug)]
pub struct Cli<const T: usize> {
    pub own: Map<std::string::String, Value>,
    pub script: ScriptProps,
}

impl<'de, const T: usize> Deserialize<'de> for Cli<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut script = Map::deserialize(deserializer)?;
        let mut own = Map::new();
        for name in TOOLS[T].own {
            if let Some(value) = script.remove(*name) {
                own.insert((*name).to_string(), value);
            }
        }
        let script =
            ScriptProps::deserialize(Value::Object(script)).map_err(serde::de::Error::custom)?;
        Ok(Cli { own, script })
    }
}

impl<const T: usize> Cli<T> {
    pub const DEFINITION: PluginDef = {
        let tool = &TOOLS[T];
        PluginDef::runnable_task(tool.name, &[], tool.props, tool.outputs)
            .in_working_dir()
            .with_feature("tools")
    };
}

pub type DbtCli = Cli<0>;
pub type TerraformCli = Cli<1>;
pub type AnsibleCli = Cli<2>;
pub type AwsCli = Cli<3>;
pub type GcloudCli = Cli<4>;
pub type AzCli = Cli<5>;

/// What a tool task gives: a script's outputs.
pub type CliOutput = ScriptOutput;

#[cfg(feature = "tools")]
mod run {
    use std::path::Path;

    use serde_json::Value;

    use super::{Cli, CliOutput, TOOLS};
    use crate::expr::value::to_display_string;
    use crate::kv::KvWrite;
    use crate::plan::Level;
    use crate::tasks::props::{flag, list, optional_text};
    use crate::tasks::script::run::{run_commands, shell_quote, Commands};
    use crate::tasks::{Task, TaskContext, TaskError};

    const SH: &[&str] = &["/bin/sh", "-c"];

    /// The largest dbt manifest kept in the KV store.
    const MAX_MANIFEST: u64 = 64 << 20;

    impl<const T: usize> Task for Cli<T> {
        type Output = CliOutput;

        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<CliOutput, TaskError> {
            let tool = &TOOLS[T];
            let dir = ctx
                .working_dir()
                .ok_or("a tool task runs in a working directory, and none was made")?
                .to_path_buf();
            let mut commands = Commands {
                lines: list(self.script.commands.as_ref(), "commands")?,
                env: Vec::new(),
                files: Vec::new(),
                interpreter: SH,
                image: tool.image,
                program: Some((tool.program, tool.install)),
                read_line: None,
                stderr_warns: true,
            };
            for (name, variable) in tool.env {
                if let Some(value) = optional_text(self.own.get(*name)) {
                    commands.env.push(((*variable).to_string(), value));
                }
            }
            for (name, file, variables) in tool.files {
                if let Some(content) = optional_text(self.own.get(*name)) {
                    commands.files.push(((*file).to_string(), content));
                    let path = dir.join(file).to_string_lossy().into_owned();
                    for variable in *variables {
                        commands.env.push(((*variable).to_string(), path.clone()));
                    }
                }
            }
            commands
                .lines
                .splice(0..0, self.login_commands(tool.program)?);
            match tool.program {
                "aws" => {
                    let format = optional_text(self.own.get("outputFormat"))
                        .unwrap_or_else(|| "JSON".into())
                        .to_ascii_lowercase();
                    commands.env.push(("AWS_DEFAULT_OUTPUT".into(), format));
                }
                // Ansible reports on stderr as it goes: Kestra does not read that as a warning.
                "ansible" => commands.stderr_warns = false,
                _ => {}
            }
            if tool.program == "dbt" {
                let project = dbt::prepare(self, &dir, &mut commands, ctx)?;
                let mut output = run_commands(&self.script, commands, ctx).await?;
                dbt::finish(self, &project, &mut output, ctx)?;
                return Ok(output);
            }
            run_commands(&self.script, commands, ctx).await
        }
    }

    impl<const T: usize> Cli<T> {
        /// What Kestra runs before the task's commands: AWS's `aws configure set` of the STS
        /// settings (and the output format), Azure's `az login` (the secrets from the
        /// environment, not in the script).
        fn login_commands(&self, program: &str) -> Result<Vec<String>, TaskError> {
            let own = |name: &str| optional_text(self.own.get(name));
            let mut lines = Vec::new();
            match program {
                "aws" => {
                    for (name, key) in [
                        ("stsRoleArn", "role_arn"),
                        ("stsRoleSessionName", "role_session_name"),
                        ("stsRoleExternalId", "external_id"),
                        ("stsCredentialSource", "credential_source"),
                    ] {
                        if let Some(value) = own(name) {
                            lines.push(format!("aws configure set {key} {}", shell_quote(&value)));
                        }
                    }
                }
                "az" if own("username").is_some() => {
                    let mut login = String::from("az login -u \"$KFLOW_AZ_USERNAME\"");
                    if own("password").is_some() {
                        login.push_str(" -p \"$KFLOW_AZ_PASSWORD\"");
                    }
                    if own("tenant").is_some() {
                        login.push_str(" --tenant \"$KFLOW_AZ_TENANT\"");
                    }
                    if flag(self.own.get("servicePrincipal"), "servicePrincipal", false)? {
                        login.push_str(" --service-principal");
                    }
                    lines.push(login);
                }
                _ => {}
            }
            Ok(lines)
        }
    }

    /// `DbtCLI` as Kestra runs it: `profiles` written to `profiles.yml`; each `dbt` command gets
    /// `--project-dir` (with `projectDir`), `--log-format` (JSON unless NONE) and
    /// `--log-path logs`; JSON log lines are logged at their level (a warning makes the task
    /// WARNING); `target/manifest.json` and `target/run_results.json` become output files.
    mod dbt {
        use std::fmt::Write as _;

        use super::{
            flag, optional_text, shell_quote, to_display_string, Cli, CliOutput, Commands, KvWrite,
            Level, Path, TaskContext, TaskError, Value, MAX_MANIFEST,
        };

        pub(super) fn prepare<const T: usize>(
            task: &Cli<T>,
            dir: &Path,
            commands: &mut Commands,
            ctx: &TaskContext<'_>,
        ) -> Result<std::path::PathBuf, TaskError> {
            let project_dir = optional_text(task.own.get("projectDir"));
            let project = match &project_dir {
                Some(relative) => dir.join(relative),
                None => dir.to_path_buf(),
            };
            if let Some(profiles) =
                optional_text(task.own.get("profiles")).filter(|p| !p.is_empty())
            {
                commands.files.push(("profiles.yml".into(), profiles));
                commands.env.push((
                    "DBT_PROFILES_DIR".into(),
                    dir.to_string_lossy().into_owned(),
                ));
            }
            commands
                .env
                .push(("PYTHONUNBUFFERED".into(), "true".into()));
            let log_format = optional_text(task.own.get("logFormat"))
                .unwrap_or_else(|| "JSON".into())
                .to_ascii_lowercase();
            for line in &mut commands.lines {
                if !line.starts_with("dbt") {
                    continue;
                }
                if let Some(project_dir) = &project_dir {
                    if !line.contains("--project-dir") {
                        let _ = write!(line, " --project-dir {}", shell_quote(project_dir));
                    }
                }
                if log_format != "none" && !line.contains("--log-format") {
                    let _ = write!(line, " --log-format {log_format}");
                }
                if !line.contains("--log-path") {
                    line.push_str(" --log-path logs");
                }
            }
            if log_format == "json" {
                commands.read_line = Some(json_log_line);
            }
            if let Some(load) = task.own.get("loadManifest").filter(|v| !v.is_null()) {
                let (namespace, key) = manifest_key(load, "loadManifest")?;
                match ctx.kv(Some(&namespace), &key)? {
                    Some(value) if !value.is_null() => {
                        let text = match value {
                            Value::String(text) => text,
                            other => other.to_string(),
                        };
                        let target = project.join("target");
                        std::fs::create_dir_all(&target)
                            .map_err(|e| format!("loadManifest: {e}"))?;
                        std::fs::write(target.join("manifest.json"), text)
                            .map_err(|e| format!("loadManifest: {e}"))?;
                    }
                    _ => ctx.log(
                        Level::Warn,
                        "Property `loadManifest` has been used but no manifest has been found in the KV Store.",
                    ),
                }
            }
            Ok(project)
        }

        pub(super) fn finish<const T: usize>(
            task: &Cli<T>,
            project: &Path,
            output: &mut CliOutput,
            ctx: &mut TaskContext<'_>,
        ) -> Result<(), TaskError> {
            let manifest = project.join("target/manifest.json");
            let run_results = project.join("target/run_results.json");
            if manifest.is_file() {
                if let Some(store) = task.own.get("storeManifest").filter(|v| !v.is_null()) {
                    let (namespace, key) = manifest_key(store, "storeManifest")?;
                    let size = std::fs::metadata(&manifest).map_or(0, |m| m.len());
                    if size > MAX_MANIFEST {
                        return Err(format!(
                            "storeManifest: the manifest is {size} bytes, more than the KV store's {} MiB",
                            MAX_MANIFEST >> 20
                        )
                        .into());
                    }
                    let text = std::fs::read_to_string(&manifest)
                        .map_err(|e| format!("storeManifest: {e}"))?;
                    let value: Value = serde_json::from_str(&text)
                        .map_err(|e| format!("storeManifest: target/manifest.json: {e}"))?;
                    ctx.kv_set(&KvWrite {
                        namespace: &namespace,
                        key: &key,
                        value: &value,
                        ttl: None,
                        overwrite: true,
                        description: None,
                    })?;
                }
                let uri = store_file(ctx, "manifest.json", &manifest)?;
                output
                    .output_files
                    .insert("manifest.json".into(), Value::String(uri));
            } else {
                ctx.log(
                    Level::Warn,
                    &format!("dbt manifest not found at {}", manifest.display()),
                );
            }
            if flag(task.own.get("parseRunResults"), "parseRunResults", true)?
                && run_results.is_file()
            {
                let uri = store_file(ctx, "run_results.json", &run_results)?;
                output
                    .output_files
                    .insert("run_results.json".into(), Value::String(uri));
            }
            Ok(())
        }

        fn store_file(ctx: &TaskContext<'_>, name: &str, path: &Path) -> Result<String, TaskError> {
            let mut file = std::fs::File::open(path).map_err(|e| format!("{name}: {e}"))?;
            ctx.put_file(name, &mut file)
        }

        fn manifest_key(spec: &Value, property: &str) -> Result<(String, String), TaskError> {
            let field = |name: &str| {
                spec.get(name)
                    .filter(|v| !v.is_null())
                    .map(to_display_string)
                    .ok_or_else(|| TaskError::from(format!("`{property}.{name}` is required")))
            };
            Ok((field("namespace")?, field("key")?))
        }

        /// A dbt JSON log line (`{"info": {"level": "warn", "msg": "..."}, ...}`) as a log line.
        fn json_log_line(line: &str) -> Option<(Level, String)> {
            if !line.starts_with('{') {
                return None;
            }
            let value: Value = serde_json::from_str(line).ok()?;
            let info = value.get("info")?;
            let message = info.get("msg").map(to_display_string)?;
            let level = match info.get("level").and_then(Value::as_str)? {
                "debug" => Level::Debug,
                "warn" | "warning" => Level::Warn,
                "error" => Level::Error,
                _ => Level::Info,
            };
            Some((level, message))
        }

        #[cfg(test)]
        mod tests {
            use super::*;

            #[test]
            fn dbt_json_logs_keep_their_level() {
                let (level, message) = json_log_line(
                    r#"{"data":{},"info":{"level":"warn","msg":"Nothing to do","name":"NothingToDo"}}"#,
                )
                .unwrap();
                assert_eq!(level, Level::Warn);
                assert_eq!(message, "Nothing to do");
                assert!(json_log_line("plain text").is_none());
            }
        }
    }
}
