use super::PluginDef;

pub(super) static PLUGINS: &[PluginDef] = &[];
