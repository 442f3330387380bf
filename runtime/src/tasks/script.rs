//! `io.kestra.plugin.scripts.<language>.Commands` and `.Script` (shell, Python, Node and the
//! other languages Kestra's script plugins know): commands, or a script file, run by the
//! language's interpreter as a local process (the Process task runner).
//!
//! - Kestra's default task runner is Docker; an edge binary cannot assume a daemon, so a task
//!   without `taskRunner` runs as a process. A task that asks for Docker (`taskRunner` of type
//!   `...runner.docker.Docker`, or `runner: DOCKER`) runs through the `docker` (or `podman`)
//!   command when a daemon answers, and otherwise fails saying how to switch to the Process
//!   runner.
//! - The task runs in a folder of its own (or the `WorkingDirectory` around it: `workingDir`),
//!   with `namespaceFiles` and `inputFiles` written into it first; `outputFiles` (globs) and
//!   every file written under `outputDir` are stored after, as `outputs.<id>.outputFiles`.
//! - `beforeCommands` then `commands` are one script given to `interpreter` (`/bin/sh -c` by
//!   default; `set -e` first with `failFast`, the default). `.Script` writes `script` to a file
//!   and runs it with the language's program (`python`, `node`, ...); a shell `Script` is run
//!   as the commands are.
//! - Kestra's output protocol: a line `::{"outputs":{...}}::` adds to `outputs.<id>.vars`,
//!   `::{"logs":[{"level":...,"message":...}]}::` becomes log lines and
//!   `::{"metrics":[...]}::` is logged at DEBUG (kflow keeps no task metrics yet). Other lines
//!   are logged as they come: stdout at INFO, stderr at WARN (and the task ends WARNING with
//!   `warningOnStdErr`, the default). A non-zero exit fails the task; `exitCode` is an output.
//! - Killing the execution (or a `timeout`) kills the process's whole group.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::definition::{
    out, prop, OutputDef, PluginDef, PropDef, PropType, PropType::*, ValueType,
};

/// `io.kestra.plugin.scripts.runner.docker.PullPolicy`.
pub const PULL_POLICY: PropType = Enum(&["IF_NOT_PRESENT", "ALWAYS", "NEVER"]);

/// `io.kestra.plugin.scripts.runner.docker.Credentials`.
pub static CREDENTIALS: &[PropDef] = &[
    prop("registry", String),
    prop("username", String),
    prop("password", String),
    prop("registryToken", String),
    prop("identityToken", String),
    prop("auth", String),
];

/// `io.kestra.plugin.scripts.runner.docker.DeviceRequest`.
pub static DEVICE_REQUEST: &[PropDef] = &[
    prop("driver", String),
    prop("count", Int),
    prop("deviceIds", List(&String)),
    prop("capabilities", List(&List(&String))),
    prop("options", Map(&String)),
];

/// `io.kestra.plugin.scripts.runner.docker.Cpu`. `cpus` is a `Property<Long>` but Docker reads it
/// as a double (`cpus: 1.5` is documented), so it is typed as a number.
pub static CPU: &[PropDef] = &[prop("cpus", Number)];

/// `io.kestra.plugin.scripts.runner.docker.Memory`.
pub static MEMORY: &[PropDef] = &[
    prop("memory", String),
    prop("memorySwap", String),
    prop("memorySwappiness", String),
    prop("memoryReservation", String),
    prop("kernelMemory", String),
    prop("oomKillDisable", Bool),
];

/// Docker's `config`: a JSON string or the parsed `config.json` object.
pub const DOCKER_CONFIG: PropType = OneOf(&[String, Map(&Any)]);

/// `io.kestra.plugin.scripts.exec.scripts.models.RunnerType` (deprecated `runner:`).
pub const RUNNER_TYPES: &[&str] = &["PROCESS", "DOCKER"];

/// `io.kestra.core.models.tasks.runners.TargetOS`.
pub(crate) const TARGET_OS: &[&str] = &["LINUX", "WINDOWS", "AUTO"];

/// `io.kestra.plugin.scripts.exec.scripts.models.DockerOptions`: the deprecated `docker:` of
/// `AbstractExecScript` and `dockerOptions:` of `AbstractBash`. `image` is `@NotNull` but not
/// validated (no `@Valid`) and is filled from `containerImage`, so it is optional here.
pub static DOCKER_OPTIONS: &[PropDef] = &[
    prop("host", String),
    prop("config", DOCKER_CONFIG),
    prop("configPath", String),
    prop("credentials", Object(CREDENTIALS)),
    prop("image", String),
    prop("user", String),
    prop("entryPoint", List(&String)),
    prop("extraHosts", List(&String)),
    prop("networkMode", String),
    prop("volumes", List(&String)),
    prop("pullPolicy", PULL_POLICY),
    prop("deviceRequests", List(&Object(DEVICE_REQUEST))).not_dynamic(),
    prop("cpu", Object(CPU)).not_dynamic(),
    prop("memory", Object(MEMORY)).not_dynamic(),
    prop("shmSize", String),
    prop("privileged", Bool),
    // Old names, still accepted through deprecated setters.
    prop("dockerHost", String).deprecated("use host"),
    prop("dockerConfig", String).deprecated("use config"),
];

