//! Broken input never panics or hangs: corpus files mutated (truncated, lines deleted or
//! duplicated, characters swapped, random bytes inserted, indentation shifted) are checked one
//! by one. The seed is fixed, so a failure names a case that reproduces.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::Duration;

use kflow_compiler::source::SourceFile;
use kflow_compiler::{check_source, Options};
use kflow_tests::{corpus_dir, flow_files};

const MUTATIONS_PER_FILE: usize = 8;
/// One case takes well under a millisecond; this only catches a real hang.
const CASE_TIMEOUT: Duration = Duration::from_secs(30);

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            usize::try_from(self.next() % n as u64).unwrap_or(0)
        }
    }
}

fn mutate(text: &[u8], rng: &mut Rng) -> (String, Vec<u8>) {
    let mut bytes = text.to_vec();
    let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    let kind = rng.below(7);
    let name = match kind {
        0 => {
            bytes.truncate(rng.below(bytes.len() + 1));
            "truncate"
        }
        1 => {
            let drop = rng.below(lines.len());
            bytes = lines
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != drop)
                .map(|(_, l)| *l)
                .collect::<Vec<_>>()
                .join(&b'\n');
            "delete line"
        }
        2 if bytes.len() > 1 => {
            let i = rng.below(bytes.len() - 1);
            bytes.swap(i, i + 1);
            "swap bytes"
        }
        3 => {
            let at = rng.below(bytes.len() + 1);
            let noise: Vec<u8> = (0..=rng.below(8))
                .map(|_| (rng.next() & 0xff) as u8)
                .collect();
            bytes.splice(at..at, noise);
            "random bytes"
        }
        4 => {
            let dup = rng.below(lines.len());
            let mut out: Vec<&[u8]> = lines.clone();
            out.insert(dup, lines[dup]);
            bytes = out.join(&b'\n');
            "duplicate line"
        }
        5 => {
            let at = rng.below(lines.len());
            let shift = if rng.below(2) == 0 {
                b"  ".to_vec()
            } else {
                Vec::new()
            };
            let mut out: Vec<Vec<u8>> = lines.iter().map(|l| l.to_vec()).collect();
            if shift.is_empty() {
                let l = &mut out[at];
                let strip = l.iter().take(2).take_while(|&&b| b == b' ').count();
                l.drain(..strip);
            } else {
                out[at].splice(0..0, shift);
            }
            bytes = out.join(&b'\n');
            "shift indentation"
        }
        _ => {
            let special = [
                b"{{".as_slice(),
                b"}}",
                b": ",
                b"- ",
                b"\"",
                b"'",
                b"&a ",
                b"*a",
                b"!!int ",
                b"[",
                b"{",
                b"|\n",
            ];
            let at = rng.below(bytes.len() + 1);
            bytes.splice(at..at, special[rng.below(special.len())].iter().copied());
            "insert YAML token"
        }
    };
    (name.to_string(), bytes)
}

