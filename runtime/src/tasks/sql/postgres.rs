//! PostgreSQL through tokio-postgres (no TLS yet): the connection from Kestra's JDBC URL, each
//! column read by its type, `:name` parameters given as quoted literals.

use std::fmt::Write as _;
use std::time::Duration;

use postgres_types::{FromSql, Type};
use serde_json::{Map, Value};
use tokio_postgres::{Client, NoTls, Row};

use super::run::{
    fetch_of, float, literal, parameters, sql_of, statements, with_literals, Collector, Fetch,
};
use super::{Copy, CopyOutput, CopyProps, QueryOutput, SqlOutput, SqlProps};
use crate::tasks::props::{flag, list, optional_text};
use crate::tasks::{Task, TaskContext, TaskError};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) async fn run(
    props: &SqlProps,
    many: bool,
    ctx: &TaskContext<'_>,
) -> Result<SqlOutput, TaskError> {
    let (mut client, driver) = connect(
        props.url.as_ref(),
        props.username.as_ref(),
        props.password.as_ref(),
        props.ssl_mode.as_ref(),
    )
    .await?;
    let result = queries(props, many, ctx, &mut client).await;
    drop(client);
    let _ = driver.await;
    result
}

/// A connection (no TLS: a mode that needs it is refused), its driver running beside it.
async fn connect(
    url: Option<&Value>,
    username: Option<&Value>,
    password: Option<&Value>,
    ssl_mode: Option<&Value>,
) -> Result<(Client, tokio::task::JoinHandle<()>), TaskError> {
    if let Some(mode) = optional_text(ssl_mode) {
        if !matches!(mode.as_str(), "DISABLE" | "ALLOW" | "PREFER") {
            return Err(format!(
                "`sslMode: {mode}` needs TLS, which kflow's PostgreSQL client does not speak yet"
            )
            .into());
        }
    }
    let config = config_of(url, username, password)?;
    let (client, connection) = tokio::time::timeout(CONNECT_TIMEOUT, config.connect(NoTls))
        .await
        .map_err(|_| "connecting to PostgreSQL: no answer within 30 s".to_string())?
        .map_err(|e| format!("connecting to PostgreSQL: {e}"))?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok((client, driver))
}

impl<const OUT: bool> Task for Copy<OUT> {
    type Output = CopyOutput;

    async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<CopyOutput, TaskError> {
        let props = &self.0;
        let (client, driver) = connect(
            Some(&props.url),
            props.username.as_ref(),
            props.password.as_ref(),
            props.ssl_mode.as_ref(),
        )
        .await?;
        let result = if OUT {
            copy_out(props, &client, ctx).await
        } else {
            copy_in(props, &client, ctx).await
        };
        drop(client);
        let _ = driver.await;
        result
    }
}

/// `COPY ... WITH (...)`'s options as the task sets them, and the column list.
fn copy_options(props: &CopyProps, out: bool) -> Result<(String, String), TaskError> {
    let format = copy_format(props)?;
    let mut options = vec![format!("FORMAT {format}")];
    let one_char = |value: Option<&Value>, name: &str| -> Result<Option<String>, TaskError> {
        match optional_text(value) {
            None => Ok(None),
            Some(c) if c.chars().count() == 1 => Ok(Some(literal(&Value::String(c)))),
            Some(c) => Err(format!("`{name}` must be one character, got `{c}`").into()),
        }
    };
    if flag(props.freeze.as_ref(), "freeze", false)? {
        options.push("FREEZE TRUE".into());
    }
    if let Some(d) = one_char(props.delimiter.as_ref(), "delimiter")? {
        options.push(format!("DELIMITER {d}"));
    }
    if let Some(null) = optional_text(props.null_string.as_ref()) {
        options.push(format!("NULL {}", literal(&Value::String(null))));
    }
    if flag(props.header.as_ref(), "header", false)? {
        options.push("HEADER TRUE".into());
    }
    if let Some(q) = one_char(props.quote.as_ref(), "quote")? {
        options.push(format!("QUOTE {q}"));
    }
    if let Some(e) = one_char(props.escape.as_ref(), "escape")? {
        options.push(format!("ESCAPE {e}"));
    }
    let columns_of = |value: Option<&Value>, name: &str| -> Result<Option<String>, TaskError> {
        let names = list(value, name)?;
        Ok((!names.is_empty()).then(|| {
            names
                .iter()
                .map(|n| identifier(n))
                .collect::<Vec<_>>()
                .join(", ")
        }))
    };
    if out {
        if let Some(cols) = columns_of(props.force_quote.as_ref(), "forceQuote")? {
            options.push(format!("FORCE_QUOTE ({cols})"));
        }
    } else {
        if let Some(cols) = columns_of(props.force_not_null.as_ref(), "forceNotNull")? {
            options.push(format!("FORCE_NOT_NULL ({cols})"));
        }
        if let Some(cols) = columns_of(props.force_null.as_ref(), "forceNull")? {
            options.push(format!("FORCE_NULL ({cols})"));
        }
    }
    if let Some(encoding) = optional_text(props.encoding.as_ref()) {
        options.push(format!("ENCODING {}", literal(&Value::String(encoding))));
    }
    let columns = columns_of(props.columns.as_ref(), "columns")?
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    Ok((format!("WITH ({})", options.join(", ")), columns))
}

