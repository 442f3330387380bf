//! Helpers shared by kflow's end-to-end tests: where the corpus is, and checking a file the way
//! `kflowc check` does, with paths printed relative to a root so snapshots are stable.

use std::path::{Path, PathBuf};

use kflow_compiler::diag::{render_human, Color, FileReport};
use kflow_compiler::source::SourceFile;
use kflow_compiler::{check_source, Options};

/// `../shared/corpus`, beside the project (as CI lays it out).
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus")
}

/// The project's root folder.
pub fn project_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `*.yml`/`*.yaml` file below `dir`, sorted.
pub fn flow_files(dir: &Path) -> Vec<PathBuf> {
    kflow_compiler::files::collect(&[dir.to_path_buf()])
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
}

/// Checks one file; the report names it relative to `root`.
pub fn check_file(path: &Path, root: &Path, options: Options) -> FileReport {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let name = path.strip_prefix(root).unwrap_or(path);
    check_source(SourceFile::new(name, text), options).report
}

/// Builds a flow file the way `kflowc build` does (checked with `runnable`, lowered, emitted,
/// a real cargo build in the tests' shared cache), then asserts that the binary holds exactly
/// the plan lowered in process (`./<flow> plan`). Returns the binary, or why it did not build.
pub fn build_flow(path: &Path) -> Result<PathBuf, String> {
    build_flows(&[path.to_path_buf()], "")
}

/// [`build_flow`] for several flows made into one binary named `bin_name` (`kflowc build
/// a.yml b.yml -o bin_name`): checked together, each flow's plan compared with
/// `./<bin> plan FLOW`.
pub fn build_flows(paths: &[PathBuf], bin_name: &str) -> Result<PathBuf, String> {
    use kflow_compiler::build::{self, BuildOptions, FlowSource, Profile};
    let mut sources = Vec::new();
    let mut texts = Vec::new();
    let mut names = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        sources.push(SourceFile::new(path, text.clone()));
        texts.push(text);
        names.push(
            path.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string(),
        );
    }
    let options = Options {
        allow_unknown_types: false,
        runnable: true,
    };
    let checked = kflow_compiler::check_sources(sources, options, true);
    let mut flows = Vec::new();
    for (checked, path) in checked.iter().zip(paths) {
        let flow = checked
            .flow
            .as_ref()
            .filter(|_| checked.report.error_count() == 0)
            .ok_or_else(|| {
                format!(
                    "{} does not check: {:?}",
                    path.display(),
                    checked
                        .report
                        .diagnostics
                        .iter()
                        .find(|d| d.severity == kflow_compiler::diag::Severity::Error)
                        .map(|d| &d.message)
                )
            })?;
        flows.push(flow);
    }
    let mut sources = Vec::new();
    for (((flow, text), name), path) in flows.iter().zip(&texts).zip(&names).zip(paths) {
        sources.push(FlowSource {
            flow,
            text,
            name,
            files: build::namespace_files(path).map_err(|e| e.to_string())?,
        });
    }
    let bin_name = match flows.as_slice() {
        [one] => one.id.value.clone(),
        _ => bin_name.to_string(),
    };
    let krate = build::generate_bundle(&bin_name, sources, build::RUNTIME_FROM_FLOW);
    let binary = build::build(
        &krate,
        &BuildOptions {
            profile: Profile::Release,
            target: None,
            verbose: false,
            cache: Some(project_dir().join("target/kflow-test-cache")),
        },
    )
    .map_err(|e| e.to_string())?;
    for ((flow, text), name) in flows.iter().zip(&texts).zip(&names) {
        let lowered =
            serde_json::to_value(build::plan(flow, text, name)).map_err(|e| e.to_string())?;
        let mut plan = std::process::Command::new(&binary);
        plan.arg("plan");
        if paths.len() > 1 {
            plan.arg(&flow.id.value);
        }
        let printed = plan.output().map_err(|e| e.to_string())?;
        let held: serde_json::Value = serde_json::from_slice(&printed.stdout)
            .map_err(|e| format!("{name}: `plan` does not print JSON: {e}"))?;
        if held != lowered {
            return Err(format!(
                "{name}: the binary's plan differs from the plan lowered in process"
            ));
        }
    }
    Ok(binary)
}

