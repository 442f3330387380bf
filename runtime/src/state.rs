//! The state of a flow's executions: one `SQLite` database, `state.db`, in the state directory.
//!
//! [`Store`] records executions, task runs (with their attempts and outputs) and log lines as
//! the executor reports them through [`Recorder`], and reads them back (`executions`).
//!
//! # Durability
//! The database runs in WAL mode with `synchronous=NORMAL`. Every [`Recorder`] call is its own
//! transaction, committed before the call returns, so a task run's state change is in the
//! database before the executor starts anything that follows it. With `synchronous=NORMAL` a
//! commit is written to the WAL file without waiting for the disk (`fsync` happens at
//! checkpoints), which means:
//! - **the process dying** (`kill -9`, a panic, OOM) loses nothing that was committed: the
//!   operating system still holds the written pages and the next open replays the WAL;
//! - **the machine losing power** (or the kernel crashing) may lose the last commits before the
//!   crash; the database itself stays consistent (never corrupt, never half a transaction).
//!
//! Measured on the development machine (2 cores, release build, `commit_cost` in the tests):
//! one task-run commit takes 23–27 µs with `synchronous=NORMAL` (about 215 µs with `FULL`,
//! which would also survive a power cut). A task run makes six of them today (created, running,
//! attempt started, attempt ended, outputs, end state): about 140–165 µs per task run. A log
//! line is one commit, about 30–35 µs. Log lines are not batched: a task that hangs and is
//! killed must leave its last lines behind.
//!
//! # Schema
//! Versioned with `PRAGMA user_version`: [`MIGRATIONS`] holds one script per version, applied in
//! order, in one transaction, when a store is opened. A database from a newer kflow (a
//! higher version than this binary knows) is refused rather than misread.
//!
//! Inputs of type SECRET are stored masked (`******`): the database is plain text on disk.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use crate::lock;
use crate::owner::{self, Owner};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::{json, Map, Value};

use crate::execution::{Attempt, State, Summary, TaskRun};
use crate::executor::Recorder;
use crate::history::{ExecutionPurge, History, LogLine, LogPurge, Purged};
use crate::kv::{KvStore, KvWrite};
use crate::plan::{Flow, InputType, Level};
use crate::storage::Storage;

/// The database file inside the state directory.
pub const DB_FILE: &str = "state.db";

/// How long a writer waits for another process holding the database (a `serve` and a `run`).
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// One script per schema version: `MIGRATIONS[0]` takes version 0 (empty) to 1, and so on.
pub const MIGRATIONS: &[&str] = &[
    // 1: executions, task runs, logs.
    "CREATE TABLE executions (
        id          TEXT PRIMARY KEY NOT NULL,
        namespace   TEXT NOT NULL,
        flow_id     TEXT NOT NULL,
        state       TEXT NOT NULL,
        inputs      TEXT NOT NULL,   -- JSON object
        labels      TEXT NOT NULL,   -- JSON object
        outputs     TEXT,            -- JSON object, once ended with outputs
        started_ms  INTEGER NOT NULL,
        ended_ms    INTEGER
    );
    CREATE INDEX executions_by_start ON executions (started_ms);
    CREATE TABLE task_runs (
        seq          INTEGER PRIMARY KEY,  -- the order task runs were created
        id           TEXT NOT NULL UNIQUE,
        execution_id TEXT NOT NULL,
        task_id      TEXT NOT NULL,
        parent_id    TEXT,
        value        TEXT,                 -- JSON, the loop value
        state        TEXT NOT NULL,
        attempts     TEXT NOT NULL,        -- JSON list of {state, started_ms, ended_ms}
        outputs      TEXT                  -- JSON
    );
    CREATE INDEX task_runs_by_execution ON task_runs (execution_id, seq);
    CREATE TABLE logs (
        seq          INTEGER PRIMARY KEY,
        execution_id TEXT NOT NULL,
        task_run_id  TEXT,                 -- NULL for the execution's own lines
        level        TEXT NOT NULL,
        message      TEXT NOT NULL,
        at_ms        INTEGER NOT NULL
    );
        CREATE INDEX logs_by_execution ON logs (execution_id, seq);",
    // 2: flow-level `concurrency`: one row per process running an execution of the flow.
    "CREATE TABLE running (
        pid        INTEGER NOT NULL,
        namespace  TEXT NOT NULL,
        flow_id    TEXT NOT NULL,
        started_ms INTEGER NOT NULL
    );",
    // 3: durable executions. Each execution records the owner token of the process running it
    // (see `crate::owner`), the flow revision it ran, the execution it replays, and a kill
    // asked for from another process; `actions` keeps what was done to it (restart, resume,
    // replay, kill, marked failed); `revisions` numbers the flow sources this state has run;
    // `kv` is the KV store.
    "ALTER TABLE executions ADD COLUMN owner TEXT;
    ALTER TABLE executions ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE executions ADD COLUMN original_id TEXT;
    ALTER TABLE executions ADD COLUMN kill_requested_ms INTEGER;
    CREATE INDEX executions_unfinished ON executions (state) WHERE ended_ms IS NULL;
    -- Slots of version 2 were held by process ids; no version-2 process can write here now.
    DELETE FROM running;
    ALTER TABLE running ADD COLUMN owner TEXT NOT NULL DEFAULT '';
    CREATE TABLE actions (
        seq          INTEGER PRIMARY KEY,
        execution_id TEXT NOT NULL,
        action       TEXT NOT NULL,        -- restart, resume, replay, replayed, kill, marked-failed
        detail       TEXT NOT NULL,
        at_ms        INTEGER NOT NULL
    );
    CREATE INDEX actions_by_execution ON actions (execution_id, seq);
    CREATE TABLE revisions (
        revision    INTEGER PRIMARY KEY,
        source_hash TEXT NOT NULL UNIQUE,
        first_ms    INTEGER NOT NULL
    );
    CREATE TABLE kv (
        namespace   TEXT NOT NULL,
        key         TEXT NOT NULL,
        value       TEXT NOT NULL,         -- JSON
        description TEXT,
        expires_ms  INTEGER,               -- NULL: never
        updated_ms  INTEGER NOT NULL,
        PRIMARY KEY (namespace, key)
    ) WITHOUT ROWID;",
    // 4: triggers. `triggers` keeps each trigger's position (the last tick handled: an
    // execution created for it, or skipped) and whether it was disabled from the command line
    // or by `stopAfter`; `executions.trigger` is the `trigger` variable of an execution a
    // trigger started (JSON), kept for restarts; `idempotency` maps a request's
    // `Idempotency-Key` to the execution it started.
    "ALTER TABLE executions ADD COLUMN trigger TEXT;
    CREATE TABLE triggers (
        flow_id      TEXT NOT NULL,
        trigger_id   TEXT NOT NULL,
        last_tick_ms INTEGER,              -- NULL: no tick handled yet
        disabled     INTEGER NOT NULL DEFAULT 0,
        updated_ms   INTEGER NOT NULL,
        PRIMARY KEY (flow_id, trigger_id)
    ) WITHOUT ROWID;
    CREATE TABLE idempotency (
        flow_id      TEXT NOT NULL,
        key          TEXT NOT NULL,
        execution_id TEXT NOT NULL,
        at_ms        INTEGER NOT NULL,
        PRIMARY KEY (flow_id, key)
    ) WITHOUT ROWID;",
    // 5: every state an execution takes, in order (what Flow triggers are offered: they fire on
    // RUNNING and PAUSED too, as Kestra's). The executions that had ended are its first rows.
    "CREATE TABLE state_changes (
        seq          INTEGER PRIMARY KEY,
        execution_id TEXT NOT NULL,
        state        TEXT NOT NULL,
        at_ms        INTEGER NOT NULL
    );
    CREATE INDEX state_changes_by_execution ON state_changes (execution_id);
    INSERT INTO state_changes (execution_id, state, at_ms)
        SELECT id, state, ended_ms FROM executions WHERE ended_ms IS NOT NULL
        ORDER BY ended_ms, rowid;",
];

/// What went wrong with the state.
#[derive(Debug)]
pub enum StateError {
    /// The state directory cannot be created or used.
    Dir(PathBuf, std::io::Error),
    /// The database said no.
    Sqlite(PathBuf, rusqlite::Error),
    /// The database was written by a newer kflow.
    NewerSchema {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    /// A stored row is not what this version writes.
    Corrupt(PathBuf, String),
    /// No state directory could be chosen.
    NoStateDir,
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::Dir(path, e) => write!(f, "state directory {}: {e}", path.display()),
            StateError::Sqlite(path, e) => write!(f, "state database {}: {e}", path.display()),
            StateError::NewerSchema { path, found, known } => write!(
                f,
                "state database {} has schema version {found}, written by a newer kflow; this binary knows versions up to {known}",
                path.display()
            ),
            StateError::Corrupt(path, what) => {
                write!(f, "state database {}: {what}", path.display())
            }
            StateError::NoStateDir => f.write_str(
                "no state directory: give --state DIR, or set STATE_DIRECTORY, XDG_STATE_HOME or HOME",
            ),
        }
    }
}

impl std::error::Error for StateError {}

/// The state directory of a binary's flows, as DESIGN.md orders the choices: `--state DIR`,
/// else `$STATE_DIRECTORY` (set by systemd's `StateDirectory=`; the first of a `:`-separated
/// list), else `$XDG_STATE_HOME/kflow/<leaf>` (an absolute path only, as the XDG spec says),
/// else `~/.local/state/kflow/<leaf>`; `leaf` is `<namespace>.<id>` for one flow, the
/// binary's name for several ([`crate::bundle::Bundle::state_leaf`]).
pub fn state_dir(explicit: Option<&Path>, leaf: &str) -> Result<PathBuf, StateError> {
    resolve_state_dir(explicit, leaf, |name| std::env::var_os(name))
}

