//! The webhook routes of `serve`'s HTTP server ([`super::http`]): Kestra's webhook paths for
//! the flow's `Webhook` triggers.
//!
//! `GET`, `POST` and `PUT` on `/api/v1/main/executions/webhook/{namespace}/{flowId}/{key}` (the
//! tenant `main`) and on the older path without `main/`. Answers, as Kestra gives them:
//! - 200 with the execution (created; with `wait`, ended; with `returnOutputs`, the flow's
//!   outputs alone, as `responseContentType` when set); 500 when a waited-for execution fails;
//! - 204 when the trigger's conditions do not hold; 404 for another flow or a wrong key;
//!   413 for a body over `--max-body` (`--max-stored-body` with `fetchType: STORE`); 422 when
//!   the inputs cannot be rendered or are not valid; 400 for a malformed multipart body.
//!
//! `trigger.body` is the body parsed when it is a JSON object or list, else its text, base64
//! when it is not UTF-8. With `fetchType: STORE` the body is streamed to internal storage
//! instead (`trigger.uri`). A `multipart/form-data` body gives `trigger.formFields` (the text
//! fields) and `trigger.parts` (the files, stored: `name`, `fileName`, `contentType`, `size`,
//! `uri`).
//!
//! The answer comes after the execution is committed with an fsync: a client told that an
//! execution exists finds it after a power cut. A request with an `Idempotency-Key` header
//! already seen (within a day) gets the first request's execution instead of a second one.
//! Keys are compared in constant time (as SHA-256 digests, so their lengths do not show).

// Helpers return the answer to give as their error (`Result<_, Response>`): its size is
// nothing next to a request's.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};

use super::http::{check_length, digest, error, json_body, read_body, same, too_large, App};
use super::{multipart, say};
use crate::bundle::Hosted;
use crate::execution::{new_id, State as ExecutionState};
use crate::launch::LaunchRequest;
use crate::plan::{Trigger, Webhook};
use crate::state::{Created, TriggeredExecution};
use crate::storage::{file_name, Storage};

/// The longest key taken (Kestra's `@Size(max = 256)`) and the longest `Idempotency-Key`.
const MAX_KEY: usize = 256;

/// One webhook trigger, its key rendered once.
pub(super) struct Hook {
    /// The flow the trigger is of.
    hosted: Hosted,
    trigger: Trigger,
    key: [u8; 32],
    wait: bool,
    return_outputs: bool,
    response_content_type: Option<String>,
    store_body: bool,
}

impl Hook {
    pub(super) fn new(
        hosted: &Hosted,
        trigger: &Trigger,
        webhook: &Webhook,
    ) -> Result<Hook, String> {
        let key = webhook
            .key
            .render(&Map::new(), hosted.host.as_ref())
            .map_err(|e| format!("key: {e}"))?;
        let key = crate::expr::value::to_display_string(&key);
        let key = key.trim();
        if key.is_empty() || key.len() > MAX_KEY {
            return Err(format!("the key must be 1 to {MAX_KEY} characters"));
        }
        Ok(Hook {
            hosted: hosted.clone(),
            trigger: trigger.clone(),
            key: digest(key),
            wait: webhook.wait,
            return_outputs: webhook.return_outputs,
            response_content_type: webhook.response_content_type.clone(),
            store_body: webhook.store_body,
        })
    }
}

