//! `io.kestra.plugin.jdbc.sqlite.{Query,Queries}` (rusqlite, in every binary: the state is
//! SQLite already) and `io.kestra.plugin.jdbc.postgresql.{Query,Queries}` (tokio-postgres,
//! behind the runtime's `postgres` feature).
//!
//! As in Kestra's JDBC plugin:
//! - `fetchType` `NONE` (the default), `FETCH` (`rows`), `FETCH_ONE` (`row`) or `STORE` (`uri`: the
//!   rows as Ion, one struct a line, the format Kestra's other tasks read); `size` counts the
//!   rows. The deprecated `fetch`/`fetchOne`/`store` flags still work.
//! - `parameters` fill `:name` placeholders (SQLite binds them; PostgreSQL gets them as quoted
//!   literals, which the server types as the column needs).
//! - `Queries` runs each statement of `sql` in one transaction (unless `transaction: false`)
//!   and gives one output per statement that returned rows. `afterSQL` runs after the fetch.
//! - Column values: integers and floats as numbers, NUMERIC as a number, text as strings,
//!   booleans, JSON as JSON, dates and times as ISO text (a `timestamptz` in UTC with `Z`), bytes
//!   as base64, arrays as lists. In STORE's Ion a NUMERIC is a float (`12.5e0`) where Kestra
//!   writes a decimal (`12.50`): both read back as the same number.
//! - SQLite: `url` `jdbc:sqlite:<file>` (relative to the task's folder; `:memory:` by
//!   default), or `sqliteFile`, a stored database copied in first; `outputDbFile` stores the
//!   database after as `databaseUri`.
//! - PostgreSQL: `url` `jdbc:postgresql://host[:port]/database[?user=..&password=..]`,
//!   `username`/`password`. TLS is not spoken yet: the `ssl*` properties are refused by
//!   `check --runnable`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::definition::{
    out, prop, OutputDef, PluginDef, PropDef, PropType, PropType::*, ValueType,
};

/// `io.kestra.core.models.tasks.common.FetchType`.
pub const FETCH_TYPE: PropType = Enum(&["STORE", "FETCH", "FETCH_ONE", "NONE"]);

/// `AbstractJdbcBaseQuery` (with `JdbcQueryInterface`, `JdbcStatementInterface` and
/// `JdbcConnectionInterface`), led by the type's `url`, followed by the type's own properties.
/// `url` is `@NotNull` on `JdbcConnectionInterface.getUrl()`; `duckdb` and `sqlite` default it.
/// The compiler's catalog lists the other databases with it.
#[macro_export]
macro_rules! jdbc_props {
    ($url:expr; $($extra:expr),* $(,)?) => {
        &[
            $url,
            $crate::definition::prop("username", $crate::definition::PropType::String),
            $crate::definition::prop("password", $crate::definition::PropType::String),
            $crate::definition::prop("timeZoneId", $crate::definition::PropType::String).not_run_yet(),
            $crate::definition::prop("connectionPooling", $crate::definition::PropType::Bool),
            $crate::definition::prop("connectionPoolSize", $crate::definition::PropType::Int),
            $crate::definition::prop("sql", $crate::definition::PropType::String).required(),
            $crate::definition::prop("afterSQL", $crate::definition::PropType::String),
            $crate::definition::prop("parameters", $crate::definition::PropType::Map(&$crate::definition::PropType::Any)),
            $crate::definition::prop("fetchType", $crate::tasks::sql::FETCH_TYPE),
            $crate::definition::prop("fetchSize", $crate::definition::PropType::Int),
            $crate::definition::prop("outputFiles", $crate::definition::PropType::List(&$crate::definition::PropType::String)).not_run_yet(),
            $crate::definition::prop("store", $crate::definition::PropType::Bool).not_dynamic().deprecated("use `fetchType: STORE`"),
            $crate::definition::prop("fetchOne", $crate::definition::PropType::Bool).not_dynamic().deprecated("use `fetchType: FETCH_ONE`"),
            $crate::definition::prop("fetch", $crate::definition::PropType::Bool).not_dynamic().deprecated("use `fetchType: FETCH`"),
            $($extra),*
        ]
    };
}

