// Two included flows: the parent starts the child as a subflow through the runner.
kflow::include_flow!("../../../../kflow/tests/flows/parent.yml");
kflow::include_flow!("../../../../kflow/tests/flows/child.yml");

#[tokio::main]
async fn main() {
    let runner = kflow::Runner::new().ephemeral().with_flow(child::flow());
    let execution = parent::run_on(&runner, parent::Inputs::default()).await.unwrap();
    assert!(execution.succeeded(), "{:?}", execution.summary);
    assert_eq!(execution.outputs.unwrap().answer, 42);

    // The child runs on its own too, in the same state.
    let execution = child::run_on(&runner, child::Inputs::new(7)).await.unwrap();
    assert_eq!(execution.outputs.map(|o| o.doubled), Some(14));
}
