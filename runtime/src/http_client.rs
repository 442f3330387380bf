//! The HTTP client of everything that makes requests (`http.Request`, `http.Download`,
//! `http.Trigger`, the notification tasks): reqwest on rustls with Mozilla's roots built in (no
//! system certificates needed). Proxies come from the environment as curl reads them
//! (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`, lower case too) unless the task names
//! one. Kestra's `options` (`HttpConfiguration`) map onto [`ClientOptions`].

use std::time::Duration;

use serde_json::{Map, Value};

/// How a client connects: Kestra's `options` of an HTTP task, read.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub connect_timeout: Option<Duration>,
    /// The longest wait for the next bytes of a response (`readIdleTimeout`).
    pub read_idle_timeout: Option<Duration>,
    /// The longest a whole request may take (`http.Trigger`'s poll).
    pub total_timeout: Option<Duration>,
    pub follow_redirects: bool,
    /// `ssl.insecureTrustAllCertificates`: any certificate is accepted (a self-signed test
    /// server); off by default.
    pub insecure: bool,
    pub proxy: Option<ProxyOptions>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: None,
            read_idle_timeout: None,
            total_timeout: None,
            follow_redirects: true,
            insecure: false,
            proxy: None,
        }
    }
}

/// A proxy the task names (`options.proxy`), instead of the environment's.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// `HTTP`, `SOCKS` or `DIRECT` (no proxy, not even the environment's).
    pub kind: String,
    pub address: String,
    pub port: Option<u16>,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// Redirects followed at most (curl's default is 50; browsers stop near 20).
const MAX_REDIRECTS: usize = 10;

/// A client for `options`.
pub fn client(options: &ClientOptions) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("kflow/", env!("CARGO_PKG_VERSION")))
        .redirect(if options.follow_redirects {
            reqwest::redirect::Policy::limited(MAX_REDIRECTS)
        } else {
            reqwest::redirect::Policy::none()
        })
        .danger_accept_invalid_certs(options.insecure);
    if let Some(timeout) = options.connect_timeout {
        builder = builder.connect_timeout(timeout);
    }
    if let Some(timeout) = options.read_idle_timeout {
        builder = builder.read_timeout(timeout);
    }
    if let Some(timeout) = options.total_timeout {
        builder = builder.timeout(timeout);
    }
    if let Some(proxy) = &options.proxy {
        match proxy.kind.to_ascii_uppercase().as_str() {
            "DIRECT" => builder = builder.no_proxy(),
            "HTTP" | "" => {
                let url = match proxy.port {
                    Some(port) => format!("http://{}:{port}", proxy.address),
                    None => format!("http://{}", proxy.address),
                };
                let mut named = reqwest::Proxy::all(&url)
                    .map_err(|e| format!("`options.proxy`: {}", without_url(&e)))?;
                if let Some(user) = &proxy.username {
                    named = named.basic_auth(user, proxy.password.as_deref().unwrap_or(""));
                }
                builder = builder.proxy(named);
            }
            other => {
                return Err(format!(
                    "`options.proxy.type: {other}` is not supported: kflow's client goes through HTTP proxies (type HTTP) or none (DIRECT)"
                ))
            }
        }
    }
    builder
        .build()
        .map_err(|e| format!("the HTTP client: {}", without_url(&e)))
}

/// Response headers as Kestra gives them: each name to the list of its values.
pub fn headers_of(headers: &reqwest::header::HeaderMap) -> Map<String, Value> {
    let mut out: Map<String, Value> = Map::new();
    for (name, value) in headers {
        let entry = out
            .entry(name.as_str().to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = entry {
            values.push(Value::String(
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            ));
        }
    }
    out
}

/// An error's text without the URL (which may carry a secret the flow put in it); the caller
/// names the URL when it is safe to.
pub fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "the URL");
    }
    // reqwest's own text is terse ("error sending request"): the cause says what happened.
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A response's whole body, at most `limit` bytes (`Err(None)` beyond it: the caller says what
/// to do instead).
pub async fn read_body(
    response: &mut reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, Option<String>> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Some(format!("reading the response: {}", without_url(&e))))?
    {
        if bytes.len() + chunk.len() > limit {
            return Err(None);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}