/// `inputFiles` (`InputFilesInterface`): a map of file name to content or URI, or a JSON string.
pub const INPUT_FILES: PropType = OneOf(&[Map(&String), String]);

/// `AbstractExecScript` properties, followed by the type's own.
macro_rules! exec_script_props {
    ($($extra:expr),* $(,)?) => {
        &[
            prop("runner", Enum($crate::tasks::script::RUNNER_TYPES)).not_dynamic().deprecated("use taskRunner"),
            prop("taskRunner", Plugin($crate::definition::PluginKind::TaskRunner)).not_dynamic(),
            prop("containerImage", String),
            prop("beforeCommands", List(&String)),
            prop("env", Map(&String)),
            prop("warningOnStdErr", Bool),
            prop("interpreter", List(&String)),
            prop("failFast", Bool),
            prop("namespaceFiles", Object($crate::definition::shapes::NAMESPACE_FILES)).not_dynamic(),
            prop("inputFiles", $crate::tasks::script::INPUT_FILES),
            prop("outputFiles", List(&String)),
            prop("outputDirectory", Bool).deprecated("use outputFiles").not_run_yet(),
            prop("targetOS", Enum($crate::tasks::script::TARGET_OS)).not_run_yet(),
            prop("docker", Object($crate::tasks::script::DOCKER_OPTIONS)).not_dynamic().deprecated("use taskRunner"),
            $($extra),*
        ]
    };
}

pub(crate) use exec_script_props;

/// `AbstractPythonExecScript` (`PythonBasedPlugin`) properties, followed by the type's own.
macro_rules! python_props {
    ($($extra:expr),* $(,)?) => {
        exec_script_props![
            prop("dependencies", List(&String)).not_run_yet(),
            prop("pythonVersion", String).not_run_yet(),
            prop("dependencyCacheEnabled", Bool).not_run_yet(),
            prop("packageManager", Enum(&["UV", "PIP"])).not_run_yet(),
            prop("uvAutoInstallEnabled", Bool).not_run_yet(),
            prop("uvInstallerVersion", String).not_run_yet(),
            prop("uvInstallerSha256", String).not_run_yet(),
            $($extra),*
        ]
    };
}

/// `<language>.Commands`.
static COMMANDS_PROPS: &[PropDef] = exec_script_props![prop("commands", List(&String)).required()];
/// `deno`, `lua` and `perl` `Commands` declare `commands` without `@NotNull`.
static COMMANDS_OPTIONAL_PROPS: &[PropDef] = exec_script_props![prop("commands", List(&String))];
/// `<language>.Script`.
static SCRIPT_PROPS: &[PropDef] = exec_script_props![prop("script", String).required()];
/// `python.Commands`.
static PYTHON_COMMANDS_PROPS: &[PropDef] =
    python_props![prop("commands", List(&String)).required()];
/// `python.Script`.
static PYTHON_SCRIPT_PROPS: &[PropDef] = python_props![prop("script", String).required()];
/// `jbang.Script`.
static JBANG_SCRIPT_PROPS: &[PropDef] = exec_script_props![
    prop("script", String).required(),
    prop("extension", String),
    prop("quiet", Bool),
];

/// `io.kestra.plugin.scripts.exec.scripts.models.ScriptOutput`. `vars` holds what the script
/// printed as `::{"outputs":{...}}::`; `taskRunner` is the runner's detail (Docker: `containerId`).
pub static SCRIPT_OUTPUTS: &[OutputDef] = &[
    out("exitCode", ValueType::Int),
    out("stdOutLineCount", ValueType::Int),
    out("stdErrLineCount", ValueType::Int),
    out("vars", ValueType::Map(&ValueType::Any)),
    out("outputFiles", ValueType::Map(&ValueType::Uri)),
    out("taskRunner", ValueType::Any),
];

/// How one language runs: its types' names, the default interpreter of its commands, and the
/// program a `.Script` file is given to.
#[derive(Clone, Copy)]
pub struct Language {
    pub commands: &'static str,
    pub script: &'static str,
    pub commands_props: &'static [PropDef],
    pub script_props: &'static [PropDef],
    /// The command line a script file is run with (the file's path is added), through the
    /// interpreter; empty: the script is the commands (shell).
    pub run_file: &'static str,
    pub extension: &'static str,
    /// The interpreter of the commands when the task names none.
    pub interpreter: &'static [&'static str],
    /// The image the Docker runner uses when the task names none (Kestra's defaults).
    pub image: &'static str,
}

const SH: &[&str] = &["/bin/sh", "-c"];

const fn language(
    name: &'static str,
    run_file: &'static str,
    extension: &'static str,
    image: &'static str,
) -> Language {
    Language {
        commands: name,
        script: name,
        commands_props: COMMANDS_PROPS,
        script_props: SCRIPT_PROPS,
        run_file,
        extension,
        interpreter: SH,
        image,
    }
}

