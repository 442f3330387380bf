//! Files in and out of a `WorkingDirectory`: `inputFiles` are written into its folder before
//! its tasks run (text, or a `kestra:///` file copied from internal storage), and the files
//! matching `outputFiles` (globs relative to the folder) are copied into internal storage after.
//! Names are relative paths that stay inside the folder; the walk is bounded.

use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value};

use crate::expr::value::to_display_string;
use crate::storage::Storage;

/// At most this many files are looked at for `outputFiles`.
const MAX_WALK: usize = 10_000;

/// `inputFiles` as rendered: a map of relative path to content, or JSON text of one.
pub fn input_files(value: Value) -> Result<Vec<(String, String)>, String> {
    let map: Map<String, Value> = match value {
        Value::Object(map) => map,
        Value::String(text) => match serde_json::from_str(&text) {
            Ok(Value::Object(map)) => map,
            _ => return Err("`inputFiles` must be a map of file names to contents".into()),
        },
        Value::Null => Map::new(),
        _ => return Err("`inputFiles` must be a map of file names to contents".into()),
    };
    Ok(map
        .into_iter()
        .map(|(name, content)| (name, to_display_string(&content)))
        .collect())
}

/// A relative path that stays inside its folder: no `..`, no root, no empty name.
fn inside(folder: &Path, name: &str) -> Result<PathBuf, String> {
    let path = Path::new(name);
    let plain = !name.is_empty()
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if !plain {
        return Err(format!(
            "`{name}` is not a relative path inside the working directory"
        ));
    }
    Ok(folder.join(path))
}

/// Writes the input files into `folder`; a content that is a `kestra:///` URI is the stored
/// file's copy.
pub fn write_inputs(
    folder: &Path,
    files: &[(String, String)],
    storage: Option<&Storage>,
) -> Result<(), String> {
    for (name, content) in files {
        let path = inside(folder, name)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("input file `{name}`: {e}"))?;
        }
        let written = if content.starts_with(crate::storage::SCHEME) {
            let storage = storage.ok_or_else(|| {
                format!("input file `{name}`: this execution has no internal storage")
            })?;
            let mut from = storage.open(content)?;
            std::fs::File::create(&path)
                .and_then(|mut to| std::io::copy(&mut from, &mut to).map(drop))
        } else {
            std::fs::write(&path, content)
        };
        written.map_err(|e| format!("input file `{name}`: {e}"))?;
    }
    Ok(())
}

/// The files under `folder` (relative paths with `/`) that match one of `patterns`, sorted;
/// links are not followed.
pub fn matching(folder: &Path, patterns: &[String]) -> Result<Vec<String>, String> {
    let mut found = Vec::new();
    let mut seen = 0usize;
    let mut pending = vec![(folder.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > MAX_WALK {
                return Err(format!(
                    "the working directory holds more than {MAX_WALK} files; `outputFiles` looks at no more"
                ));
            }
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            match entry.file_type() {
                Ok(t) if t.is_dir() => pending.push((entry.path(), format!("{name}/"))),
                Ok(t) if t.is_file() && patterns.iter().any(|p| glob_matches(p, &name)) => {
                    found.push(name);
                }
                _ => {}
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Stores the files under `folder` that match `patterns` with `put` (which gives each its URI);
/// a map of each name to its URI.
pub fn store_matching(
    folder: &Path,
    patterns: &[String],
    mut put: impl FnMut(&str, &mut std::fs::File) -> Result<String, String>,
) -> Result<Map<String, Value>, String> {
    let mut stored = Map::new();
    if patterns.is_empty() {
        return Ok(stored);
    }
    for name in matching(folder, patterns)? {
        let mut file =
            std::fs::File::open(folder.join(&name)).map_err(|e| format!("`{name}`: {e}"))?;
        let uri = put(&name, &mut file)?;
        stored.insert(name, Value::String(uri));
    }
    Ok(stored)
}

/// Java's `glob:` syntax on `/`-separated paths: `**` matches across `/`, `*` and `?` do not.
/// Dynamic programming over the characters: time is pattern length × path length.
pub fn glob_matches(pattern: &str, path: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum Token {
        Any,
        AnyInSegment,
        One,
        Char(char),
    }
    let chars: Vec<char> = pattern.trim_start_matches("./").chars().collect();
    let mut tokens = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        tokens.push(match chars[i] {
            '*' if chars.get(i + 1) == Some(&'*') => {
                i += 1;
                Token::Any
            }
            '*' => Token::AnyInSegment,
            '?' => Token::One,
            c => Token::Char(c),
        });
        i += 1;
    }
    let text: Vec<char> = path.chars().collect();
    // row[j]: the tokens so far match the first j characters.
    let mut row = vec![false; text.len() + 1];
    row[0] = true;
    for token in tokens {
        let mut next = vec![false; text.len() + 1];
        for j in 0..=text.len() {
            next[j] = match token {
                Token::Any => row[j] || (j > 0 && next[j - 1]),
                Token::AnyInSegment => row[j] || (j > 0 && text[j - 1] != '/' && next[j - 1]),
                Token::One => j > 0 && text[j - 1] != '/' && row[j - 1],
                Token::Char(c) => j > 0 && text[j - 1] == c && row[j - 1],
            };
        }
        row = next;
    }
    row[text.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_as_java_reads_them() {
        assert!(glob_matches("*.csv", "a.csv"));
        assert!(!glob_matches("*.csv", "out/a.csv"));
        assert!(glob_matches("**.csv", "out/a.csv"));
        assert!(glob_matches("out/**", "out/x/y.txt"));
        assert!(glob_matches("out/*.txt", "out/y.txt"));
        assert!(glob_matches("file?.txt", "file1.txt"));
        assert!(!glob_matches("file?.txt", "file10.txt"));
        assert!(glob_matches("report.json", "report.json"));
        // Linear in the inputs: a pathological pattern ends at once.
        let long = "a".repeat(2000);
        assert!(!glob_matches(&"*a".repeat(200), &format!("{long}b")));
    }

    #[test]
    fn input_names_stay_inside() {
        let dir = Path::new("/tmp/wd");
        assert!(inside(dir, "a/b.txt").is_ok());
        for bad in ["../x", "/etc/passwd", "a/../../x", ""] {
            assert!(inside(dir, bad).is_err(), "{bad}");
        }
    }
}
