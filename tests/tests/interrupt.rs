//! A kill stops a render in progress: the signal handler sets `expr::INTERRUPTED`, and a render
//! holding the thread ends at its next check instead of running to its budget. (Its own test
//! binary: the flag is process-wide.)

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use kflow_runtime::expr::{self, NoHost, INTERRUPTED};

#[test]
fn an_interrupt_stops_a_render_in_progress() {
    let heavy =
        "{% for i in range(1, 100000) %}{% for j in range(1, 100000) %}{% endfor %}{% endfor %}";
    let setter = std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(200));
        INTERRUPTED.store(true, Ordering::Relaxed);
    });
    let started = Instant::now();
    let error = expr::render_str(heavy, &serde_json::Map::new(), &NoHost).expect_err("stopped");
    let elapsed = started.elapsed();
    setter.join().unwrap();
    INTERRUPTED.store(false, Ordering::Relaxed);
    assert!(error.message.contains("being killed"), "{}", error.message);
    // The whole budget takes seconds in a debug build; the interrupt ends it first.
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}
