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

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::{json, Map, Value};

use crate::execution::{Attempt, State, Summary, TaskRun};
use crate::executor::Recorder;
use crate::plan::{Flow, InputType, Level};

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

/// The state directory of a flow, as DESIGN.md orders the choices: `--state DIR`, else
/// `$STATE_DIRECTORY` (set by systemd's `StateDirectory=`; the first of a `:`-separated list),
/// else `$XDG_STATE_HOME/kflow/<namespace>.<id>` (an absolute path only, as the XDG spec says),
/// else `~/.local/state/kflow/<namespace>.<id>`.
pub fn state_dir(explicit: Option<&Path>, flow: &Flow) -> Result<PathBuf, StateError> {
    resolve_state_dir(explicit, &flow.namespace, &flow.id, |name| {
        std::env::var_os(name)
    })
}

/// [`state_dir`] with the environment given as a function (for tests).
pub fn resolve_state_dir(
    explicit: Option<&Path>,
    namespace: &str,
    flow_id: &str,
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
    let leaf = format!("{namespace}.{flow_id}");
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
    /// `None` while running (or when the process died during the execution).
    pub ended_ms: Option<u64>,
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
        })
    }
}

/// One stored log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRow {
    pub task_run_id: Option<String>,
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
}

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
    /// processes sharing this state; `false` when all are taken. Slots of processes that no
    /// longer exist (killed) are given back first.
    pub fn acquire_slot(&self, flow: &Flow, limit: u32) -> Result<bool, StateError> {
        let sqlite = |e| StateError::Sqlite(self.path.clone(), e);
        let conn = self.conn();
        let tx =
            rusqlite::Transaction::new_unchecked(&conn, rusqlite::TransactionBehavior::Immediate)
                .map_err(sqlite)?;
        let pids: Vec<i64> = {
            let mut query = tx
                .prepare("SELECT pid FROM running WHERE namespace = ?1 AND flow_id = ?2")
                .map_err(sqlite)?;
            let rows = query
                .query_map(params![flow.namespace, flow.id], |row| row.get(0))
                .map_err(sqlite)?;
            rows.collect::<rusqlite::Result<_>>().map_err(sqlite)?
        };
        let mut alive = 0u32;
        for pid in pids {
            if process_alive(pid) {
                alive += 1;
            } else {
                tx.execute("DELETE FROM running WHERE pid = ?1", params![pid])
                    .map_err(sqlite)?;
            }
        }
        let free = alive < limit;
        if free {
            tx.execute(
                "INSERT INTO running (pid, namespace, flow_id, started_ms) VALUES (?1, ?2, ?3, ?4)",
                params![
                    i64::from(std::process::id()),
                    flow.namespace,
                    flow.id,
                    i64::try_from(crate::execution::now_ms()).unwrap_or(i64::MAX)
                ],
            )
            .map_err(sqlite)?;
        }
        tx.commit().map_err(sqlite)?;
        Ok(free)
    }

    /// Give this process's slot back.
    pub fn release_slot(&self) {
        let result = self
            .conn()
            .execute(
                "DELETE FROM running WHERE pid = ?1",
                params![i64::from(std::process::id())],
            )
            .map(drop);
        self.note("the end of a concurrency slot", result);
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
        check_integrity(&conn, &path)?;
        Ok(Some(Store {
            conn: Mutex::new(conn),
            path,
            error: Mutex::new(None),
            pending_logs: Mutex::new(Vec::new()),
        }))
    }

    fn open_file(path: PathBuf) -> Result<Store, StateError> {
        let sqlite = |e| StateError::Sqlite(path.clone(), e);
        let mut conn = Connection::open(&path).map_err(sqlite)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(sqlite)?;
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
        Ok(Store {
            conn: Mutex::new(conn),
            path,
            error: Mutex::new(None),
            pending_logs: Mutex::new(Vec::new()),
        })
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
        let sqlite = |e| StateError::Sqlite(self.path.clone(), e);
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached(
                "SELECT id, namespace, flow_id, state, inputs, labels, outputs, started_ms, ended_ms
                 FROM executions ORDER BY started_ms DESC, rowid DESC LIMIT ?1",
            )
            .map_err(sqlite)?;
        let rows = statement
            .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, Option<String>>(6)?,
                    row.get::<_, i64>(7)?,
                    row.get::<_, Option<i64>>(8)?,
                ))
            })
            .map_err(sqlite)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, namespace, flow_id, state, inputs, labels, outputs, started, ended) =
                row.map_err(sqlite)?;
            out.push(ExecutionRow {
                state: self.state(&state)?,
                inputs: self.object(&inputs)?,
                labels: self.object(&labels)?,
                outputs: outputs.map(|o| self.json(&o)).transpose()?,
                started_ms: u64::try_from(started).unwrap_or(0),
                ended_ms: ended.map(|e| u64::try_from(e).unwrap_or(0)),
                id,
                namespace,
                flow_id,
            });
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
        let sqlite = |e| StateError::Sqlite(self.path.clone(), e);
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached(
                "SELECT task_run_id, level, message, at_ms FROM logs
                 WHERE execution_id = ?1 ORDER BY seq",
            )
            .map_err(sqlite)?;
        let rows = statement
            .query_map([execution_id], |row| {
                Ok(LogRow {
                    task_run_id: row.get(0)?,
                    level: row.get(1)?,
                    message: row.get(2)?,
                    at_ms: u64::try_from(row.get::<_, i64>(3)?).unwrap_or(0),
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
    fn execution_started(
        &self,
        id: &str,
        flow: &Flow,
        inputs: &Map<String, Value>,
        started_ms: u64,
    ) {
        let labels: Map<String, Value> = flow
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let result = self
            .conn()
            .prepare_cached(
                "INSERT INTO executions (id, namespace, flow_id, state, inputs, labels, started_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    id,
                    flow.namespace,
                    flow.id,
                    State::Running.as_str(),
                    Value::Object(masked_inputs(flow, inputs)).to_string(),
                    Value::Object(labels).to_string(),
                    i64::try_from(started_ms).unwrap_or(i64::MAX),
                ])
            })
            .map(drop);
        self.note("the execution's start", result);
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
        lock(&self.pending_logs).push(PendingLog {
            execution_id: execution_id.to_string(),
            task_run_id: task_run_id.to_string(),
            level,
            message: message.to_string(),
            at_ms,
        });
    }

    /// The end state, outputs and labels, and every task run once more (idempotent), in one
    /// transaction.
    fn failure(&self) -> Option<String> {
        lock(&self.error).clone()
    }

    fn execution_ended(&self, summary: &Summary) {
        let conn = self.conn();
        let result = (|| {
            let tx = conn.unchecked_transaction()?;
            let logged = self.flush_logs(&tx);
            self.note("a log line", logged);
            tx.prepare_cached(
                "UPDATE executions SET state = ?2, outputs = ?3, labels = ?4,
                    ended_ms = started_ms + ?5 WHERE id = ?1",
            )?
            .execute(params![
                summary.id,
                summary.state.as_str(),
                summary.outputs.as_ref().map(Value::to_string),
                Value::Object(summary.labels.clone()).to_string(),
                i64::try_from(summary.duration_ms).unwrap_or(i64::MAX),
            ])?;
            for run in &summary.task_runs {
                Store::upsert_task_run(&tx, &summary.id, run)?;
            }
            tx.commit()
        })();
        self.note("the execution's end", result);
    }
}

/// The inputs with every SECRET value replaced by `******`.
fn masked_inputs(flow: &Flow, inputs: &Map<String, Value>) -> Map<String, Value> {
    let mut masked = inputs.clone();
    for input in flow.inputs.iter().filter(|i| i.ty == InputType::Secret) {
        let mut parts = input.id.split('.').peekable();
        let mut node = &mut masked;
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                if let Some(value) = node.get_mut(part).filter(|v| !v.is_null()) {
                    *value = Value::String("******".into());
                }
                break;
            }
            match node.get_mut(part) {
                Some(Value::Object(inner)) => node = inner,
                _ => break,
            }
        }
    }
    masked
}

/// Whether a process id is alive on this host (Linux: `/proc/<pid>` exists).
fn process_alive(pid: i64) -> bool {
    pid == i64::from(std::process::id()) || Path::new(&format!("/proc/{pid}")).exists()
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
            resolve_state_dir(explicit, "company.team", "hello", env(pairs)).unwrap()
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
            resolve_state_dir(None, "n", "f", env(&[])),
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
        store.execution_started("exec", &flow, &Map::new(), 1);
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
        store.execution_started("exec", &flow(), &Map::new(), 1);
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
