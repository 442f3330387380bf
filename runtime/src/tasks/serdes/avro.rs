//! `io.kestra.plugin.serdes.avro.IonToAvro` and `AvroToIon`, with the Apache Avro crate (the
//! `avro` feature).
//!
//! `IonToAvro` writes each Ion row as a record of `schema` (JSON, required): a field missing
//! from a row takes the schema's default, else null when the field is nullable, else fails the
//! task naming the row and field. Values are read as Kestra reads them: text for numbers,
//! `trueValues`/`falseValues` for booleans, `nullValues` (Kestra's list unless set) for null,
//! `yyyy-MM-dd` dates and ISO-8601 date-times for the date and timestamp types.
//! `strictSchema: true` refuses a row with a field the schema lacks. `AvroToIon` reads any Avro
//! container file (null or deflate codec) into Ion rows: dates and timestamps as ISO text,
//! bytes as base64 text.

use crate::definition::{prop, PropDef, PropType::*};

/// `avro.AbstractAvroConverter` properties (`IonToAvro`'s, `IonToParquet`'s), then the type's own.
#[macro_export]
macro_rules! avro_converter_props {
    ($($extra:expr),* $(,)?) => {
        &[
            $crate::definition::prop("schema", $crate::definition::PropType::String).required(),
            $crate::definition::prop("numberOfRowsToScan", $crate::definition::PropType::Int).not_run_yet(),
            $crate::definition::prop("trueValues", $crate::definition::PropType::List(&$crate::definition::PropType::String)),
            $crate::definition::prop("falseValues", $crate::definition::PropType::List(&$crate::definition::PropType::String)),
            $crate::definition::prop("nullValues", $crate::definition::PropType::List(&$crate::definition::PropType::String)),
            $crate::definition::prop("dateFormat", $crate::definition::PropType::String).not_run_yet(),
            $crate::definition::prop("timeFormat", $crate::definition::PropType::String).not_run_yet(),
            $crate::definition::prop("datetimeFormat", $crate::definition::PropType::String).not_run_yet(),
            $crate::definition::prop("decimalSeparator", $crate::definition::PropType::String).not_run_yet(),
            $crate::definition::prop("strictSchema", $crate::definition::PropType::Bool),
            $crate::definition::prop("inferAllFields", $crate::definition::PropType::Bool).not_run_yet(),
            $crate::definition::prop("timeZoneId", $crate::definition::PropType::String).not_run_yet(),
            $crate::definition::prop("onBadLines", $crate::tasks::serdes::ON_BAD_LINES).not_run_yet(),
            $($extra),*
        ]
    };
}

pub(crate) static ION_TO_AVRO_PROPS: &[PropDef] =
    avro_converter_props![prop("from", String).required()];
pub(crate) static AVRO_TO_ION_PROPS: &[PropDef] = &[prop("from", String).required()];

#[cfg(feature = "avro")]
pub(crate) mod run {
    use std::io::{BufRead, Write};

    use apache_avro::schema::{RecordSchema, Schema};
    use apache_avro::types::Value as Avro;
    use serde_json::{Map, Value};

    use crate::expr::to_ion;
    use crate::expr::value::to_display_string;
    use crate::tasks::props::{flag, list};
    use crate::tasks::serdes::SerdesProps;
    use crate::tasks::TaskError;

    /// Kestra's `nullValues` when the task sets none.
    pub(crate) const DEFAULT_NULLS: &[&str] = &[
        "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "1.#IND", "1.#QNAN", "NA",
        "n/a", "nan", "null",
    ];
    /// Kestra's `trueValues` and `falseValues` when the task sets none.
    pub(crate) const DEFAULT_TRUES: &[&str] = &["t", "true", "enabled", "1", "on", "yes"];
    pub(crate) const DEFAULT_FALSES: &[&str] = &["f", "false", "disabled", "0", "off", "no"];

