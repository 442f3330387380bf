//! `serve`, `triggers` and `backfill`: the command-line side of [`crate::serve`].

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use jiff::Timestamp;
use serde_json::{json, Value};

use super::{
    human_summary, on_signals, open_store, state_dir, Failure, Format, Shown, SummaryArgs,
};
use crate::bundle::{Bundle, Hosted};
use crate::plan::{Trigger, TriggerKind};
use crate::schedule::{self, Ticks};
use crate::serve::{backfill, serve, ApiAuth, Retention, ServeOptions};
use crate::state::{self, Store};

pub(super) const SERVE_HELP: &str = "\
Runs the Schedule, ScheduleOnDates, Flow and http.Trigger triggers of the binary's flows (a
binary built from several flows serves them all), and answers their Webhook triggers on
Kestra's paths (/api/v1/main/executions/webhook/NAMESPACE/FLOW/KEY and the older one without
main/) and Kestra's REST API for executions (start, get, search, logs and their follow,
resume, restart, kill) on --listen, with /health and /metrics; other trigger types are listed
by `triggers` and not run yet. A webhook
request is answered once its execution is committed with an fsync; a request repeating an
Idempotency-Key seen in the last 24 hours gets the first execution. Each trigger's last tick is in the state: a tick's execution is
created in the same fsynced commit that marks the tick handled, so every tick runs exactly
once across crashes and restarts. Ticks missed while serve was not running run as the
trigger's recoverMissedSchedules says (ALL, the default: every one, oldest first; LAST: the
newest; NONE: none). Executions a crash left unfinished are restarted when serve starts.

Housekeeping removes ended executions older than --keep-executions (30 days by default) with
their logs and files, at start and every hour.

SIGTERM or SIGINT: no new executions start; running ones get --grace to end, then are killed
(recorded KILLED); exit 0. A second signal exits at once. One serve per state directory.";

#[derive(Args, Debug)]
pub(super) struct ServeArgs {
    /// The state directory
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// The address the HTTP server (webhooks, the REST API, /health, /metrics) listens on
    /// [default: 127.0.0.1:8080; the server runs when the flow has a webhook trigger or this is
    /// given]. Off the loopback the API needs `KFLOW_API_TOKEN` or `KFLOW_API_BASIC_AUTH`
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// The largest request body read into memory, in bytes (a larger one gets 413)
    #[arg(long, value_name = "BYTES", default_value_t = crate::serve::DEFAULT_MAX_BODY)]
    max_body: usize,
    /// The largest body a `fetchType: STORE` webhook streams to storage, in bytes (413 beyond)
    #[arg(long, value_name = "BYTES", default_value_t = crate::serve::DEFAULT_MAX_STORED_BODY)]
    max_stored_body: u64,
    /// Seconds running executions get to end after SIGTERM/SIGINT before they are killed
    #[arg(long, value_name = "SECONDS", default_value_t = crate::serve::DEFAULT_GRACE_SECONDS)]
    grace: u64,
    /// Executions running at once (0: no limit); more wait for a place
    #[arg(long, value_name = "N", default_value_t = 0)]
    max_executions: usize,
    /// Task runs running at once across all executions (0: no limit); more wait, CREATED
    #[arg(long, value_name = "N", default_value_t = 0)]
    max_task_runs: usize,
    /// How long ended executions are kept, with their logs and files (an ISO-8601 duration,
    /// or `forever`); housekeeping removes older ones at start and every hour
    #[arg(long, value_name = "DURATION", default_value = "P30D", value_parser = retention)]
    keep_executions: Keep,
    /// How long log lines are kept, if shorter [default: as --keep-executions]
    #[arg(long, value_name = "DURATION", value_parser = retention)]
    keep_logs: Option<Keep>,
    /// How long ended executions' files are kept, if shorter [default: as --keep-executions]
    #[arg(long, value_name = "DURATION", value_parser = retention)]
    keep_files: Option<Keep>,
    /// The lines serve writes on stderr (its own and the executions' logs): text, or one
    /// JSON object a line (timestamp, level, executionId, taskId, message)
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LogFormat {
    Text,
    Json,
}

/// A retention: how long something is kept (`None`: for ever).
#[derive(Clone, Copy, Debug)]
pub(super) struct Keep(Option<Duration>);

/// A retention: an ISO-8601 duration (`P30D`, `PT12H`), or `forever`.
fn retention(text: &str) -> Result<Keep, String> {
    if text.eq_ignore_ascii_case("forever") {
        return Ok(Keep(None));
    }
    let nanos = crate::expr::value::parse_java_duration(text)
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            format!("`{text}` is not a positive ISO-8601 duration (P30D, PT12H) or `forever`")
        })?;
    let nanos = u64::try_from(nanos).unwrap_or(u64::MAX);
    Ok(Keep(Some(Duration::from_nanos(nanos))))
}

