//! `kflowc`: the command line. Parses arguments, runs the library, renders diagnostics.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use kflow_compiler::diag::{
    render_github, render_human, render_json, render_sarif, Color, FileReport,
};
use kflow_compiler::{build, check_source, check_sources, files, Options};

#[derive(Parser)]
#[command(
    name = "kflowc",
    version,
    about = "Compile Kestra-style flow YAML into checked, native flows"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check flow files: YAML, keys, types, ids and references, each mistake at its line.
    ///
    /// Exit status: 0 no errors (warnings allowed), 1 at least one error, 2 could not run.
    Check {
        /// Flow files, or folders searched for `*.yml` and `*.yaml`.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// How to print the diagnostics.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Report task and trigger types missing from the registry as warnings, not errors.
        #[arg(long)]
        allow_unknown_types: bool,
        /// Also an error for each task type this version's runtime cannot run: exactly what
        /// `kflowc build` refuses. Script tasks count as runnable: without a `taskRunner` they
        /// run as local processes (Kestra's default is Docker; an edge binary cannot assume a
        /// daemon), and with the Docker runner through the `docker` command when a daemon
        /// answers.
        #[arg(long)]
        runnable: bool,
    },
    /// Build a flow into one static binary named after its id (`./<flow-id>`), or several
    /// flows into one binary named by `-o` that hosts them all (`./bundle run FLOW_ID`;
    /// `./bundle serve` runs every flow's triggers; they start one another as subflows and
    /// through Flow triggers).
    ///
    /// The first build compiles the runtime (minutes); later ones reuse it from the cache
    /// (`$KFLOW_CACHE_DIR`, else `~/.cache/kflow`). Exit status: 0 built, 1 a flow has errors
    /// or cargo failed, 2 bad arguments.
    Build {
        /// The flow files.
        #[arg(required = true)]
        flows: Vec<PathBuf>,
        /// Where to put the binary (default for one flow: `./<flow-id>`); a folder (`dir/`, or
        /// one that exists) receives `<flow-id>` inside it. Required for several flows.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Build without optimizations (faster to build, slower to run).
        #[arg(long, conflicts_with = "small")]
        debug: bool,
        /// Smallest binary: fat LTO and `opt-level = "s"` (slower to build).
        #[arg(long)]
        small: bool,
        /// Target triple (default: musl when installed, else glibc linked statically).
        #[arg(long)]
        target: Option<String>,
        /// Show cargo's output.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Build a flow (cached) and run it once: the one-command dev loop.
    ///
    /// The arguments after the flow go to the binary's `run` command (`--input id=value`,
    /// `--inputs FILE.json`, ...), with or without a `--` before them.
    Run {
        flow: PathBuf,
        /// Arguments for `<flow> run`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Write the flow's generated crate (in a workspace with the runtime's source) to DIR.
    Emit {
        flow: PathBuf,
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
    },
    /// Draw a flow's tasks and how they lead to one another (branches, loops, Dag edges,
    /// `errors`/`finally`) as DOT, Mermaid or JSON.
    Graph {
        flow: PathBuf,
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
    /// Render one template with the runtime's evaluator: the playground for expressions.
    ///
    /// Secrets come from `SECRET_<KEY>` environment variables (base64), as in Kestra's
    /// open-source edition; `read()` reads local files. Exit status: 0 rendered, 1 the template
    /// failed (the error on stderr), 2 bad arguments.
    Eval {
        /// The template: text with `{{ }}` and `{% %}`.
        template: String,
        /// A JSON object whose keys become the top-level variables.
        #[arg(long, value_name = "FILE.json")]
        vars: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    /// Graphviz: `kflowc graph flow.yml | dot -Tsvg > flow.svg`.
    Dot,
    /// A Mermaid flowchart (renders in GitHub Markdown).
    Mermaid,
    /// `{"flow", "nodes": [{"id", "type"}], "edges": [{"from", "to", "label"}]}`.
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// Like rustc: the YAML line with the token underlined.
    Human,
    /// One JSON object: {"`files_checked`", "diagnostics": [...]}.
    Json,
    /// GitHub Actions workflow commands (annotations on the pull request).
    Github,
    /// SARIF 2.1.0, for code-scanning tools.
    Sarif,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check {
            paths,
            format,
            allow_unknown_types,
            runnable,
        } => check(
            &paths,
            format,
            Options {
                allow_unknown_types,
                runnable,
            },
        ),
        Command::Eval { template, vars } => eval(&template, vars.as_deref()),
        Command::Graph { flow, format } => draw(&flow, format),
        Command::Build {
            flows,
            output,
            debug,
            small,
            target,
            verbose,
        } => {
            let profile = if debug {
                build::Profile::Debug
            } else if small {
                build::Profile::Small
            } else {
                build::Profile::Release
            };
            let options = build::BuildOptions {
                profile,
                target,
                verbose,
                cache: None,
            };
            // Where the binary goes is settled before anything is built: a path that cannot
            // be used, or that is a flow itself, is refused (exit 2) naming the path given.
            let id = match flows.as_slice() {
                [flow] => match flow_id(flow) {
                    Ok(id) => id,
                    Err(code) => return code,
                },
                _ => match output.as_deref().and_then(|o| o.file_name()) {
                    Some(name) if !output.as_deref().is_some_and(|o| o.is_dir() || o.to_string_lossy().ends_with('/')) => {
                        build::bin_name_of(&name.to_string_lossy())
                    }
                    _ => {
                        return usage_error(
                            "several flows make one binary: name it with -o PATH (a file, not a folder)",
                        )
                    }
                },
            };
            let mut dest = None;
            for flow in &flows {
                match build::output_path(output.as_deref(), flow, &id) {
                    Ok(path) => dest = Some(path),
                    Err(e) => return usage_error(&e),
                }
            }
            let Some(dest) = dest else {
                return usage_error("no flow given");
            };
            match build_flows(&flows, &id, &options) {
                Ok((binary, _)) => match copy_binary(&binary, &dest) {
                    Ok(()) => {
                        eprintln!("built {}", dest.display());
                        ExitCode::SUCCESS
                    }
                    Err(e) => usage_error(&e),
                },
                Err(code) => code,
            }
        }
        Command::Run { flow, args } => {
            let options = build::BuildOptions {
                profile: build::Profile::Release,
                target: None,
                verbose: false,
                cache: None,
            };
            match build_flows(std::slice::from_ref(&flow), "", &options) {
                Ok((binary, _)) => {
                    let status = std::process::Command::new(&binary)
                        .arg("run")
                        .args(&args)
                        .status();
                    match status {
                        Ok(status) => {
                            ExitCode::from(u8::try_from(status.code().unwrap_or(1)).unwrap_or(1))
                        }
                        Err(e) => fail(&format!("cannot run {}: {e}", binary.display())),
                    }
                }
                Err(code) => code,
            }
        }
        Command::Emit { flow, output } => match checked_crate(std::slice::from_ref(&flow), "") {
            Ok(krate) => match build::emit(&krate, &output) {
                Ok(dir) => {
                    eprintln!("wrote {}", dir.display());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e.to_string()),
            },
            Err(code) => code,
        },
    }
}

fn eval(template: &str, vars: Option<&std::path::Path>) -> ExitCode {
    let vars = match vars {
        None => serde_json::Map::new(),
        Some(path) => {
            let text = match std::fs::read_to_string(path) {
                Ok(text) => text,
                Err(err) => return usage_error(&format!("cannot read {}: {err}", path.display())),
            };
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(serde_json::Value::Object(map)) => map,
                Ok(_) => {
                    return usage_error(&format!("{} must hold a JSON object", path.display()))
                }
                Err(err) => {
                    return usage_error(&format!("{} is not valid JSON: {err}", path.display()))
                }
            }
        }
    };
    match kflow_runtime::expr::render_str(template, &vars, &kflow_runtime::expr::EnvHost) {
        Ok(output) => {
            let mut stdout = std::io::stdout().lock();
            if writeln!(stdout, "{output}")
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return ExitCode::from(2);
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{}", kflow_runtime::expr::describe_error(template, &err));
            ExitCode::from(1)
        }
    }
}

fn check(paths: &[PathBuf], format: Format, options: Options) -> ExitCode {
    let flow_files = match files::collect(paths) {
        Ok(found) => found,
        Err(err) => return usage_error(&err.to_string()),
    };
    // The flows are checked together (a Subflow against its target); unreadable files keep
    // their place in the report.
    let mut slots: Vec<Option<FileReport>> = Vec::with_capacity(flow_files.len());
    let mut sources = Vec::new();
    for path in &flow_files {
        match files::read(path) {
            Ok(Ok(source)) => {
                slots.push(None);
                sources.push(source);
            }
            Ok(Err(report)) => slots.push(Some(report)),
            Err(err) => return usage_error(&err.to_string()),
        }
    }
    let mut checked = check_sources(sources, options, false).into_iter();
    let reports: Vec<FileReport> = slots
        .into_iter()
        .filter_map(|slot| slot.or_else(|| checked.next().map(|c| c.report)))
        .collect();
    let output = match format {
        Format::Human => {
            let color = if std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            {
                Color::Always
            } else {
                Color::Never
            };
            render_human(&reports, color)
        }
        Format::Json => render_json(&reports),
        Format::Github => render_github(&reports),
        Format::Sarif => render_sarif(&reports),
    };
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(output.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::from(2);
    }
    if reports.iter().any(|r| r.error_count() > 0) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Check flows (together: they make one binary) and render their crate, named `bin_name`
/// (one flow: its id); on errors the diagnostics are printed and the exit code returned.
fn checked_crate(paths: &[PathBuf], bin_name: &str) -> Result<build::Crate, ExitCode> {
    let mut sources = Vec::with_capacity(paths.len());
    for path in paths {
        sources.push(read_flow(path)?);
    }
    let texts: Vec<String> = sources.iter().map(|s| s.text().to_string()).collect();
    let names: Vec<String> = paths
        .iter()
        .map(|path| {
            path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().to_string(),
            )
        })
        .collect();
    // What `build` refuses is exactly what `check --runnable` reports.
    let options = Options {
        allow_unknown_types: false,
        runnable: true,
    };
    let checked = check_sources(sources, options, true);
    let failed = checked
        .iter()
        .any(|c| c.report.error_count() > 0 || c.flow.is_none());
    let (typed, reports): (Vec<_>, Vec<FileReport>) =
        checked.into_iter().map(|c| (c.flow, c.report)).unzip();
    let reports: Vec<FileReport> = reports
        .into_iter()
        .filter(|r| !r.diagnostics.is_empty())
        .collect();
    if !reports.is_empty() {
        eprint!("{}", render_human(&reports, stderr_color()));
    }
    if failed {
        return Err(ExitCode::from(1));
    }
    let mut flows = Vec::with_capacity(paths.len());
    for ((path, flow), (text, name)) in paths.iter().zip(&typed).zip(texts.iter().zip(&names)) {
        let files = build::namespace_files(path).map_err(|e| fail(&e.to_string()))?;
        if let Some(flow) = flow {
            flows.push(build::FlowSource {
                flow,
                text,
                name,
                files,
            });
        }
    }
    let bin_name = match flows.as_slice() {
        [one] => one.flow.id.value.clone(),
        _ => bin_name.to_string(),
    };
    Ok(build::generate_bundle(
        &bin_name,
        flows,
        build::RUNTIME_FROM_FLOW,
    ))
}

fn build_flows(
    paths: &[PathBuf],
    bin_name: &str,
    options: &build::BuildOptions,
) -> Result<(PathBuf, String), ExitCode> {
    let krate = checked_crate(paths, bin_name)?;
    let id = krate.bin_name.clone();
    match build::build(&krate, options) {
        Ok(binary) => Ok((binary, id)),
        Err(e) => Err(fail(&e.to_string())),
    }
}

fn copy_binary(from: &std::path::Path, to: &std::path::Path) -> Result<(), String> {
    // Replace, not overwrite in place: a running copy of the old binary keeps working. Errors
    // name the path the user gave, not the temporary file.
    let tmp = to.with_extension("kflow-tmp");
    let result = std::fs::copy(from, &tmp).and_then(|_| std::fs::rename(&tmp, to));
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}: {e}", to.display())
    })
}

