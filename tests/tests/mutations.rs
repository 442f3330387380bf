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
