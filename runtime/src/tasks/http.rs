//! `io.kestra.plugin.core.http`: `Request` (the response in the outputs) and `Download` (the
//! response streamed into internal storage), on the shared client of [`crate::http_client`].
//!
//! - `method` (GET by default), `headers`, `contentType`; `body` as text (a map or list is sent
//!   as JSON); or `formData`: URL-encoded, or with `contentType: multipart/form-data` one part
//!   per entry, a `kestra:///` URI (or `{name, content}`) being sent as a file.
//! - `options` as Kestra 1.0 reads them: `timeout` (`connectTimeout`, `readIdleTimeout`),
//!   `proxy` (HTTP, or DIRECT for none; without one the environment's `HTTPS_PROXY`,
//!   `NO_PROXY`, ... apply), `auth` (BASIC or BEARER), `ssl.insecureTrustAllCertificates`,
//!   `followRedirects` (on), `allowFailed`, `allowedResponseCodes`, `logs`; the 0.21 keys
//!   (`basicAuthUser`, `proxyAddress`, `readTimeout`, `sslOptions`, ...) too.
//! - A response code of 400 or more fails the task unless `allowFailed` (or it is among
//!   `allowedResponseCodes`, which then are the only codes that succeed).
//! - `Request`: `outputs.<id>.body` is the body as text (Kestra's: read it with `json(...)` or
//!   `jq`), at most [`MAX_BODY`]; `Download` stores a body of any size.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::definition::{
    out, prop, OutputDef, PluginDef, PropDef, PropType, PropType::*, ValueType,
};

/// The largest body `Request` keeps in its outputs (Kestra's default `maxContentLength`).
pub const MAX_BODY: usize = 10 << 20;

/// `AbstractHttp.method`: `io.micronaut.http.HttpMethod` in 0.21; any string in Kestra 1.0.
const HTTP_METHODS: &[&str] = &[
    "OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "CONNECT", "PATCH", "CUSTOM",
];

/// `io.kestra.core.http.client.configurations.HttpConfiguration` (the `options:` of the HTTP
/// based plugins): Kestra 1.0's keys plus the 0.21 `RequestOptions` keys it still accepts.
pub static HTTP_CONFIGURATION: &[PropDef] = &[
    prop(
        "timeout",
        Object(&[
            prop("connectTimeout", Duration),
            prop("readIdleTimeout", Duration),
        ]),
    ),
    // Kestra 1.0's are `Property<T>`: rendered (a password from a secret).
    prop("proxy", Object(HTTP_PROXY)),
    prop("auth", Object(HTTP_AUTH)),
    prop("ssl", Object(&[prop("insecureTrustAllCertificates", Bool)])),
    prop("followRedirects", Bool),
    prop("allowFailed", Bool),
    prop("allowedResponseCodes", List(&Int)),
    // The body is read as UTF-8, as Kestra's Request reads it.
    prop("defaultCharset", String).not_run_yet(),
    prop(
        "logs",
        List(&Enum(&[
            "REQUEST_HEADERS",
            "REQUEST_BODY",
            "RESPONSE_HEADERS",
            "RESPONSE_BODY",
        ])),
    )
    .not_dynamic(),
    prop("connectTimeout", Duration)
        .not_dynamic()
        .deprecated("use `options.timeout.connectTimeout`"),
    prop("readTimeout", Duration)
        .not_dynamic()
        .deprecated("use `options.timeout.readIdleTimeout`"),
    prop("readIdleTimeout", Duration)
        .not_dynamic()
        .deprecated("use `options.timeout.readIdleTimeout`"),
    prop("connectionPoolIdleTimeout", Duration)
        .not_dynamic()
        .deprecated("no longer used"),
    prop("maxContentLength", Int)
        .not_dynamic()
        .deprecated("no longer used"),
    prop("proxyType", Enum(&["DIRECT", "HTTP", "SOCKS"]))
        .not_dynamic()
        .deprecated("use `options.proxy.type`"),
    prop("proxyAddress", String).deprecated("use `options.proxy.address`"),
    prop("proxyPort", Int)
        .not_dynamic()
        .deprecated("use `options.proxy.port`"),
    prop("proxyUsername", String).deprecated("use `options.proxy.username`"),
    prop("proxyPassword", String).deprecated("use `options.proxy.password`"),
    prop("basicAuthUser", String).deprecated("use `options.auth` with `type: BASIC`"),
    prop("basicAuthPassword", String).deprecated("use `options.auth` with `type: BASIC`"),
    prop(
        "logLevel",
        Enum(&[
            "ALL",
            "TRACE",
            "DEBUG",
            "INFO",
            "WARN",
            "ERROR",
            "OFF",
            "NOT_SPECIFIED",
        ]),
    )
    .not_dynamic()
    .deprecated("use `options.logs`"),
];
/// `HttpConfiguration.proxy` (`ProxyConfiguration`).
static HTTP_PROXY: &[PropDef] = &[
    prop("type", Enum(&["DIRECT", "HTTP", "SOCKS"])),
    prop("address", String),
    prop("port", Int),
    prop("username", String),
    prop("password", String),
];
/// `HttpConfiguration.auth` (`AbstractAuthConfiguration`): `BASIC` (username, password) or
/// `BEARER` (token).
static HTTP_AUTH: &[PropDef] = &[
    prop("type", Enum(&["BASIC", "BEARER"]))
        .required()
        .not_dynamic(),
    prop("username", String),
    prop("password", String),
    prop("token", String),
];

