//! Incoming-webhook notifications: Slack (`SlackIncomingWebhook`), Microsoft Teams
//! (`TeamsIncomingWebhook`), Discord (`DiscordIncomingWebhook`) and the generic ones of the
//! same shape (Google Chat, Zulip, QQ), under their current names and the older
//! `io.kestra.plugin.notifications.*` ones. Each posts a JSON `payload` (Slack: or
//! `{"text": messageText}`) to the webhook `url`; an answer other than 2xx fails the task with
//! its code and body (Kestra's Zulip task ignores the answer: a lost notification should not
//! pass unseen). Telegram's `TelegramSend` posts to the Bot API's `sendMessage`. The execution
//! summaries (`SlackExecution`, ...) describe an execution. On the shared client of
//! [`crate::http_client`] (the `notify` feature).

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
/// `io.kestra.plugin.googleworkspace.chat.GoogleChatIncomingWebhook`.
pub type GoogleChatIncomingWebhook = Webhook<3>;
/// `io.kestra.plugin.zulip.ZulipIncomingWebhook`.
pub type ZulipIncomingWebhook = Webhook<4>;
/// `io.kestra.plugin.tencent.qq.QQIncomingWebhook`.
pub type QqIncomingWebhook = Webhook<5>;

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
        2 => PluginDef::runnable_task(
            "io.kestra.plugin.discord.DiscordIncomingWebhook",
            &["io.kestra.plugin.notifications.discord.DiscordIncomingWebhook"],
            WEBHOOK_PROPS,
            &[],
        ),
        3 => PluginDef::runnable_task(
            "io.kestra.plugin.googleworkspace.chat.GoogleChatIncomingWebhook",
            &["io.kestra.plugin.notifications.google.GoogleChatIncomingWebhook"],
            WEBHOOK_PROPS,
            &[],
        ),
        4 => PluginDef::runnable_task(
            "io.kestra.plugin.zulip.ZulipIncomingWebhook",
            &["io.kestra.plugin.notifications.zulip.ZulipIncomingWebhook"],
            WEBHOOK_PROPS,
            &[],
        ),
        _ => PluginDef::runnable_task(
            "io.kestra.plugin.tencent.qq.QQIncomingWebhook",
            &[],
            WEBHOOK_PROPS,
            &[],
        ),
    }
    .with_feature("notify");
}

static TELEGRAM_PROPS: &[PropDef] = &[
    prop("token", String).required(),
    prop("channel", String).required(),
    prop("payload", String),
    prop("parseMode", Enum(&["HTML", "Markdown", "MarkdownV2"])),
    prop("endpointOverride", String),
    prop("options", Object(WEBHOOK_OPTIONS)),
];

/// `io.kestra.plugin.telegram.TelegramSend`: a `sendMessage` of the bot `token` to `channel`.
/// `payload` is the message: Telegram's JSON (`{"text": ...}`, with any other `sendMessage`
/// field) or, when it is not a JSON object, the text itself.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TelegramSend {
    pub token: Value,
    pub channel: Value,
    #[serde(default)]
    pub payload: Option<Value>,
    #[serde(default)]
    pub parse_mode: Option<Value>,
    #[serde(default)]
    pub endpoint_override: Option<Value>,
    #[serde(default)]
    pub options: Option<Value>,
}

impl TelegramSend {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.telegram.TelegramSend",
        &["io.kestra.plugin.notifications.telegram.TelegramSend"],
        TELEGRAM_PROPS,
        &[],
    )
    .with_feature("notify");
}

/// `DiscordTemplate.Embed`.
static DISCORD_EMBED: &[PropDef] = &[
    prop("title", String),
    prop("websiteUrl", String),
    prop("description", String),
    prop("thumbnail", String),
    prop("authorName", String),
    prop("color", List(&Int)).not_dynamic(), // Integer[] RGB
    prop("footer", String),
];

static SLACK_EXECUTION_PROPS: &[PropDef] = &[
    prop("url", String).required(),
    prop("payload", String),
    prop("messageText", String),
    prop("options", Object(SLACK_OPTIONS)),
    prop("channel", String).deprecated("legacy webhooks only: the webhook URL sets it"),
    prop("username", String).deprecated("legacy webhooks only: the webhook URL sets it"),
    prop("iconUrl", String).deprecated("legacy webhooks only: the webhook URL sets it"),
    prop("iconEmoji", String).deprecated("legacy webhooks only: the webhook URL sets it"),
    prop("templateUri", String).not_run_yet(),
    prop("templateRenderMap", Map(&Any)).not_run_yet(),
    prop("executionId", String),
    prop("customFields", Map(&Any)),
    prop("customMessage", String),
];