#[derive(Args, Debug)]
pub(super) struct TriggersArgs {
    /// The state directory
    #[arg(long, value_name = "DIR", global = true)]
    state: Option<PathBuf>,
    /// Only this flow's triggers (`ID` or `NAMESPACE.ID`; the binary may host several)
    #[arg(long, value_name = "FLOW", global = true)]
    flow: Option<String>,
    /// One line per trigger, or one JSON list
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    #[command(subcommand)]
    action: Option<TriggerAction>,
}

#[derive(Subcommand, Debug)]
enum TriggerAction {
    /// Stop a trigger from firing (kept in the state; its ticks pass unrun until enabled)
    Disable { id: String },
    /// Let a disabled trigger fire again
    Enable { id: String },
}

#[derive(Args, Debug)]
pub(super) struct BackfillArgs {
    /// The trigger whose ticks run
    #[arg(long, value_name = "ID")]
    trigger: String,
    /// The flow of the trigger, when the binary hosts several (`ID` or `NAMESPACE.ID`)
    #[arg(long, value_name = "FLOW")]
    flow: Option<String>,
    /// The first date (2024-01-01T00:00:00Z, or a wall-clock time in the trigger's zone)
    #[arg(long, value_name = "DATE")]
    start: String,
    /// The last date (included)
    #[arg(long, value_name = "DATE")]
    end: String,
    /// The state directory
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    #[command(flatten)]
    summary: SummaryArgs,
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .enable_io()
        .build()
        .map_err(|e| Failure::failed(format!("cannot start the async runtime: {e}")))
}

/// `serve`: the triggers until SIGTERM/SIGINT.
pub(super) fn serve_command(bundle: &Bundle, args: &ServeArgs) -> Result<u8, Failure> {
    let store = Arc::new(open_store(bundle, args.state.as_deref())?);
    let runtime = runtime()?;
    crate::execution::log_as_json(args.log_format == LogFormat::Json);
    if args.max_task_runs > 0 {
        crate::executor::limit_task_runs(args.max_task_runs);
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    runtime.spawn(on_signals(stop, "stopping"));
    runtime
        .block_on(serve(
            bundle,
            store,
            ServeOptions {
                grace: Duration::from_secs(args.grace),
                max_executions: args.max_executions,
                listen: args.listen.clone(),
                max_body: args.max_body,
                max_stored_body: args.max_stored_body,
                auth: Arc::new(ApiAuth::new(
                    std::env::var("KFLOW_API_TOKEN").ok().as_deref(),
                    std::env::var("KFLOW_API_BASIC_AUTH").ok().as_deref(),
                )),
                retention: Retention {
                    executions: args.keep_executions.0,
                    logs: args.keep_logs.unwrap_or(args.keep_executions).0,
                    files: args.keep_files.unwrap_or(args.keep_executions).0,
                },
                routes: None,
            },
            stopped,
        ))
        .map_err(Failure::failed)?;
    Ok(0)
}

/// The trigger `id` among the flows `--flow` names (all of them without it): one, or a
/// message naming the triggers there are.
fn find<'b>(
    bundle: &'b Bundle,
    flow: Option<&str>,
    id: &str,
) -> Result<(&'b Hosted, &'b Trigger), Failure> {
    let flows = flows(bundle, flow)?;
    let found: Vec<(&Hosted, &Trigger)> = flows
        .iter()
        .flat_map(|h| h.flow.triggers.iter().map(move |t| (*h, t)))
        .filter(|(_, t)| t.id == id)
        .collect();
    match found.as_slice() {
        [one] => Ok(*one),
        [] => {
            let ids: Vec<&str> = flows
                .iter()
                .flat_map(|h| h.flow.triggers.iter().map(|t| t.id.as_str()))
                .collect();
            Err(Failure::usage(format!(
                "no trigger `{id}` (the triggers: {})",
                if ids.is_empty() {
                    "none".to_string()
                } else {
                    ids.join(", ")
                }
            )))
        }
        _ => Err(Failure::usage(format!(
            "several flows have a trigger `{id}`: name the flow with --flow"
        ))),
    }
}

