// Runs a flow with typed inputs (a required one, defaults, a SELECT enum, a date-time, a list)
// and reads its typed outputs, one of them from a namespace file bundled into the program; the
// secret given in code is what the flow reads (without it, its Log task would fail).
// Paths are relative to the crate that includes them: trybuild's project, target/tests/trybuild/kflow.
kflow::include_flow!("../../../../kflow/tests/flows/greet.yml");

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(greet::ID, "greet");
    assert_eq!(greet::NAMESPACE, "kflow.embedded");
    let runner = kflow::Runner::new().ephemeral().secret("GREET_TOKEN", "s3cr3t");

    let mut inputs = greet::Inputs::new("ada".to_string());
    inputs.tone = Some(greet::Tone::Loud);
    inputs.times = Some(3);
    inputs.at = Some("2024-05-01T10:00:00Z".parse().unwrap());
    inputs.tags = Some(vec!["a".into(), "b".into()]);
    let execution = greet::run_on(&runner, inputs).await.expect("the flow runs");
    assert_eq!(execution.state, kflow::State::Success);
    let outputs: greet::Outputs = execution.outputs.expect("a success has outputs");
    assert_eq!(outputs.greeting, "Hello ADA x3");
    assert_eq!(outputs.times, 3_i64);
    assert_eq!(outputs.tag_count, 2_i64);
    // `_files/` beside the flow is bundled into the program.
    assert_eq!(outputs.motto, "flows are code");

    // The defaults apply to what is left `None`.
    let execution = greet::run_on(&runner, greet::Inputs::new("bob".into())).await.unwrap();
    let outputs = execution.outputs.unwrap();
    assert_eq!(outputs.greeting, "Hello bob x2");
    assert_eq!(outputs.tag_count, 0);
}
