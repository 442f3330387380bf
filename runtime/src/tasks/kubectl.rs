//! Kestra's `kubernetes.kubectl.Apply`, `Get` and `Delete`, run by the `kubectl` command-line
//! tool (Kestra's plugin talks to the API with a Java client; an edge host has `kubectl`).
//!
//! - `connection` becomes a kubeconfig (the server, its CA, the client's certificate and key or
//!   token) in a private file outside the working directory, removed after the task; without
//!   it `kubectl` reads its own configuration (`KUBECONFIG`, `~/.kube/config`, in-cluster).
//! - `Apply` is a server-side apply of `spec` (one or more YAML documents) with the field
//!   manager `kflow`, without client-side validation (Kestra's client sends the spec as it
//!   is); its `metadata` output lists each applied resource's metadata.
//! - `Get` reads `resourceType` (`<type>.<apiVersion>.<apiGroup>` when those are given), only
//!   `resourcesNames` when given (a name not found is a warning, as in Kestra); an empty
//!   `namespace` reads every namespace (`-A`). `fetchType` (NONE unless set): `FETCH` gives
//!   `metadataItems` and `statusItems`, `FETCH_ONE` the first resource's `metadataItem` and
//!   `statusItem`, `STORE` an Ion file of `{metadata, status}` rows (`uri`); `size` counts them.
//! - `Delete` deletes the named resources without waiting for their finalizers.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::definition::{out, prop, OutputDef, PluginDef, PropDef, PropType::*, ValueType};

/// `connection`: what a kubeconfig says of a cluster and a user.
static CONNECTION: &[PropDef] = &[
    prop("masterUrl", String),
    prop("namespace", String),
    prop("oauthToken", String),
    prop("username", String),
    prop("password", String),
    prop("caCertData", String),
    prop("caCertFile", String),
    prop("clientCertData", String),
    prop("clientCertFile", String),
    prop("clientKeyData", String),
    prop("clientKeyFile", String),
    prop("trustCerts", Bool),
    prop("disableHostnameVerification", Bool).not_run_yet(),
    prop("apiVersion", String).not_run_yet(),
    prop("clientKeyAlgo", String).not_run_yet(),
    prop("clientKeyPassphrase", String).not_run_yet(),
    prop("oauthTokenProvider", Any).not_run_yet(),
    prop("keyStoreFile", String).not_run_yet(),
    prop("keyStorePassphrase", String).not_run_yet(),
    prop("trustStoreFile", String).not_run_yet(),
    prop("trustStorePassphrase", String).not_run_yet(),
];

/// The properties every kubectl task has, followed by the type's own.
macro_rules! kubectl_props {
    ($($extra:expr),* $(,)?) => {
        &[
            prop("connection", Object(CONNECTION)),
            prop("namespace", String),
            prop("waitUntilReady", Duration).not_run_yet(),
            $($extra),*
        ]
    };
}

static APPLY_PROPS: &[PropDef] = kubectl_props![prop("spec", String).required()];
static GET_PROPS: &[PropDef] = kubectl_props![
    prop("resourceType", String).required(),
    prop("resourcesNames", List(&String)),
    prop("apiGroup", String),
    prop("apiVersion", String),
    prop("fetchType", crate::tasks::sql::FETCH_TYPE),
];
static DELETE_PROPS: &[PropDef] = kubectl_props![
    prop("resourceType", String).required(),
    prop("resourcesNames", List(&String)).required(),
    prop("apiGroup", String),
    prop("apiVersion", String),
];

static APPLY_OUTPUTS: &[OutputDef] = &[out("metadata", ValueType::List(&ValueType::Any))];
static GET_OUTPUTS: &[OutputDef] = &[
    out("metadataItems", ValueType::List(&ValueType::Any)),
    out("statusItems", ValueType::List(&ValueType::Any)),
    out("metadataItem", ValueType::Any),
    out("statusItem", ValueType::Any),
    out("uri", ValueType::Uri),
    out("size", ValueType::Int),
];