/// The flows `--flow` names: one, or all.
fn flows<'b>(bundle: &'b Bundle, flow: Option<&str>) -> Result<Vec<&'b Hosted>, Failure> {
    match flow {
        Some(name) => Ok(vec![bundle.select(Some(name)).map_err(Failure::usage)?]),
        None => Ok(bundle.flows.iter().collect()),
    }
}

/// `triggers`: each trigger with its status, last and next tick; `disable`/`enable ID`.
pub(super) fn triggers_command(
    bundle: &Bundle,
    args: &TriggersArgs,
    out: &mut dyn Write,
) -> Result<u8, Failure> {
    if let Some(action) = &args.action {
        let (id, disabled) = match action {
            TriggerAction::Disable { id } => (id, true),
            TriggerAction::Enable { id } => (id, false),
        };
        let (hosted, trigger) = find(bundle, args.flow.as_deref(), id)?;
        let store = open_store(bundle, args.state.as_deref())?;
        store
            .set_trigger_disabled(&hosted.flow.id, &trigger.id, disabled)
            .map_err(|e| Failure::failed(e.to_string()))?;
        let note = if trigger.disabled && !disabled {
            " (but `disabled: true` in the flow still keeps it from firing)"
        } else {
            ""
        };
        writeln!(
            out,
            "trigger `{}` {}{note}",
            trigger.id,
            if disabled { "disabled" } else { "enabled" }
        )
        .map_err(|e| Failure::failed(format!("cannot write: {e}")))?;
        return Ok(0);
    }
    let dir = state_dir(bundle, args.state.as_deref())?;
    let store = Store::open_read_only(&dir).map_err(|e| Failure::failed(e.to_string()))?;
    let now = Timestamp::now();
    let mut rows = Vec::new();
    let several = bundle.flows.len() > 1;
    for (flow, trigger) in flows(bundle, args.flow.as_deref())?
        .into_iter()
        .flat_map(|h| h.flow.triggers.iter().map(move |t| (&h.flow, t)))
    {
        let position = match &store {
            Some(store) => store
                .trigger_state(&flow.id, &trigger.id)
                .map_err(|e| Failure::failed(e.to_string()))?,
            None => state::TriggerState::default(),
        };
        let ticks = Ticks::of(trigger);
        let status = match (&trigger.kind, &ticks) {
            _ if trigger.disabled => "disabled in the flow".to_string(),
            _ if position.disabled => "disabled".to_string(),
            (TriggerKind::NotServed { why }, _) => format!("not run: {why}"),
            (_, Err(e)) => format!("not run: {e}"),
            _ => "enabled".to_string(),
        };
        let last = position.last_tick_ms.map(crate::formats::iso_instant);
        let next = ticks.ok().flatten().and_then(|ticks| {
            let from = position
                .last_tick_ms
                .and_then(|ms| Timestamp::from_millisecond(i64::try_from(ms).ok()?).ok())
                .map_or(now, |last| last.max(now));
            ticks.next_after(from).map(|t| schedule::iso(&t))
        });
        rows.push(json!({
            "flow": flow.id,
            "id": trigger.id,
            "type": trigger.type_name,
            "status": status,
            "last": last,
            "next": next,
        }));
    }
    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&rows).unwrap_or_default(),
        Format::Table => {
            let cell = |row: &Value, key: &str| row[key].as_str().unwrap_or("-").to_string();
            let short = |row: &Value| {
                cell(row, "type")
                    .rsplit('.')
                    .next()
                    .unwrap_or_default()
                    .to_string()
            };
            let name = |row: &Value| {
                if several {
                    format!("{}/{}", cell(row, "flow"), cell(row, "id"))
                } else {
                    cell(row, "id")
                }
            };
            let mut lines = vec![format!(
                "{:<20} {:<16} {:<28} {:<26} {}",
                "TRIGGER", "TYPE", "LAST TICK", "NEXT TICK", "STATUS"
            )];
            for row in &rows {
                lines.push(format!(
                    "{:<20} {:<16} {:<28} {:<26} {}",
                    name(row),
                    short(row),
                    cell(row, "last"),
                    cell(row, "next"),
                    cell(row, "status")
                ));
            }
            lines.join("\n")
        }
    };
    writeln!(out, "{text}").map_err(|e| Failure::failed(format!("cannot write: {e}")))?;
    Ok(0)
}

