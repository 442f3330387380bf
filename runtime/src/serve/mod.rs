//! `serve`: the flow's triggers run until the process is told to stop, and `backfill`.
//!
//! - One `serve` per state (a lock file): two would fire the same ticks.
//! - At start, the executions a crash left unfinished (marked FAILED by the state's recovery)
//!   are restarted from their last recorded task run.
//! - Each served trigger keeps its position (the last tick handled) in the state. A tick is
//!   marked handled in the same fsynced transaction that creates its execution
//!   ([`Store::handle_tick`]), so each tick runs exactly once across crashes: a tick whose
//!   commit happened has its execution (restarted at the next start if the process died), one
//!   whose commit did not is still ahead of the position.
//! - Ticks missed while `serve` was not running are run as `recoverMissedSchedules` says.
//! - An HTTP server ([`http`]) on `listen` answers the Webhook triggers ([`webhook`]) and
//!   Kestra's REST API for executions ([`api`]), with `/health` and `/metrics`.
//! - Housekeeping removes what is older than the [`Retention`], at start and every hour.
//! - SIGTERM or SIGINT: no new tick fires and no request is taken; running executions get
//!   `grace` to end, then are killed (recorded KILLED); the process exits 0. A second signal
//!   exits at once.

mod api;
mod http;
mod metrics;
mod multipart;
#[cfg(feature = "http")]
mod poll;
mod upstream;
mod webhook;

pub use http::ApiAuth;

use std::sync::Arc;
use std::time::Duration;

use jiff::{Timestamp, Zoned};
use serde_json::{Map, Value};
use tokio::sync::{watch, Semaphore};

use crate::bundle::{Bundle, Hosted};
use crate::execution::{new_id, now_ms, stderr_line, Summary};
use crate::history::{ExecutionPurge, History, LogPurge, Purged};
use crate::inputs;
use crate::launch::{launch, LaunchEvent, LaunchRequest, SubflowLauncher, Subflows};
use crate::plan::{Flow, Trigger, TriggerKind};
use crate::schedule::{self, Ticks, MAX_MISSED};
use crate::state::{Store, TriggeredExecution};
use crate::storage::Storage;

/// The knobs of `serve`.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// How long running executions may take to end after a stop signal before they are killed.
    pub grace: Duration,
    /// Executions running at once (0: no limit); more wait, CREATED, for a place.
    pub max_executions: usize,
    /// Where the HTTP server listens (webhooks, the REST API, `/health`, `/metrics`); it runs
    /// when the flow has a webhook trigger or this is given.
    pub listen: Option<String>,
    /// The largest request body read into memory (413 beyond).
    pub max_body: usize,
    /// The largest body a `fetchType: STORE` webhook streams to storage (413 beyond).
    pub max_stored_body: u64,
    /// The credentials the REST API asks for (required to listen off the loopback).
    pub auth: Arc<ApiAuth>,
    /// How long ended executions, logs and files are kept.
    pub retention: Retention,
    /// Hand the HTTP routes to the host program instead of listening (see [`RoutesTo`]).
    pub routes: Option<RoutesTo>,
}

/// Where `serve` hands its HTTP routes when the host program's own axum server is to answer
/// them (`include_flow!`'s `serve_routes`): the webhooks, `/health` and `/metrics`, and
/// Kestra's REST API only when [`ServeOptions::auth`] has credentials, since `serve` cannot
/// tell whether the host listens off the loopback.
#[derive(Clone)]
pub struct RoutesTo(Arc<std::sync::Mutex<Option<tokio::sync::oneshot::Sender<axum::Router>>>>);

impl RoutesTo {
    /// The sending end, for [`ServeOptions::routes`], and where the routes arrive.
    pub fn channel() -> (RoutesTo, tokio::sync::oneshot::Receiver<axum::Router>) {
        let (give, take) = tokio::sync::oneshot::channel();
        (RoutesTo(Arc::new(std::sync::Mutex::new(Some(give)))), take)
    }

    fn give(&self, router: axum::Router) {
        if let Some(give) = crate::lock(&self.0).take() {
            let _ = give.send(router);
        }
    }
}

impl std::fmt::Debug for RoutesTo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RoutesTo")
    }
}

