//! The most used non-core Kestra plugin types, from `plugin-jdbc` (`postgresql`, `duckdb`,
//! `snowflake`, `mysql`, `sqlite`), `plugin-gcp` (`bigquery`, `gcs`), `plugin-aws` (`s3`,
//! `athena`), `plugin-serdes`, `plugin-transform` (`jsonata`), `plugin-git`, `plugin-dbt`,
//! `plugin-email`, `plugin-prometheus`, `plugin-openai`, `plugin-fivetran`, `plugin-airbyte`,
//! `plugin-terraform` and `plugin-ansible` (the runnable ones, `plugin-docker` among them, are defined in the runtime).
//!
//! Reference sources: the `kestra-io/plugin-*` repositories at the head of their 1.x line
//! (summer 2026), compared with their `v0.21.0` and `v1.0.0` tags: every property those tags
//! have is still there unless noted, so one entry covers Kestra 0.21 to 1.x. Canonical names are
//! the current class names; older names come from the classes' `@Plugin(aliases = ...)`.
//!
//! Only type-specific properties are listed: the ones every task (or trigger) has live in the
//! model. Properties inherited from each plugin's base classes and interfaces (`AbstractJdbcQuery`,
//! `AbstractTask` for GCP, `AbstractConnection` for AWS, `AbstractExecScript`, ...) are listed
//! with each type, since Kestra accepts them there.

// Script-task shapes shared with the script plugins themselves.
use super::known_task as task;
use super::shapes::NAMESPACE_FILES;
use super::PropType::{
    Any, Bool, Duration, Enum, Int, List, Map, Number, Object, OneOf, Plugin, String,
};
use super::{out, prop, OutputDef, PluginDef, PluginKind, PropDef, PropType, ValueType};
use kflow_runtime::tasks::http::HTTP_CONFIGURATION;
use kflow_runtime::tasks::script::{DOCKER_OPTIONS, INPUT_FILES, SCRIPT_OUTPUTS};
use kflow_runtime::tasks::serdes::SERDES_OUTPUTS;
use kflow_runtime::tasks::sql::{FETCH_TYPE, JDBC_QUERIES_OUTPUTS, JDBC_QUERY_OUTPUTS};

// ---- shapes shared by several plugins ------------------------------------------------------

/// `io.kestra.plugin.scripts.exec.scripts.models.RunnerType` (deprecated `runner:`).
const RUNNER_TYPE: PropType = Enum(&["PROCESS", "DOCKER"]);

// ---- plugin-jdbc ---------------------------------------------------------------------------

/// `snowflake.SnowflakeInterface` properties of `snowflake.Query` / `snowflake.Queries`.
macro_rules! snowflake_props {
    ($($extra:expr),* $(,)?) => {
        kflow_runtime::jdbc_props![
            prop("url", String).required();
            prop("warehouse", String),
            prop("database", String),
            prop("schema", String),
            prop("role", String),
            prop("privateKey", String),
            prop("privateKeyPassword", String),
            prop("queryTag", String),
            // No-op setters kept since 0.23.
            prop("privateKeyFile", String).deprecated("ignored: use privateKey"),
            prop("privateKeyFilePassword", String).deprecated("ignored: use privateKeyPassword"),
            $($extra),*
        ]
    };
}

// ---- plugin-gcp ----------------------------------------------------------------------------

/// `io.kestra.plugin.gcp.AbstractTask` (`GcpInterface`) properties, followed by the type's own.
macro_rules! gcp_props {
    ($($extra:expr),* $(,)?) => {
        &[
            prop("projectId", String),
            prop("serviceAccount", String),
            prop("impersonatedServiceAccount", String),
            prop("scopes", List(&String)),
            $($extra),*
        ]
    };
}

/// `io.kestra.core.models.tasks.retrys.AbstractRetry` (`retryAuto` of the `bigquery` tasks): `type` picks
/// constant, exponential or random; the keys of all three are accepted.
static RETRY: &[PropDef] = &[
    prop("type", Enum(&["constant", "exponential", "random"]))
        .required()
        .not_dynamic(),
    prop("interval", Duration).not_dynamic(),
    prop("minInterval", Duration).not_dynamic(),
    prop("maxInterval", Duration).not_dynamic(),
    prop("delayFactor", Number).not_dynamic(),
    prop("maxAttempt", Int).not_dynamic(),
    prop("maxDuration", Duration).not_dynamic(),
    prop("warningOnRetry", Bool).not_dynamic(),
    prop(
        "behavior",
        Enum(&["RETRY_FAILED_TASK", "CREATE_NEW_EXECUTION"]),
    )
    .not_dynamic(),
];