/// The flows the flow at `path` starts as subflows (`Subflow`, `ForEachItem`), and theirs in
/// turn, found among the flow files beside it: what `kflowc build` must be given with it.
pub fn companions(path: &Path) -> Vec<PathBuf> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut by_name: std::collections::HashMap<(String, String), PathBuf> =
        std::collections::HashMap::default();
    for file in flow_files(dir) {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        if let Some(flow) = check_source(SourceFile::new(&file, text), Options::default()).flow {
            by_name
                .entry((flow.namespace.value.clone(), flow.id.value.clone()))
                .or_insert(file);
        }
    }
    let mut found: Vec<PathBuf> = Vec::new();
    let mut pending = vec![path.to_path_buf()];
    while let Some(file) = pending.pop() {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let Some(flow) = check_source(SourceFile::new(&file, text), Options::default()).flow else {
            continue;
        };
        for task in flow.all_tasks() {
            let is_subflow = task.plugin.is_some_and(|p| {
                p.name.ends_with(".flow.Subflow") || p.name.ends_with(".flow.ForEachItem")
            });
            let text = |name: &str| task.property(name).and_then(|p| p.value.as_text());
            let (true, Some(namespace), Some(id)) = (is_subflow, text("namespace"), text("flowId"))
            else {
                continue;
            };
            if let Some(target) = by_name.get(&(namespace.to_string(), id.to_string())) {
                if target != path && !found.contains(target) {
                    found.push(target.clone());
                    pending.push(target.clone());
                }
            }
        }
    }
    found
}

/// A fresh folder under the system temp dir for one test (removed first; made by its user).
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kflow-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Builds the flow `yaml`, written as `<name>.yml` in a scratch folder, with [`build_flow`];
/// panics naming the flow when it does not build.
pub fn build_yaml(name: &str, yaml: &str) -> PathBuf {
    build_yamls(name, &[(name, yaml)])
}

/// Builds the flows `files` (`(name, yaml)`, written as `<name>.yml` in a scratch folder) into
/// one binary `bin_name` with [`build_flows`]; panics naming it when it does not build.
pub fn build_yamls(bin_name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = scratch_dir(&format!("flow-{bin_name}"));
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    let mut paths = Vec::new();
    for (name, yaml) in files {
        let path = dir.join(format!("{name}.yml"));
        std::fs::write(&path, yaml).expect("the flow file");
        paths.push(path);
    }
    build_flows(&paths, bin_name).unwrap_or_else(|e| panic!("building {bin_name}: {e}"))
}

/// The summary a binary's `run` (or `resume`, ...) printed: its last stdout line.
pub fn summary_of(out: &std::process::Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {stdout}\nstderr {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Every file under `dir` (links not followed).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            match entry.file_type() {
                Ok(t) if t.is_dir() => folders.push(entry.path()),
                Ok(t) if t.is_file() => files.push(entry.path()),
                _ => {}
            }
        }
    }
    files
}

/// Checks `yaml` as `kflowc build` does (no errors allowed), lowers it and reads the plan back
/// from its JSON, as the built binary does: a flow ready to run in process.
pub fn lowered(yaml: &str) -> kflow_runtime::plan::Flow {
    let options = Options {
        allow_unknown_types: false,
        runnable: true,
    };
    let checked = check_source(SourceFile::new("flow.yml", yaml.to_string()), options);
    let errors: Vec<_> = checked
        .report
        .diagnostics
        .iter()
        .filter(|d| d.severity == kflow_compiler::diag::Severity::Error)
        .map(|d| format!("{} {}", d.code.as_str(), d.message))
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{yaml}");
    let plan = kflow_compiler::build::plan(&checked.flow.expect("a flow"), yaml, "flow.yml");
    kflow_runtime::plan::Flow::from_json(&plan.to_json()).expect("the plan reads back")
}

/// `./flow run ARGS` in process, through the binary's own command line, with a fresh state
/// directory: the exit code, the summary (the last stdout line) and what went to stderr.
pub fn run_in_process(
    flow: &kflow_runtime::plan::Flow,
    args: &[&str],
) -> (u8, serde_json::Value, String) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "kflow-in-process-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let mut argv = vec!["flow", "run", "--state", dir.to_str().unwrap_or_default()];
    argv.extend(args);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let version = kflow_runtime::cli::VersionInfo { kflowc: "test" };
    let bundle = kflow_runtime::bundle::Bundle::single(flow.clone(), &[]);
    let code = kflow_runtime::cli::run_cli(&bundle, &version, argv, &mut out, &mut err);
    let _ = std::fs::remove_dir_all(&dir);
    let out = String::from_utf8_lossy(&out).to_string();
    let summary = out.lines().last().map_or(serde_json::Value::Null, |l| {
        serde_json::from_str(l).unwrap_or(serde_json::Value::Null)
    });
    (code, summary, String::from_utf8_lossy(&err).to_string())
}