/// The languages, in the order of the `Exec` aliases below.
pub const LANGUAGES: &[Language] = &[
    Language {
        commands: "io.kestra.plugin.scripts.shell.Commands",
        script: "io.kestra.plugin.scripts.shell.Script",
        ..language("", "", ".sh", "ubuntu")
    },
    Language {
        commands: "io.kestra.plugin.scripts.python.Commands",
        script: "io.kestra.plugin.scripts.python.Script",
        commands_props: PYTHON_COMMANDS_PROPS,
        script_props: PYTHON_SCRIPT_PROPS,
        // `python` where there is one (a virtualenv, Kestra's images), else Debian's `python3`.
        ..language(
            "",
            "if command -v python >/dev/null 2>&1; then python {}; else python3 {}; fi",
            ".py",
            "ghcr.io/kestra-io/pydata:latest",
        )
    },
    Language {
        commands: "io.kestra.plugin.scripts.node.Commands",
        script: "io.kestra.plugin.scripts.node.Script",
        ..language("", "node {}", ".js", "node")
    },
    Language {
        commands: "io.kestra.plugin.scripts.powershell.Commands",
        script: "io.kestra.plugin.scripts.powershell.Script",
        interpreter: &["pwsh", "-NoProfile", "-NonInteractive", "-Command"],
        ..language("", "& {}", ".ps1", "mcr.microsoft.com/powershell")
    },
    Language {
        commands: "io.kestra.plugin.scripts.r.Commands",
        script: "io.kestra.plugin.scripts.r.Script",
        ..language("", "Rscript {}", ".R", "r-base")
    },
    Language {
        commands: "io.kestra.plugin.scripts.julia.Commands",
        script: "io.kestra.plugin.scripts.julia.Script",
        ..language("", "julia {}", ".jl", "julia")
    },
    Language {
        commands: "io.kestra.plugin.scripts.ruby.Commands",
        script: "io.kestra.plugin.scripts.ruby.Script",
        ..language("", "ruby {}", ".rb", "ruby")
    },
    Language {
        commands: "io.kestra.plugin.scripts.php.Commands",
        script: "io.kestra.plugin.scripts.php.Script",
        ..language("", "php {}", ".php", "php")
    },
    Language {
        commands: "io.kestra.plugin.scripts.perl.Commands",
        script: "io.kestra.plugin.scripts.perl.Script",
        commands_props: COMMANDS_OPTIONAL_PROPS,
        ..language("", "perl {}", ".pl", "perl")
    },
    Language {
        commands: "io.kestra.plugin.scripts.lua.Commands",
        script: "io.kestra.plugin.scripts.lua.Script",
        commands_props: COMMANDS_OPTIONAL_PROPS,
        ..language("", "lua {}", ".lua", "nickblah/lua")
    },
    Language {
        commands: "io.kestra.plugin.scripts.groovy.Commands",
        script: "io.kestra.plugin.scripts.groovy.Script",
        ..language("", "groovy {}", ".groovy", "groovy")
    },
    Language {
        commands: "io.kestra.plugin.scripts.go.Commands",
        script: "io.kestra.plugin.scripts.go.Script",
        ..language("", "go run {}", ".go", "golang")
    },
    Language {
        commands: "io.kestra.plugin.scripts.dotnet.Commands",
        script: "io.kestra.plugin.scripts.dotnet.Script",
        ..language("", "dotnet fsi {}", ".fsx", "mcr.microsoft.com/dotnet/sdk")
    },
    Language {
        commands: "io.kestra.plugin.scripts.deno.Commands",
        script: "io.kestra.plugin.scripts.deno.Script",
        commands_props: COMMANDS_OPTIONAL_PROPS,
        ..language("", "deno run --allow-all {}", ".ts", "denoland/deno")
    },
    Language {
        commands: "io.kestra.plugin.scripts.bun.Commands",
        script: "io.kestra.plugin.scripts.bun.Script",
        ..language("", "bun run {}", ".ts", "oven/bun")
    },
    Language {
        commands: "io.kestra.plugin.scripts.jbang.Commands",
        script: "io.kestra.plugin.scripts.jbang.Script",
        script_props: JBANG_SCRIPT_PROPS,
        ..language("", "jbang {}", ".java", "jbangdev/jbang-action")
    },
];

/// The properties of every script type, as rendered: which ones a type has is its
/// definition's business (the checker refuses the others).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScriptProps {
    #[serde(default)]
    pub commands: Option<Value>,
    #[serde(default)]
    pub script: Option<Value>,
    #[serde(default)]
    pub runner: Option<Value>,
    #[serde(default)]
    pub task_runner: Option<Value>,
    #[serde(default)]
    pub container_image: Option<Value>,
    #[serde(default)]
    pub before_commands: Option<Value>,
    #[serde(default)]
    pub env: Option<Value>,
    #[serde(default)]
    pub warning_on_std_err: Option<Value>,
    #[serde(default)]
    pub interpreter: Option<Value>,
    #[serde(default)]
    pub fail_fast: Option<Value>,
    #[serde(default)]
    pub namespace_files: Option<Value>,
    #[serde(default)]
    pub input_files: Option<Value>,
    #[serde(default)]
    pub output_files: Option<Value>,
    #[serde(default)]
    pub output_directory: Option<Value>,
    #[serde(default, rename = "targetOS")]
    pub target_os: Option<Value>,
    #[serde(default)]
    pub docker: Option<Value>,
    #[serde(default)]
    pub dependencies: Option<Value>,
    #[serde(default)]
    pub python_version: Option<Value>,
    #[serde(default)]
    pub dependency_cache_enabled: Option<Value>,
    #[serde(default)]
    pub package_manager: Option<Value>,
    #[serde(default)]
    pub uv_auto_install_enabled: Option<Value>,
    #[serde(default)]
    pub uv_installer_version: Option<Value>,
    #[serde(default)]
    pub uv_installer_sha256: Option<Value>,
    #[serde(default)]
    pub extension: Option<Value>,
    #[serde(default)]
    pub quiet: Option<Value>,
}

