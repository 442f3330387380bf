//! Kestra's core task types (`io.kestra.plugin.core.*`), as defined in kestra-io/kestra's
//! `core/src/main/java/io/kestra/plugin/core/`.
//!
//! Reference sources: the December 2024 snapshot of kestra-io/kestra (0.21 development line)
//! and the `releases/v1.0.x` branch. Where the two differ, the entry accepts both: a property
//! is listed if either version has it, and is dynamic if either version renders it (`Property<T>`
//! or `@PluginProperty(dynamic = true)`). Properties Kestra 1.0 deprecated carry the replacement.
//! The few later additions that real flows use (e.g. `kv.PurgeKV.behavior`) are noted inline.
//!
//! The properties every task has (`id`, `type`, `retry`, `timeout`, `runIf`, ...) are not listed:
//! the model handles them.

use super::shapes::{errors, finally, STRING_OR_STRINGS};
use super::{out, prop, OutputDef, PluginDef, PropDef, PropType, PropType::*, ValueType};

// ---- shapes shared by several entries ------------------------------------------------------

/// `AbstractHttp.method`: `io.micronaut.http.HttpMethod` in 0.21; any string in Kestra 1.0.
const HTTP_METHODS: &[&str] = &[
    "OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "CONNECT", "PATCH", "CUSTOM",
];

/// `io.kestra.core.http.client.configurations.HttpConfiguration` (the `options:` of the HTTP
/// based plugins): Kestra 1.0's keys plus the 0.21 `RequestOptions` keys it still accepts.
pub(super) static HTTP_CONFIGURATION: &[PropDef] = &[
    prop(
        "timeout",
        Object(&[
            prop("connectTimeout", Duration),
            prop("readIdleTimeout", Duration),
        ]),
    )
    .not_dynamic(),
    prop("proxy", Object(HTTP_PROXY)).not_dynamic(),
    prop("auth", Object(HTTP_AUTH)).not_dynamic(),
    prop("ssl", Object(&[prop("insecureTrustAllCertificates", Bool)])).not_dynamic(),
    prop("followRedirects", Bool),
    prop("allowFailed", Bool),
    prop("allowedResponseCodes", List(&Int)),
    prop("defaultCharset", String),
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

/// `AbstractHttp`'s properties (Request and Download), followed by the type's own.
macro_rules! abstract_http {
    ($($extra:expr),* $(,)?) => {
        &[
            prop("uri", String).required(),
            prop("method", Enum(HTTP_METHODS)),
            prop("body", Any), // `Property<String>`: a map or list is sent as JSON
            prop("formData", Map(&Any)),
            prop("contentType", String),
            prop("headers", Map(&String)),
            prop("options", HTTP_OPTIONS).not_dynamic(),
            prop("sslOptions", HTTP_SSL_OPTIONS).not_dynamic().deprecated("use `options.ssl`"),
            prop("allowFailed", Bool).deprecated("use `options.allowFailed`"),
            $($extra),*
        ]
    };
}

const fn task(
    name: &'static str,
    aliases: &'static [&'static str],
    properties: &'static [PropDef],
    outputs: &'static [OutputDef],
) -> PluginDef {
    super::known_task(name, aliases, properties, outputs, None)
}

const fn flowable(
    name: &'static str,
    aliases: &'static [&'static str],
    properties: &'static [PropDef],
    outputs: &'static [OutputDef],
) -> PluginDef {
    task(name, aliases, properties, outputs).flowable()
}

const fn deprecated(def: PluginDef, why: &'static str) -> PluginDef {
    def.deprecated_for(why)
}