/// The task run of `task` in a run's summary.
pub fn task_run<'a>(summary: &'a serde_json::Value, task: &str) -> &'a serde_json::Value {
    summary["task_runs"]
        .as_array()
        .and_then(|runs| runs.iter().find(|r| r["task_id"] == task))
        .unwrap_or_else(|| panic!("no task run of `{task}` in {summary}"))
}

/// The diagnostics as a person reads them, without colour.
pub fn human(report: &FileReport) -> String {
    render_human(std::slice::from_ref(report), Color::Never)
}

/// `(line, code, severity)` of each diagnostic, for compact assertions.
pub fn findings(report: &FileReport) -> Vec<(usize, &'static str, &'static str)> {
    report
        .diagnostics
        .iter()
        .map(|d| {
            (
                report.source.line_col(d.span.start).line,
                d.code.as_str(),
                d.severity.as_str(),
            )
        })
        .collect()
}

/// One expression case from `tests/cases/expr/*.case`: a template, its variables and what
/// Kestra gives for it.
#[derive(Debug)]
pub struct ExprCase {
    pub file: String,
    pub name: String,
    pub template: String,
    pub vars: serde_json::Map<String, serde_json::Value>,
    pub expect: Expect,
}

#[derive(Debug)]
pub enum Expect {
    Output(String),
    OutputContains(String),
    /// Rendering fails; the message contains this text (when not empty).
    Error(String),
}

/// A case as read: its name and its `### section` bodies, line by line.
type RawCase<'t> = (String, Vec<(String, Vec<&'t str>)>);

/// Read a `.case` file (format in `tests/cases/expr/README.md`).
pub fn read_expr_cases(path: &Path) -> Vec<ExprCase> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let file = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string();
    let mut cases = Vec::new();
    // Split into cases at `## `, then into sections at `### `.
    let mut current: Option<RawCase> = None;
    let finish = |case: Option<RawCase>, cases: &mut Vec<ExprCase>| {
        let Some((name, sections)) = case else { return };
        let body = |key: &str| -> Option<String> {
            sections.iter().find(|(k, _)| k == key).map(|(_, lines)| {
                let mut lines = lines.clone();
                while lines.last().is_some_and(|l| l.trim().is_empty()) {
                    lines.pop();
                }
                lines.join("\n")
            })
        };
        let template =
            body("template").unwrap_or_else(|| panic!("{file}: case `{name}` has no ### template"));
        let vars = match body("vars") {
            None => serde_json::Map::new(),
            Some(json) if json.trim().is_empty() => serde_json::Map::new(),
            Some(json) => match serde_json::from_str(&json) {
                Ok(serde_json::Value::Object(map)) => map,
                other => panic!("{file}: case `{name}`: vars must be a JSON object: {other:?}"),
            },
        };
        let expect = if let Some(out) = body("output") {
            Expect::Output(out)
        } else if let Some(out) = body("output-contains") {
            Expect::OutputContains(out)
        } else if let Some(err) = body("error") {
            Expect::Error(err.trim().to_string())
        } else {
            panic!("{file}: case `{name}` has no ### output, ### output-contains or ### error")
        };
        cases.push(ExprCase {
            file: file.clone(),
            name,
            template,
            vars,
            expect,
        });
    };
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("## ") {
            finish(current.take(), &mut cases);
            current = Some((name.trim().to_string(), Vec::new()));
        } else if let Some(section) = line.strip_prefix("### ") {
            if let Some((_, sections)) = current.as_mut() {
                sections.push((section.trim().to_string(), Vec::new()));
            }
        } else if let Some((_, sections)) = current.as_mut() {
            if let Some((_, lines)) = sections.last_mut() {
                lines.push(line);
            }
        }
    }
    finish(current.take(), &mut cases);
    cases
}

/// An HTTP answer as [`http`] read it.
#[derive(Debug)]
pub struct HttpReply {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics showing it when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {} {}", self.status, self.text()))
    }
}

/// One HTTP/1.1 request on its own connection (closed after the answer), as a client on the
/// loopback sends it: the tests need no HTTP client crate.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<HttpReply> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(std::time::Duration::from_mins(1)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_reply(&raw).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not an HTTP answer: {}", String::from_utf8_lossy(&raw)),
        )
    })
}

fn parse_reply(raw: &[u8]) -> Option<HttpReply> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    if chunked {
        body = dechunk(&body)?;
    }
    Some(HttpReply {
        status,
        headers,
        body,
    })
}

fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&raw[..line_end]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(raw.get(..size)?);
        raw = raw.get(size + 2..)?;
    }
}

/// Waits (up to 60 s) for a line containing `marker` in the log file `log`, and returns what
/// follows the marker on it: how a test learns where a `serve --listen 127.0.0.1:0` listens.
pub fn wait_for_log(log: &Path, marker: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains(marker)) {
            let at = line.find(marker).unwrap_or(0) + marker.len();
            return line[at..].to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no `{marker}` in {}:\n{text}",
            log.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Starts `binary serve --state STATE ARGS...` with `env` set and its stderr in `log`.
pub fn start_serve(
    binary: &Path,
    state: &Path,
    log: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Child {
    std::process::Command::new(binary)
        .args(["serve", "--state", state.to_str().unwrap()])
        .args(args)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("serve starts")
}

/// Where a `serve --listen 127.0.0.1:0` listens (`HOST:PORT`), read from its log.
pub fn listening_address(log: &Path) -> String {
    let rest = wait_for_log(log, "listening on http://");
    rest.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// SIGTERM to a `serve`, then its exit code once it has drained.
pub fn terminate(mut child: std::process::Child) -> Option<i32> {
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap().code()
}

/// Every execution recorded in `state`, newest first, as `executions --format json` lists
/// them.
pub fn executions(binary: &Path, state: &Path) -> Vec<serde_json::Value> {
    let out = std::process::Command::new(binary)
        .args([
            "executions",
            "--format",
            "json",
            "--limit",
            "1000000",
            "--state",
        ])
        .arg(state)
        .output()
        .expect("the binary runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Standard base64 of `text` (secrets are given to binaries base64-encoded, as Kestra's
/// `SECRET_<NAME>` environment variables are).
pub fn base64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// One request a [`RecordingServer`] received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// The request target as sent: a path, or an absolute URL when it came through as a proxy.
    pub target: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics showing it when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }

    /// The target's path (without the scheme and host of a proxied request, nor the query).
    pub fn path(&self) -> &str {
        let target = match self.target.find("://") {
            Some(i) => {
                let rest = &self.target[i + 3..];
                rest.find('/').map_or("/", |j| &rest[j..])
            }
            None => &self.target,
        };
        target.split('?').next().unwrap_or(target)
    }
}

/// What a [`RecordingServer`] answers at one path.
#[derive(Debug, Clone)]
pub struct Route {
    pub path: &'static str,
    pub status: u16,
    /// Extra header lines, each ending in `\r\n`.
    pub headers: String,
    pub body: Vec<u8>,
}

impl Route {
    pub fn new(
        path: &'static str,
        status: u16,
        content_type: &str,
        body: impl Into<Vec<u8>>,
    ) -> Route {
        Route {
            path,
            status,
            headers: format!("content-type: {content_type}\r\n"),
            body: body.into(),
        }
    }
}

/// A real HTTP/1.1 server on the loopback, started by a test: it answers each request by its
/// path from its routes (404 otherwise) and keeps every request it received, so a test asserts
/// what a service (Slack, a REST API) would have seen.
pub struct RecordingServer {
    pub addr: String,
    received: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
}

impl RecordingServer {
    pub fn start(routes: Vec<Route>) -> RecordingServer {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let addr = listener.local_addr().expect("its address").to_string();
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = std::sync::Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Ok(clone) = stream.try_clone() else {
                    continue;
                };
                let mut reader = BufReader::new(clone);
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    continue;
                }
                let mut words = line.split_whitespace();
                let method = words.next().unwrap_or_default().to_string();
                let target = words.next().unwrap_or_default().to_string();
                let mut headers = Vec::new();
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = header.trim_end().split_once(':') {
                        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
                    }
                }
                let find = |name: &str| {
                    headers
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v): &(String, String)| v.clone())
                };
                let mut body = Vec::new();
                if let Some(length) = find("content-length").and_then(|l| l.parse::<usize>().ok()) {
                    body.resize(length, 0);
                    let _ = reader.read_exact(&mut body);
                } else if find("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
                    loop {
                        let mut size = String::new();
                        if reader.read_line(&mut size).unwrap_or(0) == 0 {
                            break;
                        }
                        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                        let mut chunk = vec![0; size + 2];
                        let _ = reader.read_exact(&mut chunk);
                        if size == 0 {
                            break;
                        }
                        body.extend_from_slice(&chunk[..size]);
                    }
                }
                let request = Received {
                    method,
                    target,
                    headers,
                    body,
                };
                let route = routes.iter().find(|r| r.path == request.path());
                let (status, extra, answer) = match route {
                    Some(r) => (r.status, r.headers.clone(), r.body.clone()),
                    None => (
                        404,
                        "content-type: text/plain\r\n".to_string(),
                        b"no such path".to_vec(),
                    ),
                };
                kept.lock().expect("the requests").push(request);
                let head = format!(
                    "HTTP/1.1 {status} {}\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n",
                    match status {
                        200 => "OK",
                        204 => "No Content",
                        404 => "Not Found",
                        500 => "Internal Server Error",
                        _ => "Status",
                    },
                    answer.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&answer);
            }
        });
        RecordingServer { addr, received }
    }

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request so far, in the order they came.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("the requests").clone()
    }

    /// The requests at `path`.
    pub fn received_at(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path() == path)
            .collect()
    }
}

