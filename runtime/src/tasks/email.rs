//! `io.kestra.plugin.email.MailSend` (and its old name under plugin-notifications): one mail
//! over SMTP with lettre on rustls (Mozilla's roots), behind the runtime's `email` feature.
//!
//! As in Kestra: `transportStrategy` `SMTPS` (TLS from the start, the default), `SMTP_TLS`
//! (STARTTLS), `SMTP` (plain) or `SMTP_OAUTH2` (STARTTLS and XOAUTH2 with `accessToken`); `port` 25
//! unless set; `sessionTimeout` in milliseconds (10 s); `to` and `cc` are comma-separated;
//! `attachments` and `embeddedImages` are files in storage (`kestra:///...`), an embedded image
//! referred to from the HTML as `cid:<name>`. `verifyServerIdentity: false`, or the host listed
//! in `trustedHosts`, accepts a certificate that does not match.

use serde::Deserialize;
use serde_json::Value;

use crate::definition::{prop, PluginDef, PropDef, PropType, PropType::*};

/// `MailSend.Attachment` (`attachments`, `embeddedImages`).
pub static ATTACHMENT: &[PropDef] = &[
    prop("uri", String).required(),
    prop("name", String).required(),
    prop("contentType", String),
];
/// `Property<Object>` of attachments: a list, or a JSON string of one rendered at run time.
pub const ATTACHMENTS: PropType = OneOf(&[List(&Object(ATTACHMENT)), String]);

/// The transport strategies Kestra names.
pub const TRANSPORT_STRATEGIES: &[&str] = &["SMTP", "SMTPS", "SMTP_TLS", "SMTP_OAUTH2"];

/// The SMTP connection and the addressing, then the type's own.
macro_rules! mail_props {
    ($($extra:expr),* $(,)?) => {
        &[
            prop("host", String),
            prop("port", Int),
            prop("username", String),
            prop("password", String),
            prop("transportStrategy", Enum(TRANSPORT_STRATEGIES)),
            prop("sessionTimeout", Int),
            prop("verifyServerIdentity", Bool),
            prop("trustedHosts", List(&String)),
            prop("from", String),
            prop("to", String),
            prop("cc", String),
            prop("subject", String),
            prop("attachments", ATTACHMENTS),
            prop("embeddedImages", ATTACHMENTS),
            prop("accessToken", String),
            $($extra),*
        ]
    };
}

static MAIL_SEND_PROPS: &[PropDef] = mail_props![
    prop("htmlTextContent", String),
    prop("plainTextContent", String),
];

/// `MailExecution`'s own properties: the others are `MailSend`'s.
const MAIL_EXECUTION_OWN: &[&str] = &[
    "executionId",
    "customFields",
    "customMessage",
    "templateUri",
    "templateRenderMap",
];

static MAIL_EXECUTION_PROPS: &[PropDef] = mail_props![
    prop("executionId", String),
    prop("customFields", Map(&Any)),
    prop("customMessage", String),
    prop("templateUri", String).not_run_yet(),
    prop("templateRenderMap", Map(&Any)).not_run_yet(),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MailSend {
    #[serde(default)]
    pub host: Option<Value>,
    #[serde(default)]
    pub port: Option<Value>,
    #[serde(default)]
    pub username: Option<Value>,
    #[serde(default)]
    pub password: Option<Value>,
    #[serde(default)]
    pub transport_strategy: Option<Value>,
    #[serde(default)]
    pub session_timeout: Option<Value>,
    #[serde(default)]
    pub verify_server_identity: Option<Value>,
    #[serde(default)]
    pub trusted_hosts: Option<Value>,
    #[serde(default)]
    pub from: Option<Value>,
    #[serde(default)]
    pub to: Option<Value>,
    #[serde(default)]
    pub cc: Option<Value>,
    #[serde(default)]
    pub subject: Option<Value>,
    #[serde(default)]
    pub html_text_content: Option<Value>,
    #[serde(default)]
    pub plain_text_content: Option<Value>,
    #[serde(default)]
    pub attachments: Option<Value>,
    #[serde(default)]
    pub embedded_images: Option<Value>,
    #[serde(default)]
    pub access_token: Option<Value>,
}

/// `io.kestra.plugin.email.MailExecution`: a mail summarizing the execution (as the Slack
/// summary does: namespace, flow, id, state, duration, failed task, `customFields`,
/// `customMessage`), in HTML; `subject` is `[namespace] flow ➛ STATE` unless set.
#[derive(Debug)]
pub struct MailExecution {
    pub own: serde_json::Map<std::string::String, Value>,
    pub send: MailSend,
}

impl<'de> Deserialize<'de> for MailExecution {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut rest = serde_json::Map::deserialize(deserializer)?;
        let mut own = serde_json::Map::new();
        for name in MAIL_EXECUTION_OWN {
            if let Some(value) = rest.remove(*name) {
                own.insert((*name).to_string(), value);
            }
        }
        let send = MailSend::deserialize(Value::Object(rest)).map_err(serde::de::Error::custom)?;
        Ok(MailExecution { own, send })
    }
}

