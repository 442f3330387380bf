//! `http.Trigger`: a request every `interval`; when the response meets `responseCondition`
//! (rendered with `response`: `statusCode`, `body`, `headers`; Kestra's default
//! `{{ response.statusCode < 400 }}`), an execution whose `trigger.*` is the response (`uri`,
//! `code`, `headers`, `body`). The execution is created in the same fsynced commit that moves
//! the trigger's position to that poll, as a schedule's tick is, so a poll fires at most once
//! across crashes. A request that fails (connection, timeout, a body over [`MAX_BODY`]) is
//! logged and tried again at the next interval.

use std::sync::Arc;

use serde_json::{json, Map, Value};
use tokio::sync::watch;

use super::{say, sleep_or_stop, Served};
use crate::bundle::Hosted;
use crate::execution::{new_id, now_ms};
use crate::http_client::without_url;
use crate::plan::{HttpPoll, Trigger};
use crate::state::TriggeredExecution;

/// The largest response body read.
pub const MAX_BODY: usize = 10 << 20;

/// Polls until `stop`.
pub(super) async fn run(
    served: &Arc<Served>,
    hosted: &Hosted,
    trigger: &Trigger,
    poll: &HttpPoll,
    mut stop: watch::Receiver<bool>,
) {
    let options = crate::http_client::ClientOptions {
        total_timeout: Some(poll.timeout),
        ..Default::default()
    };
    let client = match crate::http_client::client(&options) {
        Ok(client) => client,
        Err(e) => {
            say(
                "ERROR",
                &format!("trigger `{}` is not run: {e}", trigger.id),
            );
            return;
        }
    };
    say(
        "INFO",
        &format!(
            "trigger `{}`: a request every {} s",
            trigger.id,
            poll.interval.as_secs_f64()
        ),
    );
    loop {
        if sleep_or_stop(poll.interval, &mut stop).await {
            return;
        }
        let disabled = served
            .store
            .trigger_state(&hosted.flow.id, &trigger.id)
            .is_ok_and(|s| s.disabled);
        if disabled {
            continue;
        }
        match once(&client, hosted, poll).await {
            Ok(Some(variables)) => fire(served, hosted, trigger, variables),
            Ok(None) => {}
            Err(e) => say("WARN", &format!("trigger `{}`: {e}", trigger.id)),
        }
    }
}

/// One request: `trigger.*` when the response meets the condition.
async fn once(
    client: &reqwest::Client,
    hosted: &Hosted,
    poll: &HttpPoll,
) -> Result<Option<Value>, String> {
    let host = hosted.host.as_ref();
    let none = Map::new();
    let text = |prop: &crate::plan::Prop| -> Result<String, String> {
        prop.render(&none, host)
            .map(|v| crate::expr::value::to_display_string(&v))
            .map_err(|e| e.to_string())
    };
    let uri = text(&poll.uri)?;
    let method = reqwest::Method::from_bytes(poll.method.as_bytes())
        .map_err(|_| format!("`{}` is not an HTTP method", poll.method))?;
    let mut request = client.request(method, &uri);
    if let Some(headers) = &poll.headers {
        if let Value::Object(map) = headers.render(&none, host).map_err(|e| e.to_string())? {
            for (name, value) in map {
                request = request.header(name, crate::expr::value::to_display_string(&value));
            }
        }
    }
    if let Some(content_type) = &poll.content_type {
        request = request.header(reqwest::header::CONTENT_TYPE, text(content_type)?);
    }
    if let Some(body) = &poll.body {
        request = request.body(text(body)?);
    }
    let mut response = request
        .send()
        .await
        .map_err(|e| format!("{uri}: {}", without_url(&e)))?;
    let code = response.status().as_u16();
    let headers = crate::http_client::headers_of(response.headers());
    let bytes = crate::http_client::read_body(&mut response, MAX_BODY)
        .await
        .map_err(|e| match e {
            Some(e) => format!("{uri}: {e}"),
            None => format!(
                "{uri}: the response body is larger than {} MiB",
                MAX_BODY >> 20
            ),
        })?;
    let text_body = String::from_utf8_lossy(&bytes).into_owned();
    // A JSON body is read as JSON, as Kestra's response does.
    let body = serde_json::from_str::<Value>(&text_body).unwrap_or(Value::String(text_body));
    let mut vars = Map::new();
    vars.insert(
        "response".into(),
        json!({"statusCode": code, "body": body, "headers": headers}),
    );
    let met = poll
        .response_condition
        .render(&vars, host)
        .map_err(|e| format!("responseCondition: {e}"))?;
    if crate::expr::value::to_display_string(&met).trim() != "true" {
        return Ok(None);
    }
    Ok(Some(json!({
        "uri": uri,
        "code": code,
        "headers": headers,
        "body": body,
    })))
}

/// The poll's execution, created with the position in one fsynced commit, then launched.
fn fire(served: &Arc<Served>, hosted: &Hosted, trigger: &Trigger, variables: Value) {
    let inputs = match crate::inputs::resolve(&hosted.flow, Vec::new(), None) {
        Ok(inputs) => inputs,
        Err(errors) => {
            say(
                "WARN",
                &format!(
                    "trigger `{}`: the response met the condition, but the flow's inputs are not valid: {}",
                    trigger.id,
                    crate::inputs::describe(&errors)
                ),
            );
            return;
        }
    };
    let id = new_id();
    let start = TriggeredExecution {
        id: id.clone(),
        inputs: inputs.clone(),
        labels: trigger.execution_labels(),
        trigger: variables.clone(),
    };
    match served
        .store
        .handle_tick(&hosted.flow, &trigger.id, now_ms(), Some(&start))
    {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            say("ERROR", &format!("trigger `{}`: {e}", trigger.id));
            return;
        }
    }
    say(
        "INFO",
        &format!(
            "trigger `{}`: the response met the condition; started execution {id}",
            trigger.id
        ),
    );
    served.start_created(hosted, trigger, id, inputs, variables);
}