/// `com.google.cloud.bigquery.JobInfo.WriteDisposition`.
const WRITE_DISPOSITION: PropType = Enum(&[
    "WRITE_TRUNCATE",
    "WRITE_TRUNCATE_DATA",
    "WRITE_APPEND",
    "WRITE_EMPTY",
]);
/// `com.google.cloud.bigquery.JobInfo.CreateDisposition`.
const CREATE_DISPOSITION: PropType = Enum(&["CREATE_IF_NEEDED", "CREATE_NEVER"]);
/// `com.google.cloud.bigquery.JobInfo.SchemaUpdateOption`.
const SCHEMA_UPDATE_OPTION: PropType = Enum(&["ALLOW_FIELD_ADDITION", "ALLOW_FIELD_RELAXATION"]);
/// `com.google.cloud.bigquery.TimePartitioning.Type`.
const TIME_PARTITIONING_TYPE: PropType = Enum(&["DAY", "HOUR", "MONTH", "YEAR"]);

/// `AbstractLoad.CsvOptions`.
static BIGQUERY_CSV_OPTIONS: &[PropDef] = &[
    prop("allowJaggedRows", Bool),
    prop("allowQuotedNewLines", Bool),
    prop("encoding", String),
    prop("fieldDelimiter", String),
    prop("quote", String),
    prop("skipLeadingRows", Int),
];

/// `bigquery.AbstractBigquery` properties (after `AbstractTask`'s), followed by the type's own.
macro_rules! bigquery_props {
    ($($extra:expr),* $(,)?) => {
        gcp_props![
            prop("location", String),
            prop("retryAuto", Object(RETRY)).not_dynamic(),
            prop("retryReasons", List(&String)),
            prop("retryMessages", List(&String)),
            $($extra),*
        ]
    };
}

/// `bigquery.AbstractLoad` properties, followed by the type's own. `format` is not `@NotNull`,
/// but the load switches on it and fails without it, so it is required here.
macro_rules! bigquery_load_props {
    ($($extra:expr),* $(,)?) => {
        bigquery_props![
            prop("destinationTable", String),
            prop("clusteringFields", List(&String)),
            prop("schemaUpdateOptions", List(&SCHEMA_UPDATE_OPTION)),
            prop("timePartitioningField", String),
            prop("timePartitioningType", TIME_PARTITIONING_TYPE),
            prop("writeDisposition", WRITE_DISPOSITION),
            prop("autodetect", Bool),
            prop("createDisposition", CREATE_DISPOSITION),
            prop("ignoreUnknownValues", Bool),
            prop("maxBadRecords", Int),
            prop("schema", Map(&Any)),
            prop("format", Enum(&["CSV", "JSON", "AVRO", "PARQUET", "ORC"])).required().not_dynamic(),
            prop("csvOptions", Object(BIGQUERY_CSV_OPTIONS)).not_dynamic(),
            prop("avroOptions", Object(&[prop("useAvroLogicalTypes", Bool)])).not_dynamic(),
            $($extra),*
        ]
    };
}

/// `bigquery.AbstractLoad.Output`.
static BIGQUERY_LOAD_OUTPUTS: &[OutputDef] = &[
    out("jobId", ValueType::String),
    out("destinationTable", ValueType::String),
    out("rows", ValueType::Int),
];

/// `bigquery.Query.Output`.
static BIGQUERY_QUERY_OUTPUTS: &[OutputDef] = &[
    out("jobId", ValueType::String),
    out("rows", ValueType::List(&ValueType::Map(&ValueType::Any))).only_with("fetchType", "FETCH"),
    out("row", ValueType::Map(&ValueType::Any)).only_with("fetchType", "FETCH_ONE"),
    out("size", ValueType::Int),
    out("uri", ValueType::Uri).only_with("fetchType", "STORE"),
    out(
        "destinationTable",
        ValueType::Object(&[
            out("project", ValueType::String),
            out("dataset", ValueType::String),
            out("table", ValueType::String),
        ]),
    ),
];

// ---- plugin-aws ----------------------------------------------------------------------------

/// `io.kestra.plugin.aws.AbstractConnection` properties, followed by the type's own.
macro_rules! aws_props {
    ($($extra:expr),* $(,)?) => {
        &[
            prop("region", String),
            prop("endpointOverride", String),
            prop("compatibilityMode", Bool),
            prop("forcePathStyle", Bool),
            prop("accessKeyId", String),
            prop("secretKeyId", String),
            prop("sessionToken", String),
            prop("stsRoleArn", String),
            prop("stsRoleExternalId", String),
            prop("stsRoleSessionName", String),
            prop("stsEndpointOverride", String),
            prop("stsRoleSessionDuration", Duration),
            $($extra),*
        ]
    };
}