/// `AbstractJdbcBaseQuery.Output`: what one query returns.
pub static JDBC_QUERY_OUTPUTS: &[OutputDef] = &[
    out("row", ValueType::Map(&ValueType::Any)).only_with("fetchType", "FETCH_ONE"),
    out("rows", ValueType::List(&ValueType::Map(&ValueType::Any))).only_with("fetchType", "FETCH"),
    out("uri", ValueType::Uri).only_with("fetchType", "STORE"),
    out("size", ValueType::Int),
];
/// `AbstractJdbcQueries.MultiQueryOutput`: one output per statement.
pub static JDBC_QUERIES_OUTPUTS: &[OutputDef] = &[out(
    "outputs",
    ValueType::List(&ValueType::Object(JDBC_QUERY_OUTPUTS)),
)];
/// `duckdb.Query.Output` and `sqlite.Query.Output`: the query's, plus the database file and
/// `outputFiles` (whose property `check --runnable` refuses: kflow does not make them yet).
pub static JDBC_FILE_QUERY_OUTPUTS: &[OutputDef] = &[
    out("row", ValueType::Map(&ValueType::Any)).only_with("fetchType", "FETCH_ONE"),
    out("rows", ValueType::List(&ValueType::Map(&ValueType::Any))).only_with("fetchType", "FETCH"),
    out("uri", ValueType::Uri).only_with("fetchType", "STORE"),
    out("size", ValueType::Int),
    out("outputFiles", ValueType::Map(&ValueType::Uri)),
    out("databaseUri", ValueType::Uri).only_with("outputDbFile", "true"),
];
/// `duckdb.Queries.Output` and `sqlite.Queries.Output`.
pub static JDBC_FILE_QUERIES_OUTPUTS: &[OutputDef] = &[
    out(
        "outputs",
        ValueType::List(&ValueType::Object(JDBC_QUERY_OUTPUTS)),
    ),
    out("outputFiles", ValueType::Map(&ValueType::Uri)),
    out("databaseUri", ValueType::Uri).only_with("outputDbFile", "true"),
];

/// `PostgresConnectionInterface.SslMode`.
pub const SSL_MODE: PropType = Enum(&[
    "DISABLE",
    "ALLOW",
    "PREFER",
    "REQUIRE",
    "VERIFY_CA",
    "VERIFY_FULL",
]);

/// `sqlite.SqliteQueryInterface`'s properties, followed by the type's own.
macro_rules! sqlite_props {
    ($($extra:expr),* $(,)?) => {
        jdbc_props![
            prop("url", String);
            prop("sqliteFile", String),
            prop("outputDbFile", Bool),
            $($extra),*
        ]
    };
}

/// `duckdb.DuckDbQueryInterface`'s properties, followed by the type's own.
macro_rules! duckdb_props {
    ($($extra:expr),* $(,)?) => {
        jdbc_props![
            prop("url", String);
            prop("inputFiles", super::script::INPUT_FILES),
            prop("databaseUri", String),
            prop("outputDbFile", Bool),
            prop("communityExtensions", List(&String)),
            $($extra),*
        ]
    };
}

/// `PostgresConnectionInterface`'s TLS settings (not spoken yet), followed by the type's own.
macro_rules! postgres_props {
    ($($extra:expr),* $(,)?) => {
        jdbc_props![
            prop("url", String).required();
            prop("ssl", Bool).not_run_yet(),
            prop("sslMode", SSL_MODE),
            prop("sslRootCert", String).not_run_yet(),
            prop("sslCert", String).not_run_yet(),
            prop("sslKey", String).not_run_yet(),
            prop("sslKeyPassword", String).not_run_yet(),
            $($extra),*
        ]
    };
}

static SQLITE_QUERY_PROPS: &[PropDef] = sqlite_props![];
static SQLITE_QUERIES_PROPS: &[PropDef] = sqlite_props![prop("transaction", Bool)];
static DUCKDB_QUERY_PROPS: &[PropDef] = duckdb_props![];
static DUCKDB_QUERIES_PROPS: &[PropDef] = duckdb_props![prop("transaction", Bool)];
static POSTGRES_QUERY_PROPS: &[PropDef] = postgres_props![];
static POSTGRES_QUERIES_PROPS: &[PropDef] = postgres_props![prop("transaction", Bool)];

/// `postgresql.AbstractCopy` properties, followed by the type's own.
macro_rules! postgres_copy_props {
    ($($extra:expr),* $(,)?) => {
        &[
            prop("url", String).required(),
            prop("username", String),
            prop("password", String),
            prop("ssl", Bool).not_run_yet(),
            prop("sslMode", SSL_MODE),
            prop("sslRootCert", String).not_run_yet(),
            prop("sslCert", String).not_run_yet(),
            prop("sslKey", String).not_run_yet(),
            prop("sslKeyPassword", String).not_run_yet(),
            prop("table", String),
            prop("columns", List(&String)),
            prop("format", Enum(&["TEXT", "CSV", "BINARY"])),
            prop("oids", Bool).not_run_yet(),
            prop("freeze", Bool),
            prop("delimiter", String), // Character
            prop("nullString", String),
            prop("header", Bool),
            prop("quote", String),  // Character
            prop("escape", String), // Character
            prop("forceQuote", List(&String)),
            prop("forceNotNull", List(&String)),
            prop("forceNull", List(&String)),
            prop("encoding", String),
            prop("socketTimeout", Int).not_run_yet(),
            $($extra),*
        ]
    };
}

