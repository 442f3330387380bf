//! Task types, one module per family (Kestra's packages: `log`, `output`, `execution`,
//! `flow`). A type is defined once: its [`PluginDef`] (names, properties, outputs: what the
//! compiler's checker reads), a properties struct deserialized from the rendered properties,
//! and its implementation of [`Task`], side by side. Flowable types (Sequential, If, ...) are
//! the executor's own constructs: only their definitions live here, with their child-task slots.
//!
//! Adding a runnable type: a struct with a `DEFINITION`, `impl Task for` it, and one line in
//! the `register!` list below. `docs/architecture.md` walks through it.

pub mod cli;
pub mod compress;
pub mod docker;
pub mod email;
pub mod execution;
pub mod flow;
pub mod foreach_item;
pub mod git;
pub mod history;
pub mod http;
pub mod kubectl;
pub mod kv;
pub mod log;
pub mod namespace;
pub mod notify;
pub mod output;
pub mod script;
pub mod serdes;
pub mod sql;
pub mod storage;
pub mod subflow;
pub mod templating;

#[cfg(feature = "executor")]
mod context;
#[cfg(feature = "executor")]
pub(crate) mod props;
#[cfg(any(feature = "notify", feature = "email"))]
pub(crate) mod summary;

#[cfg(feature = "executor")]
pub(crate) use context::{DynTask, Port};
#[cfg(feature = "executor")]
pub use context::{Task, TaskContext, TaskError};

use crate::definition::PluginDef;

/// Lists every runnable type once: from the list come [`DEFINITIONS`] (for the compiler) and
/// [`implementation`] (for the executor). A type marked `#[cfg(feature = "…")]` is implemented
/// only with that cargo feature (its definition says the same, checked at compile time);
/// without it the type is `Unbuilt`.
macro_rules! register {
    (
        runnable: $($(#[cfg(feature = $feature:literal)])? $task:ty),* $(,)?;
        flowable: $($flowable:expr),* $(,)?
    ) => {
        /// Every type this runtime runs, runnable and flowable: the compiler's registry reads
        /// these definitions as they are.
        pub static DEFINITIONS: &[PluginDef] = &[$(<$task>::DEFINITION,)* $($flowable,)*];

        $(
            const _: () = assert!(
                same_feature(<$task>::DEFINITION.feature, feature!($($feature)?)),
                "a type's `with_feature` and its `#[cfg(feature)]` in `register!` differ"
            );
        )*

        /// The implementation of a runnable type, by canonical name or alias.
        #[cfg(feature = "executor")]
        pub(crate) fn implementation(type_name: &str) -> Option<&'static dyn DynTask> {
            $(
                if <$task>::DEFINITION.answers_to(type_name) {
                    return Some(runner!($task $(, $feature)?));
                }
            )*
            None
        }
    };
}

macro_rules! feature {
    () => {
        None
    };
    ($feature:literal) => {
        Some($feature)
    };
}

/// The implementation of `$task`, or [`context::Unbuilt`] without its feature.
#[cfg(feature = "executor")]
macro_rules! runner {
    ($task:ty) => {
        context::Runner::<$task>::INSTANCE
    };
    ($task:ty, $feature:literal) => {{
        #[cfg(feature = $feature)]
        let runner: &'static dyn DynTask = context::Runner::<$task>::INSTANCE;
        #[cfg(not(feature = $feature))]
        let runner: &'static dyn DynTask = {
            static UNBUILT: context::Unbuilt = context::Unbuilt($feature);
            &UNBUILT
        };
        runner
    }};
}

const fn same_feature(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            let (a, b) = (a.as_bytes(), b.as_bytes());
            if a.len() != b.len() {
                return false;
            }
            let mut i = 0;
            while i < a.len() {
                if a[i] != b[i] {
                    return false;
                }
                i += 1;
            }
            true
        }
        _ => false,
    }
}

