//! `cargo run -- Lisbon 5`: runs `flows/report.yml` with typed inputs and prints its typed
//! outputs. The flow is checked when this program compiles: misspell an output in the YAML
//! and `cargo build` shows the mistake at its line.

// The path is relative to this crate's root (the folder of its Cargo.toml).
kflow::include_flow!("flows/report.yml");

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), kflow::Error> {
    let mut args = std::env::args().skip(1);
    let mut inputs = report::Inputs::new(args.next().unwrap_or_else(|| "lisbon".into()));
    inputs.days = args.next().and_then(|d| d.parse().ok());
    inputs.unit = Some(report::Unit::Celsius);

    // The state (executions, logs) goes where `./report run` keeps it; `.state_dir(...)` or
    // `.ephemeral()` choose otherwise, `.secret(key, value)` gives secrets.
    let runner = kflow::Runner::new().state_dir("target/kflow-state");
    let execution = report::run_on(&runner, inputs).await?;
    println!("{} {}", execution.id, execution.state.as_str());
    if let Some(outputs) = execution.outputs {
        println!("{} ({} days)", outputs.title, outputs.days);
    }
    Ok(())
}
