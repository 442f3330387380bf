//! `io.kestra.plugin.git.Clone`: the `git` command clones a repository into the task's working
//! directory (a `WorkingDirectory`'s, so the tasks after it see the files).
//!
//! - `depth` is 1 unless set, as in Kestra; with `commit`, the whole history is fetched and the
//!   commit checked out. `tag` is cloned as `--branch <tag>`.
//! - Credentials never reach the command line or the log: `username`/`password` are answered
//!   by a credential helper reading them from the environment; `privateKey` is written to a
//!   private file outside the working directory for `ssh -i`, and removed after.
//! - git clones only into an empty folder: into a folder that exists (the working directory
//!   holds files already), the clone is made beside them and moved in (a name taken already
//!   fails the task).
//! - `gitConfig` entries become `-c key=value` (nested maps are joined with dots).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::definition::{out, prop, OutputDef, PluginDef, PropDef, PropType::*, ValueType};

/// `AbstractGitTask` + `AbstractCloningTask` properties, followed by the type's own (the
/// compiler's catalog lists the push and sync tasks with them too).
#[macro_export]
macro_rules! git_props {
    ($($extra:expr),* $(,)?) => {
        &[
            $crate::definition::prop("username", $crate::definition::PropType::String),
            $crate::definition::prop("password", $crate::definition::PropType::String),
            $crate::definition::prop("privateKey", $crate::definition::PropType::String),
            $crate::definition::prop("passphrase", $crate::definition::PropType::String).not_run_yet(),
            $crate::definition::prop("trustedCaPemPath", $crate::definition::PropType::String),
            $crate::definition::prop("noProxy", $crate::definition::PropType::Bool),
            $crate::definition::prop("connectTimeout", $crate::definition::PropType::Int).not_run_yet(),
            $crate::definition::prop("readTimeout", $crate::definition::PropType::Int).not_run_yet(),
            $crate::definition::prop("gitConfig", $crate::definition::PropType::Map(&$crate::definition::PropType::Any)),
            $crate::definition::prop("kestraUrl", $crate::definition::PropType::String),
            $crate::definition::prop("cloneSubmodules", $crate::definition::PropType::Bool),
            $crate::definition::prop("auth", $crate::definition::PropType::Object($crate::tasks::git::KESTRA_AUTH)).not_dynamic(),
            $($extra),*
        ]
    };
}

/// `AbstractCloningTask.Auth`: credentials for Kestra's API (the push and sync tasks').
pub static KESTRA_AUTH: &[PropDef] = &[
    prop("username", String),
    prop("password", String),
    prop("auto", Bool),
];

/// `io.kestra.plugin.git.Clone` (`url` is `@NotNull` on its `getUrl()`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Clone {
    pub url: Value,
    #[serde(default)]
    pub directory: Option<Value>,
    #[serde(default)]
    pub branch: Option<Value>,
    #[serde(default)]
    pub depth: Option<Value>,
    #[serde(default)]
    pub commit: Option<Value>,
    #[serde(default)]
    pub tag: Option<Value>,
    #[serde(default)]
    pub clone_all_branches: Option<Value>,
    #[serde(default)]
    pub no_tags: Option<Value>,
    #[serde(default)]
    pub username: Option<Value>,
    #[serde(default)]
    pub password: Option<Value>,
    #[serde(default)]
    pub private_key: Option<Value>,
    #[serde(default)]
    pub passphrase: Option<Value>,
    #[serde(default)]
    pub trusted_ca_pem_path: Option<Value>,
    #[serde(default)]
    pub no_proxy: Option<Value>,
    #[serde(default)]
    pub connect_timeout: Option<Value>,
    #[serde(default)]
    pub read_timeout: Option<Value>,
    #[serde(default)]
    pub git_config: Option<Value>,
    #[serde(default)]
    pub kestra_url: Option<Value>,
    #[serde(default)]
    pub clone_submodules: Option<Value>,
    #[serde(default)]
    pub auth: Option<Value>,
}

static CLONE_PROPS: &[PropDef] = git_props![
    prop("url", String).required(),
    prop("directory", String),
    prop("branch", String),
    prop("depth", Int),
    prop("commit", String),
    prop("tag", String),
    prop("cloneAllBranches", Bool),
    prop("noTags", Bool),
];

static CLONE_OUTPUTS: &[OutputDef] = &[out("directory", ValueType::String)];