/// `kflowc graph`: a flow without errors, drawn.
fn draw(path: &std::path::Path, format: GraphFormat) -> ExitCode {
    let source = match read_flow(path) {
        Ok(source) => source,
        Err(code) => return code,
    };
    let checked = check_source(source, Options::default());
    let Some(flow) = checked.flow.filter(|_| checked.report.error_count() == 0) else {
        eprint!(
            "{}",
            render_human(std::slice::from_ref(&checked.report), stderr_color())
        );
        return ExitCode::from(1);
    };
    let graph = kflow_compiler::graph::graph(&flow);
    let text = match format {
        GraphFormat::Dot => graph.to_dot(),
        GraphFormat::Mermaid => graph.to_mermaid(),
        GraphFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&graph.to_json()).unwrap_or_default()
        ),
    };
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

/// A flow file's text; a file that cannot be used is reported, with its exit code.
fn read_flow(path: &std::path::Path) -> Result<kflow_compiler::source::SourceFile, ExitCode> {
    match files::read(path) {
        Ok(Ok(source)) => Ok(source),
        Ok(Err(report)) => {
            eprint!("{}", render_human(&[report], Color::Never));
            Err(ExitCode::from(1))
        }
        Err(err) => Err(usage_error(&err.to_string())),
    }
}

/// The flow's id, read the way `build` reads it (the binary is named after it).
fn flow_id(path: &std::path::Path) -> Result<String, ExitCode> {
    let source = read_flow(path)?;
    let checked = check_source(source, Options::default());
    match checked.flow {
        Some(flow) if !flow.id.value.is_empty() => Ok(flow.id.value),
        _ => {
            eprint!(
                "{}",
                render_human(std::slice::from_ref(&checked.report), stderr_color())
            );
            Err(ExitCode::from(1))
        }
    }
}

fn stderr_color() -> Color {
    if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        Color::Always
    } else {
        Color::Never
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(1)
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}
