//! Incoming-webhook notifications: Slack (`SlackIncomingWebhook`), Microsoft Teams
//! (`TeamsIncomingWebhook`) and Discord (`DiscordIncomingWebhook`), under their current names
//! and the older `io.kestra.plugin.notifications.*` ones. Each posts a JSON `payload` (Slack:
//! or `{"text": messageText}`) to the webhook `url`; an answer other than 2xx fails the task
//! with its code and body. On the shared client of [`crate::http_client`] (the `http` feature).

use serde::Deserialize;
use serde_json::Value;

use crate::definition::{prop, PluginDef, PropDef, PropType::*};

/// The `options:` of the webhook tasks (`RequestOptions`).
pub static WEBHOOK_OPTIONS: &[PropDef] = &[
    prop("connectTimeout", Duration),
    prop("readTimeout", Duration),
    prop("readIdleTimeout", Duration),
    prop("connectionPoolIdleTimeout", Duration),
    prop("maxContentLength", Int),
    prop("defaultCharset", String).not_run_yet(),
    prop("headers", Map(&String)),
];

/// `AbstractSlackWebhookConnection.ProxyOptions`.
static SLACK_PROXY: &[PropDef] = &[
    prop("type", Enum(&["HTTP", "SOCKS"])),
    prop("address", String),
    prop("port", Int),
    prop("username", String),
    prop("password", String),
];

/// Slack's `options:`: the webhook options and a proxy.
pub static SLACK_OPTIONS: &[PropDef] = &[
    prop("connectTimeout", Duration),
    prop("readTimeout", Duration),
    prop("readIdleTimeout", Duration),
    prop("connectionPoolIdleTimeout", Duration),
    prop("maxContentLength", Int),
    prop("defaultCharset", String).not_run_yet(),
    prop("headers", Map(&String)),
    prop("proxy", Object(SLACK_PROXY)),
];

static SLACK_PROPS: &[PropDef] = &[
    prop("url", String).required(),
    prop("payload", String),
    prop("messageText", String),
    prop("options", Object(SLACK_OPTIONS)),
];

/// Teams' and Discord's.
static WEBHOOK_PROPS: &[PropDef] = &[
    prop("url", String).required(),
    prop("payload", String),
    prop("options", Object(WEBHOOK_OPTIONS)),
];

/// One incoming-webhook post, as rendered.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Webhook<const KIND: usize> {
    pub url: Value,
    #[serde(default)]
    pub payload: Option<Value>,
    #[serde(default)]
    pub message_text: Option<Value>,
    #[serde(default)]
    pub options: Option<Value>,
}

/// `io.kestra.plugin.slack.notifications.SlackIncomingWebhook`.
pub type SlackIncomingWebhook = Webhook<0>;
/// `io.kestra.plugin.microsoft365.teams.TeamsIncomingWebhook`.
pub type TeamsIncomingWebhook = Webhook<1>;
/// `io.kestra.plugin.discord.DiscordIncomingWebhook`.
pub type DiscordIncomingWebhook = Webhook<2>;

impl<const KIND: usize> Webhook<KIND> {
    pub const DEFINITION: PluginDef = match KIND {
        0 => PluginDef::runnable_task(
            "io.kestra.plugin.slack.notifications.SlackIncomingWebhook",
            &[
                "io.kestra.plugin.notifications.slack.SlackIncomingWebhook",
                "io.kestra.plugin.slack.SlackIncomingWebhook",
            ],
            SLACK_PROPS,
            &[],
        ),
        1 => PluginDef::runnable_task(
            "io.kestra.plugin.microsoft365.teams.TeamsIncomingWebhook",
            &["io.kestra.plugin.notifications.teams.TeamsIncomingWebhook"],
            WEBHOOK_PROPS,
            &[],
        ),
        _ => PluginDef::runnable_task(
            "io.kestra.plugin.discord.DiscordIncomingWebhook",
            &["io.kestra.plugin.notifications.discord.DiscordIncomingWebhook"],
            WEBHOOK_PROPS,
            &[],
        ),
    }
    .with_feature("http");
}

#[cfg(all(feature = "executor", not(feature = "http")))]
mod without_client {
    use super::Webhook;
    use crate::tasks::{Task, TaskContext, TaskError};

    impl<const KIND: usize> Task for Webhook<KIND> {
        type Output = ();
        async fn run(&self, _ctx: &mut TaskContext<'_>) -> Result<(), TaskError> {
            Err("this binary was built without kflow-runtime's `http` feature (the HTTP client); `kflowc build` turns it on for flows with notification tasks".into())
        }
    }
}

#[cfg(feature = "http")]
mod run {
    use super::Webhook;
    use crate::expr::value::to_display_string;
    use crate::http_client::{self, without_url};
    use crate::plan::Level;
    use crate::tasks::props::optional_text;
    use crate::tasks::{Task, TaskContext, TaskError};
    use serde_json::Value;

    /// The most of an answer's body kept for an error.
    const MAX_ANSWER: usize = 64 << 10;

    impl<const KIND: usize> Task for Webhook<KIND> {
        type Output = ();

        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<(), TaskError> {
            let url = to_display_string(&self.url);
            let payload = match (&self.payload, optional_text(self.message_text.as_ref())) {
                (Some(payload), _) if !payload.is_null() => match payload {
                    Value::String(text) => text.clone(),
                    // A map written in YAML is sent as its JSON.
                    other => other.to_string(),
                },
                (_, Some(text)) => serde_json::json!({ "text": text }).to_string(),
                _ => return Err("`payload` (or `messageText`) is required".into()),
            };
            let empty = serde_json::Map::new();
            let options = match self.options.as_ref() {
                Some(Value::Object(map)) => map,
                None | Some(Value::Null) => &empty,
                Some(other) => return Err(format!("`options` must be a map, got {other}").into()),
            };
            let client = http_client::client(&crate::tasks::http::client_options(options, None)?)?;
            let mut request = client
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(payload);
            if let Some(Value::Object(headers)) = options.get("headers") {
                for (name, value) in headers {
                    request = request.header(name.as_str(), to_display_string(value));
                }
            }
            // The URL is the webhook's secret: errors do not print it.
            let mut response = request
                .send()
                .await
                .map_err(|e| format!("posting to the webhook: {}", without_url(&e)))?;
            let status = response.status();
            if !status.is_success() {
                let body = http_client::read_body(&mut response, MAX_ANSWER)
                    .await
                    .map(|b| {
                        String::from_utf8_lossy(&b)
                            .chars()
                            .take(500)
                            .collect::<String>()
                    })
                    .unwrap_or_default();
                return Err(format!("the webhook answered {status}: {}", body.trim()).into());
            }
            ctx.log(Level::Debug, &format!("the webhook answered {status}"));
            Ok(())
        }
    }
}
