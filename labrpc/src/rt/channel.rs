//! Channels: the part of `crossbeam-channel` the labs use, simulated when
//! the caller is.
//!
//! [`bounded`] (including zero capacity, where a send waits for a receiver)
//! and [`unbounded`] channels, [`Sender`] and [`Receiver`] with `send`,
//! `try_send`, `recv`, `try_recv`, `recv_timeout`, disconnection when every
//! handle of the other side is gone, and the [`select!`](crate::select)
//! macro with `recv`, `send`, `default` and `default(timeout)` arms. Errors
//! are crossbeam's own types.
//!
//! A channel made in a simulated world is a simulated channel: each
//! operation is a scheduling point, a thread that waits does so in the
//! scheduler, and when several arms of a `select!` are ready the world's
//! seeded generator picks one. A channel made anywhere else is a crossbeam
//! channel, used directly. The two must not meet: a channel belongs to the
//! world (or the real time) it was made in, and sending or receiving on it
//! elsewhere panics (`len` and `is_empty` only look, and do not check).
//!
//! One difference from crossbeam: the message of a `send` arm is evaluated
//! before `select!` waits, and dropped if another arm is chosen (crossbeam
//! evaluates it only once its arm is chosen). Write the arm's message as a
//! value, not as an expression with side effects.

use std::collections::VecDeque;
use std::fmt;
use std::panic::{self, AssertUnwindSafe, Location};
use std::sync::Arc;

use crossbeam_channel as cb;
use parking_lot::Mutex as Plain;

use super::sim::{self, Here, Op, Tid, Wake};
use super::time::Duration;

pub use crate::select;
pub use crossbeam_channel::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};

/// A channel of capacity `cap`; with `cap == 0`, each send waits for a
/// receiver to take the message.
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    if sim::here().is_some() {
        simulated(Some(cap))
    } else {
        let (s, r) = cb::bounded(cap);
        (Sender(Flavor::Real(s)), Receiver(Flavor::Real(r)))
    }
}

/// A channel without a bound: sends never wait.
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    if sim::here().is_some() {
        simulated(None)
    } else {
        let (s, r) = cb::unbounded();
        (Sender(Flavor::Real(s)), Receiver(Flavor::Real(r)))
    }
}

fn simulated<T>(cap: Option<usize>) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan {
        id: sim::new_object_id(),
        state: Plain::new(State {
            queue: VecDeque::new(),
            cap,
            senders: 1,
            receivers: 1,
            waiting_receivers: Vec::new(),
            offers: VecDeque::new(),
            handed: Vec::new(),
        }),
    });
    (
        Sender(Flavor::Sim(Arc::clone(&chan))),
        Receiver(Flavor::Sim(chan)),
    )
}

/// A simulated channel.
struct Chan<T> {
    id: u64,
    state: Plain<State<T>>,
}

struct State<T> {
    queue: VecDeque<T>,
    /// `None`: unbounded.
    cap: Option<usize>,
    senders: usize,
    receivers: usize,
    /// Zero capacity: receivers waiting in the scheduler on this channel.
    waiting_receivers: Vec<Tid>,
    /// Zero capacity: the messages of senders waiting on this channel.
    offers: VecDeque<(Tid, T)>,
    /// Zero capacity: messages handed straight to a waiting receiver.
    handed: Vec<(Tid, T)>,
}

impl<T> State<T> {
    fn rendezvous(&self) -> bool {
        self.cap == Some(0)
    }

    fn handed_to(&self, tid: Tid) -> Option<usize> {
        self.handed.iter().position(|&(t, _)| t == tid)
    }

    /// A receiver that waits on this channel now and has been handed
    /// nothing yet.
    fn idle_receiver(&self, here: &Here) -> Option<Tid> {
        self.waiting_receivers
            .iter()
            .copied()
            .find(|&r| here.world.is_waiting(r) && self.handed_to(r).is_none())
    }
}

enum Flavor<R, S> {
    Real(R),
    Sim(S),
}

/// The sending side of a channel. Cloning it adds a sender; the channel is
/// disconnected for receivers once every sender is dropped.
pub struct Sender<T>(Flavor<cb::Sender<T>, Arc<Chan<T>>>);

/// The receiving side of a channel. Cloning it adds a receiver; the channel
/// is disconnected for senders once every receiver is dropped.
pub struct Receiver<T>(Flavor<cb::Receiver<T>, Arc<Chan<T>>>);

