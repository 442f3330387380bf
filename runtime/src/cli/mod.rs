//! The command line of a generated binary (`./hello run`, `./hello inputs`, ...).
//!
//! Generated code calls [`main`] with the binary's name, each flow's plan and namespace files,
//! and the version of kflowc that made it:
//!
//! ```ignore
//! fn main() -> std::process::ExitCode {
//!     ::kflow_runtime::cli::main(
//!         "hello",
//!         &[::kflow_runtime::cli::BundledFlow { plan: PLAN_0, namespace_files: FILES_0 }],
//!         &::kflow_runtime::cli::VersionInfo { kflowc: "0.1.0" },
//!     )
//! }
//! ```
//!
//! A binary that hosts several flows (`kflowc build a.yml b.yml -o bundle`) takes the flow a
//! command is about as its first argument (`./bundle run a`, `./bundle inputs a`); commands
//! about an execution find its flow from the state; `serve` runs every flow's triggers.
//!
//! Everything is in [`run_cli`], which takes the arguments and the two output streams, so
//! tests drive it without a process. Exit codes: 0 success (for `run`: the execution ended
//! SUCCESS or WARNING), 1 failure (`run`: FAILED or KILLED; other commands: the state could
//! not be read), 2 bad arguments or inputs, with a message naming what is wrong.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use serde_json::{json, Map, Value};

use std::sync::Arc;

use crate::actions;
use crate::bundle::{Bundle, Hosted};
use crate::execution::State;
use crate::expr::GivenSecrets;
use crate::formats::iso_instant;
use crate::inputs;
use crate::launch::{launch, InProcess, LaunchError, LaunchEvent, LaunchRequest};
use crate::plan::Flow;
use crate::state::{self, ExecutionRow, Store};

mod triggers;

/// What the generated code knows about its own making.
#[derive(Debug, Clone, Copy)]
pub struct VersionInfo {
    /// The version of kflowc that generated the binary.
    pub kflowc: &'static str,
}

pub use crate::bundle::BundledFlow;

const DURABILITY: &str = "\
State: executions, task runs and logs are kept in SQLite (state.db, WAL mode,
synchronous=NORMAL) in the state directory: --state DIR, else $STATE_DIRECTORY, else
$XDG_STATE_HOME/kflow/<namespace>.<id>, else ~/.local/state/kflow/<namespace>.<id>.
Every task-run change is committed before the next task starts: the process being killed
(even kill -9) loses nothing recorded; a power cut may lose the last few commits. An execution
whose process is gone is marked FAILED by the next process that opens the state for writing;
`restart ID` then runs what did not succeed.";

