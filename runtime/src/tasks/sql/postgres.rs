//! PostgreSQL through tokio-postgres (no TLS yet): the connection from Kestra's JDBC URL, each
//! column read by its type, `:name` parameters given as quoted literals.

use std::fmt::Write as _;
use std::time::Duration;

use postgres_types::{FromSql, Type};
use serde_json::{Map, Value};
use tokio_postgres::{Client, NoTls, Row};

use super::run::{
    fetch_of, float, parameters, sql_of, statements, with_literals, Collector, Fetch,
};
use super::{QueryOutput, SqlOutput, SqlProps};
use crate::tasks::props::{flag, optional_text};
use crate::tasks::{TaskContext, TaskError};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) async fn run(
    props: &SqlProps,
    many: bool,
    ctx: &TaskContext<'_>,
) -> Result<SqlOutput, TaskError> {
    if let Some(mode) = optional_text(props.ssl_mode.as_ref()) {
        if !matches!(mode.as_str(), "DISABLE" | "ALLOW" | "PREFER") {
            return Err(format!(
                "`sslMode: {mode}` needs TLS, which kflow's PostgreSQL client does not speak yet"
            )
            .into());
        }
    }
    let config = config_of(props)?;
    let (mut client, connection) = tokio::time::timeout(CONNECT_TIMEOUT, config.connect(NoTls))
        .await
        .map_err(|_| "connecting to PostgreSQL: no answer within 30 s".to_string())?
        .map_err(|e| format!("connecting to PostgreSQL: {e}"))?;
    let driver = tokio::spawn(connection);
    let result = queries(props, many, ctx, &mut client).await;
    drop(client);
    let _ = driver.await;
    result
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
fn config_of(props: &SqlProps) -> Result<tokio_postgres::Config, TaskError> {
    let url = optional_text(props.url.as_ref()).ok_or("`url` is required")?;
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
    if let Some(user) = optional_text(props.username.as_ref()) {
        config.user(user);
    }
    if let Some(password) = optional_text(props.password.as_ref()) {
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