#[track_caller]
fn no_real_channel_here() {
    assert!(
        sim::here().is_none(),
        "a channel made outside the simulated world is used inside it; make it in the world"
    );
}

impl<T> Sender<T> {
    /// Sends `msg`, waiting for room (or, at zero capacity, for a receiver).
    ///
    /// # Errors
    /// When every receiver is gone; the message comes back.
    #[track_caller]
    pub fn send(&self, msg: T) -> Result<(), SendError<T>> {
        match &self.0 {
            Flavor::Real(s) => {
                no_real_channel_here();
                s.send(msg)
            }
            Flavor::Sim(_) => {
                let mut arm = SendArm::new(self, msg);
                __select(&mut [&mut arm], __Timeout::Never);
                arm.__take()
            }
        }
    }

    /// Sends `msg` only if that needs no waiting.
    ///
    /// # Errors
    /// `Full` when there is no room (or no receiver waiting, at zero
    /// capacity), `Disconnected` when every receiver is gone.
    #[track_caller]
    pub fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        match &self.0 {
            Flavor::Real(s) => {
                no_real_channel_here();
                s.try_send(msg)
            }
            Flavor::Sim(_) => {
                let mut arm = SendArm::new(self, msg);
                match __select(&mut [&mut arm], __Timeout::Now) {
                    Some(_) => arm
                        .__take()
                        .map_err(|SendError(m)| TrySendError::Disconnected(m)),
                    None => Err(TrySendError::Full(
                        arm.value.take().expect("an unsent message is kept"),
                    )),
                }
            }
        }
    }

    /// Sends `msg`, waiting at most `timeout` for room.
    ///
    /// # Errors
    /// `Timeout` when time ran out, `Disconnected` when every receiver is
    /// gone; the message comes back either way.
    #[track_caller]
    pub fn send_timeout(&self, msg: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        match &self.0 {
            Flavor::Real(s) => {
                no_real_channel_here();
                s.send_timeout(msg, timeout)
            }
            Flavor::Sim(_) => {
                let mut arm = SendArm::new(self, msg);
                match __select(&mut [&mut arm], __Timeout::After(timeout)) {
                    Some(_) => arm
                        .__take()
                        .map_err(|SendError(m)| SendTimeoutError::Disconnected(m)),
                    None => Err(SendTimeoutError::Timeout(
                        arm.value.take().expect("an unsent message is kept"),
                    )),
                }
            }
        }
    }

    /// How many messages wait in the channel.
    pub fn len(&self) -> usize {
        match &self.0 {
            Flavor::Real(s) => s.len(),
            Flavor::Sim(chan) => chan.state.lock().queue.len(),
        }
    }

    /// Whether no message waits in the channel.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Receiver<T> {
    /// Waits for a message.
    ///
    /// # Errors
    /// When the channel is empty and every sender is gone.
    #[track_caller]
    pub fn recv(&self) -> Result<T, RecvError> {
        match &self.0 {
            Flavor::Real(r) => {
                no_real_channel_here();
                r.recv()
            }
            Flavor::Sim(_) => {
                let mut arm = RecvArm::new(self);
                __select(&mut [&mut arm], __Timeout::Never);
                arm.__take()
            }
        }
    }

    /// Takes a message if one is there.
    ///
    /// # Errors
    /// `Empty` when there is none, `Disconnected` when there is none and
    /// every sender is gone.
    #[track_caller]
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        match &self.0 {
            Flavor::Real(r) => {
                no_real_channel_here();
                r.try_recv()
            }
            Flavor::Sim(_) => {
                let mut arm = RecvArm::new(self);
                match __select(&mut [&mut arm], __Timeout::Now) {
                    Some(_) => arm.__take().map_err(|RecvError| TryRecvError::Disconnected),
                    None => Err(TryRecvError::Empty),
                }
            }
        }
    }

    /// Waits at most `timeout` for a message.
    ///
    /// # Errors
    /// `Timeout` when time ran out, `Disconnected` when the channel is empty
    /// and every sender is gone.
    #[track_caller]
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        match &self.0 {
            Flavor::Real(r) => {
                no_real_channel_here();
                r.recv_timeout(timeout)
            }
            Flavor::Sim(_) => {
                let mut arm = RecvArm::new(self);
                match __select(&mut [&mut arm], __Timeout::After(timeout)) {
                    Some(_) => arm
                        .__take()
                        .map_err(|RecvError| RecvTimeoutError::Disconnected),
                    None => Err(RecvTimeoutError::Timeout),
                }
            }
        }
    }

    /// How many messages wait in the channel.
    pub fn len(&self) -> usize {
        match &self.0 {
            Flavor::Real(r) => r.len(),
            Flavor::Sim(chan) => chan.state.lock().queue.len(),
        }
    }

    /// Whether no message waits in the channel.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        match &self.0 {
            Flavor::Real(s) => Sender(Flavor::Real(s.clone())),
            Flavor::Sim(chan) => {
                chan.state.lock().senders += 1;
                Sender(Flavor::Sim(Arc::clone(chan)))
            }
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        match &self.0 {
            Flavor::Real(r) => Receiver(Flavor::Real(r.clone())),
            Flavor::Sim(chan) => {
                chan.state.lock().receivers += 1;
                Receiver(Flavor::Sim(Arc::clone(chan)))
            }
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let Flavor::Sim(chan) = &self.0 {
            let last = {
                let mut state = chan.state.lock();
                state.senders -= 1;
                state.senders == 0
            };
            if last && let Some(here) = sim::here() {
                here.world.notify(chan.id);
            }
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if let Flavor::Sim(chan) = &self.0 {
            let last = {
                let mut state = chan.state.lock();
                state.receivers -= 1;
                state.receivers == 0
            };
            if last && let Some(here) = sim::here() {
                here.world.notify(chan.id);
            }
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sender { .. }")
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Receiver { .. }")
    }
}

/// How long a select may wait. Used by [`select!`](crate::select).
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub enum __Timeout {
    /// Until an arm is ready.
    Never,
    /// Not at all (a `default` arm).
    Now,
    /// At most this long (a `default(timeout)` arm).
    After(Duration),
}

/// One arm of a select, whatever its channel's message type. Used by
/// [`select!`](crate::select).
#[doc(hidden)]
pub trait __Arm<'a> {
    /// Whether the arm's channel is simulated.
    fn is_sim(&self) -> bool;
    /// A receive or a send, for reports.
    fn kind(&self) -> Op;
    /// Adds the arm to a crossbeam select.
    fn register_real(&self, select: &mut cb::Select<'a>);
    /// Completes the arm that a crossbeam select chose.
    fn complete_real(&mut self, operation: cb::SelectedOperation<'_>);
    /// Whether the operation can complete now (an error counts).
    fn sim_ready(&self, here: &Here) -> bool;
    /// Completes the operation, which is ready.
    fn sim_complete(&mut self, here: &Here);
    /// Before waiting: registers with the channel; returns its id.
    fn sim_begin_wait(&mut self, here: &Here) -> u64;
    /// After waiting: unregisters; whether another thread completed the
    /// operation meanwhile (a zero-capacity hand-over).
    fn sim_end_wait(&mut self, here: &Here) -> bool;
}

/// A `recv` arm. Used by [`select!`](crate::select).
#[doc(hidden)]
pub struct __RecvArm<'a, T> {
    receiver: &'a Receiver<T>,
    got: Option<Result<T, RecvError>>,
}

use __RecvArm as RecvArm;
use __SendArm as SendArm;

impl<'a, T> __RecvArm<'a, T> {
    /// An arm receiving from `receiver`.
    pub fn new(receiver: &'a Receiver<T>) -> Self {
        __RecvArm {
            receiver,
            got: None,
        }
    }

    /// The outcome of the chosen arm.
    pub fn __take(&mut self) -> Result<T, RecvError> {
        self.got.take().expect("the chosen arm has completed")
    }

    fn chan(&self) -> &'a Chan<T> {
        match &self.receiver.0 {
            Flavor::Sim(chan) => chan,
            Flavor::Real(_) => unreachable!("checked by __select"),
        }
    }
}

