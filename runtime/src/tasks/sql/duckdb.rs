//! DuckDB through its command-line tool (`duckdb`, from `pip install duckdb-cli` or DuckDB's
//! releases), not a linked library: DuckDB is a large C++ build that every flow binary would
//! carry, and the CLI runs the same engine. The statements go to one `duckdb -jsonlines -bail`
//! process in the task's folder (so `{{ workingDir }}` and `inputFiles` work as in Kestra),
//! each followed by a marker row that tells the statements' rows apart.
//!
//! What the CLI's JSON gives differs from Kestra's JDBC reading in two places: DECIMAL values
//! are text (`"2.50"`), and timestamps are DuckDB's text (`2024-03-01 10:00:00`).

use std::fmt::Write as _;
use std::process::Stdio;

use serde_json::{Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use super::run::{
    database_file, fetch_of, parameters, sql_of, statements, store_database, with_literals,
    Collector, Fetch,
};
use super::{QueryOutput, SqlOutput, SqlProps};
use crate::tasks::props::{flag, list, optional_text};
use crate::tasks::{TaskContext, TaskError};

/// The column of the marker row after each statement.
const MARKER: &str = "__kflow_statement";

/// The longest line of output read (one row).
const MAX_LINE: u64 = 64 << 20;

pub(super) async fn run(
    props: &SqlProps,
    many: bool,
    ctx: &TaskContext<'_>,
) -> Result<SqlOutput, TaskError> {
    let dir = ctx
        .working_dir()
        .ok_or("a DuckDB task runs in a working directory, and none was made")?
        .to_path_buf();
    if let Some(files) = props.input_files.as_ref().filter(|v| !v.is_null()) {
        let files =
            crate::workdir::input_files(files.clone()).map_err(|e| format!("inputFiles: {e}"))?;
        crate::workdir::write_inputs(&dir, &files, ctx.storage().ok())
            .map_err(|e| format!("inputFiles: {e}"))?;
    }
    let (database, output_db) = database_file(
        props,
        "jdbc:duckdb:",
        ("databaseUri", props.database_uri.as_ref()),
        "kflow.duckdb",
        ctx,
    )?;

    let fetch = fetch_of(props)?;
    let sql = with_literals(&sql_of(props)?, &parameters(props)?);
    let statements = if many { statements(&sql) } else { vec![sql] };
    let transaction = many && flag(props.transaction.as_ref(), "transaction", true)?;
    let mut script = String::new();
    for extension in list(props.community_extensions.as_ref(), "communityExtensions")? {
        let _ = write!(
            script,
            "INSTALL {extension} FROM community;\nLOAD {extension};\n"
        );
    }
    if transaction {
        script.push_str("BEGIN TRANSACTION;\n");
    }
    for (i, statement) in statements.iter().enumerate() {
        script.push_str(statement.trim_end_matches(';'));
        let _ = write!(script, ";\nSELECT {i} AS {MARKER};\n");
    }
    if transaction {
        script.push_str("COMMIT;\n");
    }
    if let Some(after) = optional_text(props.after_sql.as_ref()) {
        script.push_str(&after);
        script.push_str(";\n");
    }

    let target = database.as_ref().map_or_else(
        || ":memory:".to_string(),
        |p| p.to_string_lossy().into_owned(),
    );
    let mut child = tokio::process::Command::new("duckdb")
        .args(["-jsonlines", "-bail", "-batch", &target])
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "`duckdb` is not on PATH: the DuckDB tasks run DuckDB's command-line tool installed on this host (for example `pip install duckdb-cli`)".to_string(),
            _ => format!("cannot start `duckdb`: {e}"),
        })?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(script.as_bytes()).await;
    });
    let mut stderr = child.stderr.take().ok_or("no stderr")?;
    let errors = tokio::spawn(async move {
        let mut text = String::new();
        let _ = (&mut stderr).take(64 << 10).read_to_string(&mut text).await;
        text
    });
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout);
    let mut outputs: Vec<QueryOutput> = Vec::new();
    let mut collector = Collector::new(fetch, ctx);
    let mut returned_rows = false;
    let mut line = String::new();
    loop {
        line.clear();
        let read = (&mut lines)
            .take(MAX_LINE)
            .read_line(&mut line)
            .await
            .map_err(|e| format!("reading duckdb's output: {e}"))?;
        if read == 0 {
            break;
        }
        let text = line.trim_end();
        if text.is_empty() {
            returned_rows = true; // a result with no row
            continue;
        }
        let row: Map<String, Value> = match serde_json::from_str(text) {
            Ok(Value::Object(row)) => row,
            _ => {
                return Err(format!(
                    "duckdb printed what is not a JSON row: {}",
                    text.chars().take(200).collect::<String>()
                )
                .into())
            }
        };
        if row.len() == 1 && row.contains_key(MARKER) {
            let done = std::mem::replace(&mut collector, Collector::new(fetch, ctx));
            if returned_rows || done.size() > 0 {
                outputs.push(done.finish()?);
            }
            returned_rows = false;
            continue;
        }
        returned_rows = true;
        if fetch != Fetch::One || collector.size() == 0 {
            collector.push(row)?;
        }
    }
    let _ = writer.await;
    let status = child
        .wait()
        .await
        .map_err(|e| format!("waiting for duckdb: {e}"))?;
    let errors = errors.await.unwrap_or_default();
    if !status.success() {
        let message = errors.trim();
        return Err(if message.is_empty() {
            format!("duckdb failed ({status})")
        } else {
            message.to_string()
        }
        .into());
    }
    let mut output = SqlOutput::default();
    if many {
        output.outputs = Some(outputs);
    } else {
        output.query = outputs.into_iter().next().unwrap_or(QueryOutput {
            size: Some(0),
            ..QueryOutput::default()
        });
    }
    if let (true, Some(path)) = (output_db, &database) {
        output.database_uri = Some(store_database(path, ctx)?);
    }
    Ok(output)
}
