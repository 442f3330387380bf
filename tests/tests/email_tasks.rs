//! `email.MailSend` against a real SMTP server started by the test (plain SMTP with
//! `AUTH PLAIN`): the envelope, headers, both bodies and an attachment from storage as a mail
//! client would see them, the password kept out of the log, and a server that is not there
//! failing the task with a clear error.

use std::process::Command;

use base64::Engine as _;
use kflow_tests::{base64, build_yamls, scratch_dir, summary_of, task_run, SmtpSink};

const MAIL: &str = r#"id: mail
namespace: kflow.tests
inputs:
  - id: port
    type: INT
tasks:
  - id: report
    type: io.kestra.plugin.core.storage.Write
    content: "id,value\n1,42\n"
    extension: .csv
  - id: send
    type: io.kestra.plugin.email.MailSend
    host: 127.0.0.1
    port: "{{ inputs.port }}"
    transportStrategy: SMTP
    username: kflow
    password: "{{ secret('SMTP_PASSWORD') }}"
    from: "Kflow <kflow@example.com>"
    to: "ops@example.com, dev@example.com"
    cc: boss@example.com
    subject: "Run {{ flow.id }} done"
    plainTextContent: "Plain: {{ flow.namespace }}"
    htmlTextContent: "<p>HTML: <b>{{ flow.id }}</b></p>"
    attachments:
      - name: report.csv
        uri: "{{ outputs.report.uri }}"
        contentType: text/csv
  - id: old_name
    type: io.kestra.plugin.notifications.mail.MailSend
    host: 127.0.0.1
    port: "{{ inputs.port }}"
    transportStrategy: SMTP
    from: kflow@example.com
    to: ops@example.com
    subject: second
    plainTextContent: short
  - id: summary
    type: io.kestra.plugin.email.MailExecution
    host: 127.0.0.1
    port: "{{ inputs.port }}"
    transportStrategy: SMTP
    from: kflow@example.com
    to: ops@example.com
    customMessage: "Nightly <load> finished"
    customFields:
      Team: data
"#;

/// A mail as a client shows it: encoded-word headers and its (last) part's base64 or
/// quoted-printable body decoded.
fn decoded_text(data: &str) -> String {
    let decode64 = |text: &str| {
        let encoded: String = text.split_whitespace().collect();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .unwrap_or_default(),
        )
        .unwrap_or_default()
    };
    let (head, body) = data.split_once("\r\n\r\n").unwrap_or_default();
    let mut out = String::new();
    for line in head.replace("\r\n ", " ").lines() {
        let mut line = line.to_string();
        while let Some(start) = line.find("=?utf-8?b?") {
            let rest = &line[start + 10..];
            let Some(end) = rest.find("?=") else { break };
            let word = decode64(&rest[..end]);
            line = format!("{}{word}{}", &line[..start], &rest[end + 2..]);
            line = line.replace("?= ", "");
        }
        out.push_str(&line);
        out.push('\n');
    }
    // The last part: its headers, then its body up to the closing boundary.
    let part = body
        .rsplit_once("Content-Transfer-Encoding: ")
        .map_or(body, |(_, part)| part);
    let (encoding, body) = part.split_once("\r\n\r\n").unwrap_or((part, ""));
    let body = body.split("\r\n--").next().unwrap_or_default();
    let body = if encoding.starts_with("base64") {
        decode64(body)
    } else if encoding.starts_with("quoted-printable") {
        let joined = body.replace("=\r\n", "");
        let bytes = joined.as_bytes();
        let mut decoded = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'=' && i + 2 < bytes.len() {
                if let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16) {
                    decoded.push(b);
                    i += 3;
                    continue;
                }
            }
            decoded.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&decoded).into_owned()
    } else {
        body.to_string()
    };
    out.push_str(&body.replace("\r\n", "\n"));
    out
}

const NO_SERVER: &str = r#"id: mail_nowhere
namespace: kflow.tests
inputs:
  - id: port
    type: INT
tasks:
  - id: send
    type: io.kestra.plugin.email.MailSend
    host: 127.0.0.1
    port: "{{ inputs.port }}"
    transportStrategy: SMTP
    sessionTimeout: 2000
    from: kflow@example.com
    to: ops@example.com
    subject: lost