const RUN_HELP: &str = "\
Logs go to stderr. The last line on stdout is one JSON object:
{\"id\", \"state\", \"outputs\", \"labels\", \"duration_ms\", \"task_runs\"}; when stdout is a
terminal, a summary for people instead (--format json|human chooses).

Exit status: 0 when the execution ends SUCCESS or WARNING, 1 when it ends FAILED or KILLED,
2 when the arguments or inputs are wrong (each message names the input), 3 when a Pause without
a duration left it PAUSED (`resume ID` continues it).

SIGTERM, SIGINT (Ctrl-C) or SIGHUP kill the execution as Kestra's kill does: running tasks are
cancelled, unfinished task runs and the execution are recorded KILLED, the summary is printed
and the exit status is 1. A second signal exits at once.

Input values: INT, FLOAT, BOOLEAN as text; DATETIME as 2024-01-01T10:00:00Z; DURATION as
PT1H30M; FILE as a local path (copied into the state's internal storage; the input is then its
kestra:/// URI); JSON as JSON text; ARRAY and MULTISELECT as a JSON list or
comma-separated (repeating --input adds values). `inputs` prints every input as JSON Schema.";

#[derive(Parser, Debug)]
#[command(
    disable_help_subcommand = true,
    arg_required_else_help = true,
    after_help = DURABILITY
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the flow once and print its summary
    #[command(after_help = RUN_HELP)]
    Run(RunArgs),
    /// Run the flow's triggers (schedules) until SIGTERM/SIGINT, then drain
    #[command(after_help = triggers::SERVE_HELP)]
    Serve(triggers::ServeArgs),
    /// List the flow's triggers with their last and next tick; enable or disable one
    Triggers(triggers::TriggersArgs),
    /// Run a schedule's ticks between two dates, in order, one execution each
    Backfill(triggers::BackfillArgs),
    /// Print the flow's inputs as JSON Schema
    Inputs(FlowArg),
    /// Print the flow's id, namespace, source hash, kflowc version and triggers as JSON
    Info(FlowArg),
    /// Print the plan this binary runs, as JSON (what `kflowc` lowered the flow to)
    Plan(FlowArg),
    /// List recent executions from the state, newest first
    Executions(ExecutionsArgs),
    /// Continue a PAUSED execution, giving its Pause's `onResume` inputs
    Resume(ResumeArgs),
    /// Run a FAILED or KILLED execution again from what did not succeed (same execution;
    /// task runs that succeeded are kept, failed ones get a new attempt)
    Restart(RestartArgs),
    /// Start a new execution from a recorded one, keeping its task runs before --from
    Replay(ReplayArgs),
    /// Kill a running or paused execution (from any shell on this host)
    Kill(IdArgs),
    /// Print an execution's log lines
    Logs(LogsArgs),
}

/// The flow a command is about: needed when the binary hosts several (`ID` or
/// `NAMESPACE.ID`).
#[derive(Args, Debug)]
struct FlowArg {
    /// The flow (when the binary hosts several)
    #[arg(value_name = "FLOW")]
    flow: Option<String>,
}

#[derive(Args, Debug)]
struct IdArgs {
    /// The execution's id (`executions` lists them)
    id: String,
    /// The state directory
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
}

/// How `run` (and `resume`, `restart`, `replay`) print the execution's end.
#[derive(Args, Debug)]
struct SummaryArgs {
    /// `json`: one JSON line (the default when stdout is not a terminal); `human`: a summary
    /// for people (the default on a terminal)
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<SummaryFormat>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum SummaryFormat {
    Json,
    Human,
}

impl SummaryArgs {
    fn human(&self, terminal: bool) -> bool {
        self.format
            .map_or(terminal, |format| format == SummaryFormat::Human)
    }
}

#[derive(Args, Debug)]
struct RestartArgs {
    #[command(flatten)]
    execution: IdArgs,
    #[command(flatten)]
    summary: SummaryArgs,
}

#[derive(Args, Debug)]
struct ResumeArgs {
    #[command(flatten)]
    execution: IdArgs,
    #[command(flatten)]
    summary: SummaryArgs,
    /// An `onResume` input value; repeat for several
    #[arg(long = "input", value_name = "ID=VALUE", value_parser = key_value)]
    input: Vec<(String, String)>,
    /// A JSON object of `onResume` input values (the command line wins over it)
    #[arg(long = "inputs", value_name = "FILE.json")]
    inputs_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct ReplayArgs {
    #[command(flatten)]
    execution: IdArgs,
    #[command(flatten)]
    summary: SummaryArgs,
    /// Keep the task runs created before this one and run the flow again from it (default:
    /// from the start)
    #[arg(long = "from", value_name = "TASK_RUN_ID")]
    from: Option<String>,
}

#[derive(Args, Debug)]
struct LogsArgs {
    #[command(flatten)]
    execution: IdArgs,
    /// Keep printing new lines until the execution ends
    #[arg(long, short = 'f')]
    follow: bool,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// The flow to run (when the binary hosts several: `ID` or `NAMESPACE.ID`)
    #[arg(value_name = "FLOW")]
    flow: Option<String>,
    /// An input value; repeat for several inputs
    #[arg(long = "input", value_name = "ID=VALUE", value_parser = key_value)]
    input: Vec<(String, String)>,
    /// A JSON object of input values (the command line wins over it)
    #[arg(long = "inputs", value_name = "FILE.json")]
    inputs_file: Option<PathBuf>,
    /// A label of the execution; repeat for several
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = key_value)]
    label: Vec<(String, String)>,
    /// The state directory
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    #[command(flatten)]
    summary: SummaryArgs,
}

#[derive(Args, Debug)]
struct ExecutionsArgs {
    /// The state directory
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// How many executions to list
    #[arg(long, value_name = "N", default_value_t = 20)]
    limit: usize,
    /// One line per execution, or one JSON list
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
}

/// `ID=VALUE`: split at the first `=`; the id must not be empty.
fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        Some(_) => Err("the part before `=` is empty".into()),
        None => Err(format!("expected KEY=VALUE, got `{text}` (no `=`)")),
    }
}