/// One script type: `Exec<L, false>` is `LANGUAGES[L].commands`, `Exec<L, true>` its `.Script`.
/// The type parameters only tell the definitions apart: reading and running the properties is
/// one piece of code for all 32 types, not one copy each.
#[derive(Debug)]
pub struct Exec<const L: usize, const SCRIPT: bool>(pub ScriptProps);

impl<'de, const L: usize, const SCRIPT: bool> Deserialize<'de> for Exec<L, SCRIPT> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ScriptProps::deserialize(deserializer).map(Exec)
    }
}

impl<const L: usize, const SCRIPT: bool> Exec<L, SCRIPT> {
    pub const DEFINITION: PluginDef = {
        let language = LANGUAGES[L];
        if SCRIPT {
            PluginDef::runnable_task(language.script, &[], language.script_props, SCRIPT_OUTPUTS)
                .in_working_dir()
        } else {
            PluginDef::runnable_task(
                language.commands,
                &[],
                language.commands_props,
                SCRIPT_OUTPUTS,
            )
            .in_working_dir()
        }
    };
}

pub type ShellCommands = Exec<0, false>;
pub type ShellScript = Exec<0, true>;
pub type PythonCommands = Exec<1, false>;
pub type PythonScript = Exec<1, true>;
pub type NodeCommands = Exec<2, false>;
pub type NodeScript = Exec<2, true>;
pub type PowershellCommands = Exec<3, false>;
pub type PowershellScript = Exec<3, true>;
pub type RCommands = Exec<4, false>;
pub type RScript = Exec<4, true>;
pub type JuliaCommands = Exec<5, false>;
pub type JuliaScript = Exec<5, true>;
pub type RubyCommands = Exec<6, false>;
pub type RubyScript = Exec<6, true>;
pub type PhpCommands = Exec<7, false>;
pub type PhpScript = Exec<7, true>;
pub type PerlCommands = Exec<8, false>;
pub type PerlScript = Exec<8, true>;
pub type LuaCommands = Exec<9, false>;
pub type LuaScript = Exec<9, true>;
pub type GroovyCommands = Exec<10, false>;
pub type GroovyScript = Exec<10, true>;
pub type GoCommands = Exec<11, false>;
pub type GoScript = Exec<11, true>;
pub type DotnetCommands = Exec<12, false>;
pub type DotnetScript = Exec<12, true>;
pub type DenoCommands = Exec<13, false>;
pub type DenoScript = Exec<13, true>;
pub type BunCommands = Exec<14, false>;
pub type BunScript = Exec<14, true>;
pub type JbangCommands = Exec<15, false>;
pub type JbangScript = Exec<15, true>;

/// What a script task gives (Kestra's `ScriptOutput`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScriptOutput {
    pub exit_code: i32,
    /// Lines the process wrote, protocol lines included (as Kestra counts them).
    pub std_out_line_count: u64,
    pub std_err_line_count: u64,
    /// What the script printed as `::{"outputs":{...}}::`.
    pub vars: Map<std::string::String, Value>,
    /// Each stored file's name to its `kestra:///` URI.
    pub output_files: Map<std::string::String, Value>,
    /// The runner's details (Kestra's Docker runner: the container); null for a process.
    pub task_runner: Value,
}

#[cfg(feature = "executor")]
pub(crate) mod run {
    use std::path::Path;
    use std::process::Stdio;

    use serde_json::{Map, Value};
    use tokio::io::{AsyncRead, AsyncReadExt};

    use super::{Exec, Language, ScriptOutput, ScriptProps, LANGUAGES};
    use crate::expr::value::to_display_string;
    use crate::plan::Level;
    use crate::tasks::props::{flag, list, optional_text};
    use crate::tasks::{Task, TaskContext, TaskError};
    use crate::workdir;

    /// The longest output line kept whole (a longer one is cut, and says so).
    const MAX_LINE: usize = 1 << 20;

    /// The most `vars` a script may print, in bytes of JSON (they go into the state).
    const MAX_VARS: usize = 16 << 20;

    /// How long `docker info` may take to say whether a daemon answers.
    const DAEMON_CHECK: std::time::Duration = std::time::Duration::from_secs(10);

