//! Files in and out of a `WorkingDirectory`: `inputFiles` are written into its folder before
//! its tasks run (text, or a `kestra:///` file copied from internal storage), and the files
//! matching `outputFiles` (globs relative to the folder) are copied into internal storage after.
//! Names are relative paths that stay inside the folder; the walk is bounded.

use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value};

use crate::expr::value::to_display_string;
use crate::namespace_files::NamespaceFiles;
use crate::storage::Storage;

/// At most this many files are looked at for `outputFiles`.
const MAX_WALK: usize = 10_000;

/// The folder a script task or tool runs in when no `WorkingDirectory` is around it: one per
/// attempt, under the system's temporary folder, removed when dropped.
pub struct TaskDir(PathBuf);

impl TaskDir {
    pub fn create(execution_id: &str, run_id: &str) -> Result<TaskDir, String> {
        let path = std::env::temp_dir().join(format!(
            "kflow-{execution_id}-{run_id}-{}",
            crate::execution::new_id()
        ));
        std::fs::create_dir_all(&path).map_err(|e| {
            format!(
                "cannot create the working directory {}: {e}",
                path.display()
            )
        })?;
        Ok(TaskDir(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TaskDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `outputDir` of the task run `run_id` working in `working_dir`: every file written under it
/// is stored as an output file.
pub fn output_dir(working_dir: &Path, run_id: &str) -> PathBuf {
    working_dir.join(".kflow-outputs").join(run_id)
}

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
    let mut found: Vec<String> = crate::storage::walk(folder, MAX_WALK)
        .map_err(|e| format!("the working directory holds {e}; no more are looked at"))?
        .into_iter()
        .filter(|(_, name, regular)| *regular && patterns.iter().any(|p| glob_matches(p, name)))
        .map(|(_, name, _)| name)
        .collect();
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

/// `namespaceFiles` of a `WorkingDirectory`, as rendered.
#[derive(Debug, Default)]
pub struct NamespaceFilesSpec {
    /// The namespaces whose files are copied, in order (later ones win on the same path).
    pub namespaces: Vec<String>,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub if_exists: IfExists,
    pub folder_per_namespace: bool,
}

/// What to do when a namespace file's path is already in the folder (`ifExists`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum IfExists {
    #[default]
    Overwrite,
    Fail,
    Warn,
    Ignore,
}

impl NamespaceFilesSpec {
    /// The rendered property; `None` when `enabled` is false. Kestra's defaults: enabled, the
    /// flow's namespace, every file, OVERWRITE.
    pub fn parse(value: &Value, flow_namespace: &str) -> Result<Option<Self>, String> {
        let Value::Object(map) = value else {
            return Err("`namespaceFiles` must be a map (enabled, include, exclude, ...)".into());
        };
        let strings = |name: &str| -> Result<Vec<String>, String> {
            crate::tasks::props::list(map.get(name), name).map_err(|e| e.message)
        };
        if !crate::tasks::props::flag(map.get("enabled"), "enabled", true).map_err(|e| e.message)? {
            return Ok(None);
        }
        let mut namespaces = strings("namespaces")?;
        if namespaces.is_empty() {
            namespaces.push(flow_namespace.to_string());
        }
        let if_exists = match map.get("ifExists").and_then(Value::as_str) {
            None | Some("OVERWRITE") => IfExists::Overwrite,
            Some("FAIL") => IfExists::Fail,
            Some("WARN") => IfExists::Warn,
            Some("IGNORE") => IfExists::Ignore,
            Some(other) => {
                return Err(format!(
                    "`ifExists` is OVERWRITE, FAIL, WARN or IGNORE, not `{other}`"
                ))
            }
        };
        Ok(Some(NamespaceFilesSpec {
            namespaces,
            include: strings("include")?,
            exclude: strings("exclude")?,
            if_exists,
            folder_per_namespace: crate::tasks::props::flag(
                map.get("folderPerNamespace"),
                "folderPerNamespace",
                false,
            )
            .map_err(|e| e.message)?,
        }))
    }

    fn wanted(&self, path: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| glob_matches(p, path)))
            && !self.exclude.iter().any(|p| glob_matches(p, path))
    }
}

/// Copies the namespace files `spec` selects into `folder`; the number copied. `warn` gets
/// the files skipped under `ifExists: WARN`.
pub fn write_namespace_files(
    folder: &Path,
    spec: &NamespaceFilesSpec,
    files: &NamespaceFiles<'_>,
    mut warn: impl FnMut(&str),
) -> Result<usize, String> {
    let mut copied = 0;
    for namespace in &spec.namespaces {
        for path in files.list(namespace)? {
            if !spec.wanted(&path) {
                continue;
            }
            let name = if spec.folder_per_namespace {
                format!("{namespace}/{path}")
            } else {
                path.clone()
            };
            let target = inside(folder, &name)?;
            if target.exists() {
                match spec.if_exists {
                    IfExists::Overwrite => {}
                    IfExists::Ignore => continue,
                    IfExists::Warn => {
                        warn(&format!("`{name}` already exists in the working directory; namespace file not copied"));
                        continue;
                    }
                    IfExists::Fail => {
                        return Err(format!(
                            "`{name}` already exists in the working directory (ifExists: FAIL)"
                        ))
                    }
                }
            }
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|e| format!("`{name}`: {e}"))?;
            }
            let mut from = files.open(namespace, &path)?;
            std::fs::File::create(&target)
                .and_then(|mut to| std::io::copy(&mut from, &mut to))
                .map_err(|e| format!("`{name}`: {e}"))?;
            copied += 1;
        }
    }
    Ok(copied)
}

