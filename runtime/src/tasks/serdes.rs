//! `io.kestra.plugin.serdes.{csv,json}`: conversions between Ion (Kestra's row files: one
//! value a line) and CSV, JSON or JSON Lines, streamed from storage to storage one row at a
//! time (memory stays flat whatever the file's size).
//!
//! As in Kestra: `CsvToIon` gives a struct a row with the header's names (`header`, default
//! true) or a list of the row's values, every value text; `IonToCsv` writes the first row's
//! field names as the header; `JsonToIon` reads JSON Lines (`newLine`, default true) or one JSON
//! array; `IonToJson` writes JSON Lines or one array. Text is UTF-8 (`charset` other than
//! UTF-8 is refused: say so when it is needed).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::definition::{
    out, prop, OutputDef, PluginDef, PropDef, PropType, PropType::*, ValueType,
};

/// `io.kestra.plugin.serdes.OnBadLines`.
pub const ON_BAD_LINES: PropType = Enum(&["ERROR", "WARN", "SKIP"]);

/// The `Output` of the serdes converters.
pub static SERDES_OUTPUTS: &[OutputDef] =
    &[out("uri", ValueType::Uri), out("size", ValueType::Int)];

static CSV_TO_ION_PROPS: &[PropDef] = &[
    prop("from", String).required(),
    prop("header", Bool),
    prop("fieldSeparator", String), // Character
    prop("textDelimiter", String),  // Character
    prop("skipEmptyRows", Bool),
    prop("errorOnDifferentFieldCount", Bool).deprecated("use onBadLines"),
    prop("onBadLines", ON_BAD_LINES),
    prop("onEmptyHeader", Enum(&["DROP", "RENAME"])).not_run_yet(),
    prop("skipRows", Int),
    prop("charset", String),
    prop("maxBufferSize", Int).not_run_yet(),
    prop("allowExtraCharsAfterClosingQuote", Bool),
    prop("maxFieldSize", Int).not_run_yet(),
];

static ION_TO_CSV_PROPS: &[PropDef] = &[
    prop("dateFormat", String).not_run_yet(),
    prop("timeFormat", String).not_run_yet(),
    prop("dateTimeFormat", String).not_run_yet(),
    prop("timeZoneId", String).not_run_yet(),
    prop("from", String).required(),
    prop("header", Bool),
    prop("fieldSeparator", String), // Character
    prop("textDelimiter", String),  // Character
    prop("lineDelimiter", String),
    prop("alwaysDelimitText", Bool),
    prop("quoteMode", Enum(&["ALWAYS", "REQUIRED", "NON_NUMERIC"])),
    prop("charset", String),
];

static JSON_TO_ION_PROPS: &[PropDef] = &[
    prop("from", String).required(),
    prop("charset", String),
    prop("newLine", Bool),
];

static ION_TO_JSON_PROPS: &[PropDef] = &[
    prop("from", String).required(),
    prop("charset", String),
    prop("newLine", Bool),
    prop("timeZoneId", String).not_run_yet(),
    prop("shouldKeepAnnotations", Bool).not_run_yet(),
];

/// The properties of the converters, as rendered (a type's definition says which it has).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SerdesProps {
    pub from: Value,
    #[serde(default)]
    pub header: Option<Value>,
    #[serde(default)]
    pub field_separator: Option<Value>,
    #[serde(default)]
    pub text_delimiter: Option<Value>,
    #[serde(default)]
    pub skip_empty_rows: Option<Value>,
    #[serde(default)]
    pub error_on_different_field_count: Option<Value>,
    #[serde(default)]
    pub on_bad_lines: Option<Value>,
    #[serde(default)]
    pub on_empty_header: Option<Value>,
    #[serde(default)]
    pub skip_rows: Option<Value>,
    #[serde(default)]
    pub charset: Option<Value>,
    #[serde(default)]
    pub max_buffer_size: Option<Value>,
    #[serde(default)]
    pub allow_extra_chars_after_closing_quote: Option<Value>,
    #[serde(default)]
    pub max_field_size: Option<Value>,
    #[serde(default)]
    pub date_format: Option<Value>,
    #[serde(default)]
    pub time_format: Option<Value>,
    #[serde(default)]
    pub date_time_format: Option<Value>,
    #[serde(default)]
    pub time_zone_id: Option<Value>,
    #[serde(default)]
    pub line_delimiter: Option<Value>,
    #[serde(default)]
    pub always_delimit_text: Option<Value>,
    #[serde(default)]
    pub quote_mode: Option<Value>,
    #[serde(default)]
    pub new_line: Option<Value>,
    #[serde(default)]
    pub should_keep_annotations: Option<Value>,
    #[serde(default)]
    pub schema: Option<Value>,
    #[serde(default)]
    pub number_of_rows_to_scan: Option<Value>,
    #[serde(default)]
    pub true_values: Option<Value>,
    #[serde(default)]
    pub false_values: Option<Value>,
    #[serde(default)]
    pub null_values: Option<Value>,
    #[serde(default)]
    pub datetime_format: Option<Value>,
    #[serde(default)]
    pub decimal_separator: Option<Value>,
    #[serde(default)]
    pub strict_schema: Option<Value>,
    #[serde(default)]
    pub infer_all_fields: Option<Value>,
    #[serde(default)]
    pub compression_codec: Option<Value>,
    #[serde(default)]
    pub parquet_version: Option<Value>,
    #[serde(default)]
    pub row_group_size: Option<Value>,
    #[serde(default)]
    pub page_size: Option<Value>,
    #[serde(default)]
    pub dictionary_page_size: Option<Value>,
}