/// [`state_dir`] with the environment given as a function (for tests).
pub fn resolve_state_dir(
    explicit: Option<&Path>,
    leaf: &str,
    env: impl Fn(&str) -> Option<OsString>,
) -> Result<PathBuf, StateError> {
    if let Some(dir) = explicit {
        return Ok(dir.to_path_buf());
    }
    let non_empty = |name: &str| env(name).filter(|v| !v.is_empty());
    if let Some(dirs) = non_empty("STATE_DIRECTORY") {
        if let Some(first) = std::env::split_paths(&dirs).find(|p| !p.as_os_str().is_empty()) {
            return Ok(first);
        }
    }
    if let Some(xdg) = non_empty("XDG_STATE_HOME").map(PathBuf::from) {
        if xdg.is_absolute() {
            return Ok(xdg.join("kflow").join(leaf));
        }
    }
    match non_empty("HOME") {
        Some(home) => Ok(PathBuf::from(home).join(".local/state/kflow").join(leaf)),
        None => Err(StateError::NoStateDir),
    }
}

/// One execution as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionRow {
    pub id: String,
    pub namespace: String,
    pub flow_id: String,
    pub state: State,
    pub inputs: Map<String, Value>,
    pub labels: Map<String, Value>,
    pub outputs: Option<Value>,
    pub started_ms: u64,
    /// `None` while running or paused.
    pub ended_ms: Option<u64>,
    /// The flow revision the execution ran (see [`Store::revision`]).
    pub revision: i64,
    /// The execution this one replays (its own id otherwise).
    pub original_id: Option<String>,
    /// The owner token of the process running it (see [`crate::owner`]).
    pub owner: Option<String>,
    /// What was done to it after it started, oldest first.
    pub actions: Vec<Action>,
    /// The `trigger` variable, when a trigger started it.
    pub trigger: Option<Value>,
}

/// Something done to an execution from outside: `restart`, `resume`, `replay` (on the new
/// execution), `replayed` (on the one replayed), `kill`, `marked-failed` (its process was gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub action: String,
    pub detail: String,
    pub at_ms: u64,
}

impl ExecutionRow {
    pub fn duration_ms(&self) -> Option<u64> {
        self.ended_ms.map(|end| end.saturating_sub(self.started_ms))
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "namespace": self.namespace,
            "flow_id": self.flow_id,
            "state": self.state.as_str(),
            "inputs": self.inputs,
            "labels": self.labels,
            "outputs": self.outputs,
            "started_ms": self.started_ms,
            "ended_ms": self.ended_ms,
            "duration_ms": self.duration_ms(),
            "revision": self.revision,
            "original_id": self.original_id,
            "trigger": self.trigger,
            "actions": self.actions.iter().map(|a| json!({
                "action": a.action,
                "detail": a.detail,
                "at": crate::formats::iso_instant(a.at_ms),
            })).collect::<Vec<_>>(),
        })
    }
}

/// A trigger's position in the state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TriggerState {
    /// The last tick handled (its execution created, or skipped); `None` before the first.
    pub last_tick_ms: Option<u64>,
    /// Disabled by `triggers disable` or by `stopAfter`.
    pub disabled: bool,
}

/// How long an `Idempotency-Key` is remembered: a retry within a day gets the first execution.
pub const IDEMPOTENCY_WINDOW_MS: u64 = 24 * 60 * 60 * 1000;

/// What [`Store::create_requested`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    New,
    /// The idempotency key was seen: this execution was started by the first request.
    Existing(String),
}

/// The execution a trigger's tick starts, created with the tick's position.
#[derive(Debug, Clone)]
pub struct TriggeredExecution {
    pub id: String,
    pub inputs: Map<String, Value>,
    pub labels: Map<String, Value>,
    /// The `trigger` variable its tasks see.
    pub trigger: Value,
}

/// One stored log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRow {
    /// Its place in the state: later lines have larger numbers (`logs --follow`).
    pub seq: i64,
    pub task_run_id: Option<String>,
    /// The task of `task_run_id`, when it has one.
    pub task_id: Option<String>,
    pub level: String,
    pub message: String,
    pub at_ms: u64,
}

/// The state database of one flow. See the module documentation for what it guarantees.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// The first error met while recording (the [`Recorder`] calls cannot return one).
    error: Mutex<Option<String>>,
    /// Log lines not yet written: they go in the transaction of the next task-run change (the
    /// one that ends the task that logged them), one commit instead of one per line.
    pending_logs: Mutex<Vec<PendingLog>>,
    /// This process's lock, held while the store is open for writing (`None` read-only).
    owner: Option<Owner>,
    /// The revision of the flow source last asked for: (source hash, revision).
    revision: Mutex<Option<(String, i64)>>,
    /// The files of the executions (`storage/` beside the database); `None` read-only.
    storage: Option<Storage>,
    /// Woken when this process records an execution's state change (Flow triggers wait on it).
    changed: tokio::sync::Notify,
}

/// One state an execution took, in the order of [`Store::changes_after`].
#[derive(Debug, Clone)]
pub struct StateChange {
    /// Its place: later changes have larger numbers.
    pub seq: u64,
    pub state: State,
    pub at_ms: u64,
    /// The execution as it is now (its state may have moved on since).
    pub execution: ExecutionRow,
}

/// The most log lines kept waiting for the next commit before they get one of their own.
const MAX_PENDING_LOGS: usize = 1_000;

/// Execution states whose process must be alive: an execution left in one of them by a process
/// that is gone was interrupted. A PAUSED execution has a process while a Pause waits its
/// duration (its owner is recorded), none while it waits for `resume` (no owner).
const UNFINISHED: &str = "'CREATED', 'RUNNING', 'RETRYING', 'PAUSED'";

struct PendingLog {
    execution_id: String,
    task_run_id: String,
    level: Level,
    message: String,
    at_ms: u64,
}