#[test]
fn mutated_corpus_files_never_panic_or_hang() {
    let corpus = corpus_dir();
    let files = flow_files(&corpus);
    assert!(
        files.len() > 450,
        "corpus not found at {}",
        corpus.display()
    );
    let (done, progress) = mpsc::channel::<usize>();
    let cases = files.len() * MUTATIONS_PER_FILE;
    let worker = std::thread::spawn(move || {
        let mut rng = Rng(0x5EED_0FCA_FE00);
        let mut failures = Vec::new();
        for (n, path) in files.iter().enumerate() {
            let original = std::fs::read(path).expect("corpus file is readable");
            for m in 0..MUTATIONS_PER_FILE {
                let (kind, bytes) = mutate(&original, &mut rng);
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let result = catch_unwind(AssertUnwindSafe(|| {
                    for allow_unknown_types in [false, true] {
                        let checked = check_source(
                            SourceFile::new(path, text.clone()),
                            Options {
                                allow_unknown_types,
                                runnable: false,
                            },
                        );
                        let _ = kflow_compiler::diag::render_human(
                            std::slice::from_ref(&checked.report),
                            kflow_compiler::diag::Color::Never,
                        );
                    }
                }));
                if result.is_err() {
                    failures.push(format!(
                        "{} (case {}, {kind})",
                        path.display(),
                        n * MUTATIONS_PER_FILE + m
                    ));
                }
                let _ = done.send(n * MUTATIONS_PER_FILE + m);
            }
        }
        failures
    });
    let mut last = None;
    while let Ok(case) = progress.recv_timeout(CASE_TIMEOUT) {
        last = Some(case);
        if case + 1 == cases {
            break;
        }
    }
    assert_eq!(
        last.map(|c| c + 1),
        Some(cases),
        "the checker hung after case {last:?}"
    );
    let failures = worker.join().expect("worker thread ends");
    assert!(
        failures.is_empty(),
        "panics on {} of {cases} mutated files:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A random expression: atoms, operators, filters, attributes, lists, maps, ternaries and
/// ranges, nested up to `depth` levels.
fn random_expr(rng: &mut Rng, depth: usize) -> String {
    if depth == 0 || rng.below(4) == 0 {
        return match rng.below(8) {
            0 => rng.below(1000).to_string(),
            1 => "'text'".into(),
            2 => "inputs.name".into(),
            3 => "[1, 2, 3]".into(),
            4 => "{'a': 1}".into(),
            5 => "outputs.first.value".into(),
            6 => format!("'{}'", "y".repeat(rng.below(200_000))),
            _ => "null".into(),
        };
    }
    let inner = |rng: &mut Rng| random_expr(rng, depth - 1);
    match rng.below(14) {
        0 => format!("({})", inner(rng)),
        1 => format!("-{}", inner(rng)),
        2 => format!("not {}", inner(rng)),
        3 => format!("{} + {}", inner(rng), inner(rng)),
        4 => format!("{} ~ {}", inner(rng), inner(rng)),
        5 => format!("{} | upper", inner(rng)),
        6 => format!("{}[0]", inner(rng)),
        7 => format!("{}.a", inner(rng)),
        8 => format!("[{}, {}]", inner(rng), inner(rng)),
        9 => format!("{} ? {} : {}", inner(rng), inner(rng), inner(rng)),
        10 => format!("range(1, {})", rng.below(3_000_000)),
        11 => format!("{} ?? {}", inner(rng), inner(rng)),
        12 => format!("{{'k': {}}}", inner(rng)),
        _ => format!("{} | length", inner(rng)),
    }
}

/// A random template: text, prints, `if`/`for`/`set` tags, and now and then a structure nested
/// or chained far past any limit, or a huge literal.
fn random_template(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => {
            let n = rng.below(3_000);
            format!("{{{{ {}1{} }}}}", "(".repeat(n), ")".repeat(n))
        }
        1 => format!("{{{{ 1{} }}}}", " ~ 'x'".repeat(rng.below(3_000))),
        2 => {
            let n = rng.below(3_000);
            format!("{}x{}", "{% if true %}".repeat(n), "{% endif %}".repeat(n))
        }
        3 => format!(
            "{{% set s = 'ab' %}}{{% for i in range(1, {}) %}}{{% set s = s ~ s %}}{{% endfor %}}{{{{ s | length }}}}",
            rng.below(64)
        ),
        _ => {
            let mut template = String::new();
            for _ in 0..=rng.below(6) {
                let depth = rng.below(12);
                let piece = match rng.below(5) {
                    0 => "text ".to_string(),
                    1 => format!("{{% if {} %}}a{{% endif %}}", random_expr(rng, depth)),
                    2 => format!(
                        "{{% for i in {} %}}{{{{ i }}}}{{% endfor %}}",
                        random_expr(rng, depth)
                    ),
                    3 => format!("{{% set v = {} %}}", random_expr(rng, depth)),
                    _ => format!("{{{{ {} }}}}", random_expr(rng, depth)),
                };
                template.push_str(&piece);
            }
            template
        }
    }
}

const TEMPLATE_CASES: usize = 300;

/// Random templates, nested and chained past every limit, with huge literals and growing loops,
/// are parsed, type-checked inside a flow, rendered directly and rendered by a running flow
/// (`render()` of an input): never a panic, an abort or a hang; errors name their limit.
#[test]
fn random_templates_never_panic_hang_or_overflow() {
    let flow = kflow_tests::lowered(
        "id: t\nnamespace: t\ninputs:\n  - id: text\n    type: STRING\ntasks:\n  - id: first\n    type: io.kestra.plugin.core.debug.Return\n    format: one\n  - id: show\n    type: io.kestra.plugin.core.debug.Return\n    format: '{{ render(inputs.text) }}'\n",
    );
    let (done, progress) = mpsc::channel::<usize>();
    let worker = std::thread::spawn(move || {
        let mut rng = Rng(0x7E57_0F7E_3917);
        let mut failures = Vec::new();
        for case in 0..TEMPLATE_CASES {
            let template = random_template(&mut rng);
            let result = catch_unwind(AssertUnwindSafe(|| {
                let vars = serde_json::json!({"inputs": {"name": "n"}});
                let _ = kflow_runtime::expr::render_str(
                    &template,
                    vars.as_object().expect("an object"),
                    &kflow_runtime::expr::NoHost,
                );
                let yaml = format!(
                    "id: t\nnamespace: t\ninputs:\n  - id: name\n    type: STRING\ntasks:\n  - id: first\n    type: io.kestra.plugin.core.debug.Return\n    format: one\n  - id: show\n    type: io.kestra.plugin.core.log.Log\n    message: '{}'\n",
                    template.replace('\'', "''")
                );
                let _ = check_source(SourceFile::new("t.yml", yaml), Options::default());
                if case % 10 == 0 {
                    let input = format!("text={template}");
                    let (code, _, _) = kflow_tests::run_in_process(&flow, &["--input", &input]);
                    assert!(code <= 2, "exit {code}");
                }
            }));
            if result.is_err() {
                failures.push(format!(
                    "case {case}: {}",
                    template.chars().take(120).collect::<String>()
                ));
            }
            let _ = done.send(case);
        }
        failures
    });
    let mut last = None;
    while let Ok(case) = progress.recv_timeout(CASE_TIMEOUT) {
        last = Some(case);
        if case + 1 == TEMPLATE_CASES {
            break;
        }
    }
    assert_eq!(
        last.map(|c| c + 1),
        Some(TEMPLATE_CASES),
        "a template hung after case {last:?}"
    );
    let failures = worker.join().expect("worker thread ends");
    assert!(failures.is_empty(), "panics:\n{}", failures.join("\n"));
}
