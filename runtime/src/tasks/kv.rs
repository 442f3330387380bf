//! `io.kestra.plugin.core.kv`: `Set`, `Get`, `GetKeys` and `Delete` on the KV store in the flow's state
//! (see [`crate::kv`]). `namespace` defaults to the flow's; any namespace may be named, as in
//! Kestra's open-source edition.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::definition::{out, prop, PluginDef, PropType::*, ValueType};

const KV_TYPES: &[&str] = &[
    "STRING", "NUMBER", "BOOLEAN", "DATETIME", "DATE", "DURATION", "JSON",
];

/// `kv.Set`: writes `value` under `key`, typed by `kvType`, expiring after `ttl`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Set {
    pub key: Value,
    pub value: Value,
    #[serde(default)]
    pub namespace: Option<Value>,
    #[serde(default)]
    pub overwrite: Option<Value>,
    #[serde(default)]
    pub ttl: Option<Value>,
    #[serde(default)]
    pub kv_type: Option<Value>,
    #[serde(default)]
    pub kv_description: Option<Value>,
}

impl Set {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.kv.Set",
        &[],
        &[
            prop("key", String).required(),
            // `Property<String>` in Kestra 1.0, which stores a YAML map or list as its JSON
            // text; kflow keeps it a map or list (`kvType: STRING` makes it text).
            prop("value", Any).required(),
            prop("namespace", String),
            prop("overwrite", Bool),
            prop("ttl", Duration),
            prop("kvType", Enum(KV_TYPES)),
            prop("kvDescription", String),
        ],
        &[],
    );
}

/// `kv.Get`: `outputs.<id>.value` is the value of `key` (null when missing, unless
/// `errorOnMissing`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Get {
    pub key: Value,
    #[serde(default)]
    pub namespace: Option<Value>,
    #[serde(default)]
    pub error_on_missing: Option<Value>,
}

impl Get {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.kv.Get",
        &[],
        &[
            prop("key", String).required(),
            prop("namespace", String),
            prop("errorOnMissing", Bool),
        ],
        &[out("value", ValueType::Any)],
    );
}

#[derive(Debug, Serialize)]
pub struct GetOutput {
    pub value: Value,
}

/// `kv.GetKeys`: `outputs.<id>.keys` lists the keys starting with `prefix`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetKeys {
    #[serde(default)]
    pub prefix: Option<Value>,
    #[serde(default)]
    pub namespace: Option<Value>,
}

impl GetKeys {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.kv.GetKeys",
        &[],
        &[prop("prefix", String), prop("namespace", String)],
        &[out("keys", ValueType::List(&ValueType::String))],
    );
}

#[derive(Debug, Serialize)]
pub struct GetKeysOutput {
    pub keys: Vec<std::string::String>,
}

/// `kv.Delete`: `outputs.<id>.deleted` says whether the key existed.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Delete {
    pub key: Value,
    #[serde(default)]
    pub namespace: Option<Value>,
    #[serde(default)]
    pub error_on_missing: Option<Value>,
}

impl Delete {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.kv.Delete",
        &[],
        &[
            prop("key", String).required(),
            prop("namespace", String),
            prop("errorOnMissing", Bool),
        ],
        &[out("deleted", ValueType::Bool)],
    );
}

#[derive(Debug, Serialize)]
pub struct DeleteOutput {
    pub deleted: bool,
}

#[cfg(feature = "executor")]
mod run {
    use super::{Delete, DeleteOutput, Get, GetKeys, GetKeysOutput, GetOutput, Set};
    use crate::expr::value::{duration_of, to_display_string};
    use crate::kv::{check_key, typed, KvWrite};
    use crate::tasks::props::{flag, optional_text};
    use crate::tasks::{Task, TaskContext, TaskError};
    use serde_json::Value;

    /// The namespace named, or the flow's.
    fn namespace(ctx: &TaskContext<'_>, given: Option<&Value>) -> String {
        optional_text(given).unwrap_or_else(|| ctx.namespace().to_string())
    }

    fn key(value: &Value) -> Result<String, TaskError> {
        let key = to_display_string(value);
        check_key(&key)?;
        Ok(key)
    }

    impl Task for Set {
        type Output = ();
        const INSTANT: bool = true;
        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<(), TaskError> {
            let key = key(&self.key)?;
            let namespace = namespace(ctx, self.namespace.as_ref());
            let kv_type = optional_text(self.kv_type.as_ref());
            let value = typed(self.value.clone(), kv_type.as_deref())?;
            let ttl = self
                .ttl
                .as_ref()
                .filter(|v| !v.is_null())
                .map(duration_of)
                .transpose()
                .map_err(|e| TaskError::from(format!("ttl: {e}")))?;
            let description = optional_text(self.kv_description.as_ref());
            ctx.kv_set(&KvWrite {
                namespace: &namespace,
                key: &key,
                value: &value,
                ttl,
                overwrite: flag(self.overwrite.as_ref(), "overwrite", true)?,
                description: description.as_deref(),
            })
        }
    }

    impl Task for Get {
        type Output = GetOutput;
        const INSTANT: bool = true;
        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<GetOutput, TaskError> {
            let key = key(&self.key)?;
            let namespace = namespace(ctx, self.namespace.as_ref());
            match ctx.kv(Some(&namespace), &key)? {
                Some(value) => Ok(GetOutput { value }),
                None if flag(self.error_on_missing.as_ref(), "errorOnMissing", false)? => Err(
                    format!("the KV key `{key}` does not exist in the namespace `{namespace}`")
                        .into(),
                ),
                None => Ok(GetOutput { value: Value::Null }),
            }
        }
    }

    impl Task for GetKeys {
        type Output = GetKeysOutput;
        const INSTANT: bool = true;
        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<GetKeysOutput, TaskError> {
            let namespace = namespace(ctx, self.namespace.as_ref());
            let prefix = optional_text(self.prefix.as_ref()).unwrap_or_default();
            Ok(GetKeysOutput {
                keys: ctx.kv_keys(&namespace, &prefix)?,
            })
        }
    }

    impl Task for Delete {
        type Output = DeleteOutput;
        const INSTANT: bool = true;
        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<DeleteOutput, TaskError> {
            let key = key(&self.key)?;
            let namespace = namespace(ctx, self.namespace.as_ref());
            let deleted = ctx.kv_delete(&namespace, &key)?;
            if !deleted && flag(self.error_on_missing.as_ref(), "errorOnMissing", false)? {
                return Err(format!(
                    "the KV key `{key}` does not exist in the namespace `{namespace}`"
                )
                .into());
            }
            Ok(DeleteOutput { deleted })
        }
    }
}