impl Store {
    /// The connection (one writer at a time; the store is shared by an execution's branches).
    fn conn(&self) -> MutexGuard<'_, Connection> {
        lock(&self.conn)
    }

    /// Take one of the flow's `limit` execution slots for this process, atomically across the
    /// processes sharing this state: the slot's id, or `None` when all are taken. Slots of
    /// processes that are gone (killed) are given back first.
    pub fn acquire_slot(&self, flow: &Flow, limit: u32) -> Result<Option<i64>, StateError> {
        let sqlite = |e| StateError::Sqlite(self.path.clone(), e);
        let conn = self.conn();
        let tx =
            rusqlite::Transaction::new_unchecked(&conn, rusqlite::TransactionBehavior::Immediate)
                .map_err(sqlite)?;
        let owners: Vec<String> = {
            let mut query = tx
                .prepare("SELECT owner FROM running WHERE namespace = ?1 AND flow_id = ?2")
                .map_err(sqlite)?;
            let rows = query
                .query_map(params![flow.namespace, flow.id], |row| row.get(0))
                .map_err(sqlite)?;
            rows.collect::<rusqlite::Result<_>>().map_err(sqlite)?
        };
        let mut alive = 0u32;
        for token in owners {
            if self.owner_alive(&token) {
                alive += 1;
            } else {
                tx.execute("DELETE FROM running WHERE owner = ?1", params![token])
                    .map_err(sqlite)?;
            }
        }
        let slot = if alive < limit {
            tx.execute(
                "INSERT INTO running (pid, namespace, flow_id, started_ms, owner)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    i64::from(std::process::id()),
                    flow.namespace,
                    flow.id,
                    millis(crate::execution::now_ms()),
                    self.token(),
                ],
            )
            .map_err(sqlite)?;
            Some(tx.last_insert_rowid())
        } else {
            None
        };
        tx.commit().map_err(sqlite)?;
        Ok(slot)
    }

    /// Give a slot back.
    pub fn release_slot(&self, slot: i64) {
        let result = self
            .conn()
            .execute("DELETE FROM running WHERE rowid = ?1", params![slot])
            .map(drop);
        self.note("the end of a concurrency slot", result);
    }

    /// This process's owner token ("" for a read-only store, which runs nothing).
    fn token(&self) -> &str {
        self.owner.as_ref().map_or("", Owner::token)
    }

    /// Whether the process with this owner token is alive (this process is).
    fn owner_alive(&self, token: &str) -> bool {
        token == self.token() && !token.is_empty() || owner::alive(self.dir(), token)
    }

    /// The state directory.
    fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Open (creating the directory, mode 0700, and the database as needed) and migrate.
    pub fn open(dir: &Path) -> Result<Store, StateError> {
        create_dir(dir).map_err(|e| StateError::Dir(dir.to_path_buf(), e))?;
        Store::open_file(dir.join(DB_FILE))
    }

    /// Open the store of a directory only if it has one (reading `executions` creates nothing).
    pub fn open_existing(dir: &Path) -> Result<Option<Store>, StateError> {
        let path = dir.join(DB_FILE);
        if path.is_file() {
            Store::open_file(path).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The state in `dir` for reading only (`executions`): it works on a read-only folder or
    /// file system and never changes the file; `None` when there is no state yet. A state
    /// written by a newer binary, or damaged, is refused as for writing.
    pub fn open_read_only(dir: &Path) -> Result<Option<Store>, StateError> {
        use rusqlite::OpenFlags;
        let path = dir.join(DB_FILE);
        if !path.is_file() {
            return Ok(None);
        }
        let sqlite = |e| StateError::Sqlite(path.clone(), e);
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        // On a read-only file system SQLite cannot create the WAL index; `immutable` then reads
        // the file as it is (no other process can be writing it there).
        let conn = Connection::open_with_flags(&path, flags)
            .and_then(|conn| {
                conn.query_row("PRAGMA user_version", [], |_| Ok(()))
                    .map(|()| conn)
            })
            .or_else(|_| {
                let uri = format!("file:{}?immutable=1", path.display());
                Connection::open_with_flags(&uri, flags | OpenFlags::SQLITE_OPEN_URI)
            })
            .map_err(sqlite)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(sqlite)?;
        let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
        if version > known {
            return Err(StateError::NewerSchema {
                path,
                found: version,
                known,
            });
        }
        if version == 0 {
            // Being created by another process this moment: nothing recorded yet.
            return Ok(None);
        }
        if version < known {
            // Written by an older kflow: migrated first (the one write a reader makes), or
            // refused where the file cannot be written.
            drop(conn);
            return Store::open_file(path.clone()).map(Some).map_err(|e| match e {
                StateError::Sqlite(..) | StateError::Dir(..) => StateError::Corrupt(
                    path,
                    format!(
                        "it has schema version {version}, written by an older kflow, and cannot be migrated here ({e})"
                    ),
                ),
                other => other,
            });
        }
        check_integrity(&conn, &path)?;
        Ok(Some(Store {
            conn: Mutex::new(conn),
            path,
            error: Mutex::new(None),
            pending_logs: Mutex::new(Vec::new()),
            owner: None,
            revision: Mutex::new(None),
            storage: None,
            changed: tokio::sync::Notify::new(),
        }))
    }

    fn open_file(path: PathBuf) -> Result<Store, StateError> {
        let sqlite = |e| StateError::Sqlite(path.clone(), e);
        let mut conn = Connection::open(&path).map_err(sqlite)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
        // Switching a new database to WAL takes an exclusive lock and does not wait for one:
        // another process opening the same new state at this moment makes it fail at once, so
        // it is retried for as long as any other wait.
        let started = std::time::Instant::now();
        let mode: String = loop {
            match conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)) {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if matches!(
                        e.code,
                        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                    ) && started.elapsed() < BUSY_TIMEOUT =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                result => break result.map_err(sqlite)?,
            }
        };
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StateError::Corrupt(
                path.clone(),
                format!("cannot use WAL mode (the journal mode is {mode})"),
            ));
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sqlite)?;
        migrate(&mut conn, &path)?;
        check_integrity(&conn, &path)?;
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let owner = Owner::claim(&dir).map_err(|e| StateError::Dir(dir.join("owners"), e))?;
        let store = Store {
            conn: Mutex::new(conn),
            path,
            error: Mutex::new(None),
            pending_logs: Mutex::new(Vec::new()),
            owner: Some(owner),
            revision: Mutex::new(None),
            storage: Some(Storage::new(&dir)),
            changed: tokio::sync::Notify::new(),
        };
        store.recover()?;
        Ok(store)
    }

    /// Executions left unfinished by a process that is gone (killed, crashed, the machine
    /// restarted) are marked FAILED, with the reason in their logs and actions, so that
    /// `restart` can finish them; their concurrency slots are freed by [`Store::acquire_slot`].
    /// Returns the ids marked.
    pub fn recover(&self) -> Result<Vec<String>, StateError> {
        let sqlite = |e| StateError::Sqlite(self.path.clone(), e);
        let unfinished: Vec<(String, Option<String>)> = {
            let conn = self.conn();
            let mut query = conn
                .prepare(&format!(
                    "SELECT id, owner FROM executions WHERE ended_ms IS NULL AND state IN ({UNFINISHED})
                       AND NOT (state = 'PAUSED' AND owner IS NULL)"
                ))
                .map_err(sqlite)?;
            let rows = query
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
                .map_err(sqlite)?;
            rows.collect::<rusqlite::Result<_>>().map_err(sqlite)?
        };
        let mut marked = Vec::new();
        for (id, token) in unfinished {
            if token.as_deref().is_some_and(|t| self.owner_alive(t)) {
                continue;
            }
            let reason = "the process running this execution ended before it did (killed, crashed or the machine stopped); marked FAILED: `restart` re-runs what did not succeed";
            self.end_unowned(&id, State::Failed, "marked-failed", reason)?;
            marked.push(id);
        }
        Ok(marked)
    }

    /// End an execution that no live process runs (interrupted, or PAUSED): every unfinished
    /// task run and the execution end in `state`; `reason` is logged and recorded as `action`.
    pub fn end_unowned(
        &self,
        id: &str,
        state: State,
        action: &str,
        reason: &str,
    ) -> Result<(), StateError> {
        let runs = self.task_runs(id)?;
        let sqlite = |e| StateError::Sqlite(self.path.clone(), e);
        let at = crate::execution::now_ms();
        let conn = self.conn();
        let tx = rusqlite::Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)
            .map_err(sqlite)?;
        for mut run in runs.into_iter().filter(|r| !r.state.is_terminal()) {
            run.state = state;
            if let Some(attempt) = run.attempts.last_mut().filter(|a| !a.state.is_terminal()) {
                attempt.state = state;
                attempt.ended_ms = at;
            }
            Store::upsert_task_run(&tx, id, &run).map_err(sqlite)?;
        }
        let ended = tx
            .execute(
                "UPDATE executions SET state = ?2, ended_ms = ?3, kill_requested_ms = NULL
                 WHERE id = ?1 AND ended_ms IS NULL",
                params![id, state.as_str(), millis(at)],
            )
            .map_err(sqlite)?;
        if ended > 0 {
            Store::insert_change(&tx, id, state, at).map_err(sqlite)?;
        }
        tx.execute(
            "INSERT INTO logs (execution_id, task_run_id, level, message, at_ms)
             VALUES (?1, NULL, ?2, ?3, ?4)",
            params![id, Level::Warn.as_str(), reason, millis(at)],
        )
        .map_err(sqlite)?;
        Store::insert_action(&tx, id, action, reason).map_err(sqlite)?;
        tx.commit().map_err(sqlite)?;
        self.changed.notify_one();
        Ok(())
    }

    fn insert_change(tx: &Connection, id: &str, state: State, at_ms: u64) -> rusqlite::Result<()> {
        tx.prepare_cached(
            "INSERT INTO state_changes (execution_id, state, at_ms) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![id, state.as_str(), millis(at_ms)])
        .map(drop)
    }

    /// Woken when this process records a state change (other processes' are seen by polling
    /// [`Store::changes_after`]).
    pub fn changed(&self) -> &tokio::sync::Notify {
        &self.changed
    }

    /// The state changes after `after_seq`, oldest first, at most `limit`; those of executions
    /// purged since are left out.
    pub fn changes_after(
        &self,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<StateChange>, StateError> {
        let sqlite = |e| StateError::Sqlite(self.path.clone(), e);
        let changes: Vec<(i64, String, String, i64)> = {
            let conn = self.conn();
            let mut query = conn
                .prepare_cached(
                    "SELECT seq, execution_id, state, at_ms FROM state_changes
                     WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )
                .map_err(sqlite)?;
            let rows = query
                .query_map(
                    params![
                        i64::try_from(after_seq).unwrap_or(i64::MAX),
                        i64::try_from(limit).unwrap_or(i64::MAX)
                    ],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
                )
                .map_err(sqlite)?;
            rows.collect::<rusqlite::Result<_>>().map_err(sqlite)?
        };
        let mut out = Vec::with_capacity(changes.len());
        for (seq, id, state, at_ms) in changes {
            if let Some(execution) = self.execution(&id)? {
                out.push(StateChange {
                    seq: u64::try_from(seq).unwrap_or(0),
                    state: self.state(&state)?,
                    at_ms: u64::try_from(at_ms).unwrap_or(0),
                    execution,
                });
            }
        }
        Ok(out)
    }

    /// The last state change recorded at or before `at_ms` (0: none): where a Flow trigger
    /// whose position was an end time (before state changes were recorded) goes on from.
    pub fn change_at(&self, at_ms: u64) -> Result<u64, StateError> {
        self.conn()
            .query_row(
                "SELECT COALESCE(MAX(seq), 0) FROM state_changes WHERE at_ms <= ?1",
                [millis(at_ms)],
                |row| row.get::<_, i64>(0),
            )
            .map(|seq| u64::try_from(seq).unwrap_or(0))
            .map_err(|e| StateError::Sqlite(self.path.clone(), e))
    }

    /// The newest state change (0: none yet).
    pub fn last_change(&self) -> Result<u64, StateError> {
        self.change_at(u64::MAX >> 1)
    }

    /// A trigger's position: the last tick handled and whether it is disabled.
    pub fn trigger_state(
        &self,
        flow_id: &str,
        trigger_id: &str,
    ) -> Result<TriggerState, StateError> {
        self.conn()
            .query_row(
                "SELECT last_tick_ms, disabled FROM triggers WHERE flow_id = ?1 AND trigger_id = ?2",
                params![flow_id, trigger_id],
                |row| {
                    Ok(TriggerState {
                        last_tick_ms: row
                            .get::<_, Option<i64>>(0)?
                            .map(|t| u64::try_from(t).unwrap_or(0)),
                        disabled: row.get(1)?,
                    })
                },
            )
            .optional()
            .map(Option::unwrap_or_default)
            .map_err(|e| StateError::Sqlite(self.path.clone(), e))
    }

    /// Disables or enables a trigger (`triggers disable|enable`, `stopAfter`).
    pub fn set_trigger_disabled(
        &self,
        flow_id: &str,
        trigger_id: &str,
        disabled: bool,
    ) -> Result<(), StateError> {
        self.conn()
            .execute(
                "INSERT INTO triggers (flow_id, trigger_id, disabled, updated_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (flow_id, trigger_id) DO UPDATE
                 SET disabled = excluded.disabled, updated_ms = excluded.updated_ms",
                params![flow_id, trigger_id, disabled, millis(crate::execution::now_ms())],
            )
            .map(drop)
            .map_err(|e| StateError::Sqlite(self.path.clone(), e))
    }

    /// Moves positions of a flow's triggers forward (never back), `(trigger id, position)`, in
    /// one ordinary commit: a Flow trigger writes its position for every state change it looks
    /// at. Losing the last moves in a power cut only offers those changes again, and what they
    /// started is found by its key instead of starting twice.
    pub fn advance_trigger_positions(
        &self,
        flow_id: &str,
        positions: &[(&str, u64)],
    ) -> Result<(), StateError> {
        let sqlite = |e| StateError::Sqlite(self.path.clone(), e);
        let conn = self.conn();
        let tx = conn.unchecked_transaction().map_err(sqlite)?;
        for (trigger_id, position) in positions {
            tx.prepare_cached(
                "INSERT INTO triggers (flow_id, trigger_id, last_tick_ms, updated_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (flow_id, trigger_id) DO UPDATE
                 SET last_tick_ms = MAX(COALESCE(last_tick_ms, 0), excluded.last_tick_ms),
                     updated_ms = excluded.updated_ms",
            )
            .and_then(|mut s| {
                s.execute(params![
                    flow_id,
                    trigger_id,
                    millis(*position),
                    millis(crate::execution::now_ms())
                ])
            })
            .map_err(sqlite)?;
        }
        tx.commit().map_err(sqlite)
    }

    /// Marks `tick_ms` handled for a trigger and, in the same transaction, creates the
    /// execution it starts (CREATED, owned by this process): `Ok(false)`, with nothing written,
    /// when the trigger's position is already at or past the tick. The commit is fsynced
    /// (`synchronous=FULL`): a tick acknowledged as handled survives a power cut, and its
    /// execution with it (`serve` restarts it if this process dies before it ends).
    pub fn handle_tick(
        &self,
        flow: &Flow,
        trigger_id: &str,
        tick_ms: u64,
        start: Option<&TriggeredExecution>,
    ) -> Result<bool, StateError> {
        let revision = match start {
            Some(_) => Some(self.revision(&flow.source_hash)?),
            None => None,
        };
        self.durably(|tx| {
            let last: Option<i64> = tx
                .query_row(
                    "SELECT last_tick_ms FROM triggers WHERE flow_id = ?1 AND trigger_id = ?2",
                    params![flow.id, trigger_id],
                    |row| row.get(0),
                )
                .optional()?
                .flatten();
            if last.is_some_and(|last| last >= millis(tick_ms)) {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO triggers (flow_id, trigger_id, last_tick_ms, updated_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (flow_id, trigger_id) DO UPDATE
                 SET last_tick_ms = excluded.last_tick_ms, updated_ms = excluded.updated_ms",
                params![flow.id, trigger_id, millis(tick_ms), millis(crate::execution::now_ms())],
            )?;
            if let (Some(start), Some(revision)) = (start, revision) {
                self.insert_created(tx, flow, start, revision)?;
            }
            Ok(true)
        })
    }

    /// Creates the execution a request starts (a webhook's), fsynced before this returns, so
    /// that a client told it exists finds it after a power cut. With an `idempotency_key`
    /// seen in the last [`IDEMPOTENCY_WINDOW_MS`], nothing is created: the first execution's
    /// id is returned instead.
    pub fn create_requested(
        &self,
        flow: &Flow,
        start: &TriggeredExecution,
        idempotency_key: Option<&str>,
    ) -> Result<Created, StateError> {
        let revision = self.revision(&flow.source_hash)?;
        let now = crate::execution::now_ms();
        self.durably(|tx| {
            if let Some(key) = idempotency_key {
                let first: Option<String> = tx
                    .query_row(
                        "SELECT execution_id FROM idempotency WHERE flow_id = ?1 AND key = ?2 AND at_ms > ?3",
                        params![flow.id, key, millis(now.saturating_sub(IDEMPOTENCY_WINDOW_MS))],
                        |row| row.get(0),
                    )
                    .optional()?;
                if let Some(first) = first {
                    return Ok(Created::Existing(first));
                }
                tx.execute(
                    "INSERT INTO idempotency (flow_id, key, execution_id, at_ms) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (flow_id, key) DO UPDATE
                     SET execution_id = excluded.execution_id, at_ms = excluded.at_ms",
                    params![flow.id, key, start.id, millis(now)],
                )?;
            }
            self.insert_created(tx, flow, start, revision)?;
            Ok(Created::New)
        })
    }

    /// Forgets the `Idempotency-Key`s older than [`IDEMPOTENCY_WINDOW_MS`] (housekeeping): the
    /// number forgotten.
    pub fn forget_idempotency_keys(&self) -> Result<u64, StateError> {
        let oldest = crate::execution::now_ms().saturating_sub(IDEMPOTENCY_WINDOW_MS);
        self.conn()
            .execute(
                "DELETE FROM idempotency WHERE at_ms <= ?1",
                [millis(oldest)],
            )
            .map(|n| n as u64)
            .map_err(|e| StateError::Sqlite(self.path.clone(), e))
    }

    /// A new execution's row, CREATED and owned by this process.
    fn insert_created(
        &self,
        tx: &Connection,
        flow: &Flow,
        start: &TriggeredExecution,
        revision: i64,
    ) -> rusqlite::Result<()> {
        tx.execute(
            "INSERT INTO executions (id, namespace, flow_id, state, inputs, labels, started_ms,
                owner, revision, trigger)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                start.id,
                flow.namespace,
                flow.id,
                State::Created.as_str(),
                Value::Object(masked_inputs(flow, &start.inputs)).to_string(),
                Value::Object(start.labels.clone()).to_string(),
                millis(crate::execution::now_ms()),
                self.token(),
                revision,
                start.trigger.to_string(),
            ],
        )
        .map(drop)
    }

    /// Runs `write` in one transaction committed with `synchronous=FULL` (fsynced: it survives
    /// a power cut), the connection's usual `NORMAL` restored after.
    fn durably<T>(
        &self,
        write: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StateError> {
        let sqlite = |e| StateError::Sqlite(self.path.clone(), e);
        let conn = self.conn();
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sqlite)?;
        let result = (|| {
            let tx = rusqlite::Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)?;
            let value = write(&tx)?;
            tx.commit()?;
            Ok(value)
        })();
        let restored = conn.pragma_update(None, "synchronous", "NORMAL");
        let value = result.map_err(sqlite)?;
        restored.map_err(sqlite)?;
        Ok(value)
    }

    /// Executions that the last process running them left unfinished (marked FAILED by
    /// [`Store::recover`]) and that nothing was done to since: `serve` restarts them.
    pub fn crashed_executions(&self) -> Result<Vec<ExecutionRow>, StateError> {
        let ids: Vec<String> = {
            let conn = self.conn();
            let mut query = conn
                .prepare(
                    "SELECT e.id FROM executions e WHERE e.state = 'FAILED' AND (
                       SELECT action FROM actions a WHERE a.execution_id = e.id
                       ORDER BY seq DESC LIMIT 1) = 'marked-failed'
                     ORDER BY e.started_ms",
                )
                .map_err(|e| StateError::Sqlite(self.path.clone(), e))?;
            let rows = query
                .query_map([], |row| row.get(0))
                .map_err(|e| StateError::Sqlite(self.path.clone(), e))?;
            rows.collect::<rusqlite::Result<_>>()
                .map_err(|e| StateError::Sqlite(self.path.clone(), e))?
        };
        let mut rows = Vec::new();
        for id in ids {
            rows.extend(self.execution(&id)?);
        }
        Ok(rows)
    }

    /// Record something done to an execution (shown by `executions`).
    pub fn record_action(&self, id: &str, action: &str, detail: &str) -> Result<(), StateError> {
        Store::insert_action(&self.conn(), id, action, detail)
            .map_err(|e| StateError::Sqlite(self.path.clone(), e))
    }

    fn insert_action(
        conn: &Connection,
        id: &str,
        action: &str,
        detail: &str,
    ) -> rusqlite::Result<()> {
        conn.prepare_cached(
            "INSERT INTO actions (execution_id, action, detail, at_ms) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            id,
            action,
            detail,
            millis(crate::execution::now_ms())
        ])
        .map(drop)
    }

    /// Ask the process running an execution to kill it (it looks every
    /// [`KILL_POLL`](crate::launch::KILL_POLL)).
    pub fn request_kill(&self, id: &str) -> Result<(), StateError> {
        self.conn()
            .execute(
                "UPDATE executions SET kill_requested_ms = ?2 WHERE id = ?1 AND ended_ms IS NULL",
                params![id, millis(crate::execution::now_ms())],
            )
            .map(drop)
            .map_err(|e| StateError::Sqlite(self.path.clone(), e))
    }

    /// Whether a kill of this execution was asked for.
    pub fn kill_requested(&self, id: &str) -> bool {
        self.conn()
            .query_row(
                "SELECT kill_requested_ms IS NOT NULL FROM executions WHERE id = ?1",
                [id],
                |row| row.get(0),
            )
            .unwrap_or(false)
    }

    /// Whether a live process runs this execution (false when none does: it ended, waits for
    /// `resume`, or its process is gone).
    pub fn running_alive(&self, row: &ExecutionRow) -> bool {
        row.ended_ms.is_none() && row.owner.as_deref().is_some_and(|t| self.owner_alive(t))
    }

    /// The revision of a flow source in this state: 1 for the first source it ran, one more for
    /// each new source after it (executions keep the revision they ran).
    pub fn revision(&self, source_hash: &str) -> Result<i64, StateError> {
        if let Some((hash, revision)) = lock(&self.revision).as_ref() {
            if hash == source_hash {
                return Ok(*revision);
            }
        }
        let sqlite = |e| StateError::Sqlite(self.path.clone(), e);
        let revision = {
            let conn = self.conn();
            let tx = rusqlite::Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)
                .map_err(sqlite)?;
            let known: Option<i64> = tx
                .query_row(
                    "SELECT revision FROM revisions WHERE source_hash = ?1",
                    [source_hash],
                    |row| row.get(0),
                )
                .optional()
                .map_err(sqlite)?;
            let revision = if let Some(revision) = known {
                revision
            } else {
                tx.execute(
                    "INSERT INTO revisions (revision, source_hash, first_ms)
                     SELECT COALESCE(MAX(revision), 0) + 1, ?1, ?2 FROM revisions",
                    params![source_hash, millis(crate::execution::now_ms())],
                )
                .map_err(sqlite)?;
                tx.query_row(
                    "SELECT revision FROM revisions WHERE source_hash = ?1",
                    [source_hash],
                    |row| row.get(0),
                )
                .map_err(sqlite)?
            };
            tx.commit().map_err(sqlite)?;
            revision
        };
        *lock(&self.revision) = Some((source_hash.to_string(), revision));
        Ok(revision)
    }

    /// Write the log lines waiting for a commit now (a long task's lines for `logs --follow`).
    pub fn flush_pending_logs(&self) {
        if lock(&self.pending_logs).is_empty() {
            return;
        }
        let conn = self.conn();
        let result = (|| {
            let tx = conn.unchecked_transaction()?;
            self.flush_logs(&tx)?;
            tx.commit()
        })();
        self.note("a log line", result);
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The first error met while recording, if any (taken: the next call returns `None`).
    pub fn take_error(&self) -> Option<String> {
        lock(&self.error).take()
    }

    /// The latest executions, newest first.
    pub fn executions(&self, limit: usize) -> Result<Vec<ExecutionRow>, StateError> {
        self.select_executions(
            "ORDER BY started_ms DESC, rowid DESC LIMIT ?1",
            &Value::from(limit),
        )
    }

    /// A page of executions, newest first, and how many there are in all; only those in
    /// `state`, of `namespace` and of `flow_id` when they are given.
    pub fn search(
        &self,
        state: Option<State>,
        namespace: Option<&str>,
        flow_id: Option<&str>,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<ExecutionRow>, u64), StateError> {
        // The filters travel as one JSON parameter; an absent one matches every row.
        let filter = serde_json::json!({
            "state": state.map(State::as_str),
            "namespace": namespace,
            "flowId": flow_id,
        })
        .to_string();
        let wanted = "(json_extract(?1, '$.state') IS NULL OR state = json_extract(?1, '$.state'))
             AND (json_extract(?1, '$.namespace') IS NULL OR namespace = json_extract(?1, '$.namespace'))
             AND (json_extract(?1, '$.flowId') IS NULL OR flow_id = json_extract(?1, '$.flowId'))";
        let rows = self.select_executions(
            &format!(
                "WHERE {wanted} ORDER BY started_ms DESC, rowid DESC LIMIT {limit} OFFSET {offset}"
            ),
            &Value::String(filter.clone()),
        )?;
        let total: i64 = self
            .conn()
            .query_row(
                &format!("SELECT COUNT(*) FROM executions WHERE {wanted}"),
                [filter],
                |row| row.get(0),
            )
            .map_err(|e| StateError::Sqlite(self.path.clone(), e))?;
        Ok((rows, u64::try_from(total).unwrap_or(0)))
    }

    /// Executions that ended after `after_ms`, the oldest end first, at most `limit` (what Flow
    /// triggers look at).
    pub fn ended_after(
        &self,
        after_ms: u64,
        limit: usize,
    ) -> Result<Vec<ExecutionRow>, StateError> {
        self.select_executions(
            &format!("WHERE ended_ms > ?1 ORDER BY ended_ms, rowid LIMIT {limit}"),
            &Value::from(i64::try_from(after_ms).unwrap_or(i64::MAX)),
        )
    }

    /// How many executions are in each state.
    pub fn count_by_state(&self) -> Result<Vec<(String, String, u64)>, StateError> {
        let sqlite = |e| StateError::Sqlite(self.path.clone(), e);
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached(
                "SELECT flow_id, state, COUNT(*) FROM executions GROUP BY flow_id, state
                 ORDER BY flow_id, state",
            )
            .map_err(sqlite)?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
                ))
            })
            .map_err(sqlite)?;
        rows.collect::<Result<_, _>>().map_err(sqlite)
    }

    /// One execution by id.
    pub fn execution(&self, id: &str) -> Result<Option<ExecutionRow>, StateError> {
        Ok(self
            .select_executions("WHERE id = ?1", &Value::from(id))?
            .pop())
    }

    /// Executions as `tail` (SQL after the FROM, with one parameter `?1`) selects them, each
    /// with its actions.
    fn select_executions(
        &self,
        tail: &str,
        parameter: &Value,
    ) -> Result<Vec<ExecutionRow>, StateError> {
        let sqlite = |e| StateError::Sqlite(self.path.clone(), e);
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached(&format!(
                "SELECT id, namespace, flow_id, state, inputs, labels, outputs, started_ms, ended_ms,
                        revision, original_id, owner, trigger
                 FROM executions {tail}"
            ))
            .map_err(sqlite)?;
        let parameter: Box<dyn rusqlite::ToSql> = match parameter {
            Value::Number(n) => Box::new(n.as_i64().unwrap_or(i64::MAX)),
            other => Box::new(other.as_str().unwrap_or_default().to_string()),
        };
        let rows = statement
            .query_map([parameter], |row| {
                Ok((
                    (
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                    ),
                    (
                        row.get::<_, String>(4)?,
                        row.get::<_, String>(5)?,
                        row.get::<_, Option<String>>(6)?,
                    ),
                    (
                        row.get::<_, i64>(7)?,
                        row.get::<_, Option<i64>>(8)?,
                        row.get::<_, i64>(9)?,
                        row.get::<_, Option<String>>(10)?,
                        row.get::<_, Option<String>>(11)?,
                        row.get::<_, Option<String>>(12)?,
                    ),
                ))
            })
            .map_err(sqlite)?;
        let mut out = Vec::new();
        for row in rows {
            let (
                (id, namespace, flow_id, state),
                (inputs, labels, outputs),
                (started, ended, revision, original_id, owner, trigger),
            ) = row.map_err(sqlite)?;
            out.push(ExecutionRow {
                state: self.state(&state)?,
                inputs: self.object(&inputs)?,
                labels: self.object(&labels)?,
                outputs: outputs.map(|o| self.json(&o)).transpose()?,
                started_ms: u64::try_from(started).unwrap_or(0),
                ended_ms: ended.map(|e| u64::try_from(e).unwrap_or(0)),
                revision,
                original_id,
                owner,
                actions: Vec::new(),
                trigger: trigger.map(|t| self.json(&t)).transpose()?,
                id,
                namespace,
                flow_id,
            });
        }
        let mut actions = conn
            .prepare_cached(
                "SELECT action, detail, at_ms FROM actions WHERE execution_id = ?1 ORDER BY seq",
            )
            .map_err(sqlite)?;
        for row in &mut out {
            row.actions = actions
                .query_map([&row.id], |r| {
                    Ok(Action {
                        action: r.get(0)?,
                        detail: r.get(1)?,
                        at_ms: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                    })
                })
                .map_err(sqlite)?
                .collect::<Result<_, _>>()
                .map_err(sqlite)?;
        }
        Ok(out)
    }

    /// An execution's task runs, in the order they were created.
    pub fn task_runs(&self, execution_id: &str) -> Result<Vec<TaskRun>, StateError> {
        let sqlite = |e| StateError::Sqlite(self.path.clone(), e);
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached(
                "SELECT id, task_id, parent_id, value, state, attempts, outputs
                 FROM task_runs WHERE execution_id = ?1 ORDER BY seq",
            )
            .map_err(sqlite)?;
        let rows = statement
            .query_map([execution_id], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, Option<String>>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, Option<String>>(6)?,
                ))
            })
            .map_err(sqlite)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, task_id, parent_id, value, state, attempts, outputs) = row.map_err(sqlite)?;
            out.push(TaskRun {
                id,
                task_id,
                parent_id,
                value: value.map(|v| self.json(&v)).transpose()?,
                state: self.state(&state)?,
                attempts: self.attempts(&attempts)?,
                outputs: outputs.map(|o| self.json(&o)).transpose()?,
            });
        }
        Ok(out)
    }

    /// An execution's log lines, in order.
    pub fn logs(&self, execution_id: &str) -> Result<Vec<LogRow>, StateError> {
        self.logs_after(execution_id, 0)
    }

    /// An execution's log lines after `after` (a [`LogRow::seq`]), in order.
    pub fn logs_after(&self, execution_id: &str, after: i64) -> Result<Vec<LogRow>, StateError> {
        let sqlite = |e| StateError::Sqlite(self.path.clone(), e);
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached(
                "SELECT l.seq, l.task_run_id, t.task_id, l.level, l.message, l.at_ms
                 FROM logs l LEFT JOIN task_runs t ON t.id = l.task_run_id
                 WHERE l.execution_id = ?1 AND l.seq > ?2 ORDER BY l.seq",
            )
            .map_err(sqlite)?;
        let rows = statement
            .query_map(params![execution_id, after], |row| {
                Ok(LogRow {
                    seq: row.get(0)?,
                    task_run_id: row.get(1)?,
                    task_id: row.get(2)?,
                    level: row.get(3)?,
                    message: row.get(4)?,
                    at_ms: u64::try_from(row.get::<_, i64>(5)?).unwrap_or(0),
                })
            })
            .map_err(sqlite)?;
        rows.collect::<Result<_, _>>().map_err(sqlite)
    }

    fn state(&self, text: &str) -> Result<State, StateError> {
        State::parse(text).ok_or_else(|| {
            StateError::Corrupt(self.path.clone(), format!("unknown state `{text}`"))
        })
    }

    fn json(&self, text: &str) -> Result<Value, StateError> {
        serde_json::from_str(text)
            .map_err(|e| StateError::Corrupt(self.path.clone(), format!("stored JSON: {e}")))
    }

    fn object(&self, text: &str) -> Result<Map<String, Value>, StateError> {
        match self.json(text)? {
            Value::Object(map) => Ok(map),
            _ => Err(StateError::Corrupt(
                self.path.clone(),
                "stored JSON is not an object".into(),
            )),
        }
    }

    fn attempts(&self, text: &str) -> Result<Vec<Attempt>, StateError> {
        let Value::Array(items) = self.json(text)? else {
            return Err(StateError::Corrupt(
                self.path.clone(),
                "attempts are not a list".into(),
            ));
        };
        items
            .iter()
            .map(|item| {
                Ok(Attempt {
                    state: self.state(item["state"].as_str().unwrap_or_default())?,
                    started_ms: item["started_ms"].as_u64().unwrap_or(0),
                    ended_ms: item["ended_ms"].as_u64().unwrap_or(0),
                })
            })
            .collect()
    }

    /// Keep the first recording error for [`Store::take_error`].
    fn note(&self, what: &str, result: rusqlite::Result<()>) {
        if let Err(e) = result {
            let mut error = lock(&self.error);
            if error.is_none() {
                *error = Some(format!(
                    "cannot record {what} in {}: {e}",
                    self.path.display()
                ));
            }
        }
    }

    /// Write the log lines waiting for a commit, in the caller's transaction.
    fn flush_logs(&self, conn: &Connection) -> rusqlite::Result<()> {
        let pending = std::mem::take(&mut *lock(&self.pending_logs));
        let mut insert = conn.prepare_cached(
            "INSERT INTO logs (execution_id, task_run_id, level, message, at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for log in pending {
            insert.execute(params![
                log.execution_id,
                (!log.task_run_id.is_empty()).then_some(log.task_run_id.as_str()),
                log.level.as_str(),
                log.message,
                i64::try_from(log.at_ms).unwrap_or(i64::MAX),
            ])?;
        }
        Ok(())
    }

    fn upsert_task_run(
        conn: &Connection,
        execution_id: &str,
        run: &TaskRun,
    ) -> rusqlite::Result<()> {
        let attempts: Vec<Value> = run
            .attempts
            .iter()
            .map(|a| json!({"state": a.state.as_str(), "started_ms": a.started_ms, "ended_ms": a.ended_ms}))
            .collect();
        conn.prepare_cached(
            "INSERT INTO task_runs (id, execution_id, task_id, parent_id, value, state, attempts, outputs)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (id) DO UPDATE SET
                value = excluded.value, state = excluded.state,
                attempts = excluded.attempts, outputs = excluded.outputs",
        )?
        .execute(params![
            run.id,
            execution_id,
            run.task_id,
            run.parent_id,
            run.value.as_ref().map(Value::to_string),
            run.state.as_str(),
            Value::Array(attempts).to_string(),
            run.outputs.as_ref().map(Value::to_string),
        ])?;
        Ok(())
    }
}