register! {
    runnable:
        log::Log,
        log::Echo,
        output::Return,
        output::OutputValues,
        execution::Fail,
        execution::Assert,
        execution::Exit,
        execution::Labels,
        execution::SetVariables,
        execution::UnsetVariables,
        flow::Sleep,
        kv::Set,
        kv::Get,
        kv::GetKeys,
        kv::Delete,
        storage::Write,
        storage::Size,
        storage::Delete,
        storage::Concat,
        storage::Split,
        storage::PurgeCurrentExecutionFiles,
        storage::LocalFiles,
        storage::FilterItems,
        storage::DeduplicateItems,
        storage::Reverse,
        history::Fetch,
        history::PurgeExecutions,
        history::PurgeLogs,
        namespace::UploadFiles,
        namespace::DownloadFiles,
        templating::TemplatedTask,
        #[cfg(feature = "http")]
        http::Request,
        #[cfg(feature = "http")]
        http::Download,
        #[cfg(feature = "email")]
        email::MailSend,
        #[cfg(feature = "email")]
        email::MailExecution,
        #[cfg(feature = "notify")]
        notify::SlackIncomingWebhook,
        #[cfg(feature = "notify")]
        notify::TeamsIncomingWebhook,
        #[cfg(feature = "notify")]
        notify::DiscordIncomingWebhook,
        #[cfg(feature = "notify")]
        notify::GoogleChatIncomingWebhook,
        #[cfg(feature = "notify")]
        notify::ZulipIncomingWebhook,
        #[cfg(feature = "notify")]
        notify::QqIncomingWebhook,
        #[cfg(feature = "notify")]
        notify::TelegramSend,
        #[cfg(feature = "notify")]
        notify::SlackExecution,
        #[cfg(feature = "notify")]
        notify::TeamsExecution,
        #[cfg(feature = "notify")]
        notify::DiscordExecution,
        script::ShellCommands,
        script::ShellScript,
        script::PythonCommands,
        script::PythonScript,
        script::NodeCommands,
        script::NodeScript,
        script::PowershellCommands,
        script::PowershellScript,
        script::RCommands,
        script::RScript,
        script::JuliaCommands,
        script::JuliaScript,
        script::RubyCommands,
        script::RubyScript,
        script::PhpCommands,
        script::PhpScript,
        script::PerlCommands,
        script::PerlScript,
        script::LuaCommands,
        script::LuaScript,
        script::GroovyCommands,
        script::GroovyScript,
        script::GoCommands,
        script::GoScript,
        script::DotnetCommands,
        script::DotnetScript,
        script::DenoCommands,
        script::DenoScript,
        script::BunCommands,
        script::BunScript,
        script::JbangCommands,
        script::JbangScript,
        #[cfg(feature = "tools")]
        git::Clone,
        #[cfg(feature = "tools")]
        git::Push,
        #[cfg(feature = "tools")]
        cli::DbtCli,
        #[cfg(feature = "tools")]
        cli::TerraformCli,
        #[cfg(feature = "tools")]
        cli::AnsibleCli,
        #[cfg(feature = "tools")]
        cli::AwsCli,
        #[cfg(feature = "tools")]
        cli::GcloudCli,
        #[cfg(feature = "tools")]
        cli::AzCli,
        #[cfg(feature = "tools")]
        kubectl::KubectlApply,
        #[cfg(feature = "tools")]
        kubectl::KubectlGet,
        #[cfg(feature = "tools")]
        kubectl::KubectlDelete,
        #[cfg(feature = "tools")]
        docker::DockerBuild,
        #[cfg(feature = "tools")]
        docker::DockerRun,
        #[cfg(feature = "tools")]
        docker::DockerPush,
        #[cfg(feature = "serdes")]
        serdes::CsvToIon,
        #[cfg(feature = "serdes")]
        serdes::IonToCsv,
        #[cfg(feature = "serdes")]
        serdes::JsonToIon,
        #[cfg(feature = "serdes")]
        serdes::IonToJson,
        #[cfg(feature = "avro")]
        serdes::IonToAvro,
        #[cfg(feature = "avro")]
        serdes::AvroToIon,
        #[cfg(feature = "parquet")]
        serdes::IonToParquet,
        #[cfg(feature = "parquet")]
        serdes::ParquetToIon,
        #[cfg(feature = "compress")]
        compress::ArchiveCompress,
        #[cfg(feature = "compress")]
        compress::ArchiveDecompress,
        #[cfg(feature = "compress")]
        compress::FileCompress,
        #[cfg(feature = "compress")]
        compress::FileDecompress,
        #[cfg(feature = "sql")]
        sql::SqliteQuery,
        #[cfg(feature = "sql")]
        sql::SqliteQueries,
        #[cfg(feature = "postgres")]
        sql::PostgresQuery,
        #[cfg(feature = "postgres")]
        sql::PostgresQueries,
        #[cfg(feature = "sql")]
        sql::DuckdbQuery,
        #[cfg(feature = "postgres")]
        sql::PostgresCopyIn,
        #[cfg(feature = "postgres")]
        sql::PostgresCopyOut,
        #[cfg(feature = "sql")]
        sql::DuckdbQueries,
        subflow::Subflow,
        foreach_item::ForEachItemSplit,
        foreach_item::ForEachItemExecutable,
        foreach_item::ForEachItemMergeOutputs;
    flowable:
        flow::SEQUENTIAL,
        flow::ALLOW_FAILURE,
        flow::PARALLEL,
        flow::DAG,
        flow::IF,
        flow::SWITCH,
        flow::FOR_EACH,
        flow::EACH_SEQUENTIAL,
        flow::EACH_PARALLEL,
        flow::PAUSE,
        flow::LOOP_UNTIL,
        flow::WORKING_DIRECTORY,
        foreach_item::FOR_EACH_ITEM,
}

