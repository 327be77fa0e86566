//! Services (named sets of handlers) and the servers that host them.

use std::any::type_name;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::rt::sync::PlainRwLock as RwLock;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::method::{Method, Signature};
use crate::codec::{self, CodecError};

/// A request that reached a handler and what became of it.
pub(crate) type Outcome = Result<Vec<u8>, CodecError>;

/// A handler's body with its types erased: request bytes in, reply bytes out.
type ErasedFn = dyn Fn(&[u8]) -> Outcome + Send + Sync;

/// A handler and the types it was declared with.
pub(crate) struct Handler {
    pub(crate) signature: Signature,
    run: Box<ErasedFn>,
}

impl Handler {
    pub(crate) fn run(&self, request: &[u8]) -> Outcome {
        (self.run)(request)
    }
}

/// A named set of RPC handlers, e.g. the `Raft` service with `RequestVote`
/// and `AppendEntries`.
///
/// ```
/// use labrpc::{Method, Service};
/// const DOUBLE: Method<u64, u64> = Method::new("Math.Double");
///
/// let mut service = Service::new("Math");
/// service.handle(DOUBLE, |n| n * 2);
/// ```
pub struct Service {
    name: String,
    handlers: HashMap<&'static str, Arc<Handler>>,
}

impl Service {
    /// An empty service called `name`.
    pub fn new(name: &str) -> Self {
        Service {
            name: name.to_owned(),
            handlers: HashMap::new(),
        }
    }

    /// The service's name, the part before the dot in its methods' names.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Registers `handler` for `method`.
    ///
    /// The handler runs on a thread of its own for each request, so it may
    /// block; the network decodes its request and encodes its reply.
    ///
    /// # Panics
    /// When `method` belongs to another service, or already has a handler.
    pub fn handle<Req, Rep, F>(&mut self, method: Method<Req, Rep>, handler: F) -> &mut Self
    where
        Req: DeserializeOwned + 'static,
        Rep: Serialize + 'static,
        F: Fn(Req) -> Rep + Send + Sync + 'static,
    {
        assert_eq!(
            method.service(),
            self.name,
            "method {} registered on service {}",
            method.name(),
            self.name
        );
        let run = move |request: &[u8]| {
            let request: Req = codec::decode(request)?;
            codec::encode(&handler(request))
        };
        let previous = self.handlers.insert(
            method.name(),
            Arc::new(Handler {
                signature: method.signature(),
                run: Box::new(run),
            }),
        );
        assert!(
            previous.is_none(),
            "method {} registered twice on service {}",
            method.name(),
            self.name
        );
        self
    }
}

impl fmt::Debug for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut methods: Vec<_> = self.handlers.keys().collect();
        methods.sort();
        f.debug_struct("Service")
            .field("name", &self.name)
            .field("methods", &methods)
            .finish()
    }
}

/// A machine on the network: a set of services and a count of the requests
/// delivered to it. Cheap to clone; clones are the same server.
///
/// One server may host several services, as a key/value server hosts both
/// its own service and its Raft peer's.
#[derive(Clone, Default)]
pub struct Server {
    inner: Arc<ServerInner>,
}

#[derive(Default)]
struct ServerInner {
    services: RwLock<HashMap<String, Service>>,
    count: AtomicU64,
}

impl Server {
    /// A server with no services.
    pub fn new() -> Self {
        Server::default()
    }

    /// Adds `service`, replacing any service of the same name.
    pub fn add_service(&self, service: Service) {
        self.inner
            .services
            .write()
            .insert(service.name.clone(), service);
    }

    /// How many requests have been delivered to this server's handlers.
    pub fn count(&self) -> u64 {
        self.inner.count.load(Ordering::Relaxed)
    }

    /// Finds the handler for a request about to be delivered, and counts it.
    ///
    /// # Panics
    /// When the method is unknown or its types differ from the handler's: a
    /// programming error that no retry can fix, so it must not look like a
    /// lost message.
    pub(crate) fn dispatch<Req, Rep>(&self, method: Method<Req, Rep>) -> Arc<Handler> {
        self.inner.count.fetch_add(1, Ordering::Relaxed);
        let services = self.inner.services.read();
        let Some(service) = services.get(method.service()) else {
            let mut known: Vec<_> = services.keys().map(String::as_str).collect();
            known.sort_unstable();
            panic!(
                "labrpc: call to {}: this server has no service {:?} (it has {known:?})",
                method.name(),
                method.service()
            );
        };
        let Some(handler) = service.handlers.get(method.name()) else {
            let mut known: Vec<_> = service.handlers.keys().collect();
            known.sort_unstable();
            panic!(
                "labrpc: call to {}: service {:?} has no such method (it has {known:?})",
                method.name(),
                service.name
            );
        };
        let wanted = method.signature();
        assert!(
            handler.signature == wanted,
            "labrpc: call to {} with {wanted}, but its handler takes {}",
            method.name(),
            handler.signature
        );
        Arc::clone(handler)
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(type_name::<Self>())
            .field("services", &self.inner.services.read().values())
            .field("count", &self.count())
            .finish()
    }
}