static COPY_IN_PROPS: &[PropDef] = postgres_copy_props![prop("from", String).required()];
static COPY_OUT_PROPS: &[PropDef] = postgres_copy_props![prop("sql", String)];
static COPY_IN_OUTPUTS: &[OutputDef] = &[out("rowCount", ValueType::Int)];
static COPY_OUT_OUTPUTS: &[OutputDef] =
    &[out("uri", ValueType::Uri), out("rowCount", ValueType::Int)];

/// `postgresql.CopyIn` / `CopyOut`, as rendered.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CopyProps {
    pub url: Value,
    #[serde(default)]
    pub username: Option<Value>,
    #[serde(default)]
    pub password: Option<Value>,
    #[serde(default)]
    pub ssl: Option<Value>,
    #[serde(default)]
    pub ssl_mode: Option<Value>,
    #[serde(default)]
    pub ssl_root_cert: Option<Value>,
    #[serde(default)]
    pub ssl_cert: Option<Value>,
    #[serde(default)]
    pub ssl_key: Option<Value>,
    #[serde(default)]
    pub ssl_key_password: Option<Value>,
    #[serde(default)]
    pub table: Option<Value>,
    #[serde(default)]
    pub columns: Option<Value>,
    #[serde(default)]
    pub format: Option<Value>,
    #[serde(default)]
    pub oids: Option<Value>,
    #[serde(default)]
    pub freeze: Option<Value>,
    #[serde(default)]
    pub delimiter: Option<Value>,
    #[serde(default)]
    pub null_string: Option<Value>,
    #[serde(default)]
    pub header: Option<Value>,
    #[serde(default)]
    pub quote: Option<Value>,
    #[serde(default)]
    pub escape: Option<Value>,
    #[serde(default)]
    pub force_quote: Option<Value>,
    #[serde(default)]
    pub force_not_null: Option<Value>,
    #[serde(default)]
    pub force_null: Option<Value>,
    #[serde(default)]
    pub encoding: Option<Value>,
    #[serde(default)]
    pub socket_timeout: Option<Value>,
    #[serde(default)]
    pub from: Option<Value>,
    #[serde(default)]
    pub sql: Option<Value>,
}

/// `postgresql.CopyIn` (`Copy<false>`: a stored file into a table) and `CopyOut`
/// (`Copy<true>`: a table or query into a stored file), with PostgreSQL's `COPY`.
#[derive(Debug)]
pub struct Copy<const OUT: bool>(pub CopyProps);

impl<'de, const OUT: bool> Deserialize<'de> for Copy<OUT> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        CopyProps::deserialize(deserializer).map(Copy)
    }
}

impl<const OUT: bool> Copy<OUT> {
    pub const DEFINITION: PluginDef = if OUT {
        PluginDef::runnable_task(
            "io.kestra.plugin.jdbc.postgresql.CopyOut",
            &[],
            COPY_OUT_PROPS,
            COPY_OUT_OUTPUTS,
        )
        .with_feature("postgres")
    } else {
        PluginDef::runnable_task(
            "io.kestra.plugin.jdbc.postgresql.CopyIn",
            &[],
            COPY_IN_PROPS,
            COPY_IN_OUTPUTS,
        )
        .with_feature("postgres")
    };
}

pub type PostgresCopyIn = Copy<false>;
pub type PostgresCopyOut = Copy<true>;

/// What a copy gives: the rows copied, and `CopyOut`'s file.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CopyOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<std::string::String>,
    pub row_count: u64,
}