impl<'a, T> __Arm<'a> for __RecvArm<'a, T> {
    fn is_sim(&self) -> bool {
        matches!(self.receiver.0, Flavor::Sim(_))
    }

    fn kind(&self) -> Op {
        Op::Recv
    }

    fn register_real(&self, select: &mut cb::Select<'a>) {
        let receiver: &'a Receiver<T> = self.receiver;
        if let Flavor::Real(r) = &receiver.0 {
            select.recv(r);
        }
    }

    fn complete_real(&mut self, operation: cb::SelectedOperation<'_>) {
        if let Flavor::Real(r) = &self.receiver.0 {
            self.got = Some(operation.recv(r));
        }
    }

    fn sim_ready(&self, here: &Here) -> bool {
        let state = self.chan().state.lock();
        state.handed_to(here.tid).is_some()
            || !state.queue.is_empty()
            || !state.offers.is_empty()
            || state.senders == 0
    }

    fn sim_complete(&mut self, here: &Here) {
        let chan = self.chan();
        let mut state = chan.state.lock();
        self.got = Some(if let Some(i) = state.handed_to(here.tid) {
            Ok(state.handed.swap_remove(i).1)
        } else if let Some(msg) = state.queue.pop_front() {
            // Room for a waiting sender.
            here.world.notify(chan.id);
            Ok(msg)
        } else if let Some((sender, msg)) = state.offers.pop_front() {
            here.world.wake(sender);
            Ok(msg)
        } else {
            Err(RecvError)
        });
    }

    fn sim_begin_wait(&mut self, here: &Here) -> u64 {
        let chan = self.chan();
        let mut state = chan.state.lock();
        if state.rendezvous() {
            state.waiting_receivers.push(here.tid);
        }
        chan.id
    }

    fn sim_end_wait(&mut self, here: &Here) -> bool {
        let mut state = self.chan().state.lock();
        state.waiting_receivers.retain(|&t| t != here.tid);
        match state.handed_to(here.tid) {
            Some(i) => {
                self.got = Some(Ok(state.handed.swap_remove(i).1));
                true
            }
            None => false,
        }
    }
}

