//! Kestra's REST API for executions, the part a client of an edge host needs, on Kestra's
//! paths (`/api/v1/main/...` and the older `/api/v1/...`):
//! - `POST executions/{namespace}/{flowId}`: a new execution, its inputs as a
//!   `multipart/form-data` form (files for FILE inputs) or a JSON object; `?wait=true` answers
//!   when it has ended; `?labels=key:value` (repeatable). Answered once it is committed with
//!   an fsync; an `Idempotency-Key` seen in the last 24 hours returns the first execution.
//! - `GET executions/{id}`: one execution, with its task runs; `GET executions/search` (and
//!   `GET executions`): this flow's executions, newest first (`state`, `page`, `size`).
//! - `GET logs/{id}`: its log lines; `GET logs/{id}/follow`: the same as server-sent events,
//!   until the execution ends.
//! - `POST executions/{id}/resume` (the Pause's `onResume` inputs, as for a new execution),
//!   `POST executions/{id}/restart`, `DELETE executions/{id}/kill`.

// Helpers return the answer to give as their error (`Result<_, Response>`): its size is
// nothing next to a request's.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::http::{check_length, error, json_body, read_body, App};
use super::{multipart, say, Served};
use crate::actions::{self, Refused};
use crate::execution::{new_id, State as ExecutionState, TaskRun};
use crate::formats::iso_instant;
use crate::inputs;
use crate::launch::LaunchRequest;
use crate::plan::Flow;
use crate::state::{Created, ExecutionRow, LogRow, TriggeredExecution};

/// The most executions one search page lists.
const MAX_PAGE: usize = 100;
/// How often a log stream looks for new lines.
const FOLLOW_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// `?a=1&b=2` as pairs, in order.
fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn query_value<'q>(pairs: &'q [(String, String)], name: &str) -> Option<&'q str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Inputs given in a request body: `ID=VALUE` pairs from a form (a file part's value is the
/// path of its upload under `uploads`), or a JSON object.
struct GivenInputs {
    pairs: Vec<(String, String)>,
    values: Option<Map<String, Value>>,
}

/// Reads a request's inputs. Files are written under `uploads` (the caller removes it).
async fn given_inputs(
    app: &App,
    headers: &HeaderMap,
    body: Body,
    uploads: &std::path::Path,
) -> Result<GivenInputs, Response> {
    let limit = app.limits.memory as u64;
    check_length(headers, limit)?;
    let bytes = read_body(body, limit).await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if let Some(boundary) = multipart::boundary(content_type) {
        let uploads = uploads.to_path_buf();
        return tokio::task::spawn_blocking(move || form_inputs(&bytes, &boundary, &uploads))
            .await
            .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?
            .map_err(|(status, message)| error(status, &message));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(GivenInputs {
            pairs: Vec::new(),
            values: None,
        });
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| error(StatusCode::BAD_REQUEST, "the body is not UTF-8 JSON"))?;
    let values = inputs::parse_json_object(text)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("the inputs: {e}")))?;
    Ok(GivenInputs {
        pairs: Vec::new(),
        values: Some(values),
    })
}

fn form_inputs(
    body: &[u8],
    boundary: &str,
    uploads: &std::path::Path,
) -> Result<GivenInputs, (StatusCode, String)> {
    let parts = multipart::parse(body, boundary)
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("the multipart body: {e}")))?;
    let mut pairs = Vec::new();
    for (index, part) in parts.iter().enumerate() {
        match &part.file_name {
            None => pairs.push((
                part.name.clone(),
                String::from_utf8_lossy(part.data).into_owned(),
            )),
            Some(name) => {
                let path = uploads.join(format!("{index}-{}", crate::storage::file_name(name)));
                std::fs::create_dir_all(uploads)
                    .and_then(|()| std::fs::write(&path, part.data))
                    .map_err(|e| {
                        (
                            StatusCode::INTERNAL_SERVER_ERROR,
                            format!("storing the upload of `{}`: {e}", part.name),
                        )
                    })?;
                pairs.push((part.name.clone(), path.to_string_lossy().into_owned()));
            }
        }
    }
    Ok(GivenInputs {
        pairs,
        values: None,
    })
}