static TEAMS_EXECUTION_PROPS: &[PropDef] = &[
    prop("url", String).required(),
    prop("payload", String),
    prop("options", Object(WEBHOOK_OPTIONS)),
    prop("templateUri", String).not_run_yet(),
    prop("templateRenderMap", Map(&Any)).not_run_yet(),
    prop("themeColor", String),
    prop("activityTitle", String),
    prop("activitySubtitle", String),
    prop("executionId", String),
    prop("customFields", Map(&Any)),
    prop("customMessage", String),
];

static DISCORD_EXECUTION_PROPS: &[PropDef] = &[
    prop("url", String).required(),
    prop("payload", String),
    prop("options", Object(WEBHOOK_OPTIONS)),
    prop("templateUri", String).not_run_yet(),
    prop("templateRenderMap", Map(&Any)).not_run_yet(),
    prop("username", String),
    prop("avatarUrl", String),
    prop("embedList", List(&Object(DISCORD_EMBED))),
    prop("content", String),
    prop("executionId", String),
    prop("customFields", Map(&Any)),
    prop("customMessage", String),
];

/// One execution-summary notification, as rendered: the execution's namespace, flow, id,
/// state, duration and first failed task, with `customFields` and `customMessage`, in the
/// service's message format. `payload` (when given) is sent as it is, as Kestra does.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecutionSummary<const KIND: usize> {
    pub url: Value,
    #[serde(default)]
    pub payload: Option<Value>,
    #[serde(default)]
    pub message_text: Option<Value>,
    #[serde(default)]
    pub options: Option<Value>,
    #[serde(default)]
    pub channel: Option<Value>,
    #[serde(default)]
    pub username: Option<Value>,
    #[serde(default)]
    pub icon_url: Option<Value>,
    #[serde(default)]
    pub icon_emoji: Option<Value>,
    #[serde(default)]
    pub template_uri: Option<Value>,
    #[serde(default)]
    pub template_render_map: Option<Value>,
    #[serde(default)]
    pub execution_id: Option<Value>,
    #[serde(default)]
    pub custom_fields: Option<Value>,
    #[serde(default)]
    pub custom_message: Option<Value>,
    #[serde(default)]
    pub theme_color: Option<Value>,
    #[serde(default)]
    pub activity_title: Option<Value>,
    #[serde(default)]
    pub activity_subtitle: Option<Value>,
    #[serde(default)]
    pub avatar_url: Option<Value>,
    #[serde(default)]
    pub embed_list: Option<Value>,
    #[serde(default)]
    pub content: Option<Value>,
}

/// `io.kestra.plugin.slack.notifications.SlackExecution`.
pub type SlackExecution = ExecutionSummary<0>;
/// `io.kestra.plugin.microsoft365.teams.TeamsExecution`.
pub type TeamsExecution = ExecutionSummary<1>;
/// `io.kestra.plugin.discord.DiscordExecution`.
pub type DiscordExecution = ExecutionSummary<2>;

impl<const KIND: usize> ExecutionSummary<KIND> {
    pub const DEFINITION: PluginDef = match KIND {
        0 => PluginDef::runnable_task(
            "io.kestra.plugin.slack.notifications.SlackExecution",
            &[
                "io.kestra.plugin.notifications.slack.SlackExecution",
                "io.kestra.plugin.slack.SlackExecution",
            ],
            SLACK_EXECUTION_PROPS,
            &[],
        ),
        1 => PluginDef::runnable_task(
            "io.kestra.plugin.microsoft365.teams.TeamsExecution",
            &["io.kestra.plugin.notifications.teams.TeamsExecution"],
            TEAMS_EXECUTION_PROPS,
            &[],
        ),
        _ => PluginDef::runnable_task(
            "io.kestra.plugin.discord.DiscordExecution",
            &["io.kestra.plugin.notifications.discord.DiscordExecution"],
            DISCORD_EXECUTION_PROPS,
            &[],
        ),
    }
    .with_feature("notify");
}

#[cfg(feature = "notify")]
mod run {
    use serde_json::json;