pub const APPLY: usize = 0;
pub const GET: usize = 1;
pub const DELETE: usize = 2;

/// The properties of the three tasks (each type's definition says which it has).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubectlProps {
    #[serde(default)]
    pub connection: Option<Value>,
    #[serde(default)]
    pub namespace: Option<Value>,
    #[serde(default)]
    pub wait_until_ready: Option<Value>,
    #[serde(default)]
    pub spec: Option<Value>,
    #[serde(default)]
    pub resource_type: Option<Value>,
    #[serde(default)]
    pub resources_names: Option<Value>,
    #[serde(default)]
    pub api_group: Option<Value>,
    #[serde(default)]
    pub api_version: Option<Value>,
    #[serde(default)]
    pub fetch_type: Option<Value>,
}

/// One kubectl task: `OP` is [`APPLY`], [`GET`] or [`DELETE`].
#[derive(Debug)]
pub struct Kubectl<const OP: usize>(pub KubectlProps);

impl<'de, const OP: usize> Deserialize<'de> for Kubectl<OP> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        KubectlProps::deserialize(deserializer).map(Kubectl)
    }
}

impl<const OP: usize> Kubectl<OP> {
    pub const DEFINITION: PluginDef = (match OP {
        APPLY => PluginDef::runnable_task(
            "io.kestra.plugin.kubernetes.kubectl.Apply",
            &[],
            APPLY_PROPS,
            APPLY_OUTPUTS,
        ),
        GET => PluginDef::runnable_task(
            "io.kestra.plugin.kubernetes.kubectl.Get",
            &[],
            GET_PROPS,
            GET_OUTPUTS,
        ),
        _ => PluginDef::runnable_task(
            "io.kestra.plugin.kubernetes.kubectl.Delete",
            &[],
            DELETE_PROPS,
            &[],
        ),
    })
    .in_working_dir()
    .with_feature("tools");
}

pub type KubectlApply = Kubectl<APPLY>;
pub type KubectlGet = Kubectl<GET>;
pub type KubectlDelete = Kubectl<DELETE>;

/// What a kubectl task gives (each type the fields its definition lists).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubectlOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_items: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_items: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_item: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_item: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<std::string::String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

#[cfg(feature = "tools")]
mod run {
    use std::io::Read as _;

    use serde_json::{json, Map, Value};

    use super::{Kubectl, KubectlOutput, KubectlProps, APPLY, DELETE, GET};
    use crate::expr::to_ion;
    use crate::plan::Level;
    use crate::tasks::props::{flag, list, optional_text};
    use crate::tasks::script::run::{run_commands, shell_quote, Commands, PrivateDir};
    use crate::tasks::script::ScriptProps;
    use crate::tasks::{Task, TaskContext, TaskError};

    const SH: &[&str] = &["/bin/sh", "-c"];
    const INSTALL: &str = "from Kubernetes' releases or your system's packages";
    /// The most of `kubectl`'s JSON answer read (`STORE` included: it is parsed first).
    const MAX_ANSWER: u64 = 256 << 20;