pub(super) async fn webhook(
    State(app): State<Arc<App>>,
    Path((namespace, flow_id, key)): Path<(String, String, String)>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    let served = &app.served;
    let Some(hosted) = served.hosted(&namespace, &flow_id) else {
        return error(StatusCode::NOT_FOUND, "Flow not found");
    };
    let flow = &hosted.flow;
    let wanted = digest(key.trim());
    let Some(hook) = app
        .hooks
        .iter()
        .filter(|h| Arc::ptr_eq(&h.hosted.flow, flow))
        .find(|h| same(&h.key, &wanted))
    else {
        return error(StatusCode::NOT_FOUND, "Webhook not found");
    };
    let trigger = &hook.trigger;
    if served
        .store
        .trigger_state(&flow.id, &trigger.id)
        .is_ok_and(|s| s.disabled)
    {
        return error(
            StatusCode::NOT_FOUND,
            "Webhook not found (the trigger is disabled)",
        );
    }
    let idempotency = match idempotency_key(&headers) {
        Ok(key) => key,
        Err(answer) => return answer,
    };
    let id = new_id();
    let mut variables = match receive(&app, hook, &id, &headers, body).await {
        Ok(variables) => variables,
        Err(answer) => return answer,
    };
    variables.insert("headers".into(), header_map(&headers));
    variables.insert(
        "parameters".into(),
        parameters(query.as_deref().unwrap_or_default()),
    );
    let variables = Value::Object(variables);
    // Any answer but a new execution drops the files stored for this request.
    let discard = || {
        let prefix = Storage::execution_prefix(&flow.namespace, &flow.id, &id);
        let _ = served.storage.delete_all(&prefix);
    };
    match crate::schedule::conditions_hold(
        &trigger.conditions,
        flow,
        &variables,
        hosted.host.as_ref(),
    ) {
        Ok(true) => {}
        Ok(false) => {
            discard();
            return StatusCode::NO_CONTENT.into_response();
        }
        Err(e) => {
            discard();
            return error(StatusCode::UNPROCESSABLE_ENTITY, &e);
        }
    }
    let inputs = match super::inputs_of(hosted, trigger, &variables) {
        Ok(inputs) => inputs,
        Err(e) => {
            discard();
            return error(StatusCode::UNPROCESSABLE_ENTITY, &e);
        }
    };
    let start = TriggeredExecution {
        id: id.clone(),
        inputs: inputs.clone(),
        labels: trigger.execution_labels(),
        trigger: variables.clone(),
    };
    // The fsynced commit runs off the async threads, which other requests share.
    let created = {
        let store = Arc::clone(&served.store);
        let flow = Arc::clone(flow);
        let start = start.clone();
        tokio::task::spawn_blocking(move || {
            store.create_requested(&flow, &start, idempotency.as_deref())
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|created| created.map_err(|e| e.to_string()))
    };
    match created {
        Ok(Created::New) => {}
        Ok(Created::Existing(first)) => {
            discard();
            return replayed(&app, hook, &first).await;
        }
        Err(e) => {
            discard();
            return error(StatusCode::INTERNAL_SERVER_ERROR, &e);
        }
    }
    say(
        "INFO",
        &format!("trigger `{}`: request started execution {id}", trigger.id),
    );
    let request = LaunchRequest {
        created: Some((id.clone(), inputs)),
        trigger: Some(variables.clone()),
        labels: trigger.execution_labels(),
        echo_logs: true,
        ..LaunchRequest::default()
    };
    let ended = served.start(hosted, request, Some(trigger.clone()));
    if !hook.wait {
        let answer = execution_json(hook, &id, ExecutionState::Created, &variables);
        return (StatusCode::OK, json_body(&answer)).into_response();
    }
    let Ok(summary) = ended.await else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the execution did not end",
        );
    };
    waited(
        hook,
        &summary.id,
        summary.state,
        summary.outputs.as_ref(),
        &variables,
    )
}

/// The `Idempotency-Key` header, or the 400 for one over 256 characters.
pub(super) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Response> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty());
    if key.is_some_and(|k| k.len() > MAX_KEY) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            &format!("Idempotency-Key is longer than {MAX_KEY} characters"),
        ));
    }
    Ok(key.map(str::to_string))
}