/// The properties of every SQL type, as rendered: which ones a type has is its definition's
/// business (the checker refuses the others).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SqlProps {
    #[serde(default)]
    pub url: Option<Value>,
    #[serde(default)]
    pub username: Option<Value>,
    #[serde(default)]
    pub password: Option<Value>,
    #[serde(default)]
    pub time_zone_id: Option<Value>,
    #[serde(default)]
    pub connection_pooling: Option<Value>,
    #[serde(default)]
    pub connection_pool_size: Option<Value>,
    #[serde(default)]
    pub sql: Option<Value>,
    #[serde(default, rename = "afterSQL")]
    pub after_sql: Option<Value>,
    #[serde(default)]
    pub parameters: Option<Value>,
    #[serde(default)]
    pub fetch_type: Option<Value>,
    #[serde(default)]
    pub fetch_size: Option<Value>,
    #[serde(default)]
    pub output_files: Option<Value>,
    #[serde(default)]
    pub store: Option<Value>,
    #[serde(default)]
    pub fetch_one: Option<Value>,
    #[serde(default)]
    pub fetch: Option<Value>,
    #[serde(default)]
    pub sqlite_file: Option<Value>,
    #[serde(default)]
    pub output_db_file: Option<Value>,
    #[serde(default)]
    pub transaction: Option<Value>,
    #[serde(default)]
    pub input_files: Option<Value>,
    #[serde(default)]
    pub database_uri: Option<Value>,
    #[serde(default)]
    pub community_extensions: Option<Value>,
    #[serde(default)]
    pub ssl: Option<Value>,
    #[serde(default)]
    pub ssl_mode: Option<Value>,
    #[serde(default)]
    pub ssl_root_cert: Option<Value>,
    #[serde(default)]
    pub ssl_cert: Option<Value>,
    #[serde(default)]
    pub ssl_key: Option<Value>,
    #[serde(default)]
    pub ssl_key_password: Option<Value>,
}

/// The databases, in the order of `Sql`'s first parameter.
pub const SQLITE: usize = 0;
pub const POSTGRES: usize = 1;
pub const DUCKDB: usize = 2;

/// One SQL type: `Sql<DB, false>` is the database's `Query`, `Sql<DB, true>` its `Queries`.
#[derive(Debug)]
pub struct Sql<const DB: usize, const MANY: bool>(pub SqlProps);

impl<'de, const DB: usize, const MANY: bool> Deserialize<'de> for Sql<DB, MANY> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        SqlProps::deserialize(deserializer).map(Sql)
    }
}

impl<const DB: usize, const MANY: bool> Sql<DB, MANY> {
    pub const DEFINITION: PluginDef = match (DB, MANY) {
        (SQLITE, false) => PluginDef::runnable_task(
            "io.kestra.plugin.jdbc.sqlite.Query",
            &[],
            SQLITE_QUERY_PROPS,
            JDBC_FILE_QUERY_OUTPUTS,
        )
        .in_working_dir()
        .with_feature("sql"),
        (SQLITE, true) => PluginDef::runnable_task(
            "io.kestra.plugin.jdbc.sqlite.Queries",
            &[],
            SQLITE_QUERIES_PROPS,
            JDBC_FILE_QUERIES_OUTPUTS,
        )
        .in_working_dir()
        .with_feature("sql"),
        (DUCKDB, false) => PluginDef::runnable_task(
            "io.kestra.plugin.jdbc.duckdb.Query",
            &[],
            DUCKDB_QUERY_PROPS,
            JDBC_FILE_QUERY_OUTPUTS,
        )
        .in_working_dir()
        .with_feature("sql"),
        (DUCKDB, true) => PluginDef::runnable_task(
            "io.kestra.plugin.jdbc.duckdb.Queries",
            &[],
            DUCKDB_QUERIES_PROPS,
            JDBC_FILE_QUERIES_OUTPUTS,
        )
        .in_working_dir()
        .with_feature("sql"),
        (_, false) => PluginDef::runnable_task(
            "io.kestra.plugin.jdbc.postgresql.Query",
            &[],
            POSTGRES_QUERY_PROPS,
            JDBC_QUERY_OUTPUTS,
        )
        .with_feature("postgres"),
        (_, true) => PluginDef::runnable_task(
            "io.kestra.plugin.jdbc.postgresql.Queries",
            &[],
            POSTGRES_QUERIES_PROPS,
            JDBC_QUERIES_OUTPUTS,
        )
        .with_feature("postgres"),
    };
}

pub type SqliteQuery = Sql<SQLITE, false>;
pub type SqliteQueries = Sql<SQLITE, true>;
pub type PostgresQuery = Sql<POSTGRES, false>;
pub type PostgresQueries = Sql<POSTGRES, true>;
pub type DuckdbQuery = Sql<DUCKDB, false>;
pub type DuckdbQueries = Sql<DUCKDB, true>;

/// What one statement gives.
#[derive(Debug, Default, Serialize)]
pub struct QueryOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<std::string::String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// What a SQL task gives: one statement's output (`Query`) or each statement's (`Queries`),
/// and the stored database file (SQLite with `outputDbFile`).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SqlOutput {
    #[serde(flatten)]
    pub query: QueryOutput,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Vec<QueryOutput>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_uri: Option<std::string::String>,
}

#[cfg(feature = "sql")]
mod run {
    use std::io::Write as _;

    use serde_json::{Map, Value};

    use super::{QueryOutput, Sql, SqlOutput, SqlProps, SQLITE};
    use crate::expr::to_ion;
    use crate::tasks::props::{flag, optional_text};
    use crate::tasks::{Task, TaskContext, TaskError};