/// `?labels=key:value` (repeatable), as Kestra reads them.
fn labels(query: &[(String, String)]) -> Result<Map<String, Value>, Response> {
    let mut labels = Map::new();
    for (_, label) in query.iter().filter(|(k, _)| k == "labels") {
        let Some((key, value)) = label.split_once(':') else {
            return Err(error(
                StatusCode::BAD_REQUEST,
                &format!("label `{label}` is not `key:value`"),
            ));
        };
        labels.insert(
            key.trim().to_string(),
            Value::String(value.trim().to_string()),
        );
    }
    Ok(labels)
}

/// Where a request's uploaded files wait until they are copied into storage.
fn uploads_dir(served: &Served, id: &str) -> std::path::PathBuf {
    let state_dir = served
        .store
        .path()
        .parent()
        .unwrap_or(std::path::Path::new("."));
    state_dir.join("uploads").join(id)
}

/// A new execution of the flow, recorded CREATED with an fsync: its inputs validated (422
/// with the reasons), FILE inputs copied into its storage. With an `idempotency` key already
/// seen, the first execution instead.
fn create_execution(
    served: &Served,
    flow: &Flow,
    id: &str,
    given: GivenInputs,
    labels: Map<String, Value>,
    idempotency: Option<&str>,
) -> Result<(Created, Map<String, Value>), Response> {
    let mut inputs = inputs::resolve(flow, given.pairs, given.values)
        .map_err(|errors| error(StatusCode::UNPROCESSABLE_ENTITY, &inputs::describe(&errors)))?;
    crate::launch::store_input_files(flow, id, &mut inputs, &served.storage)
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &e))?;
    let start = TriggeredExecution {
        id: id.to_string(),
        inputs: inputs.clone(),
        labels,
        trigger: Value::Null,
    };
    let created = served.store.create_requested(flow, &start, idempotency);
    // Files copied for an execution that was not made (a replay, a failed commit) go.
    if !matches!(created, Ok(Created::New)) {
        let prefix = crate::storage::Storage::execution_prefix(&flow.namespace, &flow.id, id);
        let _ = served.storage.delete_all(&prefix);
    }
    match created {
        Ok(created) => Ok((created, inputs)),
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())),
    }
}

/// `POST executions/{namespace}/{flowId}`.
pub(super) async fn create(
    State(app): State<Arc<App>>,
    Path((namespace, flow_id)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    if let Some(refused) = app.refuse(&headers) {
        return refused;
    }
    let served = &app.served;
    let Some(hosted) = served.hosted(&namespace, &flow_id).cloned() else {
        return error(StatusCode::NOT_FOUND, "Flow not found");
    };
    let query = query_pairs(query.as_deref());
    let wait = query_value(&query, "wait") == Some("true");
    let labels = match labels(&query) {
        Ok(labels) => labels,
        Err(answer) => return answer,
    };
    let idempotency = match super::webhook::idempotency_key(&headers) {
        Ok(key) => key,
        Err(answer) => return answer,
    };
    let id = new_id();
    let uploads = uploads_dir(served, &id);
    let given = given_inputs(&app, &headers, body, &uploads).await;
    let created = match given {
        Ok(given) => {
            let served = Arc::clone(served);
            let flow = Arc::clone(&hosted.flow);
            let (id, labels, uploads) = (id.clone(), labels.clone(), uploads.clone());
            // Inputs validated, files copied into storage and the fsynced commit: off the
            // async threads.
            tokio::task::spawn_blocking(move || {
                let created =
                    create_execution(&served, &flow, &id, given, labels, idempotency.as_deref());
                let _ = std::fs::remove_dir_all(&uploads);
                created
            })
            .await
            .unwrap_or_else(|e| Err(error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())))
        }
        Err(answer) => {
            let _ = std::fs::remove_dir_all(&uploads);
            Err(answer)
        }
    };
    let inputs = match created {
        Ok((Created::New, inputs)) => inputs,
        Ok((Created::Existing(first), _)) => {
            if wait {
                app.ended_row(&first).await;
            }
            return match execution_answer(&app, &first) {
                Ok(answer) => (
                    StatusCode::OK,
                    [("idempotent-replayed", "true")],
                    json_body(&answer),
                )
                    .into_response(),
                Err(answer) => answer,
            };
        }
        Err(answer) => return answer,
    };
    say("INFO", &format!("API: started execution {id}"));
    let request = LaunchRequest {
        created: Some((id.clone(), inputs)),
        labels,
        echo_logs: true,
        ..LaunchRequest::default()
    };
    let ended = served.start(&hosted, request, None);
    if wait {
        let _ = ended.await;
    }
    match execution_answer(&app, &id) {
        Ok(answer) => (StatusCode::OK, json_body(&answer)).into_response(),
        Err(answer) => answer,
    }
}