/// The generated binary's `main`: reads the plans `kflowc` printed into it, parses
/// `std::env::args`, runs the command, returns its exit status.
pub fn main(name: &str, flows: &[BundledFlow], version: &VersionInfo) -> ExitCode {
    let bundle = match Bundle::of(name, flows, &GivenSecrets::default()) {
        Ok(bundle) => bundle,
        Err(message) => {
            // Only a binary built from a mismatched runtime can get here.
            eprintln!("error: {message}");
            return ExitCode::from(1);
        }
    };
    use std::io::IsTerminal as _;
    let code = run_cli_on(
        &bundle,
        version,
        std::env::args_os(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
        std::io::stdout().is_terminal(),
    );
    ExitCode::from(code)
}

/// Run one command line (`args` starts with the program name) against the binary's flows,
/// writing to `out` and `err`; returns the exit status. Logs of `run` go to the process's
/// stderr.
pub fn run_cli<I, T>(
    bundle: &Bundle,
    version: &VersionInfo,
    args: I,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run_cli_on(bundle, version, args, out, err, false)
}

/// [`run_cli`], told whether `out` is a terminal (summaries are then for people).
pub fn run_cli_on<I, T>(
    bundle: &Bundle,
    version: &VersionInfo,
    args: I,
    out: &mut dyn Write,
    err: &mut dyn Write,
    terminal: bool,
) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let command = Cli::command()
        .name(bundle.name.clone())
        .bin_name(bundle.name.clone())
        .version(version_line(bundle, version))
        .about(about(bundle));
    let parsed = command
        .try_get_matches_from(args)
        .and_then(|matches| Cli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let text = e.render().to_string();
            let stream: &mut dyn Write = if e.use_stderr() { err } else { out };
            let _ = stream.write_all(text.as_bytes());
            return u8::try_from(e.exit_code()).unwrap_or(2);
        }
    };
    let shown = Shown { terminal };
    let select = |name: Option<&str>| bundle.select(name).map_err(Failure::usage);
    let result = match cli.command {
        Command::Run(args) => select(args.flow.as_deref())
            .and_then(|hosted| run_command(bundle, hosted, &args, &shown, out, err)),
        Command::Serve(args) => triggers::serve_command(bundle, &args),
        Command::Triggers(args) => triggers::triggers_command(bundle, &args, out),
        Command::Backfill(args) => triggers::backfill_command(bundle, &args, &shown, out),
        Command::Inputs(args) => select(args.flow.as_deref())
            .and_then(|hosted| print_json(out, &inputs::json_schema(&hosted.flow))),
        Command::Info(args) => match (args.flow.as_deref(), bundle.flows.as_slice()) {
            (None, [_, _, ..]) => print_json(
                out,
                &json!({
                    "name": bundle.name,
                    "kflowc_version": version.kflowc,
                    "flows": bundle.flows.iter().map(|h| info(&h.flow, version)).collect::<Vec<_>>(),
                }),
            ),
            (name, _) => {
                select(name).and_then(|hosted| print_json(out, &info(&hosted.flow, version)))
            }
        },
        Command::Plan(args) => select(args.flow.as_deref()).and_then(|hosted| {
            writeln!(out, "{}", hosted.flow.to_json())
                .map(|()| 0)
                .map_err(|e| Failure::failed(format!("cannot write: {e}")))
        }),
        Command::Executions(args) => executions_command(bundle, &args, out),
        Command::Resume(args) => resume_command(bundle, &args, &shown, out, err),
        Command::Restart(args) => restart_command(bundle, &args, &shown, out, err),
        Command::Replay(args) => replay_command(bundle, &args, &shown, out, err),
        Command::Kill(args) => kill_command(bundle, &args, out),
        Command::Logs(args) => logs_command(bundle, &args, out),
    };
    match result {
        Ok(code) => code,
        Err(failure) => {
            for message in &failure.messages {
                let _ = writeln!(err, "error: {message}");
            }
            failure.code
        }
    }
}

/// Why a command stopped, and its exit status.
struct Failure {
    code: u8,
    messages: Vec<String>,
}

impl Failure {
    /// Bad arguments or inputs: exit 2.
    fn usage(message: String) -> Failure {
        Failure {
            code: 2,
            messages: vec![message],
        }
    }

    /// The command could not do its work: exit 1.
    fn failed(message: String) -> Failure {
        Failure {
            code: 1,
            messages: vec![message],
        }
    }
}

fn version_line(bundle: &Bundle, version: &VersionInfo) -> String {
    let flows: Vec<String> = bundle
        .flows
        .iter()
        .map(|h| {
            let short: String = h.flow.source_hash.chars().take(12).collect();
            format!(
                "flow {}.{}, source sha256 {short}",
                h.flow.namespace, h.flow.id
            )
        })
        .collect();
    format!("({}, kflowc {})", flows.join("; "), version.kflowc)
}

fn about(bundle: &Bundle) -> String {
    let [hosted] = bundle.flows.as_slice() else {
        let ids: Vec<String> = bundle
            .flows
            .iter()
            .map(|h| format!("{}.{}", h.flow.namespace, h.flow.id))
            .collect();
        return format!(
            "The flows {}, compiled by kflowc into one binary: name the flow a command is about \
             (`{} run FLOW_ID`)",
            ids.join(", "),
            bundle.name
        );
    };
    let flow = &hosted.flow;
    let mut about = format!(
        "The flow {}.{}, compiled by kflowc",
        flow.namespace, flow.id
    );
    if let Some(first) = flow
        .description
        .as_deref()
        .and_then(|d| d.lines().find(|l| !l.trim().is_empty()))
    {
        about.push_str(": ");
        about.push_str(first.trim());
    }
    about
}