impl MailExecution {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.email.MailExecution",
        &["io.kestra.plugin.notifications.mail.MailExecution"],
        MAIL_EXECUTION_PROPS,
        &[],
    )
    .with_feature("email");
}

impl MailSend {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.email.MailSend",
        &["io.kestra.plugin.notifications.mail.MailSend"],
        MAIL_SEND_PROPS,
        &[],
    )
    .with_feature("email");
}

#[cfg(feature = "email")]
mod run {
    use std::fmt::Write as _;
    use std::time::Duration;

    use lettre::message::header::ContentType;
    use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
    use lettre::transport::smtp::authentication::{Credentials, Mechanism};
    use lettre::transport::smtp::client::{Tls, TlsParameters};
    use lettre::{Message, SmtpTransport, Transport};
    use serde_json::Value;

    use super::{MailExecution, MailSend};
    use crate::expr::value::to_display_string;
    use crate::plan::Level;
    use crate::tasks::props::{flag, list, optional_text};
    use crate::tasks::summary::Summary;
    use crate::tasks::{Task, TaskContext, TaskError};

    /// The largest file attached or embedded.
    const MAX_ATTACHMENT: u64 = 25 << 20;

    impl Task for MailExecution {
        type Output = ();

        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<(), TaskError> {
            let summary = Summary::of(ctx, self.own.get("executionId"))?;
            let fields = summary.fields(self.own.get("customFields"))?;
            let mut html = format!(
                "<h2 style=\"color: {}\">{}</h2>\n",
                summary.color(),
                escape(&summary.title())
            );
            if let Some(message) = optional_text(self.own.get("customMessage")) {
                let _ = writeln!(html, "<p>{}</p>", escape(&message));
            }
            html.push_str("<table>\n");
            for (name, value) in &fields {
                let _ = writeln!(
                    html,
                    "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
                    escape(name),
                    escape(value)
                );
            }
            html.push_str("</table>\n");
            let mut send = MailSend {
                html_text_content: Some(Value::String(html)),
                ..self.send.clone()
            };
            if optional_text(send.subject.as_ref()).is_none() {
                send.subject = Some(Value::String(summary.title()));
            }
            send.run(ctx).await
        }
    }

    /// `text` as HTML text.
    fn escape(text: &str) -> String {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    }

    impl Task for MailSend {
        type Output = ();

        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<(), TaskError> {
            let host = optional_text(self.host.as_ref()).ok_or("`host` is required")?;
            let port = match self.port.as_ref().filter(|v| !v.is_null()) {
                Some(v) => to_display_string(v)
                    .trim()
                    .parse::<u16>()
                    .map_err(|_| format!("`port` must be a port number, got {v}"))?,
                None => 25,
            };
            let strategy =
                optional_text(self.transport_strategy.as_ref()).unwrap_or_else(|| "SMTPS".into());
            let timeout = match self.session_timeout.as_ref().filter(|v| !v.is_null()) {
                Some(v) => Duration::from_millis(
                    to_display_string(v)
                        .trim()
                        .parse::<u64>()
                        .map_err(|_| format!("`sessionTimeout` must be milliseconds, got {v}"))?,
                ),
                None => Duration::from_secs(10),
            };
            let trusted = list(self.trusted_hosts.as_ref(), "trustedHosts")?;
            let lenient = !flag(
                self.verify_server_identity.as_ref(),
                "verifyServerIdentity",
                true,
            )? || trusted.iter().any(|t| t == &host || t == "*");
            let tls = || -> Result<TlsParameters, TaskError> {
                TlsParameters::builder(host.clone())
                    .dangerous_accept_invalid_certs(lenient)
                    .dangerous_accept_invalid_hostnames(lenient)
                    .build_rustls()
                    .map_err(|e| format!("TLS settings: {e}").into())
            };
            let mut transport = SmtpTransport::builder_dangerous(&host)
                .port(port)
                .timeout(Some(timeout));
            transport = match strategy.as_str() {
                "SMTP" => transport.tls(Tls::None),
                "SMTPS" => transport.tls(Tls::Wrapper(tls()?)),
                "SMTP_TLS" => transport.tls(Tls::Required(tls()?)),
                "SMTP_OAUTH2" => {
                    let token = optional_text(self.access_token.as_ref())
                        .ok_or("SMTP_OAUTH2 needs `accessToken`")?;
                    let user = optional_text(self.username.as_ref()).unwrap_or_default();
                    transport
                        .tls(Tls::Required(tls()?))
                        .credentials(Credentials::new(user, token))
                        .authentication(vec![Mechanism::Xoauth2])
                }
                other => {
                    return Err(format!(
                        "`transportStrategy` must be one of {}, got {other}",
                        super::TRANSPORT_STRATEGIES.join(", ")
                    )
                    .into())
                }
            };
            if strategy != "SMTP_OAUTH2" {
                if let Some(user) = optional_text(self.username.as_ref()) {
                    let password = optional_text(self.password.as_ref()).unwrap_or_default();
                    transport = transport.credentials(Credentials::new(user, password));
                }
            }
            let message = self.message(ctx)?;
            let transport = transport.build();
            let sent = tokio::task::spawn_blocking(move || transport.send(&message))
                .await
                .map_err(|e| format!("sending the mail: {e}"))?;
            sent.map_err(|e| format!("sending the mail through {host}:{port}: {e}"))?;
            ctx.log(Level::Info, "Email sent");
            Ok(())
        }
    }