/// The conversions, in the order of `Convert`'s parameter.
pub const CSV_TO_ION: usize = 0;
pub const ION_TO_CSV: usize = 1;
pub const JSON_TO_ION: usize = 2;
pub const ION_TO_JSON: usize = 3;
pub const ION_TO_AVRO: usize = 4;
pub const AVRO_TO_ION: usize = 5;
pub const ION_TO_PARQUET: usize = 6;
pub const PARQUET_TO_ION: usize = 7;

/// One converter type.
#[derive(Debug)]
pub struct Convert<const KIND: usize>(pub SerdesProps);

impl<'de, const KIND: usize> Deserialize<'de> for Convert<KIND> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        SerdesProps::deserialize(deserializer).map(Convert)
    }
}

impl<const KIND: usize> Convert<KIND> {
    pub const DEFINITION: PluginDef = (match KIND {
        CSV_TO_ION => PluginDef::runnable_task(
            "io.kestra.plugin.serdes.csv.CsvToIon",
            &["io.kestra.plugin.serdes.csv.CsvReader"],
            CSV_TO_ION_PROPS,
            SERDES_OUTPUTS,
        )
        .with_feature("serdes"),
        ION_TO_CSV => PluginDef::runnable_task(
            "io.kestra.plugin.serdes.csv.IonToCsv",
            &["io.kestra.plugin.serdes.csv.CsvWriter"],
            ION_TO_CSV_PROPS,
            SERDES_OUTPUTS,
        )
        .with_feature("serdes"),
        JSON_TO_ION => PluginDef::runnable_task(
            "io.kestra.plugin.serdes.json.JsonToIon",
            &["io.kestra.plugin.serdes.json.JsonReader"],
            JSON_TO_ION_PROPS,
            SERDES_OUTPUTS,
        )
        .with_feature("serdes"),
        ION_TO_JSON => PluginDef::runnable_task(
            "io.kestra.plugin.serdes.json.IonToJson",
            &["io.kestra.plugin.serdes.json.JsonWriter"],
            ION_TO_JSON_PROPS,
            SERDES_OUTPUTS,
        )
        .with_feature("serdes"),
        ION_TO_AVRO => PluginDef::runnable_task(
            "io.kestra.plugin.serdes.avro.IonToAvro",
            &["io.kestra.plugin.serdes.avro.AvroWriter"],
            avro::ION_TO_AVRO_PROPS,
            SERDES_OUTPUTS,
        )
        .with_feature("avro"),
        AVRO_TO_ION => PluginDef::runnable_task(
            "io.kestra.plugin.serdes.avro.AvroToIon",
            &["io.kestra.plugin.serdes.avro.AvroReader"],
            avro::AVRO_TO_ION_PROPS,
            SERDES_OUTPUTS,
        )
        .with_feature("avro"),
        ION_TO_PARQUET => PluginDef::runnable_task(
            "io.kestra.plugin.serdes.parquet.IonToParquet",
            &["io.kestra.plugin.serdes.parquet.ParquetWriter"],
            parquet::ION_TO_PARQUET_PROPS,
            SERDES_OUTPUTS,
        )
        .with_feature("parquet"),
        _ => PluginDef::runnable_task(
            "io.kestra.plugin.serdes.parquet.ParquetToIon",
            &["io.kestra.plugin.serdes.parquet.ParquetReader"],
            parquet::PARQUET_TO_ION_PROPS,
            SERDES_OUTPUTS,
        )
        .with_feature("parquet"),
    });
}