impl Recorder for Store {
    /// A new execution, or one restarted or resumed (same id): RUNNING again, owned by this
    /// process; its inputs, revision and history stay.
    fn execution_started(
        &self,
        id: &str,
        flow: &Flow,
        inputs: &Map<String, Value>,
        started_ms: u64,
        original_id: &str,
    ) {
        let labels: Map<String, Value> = flow
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let revision = match self.revision(&flow.source_hash) {
            Ok(revision) => revision,
            Err(e) => {
                lock(&self.error).get_or_insert_with(|| e.to_string());
                return;
            }
        };
        let conn = self.conn();
        let result = (|| {
            let tx = conn.unchecked_transaction()?;
            tx.prepare_cached(
                "INSERT INTO executions (id, namespace, flow_id, state, inputs, labels, started_ms,
                    owner, revision, original_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (id) DO UPDATE SET state = excluded.state, owner = excluded.owner,
                    ended_ms = NULL, kill_requested_ms = NULL",
            )?
            .execute(params![
                id,
                flow.namespace,
                flow.id,
                State::Running.as_str(),
                Value::Object(masked_inputs(flow, inputs)).to_string(),
                Value::Object(labels).to_string(),
                millis(started_ms),
                self.token(),
                revision,
                (original_id != id).then_some(original_id),
            ])?;
            Store::insert_change(&tx, id, State::Running, crate::execution::now_ms())?;
            tx.commit()
        })();
        drop(conn);
        self.note("the execution's start", result);
        self.changed.notify_one();
    }