/// Which optional families this runtime was built with, by feature name in capitals: the
/// module `include_flow!` generates asserts those its flow needs, so that a program lacking one
/// does not compile (a built binary gets them from `kflowc build`).
pub mod built {
    pub const HTTP: bool = cfg!(feature = "http");
    pub const NOTIFY: bool = cfg!(feature = "notify");
    pub const EMAIL: bool = cfg!(feature = "email");
    pub const POSTGRES: bool = cfg!(feature = "postgres");
    pub const SQL: bool = cfg!(feature = "sql");
    pub const SERDES: bool = cfg!(feature = "serdes");
    pub const AVRO: bool = cfg!(feature = "avro");
    pub const PARQUET: bool = cfg!(feature = "parquet");
    pub const COMPRESS: bool = cfg!(feature = "compress");
    pub const TOOLS: bool = cfg!(feature = "tools");

    /// Every feature a task type may need, with its constant above.
    pub const ALL: &[(&str, bool)] = &[
        ("http", HTTP),
        ("notify", NOTIFY),
        ("email", EMAIL),
        ("postgres", POSTGRES),
        ("sql", SQL),
        ("serdes", SERDES),
        ("avro", AVRO),
        ("parquet", PARQUET),
        ("compress", COMPRESS),
        ("tools", TOOLS),
    ];
}

/// The runtime's cargo features a flow needs (see [`PluginDef::feature`]): its tasks' and, for
/// `http.Trigger`, its triggers'. `kflowc build` turns on exactly these.
pub fn features_of(flow: &crate::plan::Flow) -> std::collections::BTreeSet<&'static str> {
    let mut features = std::collections::BTreeSet::new();
    let mut stack: Vec<&crate::plan::Task> = flow
        .tasks
        .iter()
        .chain(&flow.errors)
        .chain(&flow.finally)
        .chain(&flow.after_execution)
        .collect();
    while let Some(task) = stack.pop() {
        if let Some(feature) = definition(&task.type_name).and_then(|d| d.feature) {
            features.insert(feature);
        }
        stack.extend(task.children());
    }
    let polls = flow
        .triggers
        .iter()
        .any(|t| matches!(t.kind, crate::plan::TriggerKind::HttpPoll(_)));
    if polls {
        features.insert("http");
    }
    features
}

/// The definition this runtime has for a type name (canonical or alias), if it runs it.
pub fn definition(type_name: &str) -> Option<&'static PluginDef> {
    DEFINITIONS.iter().find(|d| d.answers_to(type_name))
}

/// Whether rendered `properties` are what the type's properties struct takes (every declared
/// property is a field of it; unknown ones are refused). For tests and tools.
#[cfg(feature = "executor")]
pub fn validate_properties(type_name: &str, properties: serde_json::Value) -> Result<(), String> {
    implementation(type_name)
        .ok_or_else(|| format!("`{type_name}` is not a runnable type"))?
        .accepts(properties)
}

#[cfg(test)]
mod tests {
    /// `include_flow!` asserts `built::<FEATURE>` for each feature a flow needs: every feature
    /// a definition names has its constant, and the constant is the feature's own.
    #[test]
    fn every_feature_a_type_needs_has_its_built_constant() {
        for definition in super::DEFINITIONS {
            if let Some(feature) = definition.feature {
                assert!(
                    super::built::ALL.iter().any(|(name, _)| *name == feature),
                    "{feature} ({})",
                    definition.name
                );
            }
        }
        assert_eq!(
            super::built::ALL
                .iter()
                .find(|(n, _)| *n == "http")
                .map(|(_, on)| *on),
            Some(cfg!(feature = "http"))
        );
    }
}