"#;

#[test]
fn mail_send_delivers_headers_bodies_and_attachments_over_smtp() {
    let sink = SmtpSink::start();
    let bin = build_yamls("mail", &[("mail", MAIL), ("mail_nowhere", NO_SERVER)]);
    let state = scratch_dir("mail").join("state");
    let password = "s3cret-smtp-pass";
    let out = Command::new(&bin)
        .args(["run", "mail", "--state"])
        .arg(&state)
        .args(["--input", &format!("port={}", sink.port())])
        .env("SECRET_SMTP_PASSWORD", base64(password))
        .output()
        .expect("the binary runs");
    let summary = summary_of(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(summary["state"], "SUCCESS", "{summary:#}\n{stderr}");
    assert!(!stderr.contains(password), "{stderr}");
    assert_eq!(task_run(&summary, "send")["state"], "SUCCESS");

    let mails = sink.wait_for(3);
    assert_eq!(mails.len(), 3, "{mails:#?}");
    let mail = &mails[0];
    assert_eq!(mail.from, "kflow@example.com");
    assert_eq!(
        mail.to,
        ["ops@example.com", "dev@example.com", "boss@example.com"]
    );
    assert_eq!(mail.auth.as_deref(), Some(&*format!("kflow {password}")));
    let data = &mail.data;
    assert!(data.contains("Subject: Run mail done"), "{data}");
    assert!(
        data.contains("From: \"Kflow\" <kflow@example.com>")
            || data.contains("From: Kflow <kflow@example.com>"),
        "{data}"
    );
    assert!(
        data.contains("To: ops@example.com, dev@example.com"),
        "{data}"
    );
    assert!(data.contains("Cc: boss@example.com"), "{data}");
    assert!(data.contains("multipart/mixed"), "{data}");
    assert!(data.contains("multipart/alternative"), "{data}");
    assert!(data.contains("Plain: kflow.tests"), "{data}");
    assert!(data.contains("<p>HTML: <b>mail</b></p>"), "{data}");
    assert!(data.contains("filename=\"report.csv\""), "{data}");
    assert!(data.contains("Content-Type: text/csv"), "{data}");
    // The attachment's bytes, as the client decodes them (base64 or as they are).
    let part = data
        .split("filename=\"report.csv\"")
        .nth(1)
        .unwrap_or_default();
    let (head, body) = part.split_once("\r\n\r\n").unwrap_or_default();
    let body = body.split("\r\n--").next().unwrap_or_default();
    let decoded = if head.contains("Content-Transfer-Encoding: base64") {
        let encoded: String = body.split_whitespace().collect();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .unwrap(),
        )
        .unwrap()
    } else {
        body.replace("\r\n", "\n")
    };
    assert_eq!(decoded, "id,value\n1,42\n", "{data}");
    assert!(mails[1].data.contains("Subject: second"));
    assert_eq!(mails[1].auth, None);

    // The execution summary mail: its subject and HTML table, as a mail client shows them.
    let summary_mail = decoded_text(&mails[2].data);
    let id = summary["id"].as_str().unwrap();
    assert!(
        summary_mail.contains("Subject: [kflow.tests] mail ➛ RUNNING"),
        "{summary_mail}"
    );
    for expected in [
        "<h2 style=\"color: #daa038\">[kflow.tests] mail ➛ RUNNING</h2>",
        "<p>Nightly &lt;load&gt; finished</p>",
        "<tr><th align=\"left\">Namespace</th><td>kflow.tests</td></tr>",
        &format!("<tr><th align=\"left\">Execution ID</th><td>{id}</td></tr>"),
        "<tr><th align=\"left\">Team</th><td>data</td></tr>",
    ] {
        assert!(
            summary_mail.contains(expected),
            "{expected}\n{summary_mail}"
        );
    }

    // No server on the port: the task fails saying where it tried.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let out = Command::new(&bin)
        .args(["run", "mail_nowhere", "--state"])
        .arg(&state)
        .args(["--input", &format!("port={port}")])
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(summary_of(&out)["state"], "FAILED", "{stderr}");
    assert!(
        stderr.contains(&format!("sending the mail through 127.0.0.1:{port}")),
        "{stderr}"
    );
}