pub type CsvToIon = Convert<CSV_TO_ION>;
pub type IonToCsv = Convert<ION_TO_CSV>;
pub type JsonToIon = Convert<JSON_TO_ION>;
pub type IonToJson = Convert<ION_TO_JSON>;
pub type IonToAvro = Convert<ION_TO_AVRO>;
pub type AvroToIon = Convert<AVRO_TO_ION>;
pub type IonToParquet = Convert<ION_TO_PARQUET>;
pub type ParquetToIon = Convert<PARQUET_TO_ION>;

pub mod avro;
pub mod parquet;

/// What a converter gives: the new file and its row count.
#[derive(Debug, Serialize)]
pub struct SerdesOutput {
    pub uri: std::string::String,
    pub size: u64,
}

#[cfg(feature = "serdes")]
mod run {
    use std::io::{BufRead, BufReader, BufWriter, Read, Write};

    use serde_json::{Map, Value};

    use super::{
        Convert, SerdesOutput, SerdesProps, AVRO_TO_ION, CSV_TO_ION, ION_TO_AVRO, ION_TO_CSV,
        ION_TO_JSON, ION_TO_PARQUET, JSON_TO_ION, PARQUET_TO_ION,
    };
    use crate::expr::value::to_display_string;
    use crate::expr::{parse_ion, to_ion};
    use crate::plan::Level;
    use crate::tasks::props::{flag, optional_text};
    use crate::tasks::{Task, TaskContext, TaskError};

    /// The longest line (one row) read.
    const MAX_LINE: u64 = 64 << 20;

    impl<const KIND: usize> Task for Convert<KIND> {
        type Output = SerdesOutput;

        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<SerdesOutput, TaskError> {
            let props = &self.0;
            if let Some(charset) = optional_text(props.charset.as_ref()) {
                if !charset.eq_ignore_ascii_case("UTF-8") && !charset.eq_ignore_ascii_case("UTF8") {
                    return Err(
                        format!("`charset: {charset}`: kflow reads and writes UTF-8 only").into(),
                    );
                }
            }
            let from = to_display_string(&props.from);
            let input = BufReader::new(
                ctx.storage()?
                    .open(&from)
                    .map_err(|e| format!("`from`: {e}"))?,
            );
            let extension = match KIND {
                CSV_TO_ION | JSON_TO_ION | AVRO_TO_ION | PARQUET_TO_ION => "ion",
                ION_TO_CSV => "csv",
                ION_TO_AVRO => "avro",
                ION_TO_PARQUET => "parquet",
                _ => "json",
            };
            let temp = std::env::temp_dir().join(format!(
                "kflow-serdes-{}.{extension}",
                crate::execution::new_id()
            ));
            let result = (|| {
                let file =
                    std::fs::File::create(&temp).map_err(|e| format!("a temporary file: {e}"))?;
                let mut output = BufWriter::new(file);
                let size = match KIND {
                    CSV_TO_ION => csv_to_ion(props, input, &mut output, ctx)?,
                    ION_TO_CSV => ion_to_csv(props, input, &mut output)?,
                    JSON_TO_ION => json_to_ion(props, input, &mut output)?,
                    ION_TO_JSON => ion_to_json(props, input, &mut output)?,
                    #[cfg(feature = "avro")]
                    ION_TO_AVRO => {
                        super::avro::run::ion_to_avro(props, ion_values(input), &mut output)?
                    }
                    #[cfg(feature = "avro")]
                    AVRO_TO_ION => super::avro::run::avro_to_ion(input, &mut output)?,
                    #[cfg(feature = "parquet")]
                    ION_TO_PARQUET => {
                        super::parquet::run::ion_to_parquet(props, ion_values(input), &mut output)?
                    }
                    #[cfg(feature = "parquet")]
                    PARQUET_TO_ION => {
                        super::parquet::run::parquet_to_ion(input.into_inner(), &mut output)?
                    }
                    // Registered as `Unbuilt` without their feature: never reached.
                    _ => return Err("this binary was built without this conversion".into()),
                };
                output.flush().map_err(|e| format!("writing: {e}"))?;
                drop(output);
                let mut file =
                    std::fs::File::open(&temp).map_err(|e| format!("a temporary file: {e}"))?;
                let name = format!("{}.{extension}", crate::execution::new_id());
                let uri = ctx.put_file(&name, &mut file)?;
                Ok::<_, TaskError>(SerdesOutput { uri, size })
            })();
            let _ = std::fs::remove_file(&temp);
            result
        }
    }

