//! The serdes conversions in a run: CSV to Ion (header names, quoted separators, a ragged row
//! skipped with a warning), Ion to JSON Lines and to a JSON array, Ion back to CSV with another
//! separator, and a JSON array to Ion; what each file holds, read by the next task.

use kflow_tests::{lowered, run_in_process, task_run};

const FLOW: &str = r#"id: serdes
namespace: kflow.tests
tasks:
  - id: csv
    type: io.kestra.plugin.core.storage.Write
    extension: .csv
    content: |
      name,city,amount
      Ada,"London, UK",12
      Bob,Paris,7
      broken,row
  - id: to_ion
    type: io.kestra.plugin.serdes.csv.CsvToIon
    from: "{{ outputs.csv.uri }}"
    onBadLines: WARN
  - id: ion
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.to_ion.uri) }}"
  - id: to_jsonl
    type: io.kestra.plugin.serdes.json.IonToJson
    from: "{{ outputs.to_ion.uri }}"
  - id: jsonl
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.to_jsonl.uri) }}"
  - id: to_array
    type: io.kestra.plugin.serdes.json.IonToJson
    from: "{{ outputs.to_ion.uri }}"
    newLine: false
  - id: array
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.to_array.uri) }}"
  - id: back_to_csv
    type: io.kestra.plugin.serdes.csv.IonToCsv
    from: "{{ outputs.to_ion.uri }}"
    fieldSeparator: ";"
  - id: csv_again
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.back_to_csv.uri) }}"
  - id: json
    type: io.kestra.plugin.core.storage.Write
    extension: .json
    content: '[{"id": 1, "tags": ["a", "b"]}, {"id": 2, "tags": []}]'
  - id: json_to_ion
    type: io.kestra.plugin.serdes.json.JsonToIon
    from: "{{ outputs.json.uri }}"
    newLine: false
  - id: ion_again
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.json_to_ion.uri) }}"
"#;

#[test]
fn conversions_between_csv_json_and_ion_keep_every_row() {
    let (code, summary, err) = run_in_process(&lowered(FLOW), &[]);
    assert_eq!(code, 0, "{summary} {err}");
    // The ragged row was skipped, with a WARN log line (onBadLines: WARN).
    assert_eq!(task_run(&summary, "to_ion")["state"], "SUCCESS");
    assert_eq!(task_run(&summary, "to_ion")["outputs"]["size"], 2);
    let value = |id: &str| task_run(&summary, id)["outputs"]["value"].clone();
    assert_eq!(
        value("ion"),
        "{name:\"Ada\",city:\"London, UK\",amount:\"12\"}\n{name:\"Bob\",city:\"Paris\",amount:\"7\"}\n"
    );
    assert_eq!(
        value("jsonl"),
        "{\"name\":\"Ada\",\"city\":\"London, UK\",\"amount\":\"12\"}\n{\"name\":\"Bob\",\"city\":\"Paris\",\"amount\":\"7\"}\n"
    );
    assert_eq!(
        value("array"),
        "[{\"name\":\"Ada\",\"city\":\"London, UK\",\"amount\":\"12\"},{\"name\":\"Bob\",\"city\":\"Paris\",\"amount\":\"7\"}]"
    );
    assert_eq!(
        value("csv_again"),
        "name;city;amount\nAda;London, UK;12\nBob;Paris;7\n"
    );
    assert_eq!(
        value("ion_again"),
        "{id:1,tags:[\"a\",\"b\"]}\n{id:2,tags:[]}\n"
    );
    assert_eq!(task_run(&summary, "json_to_ion")["outputs"]["size"], 2);
}

const AVRO: &str = r#"id: avro
namespace: kflow.tests
inputs:
  - id: strict
    type: BOOL
    defaults: false
tasks:
  - id: rows
    type: io.kestra.plugin.core.storage.Write
    extension: .ion
    content: |
      {id:"1",type:"CREATE",amount:"12.5",active:"yes",day:"2024-02-29",at:"2024-03-01T10:00:00Z",tags:["a","b"]}
      {id:"2",type:null,amount:3,active:false,day:"2024-03-01",at:"2024-03-01T10:00:01.250Z",tags:[]}
  - id: to_avro
    type: io.kestra.plugin.serdes.avro.IonToAvro
    from: "{{ outputs.rows.uri }}"
    strictSchema: "{{ inputs.strict }}"
    schema: |
      {
        "type": "record", "name": "Root",
        "fields": [
          {"name": "id", "type": "long"},
          {"name": "type", "type": ["null", "string"]},
          {"name": "amount", "type": "double"},
          {"name": "active", "type": "boolean"},
          {"name": "day", "type": {"type": "int", "logicalType": "date"}},
          {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
          {"name": "tags", "type": {"type": "array", "items": "string"}},
          {"name": "source", "type": "string", "default": "kflow"}
        ]
      }
  - id: back
    type: io.kestra.plugin.serdes.avro.AvroToIon
    from: "{{ outputs.to_avro.uri }}"
  - id: ion
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.back.uri) }}"
errors:
  - id: why
    type: io.kestra.plugin.core.debug.Return
    format: "{{ errorLogs()[0].message }}"