/// `AbstractHttp.options`.
const HTTP_OPTIONS: PropType = Object(HTTP_CONFIGURATION);

/// `HttpInterface.SslOptions` (0.21), deprecated by 1.0 in favour of `options.ssl`.
const HTTP_SSL_OPTIONS: PropType = Object(&[prop("insecureTrustAllCertificates", Bool)]);

/// `AbstractHttp`'s properties, then the type's own (`Request`: `encryptBody`; `Download`:
/// `failOnEmptyResponse`).
macro_rules! abstract_http {
    ($($extra:expr),* $(,)?) => {
        &[
            prop("uri", String).required(),
            prop("method", Enum(HTTP_METHODS)),
            prop("body", Any), // `Property<String>`: a map or list is sent as JSON
            prop("formData", Map(&Any)),
            prop("contentType", String),
            prop("headers", Map(&String)),
            prop("options", HTTP_OPTIONS),
            prop("sslOptions", HTTP_SSL_OPTIONS).not_dynamic().deprecated("use `options.ssl`"),
            prop("allowFailed", Bool).deprecated("use `options.allowFailed`"),
            $($extra),*
        ]
    };
}

/// Response headers: each name to the list of its values.
const HEADERS: ValueType = ValueType::Map(&ValueType::List(&ValueType::String));

const REQUEST_OUTPUTS: &[OutputDef] = &[
    out("uri", ValueType::String),
    out("code", ValueType::Int),
    out("headers", HEADERS),
    out("body", ValueType::Any),
    out("encryptedBody", ValueType::Any),
    out("formData", ValueType::Map(&ValueType::Any)),
];

/// `http.Request`: one request; the response's `code`, `headers` and `body` (text) in the
/// outputs, with `uri` the URL requested.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Request {
    pub uri: Value,
    #[serde(default)]
    pub method: Option<Value>,
    #[serde(default)]
    pub body: Option<Value>,
    #[serde(default)]
    pub form_data: Option<Value>,
    #[serde(default)]
    pub content_type: Option<Value>,
    #[serde(default)]
    pub headers: Option<Value>,
    #[serde(default)]
    pub options: Option<Value>,
    #[serde(default)]
    pub ssl_options: Option<Value>,
    #[serde(default)]
    pub allow_failed: Option<Value>,
    #[serde(default)]
    pub encrypt_body: Option<Value>,
}

