//! The emulated network and what the peers keep through a crash: the
//! [`Network`](network::Network) of ends and servers with its faults
//! (`network`), clients that reach servers by name (`client`), servers and their services (`server`), methods declared once
//! for both sides (`method`), the threads that run handlers (`pool`), the
//! message codec ([`codec`]) and the [`Persister`](persister::Persister).
//! Everything here waits and reads the clock through [`rt`](crate::rt), so
//! it runs the same in real time and in a simulation.

pub(crate) mod client;
pub mod codec;
pub(crate) mod method;
pub(crate) mod network;
pub(crate) mod persister;
mod pool;
pub(crate) mod server;