    impl MailSend {
        fn message(&self, ctx: &TaskContext<'_>) -> Result<Message, TaskError> {
            let from = optional_text(self.from.as_ref()).ok_or("`from` is required")?;
            let mut builder = Message::builder()
                .from(mailbox(&from, "from")?)
                .subject(optional_text(self.subject.as_ref()).unwrap_or_default());
            let to = addresses(self.to.as_ref(), "to")?;
            if to.is_empty() {
                return Err("`to` names no address".into());
            }
            for address in to {
                builder = builder.to(address);
            }
            for address in addresses(self.cc.as_ref(), "cc")? {
                builder = builder.cc(address);
            }
            let mut content = MultiPart::alternative().build();
            let plain = optional_text(self.plain_text_content.as_ref());
            let html = optional_text(self.html_text_content.as_ref());
            if plain.is_none() && html.is_none() {
                content = content.singlepart(SinglePart::plain(String::new()));
            }
            if let Some(plain) = plain {
                content = content.singlepart(SinglePart::plain(plain));
            }
            if let Some(html) = html {
                content = content.singlepart(SinglePart::html(html));
            }
            let images = files(self.embedded_images.as_ref(), "embeddedImages", ctx)?;
            if !images.is_empty() {
                let mut related = MultiPart::related().multipart(content);
                for (name, content_type, bytes) in images {
                    related =
                        related.singlepart(Attachment::new_inline(name).body(bytes, content_type));
                }
                content = related;
            }
            let attachments = files(self.attachments.as_ref(), "attachments", ctx)?;
            if !attachments.is_empty() {
                let mut mixed = MultiPart::mixed().multipart(content);
                for (name, content_type, bytes) in attachments {
                    mixed = mixed.singlepart(Attachment::new(name).body(bytes, content_type));
                }
                content = mixed;
            }
            builder
                .multipart(content)
                .map_err(|e| format!("building the mail: {e}").into())
        }
    }

    fn mailbox(text: &str, property: &str) -> Result<Mailbox, TaskError> {
        text.trim()
            .parse::<Mailbox>()
            .map_err(|e| format!("`{property}`: `{}` is not an address: {e}", text.trim()).into())
    }

    /// A comma-separated list of addresses.
    fn addresses(value: Option<&Value>, property: &str) -> Result<Vec<Mailbox>, TaskError> {
        let Some(text) = optional_text(value) else {
            return Ok(Vec::new());
        };
        text.split(',')
            .filter(|a| !a.trim().is_empty())
            .map(|a| mailbox(a, property))
            .collect()
    }

    /// `attachments` / `embeddedImages`: (name, content type, bytes) read from storage.
    fn files(
        value: Option<&Value>,
        property: &str,
        ctx: &TaskContext<'_>,
    ) -> Result<Vec<(String, ContentType, Vec<u8>)>, TaskError> {
        let items = match value {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(items)) => items.clone(),
            Some(Value::String(text)) => serde_json::from_str::<Vec<Value>>(text)
                .map_err(|e| format!("`{property}` is not a JSON list: {e}"))?,
            Some(other) => {
                return Err(format!("`{property}` must be a list, got {other}").into());
            }
        };
        let mut out = Vec::new();
        for item in items {
            let field = |name: &str| optional_text(item.get(name));
            let uri = field("uri").ok_or_else(|| format!("`{property}`: an item has no `uri`"))?;
            let name =
                field("name").ok_or_else(|| format!("`{property}`: an item has no `name`"))?;
            let content_type =
                field("contentType").unwrap_or_else(|| "application/octet-stream".into());
            let content_type = ContentType::parse(&content_type)
                .map_err(|e| format!("`{property}`: content type `{content_type}`: {e}"))?;
            let storage = ctx.storage()?;
            let file = storage
                .open(&uri)
                .map_err(|e| format!("`{property}` {name}: {e}"))?;
            let size = file.metadata().map_or(0, |m| m.len());
            if size > MAX_ATTACHMENT {
                return Err(format!(
                    "`{property}` {name} is {size} bytes, more than {} MiB",
                    MAX_ATTACHMENT >> 20
                )
                .into());
            }
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_ATTACHMENT), &mut bytes)
                .map_err(|e| format!("`{property}` {name}: {e}"))?;
            out.push((name, content_type, bytes));
        }
        Ok(out)
    }
}