    /// How a row's values are read into a schema's types.
    pub(crate) struct Reading {
        pub nulls: Vec<std::string::String>,
        pub trues: Vec<std::string::String>,
        pub falses: Vec<std::string::String>,
        pub strict: bool,
    }

    impl Reading {
        pub(crate) fn is_null(&self, value: &Value) -> bool {
            match value {
                Value::Null => true,
                Value::String(text) => self.nulls.iter().any(|n| n == text),
                _ => false,
            }
        }
    }

    pub(crate) fn reading(props: &SerdesProps) -> Result<Reading, TaskError> {
        let or_default = |value: Option<&Value>, name: &str, default: &[&str]| {
            Ok::<_, TaskError>(match value.filter(|v| !v.is_null()) {
                Some(v) => list(Some(v), name)?,
                None => default.iter().map(|s| (*s).to_string()).collect(),
            })
        };
        Ok(Reading {
            nulls: or_default(props.null_values.as_ref(), "nullValues", DEFAULT_NULLS)?,
            trues: or_default(props.true_values.as_ref(), "trueValues", DEFAULT_TRUES)?,
            falses: or_default(props.false_values.as_ref(), "falseValues", DEFAULT_FALSES)?,
            strict: flag(props.strict_schema.as_ref(), "strictSchema", false)?,
        })
    }