    fn task_run(&self, execution_id: &str, run: &TaskRun) {
        let conn = self.conn();
        let result = (|| {
            let tx = conn.unchecked_transaction()?;
            // A log line that cannot be written must not cost the task run its record.
            let logged = self.flush_logs(&tx);
            self.note("a log line", logged);
            Store::upsert_task_run(&tx, execution_id, run)?;
            tx.commit()
        })();
        self.note("a task run", result);
    }

    fn log(&self, execution_id: &str, task_run_id: &str, level: Level, message: &str, at_ms: u64) {
        let waiting = {
            let mut pending = lock(&self.pending_logs);
            pending.push(PendingLog {
                execution_id: execution_id.to_string(),
                task_run_id: task_run_id.to_string(),
                level,
                message: message.to_string(),
                at_ms,
            });
            pending.len()
        };
        // A task that prints much (a script) does not hold its lines in memory until it ends.
        if waiting >= MAX_PENDING_LOGS {
            self.flush_pending_logs();
        }
    }

    /// The end state, outputs and labels, and every task run once more (idempotent), in one
    /// transaction.
    fn failure(&self) -> Option<String> {
        lock(&self.error).clone()
    }

    fn kv_store(&self) -> &dyn KvStore {
        self
    }

    fn execution_state(&self, id: &str, state: State) {
        let conn = self.conn();
        let result = (|| {
            let tx = conn.unchecked_transaction()?;
            let changed = tx.execute(
                "UPDATE executions SET state = ?2 WHERE id = ?1 AND ended_ms IS NULL",
                params![id, state.as_str()],
            )?;
            if changed > 0 {
                Store::insert_change(&tx, id, state, crate::execution::now_ms())?;
            }
            tx.commit()
        })();
        drop(conn);
        self.note("the execution's state", result);
        self.changed.notify_one();
    }