    /// The most rows `FETCH` and `FETCH_ONE` keep in memory (they go into the state): `STORE` has no
    /// bound but the disk.
    pub(super) const MAX_FETCHED: usize = 100_000;

    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub(super) enum Fetch {
        None,
        One,
        All,
        Store,
    }

    pub(super) fn fetch_of(props: &SqlProps) -> Result<Fetch, TaskError> {
        if let Some(kind) = optional_text(props.fetch_type.as_ref()) {
            return match kind.as_str() {
                "NONE" => Ok(Fetch::None),
                "FETCH" => Ok(Fetch::All),
                "FETCH_ONE" => Ok(Fetch::One),
                "STORE" => Ok(Fetch::Store),
                other => Err(format!(
                    "`fetchType` must be STORE, FETCH, FETCH_ONE or NONE, got {other}"
                )
                .into()),
            };
        }
        Ok(if flag(props.store.as_ref(), "store", false)? {
            Fetch::Store
        } else if flag(props.fetch_one.as_ref(), "fetchOne", false)? {
            Fetch::One
        } else if flag(props.fetch.as_ref(), "fetch", false)? {
            Fetch::All
        } else {
            Fetch::None
        })
    }

    /// Collects the rows of one statement as `fetch` says.
    pub(super) struct Collector<'c, 'a> {
        fetch: Fetch,
        ctx: &'c TaskContext<'a>,
        rows: Vec<Value>,
        size: u64,
        file: Option<(std::path::PathBuf, std::io::BufWriter<std::fs::File>)>,
    }

    impl<'c, 'a> Collector<'c, 'a> {
        pub(super) fn new(fetch: Fetch, ctx: &'c TaskContext<'a>) -> Self {
            Collector {
                fetch,
                ctx,
                rows: Vec::new(),
                size: 0,
                file: None,
            }
        }

        pub(super) fn size(&self) -> u64 {
            self.size
        }

        pub(super) fn push(&mut self, row: Map<String, Value>) -> Result<(), TaskError> {
            self.size += 1;
            match self.fetch {
                Fetch::None => {}
                Fetch::One => {
                    if self.rows.is_empty() {
                        self.rows.push(Value::Object(row));
                    }
                }
                Fetch::All => {
                    if self.rows.len() >= MAX_FETCHED {
                        return Err(format!(
                            "the query returned more than {MAX_FETCHED} rows: use `fetchType: STORE` for results this big"
                        )
                        .into());
                    }
                    self.rows.push(Value::Object(row));
                }
                Fetch::Store => {
                    if self.file.is_none() {
                        let path = std::env::temp_dir()
                            .join(format!("kflow-sql-{}.ion", crate::execution::new_id()));
                        let file = std::fs::File::create(&path)
                            .map_err(|e| format!("a temporary file: {e}"))?;
                        self.file = Some((path, std::io::BufWriter::new(file)));
                    }
                    if let Some((_, file)) = self.file.as_mut() {
                        let line = to_ion(&Value::Object(row));
                        file.write_all(line.as_bytes())
                            .and_then(|()| file.write_all(b"\n"))
                            .map_err(|e| format!("writing the rows: {e}"))?;
                    }
                }
            }
            Ok(())
        }

        pub(super) fn finish(self) -> Result<QueryOutput, TaskError> {
            let mut output = QueryOutput {
                size: Some(self.size),
                ..QueryOutput::default()
            };
            match self.fetch {
                Fetch::None => {}
                Fetch::One => {
                    output.row = Some(self.rows.into_iter().next().unwrap_or(Value::Null));
                }
                Fetch::All => output.rows = Some(self.rows),
                Fetch::Store => {
                    let name = format!("{}.ion", crate::execution::new_id());
                    let uri = match self.file {
                        Some((path, mut file)) => {
                            file.flush().map_err(|e| format!("writing the rows: {e}"))?;
                            drop(file);
                            let stored = std::fs::File::open(&path)
                                .map_err(|e| format!("reading the rows back: {e}"))
                                .and_then(|mut f| {
                                    self.ctx.put_file(&name, &mut f).map_err(|e| e.message)
                                });
                            let _ = std::fs::remove_file(&path);
                            stored?
                        }
                        None => self.ctx.put_file(&name, &mut std::io::empty())?,
                    };
                    output.uri = Some(uri);
                }
            }
            Ok(output)
        }
    }