/// The execution `id` of this flow as Kestra's API shows it, or the 404.
fn execution_answer(app: &App, id: &str) -> Result<Value, Response> {
    let row = recorded(app, id)?;
    let task_runs = app
        .served
        .store
        .task_runs(id)
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
    Ok(execution_json(&row, Some(&task_runs)))
}

/// Kestra's `state` object: the current state and, as far as they are known, when it began
/// and ended.
fn state_json(state: ExecutionState, started_ms: u64, ended_ms: Option<u64>) -> Value {
    let mut value = json!({
        "current": state.as_str(),
        "startDate": iso_instant(started_ms),
    });
    if let Some(ended) = ended_ms {
        value["endDate"] = Value::String(iso_instant(ended));
        let ms = ended.saturating_sub(started_ms);
        value["duration"] = Value::String(format!("PT{}.{:03}S", ms / 1000, ms % 1000));
    }
    value
}

/// An execution as Kestra's API shows one: `taskRunList` when the task runs are given.
fn execution_json(row: &ExecutionRow, task_runs: Option<&[TaskRun]>) -> Value {
    let labels: Vec<Value> = row
        .labels
        .iter()
        .map(|(key, value)| {
            let value = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_string);
            json!({"key": key, "value": value})
        })
        .collect();
    let mut value = json!({
        "id": row.id,
        "namespace": row.namespace,
        "flowId": row.flow_id,
        "tenantId": "main",
        "flowRevision": row.revision,
        "inputs": row.inputs,
        "outputs": row.outputs,
        "labels": labels,
        "state": state_json(row.state, row.started_ms, row.ended_ms),
        "originalId": row.original_id.as_deref().unwrap_or(&row.id),
    });
    if let Some(trigger) = row.trigger.as_ref().filter(|t| !t.is_null()) {
        value["trigger"] = json!({ "variables": trigger });
    }
    if let Some(task_runs) = task_runs {
        value["taskRunList"] = task_runs
            .iter()
            .map(|run| {
                let started = run
                    .attempts
                    .first()
                    .map_or(row.started_ms, |a| a.started_ms);
                let ended = run
                    .state
                    .is_terminal()
                    .then(|| run.attempts.last().map(|a| a.ended_ms))
                    .flatten();
                json!({
                    "id": run.id,
                    "executionId": row.id,
                    "namespace": row.namespace,
                    "flowId": row.flow_id,
                    "taskId": run.task_id,
                    "parentTaskRunId": run.parent_id,
                    "value": run.value,
                    "state": state_json(run.state, started, ended),
                    "attempts": run.attempts.iter().map(|a| json!({
                        "state": state_json(a.state, a.started_ms, Some(a.ended_ms)),
                    })).collect::<Vec<_>>(),
                    "outputs": run.outputs,
                })
            })
            .collect();
    }
    value
}

