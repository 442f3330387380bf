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

/// What Clone gives: the clone's absolute path.
#[derive(Debug, Serialize)]
pub struct CloneOutput {
    pub directory: std::string::String,
}

#[cfg(feature = "tools")]
mod run {
    use std::fmt::Write as _;

    use serde_json::Value;

    use super::{Clone, CloneOutput};
    use crate::expr::value::to_display_string;
    use crate::plan::Level;
    use crate::tasks::props::{flag, optional_text};
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
            let mut env = Vec::new();
            let mut config = Vec::new();
            if let Some(map) = self.git_config.as_ref().filter(|v| !v.is_null()) {
                flatten_config("", map, &mut config)?;
            }
            if let Some(password) = optional_text(self.password.as_ref()) {
                let username =
                    optional_text(self.username.as_ref()).unwrap_or_else(|| "git".into());
                env.push(("KFLOW_GIT_USERNAME".to_string(), username));
                env.push(("KFLOW_GIT_PASSWORD".to_string(), password));
                config.push(("credential.helper".into(), String::new()));
                config.push(("credential.helper".into(), CREDENTIAL_HELPER.into()));
            }
            if let Some(ca) = optional_text(self.trusted_ca_pem_path.as_ref()) {
                config.push(("http.sslCAInfo".into(), ca));
            }
            if flag(self.no_proxy.as_ref(), "noProxy", false)? {
                config.push(("http.proxy".into(), String::new()));
                env.push(("NO_PROXY".into(), "*".into()));
                env.push(("no_proxy".into(), "*".into()));
            }
            let key_dir = match optional_text(self.private_key.as_ref()) {
                Some(key) => {
                    let key_dir = PrivateDir::new("git", ctx.task_run_id())?;
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

            let mut clone = String::from("git");
            for (name, value) in &config {
                let _ = write!(clone, " -c {}", shell_quote(&format!("{name}={value}")));
            }
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