    /// The statements of `sql`, split on `;` outside quotes, dollar quotes and comments.
    pub(super) fn statements(sql: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut current = String::new();
        let mut chars = sql.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '\'' | '"' => {
                    current.push(c);
                    for (_, d) in chars.by_ref() {
                        current.push(d);
                        if d == c {
                            break;
                        }
                    }
                }
                '-' if sql[i..].starts_with("--") => {
                    current.push(c);
                    for (_, d) in chars.by_ref() {
                        current.push(d);
                        if d == '\n' {
                            break;
                        }
                    }
                }
                '/' if sql[i..].starts_with("/*") => {
                    let end = sql[i + 2..].find("*/").map_or(sql.len(), |e| i + 2 + e + 2);
                    current.push_str(&sql[i..end]);
                    while chars.peek().is_some_and(|(j, _)| *j < end) {
                        chars.next();
                    }
                }
                '$' => {
                    // `$tag$ ... $tag$` (PostgreSQL); `$1` is a parameter.
                    let tag_end = sql[i + 1..]
                        .find(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
                        .map(|e| i + 1 + e);
                    match tag_end.filter(|e| sql[*e..].starts_with('$')) {
                        Some(e) if !sql[i + 1..e].starts_with(|ch: char| ch.is_ascii_digit()) => {
                            let tag = &sql[i..=e];
                            let close = sql[e + 1..]
                                .find(tag)
                                .map_or(sql.len(), |p| e + 1 + p + tag.len());
                            current.push_str(&sql[i..close]);
                            while chars.peek().is_some_and(|(j, _)| *j < close) {
                                chars.next();
                            }
                        }
                        _ => current.push(c),
                    }
                }
                ';' => {
                    if !current.trim().is_empty() {
                        out.push(current.trim().to_string());
                    }
                    current.clear();
                }
                _ => current.push(c),
            }
        }
        if !current.trim().is_empty() {
            out.push(current.trim().to_string());
        }
        out
    }

    /// `parameters` as a map (a JSON text of one is read too).
    pub(super) fn parameters(props: &SqlProps) -> Result<Map<String, Value>, TaskError> {
        match props.parameters.as_ref() {
            None | Some(Value::Null) => Ok(Map::new()),
            Some(Value::Object(map)) => Ok(map.clone()),
            Some(Value::String(text)) => match serde_json::from_str(text) {
                Ok(Value::Object(map)) => Ok(map),
                _ => Err("`parameters` must be a map".into()),
            },
            Some(other) => Err(format!("`parameters` must be a map, got {other}").into()),
        }
    }

    impl<const DB: usize, const MANY: bool> Task for Sql<DB, MANY> {
        type Output = SqlOutput;

        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<SqlOutput, TaskError> {
            if DB == SQLITE {
                super::sqlite::run(&self.0, MANY, ctx)
            } else if DB == super::DUCKDB {
                super::duckdb::run(&self.0, MANY, ctx).await
            } else {
                super::postgres_run(&self.0, MANY, ctx).await
            }
        }
    }

    /// The SQL text, required.
    pub(super) fn sql_of(props: &SqlProps) -> Result<String, TaskError> {
        optional_text(props.sql.as_ref()).ok_or_else(|| "`sql` is required".into())
    }

    /// Numbers from a database as JSON numbers (NaN and infinities as their text).
    pub(super) fn float(f: f64) -> Value {
        serde_json::Number::from_f64(f).map_or_else(|| Value::String(f.to_string()), Value::Number)
    }

    /// `:name` placeholders (outside quotes, not `::` casts) replaced by `parameters` as literals.
    pub(super) fn with_literals(sql: &str, parameters: &Map<String, Value>) -> String {
        if parameters.is_empty() {
            return sql.to_string();
        }
        let mut out = String::with_capacity(sql.len());
        let bytes = sql.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            if c == b'\'' || c == b'"' {
                let end = sql[i + 1..]
                    .find(c as char)
                    .map_or(sql.len(), |e| i + 1 + e + 1);
                out.push_str(&sql[i..end]);
                i = end;
                continue;
            }
            if c == b':' {
                if bytes.get(i + 1) == Some(&b':') {
                    out.push_str("::");
                    i += 2;
                    continue;
                }
                let start = i + 1;
                let end = sql[start..]
                    .find(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
                    .map_or(sql.len(), |e| start + e);
                let name = &sql[start..end];
                if let Some(value) = parameters.get(name).filter(|_| !name.is_empty()) {
                    out.push_str(&literal(value));
                    i = end;
                    continue;
                }
            }
            let ch = sql[i..].chars().next().unwrap_or_default();
            out.push(ch);
            i += ch.len_utf8();
        }
        out
    }

    /// A value as a SQL literal: numbers and booleans as they are, NULL, text quoted.
    pub(super) fn literal(value: &Value) -> String {
        match value {
            Value::Null => "NULL".into(),
            Value::Bool(b) => b.to_string().to_uppercase(),
            Value::Number(n) => n.to_string(),
            Value::String(s) => format!("'{}'", s.replace('\'', "''")),
            other => format!(
                "'{}'",
                crate::expr::value::to_display_string(other).replace('\'', "''")
            ),
        }
    }

    /// The database file of a file database (SQLite, DuckDB) in the task's folder: `url`'s
    /// (`<prefix><file>`; none for `:memory:`), with a stored database copied there first
    /// (`sqliteFile`, `databaseUri`); with `outputDbFile`, always a file. And whether to store
    /// it after.
    pub(super) fn database_file(
        props: &SqlProps,
        prefix: &str,
        (stored_name, stored): (&str, Option<&Value>),
        default_name: &str,
        ctx: &TaskContext<'_>,
    ) -> Result<(Option<std::path::PathBuf>, bool), TaskError> {
        let dir = ctx
            .working_dir()
            .ok_or("a database task runs in a working directory, and none was made")?
            .to_path_buf();
        let mut path = match optional_text(props.url.as_ref()) {
            Some(url) => {
                let file = url
                    .strip_prefix(prefix)
                    .ok_or_else(|| format!("`url` must start with `{prefix}`, got `{url}`"))?;
                let file = file.split('?').next().unwrap_or_default();
                (!file.is_empty() && file != ":memory:").then(|| dir.join(file))
            }
            None => None,
        };
        if let Some(uri) = optional_text(stored) {
            let target = path.clone().unwrap_or_else(|| dir.join(default_name));
            let mut from = ctx
                .storage()?
                .open(&uri)
                .map_err(|e| format!("{stored_name}: {e}"))?;
            let mut to =
                std::fs::File::create(&target).map_err(|e| format!("{stored_name}: {e}"))?;
            std::io::copy(&mut from, &mut to).map_err(|e| format!("{stored_name}: {e}"))?;
            path = Some(target);
        }
        let output_db = flag(props.output_db_file.as_ref(), "outputDbFile", false)?;
        if output_db && path.is_none() {
            path = Some(dir.join(default_name));
        }
        Ok((path, output_db))
    }

    /// A database file stored after the task (`outputDbFile`): its URI.
    pub(super) fn store_database(
        path: &std::path::Path,
        ctx: &TaskContext<'_>,
    ) -> Result<String, TaskError> {
        let mut file = std::fs::File::open(path).map_err(|e| format!("outputDbFile: {e}"))?;
        let name = path
            .file_name()
            .map_or_else(|| "database".into(), |n| n.to_string_lossy().into_owned());
        ctx.put_file(&name, &mut file)
    }

    /// Bytes from a database as base64 text.
    pub(super) fn base64(bytes: &[u8]) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }
}