/// `serve`'s defaults (those of its command line): a 30 s grace, no limit on executions,
/// 8 MiB bodies in memory, 1 GiB stored, no API credentials (loopback only), 30 days kept.
impl Default for ServeOptions {
    fn default() -> Self {
        let kept = Some(DEFAULT_RETENTION);
        ServeOptions {
            grace: Duration::from_secs(DEFAULT_GRACE_SECONDS),
            max_executions: 0,
            listen: None,
            max_body: DEFAULT_MAX_BODY,
            max_stored_body: DEFAULT_MAX_STORED_BODY,
            auth: Arc::new(ApiAuth::new(None, None)),
            retention: Retention {
                executions: kept,
                logs: kept,
                files: kept,
            },
            routes: None,
        }
    }
}

pub const DEFAULT_GRACE_SECONDS: u64 = 30;
pub const DEFAULT_MAX_BODY: usize = 8 << 20;
pub const DEFAULT_MAX_STORED_BODY: u64 = 1 << 30;
/// 30 days.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// How long ended executions (with their logs and files), log lines and execution files are
/// kept; `None`: for ever. Housekeeping applies it when `serve` starts and every hour.
#[derive(Debug, Clone, Copy, Default)]
pub struct Retention {
    pub executions: Option<Duration>,
    pub logs: Option<Duration>,
    pub files: Option<Duration>,
}

/// How often housekeeping runs.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(3600);

/// Where the HTTP server listens when `--listen` is not given: loopback, Kestra's port.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The longest a scheduler sleeps before it looks at the clock and the state again (a clock
/// change, a suspended machine, `triggers disable` from another shell).
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// What the schedulers, the HTTP server and restarts share: the binary's flows and state.
struct Served {
    flows: Vec<Hosted>,
    store: Arc<Store>,
    /// The state's internal storage (webhook bodies and files are written there).
    storage: Storage,
    /// Turns `true` when the grace period is over: running executions are killed.
    kill: watch::Receiver<bool>,
    places: Arc<Semaphore>,
    /// How many executions started have not ended: stopping waits for none.
    active: watch::Sender<usize>,
    metrics: metrics::Metrics,
    /// The Flow triggers of the binary's flows, which executions ending fire.
    upstream: upstream::FlowTriggers,
}

impl Served {
    fn new(
        bundle: &Bundle,
        store: &Arc<Store>,
        kill: watch::Receiver<bool>,
        places: usize,
    ) -> Served {
        Served {
            flows: bundle.flows.clone(),
            store: Arc::clone(store),
            storage: Storage::new(store.path().parent().unwrap_or(std::path::Path::new("."))),
            kill,
            places: Arc::new(Semaphore::new(places)),
            active: watch::channel(0).0,
            metrics: metrics::Metrics::default(),
            upstream: upstream::FlowTriggers::of(bundle),
        }
    }

    /// The hosted flow `namespace.id`.
    fn hosted(&self, namespace: &str, id: &str) -> Option<&Hosted> {
        self.flows
            .iter()
            .find(|h| h.flow.namespace == namespace && h.flow.id == id)
    }
}

/// A line of `serve`'s own log, on stderr.
pub fn say(level: &str, message: &str) {
    eprint!("{}", stderr_line(now_ms(), level, None, "serve", message));
}