    fn storage(&self) -> Option<&Storage> {
        self.storage.as_ref()
    }

    fn history(&self) -> Option<&dyn History> {
        Some(self)
    }

    fn execution_ended(&self, summary: &Summary) {
        let conn = self.conn();
        let result = (|| {
            let tx = conn.unchecked_transaction()?;
            let logged = self.flush_logs(&tx);
            self.note("a log line", logged);
            // A PAUSED execution has not ended.
            let ended = summary
                .state
                .is_terminal()
                .then_some(millis(summary.duration_ms));
            // No process holds it any more, PAUSED or ended.
            tx.prepare_cached(
                "UPDATE executions SET state = ?2, outputs = ?3, labels = ?4,
                    ended_ms = started_ms + ?5, kill_requested_ms = NULL, owner = NULL
                 WHERE id = ?1",
            )?
            .execute(params![
                summary.id,
                summary.state.as_str(),
                summary.outputs.as_ref().map(Value::to_string),
                Value::Object(summary.labels.clone()).to_string(),
                ended,
            ])?;
            // The summary holds every task run of the execution; a restart's or resume's walk
            // may not have met some of the earlier ones again (an `errors` branch that did not
            // run this time), and they go.
            tx.prepare_cached("DELETE FROM task_runs WHERE execution_id = ?1")?
                .execute([&summary.id])?;
            for run in &summary.task_runs {
                Store::upsert_task_run(&tx, &summary.id, run)?;
            }
            Store::insert_change(&tx, &summary.id, summary.state, crate::execution::now_ms())?;
            tx.commit()
        })();
        drop(conn);
        self.note("the execution's end", result);
        self.changed.notify_one();
    }
}

/// The inputs with every SECRET value replaced by `******`.
fn masked_inputs(flow: &Flow, inputs: &Map<String, Value>) -> Map<String, Value> {
    let mut masked = inputs.clone();
    for input in flow.inputs.iter().filter(|i| i.ty == InputType::Secret) {
        if let Some(value) =
            crate::inputs::value_mut(&mut masked, &input.id).filter(|v| !v.is_null())
        {
            *value = Value::String("******".into());
        }
    }
    masked
}

/// The KV store: one row per namespace and key. An expired value reads as missing and is
/// deleted when next written or listed. Each write is its own transaction, committed before
/// the task that wrote it ends.
impl KvStore for Store {
    fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<Value>, String> {
        let now = millis(crate::execution::now_ms());
        let text: Option<String> = self
            .conn()
            .prepare_cached(
                "SELECT value FROM kv WHERE namespace = ?1 AND key = ?2
                 AND (expires_ms IS NULL OR expires_ms > ?3)",
            )
            .and_then(|mut s| {
                s.query_row(params![namespace, key, now], |row| row.get(0))
                    .optional()
            })
            .map_err(|e| self.kv_error(&e))?;
        text.map(|t| self.json(&t).map_err(|e| e.to_string()))
            .transpose()
    }

    fn kv_set(&self, entry: &KvWrite<'_>) -> Result<(), String> {
        let now = crate::execution::now_ms();
        let expires = entry.ttl.map(|ttl| {
            millis(now.saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)))
        });
        let conn = self.conn();
        let result = (|| {
            let tx = rusqlite::Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)?;
            tx.prepare_cached(
                "DELETE FROM kv WHERE namespace = ?1 AND key = ?2 AND expires_ms <= ?3",
            )?
            .execute(params![entry.namespace, entry.key, millis(now)])?;
            let sql = if entry.overwrite {
                "INSERT INTO kv (namespace, key, value, description, expires_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,
                    description = excluded.description, expires_ms = excluded.expires_ms,
                    updated_ms = excluded.updated_ms"
            } else {
                "INSERT INTO kv (namespace, key, value, description, expires_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (namespace, key) DO NOTHING"
            };
            let written = tx.prepare_cached(sql)?.execute(params![
                entry.namespace,
                entry.key,
                entry.value.to_string(),
                entry.description,
                expires,
                millis(now),
            ])?;
            tx.commit()?;
            Ok(written)
        })();
        match result {
            Ok(0) => Err(format!(
                "the KV key `{}` already exists in the namespace `{}` and `overwrite` is false",
                entry.key, entry.namespace
            )),
            Ok(_) => Ok(()),
            Err(e) => Err(self.kv_error(&e)),
        }
    }

    fn kv_keys(&self, namespace: &str, prefix: &str) -> Result<Vec<String>, String> {
        let now = millis(crate::execution::now_ms());
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached(
                "SELECT key FROM kv WHERE namespace = ?1 AND substr(key, 1, length(?2)) = ?2
                 AND (expires_ms IS NULL OR expires_ms > ?3) ORDER BY key",
            )
            .map_err(|e| self.kv_error(&e))?;
        let keys = statement
            .query_map(params![namespace, prefix, now], |row| row.get(0))
            .and_then(Iterator::collect)
            .map_err(|e| self.kv_error(&e))?;
        Ok(keys)
    }

    fn kv_delete(&self, namespace: &str, key: &str) -> Result<bool, String> {
        let now = millis(crate::execution::now_ms());
        let conn = self.conn();
        let live: bool = conn
            .query_row(
                "SELECT expires_ms IS NULL OR expires_ms > ?3 FROM kv
                 WHERE namespace = ?1 AND key = ?2",
                params![namespace, key, now],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.kv_error(&e))?
            .unwrap_or(false);
        conn.execute(
            "DELETE FROM kv WHERE namespace = ?1 AND key = ?2",
            params![namespace, key],
        )
        .map_err(|e| self.kv_error(&e))?;
        Ok(live)
    }
}

/// The recorded history as tasks read and prune it (`log.Fetch`, `PurgeExecutions`,
/// `PurgeLogs`).
impl History for Store {
    fn fetch_logs(
        &self,
        execution_id: &str,
        min_level: Level,
        task_ids: &[String],
    ) -> Result<Vec<LogLine>, String> {
        // Lines of the task runs still going are in the database first.
        self.flush_pending_logs();
        let rows = self
            .logs_after(execution_id, 0)
            .map_err(|e| e.to_string())?;
        Ok(rows
            .into_iter()
            .filter(|row| level_of(&row.level) >= min_level)
            .filter(|row| {
                task_ids.is_empty()
                    || row
                        .task_id
                        .as_ref()
                        .is_some_and(|t| task_ids.iter().any(|w| w == t))
            })
            .map(|row| LogLine {
                task_id: row.task_id,
                task_run_id: row.task_run_id,
                level: row.level,
                message: row.message,
                at_ms: row.at_ms,
            })
            .collect())
    }

