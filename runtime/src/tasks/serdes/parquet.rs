//! `io.kestra.plugin.serdes.parquet.IonToParquet` and `ParquetToIon`, with the Apache Parquet
//! crate's record API (the `parquet` feature; no Arrow).
//!
//! `IonToParquet` takes an Avro record `schema`, as Kestra's (which writes through
//! parquet-avro), and reads each row as `IonToAvro` does; the record's fields become columns:
//! boolean, int, long, float, double, string, bytes, enum, uuid, date, and timestamps in
//! milliseconds or microseconds, each nullable through a union with null. Nested records,
//! arrays and maps are refused with the field's name (kflow writes flat rows to Parquet).
//! `compressionCodec`: UNCOMPRESSED, SNAPPY or GZIP (Kestra's default); a row group holds up to
//! [`ROWS_PER_GROUP`] rows. `ParquetToIon` reads any Parquet file's rows (nested ones too).

use crate::definition::{prop, PropDef, PropType::*};

/// The rows a row group holds at most (they are held in memory until it is written).
pub const ROWS_PER_GROUP: usize = 50_000;

pub(crate) static ION_TO_PARQUET_PROPS: &[PropDef] = crate::avro_converter_props![
    prop("from", String).required(),
    prop(
        "compressionCodec",
        Enum(&["UNCOMPRESSED", "SNAPPY", "GZIP"])
    ),
    prop("parquetVersion", Enum(&["V1", "V2"])),
    prop("rowGroupSize", Int).not_run_yet(),
    prop("pageSize", Int).not_run_yet(),
    prop("dictionaryPageSize", Int).not_run_yet(),
];
pub(crate) static PARQUET_TO_ION_PROPS: &[PropDef] = &[prop("from", String).required()];

#[cfg(feature = "parquet")]
pub(crate) mod run {
    use std::fmt::Write as _;
    use std::io::Write;
    use std::sync::Arc;

    use apache_avro::schema::Schema;
    use apache_avro::types::Value as Avro;
    use parquet::basic::{Compression, GzipLevel};
    use parquet::data_type::{
        BoolType, ByteArray, ByteArrayType, DoubleType, FloatType, Int32Type, Int64Type,
    };
    use parquet::file::properties::{WriterProperties, WriterVersion};
    use parquet::file::reader::FileReader as _;
    use parquet::record::{Field, Row};
    use serde_json::Value;

    use super::ROWS_PER_GROUP;
    use crate::expr::to_ion;
    use crate::tasks::props::optional_text;
    use crate::tasks::serdes::avro::run::{reading, record_schema, record_value};
    use crate::tasks::serdes::SerdesProps;
    use crate::tasks::TaskError;

    /// One column's values for the row group being built.
    enum Values {
        Bool(Vec<bool>),
        Int(Vec<i32>),
        Long(Vec<i64>),
        Float(Vec<f32>),
        Double(Vec<f64>),
        Bytes(Vec<ByteArray>),
    }

    struct Column {
        name: String,
        optional: bool,
        values: Values,
        /// Definition levels (1 present, 0 null) of an optional column.
        levels: Vec<i16>,
    }

    impl Column {
        fn push(&mut self, value: Avro) -> Result<(), String> {
            let value = match value {
                Avro::Union(_, inner) => *inner,
                other => other,
            };
            if matches!(value, Avro::Null) {
                self.levels.push(0);
                return Ok(());
            }
            if self.optional {
                self.levels.push(1);
            }
            match (&mut self.values, value) {
                (Values::Bool(v), Avro::Boolean(b)) => v.push(b),
                (Values::Int(v), Avro::Int(i) | Avro::Date(i)) => v.push(i),
                (
                    Values::Long(v),
                    Avro::Long(i) | Avro::TimestampMillis(i) | Avro::TimestampMicros(i),
                ) => v.push(i),
                (Values::Float(v), Avro::Float(f)) => v.push(f),
                (Values::Double(v), Avro::Double(f)) => v.push(f),
                (Values::Bytes(v), Avro::String(s) | Avro::Enum(_, s)) => {
                    v.push(ByteArray::from(s.into_bytes()));
                }
                (Values::Bytes(v), Avro::Bytes(b)) => v.push(ByteArray::from(b)),
                (Values::Bytes(v), Avro::Uuid(u)) => {
                    v.push(ByteArray::from(u.to_string().into_bytes()));
                }
                (_, other) => return Err(format!("`{}`: unexpected value {other:?}", self.name)),
            }
            Ok(())
        }