impl Clone {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.git.Clone",
        &[],
        CLONE_PROPS,
        CLONE_OUTPUTS,
    )
    .in_working_dir()
    .with_feature("tools");
}

/// `Push.Author`.
static AUTHOR: &[PropDef] = &[prop("name", String), prop("email", String)];

static PUSH_PROPS: &[PropDef] = git_props![
    prop("url", String).required(),
    prop("directory", String),
    prop("branch", String).required(),
    prop("commitMessage", String).required(),
    prop("author", Object(AUTHOR)),
    prop("addFilesPattern", List(&String)),
    prop("inputFiles", crate::tasks::script::INPUT_FILES),
    prop(
        "namespaceFiles",
        Object(crate::definition::shapes::NAMESPACE_FILES)
    )
    .not_dynamic(),
    prop("flows", Any)
        .deprecated("use io.kestra.plugin.git.PushFlows")
        .not_run_yet(),
    prop("dryRun", Bool).not_run_yet(),
];

static PUSH_OUTPUTS: &[OutputDef] = &[
    out("commitId", ValueType::String),
    out("commitURL", ValueType::String),
];

/// `io.kestra.plugin.git.Push`: commits the working directory's files (with `inputFiles` and
/// `namespaceFiles` written in) to `branch` of `url` and pushes. The branch is fetched first
/// when it exists (its files stay), else made; nothing to commit pushes nothing.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Push {
    pub url: Value,
    #[serde(default)]
    pub directory: Option<Value>,
    pub branch: Value,
    pub commit_message: Value,
    #[serde(default)]
    pub author: Option<Value>,
    #[serde(default)]
    pub add_files_pattern: Option<Value>,
    #[serde(default)]
    pub input_files: Option<Value>,
    #[serde(default)]
    pub namespace_files: Option<Value>,
    #[serde(default)]
    pub flows: Option<Value>,
    #[serde(default)]
    pub dry_run: Option<Value>,
    #[serde(default)]
    pub username: Option<Value>,
    #[serde(default)]
    pub password: Option<Value>,
    #[serde(default)]
    pub private_key: Option<Value>,
    #[serde(default)]
    pub passphrase: Option<Value>,
    #[serde(default)]
    pub trusted_ca_pem_path: Option<Value>,
    #[serde(default)]
    pub no_proxy: Option<Value>,
    #[serde(default)]
    pub connect_timeout: Option<Value>,
    #[serde(default)]
    pub read_timeout: Option<Value>,
    #[serde(default)]
    pub git_config: Option<Value>,
    #[serde(default)]
    pub kestra_url: Option<Value>,
    #[serde(default)]
    pub clone_submodules: Option<Value>,
    #[serde(default)]
    pub auth: Option<Value>,
}

impl Push {
    pub const DEFINITION: PluginDef =
        PluginDef::runnable_task("io.kestra.plugin.git.Push", &[], PUSH_PROPS, PUSH_OUTPUTS)
            .in_working_dir()
            .with_feature("tools");
}

/// What Push gives: the commit pushed (unset when there was nothing to commit), and its page
/// for an HTTP(S) remote.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PushOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit_id: Option<std::string::String>,
    #[serde(rename = "commitURL", skip_serializing_if = "Option::is_none")]
    pub commit_url: Option<std::string::String>,
}

/// What Clone gives: the clone's absolute path.
#[derive(Debug, Serialize)]
pub struct CloneOutput {
    pub directory: std::string::String,
}

#[cfg(feature = "tools")]
mod run {
    use std::fmt::Write as _;

    use serde_json::Value;

    use super::{Clone, CloneOutput, Push, PushOutput};
    use crate::expr::value::to_display_string;
    use crate::plan::Level;
    use crate::tasks::props::{flag, list, optional_text};
    use crate::tasks::script::run::{run_commands, shell_quote, Commands, PrivateDir};
    use crate::tasks::script::ScriptProps;
    use crate::tasks::{Task, TaskContext, TaskError};

    const SH: &[&str] = &["/bin/sh", "-c"];
    const INSTALL: &str = "for example `apt-get install git`";

    /// Answers git's credential questions from the environment, so no secret is in a command.
    const CREDENTIAL_HELPER: &str = "!f() { test \"$1\" = get || exit 0; echo \"username=$KFLOW_GIT_USERNAME\"; echo \"password=$KFLOW_GIT_PASSWORD\"; }; f";