/// One mail an [`SmtpSink`] received: the envelope, the `AUTH PLAIN` credentials (decoded) and
/// the message as sent (headers and MIME body).
#[derive(Debug, Clone, Default)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    pub auth: Option<String>,
    pub data: String,
}

/// A local SMTP server that accepts every mail and keeps it: plain SMTP with `AUTH PLAIN`, as
/// much of the protocol as a client needs to deliver one message per session.
pub struct SmtpSink {
    pub addr: String,
    pub mails: std::sync::Arc<std::sync::Mutex<Vec<ReceivedMail>>>,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a local port");
        let addr = listener.local_addr().expect("its address").to_string();
        let mails = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = mails.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let kept = kept.clone();
                std::thread::spawn(move || {
                    let _ = smtp_session(stream, &kept);
                });
            }
        });
        SmtpSink { addr, mails }
    }

    pub fn port(&self) -> &str {
        self.addr.rsplit(':').next().unwrap_or_default()
    }

    /// The mails received so far, waiting up to 10 s for at least `n`.
    pub fn wait_for(&self, n: usize) -> Vec<ReceivedMail> {
        for _ in 0..100 {
            let mails = self.mails.lock().unwrap().clone();
            if mails.len() >= n {
                return mails;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        self.mails.lock().unwrap().clone()
    }
}

fn smtp_session(
    stream: std::net::TcpStream,
    kept: &std::sync::Mutex<Vec<ReceivedMail>>,
) -> std::io::Result<()> {
    use base64::Engine as _;
    use std::io::{BufRead, BufReader, Write};
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(std::io::Read::take(stream, 64 << 20));
    out.write_all(b"220 kflow-test ESMTP\r\n")?;
    let mut mail = ReceivedMail::default();
    let mut auth = None;
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_string();
        let upper = command.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            out.write_all(b"250-kflow-test\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n")?;
        } else if upper.starts_with("AUTH PLAIN") {
            let encoded = command[10..].trim();
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .unwrap_or_default();
            auth = Some(
                String::from_utf8_lossy(&decoded)
                    .replace('\0', " ")
                    .trim()
                    .to_string(),
            );
            out.write_all(b"235 2.7.0 accepted\r\n")?;
        } else if upper.starts_with("MAIL FROM:") {
            mail = ReceivedMail {
                from: command[10..].trim().trim_matches(['<', '>']).to_string(),
                auth: auth.clone(),
                ..ReceivedMail::default()
            };
            out.write_all(b"250 ok\r\n")?;
        } else if upper.starts_with("RCPT TO:") {
            mail.to
                .push(command[8..].trim().trim_matches(['<', '>']).to_string());
            out.write_all(b"250 ok\r\n")?;
        } else if upper == "DATA" {
            out.write_all(b"354 go on\r\n")?;
            let mut data = String::new();
            loop {
                line.clear();
                if input.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            mail.data = data;
            kept.lock().unwrap().push(std::mem::take(&mut mail));
            out.write_all(b"250 queued\r\n")?;
        } else if upper == "QUIT" {
            out.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            out.write_all(b"250 ok\r\n")?;
        }
    }
}

/// A Python virtualenv at `dir/venv` with `packages` installed from `PyPI`; its path. Panics
/// naming what failed.
pub fn venv(dir: &Path, packages: &[&str]) -> PathBuf {
    let venv = dir.join("venv");
    let made = std::process::Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .expect("python3 runs");
    assert!(made.success(), "python3 -m venv failed");
    let installed = std::process::Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet"])
        .args(packages)
        .status()
        .expect("pip runs");
    assert!(installed.success(), "pip install {packages:?} failed");
    venv
}