/// A `send` arm. Used by [`select!`](crate::select).
#[doc(hidden)]
pub struct __SendArm<'a, T> {
    sender: &'a Sender<T>,
    value: Option<T>,
    result: Option<Result<(), SendError<T>>>,
}

impl<'a, T> __SendArm<'a, T> {
    /// An arm sending `value` on `sender`.
    pub fn new(sender: &'a Sender<T>, value: T) -> Self {
        __SendArm {
            sender,
            value: Some(value),
            result: None,
        }
    }

    /// The outcome of the chosen arm.
    pub fn __take(&mut self) -> Result<(), SendError<T>> {
        self.result.take().expect("the chosen arm has completed")
    }

    fn chan(&self) -> &'a Chan<T> {
        match &self.sender.0 {
            Flavor::Sim(chan) => chan,
            Flavor::Real(_) => unreachable!("checked by __select"),
        }
    }
}

impl<'a, T> __Arm<'a> for __SendArm<'a, T> {
    fn is_sim(&self) -> bool {
        matches!(self.sender.0, Flavor::Sim(_))
    }

    fn kind(&self) -> Op {
        Op::Send
    }

    fn register_real(&self, select: &mut cb::Select<'a>) {
        let sender: &'a Sender<T> = self.sender;
        if let Flavor::Real(s) = &sender.0 {
            select.send(s);
        }
    }

    fn complete_real(&mut self, operation: cb::SelectedOperation<'_>) {
        if let Flavor::Real(s) = &self.sender.0 {
            let value = self.value.take().expect("a send arm has its message");
            self.result = Some(operation.send(s, value));
        }
    }

    fn sim_ready(&self, here: &Here) -> bool {
        let state = self.chan().state.lock();
        state.receivers == 0
            || match state.cap {
                None => true,
                Some(0) => state.idle_receiver(here).is_some(),
                Some(cap) => state.queue.len() < cap,
            }
    }

    fn sim_complete(&mut self, here: &Here) {
        let chan = self.chan();
        let mut state = chan.state.lock();
        let value = self.value.take().expect("a send arm has its message");
        if state.receivers == 0 {
            self.result = Some(Err(SendError(value)));
            return;
        }
        if state.rendezvous() {
            let receiver = state
                .idle_receiver(here)
                .expect("a ready zero-capacity send has a receiver");
            state.handed.push((receiver, value));
            here.world.wake(receiver);
        } else {
            state.queue.push_back(value);
            here.world.notify(chan.id);
        }
        self.result = Some(Ok(()));
    }

    fn sim_begin_wait(&mut self, here: &Here) -> u64 {
        let chan = self.chan();
        let mut state = chan.state.lock();
        if state.rendezvous() {
            let value = self.value.take().expect("a send arm has its message");
            state.offers.push_back((here.tid, value));
        }
        chan.id
    }

    fn sim_end_wait(&mut self, here: &Here) -> bool {
        let mut state = self.chan().state.lock();
        if !state.rendezvous() {
            return false;
        }
        match state.offers.iter().position(|&(t, _)| t == here.tid) {
            Some(i) => {
                let (_, value) = state.offers.remove(i).expect("i is in range");
                self.value = Some(value);
                false
            }
            None => {
                // A receiver took the offer.
                self.result = Some(Ok(()));
                true
            }
        }
    }
}