/// `GET executions/{id}`.
pub(super) async fn get(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = app.refuse(&headers) {
        return refused;
    }
    match execution_answer(&app, &id) {
        Ok(answer) => (StatusCode::OK, json_body(&answer)).into_response(),
        Err(answer) => answer,
    }
}

/// `GET executions/search` (and `GET executions`): this flow's executions, newest first, as
/// Kestra's paged results (`page` from 1, `size` up to 100, `state` to keep one state).
pub(super) async fn search(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(refused) = app.refuse(&headers) {
        return refused;
    }
    let query = query_pairs(query.as_deref());
    let namespace = query_value(&query, "namespace");
    let flow_id = query_value(&query, "flowId");
    let other_flow = !app.served.flows.iter().any(|h| {
        namespace.is_none_or(|n| n == h.flow.namespace) && flow_id.is_none_or(|f| f == h.flow.id)
    });
    let number = |name: &str, default: usize| match query_value(&query, name) {
        None => Ok(default),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                error(
                    StatusCode::BAD_REQUEST,
                    &format!("`{name}` must be a number from 1"),
                )
            }),
    };
    let (page, size) = match (number("page", 1), number("size", 10)) {
        (Ok(page), Ok(size)) => (page, size.min(MAX_PAGE)),
        (Err(answer), _) | (_, Err(answer)) => return answer,
    };
    let state = match query_value(&query, "state") {
        None => None,
        Some(text) => match ExecutionState::parse(text) {
            Some(state) => Some(state),
            None => return error(StatusCode::BAD_REQUEST, &format!("unknown state `{text}`")),
        },
    };
    if other_flow {
        return (
            StatusCode::OK,
            json_body(&json!({"results": [], "total": 0})),
        )
            .into_response();
    }
    let offset = (page - 1).saturating_mul(size);
    match app
        .served
        .store
        .search(state, namespace, flow_id, size, offset)
    {
        Ok((rows, total)) => {
            let results: Vec<Value> = rows.iter().map(|row| execution_json(row, None)).collect();
            (
                StatusCode::OK,
                json_body(&json!({"results": results, "total": total})),
            )
                .into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// A log line as Kestra's API shows one.
fn log_json(row: &ExecutionRow, line: &LogRow) -> Value {
    let execution_id = &row.id;
    json!({
        "namespace": row.namespace,
        "flowId": row.flow_id,
        "executionId": execution_id,
        "taskId": line.task_id,
        "taskRunId": line.task_run_id,
        "level": line.level,
        "message": line.message,
        "timestamp": iso_instant(line.at_ms),
    })
}

/// `GET logs/{id}`: the execution's log lines, in order.
pub(super) async fn logs(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let row = match execution_for(&app, &headers, &id) {
        Ok(row) => row,
        Err(answer) => return answer,
    };
    match app.served.store.logs(&id) {
        Ok(lines) => {
            let list: Vec<Value> = lines.iter().map(|l| log_json(&row, l)).collect();
            (StatusCode::OK, json_body(&Value::Array(list))).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// `GET logs/{id}/follow`: the log lines as server-sent events (`data: {line}`), new ones as
/// they are written, until the execution has ended (or waits to be resumed, or `serve` stops).
pub(super) async fn follow(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let row = match execution_for(&app, &headers, &id) {
        Ok(row) => Arc::new(row),
        Err(answer) => return answer,
    };
    let events = futures_util::stream::unfold(
        (app, row, 0_i64, false),
        |(app, row, after, done)| async move {
            let id = &row.id;
            if done {
                return None;
            }
            let mut after = after;
            loop {
                // Whether it had ended before reading: then these are its last lines.
                let ended = *app.stop.borrow()
                    || app
                        .served
                        .store
                        .execution(id)
                        .ok()
                        .flatten()
                        .is_none_or(|now| {
                            now.ended_ms.is_some() || now.state == ExecutionState::Paused
                        });
                let lines = app.served.store.logs_after(id, after).unwrap_or_default();
                if !lines.is_empty() || ended {
                    let mut text = String::new();
                    for line in &lines {
                        after = line.seq;
                        text.push_str("data: ");
                        text.push_str(&log_json(&row, line).to_string());
                        text.push_str("\n\n");
                    }
                    let chunk = Ok::<_, std::convert::Infallible>(Bytes::from(text));
                    return Some((chunk, (app, row, after, ended)));
                }
                tokio::time::sleep(FOLLOW_POLL).await;
            }
        },
    );
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(events),
    )
        .into_response()
}

/// The answer to an action refused.
fn refused_answer(refused: &Refused) -> Response {
    match refused {
        Refused::State(message) => error(StatusCode::CONFLICT, message),
        Refused::Invalid(_) => error(StatusCode::UNPROCESSABLE_ENTITY, &refused.to_string()),
        Refused::Failed(message) => error(StatusCode::INTERNAL_SERVER_ERROR, message),
    }
}

/// The execution `id` of this flow, for a request allowed to see it; else the 401 or 404.
fn execution_for(app: &App, headers: &HeaderMap, id: &str) -> Result<ExecutionRow, Response> {
    if let Some(refused) = app.refuse(headers) {
        return Err(refused);
    }
    recorded(app, id)
}

/// The execution `id` of this flow, or the 404.
fn recorded(app: &App, id: &str) -> Result<ExecutionRow, Response> {
    app.served
        .store
        .execution(id)
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?
        .filter(|row| app.served.hosted(&row.namespace, &row.flow_id).is_some())
        .ok_or_else(|| error(StatusCode::NOT_FOUND, &format!("Execution {id} not found")))
}

/// `POST executions/{id}/resume`: 204 once it continues.
pub(super) async fn resume(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let row = match execution_for(&app, &headers, &id) {
        Ok(row) => row,
        Err(answer) => return answer,
    };
    let uploads = uploads_dir(&app.served, &new_id());
    let given = match given_inputs(&app, &headers, body, &uploads).await {
        Ok(given) => given,
        Err(answer) => {
            let _ = std::fs::remove_dir_all(&uploads);
            return answer;
        }
    };
    let served = &app.served;
    let Some(hosted) = served.hosted(&row.namespace, &row.flow_id).cloned() else {
        return error(StatusCode::NOT_FOUND, &format!("Execution {id} not found"));
    };
    let request = actions::resume(&hosted.flow, &served.store, &row, given.pairs, given.values);
    let _ = std::fs::remove_dir_all(&uploads);
    match request {
        Ok(request) => {
            say("INFO", &format!("API: execution {id} resumed"));
            drop(served.start(&hosted, request, None));
            StatusCode::NO_CONTENT.into_response()
        }
        Err(refused) => refused_answer(&refused),
    }
}

/// `POST executions/{id}/restart`: the execution, taken up again.
pub(super) async fn restart(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let row = match execution_for(&app, &headers, &id) {
        Ok(row) => row,
        Err(answer) => return answer,
    };
    let Some(hosted) = app.served.hosted(&row.namespace, &row.flow_id).cloned() else {
        return error(StatusCode::NOT_FOUND, &format!("Execution {id} not found"));
    };
    match actions::restart(&app.served.store, &row) {
        Ok(request) => {
            say("INFO", &format!("API: execution {id} restarted"));
            drop(app.served.start(&hosted, request, None));
            let mut answer = execution_json(&row, None);
            answer["state"]["current"] = Value::String("RESTARTED".into());
            (StatusCode::OK, json_body(&answer)).into_response()
        }
        Err(refused) => refused_answer(&refused),
    }
}

/// `DELETE executions/{id}/kill`: 202, the kill asked for (recorded KILLED when done).
pub(super) async fn kill(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let row = match execution_for(&app, &headers, &id) {
        Ok(row) => row,
        Err(answer) => return answer,
    };
    match actions::kill(&app.served.store, &row) {
        Ok(_) => {
            say("INFO", &format!("API: execution {id} kill asked"));
            StatusCode::ACCEPTED.into_response()
        }
        Err(refused) => refused_answer(&refused),
    }
}