    use super::{ExecutionSummary, TelegramSend, Webhook};
    use crate::expr::value::to_display_string;
    use crate::http_client::{self, without_url};
    use crate::plan::Level;
    use crate::tasks::props::optional_text;
    use crate::tasks::summary::Summary;
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
            post(ctx, &url, payload, self.options.as_ref()).await
        }
    }

    impl Task for TelegramSend {
        type Output = ();

        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<(), TaskError> {
            let token = to_display_string(&self.token);
            let endpoint = optional_text(self.endpoint_override.as_ref())
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| "https://api.telegram.org".into());
            let text = optional_text(self.payload.as_ref()).ok_or("`payload` is required")?;
            let mut message = if let Ok(Value::Object(map)) = serde_json::from_str(&text) {
                map
            } else {
                let mut map = serde_json::Map::new();
                map.insert("text".into(), Value::String(text));
                map
            };
            message.insert(
                "chat_id".into(),
                Value::String(to_display_string(&self.channel)),
            );
            if let Some(mode) = optional_text(self.parse_mode.as_ref()) {
                message.insert("parse_mode".into(), Value::String(mode));
            }
            // The token is in the URL: `post` never prints it.
            let url = format!("{}/bot{token}/sendMessage", endpoint.trim_end_matches('/'));
            post(
                ctx,
                &url,
                Value::Object(message).to_string(),
                self.options.as_ref(),
            )
            .await
        }
    }

    /// Posts `payload` (JSON) to the webhook `url` with the task's `options`.
    async fn post(
        ctx: &TaskContext<'_>,
        url: &str,
        payload: String,
        options: Option<&Value>,
    ) -> Result<(), TaskError> {
        let empty = serde_json::Map::new();
        let options = match options {
            Some(Value::Object(map)) => map,
            None | Some(Value::Null) => &empty,
            Some(other) => return Err(format!("`options` must be a map, got {other}").into()),
        };
        let client = http_client::client(&crate::tasks::http::client_options(options, None)?)?;
        let mut request = client
            .post(url)
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

    impl<const KIND: usize> Task for ExecutionSummary<KIND> {
        type Output = ();

        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<(), TaskError> {
            let url = to_display_string(&self.url);
            if let Some(payload) = self.payload.as_ref().filter(|p| !p.is_null()) {
                let payload = match payload {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                return post(ctx, &url, payload, self.options.as_ref()).await;
            }
            let summary = Summary::of(ctx, self.execution_id.as_ref())?;
            let custom_message = optional_text(self.custom_message.as_ref());
            let fields = summary.fields(self.custom_fields.as_ref())?;
            let title = summary.title();
            let payload = match KIND {
                0 => {
                    let mut text = title.clone();
                    if let Some(message) = &custom_message {
                        text.push('\n');
                        text.push_str(message);
                    }
                    let mut payload = json!({
                        "text": text,
                        "attachments": [{
                            "color": summary.color(),
                            "fields": fields.iter().map(|(n, v)| json!({"title": n, "value": v, "short": true})).collect::<Vec<_>>(),
                        }],
                    });
                    for (property, key) in [
                        (&self.channel, "channel"),
                        (&self.username, "username"),
                        (&self.icon_url, "icon_url"),
                        (&self.icon_emoji, "icon_emoji"),
                    ] {
                        if let Some(value) = optional_text(property.as_ref()) {
                            payload[key] = Value::String(value);
                        }
                    }
                    payload
                }
                1 => json!({
                    "@type": "MessageCard",
                    "@context": "http://schema.org/extensions",
                    "themeColor": optional_text(self.theme_color.as_ref()).unwrap_or_else(|| summary.color().trim_start_matches('#').to_string()),
                    "summary": title,
                    "sections": [{
                        "activityTitle": optional_text(self.activity_title.as_ref()).unwrap_or_else(|| title.clone()),
                        "activitySubtitle": optional_text(self.activity_subtitle.as_ref()).unwrap_or_default(),
                        "facts": fields.iter().map(|(n, v)| json!({"name": n, "value": v})).collect::<Vec<_>>(),
                        "text": custom_message.clone().unwrap_or_default(),
                    }],
                }),
                _ => {
                    let color = i64::from_str_radix(summary.color().trim_start_matches('#'), 16)
                        .unwrap_or(0);
                    let mut embeds = vec![json!({
                        "title": title,
                        "description": custom_message.clone().unwrap_or_default(),
                        "color": color,
                        "fields": fields.iter().map(|(n, v)| json!({"name": n, "value": v, "inline": true})).collect::<Vec<_>>(),
                    })];
                    if let Some(Value::Array(extra)) = self.embed_list.as_ref() {
                        embeds.extend(extra.iter().cloned());
                    }
                    let mut payload = json!({
                        "content": optional_text(self.content.as_ref()).unwrap_or_else(|| title.clone()),
                        "embeds": embeds,
                    });
                    if let Some(name) = optional_text(self.username.as_ref()) {
                        payload["username"] = Value::String(name);
                    }
                    if let Some(avatar) = optional_text(self.avatar_url.as_ref()) {
                        payload["avatar_url"] = Value::String(avatar);
                    }
                    payload
                }
            };
            post(ctx, &url, payload.to_string(), self.options.as_ref()).await
        }
    }
}
