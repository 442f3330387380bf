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
