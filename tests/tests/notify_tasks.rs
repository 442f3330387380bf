//! Incoming-webhook notifications (Slack, Microsoft Teams, Discord, Google Chat, Zulip, QQ,
//! Telegram's Bot API) under their current and
//! older type names, as tasks and in an `errors` block, against a real HTTP server started by
//! the test: what each service would have received, and a refused post failing its task; and
//! the execution-summary notifications.

use std::process::Command;

use kflow_tests::{base64, build_yamls, scratch_dir, summary_of, RecordingServer, Route};
use serde_json::json;

const NOTIFY: &str = r#"id: notify
namespace: kflow.tests
inputs:
  - id: base
    type: STRING
tasks:
  - id: slack_text
    type: io.kestra.plugin.slack.notifications.SlackIncomingWebhook
    url: "{{ inputs.base }}/slack"
    messageText: "Flow {{ flow.id }} started {{ execution.id }}"
  - id: slack_payload
    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
    url: "{{ inputs.base }}/slack"
    payload: |
      {"text": "old name", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*bold*"}}]}
  - id: teams
    type: io.kestra.plugin.microsoft365.teams.TeamsIncomingWebhook
    url: "{{ inputs.base }}/teams"
    payload: |
      {"@type": "MessageCard", "@context": "http://schema.org/extensions", "text": "from {{ flow.namespace }}"}
  - id: discord
    type: io.kestra.plugin.notifications.discord.DiscordIncomingWebhook
    url: "{{ inputs.base }}/discord"
    payload: '{"content": "discord says hi"}'
  - id: google_chat
    type: io.kestra.plugin.googleworkspace.chat.GoogleChatIncomingWebhook
    url: "{{ inputs.base }}/chat"
    payload: '{"text": "chat from {{ flow.id }}"}'
  - id: zulip
    type: io.kestra.plugin.notifications.zulip.ZulipIncomingWebhook
    url: "{{ inputs.base }}/zulip?api_key=k"
    payload: '{"text": "zulip"}'
  - id: qq
    type: io.kestra.plugin.tencent.qq.QQIncomingWebhook
    url: "{{ inputs.base }}/qq"
    payload: '{"msgtype": "text", "text": {"content": "qq"}}'
  - id: telegram_text
    type: io.kestra.plugin.telegram.TelegramSend
    token: "{{ secret('TELEGRAM_TOKEN') }}"
    channel: "2072728690"
    endpointOverride: "{{ inputs.base }}/telegram"
    payload: "plain <b>text</b>"
    parseMode: HTML
  - id: telegram_json
    type: io.kestra.plugin.notifications.telegram.TelegramSend
    token: "{{ secret('TELEGRAM_TOKEN') }}"
    channel: "@kflow"
    endpointOverride: "{{ inputs.base }}/telegram/"
    payload: |
      {"text": "Telegram Alert", "disable_notification": true}
  - id: fails
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: broken on purpose
errors:
  - id: alert
    type: io.kestra.plugin.slack.notifications.SlackIncomingWebhook
    url: "{{ inputs.base }}/slack"
    messageText: "{{ flow.id }} failed: {{ errorLogs()[0].message }}"
"#;

const REFUSED: &str = r#"id: notify_refused
namespace: kflow.tests
inputs:
  - id: base
    type: STRING
tasks:
  - id: post
    type: io.kestra.plugin.slack.notifications.SlackIncomingWebhook
    url: "{{ inputs.base }}/gone"
    messageText: hello
"#;

const SUMMARIES: &str = r#"id: summaries
namespace: kflow.tests
inputs:
  - id: base
    type: STRING
tasks:
  - id: teams
    type: io.kestra.plugin.notifications.teams.TeamsExecution
    url: "{{ inputs.base }}/teams-summary"
    activitySubtitle: nightly
    customFields:
      Team: data
  - id: breaks
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: broken
errors:
  - id: slack
    type: io.kestra.plugin.slack.notifications.SlackExecution
    url: "{{ inputs.base }}/slack-summary"
    customMessage: "Please look at {{ flow.id }}"
    customFields:
      Env: prod
  - id: discord
    type: io.kestra.plugin.discord.DiscordExecution
    url: "{{ inputs.base }}/discord-summary"
    username: kflow
    executionId: "{{ execution.id }}"
"#;

/// The execution-summary notifications: what Slack, Teams and Discord receive about the
/// execution, in and out of an `errors` branch.
#[test]
fn execution_summaries_describe_the_execution() {
    let bin = build_yamls("summaries", &[("summaries", SUMMARIES)]);
    let server = RecordingServer::start(vec![
        Route::new("/teams-summary", 200, "text/plain", "1"),
        Route::new("/slack-summary", 200, "text/plain", "ok"),
        Route::new("/discord-summary", 204, "text/plain", ""),
    ]);
    let state = scratch_dir("summaries").join("state");
    let out = Command::new(&bin)
        .args(["run", "summaries", "--state"])
        .arg(&state)
        .args(["--input", &format!("base={}", server.url(""))])
        .output()
        .unwrap();
    let summary = summary_of(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(summary["state"], "FAILED", "{summary:#}\n{stderr}");
    let id = summary["id"].as_str().unwrap();

    let teams = server.received_at("/teams-summary")[0].json();
    assert_eq!(teams["@type"], "MessageCard");
    assert_eq!(teams["summary"], "[kflow.tests] summaries ➛ RUNNING");
    let section = &teams["sections"][0];
    assert_eq!(section["activitySubtitle"], "nightly");
    let facts = section["facts"].as_array().unwrap();
    assert!(
        facts.contains(&json!({"name": "Execution ID", "value": id})),
        "{facts:?}"
    );
    assert!(
        facts.contains(&json!({"name": "Team", "value": "data"})),
        "{facts:?}"
    );

    // In the errors branch: the execution is failing, and which task failed is named.
    let slack = server.received_at("/slack-summary")[0].json();
    assert_eq!(
        slack["text"],
        "[kflow.tests] summaries ➛ FAILED\nPlease look at summaries"
    );
    let attachment = &slack["attachments"][0];
    assert_eq!(attachment["color"], "#a30200");
    let fields = attachment["fields"].as_array().unwrap();
    for (title, value) in [
        ("Namespace", "kflow.tests"),
        ("Flow ID", "summaries"),
        ("Execution ID", id),
        ("Execution Status", "FAILED"),
        ("Failed task", "breaks"),
        ("Env", "prod"),
    ] {
        assert!(
            fields.contains(&json!({"title": title, "value": value, "short": true})),
            "{title}: {fields:?}"
        );
    }
    let discord = server.received_at("/discord-summary")[0].json();
    assert_eq!(discord["username"], "kflow");
    assert_eq!(
        discord["embeds"][0]["title"],
        "[kflow.tests] summaries ➛ FAILED"
    );
    assert_eq!(discord["embeds"][0]["color"], 0xa3_0200);
}

#[test]
fn webhook_notifications_post_what_the_service_expects() {
    let bin = build_yamls("notify", &[("notify", NOTIFY), ("notify_refused", REFUSED)]);
    let server = RecordingServer::start(vec![
        Route::new("/slack", 200, "text/plain", "ok"),
        Route::new("/teams", 200, "text/plain", "1"),
        Route::new("/discord", 204, "text/plain", ""),
        Route::new("/chat", 200, "application/json", "{}"),
        Route::new(
            "/zulip",
            200,
            "application/json",
            r#"{"result": "success"}"#,
        ),
        Route::new("/qq", 200, "application/json", "{}"),
        Route::new(
            "/telegram/bot4242:kflow-test-token/sendMessage",
            200,
            "application/json",
            r#"{"ok": true, "result": {"message_id": 1}}"#,
        ),
        Route::new("/gone", 404, "text/plain", "no_service"),
    ]);
    let dir = scratch_dir("notify");
    let state = dir.join("state");
    let base = format!("base={}", server.url(""));
    let out = Command::new(&bin)
        .args(["run", "notify", "--state"])
        .arg(&state)
        .args(["--input", &base])
        .env("SECRET_TELEGRAM_TOKEN", base64("4242:kflow-test-token"))
        .output()
        .unwrap();
    let summary = summary_of(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(summary["state"], "FAILED", "{summary:#}\n{stderr}");
    assert!(!stderr.contains("kflow-test-token"), "{stderr}");
    let id = summary["id"].as_str().unwrap();

    let slack = server.received_at("/slack");
    assert_eq!(slack.len(), 3, "{slack:#?}");
    for post in &slack {
        assert_eq!(post.method, "POST");
        assert_eq!(post.header("content-type"), Some("application/json"));
    }
    assert_eq!(
        slack[0].json(),
        json!({"text": format!("Flow notify started {id}")})
    );
    assert_eq!(
        slack[1].json(),
        json!({"text": "old name", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*bold*"}}]})
    );
    // The errors branch told Slack why.
    assert_eq!(
        slack[2].json(),
        json!({"text": "notify failed: broken on purpose"})
    );
    let teams = &server.received_at("/teams")[0];
    assert_eq!(teams.json()["@type"], "MessageCard");
    assert_eq!(teams.json()["text"], "from kflow.tests");
    let discord = &server.received_at("/discord")[0];
    assert_eq!(discord.json(), json!({"content": "discord says hi"}));
    // The generic incoming webhooks post the payload as it is.
    assert_eq!(
        server.received_at("/chat")[0].json(),
        json!({"text": "chat from notify"})
    );
    let zulip = &server.received_at("/zulip")[0];
    assert_eq!(zulip.target, "/zulip?api_key=k");
    assert_eq!(zulip.json(), json!({"text": "zulip"}));
    assert_eq!(
        server.received_at("/qq")[0].json(),
        json!({"msgtype": "text", "text": {"content": "qq"}})
    );
    // Telegram: the Bot API's sendMessage, the text or Telegram's JSON, with the chat.
    let telegram = server.received_at("/telegram/bot4242:kflow-test-token/sendMessage");
    assert_eq!(telegram.len(), 2, "{telegram:#?}");
    assert_eq!(
        telegram[0].json(),
        json!({"chat_id": "2072728690", "text": "plain <b>text</b>", "parse_mode": "HTML"})
    );
    assert_eq!(
        telegram[1].json(),
        json!({"chat_id": "@kflow", "text": "Telegram Alert", "disable_notification": true})
    );

    // A refused post fails the task with the service's answer (and not the URL).
    let out = Command::new(&bin)
        .args(["run", "notify_refused", "--state"])
        .arg(&state)
        .args(["--input", &base])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(summary_of(&out)["state"], "FAILED");
    assert!(
        stderr.contains("the webhook answered 404 Not Found: no_service"),
        "{stderr}"
    );
}