/// Runs the triggers of the binary's flows until `stop` turns `true`, then drains. An error
/// when `serve` cannot start (another one holds the state).
pub async fn serve(
    bundle: &Bundle,
    store: Arc<Store>,
    options: ServeOptions,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let dir = store.path().parent().unwrap_or(std::path::Path::new("."));
    let _lock = crate::owner::serve_lock(dir)
        .map_err(|e| format!("cannot lock the state {}: {e}", dir.display()))?
        .ok_or_else(|| {
            format!(
                "another `serve` runs on the state {}: one at a time, or ticks would run twice",
                dir.display()
            )
        })?;
    let (kill_all, kill) = watch::channel(false);
    let places = if options.max_executions == 0 {
        Semaphore::MAX_PERMITS
    } else {
        options.max_executions
    };
    let served = Arc::new(Served::new(bundle, &store, kill, places));

    for row in store.crashed_executions().map_err(|e| e.to_string())? {
        let Some(hosted) = served.hosted(&row.namespace, &row.flow_id).cloned() else {
            say(
                "WARN",
                &format!(
                    "execution {} of {}.{} is not restarted: this binary does not host its flow",
                    row.id, row.namespace, row.flow_id
                ),
            );
            continue;
        };
        let request = LaunchRequest::taking_up(&row, &store, true).map_err(|e| e.to_string())?;
        store
            .record_action(
                &row.id,
                "restart",
                "by serve: its process had ended before it did",
            )
            .map_err(|e| e.to_string())?;
        say(
            "INFO",
            &format!(
                "restarting execution {} (left unfinished by a crash)",
                row.id
            ),
        );
        drop(served.start(&hosted, request, None));
    }

    let mut schedulers = tokio::task::JoinSet::new();
    schedulers.spawn(housekeeping(
        Arc::clone(&store),
        options.retention,
        stop.clone(),
    ));
    // Flow triggers catch up with what executions did while no `serve` ran, then follow.
    served.upstream.catch_up(&served);
    if served.upstream.any() {
        let served = Arc::clone(&served);
        let stop = stop.clone();
        schedulers.spawn(async move { served.upstream.follow(&served, stop).await });
    }
    let mut webhooks = Vec::new();
    for hosted in &bundle.flows {
        let flow = &hosted.flow;
        for trigger in &flow.triggers {
            serve_trigger(
                &served,
                hosted,
                trigger,
                &mut webhooks,
                &mut schedulers,
                &stop,
            );
        }
    }
    let server = if let Some(routes) = &options.routes {
        let api = options.auth.is_set();
        routes.give(http::router(app(&served, &options, webhooks, &stop), api));
        None
    } else if webhooks.is_empty() && options.listen.is_none() {
        None
    } else {
        Some(listen(&served, &options, webhooks, &stop).await?)
    };
    say(
        "INFO",
        &format!("serving the triggers of {} flow(s)", bundle.flows.len()),
    );
    let mut active = served.active.subscribe();
    drop(served);

    let _ = stop.wait_for(|s| *s).await;
    schedulers.shutdown().await;
    say(
        "INFO",
        &format!(
            "stopping: no new executions; {} running, given {} s to end",
            *active.borrow(),
            options.grace.as_secs()
        ),
    );
    let ended = tokio::time::timeout(options.grace, active.wait_for(|n| *n == 0))
        .await
        .is_ok();
    if !ended {
        say(
            "WARN",
            "grace period over: killing the executions still running",
        );
        let _ = kill_all.send(true);
        let _ = active.wait_for(|n| *n == 0).await;
    }
    if let Some(server) = server {
        // No new request was taken since the signal; the answers waiting for an execution
        // have theirs now.
        let _ = server.await;
    }
    say("INFO", "stopped");
    Ok(())
}

/// Starts what runs one trigger: a webhook joins the HTTP server's hooks, a schedule gets its
/// scheduler; Flow triggers are fired by executions changing state ([`upstream`]).
fn serve_trigger(
    served: &Arc<Served>,
    hosted: &Hosted,
    trigger: &Trigger,
    webhooks: &mut Vec<webhook::Hook>,
    schedulers: &mut tokio::task::JoinSet<()>,
    stop: &watch::Receiver<bool>,
) {
    if trigger.disabled {
        say(
            "INFO",
            &format!("trigger `{}` is disabled in the flow", trigger.id),
        );
        return;
    }
    if let TriggerKind::Webhook(webhook) = &trigger.kind {
        match webhook::Hook::new(hosted, trigger, webhook) {
            Ok(hook) => webhooks.push(hook),
            Err(e) => say(
                "ERROR",
                &format!("trigger `{}` is not run: {e}", trigger.id),
            ),
        }
        return;
    }
    if let TriggerKind::Flow(_) = &trigger.kind {
        return;
    }
    if let TriggerKind::HttpPoll(poll) = &trigger.kind {
        #[cfg(feature = "http")]
        {
            let served = Arc::clone(served);
            let hosted = hosted.clone();
            let trigger = trigger.clone();
            let poll = poll.clone();
            let stop = stop.clone();
            schedulers.spawn(async move {
                poll::run(&served, &hosted, &trigger, &poll, stop).await;
            });
        }
        #[cfg(not(feature = "http"))]
        {
            let _ = poll;
            say(
                "ERROR",
                &format!(
                    "trigger `{}` is not run: this binary was built without kflow-runtime's `http` feature (kflowc turns it on for flows with an http.Trigger)",
                    trigger.id
                ),
            );
        }
        return;
    }
    {
        match Ticks::of(trigger) {
            Ok(Some(ticks)) => {
                let served = Arc::clone(served);
                let hosted = hosted.clone();
                let trigger = trigger.clone();
                let stop = stop.clone();
                schedulers.spawn(async move {
                    served.schedule(&hosted, &trigger, &ticks, stop).await;
                });
            }
            Ok(None) => {
                let why = match &trigger.kind {
                    TriggerKind::NotServed { why } => why.as_str(),
                    _ => "",
                };
                say(
                    "WARN",
                    &format!("trigger `{}` is not run: {why}", trigger.id),
                );
            }
            Err(e) => say(
                "ERROR",
                &format!("trigger `{}` is not run: {e}", trigger.id),
            ),
        }
    }
}