/// Waits until one of `arms` completes, or as `timeout` allows; the index
/// of the arm that completed. Used by [`select!`](crate::select).
///
/// # Panics
/// When real and simulated channels are mixed, or used on the wrong side.
#[doc(hidden)]
#[track_caller]
pub fn __select<'a>(arms: &mut [&mut dyn __Arm<'a>], timeout: __Timeout) -> Option<usize> {
    let simulated = arms.iter().filter(|a| a.is_sim()).count();
    match sim::here() {
        None => {
            assert!(
                simulated == 0,
                "a channel of a simulated world is used outside it"
            );
            select_real(arms, timeout)
        }
        Some(here) => {
            assert!(
                simulated == arms.len(),
                "a channel made outside the simulated world is used inside it; make it in the world"
            );
            select_sim(&here, arms, timeout, Location::caller())
        }
    }
}

fn select_real<'a>(arms: &mut [&mut dyn __Arm<'a>], timeout: __Timeout) -> Option<usize> {
    let mut select = cb::Select::new();
    for arm in arms.iter() {
        arm.register_real(&mut select);
    }
    let operation = match timeout {
        __Timeout::Never => select.select(),
        __Timeout::Now => select.try_select().ok()?,
        __Timeout::After(timeout) => select.select_timeout(timeout).ok()?,
    };
    let index = operation.index();
    arms[index].complete_real(operation);
    Some(index)
}

