//! Recording a world's schedule, and comparing a second run of its seed
//! with it step by step (`LAB_CHECK_DETERMINISM`).

use std::fmt::Write as _;
use std::panic::Location;
use std::sync::Arc;

use super::Tid;
use super::clock::VirtualTime;
use super::world::State;

/// What a world does with its schedule.
#[derive(Clone, Debug, Default)]
pub enum ScheduleCheck {
    /// Nothing.
    #[default]
    Off,
    /// Records every step, to compare a later run with.
    Record,
    /// Compares every step with a recorded schedule and dies at the first
    /// difference.
    Compare(Arc<Schedule>),
}

/// A world's schedule: at each step, who ran and from where.
#[derive(Debug, Default)]
pub struct Schedule {
    steps: Vec<Step>,
    /// Each thread's name, by thread number.
    names: Vec<String>,
}

/// One step of a schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Step {
    tid: Tid,
    site: &'static Location<'static>,
    at: VirtualTime,
}

impl Schedule {
    /// The number of steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether no step was taken.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    fn name(&self, tid: Tid) -> &str {
        self.names.get(tid).map_or("?", String::as_str)
    }

    fn describe(&self, step: &Step) -> String {
        format!(
            "thread '{}' (#{}) at {}, time {}",
            self.name(step.tid),
            step.tid,
            step.site,
            step.at
        )
    }
}

/// A world's schedule check under way.
pub(super) enum ScheduleState {
    Off,
    Record(Schedule),
    Compare(Arc<Schedule>),
}

impl From<ScheduleCheck> for ScheduleState {
    fn from(check: ScheduleCheck) -> ScheduleState {
        match check {
            ScheduleCheck::Off => ScheduleState::Off,
            ScheduleCheck::Record => ScheduleState::Record(Schedule::default()),
            ScheduleCheck::Compare(schedule) => ScheduleState::Compare(schedule),
        }
    }
}

impl State {
    /// Records or compares the step thread `tid` takes at `site` now; a
    /// report when it differs from the recorded one.
    pub(super) fn check_step(
        &mut self,
        tid: Tid,
        site: &'static Location<'static>,
    ) -> Option<String> {
        let index = self.step as usize;
        let step = Step {
            tid,
            site,
            at: self.now,
        };
        match &mut self.check {
            ScheduleState::Off => None,
            ScheduleState::Record(schedule) => {
                schedule.steps.push(step);
                if schedule.names.len() <= tid {
                    schedule.names.resize(tid + 1, String::new());
                }
                if schedule.names[tid].is_empty() {
                    schedule.names[tid] = self.threads[tid]
                        .as_ref()
                        .map_or_else(String::new, |t| t.name.clone());
                }
                None
            }
            ScheduleState::Compare(schedule) => {
                let expected = schedule.steps.get(index);
                if expected == Some(&step) {
                    return None;
                }
                let first = match expected {
                    Some(expected) => schedule.describe(expected),
                    None => "nothing: the first run had ended".to_owned(),
                };
                let mut before = String::new();
                let from = index.saturating_sub(8);
                for (k, earlier) in schedule.steps[from..index].iter().enumerate() {
                    let _ = write!(
                        before,
                        "\n    step {}: {}",
                        from + k,
                        schedule.describe(earlier)
                    );
                }
                let name = self.threads[tid].as_ref().map_or("?", |t| t.name.as_str());
                Some(format!(
                    "nondeterminism: the two runs of this seed differ at step {index}.\n  \
                     first run: {first}\n  second run: thread '{name}' (#{tid}) at {site}, \
                     time {}\n  the steps before, the same in both runs:{before}\n\
                     Something outside the facade decided what happened: a \
                     std/parking_lot/crossbeam primitive, the real clock, an unseeded \
                     random number, or HashMap iteration order.",
                    self.now
                ))
            }
        }
    }
}