/// The HTTP server, listening: webhooks, the REST API, `/health`, `/metrics`.
async fn listen(
    served: &Arc<Served>,
    options: &ServeOptions,
    webhooks: Vec<webhook::Hook>,
    stop: &watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, String> {
    {
        let listen = options.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let loopback = listener.local_addr().is_ok_and(|a| a.ip().is_loopback());
        if !loopback && !options.auth.is_set() {
            return Err(format!(
                "listening on {listen}, off the loopback, the REST API needs credentials: set \
                 KFLOW_API_TOKEN (a bearer token) or KFLOW_API_BASIC_AUTH (user:password)"
            ));
        }
        say(
            "INFO",
            &format!(
                "listening on http://{} ({} webhook trigger(s))",
                listener
                    .local_addr()
                    .map_or_else(|_| listen.to_string(), |a| a.to_string()),
                webhooks.len()
            ),
        );
        let router = http::router(app(served, options, webhooks, stop), true);
        Ok(tokio::spawn(http::run(listener, router, stop.clone())))
    }
}

/// What the HTTP handlers share.
fn app(
    served: &Arc<Served>,
    options: &ServeOptions,
    webhooks: Vec<webhook::Hook>,
    stop: &watch::Receiver<bool>,
) -> http::App {
    http::App {
        served: Arc::clone(served),
        hooks: webhooks,
        limits: http::Limits {
            memory: options.max_body,
            stored: options.max_stored_body,
        },
        auth: Arc::clone(&options.auth),
        stop: stop.clone(),
    }
}

/// An execution started and not ended, counted in [`Served::active`] until dropped.
struct Counted(Arc<Served>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.active.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// The subflows of the executions `serve` runs: started as its other executions are (their
/// Flow triggers fire, `/metrics` counts them), but without waiting for a place: a parent
/// holding one waits for them.
struct Children(Arc<Served>);

impl Subflows for Children {
    fn flow(&self, namespace: &str, flow_id: &str) -> Option<Arc<Flow>> {
        self.0
            .hosted(namespace, flow_id)
            .map(|h| Arc::clone(&h.flow))
    }

    fn start(
        &self,
        flow: Arc<Flow>,
        request: LaunchRequest,
    ) -> crate::launch::BoxFuture<'static, Option<Summary>> {
        let Some(hosted) = self
            .0
            .flows
            .iter()
            .find(|h| Arc::ptr_eq(&h.flow, &flow))
            .cloned()
        else {
            return Box::pin(async { None });
        };
        if let Err(e) = crate::launch::record_child(&self.0.store, &hosted.flow, &request) {
            say(
                "ERROR",
                &format!("a subflow execution could not be recorded: {e}"),
            );
            return Box::pin(async { None });
        }
        let ended = self.0.spawn(&hosted, request, None, false);
        Box::pin(async move { ended.await.ok() })
    }
}

impl Served {
    /// Launches an execution of `hosted` in the background, within the places
    /// `max_executions` gives. Its last summary arrives on the receiver when it ends.
    fn start(
        self: &Arc<Self>,
        hosted: &Hosted,
        request: LaunchRequest,
        trigger: Option<Trigger>,
    ) -> tokio::sync::oneshot::Receiver<Summary> {
        self.spawn(hosted, request, trigger, true)
    }

    /// [`Served::start`]; a subflow does not take a place (`takes_place: false`).
    fn spawn(
        self: &Arc<Self>,
        hosted: &Hosted,
        mut request: LaunchRequest,
        trigger: Option<Trigger>,
        takes_place: bool,
    ) -> tokio::sync::oneshot::Receiver<Summary> {
        request.kill = Some(match request.kill.take() {
            Some(own) => crate::launch::either_kill(own, self.kill.clone()),
            None => self.kill.clone(),
        });
        request.subflows = Some(SubflowLauncher(Arc::new(Children(Arc::clone(self)))));
        let (ended, summary) = tokio::sync::oneshot::channel();
        self.metrics.waiting();
        self.active.send_modify(|n| *n += 1);
        let counted = Counted(Arc::clone(self));
        let hosted = hosted.clone();
        tokio::spawn(async move {
            let served = &counted.0;
            let _place = if takes_place {
                let Ok(place) = Arc::clone(&served.places).acquire_owned().await else {
                    served.metrics.gave_up();
                    return;
                };
                Some(place)
            } else {
                None
            };
            let _running = served.metrics.runs();
            let result = launch(
                Arc::clone(&hosted.flow),
                request,
                Arc::clone(&hosted.host),
                Arc::clone(&served.store),
                |event| {
                    if let LaunchEvent::Ended(summary) = event {
                        served.ended(&hosted, summary, trigger.as_ref());
                    }
                },
            )
            .await;
            match result {
                Ok(summary) => {
                    let _ = ended.send(summary);
                }
                Err(e) => say("ERROR", &format!("an execution could not start: {e}")),
            }
        });
        summary
    }

    fn ended(self: &Arc<Self>, hosted: &Hosted, summary: &Summary, trigger: Option<&Trigger>) {
        self.metrics.ended(&hosted.flow.id, summary);
        say(
            "INFO",
            &format!(
                "execution {} of {} ended {}",
                summary.id,
                hosted.flow.id,
                summary.state.as_str()
            ),
        );
        let Some(trigger) = trigger else { return };
        if trigger
            .stop_after
            .iter()
            .any(|s| s == summary.state.as_str())
        {
            match self
                .store
                .set_trigger_disabled(&hosted.flow.id, &trigger.id, true)
            {
                Ok(()) => say(
                    "INFO",
                    &format!(
                        "trigger `{}` disabled: an execution it started ended {} (stopAfter)",
                        trigger.id,
                        summary.state.as_str()
                    ),
                ),
                Err(e) => say("ERROR", &format!("trigger `{}`: {e}", trigger.id)),
            }
        }
    }

    /// One trigger's ticks, from its position in the state, until `stop`.
    async fn schedule(
        self: Arc<Self>,
        hosted: &Hosted,
        trigger: &Trigger,
        ticks: &Ticks,
        mut stop: watch::Receiver<bool>,
    ) {
        let flow = &hosted.flow;
        let position = loop {
            match self.position(flow, trigger) {
                Ok(position) => break position,
                Err(e) => {
                    if retry_later(trigger, &e, &mut stop).await {
                        return;
                    }
                }
            }
        };
        let mut last = position;
        let mut previous: Option<Zoned> = None;
        // The ticks missed while no `serve` ran.
        let missed = ticks.between(last, Timestamp::now(), MAX_MISSED);
        if let Some(newest) = missed.last().cloned() {
            // A trigger disabled (`triggers disable`) runs none of them: they are only handled.
            let disabled = self
                .store
                .trigger_state(&flow.id, &trigger.id)
                .is_ok_and(|s| s.disabled);
            let run = if disabled {
                Vec::new()
            } else {
                ticks.recovered(missed.clone())
            };
            say(
                "INFO",
                &format!(
                    "trigger `{}`: {} tick(s) missed while serve was not running; recoverMissedSchedules {} runs {}",
                    trigger.id,
                    missed.len(),
                    ticks.recover.as_str(),
                    run.len()
                ),
            );
            for tick in run {
                while self
                    .fire(hosted, trigger, ticks, &tick, previous.as_ref())
                    .is_err()
                {
                    if sleep_or_stop(Duration::from_secs(1), &mut stop).await {
                        return;
                    }
                }
                previous = Some(tick);
            }
            // The ones not run are handled too: the position moves past them.
            while let Err(e) = self
                .store
                .handle_tick(flow, &trigger.id, millis(&newest), None)
            {
                if retry_later(trigger, &e, &mut stop).await {
                    return;
                }
            }
            last = newest.timestamp();
        }
        if let Some(next) = ticks.next_after(last) {
            say(
                "INFO",
                &format!(
                    "trigger `{}`: next tick {}",
                    trigger.id,
                    schedule::iso(&next)
                ),
            );
        }
        loop {
            let Some(next) = ticks.next_after(last) else {
                say("INFO", &format!("trigger `{}`: no more ticks", trigger.id));
                let _ = stop.wait_for(|s| *s).await;
                return;
            };
            let now = Timestamp::now();
            if next.timestamp() > now {
                let wait = Duration::try_from(next.timestamp() - now)
                    .unwrap_or(Duration::ZERO)
                    .min(MAX_SLEEP);
                if sleep_or_stop(wait, &mut stop).await {
                    return;
                }
                continue;
            }
            if *stop.borrow() {
                return;
            }
            let disabled = self
                .store
                .trigger_state(&flow.id, &trigger.id)
                .is_ok_and(|s| s.disabled);
            let fired = if disabled {
                self.store
                    .handle_tick(flow, &trigger.id, millis(&next), None)
                    .map(drop)
                    .map_err(|e| e.to_string())
            } else {
                self.fire(hosted, trigger, ticks, &next, previous.as_ref())
            };
            match fired {
                Ok(()) => {
                    last = next.timestamp();
                    previous = Some(next);
                }
                Err(e) => {
                    if retry_later(trigger, &e, &mut stop).await {
                        return;
                    }
                }
            }
        }
    }

    /// Where the trigger stands: its last tick handled, or now on its first start (the ticks
    /// before a trigger was first served are not missed ones).
    fn position(&self, flow: &Flow, trigger: &Trigger) -> Result<Timestamp, String> {
        let state = self
            .store
            .trigger_state(&flow.id, &trigger.id)
            .map_err(|e| e.to_string())?;
        if let Some(ms) = state.last_tick_ms {
            return Ok(timestamp(ms));
        }
        let now = now_ms();
        self.store
            .handle_tick(flow, &trigger.id, now, None)
            .map_err(|e| e.to_string())?;
        Ok(timestamp(now))
    }

    /// Handles one tick: skipped when too late or when the conditions do not hold, else its
    /// execution created (with the tick, in one fsynced commit) and launched. An error when
    /// the state could not record it (the tick is then still ahead).
    fn fire(
        self: &Arc<Self>,
        hosted: &Hosted,
        trigger: &Trigger,
        ticks: &Ticks,
        tick: &Zoned,
        previous: Option<&Zoned>,
    ) -> Result<(), String> {
        let flow = &hosted.flow;
        let variables = ticks.variables(tick, previous);
        let skip = |why: String| -> Result<(), String> {
            say(
                "INFO",
                &format!(
                    "trigger `{}`: tick {} skipped: {why}",
                    trigger.id,
                    schedule::iso(tick)
                ),
            );
            self.store
                .handle_tick(flow, &trigger.id, millis(tick), None)
                .map(drop)
                .map_err(|e| e.to_string())
        };
        if let TriggerKind::Schedule(schedule) = &trigger.kind {
            if let Some(max) = schedule.late_maximum_delay {
                let late =
                    Duration::try_from(Timestamp::now() - tick.timestamp()).unwrap_or_default();
                if late > max {
                    return skip(format!(
                        "{} s late, more than lateMaximumDelay ({} s)",
                        late.as_secs(),
                        max.as_secs()
                    ));
                }
            }
        }
        match schedule::conditions_hold(&trigger.conditions, flow, &variables, hosted.host.as_ref())
        {
            Ok(true) => {}
            Ok(false) => return skip("its conditions do not hold".into()),
            Err(e) => return skip(format!("a condition failed: {e}")),
        }
        let inputs = match inputs_of(hosted, trigger, &variables) {
            Ok(inputs) => inputs,
            Err(e) => return skip(format!("its inputs are not valid: {e}")),
        };
        let id = new_id();
        let start = TriggeredExecution {
            id: id.clone(),
            inputs: inputs.clone(),
            labels: trigger.execution_labels(),
            trigger: variables.clone(),
        };
        let created = self
            .store
            .handle_tick(flow, &trigger.id, millis(tick), Some(&start))
            .map_err(|e| e.to_string())?;
        if created {
            let late = Timestamp::now().as_millisecond() - tick.timestamp().as_millisecond();
            self.metrics
                .lag(&flow.id, &trigger.id, u64::try_from(late).unwrap_or(0));
            say(
                "INFO",
                &format!(
                    "trigger `{}`: tick {} started execution {id}",
                    trigger.id,
                    schedule::iso(tick)
                ),
            );
            self.start_created(hosted, trigger, id, inputs, variables);
        }
        Ok(())
    }

    /// Launches the execution `id` a trigger has recorded CREATED (with its `trigger.*`).
    fn start_created(
        self: &Arc<Self>,
        hosted: &Hosted,
        trigger: &Trigger,
        id: String,
        inputs: Map<String, Value>,
        variables: Value,
    ) {
        let request = LaunchRequest {
            created: Some((id, inputs)),
            trigger: Some(variables),
            labels: trigger.execution_labels(),
            echo_logs: true,
            ..LaunchRequest::default()
        };
        drop(self.start(hosted, request, Some(trigger.clone())));
    }
}

/// A trigger's `inputs`, rendered with `trigger.*` and validated as its flow's inputs.
fn inputs_of(
    hosted: &Hosted,
    trigger: &Trigger,
    variables: &Value,
) -> Result<Map<String, Value>, String> {
    let mut vars = Map::new();
    vars.insert("trigger".into(), variables.clone());
    inputs_with(hosted, trigger, &vars)
}

/// [`inputs_of`] rendered with `vars` (a Flow trigger's: the upstream execution's `outputs`,
/// `flow`, `execution` beside `trigger`, as Kestra renders them).
fn inputs_with(
    hosted: &Hosted,
    trigger: &Trigger,
    vars: &Map<String, Value>,
) -> Result<Map<String, Value>, String> {
    {
        let prop = match &trigger.kind {
            TriggerKind::Schedule(schedule) => schedule.inputs.as_ref(),
            TriggerKind::ScheduleOnDates { inputs, .. } => inputs.as_ref(),
            TriggerKind::Webhook(webhook) => webhook.inputs.as_ref(),
            TriggerKind::Flow(upstream) => upstream.inputs.as_ref(),
            TriggerKind::HttpPoll(_) | TriggerKind::NotServed { .. } => None,
        };
        let given = match prop {
            Some(prop) => {
                match prop
                    .render(vars, hosted.host.as_ref())
                    .map_err(|e| e.to_string())?
                {
                    Value::Object(map) => Some(map),
                    Value::Null => None,
                    other => return Err(format!("`inputs` must be a map, got {other}")),
                }
            }
            None => None,
        };
        inputs::resolve(&hosted.flow, Vec::new(), given).map_err(|e| inputs::describe(&e))
    }
}

/// Applies `retention` now and every [`HOUSEKEEPING_EVERY`] until `stop`; forgets expired
/// `Idempotency-Key`s.
async fn housekeeping(store: Arc<Store>, retention: Retention, mut stop: watch::Receiver<bool>) {
    loop {
        let store = Arc::clone(&store);
        let done = tokio::task::spawn_blocking(move || keep_house(&store, retention)).await;
        match done {
            Ok(Ok(purged)) if purged != Purged::default() => say(
                "INFO",
                &format!(
                    "housekeeping: removed {} ended execution(s), {} log line(s), {} file(s)",
                    purged.executions, purged.logs, purged.files
                ),
            ),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => say("ERROR", &format!("housekeeping: {e}")),
            Err(e) => say("ERROR", &format!("housekeeping: {e}")),
        }
        if sleep_or_stop(HOUSEKEEPING_EVERY, &mut stop).await {
            return;
        }
    }
}

fn keep_house(store: &Store, retention: Retention) -> Result<Purged, String> {
    let now = now_ms();
    let before =
        |keep: Duration| now.saturating_sub(u64::try_from(keep.as_millis()).unwrap_or(u64::MAX));
    let ended_before = |end_ms: u64, executions: bool| ExecutionPurge {
        start_ms: None,
        end_ms,
        states: Vec::new(),
        keep: "",
        executions,
        logs: executions,
        storage: true,
    };
    let mut purged = Purged::default();
    if let Some(keep) = retention.executions {
        purged = store.purge_executions(&ended_before(before(keep), true))?;
    }
    if let Some(keep) = retention.logs {
        purged.logs += store.purge_logs(&LogPurge {
            start_ms: None,
            end_ms: before(keep),
            execution_id: None,
            levels: Vec::new(),
        })?;
    }
    if let Some(keep) = retention.files {
        purged.files += store
            .purge_executions(&ended_before(before(keep), false))?
            .files;
    }
    store.forget_idempotency_keys().map_err(|e| e.to_string())?;
    Ok(purged)
}

/// After a failed write of a trigger's position: says so and waits a second before the next
/// try; whether `stop` came meanwhile.
async fn retry_later(
    trigger: &Trigger,
    error: &(dyn std::fmt::Display + Sync),
    stop: &mut watch::Receiver<bool>,
) -> bool {
    say(
        "ERROR",
        &format!("trigger `{}`: {error}; trying again", trigger.id),
    );
    sleep_or_stop(Duration::from_secs(1), stop).await
}

/// Sleeps `wait`, or less when `stop` turns `true`: whether it did.
async fn sleep_or_stop(wait: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return true;
    }
    let woke = {
        let sleep = std::pin::pin!(tokio::time::sleep(wait));
        let stopped = std::pin::pin!(stop.wait_for(|s| *s));
        matches!(
            futures_util::future::select(sleep, stopped).await,
            futures_util::future::Either::Right(_)
        )
    };
    woke || *stop.borrow()
}