/// `cache` of a `WorkingDirectory`: the files matching `patterns` are kept in internal storage
/// after a run that did not fail, and put back into the folder at the start of the next one,
/// unless older than `ttl`. (Kestra keeps a zip; kflow keeps the files themselves.)
#[derive(Debug)]
pub struct Cache {
    patterns: Vec<String>,
    ttl: Option<std::time::Duration>,
    /// `kestra:///<namespace>/<flow>/_cache/<task>/<value>`: one cache per task and loop value.
    prefix: String,
}

/// Marks a complete cache; its modification time is the cache's age. Written last, removed
/// first, so a cache cut short by a crash is never restored.
const CACHE_STAMP: &str = "complete";

impl Cache {
    pub fn parse(value: &Value, prefix: String) -> Result<Cache, String> {
        let Value::Object(map) = value else {
            return Err("`cache` must be a map (patterns, ttl)".into());
        };
        let patterns =
            crate::tasks::props::list(map.get("patterns"), "patterns").map_err(|e| e.message)?;
        let ttl = map
            .get("ttl")
            .filter(|v| !v.is_null())
            .map(crate::expr::value::duration_of)
            .transpose()
            .map_err(|e| format!("ttl: {e}"))?;
        Ok(Cache {
            patterns,
            ttl,
            prefix,
        })
    }

    /// The cache's URI prefix for a task (and loop value) of a flow.
    pub fn prefix(namespace: &str, flow_id: &str, task_id: &str, value: Option<&str>) -> String {
        format!(
            "{}/{}/{flow_id}/_cache/{task_id}/{}",
            crate::storage::SCHEME,
            namespace.replace('.', "/"),
            value.map_or_else(|| "_".to_string(), crate::storage::file_name)
        )
    }

