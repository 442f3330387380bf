//! kflow: a Kestra-style flow as typed Rust inside any program.
//!
//! ```ignore
//! kflow::include_flow!("flows/hello.yml");
//!
//! let execution = hello::run(hello::Inputs::new("world".into())).await?;
//! println!("{:?}", execution.outputs);
//! ```
//!
//! [`include_flow!`] checks the flow when the program compiles (every mistake `kflowc check`
//! reports is a compiler error at its YAML line) and expands to a module named after the flow
//! id: `ID`, `NAMESPACE`, `Inputs` (a field per input in its Rust type), `Outputs`, `run`,
//! `run_on` (a [`Runner`]: state directory, secrets, the program's other flows) and `serve`
//! (the flow's triggers, inside the program's tokio runtime). The task families beyond the
//! core (`http`, `sql`, ...) are this crate's features, as they are the runtime's.

pub use kflow_macros::include_flow;
/// The runtime the generated modules call (executor, tasks, state, triggers).
pub use kflow_runtime as runtime;
pub use kflow_runtime::embed::{Error, Execution, Runner, ServeOptions};
pub use kflow_runtime::execution::State;