    impl Task for Clone {
        type Output = CloneOutput;

        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<CloneOutput, TaskError> {
            let dir = ctx
                .working_dir()
                .ok_or("Clone runs in a working directory, and none was made")?
                .to_path_buf();
            let url = optional_text(Some(&self.url)).ok_or("`url` is required")?;
            let target = match optional_text(self.directory.as_ref()) {
                Some(relative) => dir.join(relative),
                None => dir.clone(),
            };
            let access = Access::of(
                Credentials {
                    username: self.username.as_ref(),
                    password: self.password.as_ref(),
                    private_key: self.private_key.as_ref(),
                    trusted_ca_pem_path: self.trusted_ca_pem_path.as_ref(),
                    no_proxy: self.no_proxy.as_ref(),
                    git_config: self.git_config.as_ref(),
                },
                ctx.task_run_id(),
            )?;
            let (env, key_dir) = (access.env.clone(), access.key_dir);
            let mut clone = access.git.clone();
            clone.push_str(" clone");
            let commit = optional_text(self.commit.as_ref());
            if commit.is_none() {
                let depth = match self.depth.as_ref().filter(|v| !v.is_null()) {
                    Some(v) => to_display_string(v)
                        .trim()
                        .parse::<u32>()
                        .map_err(|_| format!("`depth` must be a positive number, got {v}"))?,
                    None => 1,
                };
                let _ = write!(clone, " --depth {depth}");
                if flag(self.clone_all_branches.as_ref(), "cloneAllBranches", false)? {
                    clone.push_str(" --no-single-branch");
                }
            }
            if let Some(branch) =
                optional_text(self.tag.as_ref()).or(optional_text(self.branch.as_ref()))
            {
                let _ = write!(clone, " --branch {}", shell_quote(&branch));
            }
            if flag(self.no_tags.as_ref(), "noTags", false)? {
                clone.push_str(" --no-tags");
            }
            if flag(self.clone_submodules.as_ref(), "cloneSubmodules", false)? {
                clone.push_str(" --recurse-submodules");
            }
            let target_text = target.to_string_lossy().into_owned();
            // git clones only into an empty folder; the working directory holds files already
            // (earlier tasks', the output folder): clone beside them, then move in.
            let occupied = target.exists();
            let staging = target.join(format!(".kflow-clone-{}", ctx.task_run_id()));
            let staging_text = staging.to_string_lossy().into_owned();
            let into = if occupied {
                &staging_text
            } else {
                &target_text
            };
            let _ = write!(clone, " -- {} {}", shell_quote(&url), shell_quote(into));
            let mut lines = vec![clone];
            if occupied {
                let (from, to) = (shell_quote(&staging_text), shell_quote(&target_text));
                lines.push(format!(
                    "for f in {from}/* {from}/.[!.]* {from}/..?*; do if [ -e \"$f\" ]; then mv \"$f\" {to}/ || exit 1; fi; done; rmdir {from}"
                ));
            }
            if let Some(commit) = commit {
                lines.push(format!(
                    "git -C {} checkout --quiet {}",
                    shell_quote(&target_text),
                    shell_quote(&commit)
                ));
            }
            ctx.log(
                Level::Info,
                &format!("Cloning {} into {target_text}", without_userinfo(&url)),
            );
            let commands = Commands {
                lines,
                env,
                files: Vec::new(),
                interpreter: SH,
                image: "alpine/git",
                program: Some(("git", INSTALL)),
                read_line: None,
                // git reports progress on stderr: that is no warning.
                stderr_warns: false,
            };
            let script = ScriptProps::default();
            let result = run_commands(&script, commands, ctx).await;
            drop(key_dir);
            result?;
            Ok(CloneOutput {
                directory: target_text,
            })
        }
    }