    impl<const OP: usize> Task for Kubectl<OP> {
        type Output = KubectlOutput;

        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<KubectlOutput, TaskError> {
            let props = &self.0;
            let private = PrivateDir::new("kubectl", ctx.task_run_id())?;
            let mut env = Vec::new();
            if let Some(connection) = props.connection.as_ref().filter(|c| !c.is_null()) {
                let config = kubeconfig(connection)?;
                env.push(("KUBECONFIG".to_string(), private.write("config", &config)?));
            }
            let answer = private.path().join("answer.json");
            let mut args: Vec<String> = vec!["kubectl".into()];
            let namespace = optional_text(props.namespace.as_ref());
            if OP == APPLY {
                let spec = optional_text(props.spec.as_ref()).ok_or("`spec` is required")?;
                let file = private.write("spec.yaml", &spec)?;
                // No client-side validation: Kestra's client sends the spec as it is.
                args.extend(
                    [
                        "apply",
                        "--server-side",
                        "--field-manager=kflow",
                        "--validate=false",
                        "-o",
                        "json",
                        "-f",
                    ]
                    .map(String::from),
                );
                args.push(file);
            } else {
                let names = list(props.resources_names.as_ref(), "resourcesNames")?;
                if OP == DELETE && names.is_empty() {
                    return Err("`resourcesNames`: name the resources to delete".into());
                }
                args.push(if OP == GET { "get" } else { "delete" }.into());
                args.push(resource(props)?);
                args.extend(names);
                if OP == GET {
                    // Kestra warns of a named resource that is not there; kubectl would fail.
                    args.extend(["--ignore-not-found", "-o", "json"].map(String::from));
                } else {
                    args.push("--wait=false".into());
                }
            }
            match namespace.as_deref() {
                // Kestra: an empty namespace reads every namespace.
                Some("") if OP == GET => args.push("--all-namespaces".into()),
                Some("") | None => {}
                Some(namespace) => args.extend(["-n".to_string(), namespace.to_string()]),
            }
            let mut line = args
                .iter()
                .map(|a| shell_quote(a))
                .collect::<Vec<_>>()
                .join(" ");
            if OP != DELETE {
                line.push_str(" > ");
                line.push_str(&shell_quote(&answer.to_string_lossy()));
            }
            ctx.log(Level::Info, &format!("kubectl {}", args[1..].join(" ")));
            let commands = Commands {
                lines: vec![line],
                env,
                files: Vec::new(),
                interpreter: SH,
                image: "bitnami/kubectl",
                program: Some(("kubectl", INSTALL)),
                read_line: None,
                stderr_warns: false,
            };
            run_commands(&ScriptProps::default(), commands, ctx).await?;
            if OP == DELETE {
                return Ok(KubectlOutput::default());
            }
            let items = read_items(&answer)?;
            drop(private);
            if OP == APPLY {
                return Ok(KubectlOutput {
                    metadata: Some(items.iter().map(|i| field(i, "metadata")).collect()),
                    ..KubectlOutput::default()
                });
            }
            for name in list(props.resources_names.as_ref(), "resourcesNames")? {
                let found = items.iter().any(|i| {
                    i.pointer("/metadata/name").and_then(Value::as_str) == Some(name.as_str())
                });
                if !found {
                    ctx.log(Level::Warn, &format!("resource `{name}` not found"));
                }
            }
            get_output(props, &items, ctx)
        }
    }

    /// `resourceType`, with `apiVersion` and `apiGroup` as kubectl spells a fully qualified
    /// resource (`shirts.v1.stable.example.com`).
    fn resource(props: &KubectlProps) -> Result<String, TaskError> {
        let kind =
            optional_text(props.resource_type.as_ref()).ok_or("`resourceType` is required")?;
        let group = optional_text(props.api_group.as_ref()).filter(|g| !g.is_empty());
        let version = optional_text(props.api_version.as_ref()).filter(|v| !v.is_empty());
        Ok(match (version, group) {
            (Some(version), Some(group)) => format!("{kind}.{version}.{group}"),
            (None, Some(group)) => format!("{kind}.{group}"),
            (Some(version), None) => format!("{kind}.{version}."),
            (None, None) => kind,
        })
    }

    fn field(item: &Value, name: &str) -> Value {
        item.get(name).cloned().unwrap_or(Value::Null)
    }

