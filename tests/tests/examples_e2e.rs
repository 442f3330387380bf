//! The seed article's flows in `examples/` that kflow's task families cover, run end to end
//! with their URLs pointed at a local HTTP server the test starts: `parameterized_flow`
//! downloads its data source, `resilient_flow` calls its API (and, built with the flow it
//! starts, takes the success branch). The others are check-only or need what a test machine
//! has not (README, "Examples").

use std::process::Command;

use kflow_tests::{
    build_flow, build_flows, companions, project_dir, scratch_dir, summary_of, task_run,
    RecordingServer, Route,
};

#[test]
fn article_examples_run_against_local_servers() {
    let csv = "order_id,total\n1,10.5\n2,3.25\n";
    let server = RecordingServer::start(vec![
        Route::new("/orders.csv", 200, "text/csv", csv),
        Route::new("/data", 200, "application/json", r#"{"ok": true}"#),
    ]);
    let examples = project_dir().join("examples");
    let state = scratch_dir("examples-e2e").join("state");

    let bin =
        build_flow(&examples.join("parameterized_flow.yml")).expect("parameterized_flow builds");
    let out = Command::new(&bin)
        .args(["run", "--state"])
        .arg(&state)
        .args([
            "--input",
            &format!("data_source={}", server.url("/orders.csv")),
        ])
        .args(["--input", "processing_mode=streaming"])
        .output()
        .expect("the binary runs");
    let summary = summary_of(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(summary["state"], "SUCCESS", "{summary:#}\n{stderr}");
    assert_eq!(summary["outputs"]["processingMode"], "streaming");
    let uri = summary["outputs"]["downloadPath"]
        .as_str()
        .expect("a file output");
    let stored = state
        .join("storage")
        .join(uri.trim_start_matches("kestra:///"));
    assert_eq!(std::fs::read_to_string(stored).unwrap(), csv);
    assert_eq!(server.received_at("/orders.csv").len(), 1);

    let resilient = examples.join("resilient_flow.yml");
    let mut paths = vec![resilient.clone()];
    paths.extend(companions(&resilient));
    let bin = build_flows(&paths, "resilient_e2e").expect("resilient_flow builds");
    let out = Command::new(&bin)
        .args(["run", "resilient_flow", "--state"])
        .arg(&state)
        .args(["--input", &format!("api_url={}", server.url("/data"))])
        .output()
        .expect("the binary runs");
    let summary = summary_of(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(summary["state"], "SUCCESS", "{summary:#}\n{stderr}");
    assert_eq!(task_run(&summary, "api_call")["outputs"]["code"], 200);
    assert_eq!(task_run(&summary, "success_log")["state"], "SUCCESS");
    assert!(stderr.contains("API调用成功"), "{stderr}");
}
