//! Kestra trigger types (`io.kestra.plugin.core.trigger.*`, `io.kestra.plugin.core.http.Trigger`).
//!
//! Only type-specific properties are listed. The properties every trigger has come from
//! `AbstractTrigger` and live in the model: `id`, `type`, `description`, `conditions`,
//! `disabled`, `workerGroup`, `logLevel` (old name `minLogLevel`), `labels`, `stopAfter`,
//! `logToFile`.
//!
//! `outputs` lists what `trigger.*` holds in the executions the trigger creates.

use super::{out, prop, PluginDef, PluginKind, PropDef, PropType, PropType::*, ValueType};

pub(super) const STATE: PropType = Enum(super::STATES);

/// `io.kestra.core.models.triggers.TimeWindow` (shared with the `MultipleCondition` condition).
pub(super) static TIME_WINDOW: &[PropDef] = &[
    prop(
        "type",
        Enum(&[
            "DAILY_TIME_DEADLINE",
            "DAILY_TIME_WINDOW",
            "DURATION_WINDOW",
            "SLIDING_WINDOW",
        ]),
    )
    .not_dynamic(),
    prop("deadline", String).not_dynamic(), // LocalTime
    prop("window", Duration).not_dynamic(),
    prop("windowAdvance", Duration).not_dynamic(),
    prop("startTime", String).not_dynamic(), // LocalTime
    prop("endTime", String).not_dynamic(),   // LocalTime
];

/// `Flow.UpstreamFlow`.
static UPSTREAM_FLOW: &[PropDef] = &[
    prop("namespace", String).required().not_dynamic(),
    prop("flowId", String).not_dynamic(),
    prop("states", List(&STATE)).not_dynamic(),
    prop("labels", Map(&Any)).not_dynamic(),
];

/// `Flow.Filter` (`@PreconditionFilterValidation`: `value` for the single-value types,
/// `values` for `IN` / `NOT_IN`).
static FILTER: &[PropDef] = &[
    prop(
        "field",
        Enum(&["FLOW_ID", "NAMESPACE", "STATE", "EXPRESSION"]),
    )
    .required()
    .not_dynamic(),
    prop(
        "type",
        Enum(&[
            "EQUAL_TO",
            "NOT_EQUAL_TO",
            "IN",
            "NOT_IN",
            "IS_TRUE",
            "IS_FALSE",
            "IS_NULL",
            "IS_NOT_NULL",
            "STARTS_WITH",
            "ENDS_WITH",
            "REGEX",
            "CONTAINS",
        ]),
    )
    .required()
    .not_dynamic(),
    prop("value", String).not_dynamic(), // rendered when field is EXPRESSION
    prop("values", List(&String)).not_dynamic(),
];

/// `Flow.ExecutionFilter`.
static EXECUTION_FILTER: &[PropDef] = &[
    prop("id", String).required().not_dynamic(),
    prop("operand", Enum(&["AND", "OR"])).not_dynamic(),
    prop("filters", List(&Object(FILTER)))
        .required()
        .not_dynamic(),
];

/// `Flow.Preconditions`.
static PRECONDITIONS: &[PropDef] = &[
    prop("id", String).required().not_dynamic(),
    prop("timeWindow", Object(TIME_WINDOW)).not_dynamic(),
    prop("resetOnSuccess", Bool).not_dynamic(),
    prop("flows", List(&Object(UPSTREAM_FLOW))).not_dynamic(),
    prop("where", List(&Object(EXECUTION_FILTER))).not_dynamic(),
];

/// `io.kestra.plugin.core.http.HttpInterface.RequestOptions`.
static HTTP_OPTIONS: &[PropDef] = &[
    prop("connectTimeout", Duration).not_dynamic(),
    prop("readTimeout", Duration).not_dynamic(),
    prop("readIdleTimeout", Duration).not_dynamic(),
    prop("connectionPoolIdleTimeout", Duration).not_dynamic(),
    prop("maxContentLength", Int).not_dynamic(),
    prop("proxyType", Enum(&["DIRECT", "HTTP", "SOCKS"])).not_dynamic(), // java.net.Proxy.Type
    prop("proxyAddress", String),
    prop("proxyPort", Int).not_dynamic(),
    prop("proxyUsername", String),
    prop("proxyPassword", String),
    prop("defaultCharset", String).not_dynamic(), // java.nio.charset.Charset
    prop("followRedirects", Bool).not_dynamic(),
    // io.micronaut.logging.LogLevel
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
    .not_dynamic(),
    prop("basicAuthUser", String),
    prop("basicAuthPassword", String),
];

/// `io.kestra.plugin.core.http.HttpInterface.SslOptions`.
static HTTP_SSL_OPTIONS: &[PropDef] = &[prop("insecureTrustAllCertificates", Bool).not_dynamic()];