fn select_sim(
    here: &Here,
    arms: &mut [&mut dyn __Arm<'_>],
    timeout: __Timeout,
    site: &'static Location<'static>,
) -> Option<usize> {
    let what = match arms {
        [only] => only.kind(),
        _ => Op::Select,
    };
    let world = &here.world;
    let deadline = match timeout {
        __Timeout::After(timeout) => Some(world.now().after(timeout)),
        _ => None,
    };
    // Every call is one scheduling point: a wait when it must wait, else a
    // step before it completes (after which the arms are looked at again,
    // since other threads may have run).
    let mut stepped = false;
    loop {
        let ready: Vec<usize> = (0..arms.len())
            .filter(|&i| arms[i].sim_ready(here))
            .collect();
        if !stepped && (!ready.is_empty() || matches!(timeout, __Timeout::Now)) {
            world.step_at(here.tid, site, what);
            stepped = true;
            continue;
        }
        if !ready.is_empty() {
            let chosen = match ready[..] {
                [only] => only,
                _ => ready[world.random_below(ready.len())],
            };
            arms[chosen].sim_complete(here);
            return Some(chosen);
        }
        match (timeout, deadline) {
            (__Timeout::Now, _) => return None,
            (_, Some(deadline)) if world.now() >= deadline => return None,
            _ => {}
        }
        let objects: Vec<u64> = arms.iter_mut().map(|a| a.sim_begin_wait(here)).collect();
        // Unregister even when this thread is killed while it waits.
        let waited = panic::catch_unwind(AssertUnwindSafe(|| {
            world.wait(here.tid, site, what, &objects, deadline)
        }));
        stepped = true;
        let mut completed = None;
        for (i, arm) in arms.iter_mut().enumerate() {
            if arm.sim_end_wait(here) {
                completed.get_or_insert(i);
            }
        }
        match waited {
            Err(payload) => panic::resume_unwind(payload),
            Ok(_) if completed.is_some() => return completed,
            Ok(Wake::Timeout) => return None,
            Ok(Wake::Notified) => {}
        }
    }
}

/// Waits on several channel operations and runs the arm of the one that
/// completes, as `crossbeam_channel::select!`:
///
/// ```
/// use labrpc::rt::channel::{self, RecvError};
/// use labrpc::rt::time::Duration;
/// use labrpc::select;
///
/// let (tx, rx) = channel::bounded::<u32>(1);
/// let (_stop_tx, stop) = channel::bounded::<()>(0);
/// tx.send(7).unwrap();
/// let got = select! {
///     recv(rx) -> msg => msg,
///     recv(stop) -> _ => Err(RecvError),
///     default(Duration::from_millis(10)) => Err(RecvError),
/// };
/// assert_eq!(got, Ok(7));
/// ```
///
/// Arms: `recv(receiver) -> pattern => body`, `send(sender, message) ->
/// pattern => body`, and at most one of `default => body` (do not wait) and
/// `default(timeout) => body` (wait at most that long). When several
/// operations are ready, one is chosen at random (in a simulation, by the
/// world's seeded generator). At most twelve operation arms.
#[macro_export]
macro_rules! select {
    ($($tokens:tt)*) => {
        $crate::__select_parse!(
            [] []
            [__arm0 __arm1 __arm2 __arm3 __arm4 __arm5 __arm6 __arm7 __arm8 __arm9 __arm10 __arm11]
            [0 1 2 3 4 5 6 7 8 9 10 11]
            $($tokens)*
        )
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    // recv
    ([$($ops:tt)*] [$($def:tt)*] [$n:ident $($ns:ident)*] [$i:tt $($is:tt)*]
        recv($r:expr) -> $p:pat => $body:block, $($rest:tt)*) => {
        $crate::__select_parse!([$($ops)* (recv $n $i [$r] [] [$p] [$body])] [$($def)*] [$($ns)*] [$($is)*] $($rest)*)
    };
    ([$($ops:tt)*] [$($def:tt)*] [$n:ident $($ns:ident)*] [$i:tt $($is:tt)*]
        recv($r:expr) -> $p:pat => $body:block $($rest:tt)*) => {
        $crate::__select_parse!([$($ops)* (recv $n $i [$r] [] [$p] [$body])] [$($def)*] [$($ns)*] [$($is)*] $($rest)*)
    };
    ([$($ops:tt)*] [$($def:tt)*] [$n:ident $($ns:ident)*] [$i:tt $($is:tt)*]
        recv($r:expr) -> $p:pat => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!([$($ops)* (recv $n $i [$r] [] [$p] [$body])] [$($def)*] [$($ns)*] [$($is)*] $($rest)*)
    };
    ([$($ops:tt)*] [$($def:tt)*] [$n:ident $($ns:ident)*] [$i:tt $($is:tt)*]
        recv($r:expr) -> $p:pat => $body:expr) => {
        $crate::__select_parse!([$($ops)* (recv $n $i [$r] [] [$p] [$body])] [$($def)*] [$($ns)*] [$($is)*])
    };
    // send
    ([$($ops:tt)*] [$($def:tt)*] [$n:ident $($ns:ident)*] [$i:tt $($is:tt)*]
        send($s:expr, $m:expr) -> $p:pat => $body:block, $($rest:tt)*) => {
        $crate::__select_parse!([$($ops)* (send $n $i [$s] [$m] [$p] [$body])] [$($def)*] [$($ns)*] [$($is)*] $($rest)*)
    };
    ([$($ops:tt)*] [$($def:tt)*] [$n:ident $($ns:ident)*] [$i:tt $($is:tt)*]
        send($s:expr, $m:expr) -> $p:pat => $body:block $($rest:tt)*) => {
        $crate::__select_parse!([$($ops)* (send $n $i [$s] [$m] [$p] [$body])] [$($def)*] [$($ns)*] [$($is)*] $($rest)*)
    };
    ([$($ops:tt)*] [$($def:tt)*] [$n:ident $($ns:ident)*] [$i:tt $($is:tt)*]
        send($s:expr, $m:expr) -> $p:pat => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!([$($ops)* (send $n $i [$s] [$m] [$p] [$body])] [$($def)*] [$($ns)*] [$($is)*] $($rest)*)
    };
    ([$($ops:tt)*] [$($def:tt)*] [$n:ident $($ns:ident)*] [$i:tt $($is:tt)*]
        send($s:expr, $m:expr) -> $p:pat => $body:expr) => {
        $crate::__select_parse!([$($ops)* (send $n $i [$s] [$m] [$p] [$body])] [$($def)*] [$($ns)*] [$($is)*])
    };
    // default, at most once
    ([$($ops:tt)*] [] [$($ns:ident)*] [$($is:tt)*] default => $body:block, $($rest:tt)*) => {
        $crate::__select_parse!([$($ops)*] [now [$body]] [$($ns)*] [$($is)*] $($rest)*)
    };
    ([$($ops:tt)*] [] [$($ns:ident)*] [$($is:tt)*] default => $body:block $($rest:tt)*) => {
        $crate::__select_parse!([$($ops)*] [now [$body]] [$($ns)*] [$($is)*] $($rest)*)
    };
    ([$($ops:tt)*] [] [$($ns:ident)*] [$($is:tt)*] default => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!([$($ops)*] [now [$body]] [$($ns)*] [$($is)*] $($rest)*)
    };
    ([$($ops:tt)*] [] [$($ns:ident)*] [$($is:tt)*] default => $body:expr) => {
        $crate::__select_parse!([$($ops)*] [now [$body]] [$($ns)*] [$($is)*])
    };
    ([$($ops:tt)*] [] [$($ns:ident)*] [$($is:tt)*] default($t:expr) => $body:block, $($rest:tt)*) => {
        $crate::__select_parse!([$($ops)*] [after [$t] [$body]] [$($ns)*] [$($is)*] $($rest)*)
    };
    ([$($ops:tt)*] [] [$($ns:ident)*] [$($is:tt)*] default($t:expr) => $body:block $($rest:tt)*) => {
        $crate::__select_parse!([$($ops)*] [after [$t] [$body]] [$($ns)*] [$($is)*] $($rest)*)
    };
    ([$($ops:tt)*] [] [$($ns:ident)*] [$($is:tt)*] default($t:expr) => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!([$($ops)*] [after [$t] [$body]] [$($ns)*] [$($is)*] $($rest)*)
    };
    ([$($ops:tt)*] [] [$($ns:ident)*] [$($is:tt)*] default($t:expr) => $body:expr) => {
        $crate::__select_parse!([$($ops)*] [after [$t] [$body]] [$($ns)*] [$($is)*])
    };
    // the end
    ([$($ops:tt)*] [$($def:tt)*] [$($ns:ident)*] [$($is:tt)*]) => {
        $crate::__select_emit!([$($ops)*] [$($def)*])
    };
    ($($other:tt)*) => {
        ::core::compile_error!(
            "select!: expected arms `recv(r) -> pat => body`, `send(s, msg) -> pat => body`, \
             and at most one `default => body` or `default(timeout) => body`, at most 12 operations"
        )
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_emit {
    ([$(($kind:ident $n:ident $i:tt [$($a:tt)*] [$($b:tt)*] [$($p:tt)*] [$($body:tt)*]))*] [$($def:tt)*]) => {{
        $( $crate::__select_arm!(@declare $kind $n [$($a)*] [$($b)*]); )*
        let __chosen = $crate::rt::channel::__select(
            &mut [ $( &mut $n as &mut dyn $crate::rt::channel::__Arm<'_> ),* ],
            $crate::__select_arm!(@timeout $($def)*),
        );
        match __chosen {
            $( ::core::option::Option::Some($i) => {
                let $($p)* = $n.__take();
                $($body)*
            } )*
            _ => $crate::__select_arm!(@default $($def)*),
        }
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_arm {
    (@declare recv $n:ident [$($r:tt)*] []) => {
        let mut $n = $crate::rt::channel::__RecvArm::new(&$($r)*);
    };
    (@declare send $n:ident [$($s:tt)*] [$($m:tt)*]) => {
        let mut $n = $crate::rt::channel::__SendArm::new(&$($s)*, $($m)*);
    };
    (@timeout) => { $crate::rt::channel::__Timeout::Never };
    (@timeout now [$($body:tt)*]) => { $crate::rt::channel::__Timeout::Now };
    (@timeout after [$($t:tt)*] [$($body:tt)*]) => {
        $crate::rt::channel::__Timeout::After($($t)*)
    };
    (@default) => { ::core::unreachable!("a select! without a default arm waits for an operation") };
    (@default now [$($body:tt)*]) => { $($body)* };
    (@default after [$($t:tt)*] [$($body:tt)*]) => { $($body)* };
}
