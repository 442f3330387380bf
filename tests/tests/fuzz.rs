//! Property tests (proptest) for the two parsers every flow goes through: the YAML loader and
//! the Pebble parser. Arbitrary and structured inputs, a bounded number of cases (run in CI on
//! every push); the property is that loading, checking, parsing and rendering return, with a
//! result or an error, and never panic or abort.

use kflow_compiler::source::SourceFile;
use kflow_compiler::{check_source, yaml, Options};
use kflow_runtime::expr::{self, NoHost};
use proptest::prelude::*;

/// Text made of the characters YAML and templates are built from, so that inputs reach deep
/// into both parsers instead of failing at the first byte.
fn flowish() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-z0-9 :\\-\\n\\[\\]{}(),.'\"|>&*!#%~+?=<]{0,400}")
        .expect("a valid pattern")
}

/// Templates nested or chained to random depths, mixing every way of nesting.
fn nested_template() -> impl Strategy<Value = String> {
    let opener = prop_oneof![
        Just(("(", ")")),
        Just(("[", "]")),
        Just(("{'k': ", "}")),
        Just(("-", "")),
        Just(("not ", "")),
        Just(("[1, ", "][0]")),
    ];
    (proptest::collection::vec(opener, 0..600), 0usize..400).prop_map(|(layers, chain)| {
        let mut inner = String::from("1");
        inner.push_str(&" + 1".repeat(chain));
        for (open, close) in layers.iter().rev() {
            inner = format!("{open}{inner}{close}");
        }
        format!("{{{{ {inner} }}}}")
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_yaml_loader_and_checker_never_panic(text in flowish()) {
        let source = SourceFile::new("fuzz.yml", text.clone());
        let _ = yaml::load(&source);
        let _ = check_source(SourceFile::new("fuzz.yml", text), Options::default());
    }

    #[test]
    fn the_pebble_parser_and_evaluator_never_panic(text in flowish()) {
        let template = format!("{{{{ {text} }}}} {text} {{% if {text} %}}x{{% endif %}}");
        if let Ok(parsed) = expr::parse(&template) {
            let _ = expr::render(&parsed, &serde_json::Map::new(), &NoHost);
        }
        let _ = expr::parse_expression(&text);
    }

    #[test]
    fn nested_templates_parse_or_fail_cleanly(template in nested_template()) {
        match expr::parse(&template) {
            Ok(parsed) => {
                let _ = expr::render(&parsed, &serde_json::Map::new(), &NoHost);
            }
            Err(e) => prop_assert!(!e.message.is_empty()),
        }
        let yaml = format!(
            "id: f\nnamespace: t\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: '{}'\n",
            template.replace('\'', "''")
        );
        let _ = check_source(SourceFile::new("f.yml", yaml), Options::default());
    }
}