/// The answer to a request whose `Idempotency-Key` started `first` already.
/// With `wait`, the answer the first request got (once its execution has ended); else the
/// execution as it is now. Marked `idempotent-replayed: true`.
async fn replayed(app: &App, hook: &Hook, first: &str) -> Response {
    let served = &app.served;
    let row = if hook.wait {
        app.ended_row(first).await
    } else {
        served.store.execution(first).ok().flatten()
    };
    let Some(row) = row else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the first execution of this Idempotency-Key cannot be read",
        );
    };
    let variables = row.trigger.unwrap_or_default();
    let mut answer = if hook.wait {
        waited(hook, &row.id, row.state, row.outputs.as_ref(), &variables)
    } else {
        let mut answer = execution_json(hook, &row.id, row.state, &variables);
        answer["outputs"] = row.outputs.unwrap_or(Value::Null);
        (StatusCode::OK, json_body(&answer)).into_response()
    };
    answer.headers_mut().insert(
        "idempotent-replayed",
        axum::http::HeaderValue::from_static("true"),
    );
    answer
}

/// `trigger.body`, `uri`, `formFields` and `parts` from the request's body, read within the
/// limits; the files it carries are stored under the execution `id`. Every key is set (null
/// or empty when it does not apply), as the checker accepts each. An answer (400, 413, 500)
/// when the body cannot be taken.
async fn receive(
    app: &App,
    hook: &Hook,
    id: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Map<String, Value>, Response> {
    let served = &app.served;
    let flow = &hook.hosted.flow;
    let folder = format!(
        "{}/trigger/{}",
        Storage::execution_prefix(&flow.namespace, &flow.id, id),
        file_name(&hook.trigger.id)
    );
    let limit = if hook.store_body {
        app.limits.stored
    } else {
        app.limits.memory as u64
    };
    check_length(headers, limit)?;
    let mut variables = Map::new();
    variables.insert("body".into(), Value::Null);
    variables.insert("uri".into(), Value::Null);
    variables.insert("formFields".into(), Value::Object(Map::new()));
    variables.insert("parts".into(), Value::Array(Vec::new()));
    if hook.store_body {
        let uri = format!("{folder}/body");
        stream_to_storage(&served.storage, &uri, body, limit).await?;
        variables.insert("uri".into(), Value::String(uri));
        return Ok(variables);
    }
    let bytes = read_body(body, limit).await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(boundary) = multipart::boundary(content_type) else {
        variables.insert("body".into(), body_value(&bytes));
        return Ok(variables);
    };
    // The files are written (and fsynced) off the async threads.
    let storage = served.storage.clone();
    let form =
        tokio::task::spawn_blocking(move || store_form(&storage, &folder, &bytes, &boundary))
            .await
            .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
    let (fields, parts) = form.map_err(|(status, message)| error(status, &message))?;
    variables.insert("formFields".into(), fields);
    variables.insert("parts".into(), parts);
    Ok(variables)
}

/// Streams a request's body to storage at `uri`, at most `limit` bytes (413 beyond, and
/// nothing is left).
async fn stream_to_storage(
    storage: &Storage,
    uri: &str,
    body: Body,
    limit: u64,
) -> Result<(), Response> {
    let mut writer = storage.writer(uri);
    let mut stream = body.into_data_stream();
    let mut total = 0u64;
    let mut failed = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => {
                total += chunk.len() as u64;
                if total > limit {
                    failed = Some(too_large(limit));
                    break;
                }
                if !writer.send(chunk).await {
                    break; // the writer stopped: its error is below
                }
            }
            Err(e) => {
                failed = Some(error(
                    StatusCode::BAD_REQUEST,
                    &format!("reading the body: {e}"),
                ));
                break;
            }
        }
    }
    if let Some(answer) = failed {
        writer.abandon().await;
        return Err(answer);
    }
    writer
        .finish()
        .await
        .map(drop)
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &e))
}