/// `backfill --trigger ID --start DATE --end DATE`: each tick in the range, in order.
pub(super) fn backfill_command(
    bundle: &Bundle,
    args: &BackfillArgs,
    shown: &Shown,
    out: &mut dyn Write,
) -> Result<u8, Failure> {
    let (hosted, trigger) = find(bundle, args.flow.as_deref(), &args.trigger)?;
    let ticks = Ticks::of(trigger).map_err(Failure::usage)?.ok_or_else(|| {
        Failure::usage(format!(
            "trigger `{}` ({}) has no ticks to backfill: only Schedule and ScheduleOnDates do",
            trigger.id, trigger.type_name
        ))
    })?;
    let date = |name: &str, text: &str| {
        schedule::instant(text, ticks.zone()).ok_or_else(|| {
            Failure::usage(format!(
                "--{name} `{text}` is not a date (2024-01-01T00:00:00Z, 2024-01-01T00:00:00 in the trigger's zone, or 2024-01-01)"
            ))
        })
    };
    let (start, end) = (date("start", &args.start)?, date("end", &args.end)?);
    if end < start {
        return Err(Failure::usage("--end is before --start".into()));
    }
    let store = Arc::new(open_store(bundle, args.state.as_deref())?);
    let runtime = runtime()?;
    let (kill, killed) = tokio::sync::watch::channel(false);
    runtime.spawn(on_signals(kill, "killing the backfill's execution"));
    let human = args.summary.human(shown.terminal);
    let mut worst = 0u8;
    let mut write_error = None;
    let count = runtime
        .block_on(backfill(
            bundle,
            hosted,
            store,
            trigger,
            start..=end,
            killed,
            |summary| {
                if summary.state.is_failure() {
                    worst = 1;
                }
                let text = if human {
                    human_summary(summary)
                } else {
                    summary.to_json().to_string()
                };
                if let Err(e) = writeln!(out, "{text}") {
                    write_error.get_or_insert(e);
                }
            },
        ))
        .map_err(Failure::failed)?;
    if let Some(e) = write_error {
        return Err(Failure::failed(format!("cannot write: {e}")));
    }
    crate::serve::say("INFO", &format!("backfill: {count} execution(s)"));
    Ok(worst)
}
