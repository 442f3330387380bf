//! `cargo bench -p kflow-compiler --bench include_flow`: what `include_flow!` does in the
//! Rust compiler for each flow of `examples/` it could include (read, check, lower, tokens),
//! in process. `bench/include_flow.sh` adds the whole warm rebuild of the example crate.

use std::path::Path;
use std::time::{Duration, Instant};

use quote::quote;

const RUNS: usize = 21;

fn main() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let flows = [
        examples.join("include_flow/flows/report.yml"),
        examples.join("axum_webhook/flows/quote.yml"),
        examples.join("core/greet.yml"),
        examples.join("core/branches.yml"),
    ];
    let runtime = quote! { ::kflow::runtime };
    println!(
        "{:<40} {:>10} {:>10} {:>10}",
        "include_flow! expansion", "min", "median", "code"
    );
    for flow in &flows {
        let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
        let mut bytes = 0;
        for _ in 0..RUNS {
            let start = Instant::now();
            let module = kflow_compiler::include::embedded_flow(flow, &runtime)
                .unwrap_or_else(|e| panic!("{}: {e:?}", flow.display()));
            times.push(start.elapsed());
            bytes = module.to_string().len();
        }
        times.sort();
        let name = flow
            .strip_prefix(&examples)
            .unwrap_or(flow)
            .display()
            .to_string();
        println!(
            "{name:<40} {:>8.2}ms {:>8.2}ms {:>7} KB",
            times[0].as_secs_f64() * 1e3,
            times[RUNS / 2].as_secs_f64() * 1e3,
            bytes.div_ceil(1000)
        );
    }
}