#[cfg(all(test, feature = "sql"))]
mod tests {
    use super::run::{statements, with_literals};
    use serde_json::{Map, Value};

    #[test]
    fn parameters_become_literals_outside_quotes_and_casts() {
        let params: Map<String, Value> =
            serde_json::from_str(r#"{"id": 3, "name": "O'Hara", "on": true}"#).unwrap();
        assert_eq!(
            with_literals("select :id::int, ':name', :name, :on, :missing", &params),
            "select 3::int, ':name', 'O''Hara', TRUE, :missing"
        );
    }

    #[test]
    fn statements_split_outside_quotes_comments_and_dollar_quotes() {
        let sql = "a ';' b; -- c; d\n e; $$ f; $$; /* g; */ h; $1;";
        assert_eq!(
            statements(sql),
            ["a ';' b", "-- c; d\n e", "$$ f; $$", "/* g; */ h", "$1"]
        );
    }
}

#[cfg(feature = "sql")]
mod sqlite {
    use rusqlite::types::ValueRef;
    use serde_json::{Map, Value};

    use super::run::{
        database_file, fetch_of, float, parameters, sql_of, statements, store_database, Collector,
        Fetch,
    };
    use super::{QueryOutput, SqlOutput, SqlProps};
    use crate::tasks::props::{flag, optional_text};
    use crate::tasks::{TaskContext, TaskError};