impl Request {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.http.Request",
        &["io.kestra.plugin.fs.http.Request"],
        // `encryptBody` needs Kestra's server encryption key: the task refuses it.
        abstract_http![prop("encryptBody", Bool).not_run_yet()],
        REQUEST_OUTPUTS,
    )
    .with_feature("http");
}

/// `http.Download`: one request whose response body is streamed into internal storage;
/// `outputs.<id>.uri` is the stored file, `length` its size.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Download {
    pub uri: Value,
    #[serde(default)]
    pub method: Option<Value>,
    #[serde(default)]
    pub body: Option<Value>,
    #[serde(default)]
    pub form_data: Option<Value>,
    #[serde(default)]
    pub content_type: Option<Value>,
    #[serde(default)]
    pub headers: Option<Value>,
    #[serde(default)]
    pub options: Option<Value>,
    #[serde(default)]
    pub ssl_options: Option<Value>,
    #[serde(default)]
    pub allow_failed: Option<Value>,
    #[serde(default)]
    pub fail_on_empty_response: Option<Value>,
}

impl Download {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.http.Download",
        &["io.kestra.plugin.fs.http.Download"],
        abstract_http![prop("failOnEmptyResponse", Bool)],
        &[
            out("uri", ValueType::Uri),
            out("code", ValueType::Int),
            out("length", ValueType::Int),
            out("headers", HEADERS),
        ],
    )
    .with_feature("http");
}

/// What `Request` gives.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestOutput {
    pub uri: std::string::String,
    pub code: u16,
    pub headers: Map<std::string::String, Value>,
    /// The body as text; null when the response has none.
    pub body: Value,
    /// With `encryptBody` in Kestra; always null here (kflow refuses `encryptBody`).
    pub encrypted_body: Value,
    /// Declared by Kestra's output, never filled: null.
    pub form_data: Value,
}

/// What `Download` gives.
#[derive(Debug, Serialize)]
pub struct DownloadOutput {
    pub uri: std::string::String,
    pub code: u16,
    pub length: u64,
    pub headers: Map<std::string::String, Value>,
}

/// The properties `Request` and `Download` share.
#[cfg(feature = "http")]
struct Call<'a> {
    uri: &'a Value,
    method: Option<&'a Value>,
    body: Option<&'a Value>,
    form_data: Option<&'a Value>,
    content_type: Option<&'a Value>,
    headers: Option<&'a Value>,
    options: Option<&'a Value>,
    ssl_options: Option<&'a Value>,
    allow_failed: Option<&'a Value>,
}

macro_rules! call_of {
    ($task:ty) => {
        #[cfg(feature = "http")]
        impl $task {
            fn call(&self) -> Call<'_> {
                Call {
                    uri: &self.uri,
                    method: self.method.as_ref(),
                    body: self.body.as_ref(),
                    form_data: self.form_data.as_ref(),
                    content_type: self.content_type.as_ref(),
                    headers: self.headers.as_ref(),
                    options: self.options.as_ref(),
                    ssl_options: self.ssl_options.as_ref(),
                    allow_failed: self.allow_failed.as_ref(),
                }
            }
        }
    };
}
call_of!(Request);
call_of!(Download);

#[cfg(feature = "notify")]
pub(crate) use run::client_options;

#[cfg(feature = "http")]
mod run {
    use super::{Call, Download, DownloadOutput, Request, RequestOutput, MAX_BODY};
    use crate::expr::value::{duration_of, to_display_string};
    use crate::http_client::{self, without_url, ClientOptions, ProxyOptions};
    use crate::plan::Level;
    use crate::tasks::props::{flag, optional_text};
    use crate::tasks::{Task, TaskContext, TaskError};
    use serde_json::{Map, Value};