/// `s3.AbstractS3Object` properties (after `AbstractConnection`'s), followed by the type's own.
/// `bucket` is `@NotNull` on `AbstractS3ObjectInterface.getBucket()`.
macro_rules! s3_props {
    ($($extra:expr),* $(,)?) => {
        aws_props![prop("requestPayer", String), prop("bucket", String).required(), $($extra),*]
    };
}

/// `s3.models.FileInfo` (one file of a multi-file upload or download).
static S3_FILE_INFO: &[OutputDef] = &[
    out("uri", ValueType::Uri),
    out("contentLength", ValueType::Int),
    out("contentType", ValueType::String),
    out("metadata", ValueType::Map(&ValueType::String)),
    out("versionId", ValueType::String),
    out("eTag", ValueType::String),
    out("checksumAlgorithm", ValueType::String),
    out("checksumValue", ValueType::String),
];

/// `s3.models.S3Object` (`s3.List` output items).
static S3_OBJECT: &[OutputDef] = &[
    out("uri", ValueType::Uri),
    out("key", ValueType::String),
    out("etag", ValueType::String),
    out("size", ValueType::Int),
    out("lastModified", ValueType::DateTime),
    out(
        "owner",
        ValueType::Object(&[
            out("id", ValueType::String),
            out("displayName", ValueType::String),
        ]),
    ),
    out("checksumAlgorithm", ValueType::String),
    out("checksumValue", ValueType::String),
];

// ---- plugin-serdes -------------------------------------------------------------------------

/// `AbstractTextWriter` properties, followed by the type's own.
macro_rules! text_writer_props {
    ($($extra:expr),* $(,)?) => {
        &[
            prop("dateFormat", String),
            prop("timeFormat", String),
            prop("dateTimeFormat", String),
            prop("timeZoneId", String),
            $($extra),*
        ]
    };
}

// ---- plugin-git ----------------------------------------------------------------------------

/// `AbstractPushTask` properties (after the cloning task's), followed by the type's own.
macro_rules! git_push_props {
    ($($extra:expr),* $(,)?) => {
        kflow_runtime::git_props![
            prop("url", String),
            prop("commitMessage", String),
            prop("dryRun", Bool),
            prop("authorEmail", String),
            prop("authorName", String),
            prop("delete", Bool),
            $($extra),*
        ]
    };
}

/// `AbstractSyncTask` properties (after the cloning task's), followed by the type's own.
macro_rules! git_sync_props {
    ($($extra:expr),* $(,)?) => {
        kflow_runtime::git_props![prop("url", String), prop("dryRun", Bool), prop("failOnMissingDirectory", Bool), $($extra),*]
    };
}

/// `flows:` / `files:` of the push tasks: a glob, or a list of them.
const GLOBS: PropType = OneOf(&[String, List(&String)]);

// ---- plugin-dbt and the CLI tasks ------------------------------------------------------------

/// `dbt.cli.AbstractDbt` + `AbstractRun` properties (the deprecated one-command dbt tasks).
static DBT_RUN_PROPS: &[PropDef] = &[
    prop("failFast", Bool),
    prop("warnError", Bool),
    prop("debug", Bool),
    prop("projectDir", String),
    prop("dbtPath", String),
    prop("profiles", String),
    prop("taskRunner", Plugin(PluginKind::TaskRunner)).not_dynamic(),
    prop("containerImage", String),
    prop("runner", RUNNER_TYPE).deprecated("use taskRunner"),
    prop("docker", Object(DOCKER_OPTIONS)).deprecated("use taskRunner"),
    prop("dockerOptions", Object(DOCKER_OPTIONS)).deprecated("use taskRunner"),
    prop("env", Map(&String)),
    prop("parseRunResults", Bool),
    prop("namespaceFiles", Object(NAMESPACE_FILES)).not_dynamic(),
    prop("inputFiles", INPUT_FILES),
    prop("outputFiles", List(&String)),
    prop("thread", Int),
    prop("fullRefresh", Bool),
    prop("target", String),
    prop("selector", String),
    prop("select", List(&String)),
    prop("exclude", List(&String)),
];

// ---- plugin-email, plugin-prometheus, plugin-openai ------------------------------------------