    pub(super) fn run(
        props: &SqlProps,
        many: bool,
        ctx: &TaskContext<'_>,
    ) -> Result<SqlOutput, TaskError> {
        let (path, output_db) = database_file(
            props,
            "jdbc:sqlite:",
            ("sqliteFile", props.sqlite_file.as_ref()),
            "kflow.sqlite",
            ctx,
        )?;
        let connection = match &path {
            Some(path) => rusqlite::Connection::open(path),
            None => rusqlite::Connection::open_in_memory(),
        }
        .map_err(|e| format!("opening the database: {e}"))?;
        let fetch = fetch_of(props)?;
        let parameters = parameters(props)?;
        let sql = sql_of(props)?;
        let mut output = SqlOutput::default();
        if many {
            let transaction = flag(props.transaction.as_ref(), "transaction", true)?;
            let tx = if transaction {
                Some(
                    connection
                        .unchecked_transaction()
                        .map_err(|e| format!("BEGIN: {e}"))?,
                )
            } else {
                None
            };
            let conn: &rusqlite::Connection = match &tx {
                Some(tx) => tx,
                None => &connection,
            };
            let mut outputs = Vec::new();
            for statement in statements(&sql) {
                if let Some(out) = execute(conn, &statement, &parameters, fetch, ctx)? {
                    outputs.push(out);
                }
            }
            if let Some(tx) = tx {
                tx.commit().map_err(|e| format!("COMMIT: {e}"))?;
            }
            output.outputs = Some(outputs);
        } else {
            let out = execute(&connection, &sql, &parameters, fetch, ctx)?;
            output.query = out.unwrap_or(QueryOutput {
                size: Some(0),
                ..QueryOutput::default()
            });
        }
        if let Some(after) = optional_text(props.after_sql.as_ref()) {
            connection
                .execute_batch(&after)
                .map_err(|e| format!("afterSQL: {e}"))?;
        }
        drop(connection);
        if let (true, Some(path)) = (output_db, &path) {
            output.database_uri = Some(store_database(path, ctx)?);
        }
        Ok(output)
    }

    /// Runs one statement; its output when it returned rows (a statement without columns
    /// gives none: Kestra's `Queries` lists only those).
    fn execute(
        conn: &rusqlite::Connection,
        sql: &str,
        parameters: &Map<String, Value>,
        fetch: Fetch,
        ctx: &TaskContext<'_>,
    ) -> Result<Option<QueryOutput>, TaskError> {
        let mut statement = conn.prepare(sql).map_err(|e| format!("{e}"))?;
        for index in 1..=statement.parameter_count() {
            let Some(name) = statement.parameter_name(index).map(str::to_string) else {
                return Err("positional `?` parameters have no value: name them (`:name`) and set `parameters`".into());
            };
            let key = name.trim_start_matches([':', '@', '$']);
            let value = parameters
                .get(key)
                .ok_or_else(|| format!("no value in `parameters` for `{name}`"))?;
            let bound = match value {
                Value::Null => statement.raw_bind_parameter(index, rusqlite::types::Null),
                Value::Bool(b) => statement.raw_bind_parameter(index, *b),
                Value::Number(n) => match n.as_i64() {
                    Some(i) => statement.raw_bind_parameter(index, i),
                    None => statement.raw_bind_parameter(index, n.as_f64().unwrap_or(0.0)),
                },
                Value::String(s) => statement.raw_bind_parameter(index, s.as_str()),
                other => statement.raw_bind_parameter(index, other.to_string()),
            };
            bound.map_err(|e| format!("parameter `{name}`: {e}"))?;
        }
        let names: Vec<String> = statement
            .column_names()
            .iter()
            .map(|s| (*s).to_string())
            .collect();
        if names.is_empty() {
            statement.raw_execute().map_err(|e| format!("{e}"))?;
            return Ok(None);
        }
        let mut rows = statement.raw_query();
        let mut collector = Collector::new(fetch, ctx);
        while let Some(row) = rows.next().map_err(|e| format!("{e}"))? {
            if fetch == Fetch::One && collector.size() > 0 {
                // Kestra reads the first row only; the size still counts it alone.
                break;
            }
            let mut map = Map::new();
            for (i, name) in names.iter().enumerate() {
                let value = match row.get_ref(i).map_err(|e| format!("{e}"))? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::from(n),
                    ValueRef::Real(f) => float(f),
                    ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::String(super::run::base64(b)),
                };
                map.insert(name.clone(), value);
            }
            collector.push(map)?;
        }
        collector.finish().map(Some)
    }
}

#[cfg(feature = "sql")]
mod duckdb;

/// The generic `Sql` names the PostgreSQL client; without the `postgres` feature its types are
/// `Unbuilt` (see `register!`), so this is reached only by a caller bypassing that.
#[cfg(all(feature = "sql", not(feature = "postgres")))]
#[allow(clippy::unused_async)] // the same signature as the client's
async fn postgres_run(
    _props: &SqlProps,
    _many: bool,
    _ctx: &crate::tasks::TaskContext<'_>,
) -> Result<SqlOutput, crate::tasks::TaskError> {
    Err("this binary was built without kflow-runtime's `postgres` feature".into())
}

#[cfg(feature = "postgres")]
use postgres::run as postgres_run;

#[cfg(feature = "postgres")]
mod postgres;