    /// Puts a cache that is not expired back into `folder`; the time it did, if it did.
    pub fn restore(
        &self,
        folder: &Path,
        storage: &Storage,
    ) -> Result<Option<std::time::SystemTime>, String> {
        let stamp = format!("{}/{CACHE_STAMP}", self.prefix);
        let Ok(created) = storage
            .path(&stamp)
            .and_then(|p| std::fs::metadata(p).map_err(|e| e.to_string()))
            .and_then(|m| m.modified().map_err(|e| e.to_string()))
        else {
            return Ok(None);
        };
        let age = created.elapsed().unwrap_or_default();
        if self.ttl.is_some_and(|ttl| age > ttl) {
            storage.delete_all(&self.prefix)?;
            return Ok(None);
        }
        let files = format!("{}/files", self.prefix);
        for name in storage.list(&files)? {
            let target = inside(folder, &name)?;
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|e| format!("cache `{name}`: {e}"))?;
            }
            let mut from = storage.open(&format!("{files}/{name}"))?;
            std::fs::File::create(&target)
                .and_then(|mut to| std::io::copy(&mut from, &mut to))
                .map_err(|e| format!("cache `{name}`: {e}"))?;
        }
        Ok(Some(std::time::SystemTime::now()))
    }

    /// Replaces the cache with the files of `folder` matching the patterns, unless none
    /// changed since `restored`; the number stored (`None` when kept as it was).
    pub fn save(
        &self,
        folder: &Path,
        storage: &Storage,
        restored: Option<std::time::SystemTime>,
    ) -> Result<Option<usize>, String> {
        let names = matching(folder, &self.patterns)?;
        if let Some(restored) = restored {
            let changed = names.iter().any(|name| {
                std::fs::metadata(folder.join(name))
                    .and_then(|m| m.modified())
                    .map_or(true, |modified| modified > restored)
            });
            if !changed {
                return Ok(None);
            }
        }
        storage.delete_all(&self.prefix)?;
        for name in &names {
            let mut file =
                std::fs::File::open(folder.join(name)).map_err(|e| format!("`{name}`: {e}"))?;
            storage.put(&format!("{}/files/{name}", self.prefix), &mut file)?;
        }
        storage.put(&format!("{}/{CACHE_STAMP}", self.prefix), &mut &b""[..])?;
        Ok(Some(names.len()))
    }
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
    // `./a` and `/a` name `a` of the folder, as Kestra's patterns do.
    let pattern = pattern.trim_start_matches("./").trim_start_matches('/');
    let chars: Vec<char> = pattern.chars().collect();
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
    fn a_cache_comes_back_until_it_expires() {
        let dir = std::env::temp_dir().join(format!("kflow-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let storage = Storage::new(&dir.join("state"));
        let prefix = Cache::prefix("a.b", "f", "wd", None);
        assert_eq!(prefix, "kestra:///a/b/f/_cache/wd/_");
        let spec = |ttl: &str| {
            Cache::parse(
                &serde_json::json!({"patterns": ["*.txt"], "ttl": ttl}),
                prefix.clone(),
            )
            .unwrap()
        };
        let first = dir.join("first");
        std::fs::create_dir_all(first.join("deps")).unwrap();
        std::fs::write(first.join("kept.txt"), "kept").unwrap();
        std::fs::write(first.join("deps/not.bin"), "not kept").unwrap();
        assert_eq!(spec("PT1H").save(&first, &storage, None).unwrap(), Some(1));
        let second = dir.join("second");
        std::fs::create_dir_all(&second).unwrap();
        let restored = spec("PT1H").restore(&second, &storage).unwrap();
        assert!(restored.is_some());
        assert_eq!(
            std::fs::read_to_string(second.join("kept.txt")).unwrap(),
            "kept"
        );
        assert!(!second.join("deps").exists());
        // Nothing changed since it was restored: the cache is kept as it was.
        assert_eq!(
            spec("PT1H").save(&second, &storage, restored).unwrap(),
            None
        );
        // Past its ttl it is dropped, not restored.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let third = dir.join("third");
        std::fs::create_dir_all(&third).unwrap();
        assert_eq!(spec("PT0.01S").restore(&third, &storage).unwrap(), None);
        assert!(!third.join("kept.txt").exists());
        assert_eq!(spec("PT1H").restore(&third, &storage).unwrap(), None);
        let _ = std::fs::remove_dir_all(dir);
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