    fn purge_executions(&self, purge: &ExecutionPurge<'_>) -> Result<Purged, String> {
        let sqlite = |e: rusqlite::Error| format!("purging {}: {e}", self.path.display());
        let chosen: Vec<(String, String, String, String)> = {
            let conn = self.conn();
            let mut query = conn
                .prepare(
                    "SELECT id, namespace, flow_id, state FROM executions
                     WHERE ended_ms IS NOT NULL AND started_ms < ?1
                       AND (?2 IS NULL OR started_ms >= ?2) AND id <> ?3",
                )
                .map_err(sqlite)?;
            let rows = query
                .query_map(
                    params![millis(purge.end_ms), purge.start_ms.map(millis), purge.keep],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
                )
                .map_err(sqlite)?;
            rows.collect::<rusqlite::Result<_>>().map_err(sqlite)?
        };
        let mut purged = Purged::default();
        for (id, namespace, flow_id, state) in chosen {
            if !purge.states.is_empty()
                && !State::parse(&state).is_some_and(|s| purge.states.contains(&s))
            {
                continue;
            }
            {
                let conn = self.conn();
                let tx =
                    rusqlite::Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)
                        .map_err(sqlite)?;
                if purge.logs {
                    purged.logs += tx
                        .execute("DELETE FROM logs WHERE execution_id = ?1", [&id])
                        .map_err(sqlite)? as u64;
                }
                if purge.executions {
                    tx.execute("DELETE FROM task_runs WHERE execution_id = ?1", [&id])
                        .map_err(sqlite)?;
                    tx.execute("DELETE FROM actions WHERE execution_id = ?1", [&id])
                        .map_err(sqlite)?;
                    tx.execute("DELETE FROM state_changes WHERE execution_id = ?1", [&id])
                        .map_err(sqlite)?;
                    purged.executions += tx
                        .execute("DELETE FROM executions WHERE id = ?1", [&id])
                        .map_err(sqlite)? as u64;
                }
                tx.commit().map_err(sqlite)?;
            }
            if purge.storage {
                if let Some(storage) = &self.storage {
                    let prefix = Storage::execution_prefix(&namespace, &flow_id, &id);
                    purged.files += storage.delete_all(&prefix)?.len() as u64;
                }
            }
        }
        Ok(purged)
    }

    fn purge_logs(&self, purge: &LogPurge<'_>) -> Result<u64, String> {
        // `,INFO,WARN,`: a level is purged when `,LEVEL,` is in it (`,` alone: any level).
        let mut levels = String::from(",");
        for level in &purge.levels {
            levels.push_str(level.as_str());
            levels.push(',');
        }
        self.conn()
            .execute(
                "DELETE FROM logs WHERE at_ms < ?1 AND (?2 IS NULL OR at_ms >= ?2)
                   AND (?3 IS NULL OR execution_id = ?3)
                   AND (?4 = ',' OR instr(?4, ',' || level || ',') > 0)",
                params![
                    millis(purge.end_ms),
                    purge.start_ms.map(millis),
                    purge.execution_id,
                    levels
                ],
            )
            .map(|n| n as u64)
            .map_err(|e| format!("purging logs in {}: {e}", self.path.display()))
    }
}

/// A stored level name as a level (an unknown one counts as INFO).
fn level_of(text: &str) -> Level {
    Level::parse(text).unwrap_or(Level::Info)
}

impl Store {
    fn kv_error(&self, e: &rusqlite::Error) -> String {
        format!("KV store in {}: {e}", self.path.display())
    }
}

/// Milliseconds as the database stores them.
fn millis(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// `PRAGMA quick_check` when the state is opened: a damaged file is refused with what to do,
/// instead of being written to (and losing more).
fn check_integrity(conn: &Connection, path: &Path) -> Result<(), StateError> {
    let found: Result<Vec<String>, rusqlite::Error> = conn
        .prepare("PRAGMA quick_check(5)")
        .and_then(|mut s| s.query_map([], |row| row.get(0))?.collect());
    let problems = match found {
        Ok(rows) if rows.len() == 1 && rows[0] == "ok" => return Ok(()),
        Ok(rows) => rows.join("; "),
        Err(e) => e.to_string(),
    };
    Err(StateError::Corrupt(
        path.to_path_buf(),
        format!(
            "the database is damaged ({problems}); move it away to start a new state (its history is lost), or restore it from a backup"
        ),
    ))
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StateError> {
    let sqlite = |e| StateError::Sqlite(path.to_path_buf(), e);
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    // IMMEDIATE: two processes opening a new state at once migrate one after the other.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite)?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .optional()
        .map_err(sqlite)?
        .unwrap_or(0);
    if version > known {
        return Err(StateError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
            known,
        });
    }
    for (index, script) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        tx.execute_batch(script).map_err(sqlite)?;
        tx.pragma_update(None, "user_version", index + 1)
            .map_err(sqlite)?;
    }
    tx.commit().map_err(sqlite)
}

