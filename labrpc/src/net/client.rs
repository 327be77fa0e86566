//! A client that reaches servers by their names (the course's `Clnt`).

use std::fmt;

use super::network::{ClientEnd, Network};

/// One client of many servers, each reached by the name it is served under
/// (`server-1-2`). Cheap to clone; clones are the same client.
///
/// Made by [`Network::make_client`]. A clerk asks it for an end to each
/// server it calls, with [`end`](Client::end); the end is made on the first
/// ask and connected to whatever server is registered under that name, so a
/// server that restarts is reachable again through the same end. Whether
/// the client's ends are enabled is the tester's business
/// ([`Network::enable_client`], [`Network::delete_client`]), apart from the
/// servers' partitions, which never touch a client's ends.
#[derive(Clone)]
pub struct Client {
    name: String,
    net: Network,
}

impl Client {
    pub(crate) fn new(name: &str, net: Network) -> Client {
        Client {
            name: name.to_owned(),
            net,
        }
    }

    /// The client's name, as given to [`Network::make_client`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// This client's end to the server named `server`. Every ask for the
    /// same server gives the same end.
    pub fn end(&self, server: &str) -> ClientEnd {
        self.net.client_end(&self.name, server)
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Client").field(&self.name).finish()
    }
}
