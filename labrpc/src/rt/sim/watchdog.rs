//! The wall-clock watchdog of every world in the process: a world whose
//! running thread stays away from the facade too long (blocked in
//! something the simulation cannot see, or spinning), or that runs too
//! long in all, ends the process with a report.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock, Weak};
use std::thread as std_thread;
use std::time::{Duration, Instant as WallInstant};

use parking_lot::Mutex;

use super::world::World;

/// The wall time a thread may run without a facade call.
pub(super) const STALL: Duration = Duration::from_secs(5);

/// The wall time a world may run in all.
const WALL_LIMIT: Duration = Duration::from_secs(300);

/// A world under watch: the steps it had taken when last looked at, and
/// since when.
struct Watched {
    world: Weak<World>,
    steps: u64,
    since: WallInstant,
}

static WORLDS: Mutex<Vec<Watched>> = Mutex::new(Vec::new());

/// Watches `world` until [`unwatch`].
pub(super) fn watch(world: &Arc<World>) {
    static STARTED: OnceLock<()> = OnceLock::new();
    WORLDS.lock().push(Watched {
        world: Arc::downgrade(world),
        steps: u64::MAX,
        since: WallInstant::now(),
    });
    STARTED.get_or_init(|| {
        std_thread::Builder::new()
            .name("sim-watchdog".into())
            .spawn(patrol)
            .expect("cannot start the simulation's watchdog");
    });
}

/// Stops watching `world`.
pub(super) fn unwatch(world: &Arc<World>) {
    WORLDS
        .lock()
        .retain(|w| w.world.upgrade().is_some_and(|w| !Arc::ptr_eq(&w, world)));
}

fn patrol() {
    loop {
        std_thread::sleep(Duration::from_millis(250));
        let mut worlds = WORLDS.lock();
        worlds.retain(|w| w.world.strong_count() > 0);
        for watched in worlds.iter_mut() {
            let Some(world) = watched.world.upgrade() else {
                continue;
            };
            if world.is_dead() {
                continue;
            }
            let steps = world.steps.load(Ordering::Relaxed);
            if steps != watched.steps || world.outside.load(Ordering::Relaxed) {
                watched.steps = steps;
                watched.since = WallInstant::now();
                if world.started_wall.elapsed() > WALL_LIMIT {
                    stop(
                        &world,
                        format!(
                            "the simulation ran for more than {} s of wall time (at {} of \
                             virtual time): something burns CPU without end.",
                            WALL_LIMIT.as_secs(),
                            world.now()
                        ),
                    );
                }
                continue;
            }
            if watched.since.elapsed() > STALL {
                stop(&world, world.stall_report());
            }
        }
    }
}

/// A thread that never comes back to the facade cannot be made to fail
/// its test: the only way to end the run is to end the process.
fn stop(world: &World, report: String) -> ! {
    crate::record::stop_process(
        "sim-watchdog",
        &format!(
            "\n{report}\n  replay: {}\nstopping the test process.",
            world.replay
        ),
    );
}
