//! `kflowc`: the command line. Parses arguments, runs the library, renders diagnostics.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use kflow_compiler::diag::{
    render_github, render_human, render_json, render_sarif, Color, FileReport,
};
use kflow_compiler::{check_source, files, Options};

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
        } => check(
            &paths,
            format,
            Options {
                allow_unknown_types,
            },
        ),
        Command::Eval { template, vars } => eval(&template, vars.as_deref()),
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
    let mut reports: Vec<FileReport> = Vec::with_capacity(flow_files.len());
    for path in &flow_files {
        match files::read(path) {
            Ok(Ok(source)) => reports.push(check_source(source, options).report),
            Ok(Err(report)) => reports.push(report),
            Err(err) => return usage_error(&err.to_string()),
        }
    }
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

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}