    impl<const L: usize, const SCRIPT: bool> Task for Exec<L, SCRIPT> {
        type Output = ScriptOutput;

        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<ScriptOutput, TaskError> {
            let commands = language_commands(&self.0, &LANGUAGES[L], SCRIPT, ctx)?;
            run_commands(&self.0, commands, ctx).await
        }
    }

    /// Reads one output line of a tool into a log line, or leaves it (`None`).
    pub(crate) type ReadLine = fn(&str) -> Option<(Level, String)>;

    /// What a script-like task runs, besides what [`ScriptProps`] says: a language's or a
    /// command-line tool's part.
    pub(crate) struct Commands {
        /// The lines after `beforeCommands`.
        pub lines: Vec<String>,
        /// Added to the task's `env` (the task's own win).
        pub env: Vec<(String, String)>,
        /// Written into the working directory after `inputFiles` (name, content).
        pub files: Vec<(String, String)>,
        /// The interpreter when the task names none.
        pub interpreter: &'static [&'static str],
        /// The Docker runner's image when the task names none.
        pub image: &'static str,
        /// The program the task is about and how to install it: when the shell says it is not
        /// found (exit 127), the error says so.
        pub program: Option<(&'static str, &'static str)>,
        /// Reads a tool's structured output line into a log line (`None`: logged as it is).
        pub read_line: Option<ReadLine>,
        /// Whether stderr output makes the task WARNING when `warningOnStdErr` is not set.
        pub stderr_warns: bool,
    }

    /// A language's commands, or its `.Script` written to a file and run by its program.
    fn language_commands(
        task: &ScriptProps,
        language: &Language,
        script: bool,
        ctx: &TaskContext<'_>,
    ) -> Result<Commands, TaskError> {
        let mut lines = Vec::new();
        if script {
            let text = optional_text(task.script.as_ref()).ok_or("`script` is required")?;
            if language.run_file.is_empty() {
                lines.push(text);
            } else {
                let dir = working_dir(ctx)?;
                let file = dir.join(format!(
                    ".kflow-script-{}{}",
                    ctx.task_run_id(),
                    language.extension
                ));
                std::fs::write(&file, text).map_err(|e| format!("writing the script: {e}"))?;
                let quoted = shell_quote(&file.to_string_lossy());
                lines.push(language.run_file.replace("{}", &quoted));
            }
        } else {
            lines.extend(list(task.commands.as_ref(), "commands")?);
        }
        Ok(Commands {
            lines,
            env: Vec::new(),
            files: Vec::new(),
            interpreter: language.interpreter,
            image: language.image,
            program: language_program(language),
            read_line: None,
            stderr_warns: true,
        })
    }

    /// The program a language's tasks need (`pwsh`, `node`, `Rscript`, ...), for the error
    /// when it is missing; none for the shell.
    fn language_program(language: &Language) -> Option<(&'static str, &'static str)> {
        const INSTALL: &str = "install it on this host";
        let interpreter = language.interpreter.first().copied().unwrap_or("/bin/sh");
        if interpreter != "/bin/sh" {
            return Some((interpreter, INSTALL));
        }
        match language.run_file.split_whitespace().next() {
            None => None,
            // Python's runs `python`, else `python3`.
            Some("if") => Some(("python", INSTALL)),
            Some(program) => Some((program, INSTALL)),
        }
    }

    fn working_dir(ctx: &TaskContext<'_>) -> Result<std::path::PathBuf, TaskError> {
        Ok(ctx
            .working_dir()
            .ok_or("a script task runs in a working directory, and none was made")?
            .to_path_buf())
    }

    /// Whether the task asks for the Docker task runner.
    fn wants_docker(task: &ScriptProps) -> bool {
        let runner_type = task
            .task_runner
            .as_ref()
            .and_then(|r| r.get("type"))
            .map(to_display_string)
            .unwrap_or_default();
        runner_type.ends_with(".docker.Docker")
            || optional_text(task.runner.as_ref()).is_some_and(|r| r.eq_ignore_ascii_case("DOCKER"))
    }

    /// Runs `commands` as `task` says (files in, interpreter, env, runner), streams the output
    /// to the log and stores the output files.
    pub(crate) async fn run_commands(
        task: &ScriptProps,
        commands: Commands,
        ctx: &mut TaskContext<'_>,
    ) -> Result<ScriptOutput, TaskError> {
        let dir = working_dir(ctx)?;
        // Files in: namespace files, then `inputFiles` (which win on the same name).
        if let Some(spec) = task.namespace_files.as_ref().filter(|v| !v.is_null()) {
            if let Some(spec) = workdir::NamespaceFilesSpec::parse(spec, ctx.namespace())
                .map_err(|e| format!("namespaceFiles: {e}"))?
            {
                let copied =
                    workdir::write_namespace_files(&dir, &spec, &ctx.namespace_files(), |w| {
                        ctx.log(Level::Warn, w);
                    })
                    .map_err(|e| format!("namespaceFiles: {e}"))?;
                ctx.log(Level::Debug, &format!("{copied} namespace file(s) copied"));
            }
        }
        if let Some(files) = task.input_files.as_ref().filter(|v| !v.is_null()) {
            let files =
                workdir::input_files(files.clone()).map_err(|e| format!("inputFiles: {e}"))?;
            workdir::write_inputs(&dir, &files, ctx.storage().ok())
                .map_err(|e| format!("inputFiles: {e}"))?;
        }
        for (name, content) in &commands.files {
            std::fs::write(dir.join(name), content)
                .map_err(|e| format!("cannot write {name}: {e}"))?;
        }
        let output_dir = workdir::output_dir(&dir, ctx.task_run_id());
        std::fs::create_dir_all(&output_dir)
            .map_err(|e| format!("cannot create the output directory: {e}"))?;

        // The commands: `set -e` (failFast), `beforeCommands`, then the task's own.
        let interpreter = match task.interpreter.as_ref().filter(|v| !v.is_null()) {
            Some(v) => list(Some(v), "interpreter")?,
            None => commands
                .interpreter
                .iter()
                .map(|s| (*s).to_string())
                .collect(),
        };
        if interpreter.is_empty() {
            return Err("`interpreter` is empty".into());
        }
        let mut lines: Vec<String> = Vec::new();
        let shell_like = Path::new(&interpreter[0])
            .file_name()
            .is_some_and(|n| matches!(n.to_str(), Some("sh" | "bash" | "dash" | "zsh" | "ash")));
        if shell_like && flag(task.fail_fast.as_ref(), "failFast", true)? {
            lines.push("set -e".into());
        }
        lines.extend(list(task.before_commands.as_ref(), "beforeCommands")?);
        lines.extend(commands.lines);
        let mut argv = interpreter;
        argv.push(lines.join("\n"));

        let mut env: Vec<(String, String)> = commands.env;
        match task.env.as_ref() {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (name, value) in map {
                    env.push((name.clone(), to_display_string(value)));
                }
            }
            Some(other) => return Err(format!("`env` must be a map, got {other}").into()),
        }
        let mut command = if wants_docker(task) {
            docker_command(task, commands.image, &dir, &env, &argv).await?
        } else {
            let mut command = tokio::process::Command::new(&argv[0]);
            command
                .args(&argv[1..])
                .current_dir(&dir)
                .envs(env.iter().map(|(k, v)| (k, v)));
            command
        };
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let program = commands.program;
        let mut child = command.spawn().map_err(|e| match program {
            Some((name, install))
                if e.kind() == std::io::ErrorKind::NotFound && argv[0].starts_with(name) =>
            {
                not_on_path(&argv[0], name, install)
            }
            _ => format!("cannot start `{}`: {e}", argv[0]),
        })?;
        // A killed execution or a timeout drops this future: the guard kills the whole group.
        let _group = child.id().map(ProcessGroup);
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(bool, Vec<u8>)>(256);
        let out_reader = tokio::spawn(read_lines(stdout, false, tx.clone()));
        let err_reader = tokio::spawn(read_lines(stderr, true, tx));
        let mut vars = Map::new();
        let mut vars_size = 0usize;
        let mut stderr_lines = 0u64;
        let mut stdout_lines = 0u64;
        let mut all_stderr_lines = 0u64;
        let mut missing: Option<String> = None;
        while let Some((is_err, line)) = rx.recv().await {
            if is_err {
                all_stderr_lines += 1;
            } else {
                stdout_lines += 1;
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\r', '\n']);
            if let Some((level, message)) = commands.read_line.and_then(|read| read(text)) {
                if level == Level::Warn {
                    ctx.warn();
                }
                ctx.log(level, &message);
                continue;
            }
            if let Some(message) = protocol(text) {
                match message {
                    Protocol::Outputs(map) => {
                        vars_size += Value::Object(map.clone()).to_string().len();
                        if vars_size > MAX_VARS {
                            return Err(format!(
                                "the script printed more than {} MiB of outputs",
                                MAX_VARS >> 20
                            )
                            .into());
                        }
                        for (k, v) in map {
                            vars.insert(k, v);
                        }
                    }
                    Protocol::Logs(entries) => {
                        for entry in entries {
                            let level = entry
                                .get("level")
                                .and_then(Value::as_str)
                                .and_then(level_of)
                                .unwrap_or(Level::Info);
                            let message = entry
                                .get("message")
                                .map(to_display_string)
                                .unwrap_or_default();
                            ctx.log(level, &message);
                        }
                    }
                    Protocol::Metrics(metrics) => {
                        ctx.log(Level::Debug, &format!("metrics: {}", Value::Array(metrics)));
                    }
                }
                continue;
            }
            if is_err {
                stderr_lines += 1;
                if let Some(command) = missing_command(text) {
                    missing = Some(command.to_string());
                }
                ctx.log(Level::Warn, text);
            } else {
                ctx.log(Level::Info, text);
            }
        }
        let _ = out_reader.await;
        let _ = err_reader.await;
        let status = child
            .wait()
            .await
            .map_err(|e| format!("waiting for the process: {e}"))?;
        let exit_code = status.code().unwrap_or(-1);
        if !status.success() {
            if let Some((program, install)) = commands.program {
                if let Some(missing) =
                    missing.filter(|m| exit_code == 127 && m.starts_with(program))
                {
                    return Err(not_on_path(&missing, program, install).into());
                }
            }
            return Err(match status.code() {
                Some(code) => format!("Command failed with exit code {code}"),
                None => "Command was killed by a signal".to_string(),
            }
            .into());
        }
        // Files out: `outputFiles` globs, and everything under `outputDir`.
        let patterns = list(task.output_files.as_ref(), "outputFiles")?;
        let storage = ctx.storage().ok();
        let mut output_files = Map::new();
        let mut put = |name: &str, file: &mut std::fs::File| -> Result<String, String> {
            let storage = storage.ok_or("this execution has no internal storage (no state)")?;
            let uri = ctx.task_file_uri(name);
            storage.put(&uri, file)?;
            Ok(uri)
        };
        output_files.extend(
            workdir::store_matching(&dir, &patterns, &mut put)
                .map_err(|e| format!("outputFiles: {e}"))?,
        );
        let written = workdir::matching(&output_dir, &["**".to_string()]).unwrap_or_default();
        if !written.is_empty() {
            output_files.extend(
                workdir::store_matching(&output_dir, &["**".to_string()], &mut put)
                    .map_err(|e| format!("outputDir: {e}"))?,
            );
        }
        if stderr_lines > 0
            && flag(
                task.warning_on_std_err.as_ref(),
                "warningOnStdErr",
                commands.stderr_warns,
            )?
        {
            ctx.warn();
        }
        Ok(ScriptOutput {
            exit_code,
            std_out_line_count: stdout_lines,
            std_err_line_count: all_stderr_lines,
            vars,
            output_files,
            task_runner: Value::Null,
        })
    }

    /// `docker run` (or `podman run`) of the commands in the task's image, the working directory
    /// mounted at the same path; an error saying how to run as a process when no daemon answers.
    async fn docker_command(
        task: &ScriptProps,
        default_image: &str,
        dir: &Path,
        env: &[(String, String)],
        argv: &[String],
    ) -> Result<tokio::process::Command, TaskError> {
        const SWITCH: &str = "to run it as a local process, remove `taskRunner` or set `taskRunner: {type: io.kestra.plugin.core.runner.Process}`";
        let cli = container_cli(&[]).await.map_err(|why| {
            format!(
                "the Docker task runner needs a Docker daemon, and none answers ({why}); {SWITCH}"
            )
        })?;
        let image = optional_text(task.container_image.as_ref())
            .or_else(|| {
                task.docker
                    .as_ref()
                    .and_then(|d| d.get("image"))
                    .map(to_display_string)
            })
            .unwrap_or_else(|| default_image.to_string());
        let folder = dir.to_string_lossy();
        let mut command = tokio::process::Command::new(cli);
        command
            .args(["run", "--rm", "-i", "-v"])
            .arg(format!("{folder}:{folder}"))
            .args(["-w", &folder]);
        for (name, value) in env {
            command.arg("-e").arg(format!("{name}={value}"));
        }
        command.arg(image).args(argv);
        Ok(command)
    }

    /// The container command whose daemon answers, `docker` or else `podman` (with `env`, such
    /// as `DOCKER_HOST`); otherwise why neither does.
    pub(crate) async fn container_cli(env: &[(String, String)]) -> Result<&'static str, String> {
        let mut reasons = Vec::new();
        for cli in ["docker", "podman"] {
            let check = tokio::process::Command::new(cli)
                .args(["info", "--format", "{{.ServerVersion}}"])
                .envs(env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .output();
            match tokio::time::timeout(DAEMON_CHECK, check).await {
                Ok(Ok(out)) if out.status.success() => return Ok(cli),
                Ok(Ok(out)) => reasons.push(format!(
                    "`{cli} info` failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                        .lines()
                        .next()
                        .unwrap_or("")
                        .trim()
                )),
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                    reasons.push(format!("no `{cli}` command on PATH"));
                }
                Ok(Err(e)) => reasons.push(format!("`{cli}`: {e}")),
                Err(_) => reasons.push(format!("`{cli} info` did not answer within 10 s")),
            }
        }
        Err(reasons.join("; "))
    }

    fn not_on_path(missing: &str, program: &str, install: &str) -> String {
        format!(
            "`{missing}` is not on PATH: this task runs the {program} command-line tool installed on this host ({install}, or install it in `beforeCommands`)"
        )
    }

    /// `text` as one word for `sh`.
    pub(crate) fn shell_quote(text: &str) -> String {
        format!("'{}'", text.replace('\'', "'\\''"))
    }

    /// The command a shell says it cannot find: `sh: 1: dbt: not found`,
    /// `bash: line 1: dbt: command not found`.
    fn missing_command(line: &str) -> Option<&str> {
        let rest = line
            .strip_suffix(": command not found")
            .or_else(|| line.strip_suffix(": not found"))?;
        let command = rest.rsplit(": ").next()?.trim();
        (!command.is_empty() && !command.contains(' ')).then_some(command)
    }

    /// A folder only this user reads, outside the working directory, removed when dropped: for
    /// the secrets a tool reads from files (keys, kubeconfigs, registry logins).
    #[cfg(feature = "tools")]
    pub(crate) struct PrivateDir(std::path::PathBuf);

    #[cfg(feature = "tools")]
    impl PrivateDir {
        pub(crate) fn new(tool: &str, task_run_id: &str) -> Result<Self, TaskError> {
            use std::os::unix::fs::DirBuilderExt;
            let path = std::env::temp_dir().join(format!("kflow-{tool}-{task_run_id}"));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&path)
                .map_err(|e| format!("cannot create a private folder for {tool}: {e}"))?;
            Ok(PrivateDir(path))
        }

        pub(crate) fn path(&self) -> &Path {
            &self.0
        }

        /// Writes `content` to a new file `name` (mode 0600) and gives its path.
        pub(crate) fn write(&self, name: &str, content: &str) -> Result<String, TaskError> {
            use std::io::Write as _;
            use std::os::unix::fs::OpenOptionsExt;
            let path = self.0.join(name);
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| format!("cannot write {name} in a private folder: {e}"))?;
            file.write_all(content.as_bytes())
                .map_err(|e| format!("cannot write {name} in a private folder: {e}"))?;
            Ok(path.to_string_lossy().into_owned())
        }
    }

    #[cfg(feature = "tools")]
    impl Drop for PrivateDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Kills a process's whole group when dropped (the process was started as its leader).
    struct ProcessGroup(u32);

    impl Drop for ProcessGroup {
        fn drop(&mut self) {
            // The group may be gone already (ESRCH), which is fine.
            if let Some(pid) = i32::try_from(self.0)
                .ok()
                .and_then(rustix::process::Pid::from_raw)
            {
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
        }
    }

    /// Reads `from` line by line (a line longer than [`MAX_LINE`] is cut) into `to`.
    async fn read_lines(
        mut from: impl AsyncRead + Unpin,
        is_err: bool,
        to: tokio::sync::mpsc::Sender<(bool, Vec<u8>)>,
    ) {
        let mut buffer = vec![0u8; 64 << 10];
        let mut line: Vec<u8> = Vec::new();
        let mut cut = false;
        loop {
            let n = match from.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            for &byte in &buffer[..n] {
                if byte == b'\n' {
                    let done = std::mem::take(&mut line);
                    cut = false;
                    if to.send((is_err, done)).await.is_err() {
                        return;
                    }
                } else if line.len() < MAX_LINE {
                    line.push(byte);
                } else if !cut {
                    cut = true;
                    line.extend_from_slice(" [line cut at 1 MiB]".as_bytes());
                }
            }
        }
        if !line.is_empty() {
            let _ = to.send((is_err, line)).await;
        }
    }

    enum Protocol {
        Outputs(Map<String, Value>),
        Logs(Vec<Value>),
        Metrics(Vec<Value>),
    }

    /// A line of Kestra's output protocol: `::{...}::` holding `outputs`, `logs` or `metrics`.
    fn protocol(line: &str) -> Option<Protocol> {
        let inner = line.trim().strip_prefix("::")?.strip_suffix("::")?;
        let Value::Object(mut message) = serde_json::from_str::<Value>(inner).ok()? else {
            return None;
        };
        if let Some(Value::Object(outputs)) = message.remove("outputs") {
            return Some(Protocol::Outputs(outputs));
        }
        if let Some(Value::Array(logs)) = message.remove("logs") {
            return Some(Protocol::Logs(logs));
        }
        if let Some(Value::Array(metrics)) = message.remove("metrics") {
            return Some(Protocol::Metrics(metrics));
        }
        None
    }

    fn level_of(name: &str) -> Option<Level> {
        match name.to_ascii_uppercase().as_str() {
            "TRACE" => Some(Level::Trace),
            "DEBUG" => Some(Level::Debug),
            "INFO" => Some(Level::Info),
            "WARN" | "WARNING" => Some(Level::Warn),
            "ERROR" => Some(Level::Error),
            _ => None,
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn protocol_lines_are_read_as_kestra_writes_them() {
            assert!(
                matches!(protocol(r#"::{"outputs":{"a":1}}::"#), Some(Protocol::Outputs(m)) if m["a"] == 1)
            );
            assert!(
                matches!(protocol(r#"::{"logs":[{"level":"WARN","message":"m"}]}::"#), Some(Protocol::Logs(l)) if l.len() == 1)
            );
            assert!(matches!(
                protocol(r#"::{"metrics":[]}::"#),
                Some(Protocol::Metrics(_))
            ));
            assert!(protocol("::not json::").is_none());
            assert!(protocol(r#"{"outputs":{}}"#).is_none());
            assert!(protocol(r#"::{"other":1}::"#).is_none());
        }

        #[test]
        fn a_missing_command_is_read_from_the_shells_words() {
            assert_eq!(missing_command("sh: 1: dbt: not found"), Some("dbt"));
            assert_eq!(
                missing_command("bash: line 3: terraform: command not found"),
                Some("terraform")
            );
            assert_eq!(missing_command("error: file not found"), None);
        }
    }
}
