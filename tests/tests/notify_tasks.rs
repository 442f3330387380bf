//! Incoming-webhook notifications (Slack, Microsoft Teams, Discord) under their current and
//! older type names, as tasks and in an `errors` block, against a real HTTP server started by
//! the test: what each service would have received, and a refused post failing its task; and
//! the execution-summary notifications.

use std::process::Command;

use kflow_tests::{build_yamls, scratch_dir, summary_of, RecordingServer, Route};
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
        Route::new("/gone", 404, "text/plain", "no_service"),
    ]);
    let dir = scratch_dir("notify");
    let state = dir.join("state");
    let base = format!("base={}", server.url(""));
    let out = Command::new(&bin)
        .args(["run", "notify", "--state"])
        .arg(&state)
        .args(["--input", &base])
        .output()
        .unwrap();
    let summary = summary_of(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(summary["state"], "FAILED", "{summary:#}\n{stderr}");
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
