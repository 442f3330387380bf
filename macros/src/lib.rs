//! kflow-macros: `include_flow!("flows/etl.yml")`, a thin shell over `kflow-compiler`: it
//! resolves the path, asks the compiler library for the flow's module (the same check → lower
//! path `kflowc build` takes) and hands back its tokens, or one `compile_error!` per
//! diagnostic, pointing at the macro's argument. Use it through the `kflow` crate, which
//! re-exports it with the runtime the generated code calls.

use std::path::PathBuf;

use proc_macro::TokenStream;
use quote::quote;
use syn::LitStr;

/// `include_flow!("path/to/flow.yml")` expands to `pub mod <flow id>` with the flow's typed
/// `Inputs` and `Outputs`, `run`, `run_on`, `serve`, `flow()`, `ID` and `NAMESPACE`.
///
/// The path is relative to the including crate's root (the folder of its `Cargo.toml`, as
/// `sqlx::migrate!` reads it), so it does not change when code moves between files; an
/// absolute path is taken as it is. Cargo rebuilds the program when the file changes.
#[proc_macro]
pub fn include_flow(input: TokenStream) -> TokenStream {
    let literal = syn::parse_macro_input!(input as LitStr);
    let path = PathBuf::from(literal.value());
    let path = if path.is_absolute() {
        path
    } else {
        let root = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| ".".into());
        PathBuf::from(root).join(path)
    };
    // Messages then show the file's own path, without `..`.
    let path = path.canonicalize().unwrap_or(path);
    let runtime = quote! { ::kflow::runtime };
    match kflow_compiler::include::embedded_flow(&path, &runtime) {
        Ok(module) => module.into(),
        Err(messages) => {
            let errors = messages
                .iter()
                .map(|message| syn::Error::new(literal.span(), message).to_compile_error());
            quote! { #(#errors)* }.into()
        }
    }
}