/// `prometheus.Query.PrometheusMetric`.
static PROMETHEUS_METRIC: &[OutputDef] = &[
    out("labels", ValueType::Map(&ValueType::String)),
    out("timestamp", ValueType::Number),
    out("value", ValueType::String),
];
/// `prometheus.Query.Output` (also what `prometheus.Trigger` puts in `trigger.*`).
static PROMETHEUS_OUTPUTS: &[OutputDef] = &[
    out("size", ValueType::Int),
    out("total", ValueType::Int),
    out(
        "metrics",
        ValueType::List(&ValueType::Object(PROMETHEUS_METRIC)),
    )
    .only_with("fetchType", "FETCH"),
    out("metric", ValueType::Object(PROMETHEUS_METRIC)).only_with("fetchType", "FETCH_ONE"),
    out("uri", ValueType::Uri).only_with("fetchType", "STORE"),
    out("resultType", ValueType::String),
];

/// `ChatCompletion.PluginChatFunctionParameter`.
static OPENAI_FUNCTION_PARAMETER: &[PropDef] = &[
    prop("name", String).required(),
    prop("description", String).required(),
    prop("type", String).required(),
    prop("enumValues", List(&String)),
    prop("required", Bool),
];
/// `ChatCompletion.PluginChatFunction`.
static OPENAI_FUNCTION: &[PropDef] = &[
    prop("name", String),
    prop("description", String),
    prop("parameters", List(&Object(OPENAI_FUNCTION_PARAMETER))),
];
/// `ChatCompletion.ChatMessage`: `role` is `system`, `user` or `assistant` (lower case, as sent).
static OPENAI_MESSAGE: &[PropDef] = &[
    prop("role", String).required(),
    prop("content", String),
    prop("name", String),
];

// ---- plugin-fivetran, plugin-airbyte -----------------------------------------------------------

/// `airbyte.AbstractAirbyteConnection.ApplicationCredentials`.
static AIRBYTE_APPLICATION_CREDENTIALS: &[PropDef] = &[
    prop("clientId", String).required(),
    prop("clientSecret", String).required(),
];

/// `airbyte.cloud.jobs.AbstractTrigger.Job`.
static AIRBYTE_CLOUD_JOB: &[OutputDef] = &[
    out("jobId", ValueType::Int),
    out("startTime", ValueType::DateTime),
    out("lastUpdatedAt", ValueType::DateTime),
    out("jobType", ValueType::String),
    out("status", ValueType::String),
    out("duration", ValueType::Duration),
    out("bytesSynced", ValueType::Int),
    out("rowsSynced", ValueType::Int),
];