/// A `multipart/form-data` body: its text fields by name, and its files, each stored under
/// `folder` and described (`name`, `fileName`, `contentType`, `size`, `uri`).
fn store_form(
    storage: &Storage,
    folder: &str,
    body: &[u8],
    boundary: &str,
) -> Result<(Value, Value), (StatusCode, String)> {
    let parts = multipart::parse(body, boundary)
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("the multipart body: {e}")))?;
    let mut fields = Map::new();
    let mut files = Vec::new();
    for (index, part) in parts.iter().enumerate() {
        let Some(name) = &part.file_name else {
            let text = String::from_utf8_lossy(part.data).into_owned();
            fields.insert(part.name.clone(), Value::String(text));
            continue;
        };
        let uri = format!("{folder}/parts/{index}-{}", file_name(name));
        storage
            .put(&uri, &mut &*part.data)
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e))?;
        files.push(json!({
            "name": part.name,
            "fileName": name,
            "contentType": part.content_type,
            "size": part.data.len(),
            "uri": uri,
        }));
    }
    Ok((Value::Object(fields), Value::Array(files)))
}

/// The answer to a request that waited for its execution: with `returnOutputs`, the flow's
/// outputs alone (as Kestra answers), else the execution; 500 with the execution when it
/// failed.
fn waited(
    hook: &Hook,
    id: &str,
    state: ExecutionState,
    outputs: Option<&Value>,
    variables: &Value,
) -> Response {
    let outputs = outputs.cloned().unwrap_or(Value::Null);
    let mut answer = execution_json(hook, id, state, variables);
    answer["outputs"] = outputs.clone();
    if state.is_failure() {
        return (StatusCode::INTERNAL_SERVER_ERROR, json_body(&answer)).into_response();
    }
    if !hook.return_outputs {
        return (StatusCode::OK, json_body(&answer)).into_response();
    }
    let Some(content_type) = &hook.response_content_type else {
        return (StatusCode::OK, json_body(&outputs)).into_response();
    };
    // As the flow declared the answer's type: a single output as its text.
    let text = match &outputs {
        Value::Object(map) if map.len() == 1 => {
            crate::expr::value::to_display_string(map.values().next().unwrap_or(&Value::Null))
        }
        other => other.to_string(),
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type.clone())],
        text,
    )
        .into_response()
}

/// The execution as Kestra's API shows one (the fields a webhook client reads).
fn execution_json(hook: &Hook, id: &str, state: ExecutionState, variables: &Value) -> Value {
    json!({
        "id": id,
        "namespace": hook.hosted.flow.namespace,
        "flowId": hook.hosted.flow.id,
        "tenantId": "main",
        "state": { "current": state.as_str() },
        "trigger": {
            "id": hook.trigger.id,
            "type": hook.trigger.type_name,
            "variables": variables,
        },
        "outputs": Value::Null,
        "url": format!(
            "/ui/main/executions/{}/{}/{id}",
            hook.hosted.flow.namespace, hook.hosted.flow.id
        ),
    })
}

/// `trigger.body`: JSON when it is a JSON object or list, else the text; a body that is not
/// UTF-8 is base64; an empty one is null.
fn body_value(body: &[u8]) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    let Ok(text) = std::str::from_utf8(body) else {
        use base64::Engine as _;
        return Value::String(base64::engine::general_purpose::STANDARD.encode(body));
    };
    match serde_json::from_str::<Value>(text) {
        Ok(value @ (Value::Object(_) | Value::Array(_))) => value,
        _ => Value::String(text.to_string()),
    }
}

/// Headers that carry credentials: their values are masked in `trigger.headers`, which the
/// state keeps (secrets never reach it in plain text).
const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

/// `trigger.headers`: each header's values, by lower-case name (credentials masked).
fn header_map(headers: &HeaderMap) -> Value {
    let mut map = Map::new();
    for (name, value) in headers {
        let entry = map
            .entry(name.as_str().to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        let text = if CREDENTIAL_HEADERS.contains(&name.as_str()) {
            "******".to_string()
        } else {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        if let Value::Array(values) = entry {
            values.push(Value::String(text));
        }
    }
    Value::Object(map)
}

/// `trigger.parameters`: each query parameter's values.
fn parameters(query: &str) -> Value {
    let mut map = Map::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let entry = map
            .entry(name.into_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = entry {
            values.push(Value::String(value.into_owned()));
        }
    }
    Value::Object(map)
}