    /// `schema` parsed; a record schema is what rows are written as.
    pub(crate) fn record_schema(props: &SerdesProps) -> Result<Schema, TaskError> {
        let text = props
            .schema
            .as_ref()
            .filter(|v| !v.is_null())
            .map(|v| match v {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .ok_or("`schema` is required")?;
        let schema =
            Schema::parse_str(&text).map_err(|e| format!("`schema` is not an Avro schema: {e}"))?;
        if !matches!(schema, Schema::Record(_)) {
            return Err("`schema` must be a record schema (rows are written as records)".into());
        }
        Ok(schema)
    }

    pub(crate) fn ion_to_avro(
        props: &SerdesProps,
        rows: impl Iterator<Item = Result<Value, TaskError>>,
        output: impl Write,
    ) -> Result<u64, TaskError> {
        let schema = record_schema(props)?;
        let Schema::Record(record) = &schema else {
            return Err("`schema` must be a record schema".into());
        };
        let reading = reading(props)?;
        let mut writer = apache_avro::Writer::new(&schema, output);
        let mut size = 0u64;
        for row in rows {
            let row = row?;
            size += 1;
            let value =
                record_value(record, &row, &reading).map_err(|e| format!("row {size}: {e}"))?;
            writer
                .append(value)
                .map_err(|e| format!("row {size}: {e}"))?;
        }
        writer
            .flush()
            .map_err(|e| format!("writing the Avro file: {e}"))?;
        writer
            .into_inner()
            .map_err(|e| format!("writing the Avro file: {e}"))?
            .flush()
            .map_err(|e| format!("writing the Avro file: {e}"))?;
        Ok(size)
    }

    pub(crate) fn record_value(
        record: &RecordSchema,
        row: &Value,
        reading: &Reading,
    ) -> Result<Avro, String> {
        let Value::Object(map) = row else {
            return Err(format!("a row must be a struct, got {row}"));
        };
        if reading.strict {
            if let Some(extra) = map
                .keys()
                .find(|k| !record.fields.iter().any(|f| &f.name == *k))
            {
                return Err(format!(
                    "`{extra}` is not a field of the schema (strictSchema)"
                ));
            }
        }
        let mut fields = Vec::with_capacity(record.fields.len());
        for field in &record.fields {
            let value = match map.get(&field.name) {
                Some(value) => convert(value, &field.schema, reading)
                    .map_err(|e| format!("field `{}`: {e}", field.name))?,
                None => match &field.default {
                    Some(default) => convert(default, &field.schema, reading)
                        .map_err(|e| format!("field `{}`'s default: {e}", field.name))?,
                    None => convert(&Value::Null, &field.schema, reading)
                        .map_err(|_| format!("field `{}` is missing", field.name))?,
                },
            };
            fields.push((field.name.clone(), value));
        }
        Ok(Avro::Record(fields))
    }

    fn text(value: &Value) -> String {
        to_display_string(value).trim().to_string()
    }

    fn convert(value: &Value, schema: &Schema, reading: &Reading) -> Result<Avro, String> {
        let mismatch = || format!("{value} is not a {}", kind(schema));
        if let Schema::Union(union) = schema {
            let variants = union.variants();
            if reading.is_null(value) {
                if let Some(i) = variants.iter().position(|s| matches!(s, Schema::Null)) {
                    return Ok(Avro::Union(index(i), Box::new(Avro::Null)));
                }
            }
            let mut last = None;
            for (i, variant) in variants.iter().enumerate() {
                if matches!(variant, Schema::Null) {
                    continue;
                }
                match convert(value, variant, reading) {
                    Ok(v) => return Ok(Avro::Union(index(i), Box::new(v))),
                    Err(e) => last = Some(e),
                }
            }
            return Err(last.unwrap_or_else(mismatch));
        }
        if reading.is_null(value) && !matches!(schema, Schema::String) || value.is_null() {
            return match schema {
                Schema::Null => Ok(Avro::Null),
                _ => Err(format!("null is not a {}", kind(schema))),
            };
        }
        Ok(match schema {
            Schema::Null => return Err(mismatch()),
            Schema::Boolean => match value {
                Value::Bool(b) => Avro::Boolean(*b),
                other => {
                    let t = text(other);
                    if reading.trues.iter().any(|v| v.eq_ignore_ascii_case(&t)) {
                        Avro::Boolean(true)
                    } else if reading.falses.iter().any(|v| v.eq_ignore_ascii_case(&t)) {
                        Avro::Boolean(false)
                    } else {
                        return Err(mismatch());
                    }
                }
            },
            Schema::Int => Avro::Int(text(value).parse().map_err(|_| mismatch())?),
            Schema::Long => Avro::Long(text(value).parse().map_err(|_| mismatch())?),
            Schema::Float => Avro::Float(text(value).parse().map_err(|_| mismatch())?),
            Schema::Double => Avro::Double(text(value).parse().map_err(|_| mismatch())?),
            Schema::String => Avro::String(to_display_string(value)),
            Schema::Bytes => Avro::Bytes(to_display_string(value).into_bytes()),
            Schema::Uuid => Avro::Uuid(text(value).parse().map_err(|_| mismatch())?),
            Schema::Enum(e) => {
                let symbol = text(value);
                let i = e
                    .symbols
                    .iter()
                    .position(|s| *s == symbol)
                    .ok_or_else(mismatch)?;
                Avro::Enum(index(i), symbol)
            }
            Schema::Array(array) => match value {
                Value::Array(items) => Avro::Array(
                    items
                        .iter()
                        .map(|item| convert(item, &array.items, reading))
                        .collect::<Result<_, _>>()?,
                ),
                _ => return Err(mismatch()),
            },
            Schema::Map(map) => match value {
                Value::Object(entries) => Avro::Map(
                    entries
                        .iter()
                        .map(|(k, v)| Ok((k.clone(), convert(v, &map.types, reading)?)))
                        .collect::<Result<_, String>>()?,
                ),
                _ => return Err(mismatch()),
            },
            Schema::Record(record) => record_value(record, value, reading)?,
            Schema::Date => Avro::Date(
                jiff::civil::Date::strptime("%Y-%m-%d", text(value))
                    .map_err(|_| mismatch())?
                    .since(jiff::civil::date(1970, 1, 1))
                    .map_err(|_| mismatch())?
                    .get_days(),
            ),
            Schema::TimestampMillis | Schema::TimestampMicros => {
                let t = text(value);
                let at: jiff::Timestamp = t
                    .parse()
                    .or_else(|_| {
                        t.parse::<jiff::civil::DateTime>()
                            .map_err(|_| ())
                            .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).map_err(|_| ()))
                            .map(|z| z.timestamp())
                    })
                    .map_err(|()| mismatch())?;
                if matches!(schema, Schema::TimestampMillis) {
                    Avro::TimestampMillis(at.as_millisecond())
                } else {
                    Avro::TimestampMicros(at.as_microsecond())
                }
            }
            other => {
                return Err(format!(
                    "the schema type {} is not written by kflow yet",
                    kind(other)
                ))
            }
        })
    }