fn copy_format(props: &CopyProps) -> Result<String, TaskError> {
    let format = optional_text(props.format.as_ref()).unwrap_or_else(|| "TEXT".into());
    if matches!(format.as_str(), "TEXT" | "CSV" | "BINARY") {
        Ok(format)
    } else {
        Err(format!("`format` must be TEXT, CSV or BINARY, got {format}").into())
    }
}

/// A table or column name as written (`schema.table` is two names), each part quoted unless it
/// is a plain lower-case name.
fn identifier(name: &str) -> String {
    name.split('.')
        .map(|part| {
            let plain = !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if plain {
                part.to_string()
            } else {
                format!("\"{}\"", part.replace('"', "\"\""))
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

async fn copy_in(
    props: &CopyProps,
    client: &Client,
    ctx: &TaskContext<'_>,
) -> Result<CopyOutput, TaskError> {
    use futures_util::SinkExt as _;
    use std::io::Read as _;
    let table = optional_text(props.table.as_ref()).ok_or("`table` is required")?;
    let from = optional_text(props.from.as_ref()).ok_or("`from` is required")?;
    let (with, columns) = copy_options(props, false)?;
    let sql = format!("COPY {}{columns} FROM STDIN {with}", identifier(&table));
    let sink = client
        .copy_in::<_, std::io::Cursor<Vec<u8>>>(&sql)
        .await
        .map_err(|e| describe(&e))?;
    let mut sink = std::pin::pin!(sink);
    let mut file = ctx
        .storage()?
        .open(&from)
        .map_err(|e| format!("`from`: {e}"))?;
    let mut buffer = vec![0u8; 256 << 10];
    loop {
        let n = file
            .read(&mut buffer)
            .map_err(|e| format!("reading `from`: {e}"))?;
        if n == 0 {
            break;
        }
        sink.send(std::io::Cursor::new(buffer[..n].to_vec()))
            .await
            .map_err(|e| describe(&e))?;
    }
    let rows = sink.as_mut().finish().await.map_err(|e| describe(&e))?;
    Ok(CopyOutput {
        uri: None,
        row_count: rows,
    })
}

async fn copy_out(
    props: &CopyProps,
    client: &Client,
    ctx: &TaskContext<'_>,
) -> Result<CopyOutput, TaskError> {
    use std::io::Write as _;
    let (with, columns) = copy_options(props, true)?;
    let source = match (
        optional_text(props.sql.as_ref()),
        optional_text(props.table.as_ref()),
    ) {
        (Some(sql), _) => format!("({})", sql.trim().trim_end_matches(';')),
        (None, Some(table)) => format!("{}{columns}", identifier(&table)),
        (None, None) => return Err("CopyOut needs `sql` or `table`".into()),
    };
    let format = copy_format(props)?;
    let header = flag(props.header.as_ref(), "header", false)?;
    let stream = client
        .copy_out(&format!("COPY {source} TO STDOUT {with}"))
        .await
        .map_err(|e| describe(&e))?;
    let mut stream = std::pin::pin!(stream);
    let temp = std::env::temp_dir().join(format!("kflow-copy-{}", crate::execution::new_id()));
    let result = async {
        let file = std::fs::File::create(&temp).map_err(|e| format!("a temporary file: {e}"))?;
        let mut file = std::io::BufWriter::new(file);
        while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
            let chunk = chunk.map_err(|e| describe(&e))?;
            file.write_all(&chunk)
                .map_err(|e| format!("writing: {e}"))?;
        }
        file.flush().map_err(|e| format!("writing: {e}"))?;
        drop(file);
        let rows = count_rows(&temp, &format, header, props)?;
        let extension = match format.as_str() {
            "CSV" => "csv",
            "BINARY" => "bin",
            _ => "tsv",
        };
        let mut stored =
            std::fs::File::open(&temp).map_err(|e| format!("a temporary file: {e}"))?;
        let name = format!("{}.{extension}", crate::execution::new_id());
        let uri = ctx.put_file(&name, &mut stored)?;
        Ok::<_, TaskError>(CopyOutput {
            uri: Some(uri),
            row_count: rows,
        })
    }
    .await;
    let _ = std::fs::remove_file(&temp);
    result
}

/// The rows in a COPY file: TEXT has one a line; CSV records may hold line breaks in quotes;
/// BINARY is tuples after its header, each a field count and the fields' lengths.
fn count_rows(
    path: &std::path::Path,
    format: &str,
    header: bool,
    props: &CopyProps,
) -> Result<u64, TaskError> {
    use std::io::{BufRead as _, Read as _};
    let file = std::fs::File::open(path).map_err(|e| format!("reading back: {e}"))?;
    let first_byte = |value: Option<&Value>, default: u8| {
        optional_text(value)
            .and_then(|d| d.bytes().next())
            .unwrap_or(default)
    };
    let rows = match format {
        "CSV" => {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(header)
                .delimiter(first_byte(props.delimiter.as_ref(), b','))
                .quote(first_byte(props.quote.as_ref(), b'"'))
                .flexible(true)
                .from_reader(file);
            let mut record = csv::ByteRecord::new();
            let mut n = 0u64;
            while reader
                .read_byte_record(&mut record)
                .map_err(|e| format!("counting rows: {e}"))?
            {
                n += 1;
            }
            n
        }
        "BINARY" => {
            let mut bytes = Vec::new();
            std::io::BufReader::new(file)
                .read_to_end(&mut bytes)
                .map_err(|e| format!("counting rows: {e}"))?;
            let word = |at: usize| {
                bytes
                    .get(at..at + 4)
                    .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            };
            let extension = word(15).and_then(|e| usize::try_from(e).ok()).unwrap_or(0);
            let mut at = 19 + extension;
            let mut n = 0u64;
            while let Some(count) = bytes
                .get(at..at + 2)
                .map(|b| i16::from_be_bytes([b[0], b[1]]))
            {
                at += 2;
                if count < 0 {
                    break;
                }
                for _ in 0..count {
                    let len = word(at).unwrap_or(-1);
                    at += 4 + usize::try_from(len).unwrap_or(0);
                }
                n += 1;
            }
            n
        }
        _ => std::io::BufReader::new(file).split(b'\n').count() as u64,
    };
    Ok(rows)
}

async fn queries(
    props: &SqlProps,
    many: bool,
    ctx: &TaskContext<'_>,
    client: &mut Client,
) -> Result<SqlOutput, TaskError> {
    let fetch = fetch_of(props)?;
    let parameters = parameters(props)?;
    let sql = with_literals(&sql_of(props)?, &parameters);
    let mut output = SqlOutput::default();
    if many {
        let transaction = flag(props.transaction.as_ref(), "transaction", true)?;
        if transaction {
            client
                .batch_execute("BEGIN")
                .await
                .map_err(|e| format!("BEGIN: {e}"))?;
        }
        let mut outputs = Vec::new();
        for statement in statements(&sql) {
            match execute(client, &statement, fetch, ctx).await {
                Ok(Some(out)) => outputs.push(out),
                Ok(None) => {}
                Err(e) => {
                    if transaction {
                        let _ = client.batch_execute("ROLLBACK").await;
                    }
                    return Err(e);
                }
            }
        }
        if transaction {
            client
                .batch_execute("COMMIT")
                .await
                .map_err(|e| format!("COMMIT: {e}"))?;
        }
        output.outputs = Some(outputs);
    } else {
        output.query = execute(client, &sql, fetch, ctx)
            .await?
            .unwrap_or(QueryOutput {
                size: Some(0),
                ..QueryOutput::default()
            });
    }
    if let Some(after) = optional_text(props.after_sql.as_ref()) {
        client
            .batch_execute(&after)
            .await
            .map_err(|e| format!("afterSQL: {}", describe(&e)))?;
    }
    Ok(output)
}

/// Runs one statement; its output when it returned rows.
async fn execute(
    client: &Client,
    sql: &str,
    fetch: Fetch,
    ctx: &TaskContext<'_>,
) -> Result<Option<QueryOutput>, TaskError> {
    let statement = client.prepare(sql).await.map_err(|e| describe(&e))?;
    if statement.columns().is_empty() {
        client
            .execute(&statement, &[])
            .await
            .map_err(|e| describe(&e))?;
        return Ok(None);
    }
    let stream = client
        .query_raw(
            &statement,
            std::iter::empty::<&(dyn postgres_types::ToSql + Sync)>(),
        )
        .await
        .map_err(|e| describe(&e))?;
    let mut stream = std::pin::pin!(stream);
    let mut collector = Collector::new(fetch, ctx);
    while let Some(row) = futures_util::StreamExt::next(&mut stream).await {
        let row = row.map_err(|e| describe(&e))?;
        if fetch == Fetch::One && collector.size() > 0 {
            continue; // the rest is read and dropped: the statement must end
        }
        collector.push(row_of(&row)?)?;
    }
    collector.finish().map(Some)
}

/// The server's message, with its detail and hint when it gives them.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = format!("{}: {}", db.severity(), db.message());
            if let Some(detail) = db.detail() {
                let _ = write!(text, " ({detail})");
            }
            if let Some(hint) = db.hint() {
                let _ = write!(text, "; hint: {hint}");
            }
            text
        }
        None => e.to_string(),
    }
}