pub(super) static PLUGINS: &[PluginDef] = &[
    // ---- plugin-jdbc: sqlite, postgresql and duckdb Query/Queries and postgresql CopyIn/CopyOut run (`kflow_runtime::tasks::sql`).
    // io.kestra.plugin.jdbc.snowflake.{Query,Queries}
    task(
        "io.kestra.plugin.jdbc.snowflake.Query",
        &[],
        snowflake_props![],
        JDBC_QUERY_OUTPUTS,
        None,
    ),
    task(
        "io.kestra.plugin.jdbc.snowflake.Queries",
        &[],
        snowflake_props![prop("transaction", Bool)],
        JDBC_QUERIES_OUTPUTS,
        None,
    ),
    // io.kestra.plugin.jdbc.mysql.{Query,Queries} (`inputFile`: for LOAD DATA LOCAL INFILE)
    task(
        "io.kestra.plugin.jdbc.mysql.Query",
        &[],
        kflow_runtime::jdbc_props![prop("url", String).required(); prop("inputFile", String)],
        JDBC_QUERY_OUTPUTS,
        None,
    ),
    task(
        "io.kestra.plugin.jdbc.mysql.Queries",
        &[],
        kflow_runtime::jdbc_props![prop("url", String).required(); prop("inputFile", String), prop("transaction", Bool)],
        JDBC_QUERIES_OUTPUTS,
        None,
    ),
    // ---- plugin-gcp: io.kestra.plugin.gcp.bigquery.Load (from internal storage)
    task(
        "io.kestra.plugin.gcp.bigquery.Load",
        &[],
        bigquery_load_props![prop("from", String), prop("failedOnEmpty", Bool)],
        BIGQUERY_LOAD_OUTPUTS,
        None,
    ),
    // io.kestra.plugin.gcp.bigquery.LoadFromGcs
    task(
        "io.kestra.plugin.gcp.bigquery.LoadFromGcs",
        &[],
        bigquery_load_props![prop("from", List(&String))],
        BIGQUERY_LOAD_OUTPUTS,
        None,
    ),
    // io.kestra.plugin.gcp.bigquery.Query (AbstractJob + QueryInterface)
    task(
        "io.kestra.plugin.gcp.bigquery.Query",
        &[],
        bigquery_props![
            // AbstractJob
            prop("destinationTable", String),
            prop("writeDisposition", WRITE_DISPOSITION),
            prop("createDisposition", CREATE_DISPOSITION),
            prop("jobTimeout", Duration),
            prop("labels", Map(&String)),
            prop("dryRun", Bool),
            // Query
            prop("sql", String),
            prop("legacySql", Bool),
            prop("fetchType", FETCH_TYPE),
            prop("fetch", Bool)
                .not_dynamic()
                .deprecated("use `fetchType: FETCH`"),
            prop("store", Bool)
                .not_dynamic()
                .deprecated("use `fetchType: STORE`"),
            prop("fetchOne", Bool)
                .not_dynamic()
                .deprecated("use `fetchType: FETCH_ONE`"),
            prop("clusteringFields", List(&String)),
            prop("schemaUpdateOptions", List(&SCHEMA_UPDATE_OPTION)),
            prop("timePartitioningField", String),
            prop("timePartitioningType", TIME_PARTITIONING_TYPE),
            prop("rangePartitioningField", String),
            prop("rangePartitioningStart", Int),
            prop("rangePartitioningEnd", Int),
            prop("rangePartitioningInterval", Int),
            prop("defaultDataset", String),
            prop("priority", Enum(&["INTERACTIVE", "BATCH"])),
            prop("allowLargeResults", Bool),
            prop("useQueryCache", Bool),
            prop("flattenResults", Bool),
            prop("useLegacySql", Bool),
            prop("maximumBillingTier", Int),
            prop("maximumBytesBilled", Int),
            prop("maxResults", Int),
        ],
        BIGQUERY_QUERY_OUTPUTS,
        None,
    ),
    // io.kestra.plugin.gcp.gcs.{Upload,Download} (AbstractGcs)
    task(
        "io.kestra.plugin.gcp.gcs.Upload",
        &[],
        gcp_props![
            prop("from", String),
            prop("to", String),
            prop("contentType", String),
            prop("contentEncoding", String),
            prop("contentDisposition", String),
            prop("cacheControl", String),
            prop("validateChecksum", Bool),
            prop("expectedMd5", String),
            prop("expectedCrc32c", String),
        ],
        &[
            out("uri", ValueType::Uri),
            out("md5", ValueType::String),
            out("crc32c", ValueType::String),
        ],
        None,
    ),
    task(
        "io.kestra.plugin.gcp.gcs.Download",
        &[],
        gcp_props![prop("from", String), prop("validateChecksum", Bool)],
        &[
            out("bucket", ValueType::String),
            out("path", ValueType::String),
            out("uri", ValueType::Uri),
        ],
        None,
    ),
    // ---- plugin-aws: io.kestra.plugin.aws.s3.Upload (`from`: one URI, a list, or a map of
    // key suffix to URI, or the JSON text of those). The AWS SDK enums (`storageClass`,
    // `serverSideEncryption`, `checksumAlgorithm`) gain constants with SDK releases: strings.
    task(
        "io.kestra.plugin.aws.s3.Upload",
        &[],
        s3_props![
            prop("from", OneOf(&[String, List(&String), Map(&String)])).required(),
            prop("key", String).required(),
            prop("metadata", Map(&String)),
            prop("cacheControl", String),
            prop("contentType", String),
            prop("contentEncoding", String),
            prop("contentDisposition", String),
            prop("contentLanguage", String),
            prop("contentLength", Int),
            prop("expires", String),
            prop("acl", String),
            prop("storageClass", String),
            prop("serverSideEncryption", String),
            prop("bucketKeyEnabled", Bool),
            prop("checksumAlgorithm", String),
            prop("expectedBucketOwner", String),
            prop("objectLockMode", Enum(&["GOVERNANCE", "COMPLIANCE"])),
            prop("objectLockLegalHoldStatus", Enum(&["ON", "OFF"])),
            prop("objectLockRetainUntilDate", String),
            prop("checksum", String),
            prop("tagging", Map(&String)),
            prop("concurrentUploads", Int),
        ],
        &[
            // ObjectOutput: documented `eTag`; Jackson names Lombok's `getETag()` `etag`.
            out("eTag", ValueType::String),
            out("etag", ValueType::String),
            out("versionId", ValueType::String),
            out("bucket", ValueType::String),
            out("key", ValueType::String),
            out("files", ValueType::Map(&ValueType::Object(S3_FILE_INFO))),
        ],
        None,
    ),
    // io.kestra.plugin.aws.s3.Download (`key` for one object, or `prefix`/`regexp` for several)
    task(
        "io.kestra.plugin.aws.s3.Download",
        &[],
        s3_props![
            prop("key", String),
            prop("versionId", String),
            prop("prefix", String),
            prop("delimiter", String),
            prop("marker", String),
            prop("maxKeys", Int),
            prop("regexp", String),
            prop("maxFiles", Int),
            prop("expectedBucketOwner", String),
            prop("validateChecksum", Bool),
        ],
        &[
            out("eTag", ValueType::String),
            out("etag", ValueType::String),
            out("versionId", ValueType::String),
            out("uri", ValueType::Uri),
            out("contentLength", ValueType::Int),
            out("contentType", ValueType::String),
            out("metadata", ValueType::Map(&ValueType::String)),
            out("files", ValueType::Map(&ValueType::Object(S3_FILE_INFO))),
            out("checksumAlgorithm", ValueType::String),
            out("checksumValue", ValueType::String),
        ],
        None,
    ),
    // io.kestra.plugin.aws.s3.List (ListInterface)
    task(
        "io.kestra.plugin.aws.s3.List",
        &[],
        s3_props![
            prop("prefix", String),
            prop("delimiter", String),
            prop("marker", String),
            prop("encodingType", String),
            prop("maxKeys", Int),
            prop("expectedBucketOwner", String),
            prop("regexp", String),
            prop("maxFiles", Int),
            prop("filter", Enum(&["FILES", "DIRECTORY", "BOTH"])),
        ],
        &[out(
            "objects",
            ValueType::List(&ValueType::Object(S3_OBJECT)),
        )],
        None,
    ),
    // io.kestra.plugin.aws.s3.Delete
    task(
        "io.kestra.plugin.aws.s3.Delete",
        &[],
        s3_props![
            prop("key", String).required(),
            prop("bypassGovernanceRetention", Bool),
            prop("mfa", String),
        ],
        &[
            out("versionId", ValueType::String),
            out("deleteMarker", ValueType::Bool),
            out("requestCharged", ValueType::String),
        ],
        None,
    ),
    // io.kestra.plugin.aws.athena.Query (AbstractConnection)
    task(
        "io.kestra.plugin.aws.athena.Query",
        &[],
        aws_props![
            prop("catalog", String),
            prop("database", String).required(),
            prop("outputLocation", String).required(),
            prop("query", String).required(),
            prop("fetchType", FETCH_TYPE),
            prop("skipHeader", Bool),
        ],
        &[
            out("queryExecutionId", ValueType::String),
            out("rows", ValueType::List(&ValueType::Any)),
            out("row", ValueType::Map(&ValueType::Any)),
            out("uri", ValueType::Uri),
            out("size", ValueType::Int),
        ],
        None,
    ),
    // ---- plugin-serdes: csv and json conversions run (`kflow_runtime::tasks::serdes`).
    // io.kestra.plugin.serdes.excel.ExcelToIon
    task(
        "io.kestra.plugin.serdes.excel.ExcelToIon",
        &[],
        &[
            prop("from", String).required(),
            prop("sheetsTitle", List(&String)),
            prop("charset", String),
            prop(
                "valueRender",
                Enum(&["FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA"]),
            ),
            prop(
                "dateTimeRender",
                Enum(&["SERIAL_NUMBER", "FORMATTED_STRING", "UNFORMATTED_VALUE"]),
            ),
            prop("header", Bool),
            prop("skipEmptyRows", Bool),
            prop("skipRows", Int).not_dynamic(),
        ],
        &[
            out("uris", ValueType::Map(&ValueType::Uri)),
            out("size", ValueType::Int),
        ],
        None,
    ),
    // io.kestra.plugin.serdes.excel.IonToExcel (AbstractTextWriter; `from` is `Data.From`: a
    // URI, one row as a map, or a list of rows)
    task(
        "io.kestra.plugin.serdes.excel.IonToExcel",
        &[],
        text_writer_props![
            prop("from", OneOf(&[String, Map(&Any), List(&Any)])).required(),
            prop("charset", String),
            prop("sheetsTitle", String),
            prop("header", Bool),
            prop("styles", Bool),
        ],
        SERDES_OUTPUTS,
        None,
    ),
    // ---- plugin-transform: io.kestra.plugin.transform.jsonata.{TransformValue,TransformItems}
    task(
        "io.kestra.plugin.transform.jsonata.TransformValue",
        &[],
        &[
            prop("expression", String).required(),
            prop("maxDepth", Int),
            prop("from", String).required(),
        ],
        &[out("value", ValueType::Any)],
        None,
    ),
    task(
        "io.kestra.plugin.transform.jsonata.TransformItems",
        &[],
        &[
            prop("expression", String).required(),
            prop("maxDepth", Int),
            prop("from", String).required(),
            prop("explodeArray", Bool),
        ],
        &[
            out("uri", ValueType::Uri),
            out("processedItemsTotal", ValueType::Int),
        ],
        None,
    ),
    // ---- plugin-git: io.kestra.plugin.git.Clone runs (`kflow_runtime::tasks::git`).
    // io.kestra.plugin.git.PushFlows (AbstractPushTask)
    task(
        "io.kestra.plugin.git.PushFlows",
        &[],
        git_push_props![
            prop("branch", String),
            prop("gitDirectory", String),
            prop("sourceNamespace", String),
            prop("targetNamespace", String),
            prop("flows", GLOBS),
            prop("includeChildNamespaces", Bool),
        ],
        &[
            out("commitId", ValueType::String),
            out("commitURL", ValueType::String),
            out("flows", ValueType::Uri),
        ],
        None,
    ),
    // io.kestra.plugin.git.PushNamespaceFiles (AbstractPushTask)
    task(
        "io.kestra.plugin.git.PushNamespaceFiles",
        &[],
        git_push_props![
            prop("branch", String),
            prop("namespace", String),
            prop("gitDirectory", String),
            prop("files", GLOBS),
            prop("errorOnMissing", Bool),
        ],
        &[
            out("commitId", ValueType::String),
            out("commitURL", ValueType::String),
            out("files", ValueType::Uri),
        ],
        None,
    ),
    // io.kestra.plugin.git.SyncFlows (AbstractSyncTask)
    task(
        "io.kestra.plugin.git.SyncFlows",
        &[],
        git_sync_props![
            prop("branch", String),
            prop("targetNamespace", String).required(),
            prop("gitDirectory", String),
            prop("includeChildNamespaces", Bool),
            prop("delete", Bool),
            prop("ignoreInvalidFlows", Bool),
        ],
        &[out("flows", ValueType::Uri)],
        None,
    ),
    // io.kestra.plugin.git.SyncNamespaceFiles (AbstractSyncTask)
    task(
        "io.kestra.plugin.git.SyncNamespaceFiles",
        &[],
        git_sync_props![
            prop("branch", String),
            prop("namespace", String),
            prop("gitDirectory", String),
            prop("delete", Bool),
        ],
        &[out("files", ValueType::Uri)],
        None,
    ),
    // io.kestra.plugin.dbt.cli.DbtCLI, TerraformCLI and AnsibleCLI run: their definitions are in
    // the runtime (`kflow_runtime::tasks::cli`).
    // io.kestra.plugin.dbt.cli.{Build,Run,Test} (AbstractRun, deprecated)
    task(
        "io.kestra.plugin.dbt.cli.Build",
        &[],
        DBT_RUN_PROPS,
        SCRIPT_OUTPUTS,
        Some("use io.kestra.plugin.dbt.cli.DbtCLI"),
    ),
    task(
        "io.kestra.plugin.dbt.cli.Run",
        &[],
        DBT_RUN_PROPS,
        SCRIPT_OUTPUTS,
        Some("use io.kestra.plugin.dbt.cli.DbtCLI"),
    ),
    task(
        "io.kestra.plugin.dbt.cli.Test",
        &[],
        DBT_RUN_PROPS,
        SCRIPT_OUTPUTS,
        Some("use io.kestra.plugin.dbt.cli.DbtCLI"),
    ),
    // io.kestra.plugin.dbt.cloud.TriggerRun (AbstractDbtCloud)
    task(
        "io.kestra.plugin.dbt.cloud.TriggerRun",
        &[],
        &[
            prop("baseUrl", String),
            prop("accountId", String).required(),
            prop("token", String).required(),
            prop("options", Object(HTTP_CONFIGURATION)).not_dynamic(),
            prop("maxRetries", Int),
            prop("initialDelayMs", Int),
            prop("jobId", String).required(),
            prop("cause", String),
            prop("gitSha", String),
            prop("gitBranch", String),
            prop("schemaOverride", String),
            prop("dbtVersionOverride", String),
            prop("threadsOverride", String),
            prop("targetNameOverride", String),
            prop("generateDocsOverride", Bool),
            prop("timeoutSecondsOverride", Int),
            prop("stepsOverride", List(&String)),
            prop("wait", Bool),
            prop("pollFrequency", Duration),
            prop("maxDuration", Duration),
            prop("parseRunResults", Bool),
        ],
        &[
            out("runId", ValueType::Int),
            out("runResults", ValueType::Uri),
            out("manifest", ValueType::Uri),
        ],
        None,
    ),
    // ---- plugin-email: io.kestra.plugin.email.MailSend runs (`kflow_runtime::tasks::email`).
    // ---- plugin-prometheus: io.kestra.plugin.prometheus.Query (AbstractPrometheusTask)
    task(
        "io.kestra.plugin.prometheus.Query",
        &[],
        &[
            prop("username", String),
            prop("password", String),
            prop("headers", Map(&String)),
            prop("options", Object(HTTP_CONFIGURATION)).not_dynamic(),
            prop("url", String),
            prop("query", String).required(),
            prop("time", String),
            prop("fetchType", FETCH_TYPE),
        ],
        PROMETHEUS_OUTPUTS,
        None,
    ),
    // io.kestra.plugin.prometheus.Trigger (polling; no default `url`, unlike the Query task)
    PluginDef {
        kind: PluginKind::Trigger,
        name: "io.kestra.plugin.prometheus.Trigger",
        aliases: &[],
        flowable: false,
        properties: &[
            prop("interval", Duration).not_dynamic(),
            prop("username", String),
            prop("password", String),
            prop("time", String),
            prop("url", String).required(),
            prop("query", String).required(),
            prop("fetchType", FETCH_TYPE),
            prop("headers", Map(&String)),
        ],
        outputs: PROMETHEUS_OUTPUTS,
        deprecated: None,
        runnable: false,
        feature: None,
        working_dir: false,
    },
    // ---- plugin-openai: io.kestra.plugin.openai.ChatCompletion (AbstractTask)
    task(
        "io.kestra.plugin.openai.ChatCompletion",
        &[],
        &[
            prop("apiKey", String).required(),
            prop("user", String),
            prop("clientTimeout", Int).not_dynamic(),
            prop("messages", List(&Object(OPENAI_MESSAGE))),
            prop("functions", List(&Object(OPENAI_FUNCTION))),
            prop("functionCall", String),
            prop("prompt", String),
            prop("temperature", Number),
            prop("topP", Number),
            prop("n", Int),
            prop("stop", List(&String)),
            prop("maxTokens", Int),
            prop("presencePenalty", Number),
            prop("frequencyPenalty", Number),
            prop("logitBias", Map(&Int)),
            prop("model", String).required(),
            prop("jsonResponseSchema", String),
            prop("promptCaching", Bool),
        ],
        &[
            out("id", ValueType::String),
            out("object", ValueType::String),
            out("model", ValueType::String),
            out("choices", ValueType::List(&ValueType::Any)),
            out("usage", ValueType::Any),
        ],
        None,
    ),
    // ---- plugin-fivetran: io.kestra.plugin.fivetran.connectors.Sync (AbstractFivetranConnection)
    task(
        "io.kestra.plugin.fivetran.connectors.Sync",
        &[],
        &[
            prop("apiKey", String).required(),
            prop("apiSecret", String).required(),
            prop("baseUrl", String),
            prop("options", Object(HTTP_CONFIGURATION)).not_dynamic(),
            prop("maxAttempts", Int),
            prop("initialRetryDelay", Duration),
            prop("connectorId", String).required(),
            prop("force", Bool),
            prop("wait", Bool),
            prop("maxDuration", Duration),
            prop("pollFrequency", Duration),
        ],
        &[],
        None,
    ),
    // ---- plugin-airbyte: io.kestra.plugin.airbyte.connections.Sync (AbstractAirbyteConnection)
    task(
        "io.kestra.plugin.airbyte.connections.Sync",
        &[],
        &[
            prop("url", String).required(),
            prop("username", String),
            prop("password", String),
            prop("token", String),
            prop("httpTimeout", Duration).deprecated("use `options.timeout`"),
            prop("options", Object(HTTP_CONFIGURATION)).not_dynamic(),
            prop(
                "applicationCredentials",
                Object(AIRBYTE_APPLICATION_CREDENTIALS),
            )
            .not_dynamic(),
            prop("connectionId", String).required(),
            prop("wait", Bool),
            prop("maxDuration", Duration),
            prop("pollFrequency", Duration),
            prop("failOnActiveSync", Bool),
        ],
        &[
            out("jobId", ValueType::Int),
            out("alreadyRunning", ValueType::Bool),
        ],
        None,
    ),
    // io.kestra.plugin.airbyte.cloud.jobs.Sync (AbstractAirbyteCloud + jobs.AbstractTrigger)
    task(
        "io.kestra.plugin.airbyte.cloud.jobs.Sync",
        &[],
        &[
            prop("token", String),
            prop("clientId", String),
            prop("clientSecret", String),
            prop("tokenURL", String),
            prop("username", String),
            prop("password", String),
            prop("connectionId", String).required(),
            prop("wait", Bool),
            prop("maxDuration", Duration),
            prop("pollFrequency", Duration),
        ],
        &[out("job", ValueType::Object(AIRBYTE_CLOUD_JOB))],
        None,
    ),
];