fn millis(time: &Zoned) -> u64 {
    u64::try_from(time.timestamp().as_millisecond()).unwrap_or(0)
}

fn timestamp(ms: u64) -> Timestamp {
    Timestamp::from_millisecond(i64::try_from(ms).unwrap_or(i64::MAX)).unwrap_or(Timestamp::MAX)
}

/// `backfill`: every tick of `trigger` in `[start, end]`, in order, each run to its end before
/// the next; the trigger's position is not moved. `on_end` gets each execution's summary.
pub async fn backfill(
    bundle: &Bundle,
    hosted: &Hosted,
    store: Arc<Store>,
    trigger: &Trigger,
    range: std::ops::RangeInclusive<Timestamp>,
    kill: watch::Receiver<bool>,
    mut on_end: impl FnMut(&Summary),
) -> Result<usize, String> {
    let ticks = Ticks::of(trigger)?.ok_or_else(|| {
        format!(
            "trigger `{}` is not one `backfill` can run (a Schedule or ScheduleOnDates)",
            trigger.id
        )
    })?;
    let just_before = range
        .start()
        .checked_sub(jiff::SignedDuration::from_nanos(1))
        .map_err(|e| e.to_string())?;
    let all = ticks.between(just_before, *range.end(), usize::MAX);
    let (flow, host) = (&hosted.flow, &hosted.host);
    let subflows = crate::launch::InProcess::new(bundle, &store, Some(kill.clone()));
    let mut previous: Option<&Zoned> = None;
    let mut count = 0;
    for tick in &all {
        if *kill.borrow() {
            break;
        }
        let variables = ticks.variables(tick, previous);
        previous = Some(tick);
        if !schedule::conditions_hold(&trigger.conditions, flow, &variables, host.as_ref())? {
            say(
                "INFO",
                &format!(
                    "tick {}: conditions do not hold; skipped",
                    schedule::iso(tick)
                ),
            );
            continue;
        }
        let inputs = inputs_of(hosted, trigger, &variables)?;
        let request = LaunchRequest {
            input_values: Some(inputs),
            trigger: Some(variables),
            labels: trigger.execution_labels(),
            echo_logs: true,
            kill: Some(kill.clone()),
            subflows: Some(subflows.launcher()),
            ..LaunchRequest::default()
        };
        let summary = launch(
            Arc::clone(flow),
            request,
            Arc::clone(host),
            Arc::clone(&store),
            |_| {},
        )
        .await
        .map_err(|e| e.to_string())?;
        on_end(&summary);
        count += 1;
    }
    subflows.all_ended().await;
    Ok(count)
}