/// Kestra's JDBC URL, `username` and `password` as a connection's settings.
fn config_of(
    url: Option<&Value>,
    username: Option<&Value>,
    password: Option<&Value>,
) -> Result<tokio_postgres::Config, TaskError> {
    let url = optional_text(url).ok_or("`url` is required")?;
    let rest = url
        .strip_prefix("jdbc:postgresql://")
        .or_else(|| url.strip_prefix("postgresql://"))
        .or_else(|| url.strip_prefix("postgres://"))
        .ok_or_else(|| "`url` must look like jdbc:postgresql://host:port/database".to_string())?;
    let (address, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (hosts, database) = address.split_once('/').unwrap_or((address, ""));
    let mut config = tokio_postgres::Config::new();
    config.connect_timeout(CONNECT_TIMEOUT);
    let hosts = hosts.rsplit('@').next().unwrap_or(hosts);
    for host in hosts.split(',').filter(|h| !h.is_empty()) {
        let (name, port) = match host.rsplit_once(':') {
            Some((name, port)) if !name.ends_with(']') || host.starts_with('[') => (
                name.trim_matches(['[', ']']),
                port.parse::<u16>()
                    .map_err(|_| format!("`url`: port `{port}` is not a number"))?,
            ),
            _ => (host, 5432),
        };
        config.host(name).port(port);
    }
    if !database.is_empty() {
        config.dbname(percent_decode(database));
    }
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value);
        match name {
            "user" => {
                config.user(value);
            }
            "password" => {
                config.password(value);
            }
            "ApplicationName" | "applicationName" => {
                config.application_name(value);
            }
            "currentSchema" => {
                config.options(format!("-c search_path={value}"));
            }
            // The JDBC driver's other settings (TLS, timeouts, ...) mean nothing here.
            _ => {}
        }
    }
    if let Some(user) = optional_text(username) {
        config.user(user);
    }
    if let Some(password) = optional_text(password) {
        config.password(password);
    }
    if config.get_user().is_none() {
        config.user("postgres");
    }
    Ok(config)
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// A row as column name to JSON value.
fn row_of(row: &Row) -> Result<Map<String, Value>, TaskError> {
    let mut map = Map::new();
    for (i, column) in row.columns().iter().enumerate() {
        let value = cell(row, i, column.type_())
            .map_err(|e| format!("column `{}` ({}): {e}", column.name(), column.type_()))?;
        map.insert(column.name().to_string(), value);
    }
    Ok(map)
}