fn print_json(out: &mut dyn Write, value: &Value) -> Result<u8, Failure> {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    writeln!(out, "{text}").map_err(|e| Failure::failed(format!("cannot write: {e}")))?;
    Ok(0)
}

/// `run`: inputs, the state, one execution (through the launcher), its summary.
fn run_command(
    bundle: &Bundle,
    hosted: &Hosted,
    args: &RunArgs,
    shown: &Shown,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Failure> {
    let file = match &args.inputs_file {
        Some(path) => Some(read_inputs_file(path).map_err(Failure::usage)?),
        None => None,
    };
    let request = LaunchRequest {
        input_pairs: args.input.clone(),
        input_values: file,
        labels: args
            .label
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
        echo_logs: true,
        ..LaunchRequest::default()
    };
    // Inputs are checked before the state is touched: bad inputs leave no trace.
    inputs::resolve(
        &hosted.flow,
        request.input_pairs.clone(),
        request.input_values.clone(),
    )
    .map_err(|errors| Failure {
        code: 2,
        messages: errors.iter().map(ToString::to_string).collect(),
    })?;
    let store = open_store(bundle, args.state.as_deref())?;
    launch_command(
        bundle,
        hosted,
        store,
        request,
        &shown.with(&args.summary),
        out,
        err,
    )
}

/// The binary's state directory.
fn state_dir(bundle: &Bundle, explicit: Option<&Path>) -> Result<PathBuf, Failure> {
    state::state_dir(explicit, &bundle.state_leaf()).map_err(|e| Failure::usage(e.to_string()))
}

/// The state for writing: executions whose process is gone are marked on the way (see
/// [`Store::recover`]).
fn open_store(bundle: &Bundle, explicit: Option<&Path>) -> Result<Store, Failure> {
    let dir = state_dir(bundle, explicit)?;
    Store::open(&dir).map_err(|e| Failure::usage(e.to_string()))
}

/// Run one launch request (a new execution, or one taken up) to its end: the summary on
/// stdout, the exit status from its state.
fn launch_command(
    bundle: &Bundle,
    hosted: &Hosted,
    store: Store,
    request: LaunchRequest,
    shown: &Shown,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .enable_io()
        .build()
        .map_err(|e| Failure::failed(format!("cannot start the async runtime: {e}")))?;
    // SIGTERM, SIGINT, SIGHUP kill the execution as Kestra's kill does; a second one exits.
    let (kill, killed) = tokio::sync::watch::channel(false);
    let store = Arc::new(store);
    let subflows = InProcess::new(bundle, &store, Some(killed.clone()));
    let mut request = request;
    request.kill = Some(killed);
    request.subflows = Some(subflows.launcher());
    runtime.spawn(kill_on_signals(kill));
    let mut write_error = None;
    let mut unrecorded = false;
    let result = runtime.block_on(launch(
        Arc::clone(&hosted.flow),
        request,
        Arc::clone(&hosted.host),
        store,
        |event| match event {
            LaunchEvent::Queued { limit } => {
                let _ = writeln!(
                    err,
                    "queued: {limit} execution(s) of this flow already running (concurrency limit)"
                );
            }
            LaunchEvent::Refused { limit, state } => {
                let _ = writeln!(
                    err,
                    "not run: the concurrency limit of {limit} is reached ({})",
                    state.as_str()
                );
            }
            LaunchEvent::Unrecorded(problem) => {
                unrecorded = true;
                let _ = writeln!(
                    err,
                    "error: state: {problem}; the execution was stopped there, so that nothing runs unrecorded"
                );
            }
            LaunchEvent::Ended(summary) => {
                let text = if shown.terminal {
                    human_summary(summary)
                } else {
                    summary.to_json().to_string()
                };
                if let Err(e) = writeln!(out, "{text}") {
                    write_error.get_or_insert(e);
                }
            }
            LaunchEvent::Retrying { id, wait } => {
                let _ = writeln!(
                    err,
                    "execution {id} failed; retrying as a new execution in {wait:?}"
                );
            }
        },
    ));
    // The subflow executions it started without waiting end before the process does.
    runtime.block_on(subflows.all_ended());
    if let Some(e) = write_error {
        return Err(Failure::failed(format!("cannot write the summary: {e}")));
    }
    let summary = result.map_err(|e| match e {
        LaunchError::Inputs(errors) => Failure {
            code: 2,
            messages: errors.iter().map(ToString::to_string).collect(),
        },
        LaunchError::State(e) => Failure::failed(e.to_string()),
        LaunchError::Files(e) => Failure::failed(e),
    })?;
    // An execution whose record is incomplete is not a success, whatever its state says.
    Ok(match summary.state {
        State::Success | State::Warning if !unrecorded => 0,
        State::Paused if !unrecorded => PAUSED_EXIT,
        _ => 1,
    })
}

/// How a command that runs an execution shows its end.
struct Shown {
    /// Print the summary for people (stdout is a terminal, or `--format human`).
    terminal: bool,
}

impl Shown {
    /// As `--format` says, or as the terminal says without it.
    fn with(&self, summary: &SummaryArgs) -> Shown {
        Shown {
            terminal: summary.human(self.terminal),
        }
    }
}

/// The exit status of a `run` (or `resume`, ...) that left its execution PAUSED.
const PAUSED_EXIT: u8 = 3;

/// The recorded execution `id`, or a message naming the state it was looked for in.
fn recorded(store: &Store, id: &str) -> Result<state::ExecutionRow, Failure> {
    store
        .execution(id)
        .map_err(|e| Failure::failed(e.to_string()))?
        .ok_or_else(|| {
            Failure::usage(format!(
                "no execution `{id}` in the state {} (`executions` lists them)",
                store.path().display()
            ))
        })
}

/// The state for writing, the recorded execution an action names, and its flow.
fn open_execution<'b>(
    bundle: &'b Bundle,
    args: &IdArgs,
) -> Result<(Store, ExecutionRow, &'b Hosted), Failure> {
    let store = open_store(bundle, args.state.as_deref())?;
    let row = recorded(&store, &args.id)?;
    let hosted = flow_of(bundle, &row)?;
    Ok((store, row, hosted))
}

