//! An emulated network for RPC between threads, and a [`Persister`], for
//! labs in which Raft peers and their clients talk over a network that loses,
//! delays and reorders messages, and whose servers crash.
//!
//! Everything lives in one process. A [`Network`] joins [`ClientEnd`]s to
//! [`Server`]s; a server hosts [`Service`]s; a service has one handler per
//! [`Method`]. The tester builds and rewires the network; Raft peers and
//! clients only ever [`call`](ClientEnd::call) through the ends they are given
//! (a [`Client`], for services of many groups, gives its owner an end to any
//! server by name).
//!
//! # Map
//!
//! Three parts, a directory each:
//!
//! | part | what it holds | used by |
//! |---|---|---|
//! | the network (`net/`) | [`Network`], [`ClientEnd`], [`Client`], [`Server`], [`Service`], [`Method`], the message [`codec`] and the [`Persister`] | lab code and the testers |
//! | the runtime and the simulator ([`rt`]) | the facade: [`rt::thread`], [`rt::time`], [`rt::sync`], [`rt::channel`], [`rt::rand`] and [`select!`]; and [`rt::sim`], the simulated world a test runs in | lab code (the facade); the harness (`sim`) |
//! | the lab's contract (`contract/`) | the parts, limits and environment variables ([`lab`]), a run's seed ([`seed`]), the run record and the grader's verdict ([`record`]), the log-line grammar ([`trace`]) | the harness and the tools |
//!
//! Lab code needs only the `use` lines its docs show: the network's types
//! at the crate's root, the facade under `labrpc::rt`.
//!
//! # The contract of `call`
//!
//! `end.call(METHOD, &args)` sends an RPC and waits for the reply.
//!
//! * `Ok(reply)`: the reply arrived.
//! * `Err(NoReply)`: it did not. The server may be dead, or unreachable; the
//!   request may have been lost, or the reply. **The handler may or may not
//!   have run**: an RPC that got no reply may still have done its work.
//!
//! `call` always returns, unless the handler never does. When no reply is
//! coming it returns on its own, after a delay that stands for a timeout, so
//! callers need no timeouts of their own. Many calls may be in flight on one
//! end at once; their replies may come back in any order. Arguments and
//! replies are encoded on the way, so the two sides never share memory.
//!
//! A method's name and its request and reply types are declared once, as a
//! [`Method`] constant that both sides name. Calling a method the server does
//! not have, or with types other than its handler's, is a bug, not a network
//! fault: `call` panics and says which method and which types.
//!
//! # Faults
//!
//! | setting | effect |
//! |---|---|
//! | [`set_reliable(false)`](Network::set_reliable) | each request waits 0–26 ms; 10 % of requests are lost before the handler runs; 10 % of replies are lost after it ran |
//! | [`set_long_delays(true)`](Network::set_long_delays) | a call to an unreachable server gives up after 0–7 s (else 0–100 ms) |
//! | [`set_long_reordering(true)`](Network::set_long_reordering) | 2/3 of replies are held back 200–2200 ms |
//! | [`set_late_requests(true)`](Network::set_late_requests) | 1/3 of requests are held back 200–2200 ms before their handler runs (not in the course's network; the suite's own tests use it) |
//! | [`hold_replies(end, true)`](Network::hold_replies) | replies to `end`'s calls wait until let go (not in the course's network; the suite's own tests use it) |
//! | [`block_requests(end, true)`](Network::block_requests) | `end`'s new calls are lost; replies to its calls already delivered still come back (not in the course's network; the suite's own tests use it) |
//! | [`enable(end, false)`](Network::enable) | nothing sent through `end` is delivered; replies to its calls in flight are discarded |
//! | [`delete_server`](Network::delete_server) | the server's calls in flight return "no reply" at once; its late replies are never delivered |
//!
//! Each handler runs on a thread of its own, so a handler that blocks stalls
//! nothing but its own call. Every random choice comes from one generator,
//! seeded from `LAB_SEED` (see [`seed`]) so a failing run's coin flips can be
//! replayed.
//!
//! # Real time and simulation
//!
//! The network, and all lab code, waits and reads the clock through the
//! runtime facade [`rt`]: threads, time, locks, channels and random numbers
//! with the signatures of `std`, `parking_lot` and `crossbeam-channel`. In
//! real time they are the real thing. In a simulated world ([`rt::sim`])
//! only one thread runs at a time under a seeded scheduler, time is
//! virtual, and each request and reply also spends 50–150 µs of virtual
//! time on the wire (computation is free in virtual time; this stands for
//! what a message costs), so one seed replays a whole run exactly.
//!
//! # Example
//!
//! ```
//! use labrpc::{Method, Network, NoReply, Server, Service};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct AddArgs { a: i64, b: i64 }
//!
//! /// `Calc.Add`: the sum of two numbers.
//! const ADD: Method<AddArgs, i64> = Method::new("Calc.Add");
//!
//! let net = Network::with_seed(1);
//! let mut calc = Service::new("Calc");
//! calc.handle(ADD, |args: AddArgs| args.a + args.b);
//! let server = Server::new();
//! server.add_service(calc);
//! net.add_server("calc-0", server);
//!
//! let end = net.make_end("client-0");
//! net.connect("client-0", "calc-0");
//! net.enable("client-0", true);
//! assert_eq!(end.call(ADD, &AddArgs { a: 2, b: 3 }), Ok(5));
//!
//! net.enable("client-0", false);
//! assert_eq!(end.call(ADD, &AddArgs { a: 2, b: 3 }), Err(NoReply));
//! net.cleanup();
//! ```

mod contract;
mod net;
pub mod rt;

pub use contract::{lab, record, seed, trace};
pub use net::client::Client;
pub use net::codec;

pub use net::method::Method;
pub use net::network::{ClientEnd, Network, NoReply, Replied};
pub use net::persister::Persister;
pub use net::server::{Server, Service};