    /// `options` as read: how to connect, and which answers succeed.
    struct Options {
        client: ClientOptions,
        auth: Option<Auth>,
        allow_failed: bool,
        allowed_codes: Vec<u16>,
        logs: Vec<String>,
    }

    enum Auth {
        Basic(String, String),
        Bearer(String),
    }

    fn object<'a>(
        value: Option<&'a Value>,
        name: &str,
    ) -> Result<Option<&'a Map<String, Value>>, TaskError> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(other) => Err(format!("`{name}` must be a map, got {other}").into()),
        }
    }

    fn duration(
        value: Option<&Value>,
        name: &str,
    ) -> Result<Option<std::time::Duration>, TaskError> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(v) => duration_of(v)
                .map(Some)
                .map_err(|e| format!("`{name}`: {e}").into()),
        }
    }

    fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
        optional_text(map.get(key))
    }

    /// How to connect, from `options` (Kestra 1.0's keys and the 0.21 ones) and the deprecated
    /// `sslOptions`: what every task on the HTTP client reads (`Request`, `Download`, the
    /// webhook notifications).
    pub(crate) fn client_options(
        options: &Map<String, Value>,
        ssl_options: Option<&Value>,
    ) -> Result<ClientOptions, TaskError> {
        let empty = Map::new();
        let timeout = object(options.get("timeout"), "options.timeout")?.unwrap_or(&empty);
        let connect_timeout = match duration(
            timeout.get("connectTimeout"),
            "options.timeout.connectTimeout",
        )? {
            Some(d) => Some(d),
            None => duration(options.get("connectTimeout"), "options.connectTimeout")?,
        };
        let mut read_idle_timeout = duration(
            timeout.get("readIdleTimeout"),
            "options.timeout.readIdleTimeout",
        )?;
        for key in ["readIdleTimeout", "readTimeout"] {
            if read_idle_timeout.is_none() {
                read_idle_timeout = duration(options.get(key), &format!("options.{key}"))?;
            }
        }
        let ssl = object(options.get("ssl"), "options.ssl")?;
        let old_ssl = object(ssl_options, "sslOptions")?;
        let insecure = ssl
            .or(old_ssl)
            .map(|s| {
                flag(
                    s.get("insecureTrustAllCertificates"),
                    "insecureTrustAllCertificates",
                    false,
                )
            })
            .transpose()?
            .unwrap_or(false);
        let proxy = match object(options.get("proxy"), "options.proxy")? {
            Some(p) => text(p, "address").map(|address| {
                (
                    text(p, "type"),
                    address,
                    p.get("port").cloned(),
                    text(p, "username"),
                    text(p, "password"),
                )
            }),
            None => text(options, "proxyAddress").map(|address| {
                (
                    text(options, "proxyType"),
                    address,
                    options.get("proxyPort").cloned(),
                    text(options, "proxyUsername"),
                    text(options, "proxyPassword"),
                )
            }),
        };
        let proxy = match proxy {
            Some((kind, address, port, username, password)) => Some(ProxyOptions {
                kind: kind.unwrap_or_else(|| "HTTP".into()),
                address,
                port: match port.as_ref().filter(|p| !p.is_null()) {
                    None => None,
                    Some(p) => Some(to_display_string(p).trim().parse::<u16>().map_err(|_| {
                        format!("`options.proxy.port` must be a port number, got {p}")
                    })?),
                },
                username,
                password,
            }),
            None => None,
        };
        Ok(ClientOptions {
            connect_timeout,
            read_idle_timeout,
            total_timeout: None,
            follow_redirects: flag(
                options.get("followRedirects"),
                "options.followRedirects",
                true,
            )?,
            insecure,
            proxy,
        })
    }

    fn read_options(call: &Call<'_>) -> Result<Options, TaskError> {
        let empty = Map::new();
        let options = object(call.options, "options")?.unwrap_or(&empty);
        let client = client_options(options, call.ssl_options)?;
        let auth = match object(options.get("auth"), "options.auth")? {
            Some(a) => match text(a, "type")
                .as_deref()
                .map(str::to_ascii_uppercase)
                .as_deref()
            {
                Some("BASIC") => Some(Auth::Basic(
                    text(a, "username").unwrap_or_default(),
                    text(a, "password").unwrap_or_default(),
                )),
                Some("BEARER") => Some(Auth::Bearer(
                    text(a, "token").ok_or("`options.auth` of type BEARER needs `token`")?,
                )),
                other => {
                    return Err(format!(
                        "`options.auth.type` must be BASIC or BEARER, got {}",
                        other.unwrap_or("nothing")
                    )
                    .into())
                }
            },
            None => text(options, "basicAuthUser").map(|user| {
                Auth::Basic(user, text(options, "basicAuthPassword").unwrap_or_default())
            }),
        };
        let allow_failed = flag(options.get("allowFailed"), "options.allowFailed", false)?
            || flag(call.allow_failed, "allowFailed", false)?;
        let mut allowed_codes = Vec::new();
        match options.get("allowedResponseCodes") {
            None | Some(Value::Null) => {}
            Some(Value::Array(codes)) => {
                for code in codes {
                    allowed_codes.push(to_display_string(code).trim().parse::<u16>().map_err(
                        |_| {
                            format!(
                                "`options.allowedResponseCodes`: `{code}` is not a response code"
                            )
                        },
                    )?);
                }
            }
            Some(other) => {
                return Err(format!(
                    "`options.allowedResponseCodes` must be a list of codes, got {other}"
                )
                .into())
            }
        }
        let logs = crate::tasks::props::list(options.get("logs"), "options.logs")?;
        Ok(Options {
            client,
            auth,
            allow_failed,
            allowed_codes,
            logs,
        })
    }

    impl Options {
        fn accepts(&self, code: u16) -> bool {
            if self.allowed_codes.is_empty() {
                code < 400 || self.allow_failed
            } else {
                self.allowed_codes.contains(&code)
            }
        }

        fn logs(&self, what: &str) -> bool {
            self.logs.iter().any(|l| l == what)
        }
    }

    /// The request as the task describes it, sent; the response and the URI requested.
    async fn send(
        call: &Call<'_>,
        options: &Options,
        ctx: &TaskContext<'_>,
    ) -> Result<(String, reqwest::Response), TaskError> {
        let uri = to_display_string(call.uri);
        let method_name = optional_text(call.method)
            .unwrap_or_else(|| "GET".into())
            .to_ascii_uppercase();
        let method = reqwest::Method::from_bytes(method_name.as_bytes())
            .map_err(|_| format!("`{method_name}` is not an HTTP method"))?;
        let client = http_client::client(&options.client)?;
        let mut request = client.request(method, &uri);
        let mut logged_headers: Vec<String> = Vec::new();
        if let Some(headers) = object(call.headers, "headers")? {
            for (name, value) in headers {
                let value = to_display_string(value);
                logged_headers.push(format!("{name}: {value}"));
                request = request.header(name.as_str(), value);
            }
        }
        match &options.auth {
            Some(Auth::Basic(user, password)) => request = request.basic_auth(user, Some(password)),
            Some(Auth::Bearer(token)) => request = request.bearer_auth(token),
            None => {}
        }
        let content_type = optional_text(call.content_type);
        let mut logged_body = None;
        if let Some(form) = object(call.form_data, "formData")? {
            if content_type
                .as_deref()
                .is_some_and(|c| c.to_ascii_lowercase().starts_with("multipart/form-data"))
            {
                request = request.multipart(multipart(form, ctx)?);
            } else {
                let pairs: Vec<(String, String)> = form
                    .iter()
                    .map(|(k, v)| (k.clone(), to_display_string(v)))
                    .collect();
                logged_body = Some(
                    form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(&pairs)
                        .finish(),
                );
                request = request.form(&pairs);
            }
        } else {
            if let Some(content_type) = &content_type {
                request = request.header(reqwest::header::CONTENT_TYPE, content_type);
            }
            match call.body {
                None | Some(Value::Null) => {}
                Some(Value::String(text)) => {
                    logged_body = Some(text.clone());
                    request = request.body(text.clone());
                }
                // A map or list is sent as JSON.
                Some(other) => {
                    let text = other.to_string();
                    if content_type.is_none() {
                        request = request.header(reqwest::header::CONTENT_TYPE, "application/json");
                    }
                    logged_body = Some(text.clone());
                    request = request.body(text);
                }
            }
        }
        if options.logs("REQUEST_HEADERS") {
            ctx.log(
                Level::Info,
                &format!("request headers: {}", logged_headers.join(", ")),
            );
        }
        if let (true, Some(body)) = (options.logs("REQUEST_BODY"), &logged_body) {
            ctx.log(Level::Info, &format!("request body: {body}"));
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("{method_name} {uri}: {}", without_url(&e)))?;
        if options.logs("RESPONSE_HEADERS") {
            let headers: Vec<String> = response
                .headers()
                .iter()
                .map(|(n, v)| format!("{n}: {}", String::from_utf8_lossy(v.as_bytes())))
                .collect();
            ctx.log(
                Level::Info,
                &format!("response headers: {}", headers.join(", ")),
            );
        }
        Ok((uri, response))
    }

    /// `formData` as multipart parts: a `kestra:///` URI, or `{name, content}`, is a file.
    fn multipart(
        form: &Map<String, Value>,
        ctx: &TaskContext<'_>,
    ) -> Result<reqwest::multipart::Form, TaskError> {
        let mut parts = reqwest::multipart::Form::new();
        for (key, value) in form {
            let (file_name, content) = match value {
                Value::Object(file) if file.contains_key("content") => (
                    text(file, "name"),
                    file.get("content")
                        .map(to_display_string)
                        .unwrap_or_default(),
                ),
                other => (None, to_display_string(other)),
            };
            if content.starts_with("kestra:///") {
                let storage = ctx.storage()?;
                let size = storage.size(&content)?;
                if size > MAX_PART as u64 {
                    return Err(format!(
                        "`formData.{key}`: the file is larger than {} MiB",
                        MAX_PART >> 20
                    )
                    .into());
                }
                let bytes = std::fs::read(storage.path(&content)?)
                    .map_err(|e| format!("`formData.{key}`: {e}"))?;
                let name = file_name.unwrap_or_else(|| crate::storage::file_name(&content));
                parts = parts.part(
                    key.clone(),
                    reqwest::multipart::Part::bytes(bytes).file_name(name),
                );
            } else if let Some(name) = file_name {
                parts = parts.part(
                    key.clone(),
                    reqwest::multipart::Part::text(content).file_name(name),
                );
            } else {
                parts = parts.text(key.clone(), content);
            }
        }
        Ok(parts)
    }

    /// The largest stored file sent as one multipart part (read into memory).
    const MAX_PART: usize = 256 << 20;

    /// An answer the task does not accept, as an error: the code, and the start of the body.
    async fn refused(uri: &str, mut response: reqwest::Response) -> TaskError {
        let status = response.status();
        let excerpt = match http_client::read_body(&mut response, 64 << 10).await {
            Ok(bytes) if !bytes.is_empty() => {
                let text = String::from_utf8_lossy(&bytes);
                let cut: String = text.chars().take(500).collect();
                format!(": {}", cut.trim())
            }
            _ => String::new(),
        };
        format!(
            "{uri} answered {status}{excerpt} (`options.allowFailed: true` or `options.allowedResponseCodes` accept it)"
        )
        .into()
    }

    impl Task for Request {
        type Output = RequestOutput;

        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<RequestOutput, TaskError> {
            if flag(self.encrypt_body.as_ref(), "encryptBody", false)? {
                return Err("`encryptBody` needs Kestra's server encryption key, which kflow does not have: leave it out (outputs are recorded with secrets masked)".into());
            }
            let call = self.call();
            let options = read_options(&call)?;
            let (uri, mut response) = send(&call, &options, ctx).await?;
            let code = response.status().as_u16();
            if !options.accepts(code) {
                return Err(refused(&uri, response).await);
            }
            let headers = http_client::headers_of(response.headers());
            let bytes = http_client::read_body(&mut response, MAX_BODY).await.map_err(|e| match e {
                Some(e) => TaskError::from(format!("{uri}: {e}")),
                None => TaskError::from(format!(
                    "{uri}: the response body is larger than {} MiB; `io.kestra.plugin.core.http.Download` stores a body of any size",
                    MAX_BODY >> 20
                )),
            })?;
            let body = if bytes.is_empty() {
                Value::Null
            } else {
                Value::String(String::from_utf8(bytes).map_err(|_| {
                    format!("{uri}: the response body is not UTF-8 text; `io.kestra.plugin.core.http.Download` stores it as it is")
                })?)
            };
            if options.logs("RESPONSE_BODY") {
                ctx.log(
                    Level::Info,
                    &format!("response body: {}", to_display_string(&body)),
                );
            }
            ctx.log(Level::Debug, &format!("{uri} answered {code}"));
            Ok(RequestOutput {
                uri,
                code,
                headers,
                body,
                encrypted_body: Value::Null,
                form_data: Value::Null,
            })
        }
    }

    impl Task for Download {
        type Output = DownloadOutput;

        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<DownloadOutput, TaskError> {
            let call = self.call();
            let options = read_options(&call)?;
            let (uri, mut response) = send(&call, &options, ctx).await?;
            let code = response.status().as_u16();
            if !options.accepts(code) {
                return Err(refused(&uri, response).await);
            }
            let headers = http_client::headers_of(response.headers());
            let name = file_name_of(&response);
            let stored = ctx.task_file_uri(&name);
            let mut writer = ctx.storage()?.writer(&stored);
            let mut length = 0u64;
            loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => {
                        length += chunk.len() as u64;
                        if !writer.send(chunk).await {
                            break; // the writer stopped: its error comes with `finish`
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        writer.abandon().await;
                        return Err(
                            format!("{uri}: reading the response: {}", without_url(&e)).into()
                        );
                    }
                }
            }
            writer.finish().await?;
            if length == 0
                && flag(
                    self.fail_on_empty_response.as_ref(),
                    "failOnEmptyResponse",
                    true,
                )?
            {
                let _ = ctx.storage()?.delete(&stored);
                return Err(format!("{uri} answered {code} with an empty body (`failOnEmptyResponse: false` accepts it)").into());
            }
            ctx.log(Level::Debug, &format!("{uri}: {length} bytes stored"));
            Ok(DownloadOutput {
                uri: stored,
                code,
                length,
                headers,
            })
        }
    }

    /// The stored file's name: the response's `Content-Disposition` file name, else the URL
    /// path's last segment, else `download`.
    fn file_name_of(response: &reqwest::Response) -> String {
        let disposition = response
            .headers()
            .get(reqwest::header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.split(';').find_map(|part| {
                    let (key, value) = part.trim().split_once('=')?;
                    (key.trim().eq_ignore_ascii_case("filename"))
                        .then(|| value.trim().trim_matches('"').to_string())
                })
            })
            .filter(|name| !name.is_empty());
        let from_path = || {
            let path = response.url().path();
            let last = path.rsplit('/').next().unwrap_or_default();
            (!last.is_empty()).then(|| {
                percent_encoding::percent_decode_str(last)
                    .decode_utf8_lossy()
                    .into_owned()
            })
        };
        crate::storage::file_name(
            &disposition
                .or_else(from_path)
                .unwrap_or_else(|| "download".into()),
        )
    }
}