fn get<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> Result<Option<T>, tokio_postgres::Error> {
    row.try_get::<_, Option<T>>(i)
}

fn cell(row: &Row, i: usize, ty: &Type) -> Result<Value, tokio_postgres::Error> {
    fn json<T: Into<Value>>(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
    Ok(match *ty {
        Type::BOOL => json(get::<bool>(row, i)?),
        Type::INT2 => json(get::<i16>(row, i)?),
        Type::INT4 => json(get::<i32>(row, i)?),
        Type::INT8 => json(get::<i64>(row, i)?),
        Type::OID => json(get::<u32>(row, i)?),
        Type::FLOAT4 => get::<f32>(row, i)?.map_or(Value::Null, |f| float(f64::from(f))),
        Type::FLOAT8 => get::<f64>(row, i)?.map_or(Value::Null, float),
        Type::JSON | Type::JSONB => get::<Value>(row, i)?.unwrap_or(Value::Null),
        Type::DATE => {
            get::<jiff::civil::Date>(row, i)?.map_or(Value::Null, |d| Value::String(d.to_string()))
        }
        Type::TIME => {
            get::<jiff::civil::Time>(row, i)?.map_or(Value::Null, |t| Value::String(t.to_string()))
        }
        Type::TIMESTAMP => get::<jiff::civil::DateTime>(row, i)?
            .map_or(Value::Null, |t| Value::String(t.to_string())),
        Type::TIMESTAMPTZ => {
            get::<jiff::Timestamp>(row, i)?.map_or(Value::Null, |t| Value::String(t.to_string()))
        }
        Type::BYTEA => {
            get::<Vec<u8>>(row, i)?.map_or(Value::Null, |b| Value::String(super::run::base64(&b)))
        }
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY => json(get::<Vec<Option<String>>>(row, i)?),
        Type::INT4_ARRAY => json(get::<Vec<Option<i32>>>(row, i)?),
        Type::INT8_ARRAY => json(get::<Vec<Option<i64>>>(row, i)?),
        _ => get::<Raw>(row, i)?.map_or(Value::Null, |raw| raw.0),
    })
}

/// Any other type, from its binary form: NUMERIC as a number, UUID as text, and the rest
/// (enums, domains over text, ...) as text when they are UTF-8, else base64.
struct Raw(Value);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(match *ty {
            Type::NUMERIC => numeric(raw)?,
            Type::UUID if raw.len() == 16 => {
                let hex = raw.iter().fold(String::new(), |mut hex, b| {
                    let _ = write!(hex, "{b:02x}");
                    hex
                });
                Value::String(format!(
                    "{}-{}-{}-{}-{}",
                    &hex[0..8],
                    &hex[8..12],
                    &hex[12..16],
                    &hex[16..20],
                    &hex[20..]
                ))
            }
            _ => match std::str::from_utf8(raw) {
                Ok(text) => Value::String(text.to_string()),
                Err(_) => Value::String(super::run::base64(raw)),
            },
        }))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// NUMERIC's binary form (base-10000 digits) as a JSON number (its text when it does not fit).