    /// kubectl's JSON answer as resources: a `List`'s items, or the one resource.
    fn read_items(path: &std::path::Path) -> Result<Vec<Value>, TaskError> {
        let file = std::fs::File::open(path).map_err(|e| format!("kubectl's answer: {e}"))?;
        let mut text = String::new();
        file.take(MAX_ANSWER + 1)
            .read_to_string(&mut text)
            .map_err(|e| format!("kubectl's answer: {e}"))?;
        if text.len() as u64 > MAX_ANSWER {
            return Err(format!("kubectl's answer is larger than {} MiB", MAX_ANSWER >> 20).into());
        }
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| format!("kubectl's answer is not JSON: {e}"))?;
        Ok(match value {
            Value::Object(mut object) if object.contains_key("items") => {
                match object.remove("items") {
                    Some(Value::Array(items)) => items,
                    _ => Vec::new(),
                }
            }
            other => vec![other],
        })
    }

    fn get_output(
        props: &KubectlProps,
        items: &[Value],
        ctx: &TaskContext<'_>,
    ) -> Result<KubectlOutput, TaskError> {
        let size = Some(items.len() as u64);
        let fetch = optional_text(props.fetch_type.as_ref()).unwrap_or_else(|| "NONE".into());
        Ok(match fetch.as_str() {
            "NONE" => KubectlOutput::default(),
            "FETCH" => KubectlOutput {
                metadata_items: Some(items.iter().map(|i| field(i, "metadata")).collect()),
                status_items: Some(items.iter().map(|i| field(i, "status")).collect()),
                size,
                ..KubectlOutput::default()
            },
            "FETCH_ONE" => KubectlOutput {
                metadata_item: Some(items.first().map_or(Value::Null, |i| field(i, "metadata"))),
                status_item: Some(items.first().map_or(Value::Null, |i| field(i, "status"))),
                size,
                ..KubectlOutput::default()
            },
            "STORE" => {
                let mut ion = String::new();
                for item in items {
                    let row: Map<String, Value> = ["metadata", "status"]
                        .iter()
                        .map(|name| ((*name).to_string(), field(item, name)))
                        .collect();
                    ion.push_str(&to_ion(&Value::Object(row)));
                    ion.push('\n');
                }
                let uri = ctx.put_file("resources.ion", &mut ion.as_bytes())?;
                KubectlOutput {
                    uri: Some(uri),
                    size,
                    ..KubectlOutput::default()
                }
            }
            other => {
                return Err(format!(
                    "`fetchType` must be STORE, FETCH, FETCH_ONE or NONE, got {other}"
                )
                .into())
            }
        })
    }

    /// `connection` as a kubeconfig (JSON, which kubectl reads as YAML): one cluster, one user,
    /// one context, its namespace `connection.namespace`.
    fn kubeconfig(connection: &Value) -> Result<String, TaskError> {
        let text = |name: &str| optional_text(connection.get(name)).filter(|t| !t.is_empty());
        let server = text("masterUrl").unwrap_or_else(|| "https://kubernetes.default.svc".into());
        let mut cluster = Map::new();
        cluster.insert("server".into(), json!(server));
        if flag(connection.get("trustCerts"), "connection.trustCerts", false)? {
            cluster.insert("insecure-skip-tls-verify".into(), json!(true));
        } else if let Some(data) = text("caCertData") {
            cluster.insert("certificate-authority-data".into(), json!(data));
        } else if let Some(file) = text("caCertFile") {
            cluster.insert("certificate-authority".into(), json!(file));
        }
        let mut user = Map::new();
        for (property, key) in [
            ("oauthToken", "token"),
            ("username", "username"),
            ("password", "password"),
            ("clientCertData", "client-certificate-data"),
            ("clientCertFile", "client-certificate"),
            ("clientKeyData", "client-key-data"),
            ("clientKeyFile", "client-key"),
        ] {
            if let Some(value) = text(property) {
                user.insert(key.into(), json!(value));
            }
        }
        let mut context = Map::new();
        context.insert("cluster".into(), json!("kflow"));
        context.insert("user".into(), json!("kflow"));
        if let Some(namespace) = text("namespace") {
            context.insert("namespace".into(), json!(namespace));
        }
        Ok(json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "kflow", "cluster": cluster}],
            "users": [{"name": "kflow", "user": user}],
            "contexts": [{"name": "kflow", "context": context}],
            "current-context": "kflow",
        })
        .to_string())
    }
}
