//! What a key/value test costs in simulation: wall time, virtual time and
//! client operations of two 3A tests' scenarios (`basic_3a`, and
//! `persist_one_client_3a` with its crashes), the suite's own
//! `generic_test` run in a world of seed 1.
//!
//! Run with `cargo bench -p tests --bench sim` (CI prints it). The
//! simulator's cost per hand-off, spawn and RPC is
//! `cargo bench -p labrpc --bench sim`; `LAB_SIM_STATS=1` in the
//! environment adds each world's steps, switches and busiest call sites.

#[path = "../tests/kv/generic.rs"]
#[expect(
    dead_code,
    reason = "the suite's module, of which the benchmark runs generic_test alone"
)]
mod generic;

use std::time::Instant as WallInstant;

use generic::{Setup, generic_test};
use labrpc::rt::sim::{self, Policy, ScheduleCheck, Settings};
use labrpc::rt::time::Instant;
use tests::support::TEST_LIMIT;

fn main() {
    // `cargo bench` passes flags such as `--bench`; there is nothing to choose.
    println!("key/value tests in simulation (seed 1)");
    println!("{:<24} {:>12} {:>14}", "test", "wall s", "virtual s");
    let cases = [
        (
            "basic_3a",
            Setup {
                clients: 1,
                servers: 5,
                ..Setup::default()
            },
        ),
        (
            "persist_one_client_3a",
            Setup {
                clients: 1,
                servers: 5,
                crash: true,
                ..Setup::default()
            },
        ),
    ];
    for (name, setup) in cases {
        let settings = Settings {
            seed: 1,
            policy: Policy::Random,
            limit: TEST_LIMIT,
            replay: format!("cargo bench -p tests --bench sim ({name})"),
            node: "tester".into(),
            schedule: ScheduleCheck::Off,
        };
        let wall = WallInstant::now();
        let (virtual_time, _) = sim::run(settings, || {
            let start = Instant::now();
            generic_test("3A", setup);
            start.elapsed()
        });
        println!(
            "{name:<24} {:>12.2} {:>14.1}",
            wall.elapsed().as_secs_f64(),
            virtual_time.as_secs_f64()
        );
    }
}