fn create_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::{self, Launch};
    use crate::expr::NoHost;
    use crate::plan::{Input, Prop, Task, TaskKind};
    use std::io::{BufRead, BufReader};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh directory, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "kflow-state-{name}-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn flow() -> Flow {
        let mut secret = Input {
            required: false,
            ..Input::new("auth.token", InputType::Secret)
        };
        let name = Input {
            id: "name".into(),
            ty: InputType::String,
            ..secret.clone()
        };
        secret.required = true;
        Flow {
            inputs: vec![secret, name],
            labels: vec![("team".into(), "data".into())],
            tasks: vec![
                Task::new(
                    "greet",
                    "io.kestra.plugin.core.log.Log",
                    TaskKind::Run {
                        properties: vec![(
                            "message".into(),
                            Prop::text("Hello {{ inputs.name }}").unwrap(),
                        )],
                    },
                ),
                Task::new(
                    "answer",
                    "io.kestra.plugin.core.debug.Return",
                    TaskKind::Run {
                        properties: vec![("format".into(), Prop::text("{{ 6 * 7 }}").unwrap())],
                    },
                ),
            ],
            ..Flow::new("hello", "company.team")
        }
    }

    fn run(store: &Store, name: &str) -> Summary {
        let inputs = json!({"auth": {"token": "s3cr3t"}, "name": name});
        let flow = flow();
        let execution = executor::execute(
            &flow,
            Launch::new(
                inputs.as_object().cloned().unwrap(),
                json!({"by": "test"}).as_object().cloned().unwrap(),
                false,
            ),
            &NoHost,
            store,
        );
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(execution)
    }

    #[test]
    fn state_dir_order() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        let resolve = |explicit: Option<&Path>, pairs| {
            resolve_state_dir(explicit, "company.team.hello", env(pairs)).unwrap()
        };
        let all: &[(&str, &str)] = &[
            ("STATE_DIRECTORY", "/var/lib/hello:/var/lib/other"),
            ("XDG_STATE_HOME", "/xdg"),
            ("HOME", "/home/ada"),
        ];
        assert_eq!(resolve(Some(Path::new("here")), all), PathBuf::from("here"));
        assert_eq!(resolve(None, all), PathBuf::from("/var/lib/hello"));
        assert_eq!(
            resolve(None, &[("XDG_STATE_HOME", "/xdg"), ("HOME", "/home/ada")]),
            PathBuf::from("/xdg/kflow/company.team.hello")
        );
        // A relative XDG_STATE_HOME is ignored, as the XDG spec says; empty values too.
        assert_eq!(
            resolve(
                None,
                &[
                    ("STATE_DIRECTORY", ""),
                    ("XDG_STATE_HOME", "rel"),
                    ("HOME", "/home/ada")
                ]
            ),
            PathBuf::from("/home/ada/.local/state/kflow/company.team.hello")
        );
        assert!(matches!(
            resolve_state_dir(None, "n.f", env(&[])),
            Err(StateError::NoStateDir)
        ));
    }

    #[test]
    fn open_creates_a_private_wal_database_at_the_current_schema() {
        let dir = TempDir::new("open");
        let store = Store::open(&dir.0.join("nested/deeper")).unwrap();
        assert!(store.path().ends_with("nested/deeper/state.db"));
        let pragma = |name: &str| -> String {
            store
                .conn()
                .query_row(&format!("PRAGMA {name}"), [], |row| {
                    row.get::<_, rusqlite::types::Value>(0)
                })
                .map(|v| format!("{v:?}"))
                .unwrap()
        };
        assert_eq!(pragma("journal_mode"), "Text(\"wal\")");
        assert_eq!(pragma("synchronous"), "Integer(1)"); // NORMAL
        assert_eq!(
            pragma("user_version"),
            format!("Integer({})", MIGRATIONS.len())
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.0.join("nested/deeper"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the state directory is private: {mode:o}");
        }
        drop(store);
        // Opening again migrates nothing and keeps the data.
        let again = Store::open(&dir.0.join("nested/deeper")).unwrap();
        assert!(again.executions(10).unwrap().is_empty());
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = TempDir::new("newer");
        drop(Store::open(&dir.0).unwrap());
        let conn = Connection::open(dir.0.join(DB_FILE)).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let error = Store::open(&dir.0).err().unwrap();
        assert!(
            matches!(error, StateError::NewerSchema { found: 99, .. }),
            "{error}"
        );
        assert!(error.to_string().contains("newer kflow"));
    }

    /// A state written by an older kflow (schema version 2, as the binaries of [5/13] wrote
    /// it, with an execution in it) is migrated when opened, for reading as for writing: its
    /// executions read back with revision 1, and new ones are recorded beside them.
    #[test]
    fn an_older_schema_is_migrated_when_opened() {
        for read_only in [true, false] {
            let dir = TempDir::new("older");
            std::fs::create_dir_all(&dir.0).unwrap();
            let conn = Connection::open(dir.0.join(DB_FILE)).unwrap();
            for script in &MIGRATIONS[..2] {
                conn.execute_batch(script).unwrap();
            }
            conn.pragma_update(None, "user_version", 2).unwrap();
            conn.execute(
                "INSERT INTO executions (id, namespace, flow_id, state, inputs, labels, started_ms, ended_ms)
                 VALUES ('old', 'n', 'f', 'SUCCESS', '{\"a\":1}', '{}', 1000, 2500)",
                [],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO running (pid, namespace, flow_id, started_ms) VALUES (1, 'n', 'f', 1)",
                [],
            )
            .unwrap();
            drop(conn);
            let store = if read_only {
                Store::open_read_only(&dir.0).unwrap().unwrap()
            } else {
                Store::open(&dir.0).unwrap()
            };
            let rows = store.executions(10).unwrap();
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].id, "old");
            assert_eq!(rows[0].revision, 1);
            assert_eq!(rows[0].duration_ms(), Some(1500));
            assert!(rows[0].actions.is_empty());
            let version: i64 = store
                .conn()
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap();
            assert_eq!(version, i64::try_from(MIGRATIONS.len()).unwrap());
            // The ended execution is the first state change, at its end (where a Flow trigger
            // that kept an end time goes on from).
            let changes = store.changes_after(0, 10).unwrap();
            assert_eq!(
                changes
                    .iter()
                    .map(|c| (c.seq, c.state, c.at_ms, c.execution.id.as_str()))
                    .collect::<Vec<_>>(),
                vec![(1, State::Success, 2500, "old")]
            );
            assert_eq!(store.change_at(2499).unwrap(), 0);
            assert_eq!(store.change_at(2500).unwrap(), 1);
            drop(store);
            // The migrated state takes new executions; the old process's slot is gone.
            let store = Store::open(&dir.0).unwrap();
            assert!(store.acquire_slot(&flow(), 1).unwrap().is_some());
            run(&store, "after");
            assert_eq!(store.executions(10).unwrap().len(), 2);
            // It went RUNNING, then SUCCESS.
            let states: Vec<State> = store
                .changes_after(1, 10)
                .unwrap()
                .iter()
                .map(|c| c.state)
                .collect();
            assert_eq!(states, vec![State::Running, State::Success]);
            assert_eq!(store.last_change().unwrap(), 3);
        }
    }

    /// A flow's revision counts the sources a state has run; an execution keeps its own.
    #[test]
    fn each_new_source_is_a_new_revision() {
        let dir = TempDir::new("revisions");
        let store = Store::open(&dir.0).unwrap();
        assert_eq!(store.revision("aaa").unwrap(), 1);
        assert_eq!(store.revision("aaa").unwrap(), 1);
        assert_eq!(store.revision("bbb").unwrap(), 2);
        assert_eq!(store.revision("aaa").unwrap(), 1);
        drop(store);
        assert_eq!(Store::open(&dir.0).unwrap().revision("ccc").unwrap(), 3);
    }

    #[test]
    fn open_existing_creates_nothing() {
        let dir = TempDir::new("existing");
        assert!(Store::open_existing(&dir.0).unwrap().is_none());
        assert!(!dir.0.exists());
    }

    #[test]
    fn records_an_execution_as_the_executor_reports_it() {
        let dir = TempDir::new("record");
        let store = Store::open(&dir.0).unwrap();
        let summary = run(&store, "Ada");
        assert_eq!(summary.state, State::Success);
        assert_eq!(store.take_error(), None);

        let executions = store.executions(10).unwrap();
        assert_eq!(executions.len(), 1);
        let row = &executions[0];
        assert_eq!(row.id, summary.id);
        assert_eq!(
            (row.namespace.as_str(), row.flow_id.as_str()),
            ("company.team", "hello")
        );
        assert_eq!(row.state, State::Success);
        assert_eq!(row.labels, summary.labels);
        assert_eq!(row.labels["by"], json!("test"));
        // Secrets never reach the disk.
        assert_eq!(
            Value::Object(row.inputs.clone()),
            json!({"auth": {"token": "******"}, "name": "Ada"})
        );
        assert_eq!(row.duration_ms(), Some(summary.duration_ms));

        let runs = store.task_runs(&summary.id).unwrap();
        let stored: Vec<Value> = runs.iter().map(TaskRun::to_json).collect();
        let expected: Vec<Value> = summary.task_runs.iter().map(TaskRun::to_json).collect();
        assert_eq!(stored, expected);
        assert_eq!(runs[1].outputs, Some(json!({"value": "42"})));
        assert!(runs
            .iter()
            .all(|r| r.attempts.len() == 1 && r.attempts[0].ended_ms >= r.attempts[0].started_ms));

        let logs = store.logs(&summary.id).unwrap();
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0].message, "Hello Ada");
        assert_eq!(logs[0].level, "INFO");
        assert_eq!(logs[0].task_run_id.as_deref(), Some(runs[0].id.as_str()));
    }

    /// A task that prints much has its lines committed as they pile up, not held until it ends.
    #[test]
    fn many_log_lines_are_committed_before_the_task_ends() {
        let dir = TempDir::new("many-logs");
        let store = Store::open(&dir.0).unwrap();
        for i in 0..MAX_PENDING_LOGS + 10 {
            Recorder::log(&store, "e1", "t1", Level::Info, &format!("line {i}"), 1);
        }
        assert_eq!(store.logs("e1").unwrap().len(), MAX_PENDING_LOGS);
        assert_eq!(lock(&store.pending_logs).len(), 10);
    }

    #[test]
    fn executions_newest_first_with_a_limit() {
        let dir = TempDir::new("list");
        let store = Store::open(&dir.0).unwrap();
        let ids: Vec<String> = (0..3).map(|i| run(&store, &format!("n{i}")).id).collect();
        let listed: Vec<String> = store
            .executions(10)
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(listed, ids.iter().rev().cloned().collect::<Vec<_>>());
        assert_eq!(store.executions(2).unwrap().len(), 2);
        assert_eq!(store.executions(2).unwrap()[0].id, ids[2]);
    }

    /// Fail-stop: once a write fails, the task that was running ends, no further task starts,
    /// and the execution ends FAILED; the error is kept for the caller.
    #[test]
    fn a_recording_error_stops_the_execution() {
        let dir = TempDir::new("errors");
        let store = Store::open(&dir.0).unwrap();
        store.conn().execute_batch("DROP TABLE logs").unwrap();
        let summary = run(&store, "Ada");
        assert_eq!(summary.state, State::Failed);
        let started: Vec<&str> = summary
            .task_runs
            .iter()
            .map(|r| r.task_id.as_str())
            .collect();
        assert_eq!(started, ["greet"], "`answer` must not start unrecorded");
        let error = store.take_error().unwrap();
        assert!(error.starts_with("cannot record a log line in "), "{error}");
        assert!(error.contains("no such table: logs"), "{error}");
        assert_eq!(store.take_error(), None);
    }

    /// A task run's state as the executor reports it, with a little output.
    fn sample_run(i: usize, state: State) -> TaskRun {
        TaskRun {
            id: format!("run{i}"),
            task_id: "task".into(),
            parent_id: None,
            value: None,
            state,
            attempts: vec![Attempt {
                state,
                started_ms: 1,
                ended_ms: 2,
            }],
            outputs: Some(json!({"value": i})),
        }
    }

    /// Run by `crash_loses_nothing_acknowledged` in a child process: records task runs and
    /// prints each id once its call returned, until killed.
    #[test]
    #[ignore = "a helper the crash test runs in a child process"]
    fn crash_writer() {
        let Some(dir) = std::env::var_os("KFLOW_CRASH_DIR") else {
            return;
        };
        let store = Store::open(Path::new(&dir)).unwrap();
        let flow = flow();
        store.execution_started("exec", &flow, &Map::new(), 1, "exec");
        for i in 0.. {
            store.task_run("exec", &sample_run(i, State::Running));
            store.task_run("exec", &sample_run(i, State::Success));
            assert_eq!(store.take_error(), None);
            println!("acked {i}");
        }
    }

    #[test]
    fn crash_loses_nothing_acknowledged() {
        let dir = TempDir::new("crash");
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "state::tests::crash_writer",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("KFLOW_CRASH_DIR", &dir.0)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut acked = None;
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            if let Some(n) = line.strip_prefix("acked ") {
                let n: usize = n.parse().unwrap();
                acked = Some(n);
                if n >= 300 {
                    break;
                }
            }
        }
        child.kill().unwrap(); // SIGKILL: no destructor, no checkpoint.
        child.wait().unwrap();
        let acked = acked.expect("the writer acknowledged task runs");
        let store = Store::open(&dir.0).unwrap();
        let runs = store.task_runs("exec").unwrap();
        assert!(
            runs.len() > acked,
            "{} stored, {acked} acknowledged",
            runs.len()
        );
        for run in &runs[..=acked] {
            assert_eq!(run.state, State::Success, "{}", run.id);
        }
    }

    /// How long recording takes: a task run's whole life (created, running, attempt started,
    /// attempt ended, outputs, end state: six commits) and log lines, with
    /// `synchronous=NORMAL` and, for comparison, `FULL`. Run with
    /// `cargo test -p kflow-runtime --release --lib -- --ignored --nocapture commit_cost`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn commit_cost() {
        let dir = TempDir::new("cost");
        let store = Store::open(&dir.0).unwrap();
        store.execution_started("exec", &flow(), &Map::new(), 1, "exec");
        let n: u32 = 5_000;
        let mut offset = 0;
        for mode in ["NORMAL", "FULL"] {
            store
                .conn()
                .pragma_update(None, "synchronous", mode)
                .unwrap();
            let start = std::time::Instant::now();
            for i in offset..offset + n as usize {
                let mut run = sample_run(i, State::Created);
                run.attempts.clear();
                run.outputs = None;
                store.task_run("exec", &run);
                run.state = State::Running;
                store.task_run("exec", &run);
                run.attempts.push(Attempt {
                    state: State::Running,
                    started_ms: 1,
                    ended_ms: 1,
                });
                store.task_run("exec", &run);
                run.attempts[0].state = State::Success;
                store.task_run("exec", &run);
                run.outputs = Some(json!({"value": i}));
                store.task_run("exec", &run);
                run.state = State::Success;
                store.task_run("exec", &run);
            }
            let runs = start.elapsed();
            let start = std::time::Instant::now();
            for i in 0..n {
                store.log("exec", "run1", Level::Info, &format!("line {i}"), 1);
            }
            let logs = start.elapsed();
            offset += n as usize;
            assert_eq!(store.take_error(), None);
            let per = |d: std::time::Duration, count: u32| d.as_secs_f64() * 1e6 / f64::from(count);
            println!(
                "synchronous={mode}: {:.1} µs per task-run commit, {:.1} µs per task run (6 commits), {:.1} µs per log line",
                per(runs, 6 * n),
                per(runs, n),
                per(logs, n)
            );
        }
    }
}