        fn clear(&mut self) {
            self.levels.clear();
            match &mut self.values {
                Values::Bool(v) => v.clear(),
                Values::Int(v) => v.clear(),
                Values::Long(v) => v.clear(),
                Values::Float(v) => v.clear(),
                Values::Double(v) => v.clear(),
                Values::Bytes(v) => v.clear(),
            }
        }
    }

    /// The Parquet message type of an Avro record schema, and an empty column per field.
    fn columns_of(schema: &Schema) -> Result<(String, Vec<Column>), TaskError> {
        let Schema::Record(record) = schema else {
            return Err("`schema` must be a record schema".into());
        };
        let mut message = String::from("message Root {\n");
        let mut columns = Vec::new();
        for field in &record.fields {
            let (optional, inner) = match &field.schema {
                Schema::Union(union) => {
                    let others: Vec<&Schema> = union
                        .variants()
                        .iter()
                        .filter(|s| !matches!(s, Schema::Null))
                        .collect();
                    match others.as_slice() {
                        [one] if others.len() < union.variants().len() => (true, *one),
                        _ => {
                            return Err(format!(
                            "field `{}`: only a union of null and one type is written to Parquet",
                            field.name
                        )
                            .into())
                        }
                    }
                }
                other => (false, other),
            };
            let (physical, annotation, values) = match inner {
                Schema::Boolean => ("boolean", "", Values::Bool(Vec::new())),
                Schema::Int => ("int32", "", Values::Int(Vec::new())),
                Schema::Date => ("int32", " (DATE)", Values::Int(Vec::new())),
                Schema::Long => ("int64", "", Values::Long(Vec::new())),
                Schema::TimestampMillis => (
                    "int64",
                    " (TIMESTAMP(MILLIS,true))",
                    Values::Long(Vec::new()),
                ),
                Schema::TimestampMicros => (
                    "int64",
                    " (TIMESTAMP(MICROS,true))",
                    Values::Long(Vec::new()),
                ),
                Schema::Float => ("float", "", Values::Float(Vec::new())),
                Schema::Double => ("double", "", Values::Double(Vec::new())),
                Schema::String | Schema::Uuid => ("binary", " (STRING)", Values::Bytes(Vec::new())),
                Schema::Enum(_) => ("binary", " (ENUM)", Values::Bytes(Vec::new())),
                Schema::Bytes => ("binary", "", Values::Bytes(Vec::new())),
                other => {
                    let kind: apache_avro::schema::SchemaKind = other.into();
                    return Err(format!(
                        "field `{}`: kflow writes flat rows to Parquet, and {kind:?} is not a column type",
                        field.name
                    )
                    .into());
                }
            };
            if !field
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(format!(
                    "field `{}`: a column name is letters, digits and _",
                    field.name
                )
                .into());
            }
            let repetition = if optional { "optional" } else { "required" };
            let _ = writeln!(
                message,
                "  {repetition} {physical} {}{annotation};",
                field.name
            );
            columns.push(Column {
                name: field.name.clone(),
                optional,
                values,
                levels: Vec::new(),
            });
        }
        message.push('}');
        Ok((message, columns))
    }

    pub(crate) fn ion_to_parquet(
        props: &SerdesProps,
        rows: impl Iterator<Item = Result<Value, TaskError>>,
        output: impl Write + Send,
    ) -> Result<u64, TaskError> {
        let schema = record_schema(props)?;
        let Schema::Record(record) = &schema else {
            return Err("`schema` must be a record schema".into());
        };
        let reading = reading(props)?;
        let (message, mut columns) = columns_of(&schema)?;
        let parquet_schema = Arc::new(
            parquet::schema::parser::parse_message_type(&message)
                .map_err(|e| format!("the Parquet schema: {e}"))?,
        );
        let compression = match optional_text(props.compression_codec.as_ref()).as_deref() {
            None | Some("GZIP") => Compression::GZIP(GzipLevel::default()),
            Some("SNAPPY") => Compression::SNAPPY,
            Some("UNCOMPRESSED") => Compression::UNCOMPRESSED,
            Some(other) => {
                return Err(format!(
                    "`compressionCodec: {other}`: kflow writes UNCOMPRESSED, SNAPPY or GZIP"
                )
                .into())
            }
        };
        let version = match optional_text(props.parquet_version.as_ref()).as_deref() {
            Some("V1") => WriterVersion::PARQUET_1_0,
            _ => WriterVersion::PARQUET_2_0,
        };
        let properties = Arc::new(
            WriterProperties::builder()
                .set_compression(compression)
                .set_writer_version(version)
                .set_created_by("kflow".into())
                .build(),
        );
        let mut writer =
            parquet::file::writer::SerializedFileWriter::new(output, parquet_schema, properties)
                .map_err(|e| format!("writing the Parquet file: {e}"))?;
        let mut size = 0u64;
        let mut in_group = 0usize;
        let mut rows = rows.peekable();
        while rows.peek().is_some() {
            for row in rows.by_ref() {
                let row = row?;
                size += 1;
                let Avro::Record(fields) =
                    record_value(record, &row, &reading).map_err(|e| format!("row {size}: {e}"))?
                else {
                    return Err(format!("row {size}: not a record").into());
                };
                for (column, (_, value)) in columns.iter_mut().zip(fields) {
                    column.push(value).map_err(|e| format!("row {size}: {e}"))?;
                }
                in_group += 1;
                if in_group == ROWS_PER_GROUP {
                    break;
                }
            }
            write_group(&mut writer, &mut columns)?;
            in_group = 0;
        }
        writer
            .close()
            .map_err(|e| format!("writing the Parquet file: {e}"))?;
        Ok(size)
    }

    fn write_group<W: Write + Send>(
        writer: &mut parquet::file::writer::SerializedFileWriter<W>,
        columns: &mut [Column],
    ) -> Result<(), TaskError> {
        let failed = |e: parquet::errors::ParquetError| format!("writing the Parquet file: {e}");
        let mut group = writer.next_row_group().map_err(failed)?;
        for column in columns.iter_mut() {
            let mut out = group
                .next_column()
                .map_err(failed)?
                .ok_or("the Parquet schema has fewer columns than the rows")?;
            let levels = column.optional.then_some(column.levels.as_slice());
            let written = match &column.values {
                Values::Bool(v) => out.typed::<BoolType>().write_batch(v, levels, None),
                Values::Int(v) => out.typed::<Int32Type>().write_batch(v, levels, None),
                Values::Long(v) => out.typed::<Int64Type>().write_batch(v, levels, None),
                Values::Float(v) => out.typed::<FloatType>().write_batch(v, levels, None),
                Values::Double(v) => out.typed::<DoubleType>().write_batch(v, levels, None),
                Values::Bytes(v) => out.typed::<ByteArrayType>().write_batch(v, levels, None),
            };
            written.map_err(failed)?;
            out.close().map_err(failed)?;
            column.clear();
        }
        group.close().map_err(failed)?;
        Ok(())
    }

    /// A row as JSON, timestamps as ISO-8601 text (as `AvroToIon` gives them).
    fn json_of_row(row: &Row) -> Value {
        Value::Object(
            row.get_column_iter()
                .map(|(name, field)| (name.clone(), json_of_field(field)))
                .collect(),
        )
    }

    fn json_of_field(field: &Field) -> Value {
        let iso = |t: Result<jiff::Timestamp, jiff::Error>| {
            t.map_or(Value::Null, |t| Value::String(t.to_string()))
        };
        match field {
            Field::TimestampMillis(ms) => iso(jiff::Timestamp::from_millisecond(*ms)),
            Field::TimestampMicros(us) => iso(jiff::Timestamp::from_microsecond(*us)),
            Field::Group(row) => json_of_row(row),
            other => other.to_json_value(),
        }
    }

    pub(crate) fn parquet_to_ion(
        input: std::fs::File,
        output: &mut impl Write,
    ) -> Result<u64, TaskError> {
        let reader = parquet::file::serialized_reader::SerializedFileReader::new(input)
            .map_err(|e| format!("not a Parquet file: {e}"))?;
        let rows = reader
            .get_row_iter(None)
            .map_err(|e| format!("reading the Parquet file: {e}"))?;
        let mut size = 0u64;
        for row in rows {
            let row = row.map_err(|e| format!("reading the Parquet file: {e}"))?;
            size += 1;
            output
                .write_all(to_ion(&json_of_row(&row)).as_bytes())
                .and_then(|()| output.write_all(b"\n"))
                .map_err(|e| format!("writing: {e}"))?;
        }
        Ok(size)
    }
}