    fn index(i: usize) -> u32 {
        u32::try_from(i).unwrap_or(u32::MAX)
    }

    fn kind(schema: &Schema) -> String {
        let name: apache_avro::schema::SchemaKind = schema.into();
        format!("{name:?}").to_ascii_lowercase()
    }

    pub(crate) fn avro_to_ion(
        input: impl BufRead,
        output: &mut impl Write,
    ) -> Result<u64, TaskError> {
        let reader = apache_avro::Reader::new(input)
            .map_err(|e| format!("not an Avro container file: {e}"))?;
        let mut size = 0u64;
        for value in reader {
            let value = value.map_err(|e| format!("reading the Avro file: {e}"))?;
            size += 1;
            let line = to_ion(&json_of(value));
            output
                .write_all(line.as_bytes())
                .and_then(|()| output.write_all(b"\n"))
                .map_err(|e| format!("writing: {e}"))?;
        }
        Ok(size)
    }

    /// An Avro value as the JSON value of its Ion row.
    fn json_of(value: Avro) -> Value {
        use base64::Engine as _;
        let timestamp = |t: Result<jiff::Timestamp, jiff::Error>| {
            t.map_or(Value::Null, |t| Value::String(t.to_string()))
        };
        match value {
            Avro::Null => Value::Null,
            Avro::Boolean(b) => Value::Bool(b),
            Avro::Int(i) | Avro::TimeMillis(i) => Value::from(i),
            Avro::Long(i) | Avro::TimeMicros(i) => Value::from(i),
            Avro::Float(f) => Value::from(f64::from(f)),
            Avro::Double(f) => Value::from(f),
            Avro::Bytes(b) | Avro::Fixed(_, b) => {
                Value::String(base64::engine::general_purpose::STANDARD.encode(b))
            }
            Avro::String(s) | Avro::Enum(_, s) => Value::String(s),
            Avro::Union(_, inner) => json_of(*inner),
            Avro::Array(items) => Value::Array(items.into_iter().map(json_of).collect()),
            Avro::Map(entries) => Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, json_of(v)))
                    .collect::<Map<_, _>>(),
            ),
            Avro::Record(fields) => Value::Object(
                fields
                    .into_iter()
                    .map(|(k, v)| (k, json_of(v)))
                    .collect::<Map<_, _>>(),
            ),
            Avro::Date(days) => jiff::civil::date(1970, 1, 1)
                .checked_add(jiff::Span::new().days(i64::from(days)))
                .map_or(Value::Null, |d| Value::String(d.to_string())),
            Avro::TimestampMillis(ms) | Avro::LocalTimestampMillis(ms) => {
                timestamp(jiff::Timestamp::from_millisecond(ms))
            }
            Avro::TimestampMicros(us) | Avro::LocalTimestampMicros(us) => {
                timestamp(jiff::Timestamp::from_microsecond(us))
            }
            Avro::TimestampNanos(ns) | Avro::LocalTimestampNanos(ns) => {
                timestamp(jiff::Timestamp::from_nanosecond(i128::from(ns)))
            }
            Avro::Uuid(u) => Value::String(u.to_string()),
            other => Value::String(format!("{other:?}")),
        }
    }
}