pub(super) static PLUGINS: &[PluginDef] = &[
    // execution/Assert.java (Kestra 1.0)
    task(
        "io.kestra.plugin.core.execution.Assert",
        &[],
        &[
            prop("conditions", List(&String)).required(),
            prop("errorMessage", String),
        ],
        &[],
    ),
    // execution/Resume.java
    task(
        "io.kestra.plugin.core.execution.Resume",
        &[],
        &[
            prop("namespace", String),
            prop("flowId", String),
            prop("executionId", String),
            prop("inputs", Map(&Any)),
        ],
        &[],
    ),
    // execution/Count.java (`flows` items: io.kestra.core.models.executions.statistics.Flow)
    task(
        "io.kestra.plugin.core.execution.Count",
        &["io.kestra.core.tasks.executions.Counts"],
        &[
            prop(
                "flows",
                List(&Object(&[
                    prop("namespace", String).required().not_dynamic(),
                    prop("flowId", String).required().not_dynamic(),
                ])),
            )
            .not_dynamic(),
            prop("states", List(&Enum(super::STATES))),
            prop("startDate", String).required(),
            prop("endDate", String),
            prop("expression", String).required(),
            prop("namespaces", List(&String)),
        ],
        &[
            out(
                "results",
                ValueType::List(&ValueType::Object(&[
                    out("namespace", ValueType::String),
                    out("flowId", ValueType::String),
                    out("count", ValueType::Int),
                ])),
            ),
            out("total", ValueType::Int),
        ],
    ),
    // flow/ForEachItem.java runs: its definition is in the runtime (`kflow_runtime::tasks::foreach_item`).
    // flow/Subflow.java runs: its definition is in the runtime (`kflow_runtime::tasks::subflow`).
    // flow/Template.java (@Deprecated)
    deprecated(
        flowable(
            "io.kestra.plugin.core.flow.Template",
            &["io.kestra.core.tasks.flows.Template"],
            &[
                prop("namespace", String).required().not_dynamic(),
                prop("templateId", String).required().not_dynamic(),
                prop("args", Map(&String)),
                errors(),
                finally(),
            ],
            &[out("args", ValueType::Map(&ValueType::Any))],
        ),
        "use a subflow (`io.kestra.plugin.core.flow.Subflow`)",
    ),
    // ---- kv ------------------------------------------------------------------------------------

    // kv.Set, Get, Delete and GetKeys run: their definitions are in the runtime
    // (`kflow_runtime::tasks::kv`).
    // kv/PurgeKV.java (Kestra 1.0; `behavior` added and `expiredOnly` deprecated in 1.1)
    task(
        "io.kestra.plugin.core.kv.PurgeKV",
        &[],
        &[
            prop("keyPattern", String),
            prop("namespaces", List(&String)),
            prop("namespacePattern", String),
            prop("includeChildNamespaces", Bool),
            prop("expiredOnly", Bool).deprecated("use `behavior` (`type: key`, `expiredOnly`)"),
            prop("behavior", Any),
        ],
        &[out("size", ValueType::Int)],
    ),
    // ---- state (AbstractState: name, namespace, taskrunValue; deprecated in Kestra 1.1) --------

    // state/Set.java
    deprecated(
        task(
            "io.kestra.plugin.core.state.Set",
            &["io.kestra.core.tasks.states.Set"],
            &[
                prop("name", String),
                prop("namespace", Bool),
                prop("taskrunValue", Bool),
                prop("data", Map(&Any)),
            ],
            &[out("count", ValueType::Int), out("key", ValueType::String)],
        ),
        "use the KV store (`io.kestra.plugin.core.kv.Set`)",
    ),
    // state/Get.java
    deprecated(
        task(
            "io.kestra.plugin.core.state.Get",
            &["io.kestra.core.tasks.states.Get"],
            &[
                prop("name", String),
                prop("namespace", Bool),
                prop("taskrunValue", Bool),
                prop("errorOnMissing", Bool),
            ],
            &[
                out("count", ValueType::Int),
                out("data", ValueType::Map(&ValueType::Any)),
            ],
        ),
        "use the KV store (`io.kestra.plugin.core.kv.Get`)",
    ),
    // state/Delete.java
    deprecated(
        task(
            "io.kestra.plugin.core.state.Delete",
            &["io.kestra.core.tasks.states.Delete"],
            &[
                prop("name", String),
                prop("namespace", Bool),
                prop("taskrunValue", Bool),
                prop("errorOnMissing", Bool),
            ],
            &[out("deleted", ValueType::Bool)],
        ),
        "use the KV store (`io.kestra.plugin.core.kv.Delete`)",
    ),
    // ---- storage -------------------------------------------------------------------------------

    // storage.Write, Size, Delete, Concat, Split and PurgeCurrentExecutionFiles run: their
    // definitions are in the runtime (`kflow_runtime::tasks::storage`).
    // ---- http (AbstractHttp + HttpInterface) ---------------------------------------------------

    // http/Request.java. Output `uri` is the requested URL, not an internal-storage file.
    task(
        "io.kestra.plugin.core.http.Request",
        &["io.kestra.plugin.fs.http.Request"],
        abstract_http![prop("encryptBody", Bool)],
        &[
            out("uri", ValueType::String),
            out("code", ValueType::Int),
            out(
                "headers",
                ValueType::Map(&ValueType::List(&ValueType::String)),
            ),
            out("body", ValueType::Any),
            out("encryptedBody", ValueType::Any),
            out("formData", ValueType::Map(&ValueType::Any)),
        ],
    ),
    // http/Download.java
    task(
        "io.kestra.plugin.core.http.Download",
        &["io.kestra.plugin.fs.http.Download"],
        abstract_http![prop("failOnEmptyResponse", Bool)],
        &[
            out("uri", ValueType::Uri),
            out("code", ValueType::Int),
            out("length", ValueType::Int),
            out(
                "headers",
                ValueType::Map(&ValueType::List(&ValueType::String)),
            ),
        ],
    ),
    // ---- namespace files -----------------------------------------------------------------------

    // namespace/DeleteFiles.java (`deleteParentFolder` added by 1.0)
    task(
        "io.kestra.plugin.core.namespace.DeleteFiles",
        &[],
        &[
            prop("namespace", String).required(),
            prop("files", STRING_OR_STRINGS).required(),
            prop("deleteParentFolder", Bool),
        ],
        &[out("files", ValueType::Map(&ValueType::Uri))],
    ),
    // ---- misc ----------------------------------------------------------------------------------

    // trigger/Toggle.java (a task, despite its package)
    task(
        "io.kestra.plugin.core.trigger.Toggle",
        &["io.kestra.core.tasks.trigger.Toggle"],
        &[
            prop("namespace", String),
            prop("flowId", String),
            prop("trigger", String).required(),
            prop("enabled", Bool).not_dynamic(),
        ],
        &[],
    ),
    // metric/Publish.java (Kestra 1.0): `metrics` is a list of counter/timer/gauge objects.
    task(
        "io.kestra.plugin.core.metric.Publish",
        &[],
        &[prop("metrics", List(&Any))],
        &[],
    ),
];