fn numeric(raw: &[u8]) -> Result<Value, Box<dyn std::error::Error + Sync + Send>> {
    let word = |i: usize| -> Result<u16, Box<dyn std::error::Error + Sync + Send>> {
        raw.get(i..i + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "a NUMERIC value cut short".into())
    };
    let ndigits = usize::from(word(0)?);
    let weight = i32::from(word(2)?.cast_signed());
    let sign = word(4)?;
    let scale = usize::from(word(6)?);
    if sign == 0xC000 {
        return Ok(Value::String("NaN".into()));
    }
    let digits: Vec<u16> = (0..ndigits)
        .map(|k| word(8 + 2 * k))
        .collect::<Result<_, _>>()?;
    let mut integer = String::new();
    for position in 0..=weight.max(-1) {
        let digit = usize::try_from(position)
            .ok()
            .and_then(|p| digits.get(p))
            .copied()
            .unwrap_or(0);
        if integer.is_empty() {
            integer.push_str(&digit.to_string());
        } else {
            let _ = write!(integer, "{digit:04}");
        }
    }
    if integer.is_empty() {
        integer.push('0');
    }
    let mut fraction = String::new();
    let mut position = weight + 1;
    while fraction.len() < scale {
        let digit = usize::try_from(position)
            .ok()
            .and_then(|p| digits.get(p))
            .copied()
            .unwrap_or(0);
        let _ = write!(fraction, "{digit:04}");
        position += 1;
    }
    fraction.truncate(scale);
    let sign = if sign == 0x4000 { "-" } else { "" };
    let text = if fraction.is_empty() {
        format!("{sign}{integer}")
    } else {
        format!("{sign}{integer}.{fraction}")
    };
    Ok(serde_json::from_str::<serde_json::Number>(&text)
        .ok()
        .filter(|n| n.to_string() == text || fraction.is_empty() || text.parse::<f64>().is_ok())
        .map_or(Value::String(text), Value::Number))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_binary_form_reads_as_a_number() {
        // 12345.678: ndigits 3, weight 1, sign +, scale 3, digits 1 2345 6780.
        let raw = [0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c];
        assert_eq!(numeric(&raw).unwrap(), serde_json::json!(12345.678));
        // -0.05: ndigits 1, weight -1, sign -, scale 2, digits 500.
        let raw = [0, 1, 0xff, 0xff, 0x40, 0, 0, 2, 0x01, 0xf4];
        assert_eq!(numeric(&raw).unwrap(), serde_json::json!(-0.05));
    }
}