"#;

/// Ion rows written as Avro with a schema (text read as numbers, booleans, dates and
/// timestamps; a missing field its default), then read back; a row with a field the schema
/// lacks refused under `strictSchema`.
#[test]
fn ion_rows_become_avro_records_and_come_back() {
    let flow = lowered(AVRO);
    let (code, summary, err) = run_in_process(&flow, &[]);
    assert_eq!(code, 0, "{summary:#} {err}");
    assert_eq!(task_run(&summary, "to_avro")["outputs"]["size"], 2);
    assert_eq!(
        task_run(&summary, "ion")["outputs"]["value"],
        "{id:1,type:\"CREATE\",amount:12.5e0,active:true,day:\"2024-02-29\",at:\"2024-03-01T10:00:00Z\",tags:[\"a\",\"b\"],source:\"kflow\"}\n\
         {id:2,type:null,amount:3e0,active:false,day:\"2024-03-01\",at:\"2024-03-01T10:00:01.25Z\",tags:[],source:\"kflow\"}\n"
    );
    let uri = task_run(&summary, "to_avro")["outputs"]["uri"]
        .as_str()
        .unwrap();
    assert!(
        std::path::Path::new(uri).extension() == Some(std::ffi::OsStr::new("avro")),
        "{uri}"
    );

    // `tags` and the others are in the schema; a row with `extra` is not, under strictSchema.
    let strict = AVRO.replace("tags:[]}", "tags:[],extra:1}");
    let (code, summary, _) = run_in_process(&lowered(&strict), &["--input", "strict=true"]);
    assert_ne!(code, 0);
    let why = task_run(&summary, "why")["outputs"]["value"].clone();
    assert_eq!(
        why, "row 2: `extra` is not a field of the schema (strictSchema)",
        "{summary:#}"
    );
}

const PARQUET: &str = r#"id: parquet
namespace: kflow.tests
tasks:
  - id: rows
    type: io.kestra.plugin.core.storage.Write
    extension: .ion
    content: |
      {id:"1",name:"Ada",score:"12.5",ok:"true",day:"2024-02-29",at:"2024-03-01T10:00:00Z"}
      {id:"2",name:null,score:3,ok:false,day:"2024-03-01",at:"2024-03-01T10:00:01Z"}
  - id: to_parquet
    type: io.kestra.plugin.serdes.parquet.IonToParquet
    from: "{{ outputs.rows.uri }}"
    compressionCodec: SNAPPY
    schema: |
      {
        "type": "record", "name": "Root",
        "fields": [
          {"name": "id", "type": "long"},
          {"name": "name", "type": ["null", "string"]},
          {"name": "score", "type": "double"},
          {"name": "ok", "type": "boolean"},
          {"name": "day", "type": {"type": "int", "logicalType": "date"}},
          {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}}
        ]
      }
  - id: back
    type: io.kestra.plugin.serdes.parquet.ParquetToIon
    from: "{{ outputs.to_parquet.uri }}"
  - id: ion
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.back.uri) }}"
  - id: nested
    type: io.kestra.plugin.serdes.parquet.IonToParquet
    from: "{{ outputs.rows.uri }}"
    schema: '{"type": "record", "name": "R", "fields": [{"name": "tags", "type": {"type": "array", "items": "string"}}]}'
errors:
  - id: why
    type: io.kestra.plugin.core.debug.Return
    format: "{{ errorLogs()[0].message }}"
"#;

/// Ion rows written as Parquet columns from an Avro schema and read back; a nested field is
/// refused with its name.
#[test]
fn ion_rows_become_parquet_columns_and_come_back() {
    let (code, summary, err) = run_in_process(&lowered(PARQUET), &[]);
    assert_ne!(code, 0, "{summary:#} {err}");
    assert_eq!(task_run(&summary, "to_parquet")["outputs"]["size"], 2);
    assert_eq!(task_run(&summary, "back")["outputs"]["size"], 2);
    assert_eq!(
        task_run(&summary, "ion")["outputs"]["value"],
        "{id:1,name:\"Ada\",score:12.5e0,ok:true,day:\"2024-02-29\",at:\"2024-03-01T10:00:00Z\"}\n\
         {id:2,name:null,score:3e0,ok:false,day:\"2024-03-01\",at:\"2024-03-01T10:00:01Z\"}\n"
    );
    let why = task_run(&summary, "why")["outputs"]["value"].clone();
    assert!(
        why.as_str().unwrap_or_default().contains(
            "field `tags`: kflow writes flat rows to Parquet, and Array is not a column type"
        ),
        "{why}"
    );
}