    /// The authentication properties every git task has.
    #[derive(Clone, Copy)]
    struct Credentials<'a> {
        username: Option<&'a Value>,
        password: Option<&'a Value>,
        private_key: Option<&'a Value>,
        trusted_ca_pem_path: Option<&'a Value>,
        no_proxy: Option<&'a Value>,
        git_config: Option<&'a Value>,
    }

    /// How a task's git commands reach the remote: `git -c ...` with its settings, and the
    /// environment (the password, the private key's `ssh` command).
    struct Access {
        /// `git` and its `-c` options, to start each command with.
        git: String,
        env: Vec<(String, String)>,
        /// The private key's folder, removed when dropped.
        key_dir: Option<PrivateDir>,
    }

    impl Access {
        fn of(credentials: Credentials<'_>, task_run_id: &str) -> Result<Access, TaskError> {
            let mut env = Vec::new();
            let mut config = Vec::new();
            if let Some(map) = credentials.git_config.filter(|v| !v.is_null()) {
                flatten_config("", map, &mut config)?;
            }
            if let Some(password) = optional_text(credentials.password) {
                let username = optional_text(credentials.username).unwrap_or_else(|| "git".into());
                env.push(("KFLOW_GIT_USERNAME".to_string(), username));
                env.push(("KFLOW_GIT_PASSWORD".to_string(), password));
                config.push(("credential.helper".into(), String::new()));
                config.push(("credential.helper".into(), CREDENTIAL_HELPER.into()));
            }
            if let Some(ca) = optional_text(credentials.trusted_ca_pem_path) {
                config.push(("http.sslCAInfo".into(), ca));
            }
            if flag(credentials.no_proxy, "noProxy", false)? {
                config.push(("http.proxy".into(), String::new()));
                env.push(("NO_PROXY".into(), "*".into()));
                env.push(("no_proxy".into(), "*".into()));
            }
            let key_dir = match optional_text(credentials.private_key) {
                Some(key) => {
                    let key_dir = PrivateDir::new("git", task_run_id)?;
                    let mut key = key;
                    if !key.ends_with('\n') {
                        key.push('\n'); // ssh refuses a key without its final newline
                    }
                    let path = key_dir.write("id", &key)?;
                    env.push((
                        "GIT_SSH_COMMAND".into(),
                        format!(
                            "ssh -i {} -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new",
                            shell_quote(&path)
                        ),
                    ));
                    Some(key_dir)
                }
                None => None,
            };
            let mut git = String::from("git");
            for (name, value) in &config {
                let _ = write!(git, " -c {}", shell_quote(&format!("{name}={value}")));
            }
            Ok(Access { git, env, key_dir })
        }
    }

    impl Task for Push {
        type Output = PushOutput;

        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<PushOutput, TaskError> {
            let dir = ctx
                .working_dir()
                .ok_or("Push runs in a working directory, and none was made")?
                .to_path_buf();
            let url = optional_text(Some(&self.url)).ok_or("`url` is required")?;
            let branch = optional_text(Some(&self.branch)).ok_or("`branch` is required")?;
            let message =
                optional_text(Some(&self.commit_message)).ok_or("`commitMessage` is required")?;
            let target = match optional_text(self.directory.as_ref()) {
                Some(relative) => dir.join(relative),
                None => dir.clone(),
            };
            std::fs::create_dir_all(&target)
                .map_err(|e| format!("`directory` {}: {e}", target.display()))?;
            let access = Access::of(
                Credentials {
                    username: self.username.as_ref(),
                    password: self.password.as_ref(),
                    private_key: self.private_key.as_ref(),
                    trusted_ca_pem_path: self.trusted_ca_pem_path.as_ref(),
                    no_proxy: self.no_proxy.as_ref(),
                    git_config: self.git_config.as_ref(),
                },
                ctx.task_run_id(),
            )?;
            let git = &access.git;
            let (q_url, q_branch) = (shell_quote(&url), shell_quote(&branch));
            let target_text = target.to_string_lossy().into_owned();
            let commands = |lines: Vec<String>| Commands {
                lines,
                env: access.env.clone(),
                files: Vec::new(),
                interpreter: SH,
                image: "alpine/git",
                program: Some(("git", INSTALL)),
                read_line: None,
                stderr_warns: false,
            };
            // The branch as it is on the remote (its files stay), or a new one from the
            // remote's default branch (from nothing when the remote is empty).
            let prepare = vec![
                format!("cd {}", shell_quote(&target_text)),
                "[ -d .git ] || git init -q".into(),
                format!(
                    "if {git} ls-remote --exit-code --heads {q_url} {q_branch} >/dev/null; then {git} fetch -q {q_url} {q_branch} && git reset -q --hard FETCH_HEAD; else rc=$?; [ $rc -eq 2 ] || exit $rc; if {git} ls-remote --exit-code {q_url} HEAD >/dev/null; then {git} fetch -q {q_url} HEAD && git reset -q --hard FETCH_HEAD; fi; fi"
                ),
                format!("git checkout -q -B {q_branch}"),
            ];
            ctx.log(
                Level::Info,
                &format!("Pushing to {} ({branch})", without_userinfo(&url)),
            );
            run_commands(&ScriptProps::default(), commands(prepare), ctx).await?;

            let patterns = match list(self.add_files_pattern.as_ref(), "addFilesPattern")? {
                p if p.is_empty() => vec![".".to_string()],
                p => p,
            };
            let (name, email) = match self.author.as_ref() {
                Some(author) => (
                    optional_text(author.get("name")),
                    optional_text(author.get("email")),
                ),
                None => (None, None),
            };
            let name = name
                .or_else(|| optional_text(self.username.as_ref()))
                .unwrap_or_else(|| "kflow".into());
            let email = email.unwrap_or_else(|| format!("{name}@kflow"));
            let id_file = target.join(format!(".git/kflow-commit-{}", ctx.task_run_id()));
            let push = vec![
                format!("cd {}", shell_quote(&target_text)),
                format!(
                    "git add -- {}",
                    patterns.iter().map(|p| shell_quote(p)).collect::<Vec<_>>().join(" ")
                ),
                format!(
                    "if git diff --cached --quiet; then echo 'No changes to commit'; else git -c user.name={n} -c user.email={e} commit -q -m {m} && {git} push -q {q_url} HEAD:refs/heads/{b} && git rev-parse HEAD > {f}; fi",
                    n = shell_quote(&name),
                    e = shell_quote(&email),
                    m = shell_quote(&message),
                    b = shell_quote(&branch),
                    f = shell_quote(&id_file.to_string_lossy()),
                ),
            ];
            let files = ScriptProps {
                input_files: self.input_files.clone(),
                namespace_files: self.namespace_files.clone(),
                ..ScriptProps::default()
            };
            // inputFiles land in the working directory: in `directory` when it is the same.
            let result = run_commands(&files, commands(push), ctx).await;
            drop(access.key_dir);
            result?;
            let commit_id = std::fs::read_to_string(&id_file)
                .ok()
                .map(|id| id.trim().to_string());
            let _ = std::fs::remove_file(&id_file);
            let commit_url = commit_id.as_ref().and_then(|id| {
                let web = without_userinfo(&url);
                (web.starts_with("https://") || web.starts_with("http://"))
                    .then(|| format!("{}/commit/{id}", web.trim_end_matches(".git")))
            });
            Ok(PushOutput {
                commit_id,
                commit_url,
            })
        }
    }

    /// `gitConfig` as `-c` pairs: `{user: {name: x}}` is `user.name=x`.
    fn flatten_config(
        prefix: &str,
        value: &Value,
        into: &mut Vec<(String, String)>,
    ) -> Result<(), TaskError> {
        match value {
            Value::Object(map) => {
                for (name, value) in map {
                    let key = if prefix.is_empty() {
                        name.clone()
                    } else {
                        format!("{prefix}.{name}")
                    };
                    flatten_config(&key, value, into)?;
                }
                Ok(())
            }
            _ if prefix.is_empty() => Err(format!("`gitConfig` must be a map, got {value}").into()),
            other => {
                into.push((prefix.to_string(), to_display_string(other)));
                Ok(())
            }
        }
    }

    /// The URL as it may be logged: without a `user:password@`.
    fn without_userinfo(url: &str) -> String {
        match url.split_once("://") {
            Some((scheme, rest)) => match rest.split_once('/') {
                Some((authority, path)) => match authority.rsplit_once('@') {
                    Some((_, host)) => format!("{scheme}://{host}/{path}"),
                    None => url.to_string(),
                },
                None => url.to_string(),
            },
            None => url.to_string(),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use serde_json::json;

        #[test]
        fn git_config_is_flattened_and_urls_lose_their_credentials() {
            let mut pairs = Vec::new();
            flatten_config(
                "",
                &json!({"user": {"name": "k", "email": "k@x"}, "core.autocrlf": false}),
                &mut pairs,
            )
            .unwrap();
            assert!(pairs.contains(&("user.name".into(), "k".into())));
            assert!(pairs.contains(&("core.autocrlf".into(), "false".into())));
            assert!(flatten_config("", &json!("x"), &mut pairs).is_err());
            assert_eq!(
                without_userinfo("https://me:tok@github.com/a/b"),
                "https://github.com/a/b"
            );
            assert_eq!(without_userinfo("git@github.com:a/b"), "git@github.com:a/b");
        }
    }
}