    fn one_char(value: Option<&Value>, name: &str, default: u8) -> Result<u8, TaskError> {
        match optional_text(value) {
            None => Ok(default),
            Some(text) if text.len() == 1 => Ok(text.as_bytes()[0]),
            Some(text) if text == "\\t" => Ok(b'\t'),
            Some(text) => Err(format!("`{name}` must be one ASCII character, got `{text}`").into()),
        }
    }

    fn write_line(out: &mut impl Write, line: &str) -> Result<(), TaskError> {
        out.write_all(line.as_bytes())
            .and_then(|()| out.write_all(b"\n"))
            .map_err(|e| format!("writing: {e}").into())
    }

    /// Ion lines of `input`, each parsed.
    fn ion_values(input: impl BufRead) -> impl Iterator<Item = Result<Value, TaskError>> {
        let mut input = input.take(MAX_LINE);
        let mut number = 0u64;
        std::iter::from_fn(move || loop {
            let mut line = String::new();
            input.set_limit(MAX_LINE);
            match input.read_line(&mut line) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => return Some(Err(format!("reading: {e}").into())),
            }
            number += 1;
            if !line.ends_with('\n') && line.len() as u64 >= MAX_LINE {
                return Some(Err(format!(
                    "line {number} is longer than {} MiB",
                    MAX_LINE >> 20
                )
                .into()));
            }
            if line.trim().is_empty() {
                continue;
            }
            return Some(
                parse_ion(line.trim()).map_err(|e| format!("line {number} is not Ion: {e}").into()),
            );
        })
    }

    fn csv_to_ion(
        props: &SerdesProps,
        input: impl Read,
        output: &mut impl Write,
        ctx: &TaskContext<'_>,
    ) -> Result<u64, TaskError> {
        let header = flag(props.header.as_ref(), "header", true)?;
        let skip_empty = flag(props.skip_empty_rows.as_ref(), "skipEmptyRows", false)?;
        let skip_rows = match props.skip_rows.as_ref().filter(|v| !v.is_null()) {
            Some(v) => to_display_string(v)
                .trim()
                .parse::<u64>()
                .map_err(|_| format!("`skipRows` must be a number, got {v}"))?,
            None => 0,
        };
        let on_bad = match optional_text(props.on_bad_lines.as_ref()) {
            Some(mode) => mode,
            None if flag(
                props.error_on_different_field_count.as_ref(),
                "errorOnDifferentFieldCount",
                false,
            )? =>
            {
                "ERROR".into()
            }
            None => "ERROR".into(),
        };
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(one_char(
                props.field_separator.as_ref(),
                "fieldSeparator",
                b',',
            )?)
            .quote(one_char(
                props.text_delimiter.as_ref(),
                "textDelimiter",
                b'"',
            )?)
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        let mut names: Option<Vec<String>> = None;
        let mut size = 0u64;
        let mut record = csv::StringRecord::new();
        let mut line = 0u64;
        while reader
            .read_record(&mut record)
            .map_err(|e| format!("reading CSV: {e}"))?
        {
            line += 1;
            if line <= skip_rows {
                continue;
            }
            if skip_empty && record.iter().all(str::is_empty) {
                continue;
            }
            if header && names.is_none() {
                names = Some(record.iter().map(str::to_string).collect());
                continue;
            }
            let value = match &names {
                Some(names) => {
                    if record.len() != names.len() {
                        let message = format!(
                            "row {line} has {} fields where the header has {}",
                            record.len(),
                            names.len()
                        );
                        match on_bad.as_str() {
                            "SKIP" => continue,
                            "WARN" => {
                                ctx.log(Level::Warn, &format!("{message}: skipped"));
                                continue;
                            }
                            _ => return Err(message.into()),
                        }
                    }
                    let row: Map<String, Value> = names
                        .iter()
                        .zip(record.iter())
                        .map(|(n, v)| (n.clone(), Value::String(v.to_string())))
                        .collect();
                    Value::Object(row)
                }
                None => Value::Array(
                    record
                        .iter()
                        .map(|v| Value::String(v.to_string()))
                        .collect(),
                ),
            };
            write_line(output, &to_ion(&value))?;
            size += 1;
        }
        Ok(size)
    }

    fn ion_to_csv(
        props: &SerdesProps,
        input: impl BufRead,
        output: &mut impl Write,
    ) -> Result<u64, TaskError> {
        let header = flag(props.header.as_ref(), "header", true)?;
        let always = flag(
            props.always_delimit_text.as_ref(),
            "alwaysDelimitText",
            false,
        )?;
        let quote_style = match optional_text(props.quote_mode.as_ref()).as_deref() {
            Some("ALWAYS") => csv::QuoteStyle::Always,
            Some("NON_NUMERIC") => csv::QuoteStyle::NonNumeric,
            _ if always => csv::QuoteStyle::Always,
            _ => csv::QuoteStyle::Necessary,
        };
        let terminator = match optional_text(props.line_delimiter.as_ref()).as_deref() {
            None | Some("\n") => csv::Terminator::Any(b'\n'),
            Some("\r\n") => csv::Terminator::CRLF,
            Some(other) if other.len() == 1 => csv::Terminator::Any(other.as_bytes()[0]),
            Some(other) => {
                return Err(format!(
                    "`lineDelimiter` must be one character or \\r\\n, got {other:?}"
                )
                .into())
            }
        };
        let mut writer = csv::WriterBuilder::new()
            .delimiter(one_char(
                props.field_separator.as_ref(),
                "fieldSeparator",
                b',',
            )?)
            .quote(one_char(
                props.text_delimiter.as_ref(),
                "textDelimiter",
                b'"',
            )?)
            .quote_style(quote_style)
            .terminator(terminator)
            .flexible(true)
            .from_writer(output);
        let mut names: Option<Vec<String>> = None;
        let mut size = 0u64;
        for value in ion_values(input) {
            let value = value?;
            let cells: Vec<String> = match &value {
                Value::Object(row) => {
                    if names.is_none() {
                        let keys: Vec<String> = row.keys().cloned().collect();
                        if header {
                            writer
                                .write_record(&keys)
                                .map_err(|e| format!("writing CSV: {e}"))?;
                        }
                        names = Some(keys);
                    }
                    let names = names.as_ref().map_or(&[][..], Vec::as_slice);
                    names
                        .iter()
                        .map(|n| cell(row.get(n).unwrap_or(&Value::Null)))
                        .collect()
                }
                Value::Array(items) => items.iter().map(cell).collect(),
                other => vec![cell(other)],
            };
            writer
                .write_record(&cells)
                .map_err(|e| format!("writing CSV: {e}"))?;
            size += 1;
        }
        writer.flush().map_err(|e| format!("writing CSV: {e}"))?;
        Ok(size)
    }

    /// A CSV cell: text as it is, null empty, nested values as JSON.
    fn cell(value: &Value) -> String {
        match value {
            Value::Null => String::new(),
            Value::Array(_) | Value::Object(_) => value.to_string(),
            other => to_display_string(other),
        }
    }

    fn json_to_ion(
        props: &SerdesProps,
        input: impl BufRead,
        output: &mut impl Write,
    ) -> Result<u64, TaskError> {
        let mut size = 0u64;
        if flag(props.new_line.as_ref(), "newLine", true)? {
            let mut input = input.take(MAX_LINE);
            let mut number = 0u64;
            loop {
                let mut line = String::new();
                input.set_limit(MAX_LINE);
                if input
                    .read_line(&mut line)
                    .map_err(|e| format!("reading: {e}"))?
                    == 0
                {
                    break;
                }
                number += 1;
                if line.trim().is_empty() {
                    continue;
                }
                let value: Value = serde_json::from_str(line.trim())
                    .map_err(|e| format!("line {number} is not JSON: {e}"))?;
                write_line(output, &to_ion(&value))?;
                size += 1;
            }
        } else {
            // One JSON value: an array's items are the rows (read whole: a JSON array is one
            // value; JSON Lines stream).
            let value: Value = serde_json::from_reader(input.take(1 << 30))
                .map_err(|e| format!("not JSON: {e}"))?;
            let rows = match value {
                Value::Array(items) => items,
                other => vec![other],
            };
            for row in rows {
                write_line(output, &to_ion(&row))?;
                size += 1;
            }
        }
        Ok(size)
    }

    fn ion_to_json(
        props: &SerdesProps,
        input: impl BufRead,
        output: &mut impl Write,
    ) -> Result<u64, TaskError> {
        let lines = flag(props.new_line.as_ref(), "newLine", true)?;
        let mut size = 0u64;
        let io = |e: std::io::Error| TaskError::from(format!("writing: {e}"));
        if !lines {
            output.write_all(b"[").map_err(io)?;
        }
        for value in ion_values(input) {
            let text = value?.to_string();
            if lines {
                write_line(output, &text)?;
            } else {
                if size > 0 {
                    output.write_all(b",").map_err(io)?;
                }
                output.write_all(text.as_bytes()).map_err(io)?;
            }
            size += 1;
        }
        if !lines {
            output.write_all(b"]").map_err(io)?;
        }
        Ok(size)
    }
}