pub(super) static PLUGINS: &[PluginDef] = &[
    // io.kestra.plugin.core.trigger.Schedule (@ScheduleValidation: the cron must parse)
    PluginDef {
        kind: PluginKind::Trigger,
        name: "io.kestra.plugin.core.trigger.Schedule",
        aliases: &["io.kestra.core.models.triggers.types.Schedule"],
        flowable: false,
        properties: &[
            prop("cron", String).required().not_dynamic(),
            prop("withSeconds", Bool).not_dynamic(),
            prop("timezone", String).not_dynamic(), // @TimezoneId
            prop("scheduleConditions", List(&Plugin(PluginKind::Condition)))
                .not_dynamic()
                .deprecated("use `conditions`"),
            prop("inputs", Map(&Any)),
            prop("lateMaximumDelay", Duration).not_dynamic(),
            // Deprecated and ignored by current Kestra, but its keys were these: a misspelled
            // one (`startDate`) is a backfill that silently never happens.
            prop("backfill", Object(BACKFILL))
                .not_dynamic()
                .deprecated("start backfills from the Triggers tab of the UI"),
            prop("recoverMissedSchedules", Enum(&["LAST", "NONE", "ALL"])).not_dynamic(),
        ],
        outputs: &[
            out("date", ValueType::DateTime),
            out("next", ValueType::DateTime),
            out("previous", ValueType::DateTime),
        ],
        deprecated: None,
        runnable: false,
        feature: None,
        working_dir: false,
    },
    // io.kestra.plugin.core.trigger.ScheduleOnDates (trigger.* is empty: VoidOutput)
    PluginDef {
        kind: PluginKind::Trigger,
        name: "io.kestra.plugin.core.trigger.ScheduleOnDates",
        aliases: &[],
        flowable: false,
        properties: &[
            prop("inputs", Map(&Any)),
            prop("timezone", String),
            prop("dates", List(&String)).required(), // Property<List<ZonedDateTime>>
            prop("recoverMissedSchedules", Enum(&["LAST", "NONE", "ALL"])).not_dynamic(),
        ],
        outputs: &[],
        deprecated: None,
        runnable: false,
        feature: None,
        working_dir: false,
    },
    // io.kestra.plugin.core.trigger.Flow
    PluginDef {
        kind: PluginKind::Trigger,
        name: "io.kestra.plugin.core.trigger.Flow",
        aliases: &["io.kestra.core.models.triggers.types.Flow"],
        flowable: false,
        properties: &[
            // @PluginProperty without `dynamic`, but Flow.evaluate() renders it (with `trigger.outputs`)
            prop("inputs", Map(&Any)),
            prop("states", List(&STATE)).not_dynamic(),
            prop("preconditions", Object(PRECONDITIONS)).not_dynamic(),
        ],
        outputs: &[
            out("executionId", ValueType::String),
            out("state", ValueType::String),
            out("namespace", ValueType::String),
            out("flowId", ValueType::String),
            out("flowRevision", ValueType::Int),
            // only while rendering the trigger's `inputs` (and ExecutionOutputs conditions):
            // the upstream execution's flow outputs
            out("outputs", ValueType::Map(&ValueType::Any)),
        ],
        deprecated: None,
        runnable: false,
        feature: None,
        working_dir: false,
    },
    // io.kestra.plugin.core.trigger.Webhook (@WebhookValidation: no MultipleCondition in conditions)
    PluginDef {
        kind: PluginKind::Trigger,
        name: "io.kestra.plugin.core.trigger.Webhook",
        aliases: &["io.kestra.core.models.triggers.types.Webhook"],
        flowable: false,
        properties: &[
            prop("key", String).required(), // @Size(max = 256)
            // Later than 1.0: answer when the execution ends, with its outputs.
            prop("wait", Bool).not_dynamic(),
            prop("returnOutputs", Bool).not_dynamic(),
            prop("responseContentType", String).not_dynamic(),
            prop("inputs", Map(&Any)),
            // Later than 1.0: STORE writes the body to internal storage (`trigger.uri`).
            prop("fetchType", Enum(&["FETCH", "STORE"])).not_dynamic(),
        ],
        outputs: &[
            out("body", ValueType::Any),
            // With fetchType STORE: the stored body.
            out("uri", ValueType::String),
            // A multipart/form-data body: its text fields, and its files (stored).
            out("formFields", ValueType::Map(&ValueType::String)),
            out("parts", ValueType::List(&ValueType::Map(&ValueType::Any))),
            out(
                "headers",
                ValueType::Map(&ValueType::List(&ValueType::String)),
            ),
            out(
                "parameters",
                ValueType::Map(&ValueType::List(&ValueType::String)),
            ),
        ],
        deprecated: None,
        runnable: false,
        feature: None,
        working_dir: false,
    },
    // io.kestra.plugin.core.http.Trigger (outputs: io.kestra.plugin.core.http.Request.Output)
    PluginDef {
        kind: PluginKind::Trigger,
        name: "io.kestra.plugin.core.http.Trigger",
        aliases: &["io.kestra.plugin.fs.http.Trigger"],
        flowable: false,
        properties: &[
            prop("interval", Duration).not_dynamic(),
            prop("responseCondition", String),
            prop("uri", String).required(),
            // io.micronaut.http.HttpMethod
            prop(
                "method",
                Enum(&[
                    "OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "CONNECT", "PATCH",
                    "CUSTOM",
                ]),
            )
            .not_dynamic(),
            prop("body", String),
            prop("formData", Map(&Any)).not_run_yet(),
            prop("contentType", String),
            prop("headers", Map(&String)),
            // `serve` reads `readTimeout` (else `connectTimeout`) of it.
            prop("options", Object(HTTP_OPTIONS)).not_dynamic(),
            prop("sslOptions", Object(HTTP_SSL_OPTIONS))
                .not_dynamic()
                .not_run_yet(),
            prop("encryptBody", Bool).not_dynamic().not_run_yet(),
        ],
        outputs: &[
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
        deprecated: None,
        runnable: false,
        feature: None,
        working_dir: false,
    },
];

/// The keys of Schedule's deprecated `backfill` (Kestra's former `Schedule.Backfill`).
static BACKFILL: &[PropDef] = &[
    prop("start", String).not_dynamic(),
    prop("end", String).not_dynamic(),
    prop("currentDate", String).not_dynamic(),
    prop("nextExecutionDate", String).not_dynamic(),
    prop("inputs", Map(&Any)).not_dynamic(),
    prop("labels", Any).not_dynamic(),
    prop("paused", Bool).not_dynamic(),
];