/// The flow a recorded execution is of.
fn flow_of<'b>(bundle: &'b Bundle, row: &ExecutionRow) -> Result<&'b Hosted, Failure> {
    bundle.find(&row.namespace, &row.flow_id).ok_or_else(|| {
        Failure::usage(format!(
            "execution {} is of the flow {}.{}, which this binary does not host",
            row.id, row.namespace, row.flow_id
        ))
    })
}

/// A request that takes up `row` (see [`TakeUp`]).
fn take_up(
    row: &state::ExecutionRow,
    store: &Store,
    same_execution: bool,
) -> Result<LaunchRequest, Failure> {
    LaunchRequest::taking_up(row, store, same_execution).map_err(|e| Failure::failed(e.to_string()))
}

/// `resume ID`: a PAUSED execution continues after its Pause, with the `onResume` inputs given
/// (validated as flow inputs are).
fn resume_command(
    bundle: &Bundle,
    args: &ResumeArgs,
    shown: &Shown,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Failure> {
    let (store, row, hosted) = open_execution(bundle, &args.execution)?;
    let file = match &args.inputs_file {
        Some(path) => Some(read_inputs_file(path).map_err(Failure::usage)?),
        None => None,
    };
    let request =
        actions::resume(&hosted.flow, &store, &row, args.input.clone(), file).map_err(refused)?;
    launch_command(
        bundle,
        hosted,
        store,
        request,
        &shown.with(&args.summary),
        out,
        err,
    )
}

/// An action refused: a usage error (exit 2) for the execution's state or bad values.
fn refused(refused: actions::Refused) -> Failure {
    match refused {
        actions::Refused::State(message) => Failure::usage(message),
        actions::Refused::Invalid(messages) => Failure { code: 2, messages },
        actions::Refused::Failed(message) => Failure::failed(message),
    }
}

/// `restart ID`: a FAILED or KILLED execution runs again, keeping what succeeded.
fn restart_command(
    bundle: &Bundle,
    args: &RestartArgs,
    shown: &Shown,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Failure> {
    let (store, row, hosted) = open_execution(bundle, &args.execution)?;
    let request = actions::restart(&store, &row).map_err(refused)?;
    launch_command(
        bundle,
        hosted,
        store,
        request,
        &shown.with(&args.summary),
        out,
        err,
    )
}

/// `replay ID [--from TASK_RUN_ID]`: a new execution with the same inputs, keeping the task
/// runs created before `TASK_RUN_ID`.
fn replay_command(
    bundle: &Bundle,
    args: &ReplayArgs,
    shown: &Shown,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Failure> {
    let (store, row, hosted) = open_execution(bundle, &args.execution)?;
    if !row.state.is_terminal() {
        return Err(Failure::usage(format!(
            "execution {} is {}: only an ended execution can be replayed",
            row.id,
            row.state.as_str()
        )));
    }
    let mut request = take_up(&row, &store, false)?;
    // As Kestra marks a replay.
    request
        .labels
        .insert("system.replay".into(), Value::String("true".into()));
    let Some(take_up) = request.take_up.as_mut() else {
        return Err(Failure::failed("nothing to replay".into()));
    };
    let runs = &mut take_up.prior.task_runs;
    match &args.from {
        None => runs.clear(),
        Some(from) => {
            let Some(at) = runs.iter().position(|r| &r.id == from) else {
                return Err(Failure::usage(format!(
                    "execution {} has no task run `{from}` (its task runs: {})",
                    row.id,
                    runs.iter()
                        .map(|r| format!("{} ({})", r.id, r.task_id))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            };
            runs.truncate(at);
        }
    }
    let new_id = take_up.id.clone();
    let from = args.from.as_deref().unwrap_or("the start");
    let record = |id: &str, action: &str, detail: String| {
        store
            .record_action(id, action, &detail)
            .map_err(|e| Failure::failed(e.to_string()))
    };
    record(&row.id, "replayed", format!("as {new_id} from {from}"))?;
    record(&new_id, "replay", format!("of {} from {from}", row.id))?;
    launch_command(
        bundle,
        hosted,
        store,
        request,
        &shown.with(&args.summary),
        out,
        err,
    )
}

/// How long `kill` waits for the running process to record the kill.
const KILL_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// `kill ID`: a running execution is killed by its process (asked through the state); a
/// paused one, or one whose process is gone, is ended KILLED here.
fn kill_command(bundle: &Bundle, args: &IdArgs, out: &mut dyn Write) -> Result<u8, Failure> {
    let (store, row, _) = open_execution(bundle, args)?;
    if actions::kill(&store, &row).map_err(|e| Failure::failed(e.to_string()))?
        == actions::Kill::Asked
    {
        let deadline = std::time::Instant::now() + KILL_WAIT;
        loop {
            let now = recorded(&store, &row.id)?;
            if now.state.is_terminal() {
                break;
            }
            if std::time::Instant::now() >= deadline {
                return Err(Failure::failed(format!(
                    "asked the process running execution {} to kill it; it has not within {}s",
                    row.id,
                    KILL_WAIT.as_secs()
                )));
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    let now = recorded(&store, &row.id)?;
    writeln!(out, "execution {} {}", now.id, now.state.as_str())
        .map_err(|e| Failure::failed(format!("cannot write: {e}")))?;
    Ok(0)
}

/// How often `logs --follow` looks for new lines.
const FOLLOW_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// `logs ID [--follow]`: the execution's log lines as `run` printed them.
fn logs_command(bundle: &Bundle, args: &LogsArgs, out: &mut dyn Write) -> Result<u8, Failure> {
    let dir = state_dir(bundle, args.execution.state.as_deref())?;
    let store = Store::open_read_only(&dir)
        .map_err(|e| Failure::failed(e.to_string()))?
        .ok_or_else(|| Failure::usage(format!("no state in {}", dir.display())))?;
    let failed = |e: state::StateError| Failure::failed(e.to_string());
    recorded(&store, &args.execution.id)?;
    let mut after = 0;
    loop {
        // Whether it had ended (or waits for `resume`, or its process is gone) before
        // reading: then these are its last lines.
        let ended = {
            let row = recorded(&store, &args.execution.id)?;
            row.ended_ms.is_some() || !store.running_alive(&row)
        };
        for line in store
            .logs_after(&args.execution.id, after)
            .map_err(failed)?
        {
            after = line.seq;
            let text = crate::execution::log_line(
                line.at_ms,
                &line.level,
                line.task_id.as_deref().unwrap_or_default(),
                &line.message,
            );
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| Failure::failed(format!("cannot write: {e}")))?;
        }
        if !args.follow || ended {
            return Ok(0);
        }
        std::thread::sleep(FOLLOW_POLL);
    }
}

/// Turns the first SIGTERM, SIGINT or SIGHUP into a kill of the running execution (its summary
/// is still printed, its state recorded KILLED, exit 1); a second signal exits at once.
async fn kill_on_signals(kill: tokio::sync::watch::Sender<bool>) {
    on_signals(kill, "killing the execution").await;
}

/// Sets `flag` on the first SIGTERM, SIGINT or SIGHUP (saying `what` it does then); exits at
/// once on the second.
async fn on_signals(flag: tokio::sync::watch::Sender<bool>, what: &str) {
    let kill = flag;
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let kinds = [
            (SignalKind::terminate(), "SIGTERM", 15),
            (SignalKind::interrupt(), "SIGINT", 2),
            (SignalKind::hangup(), "SIGHUP", 1),
        ];
        // Also straight from the handler, so that a render in progress (which holds the
        // thread) stops at its next check rather than after it ends.
        for (_, _, number) in &kinds {
            let _ = signal_hook::flag::register(
                *number,
                std::sync::Arc::clone(&crate::expr::INTERRUPTED),
            );
        }
        let mut streams = Vec::new();
        for (kind, name, number) in kinds {
            match signal(kind) {
                Ok(stream) => streams.push((stream, name, number)),
                Err(_) => return,
            }
        }
        let (name, _) = next_signal(&mut streams).await;
        let say = |message: &str| {
            let line = crate::execution::stderr_line(
                crate::execution::now_ms(),
                "WARN",
                None,
                "signal",
                message,
            );
            eprint!("{line}");
        };
        say(&format!(
            "{name} received: {what} (send it again to exit at once)"
        ));
        let _ = kill.send(true);
        let (name, number) = next_signal(&mut streams).await;
        say(&format!("{name} received again: exiting now"));
        std::process::exit(128 + number);
    }
    #[cfg(not(unix))]
    {
        let _ = (kill, what);
        std::future::pending::<()>().await;
    }
}

/// The next of several signals to arrive: its name and number.
#[cfg(unix)]
async fn next_signal(
    streams: &mut [(tokio::signal::unix::Signal, &'static str, i32)],
) -> (&'static str, i32) {
    let waits = streams.iter_mut().map(|(stream, name, number)| {
        let (name, number) = (*name, *number);
        Box::pin(async move {
            stream.recv().await;
            (name, number)
        })
    });
    futures_util::future::select_all(waits).await.0
}

fn read_inputs_file(path: &Path) -> Result<Map<String, Value>, String> {
    let shown = path.display();
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("--inputs {shown}: cannot read: {e}"))?;
    inputs::parse_json_object(&text).map_err(|e| format!("--inputs {shown}: {e}"))
}

/// `info`: what the binary is.
fn info(flow: &Flow, version: &VersionInfo) -> Value {
    json!({
        "id": flow.id,
        "namespace": flow.namespace,
        "description": flow.description,
        "source_hash": flow.source_hash,
        "kflowc_version": version.kflowc,
        "inputs": flow.inputs.iter().map(|i| json!({
            "id": i.id,
            "type": inputs::type_name(i.ty),
            "required": i.required,
        })).collect::<Vec<_>>(),
        "triggers": flow.triggers.iter().map(|t| json!({"id": t.id, "type": t.type_name})).collect::<Vec<_>>(),
    })
}

/// `executions`: the latest executions, newest first.
fn executions_command(
    bundle: &Bundle,
    args: &ExecutionsArgs,
    out: &mut dyn Write,
) -> Result<u8, Failure> {
    let dir = state_dir(bundle, args.state.as_deref())?;
    let rows = match Store::open_read_only(&dir).map_err(|e| Failure::failed(e.to_string()))? {
        Some(store) => store
            .executions(args.limit)
            .map_err(|e| Failure::failed(e.to_string()))?,
        None => Vec::new(),
    };
    let text = match args.format {
        Format::Json => {
            let list: Vec<Value> = rows
                .iter()
                .map(|row| {
                    let mut value = row.to_json();
                    value["start"] = Value::String(iso_instant(row.started_ms));
                    value
                })
                .collect();
            serde_json::to_string_pretty(&list).unwrap_or_default()
        }
        Format::Table => table(&rows),
    };
    writeln!(out, "{text}").map_err(|e| Failure::failed(format!("cannot write: {e}")))?;
    Ok(0)
}

/// One line per execution under a header, columns aligned: id, state, start, duration, and
/// what was done to it (`restart`, `kill`, ...).
fn table(rows: &[ExecutionRow]) -> String {
    let mut lines = vec![[
        "ID".to_string(),
        "STATE".to_string(),
        "START".to_string(),
        "DURATION".to_string(),
        "ACTIONS".to_string(),
    ]];
    for row in rows {
        let start = jiff::Timestamp::from_millisecond(i64::try_from(row.started_ms).unwrap_or(0))
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        lines.push([
            row.id.clone(),
            row.state.as_str().to_string(),
            // Seconds are enough for a table: 2024-01-01T10:00:00Z.
            start,
            row.duration_ms()
                .map_or_else(|| "-".to_string(), human_duration),
            if row.actions.is_empty() {
                "-".to_string()
            } else {
                row.actions
                    .iter()
                    .map(|a| a.action.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            },
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    lines
        .iter()
        .map(|line| {
            let mut text = String::new();
            for (c, cell) in line.iter().enumerate() {
                if c + 1 == line.len() {
                    text.push_str(cell);
                } else {
                    let _ = write!(text, "{cell:<width$}  ", width = widths[c]);
                }
            }
            text
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The end of an execution for a person at a terminal: its state and duration, its outputs,
/// then one line per task run (state, time, task id with its loop value, nested under its
/// parent), as `executions` and Kestra's UI show them.
fn human_summary(summary: &crate::execution::Summary) -> String {
    let mut text = format!(
        "execution {}  {}  in {}\n",
        summary.id,
        summary.state.as_str(),
        human_duration(summary.duration_ms)
    );
    if let Some(Value::Object(outputs)) = &summary.outputs {
        for (name, value) in outputs {
            let _ = writeln!(text, "  output {name}: {}", short(value));
        }
    }
    let depth_of = {
        let mut depths: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for run in &summary.task_runs {
            let depth = run
                .parent_id
                .as_deref()
                .and_then(|p| depths.get(p))
                .map_or(0, |d| d + 1);
            depths.insert(&run.id, depth);
        }
        depths
    };
    for run in &summary.task_runs {
        let time = match (run.attempts.first(), run.attempts.last()) {
            (Some(first), Some(last)) => {
                human_duration(last.ended_ms.saturating_sub(first.started_ms))
            }
            _ => String::new(),
        };
        let mut name = "  ".repeat(depth_of.get(run.id.as_str()).copied().unwrap_or(0));
        name.push_str(&run.task_id);
        if let Some(value) = &run.value {
            let _ = write!(name, " [{}]", short(value));
        }
        if run.attempts.len() > 1 {
            let _ = write!(name, " ({} attempts)", run.attempts.len());
        }
        let _ = writeln!(text, "  {:<9} {time:>7}  {name}", run.state.as_str());
    }
    text.truncate(text.trim_end().len());
    text
}

/// A value on one line, cut at 80 characters.
fn short(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let line = text.replace('\n', "\\n");
    if line.chars().count() > 80 {
        format!("{}…", line.chars().take(79).collect::<String>())
    } else {
        line
    }
}

/// `850ms`, `12.3s`, `4m05s`, `2h03m`.
fn human_duration(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 => format!("{}.{}s", ms / 1_000, ms % 1_000 / 100),
        60_000..3_600_000 => format!("{}m{:02}s", ms / 60_000, ms % 60_000 / 1_000),
        _ => format!("{}h{:02}m", ms / 3_600_000, ms % 3_600_000 / 60_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values() {
        assert_eq!(key_value("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert_eq!(key_value("a="), Ok(("a".into(), String::new())));
        assert!(key_value("=x").is_err());
        assert!(key_value("ab").unwrap_err().contains("no `=`"));
    }

    #[test]
    fn durations_for_people() {
        assert_eq!(human_duration(850), "850ms");
        assert_eq!(human_duration(12_345), "12.3s");
        assert_eq!(human_duration(245_000), "4m05s");
        assert_eq!(human_duration(7_380_000), "2h03m");
    }

    /// On a terminal the end of a run reads as a short summary: state, time, outputs, one line
    /// per task run nested under its parent, loop values and retries shown.
    #[test]
    fn a_summary_for_people() {
        use crate::execution::{Attempt, Summary, TaskRun};
        let run = |id: &str,
                   task: &str,
                   parent: Option<&str>,
                   value: Option<Value>,
                   attempts: &[(u64, u64)]| TaskRun {
            id: id.into(),
            task_id: task.into(),
            parent_id: parent.map(Into::into),
            value,
            state: State::Success,
            attempts: attempts
                .iter()
                .map(|&(started_ms, ended_ms)| Attempt {
                    state: State::Success,
                    started_ms,
                    ended_ms,
                })
                .collect(),
            outputs: None,
        };
        let summary = Summary {
            id: "abc".into(),
            state: State::Success,
            outputs: Some(json!({"greeting": "hello\nworld"})),
            labels: Map::new(),
            duration_ms: 1_500,
            task_runs: vec![
                run("1", "each", None, None, &[]),
                run("2", "say", Some("1"), Some(json!("a")), &[(0, 12)]),
                run("3", "last", None, None, &[(0, 100), (200, 2_300)]),
            ],
            retry_after: None,
        };
        assert_eq!(
            human_summary(&summary),
            "execution abc  SUCCESS  in 1.5s\n\
             \x20 output greeting: hello\\nworld\n\
             \x20 SUCCESS            each\n\
             \x20 SUCCESS      12ms    say [a]\n\
             \x20 SUCCESS      2.3s  last (2 attempts)"
        );
    }

    #[test]
    fn table_columns_line_up() {
        let row = |id: &str, state: State, ended: Option<u64>| ExecutionRow {
            id: id.into(),
            namespace: "n".into(),
            flow_id: "f".into(),
            state,
            inputs: Map::new(),
            labels: Map::new(),
            outputs: None,
            started_ms: 1_704_103_200_000,
            ended_ms: ended,
            revision: 1,
            original_id: None,
            owner: None,
            actions: Vec::new(),
            trigger: None,
        };
        let text = table(&[
            row("abc", State::Success, Some(1_704_103_201_500)),
            row("defghi", State::Running, None),
        ]);
        assert_eq!(
            text,
            "ID      STATE    START                 DURATION  ACTIONS\n\
             abc     SUCCESS  2024-01-01T10:00:00Z  1.5s      -\n\
             defghi  RUNNING  2024-01-01T10:00:00Z  -         -"
        );
    }
}
