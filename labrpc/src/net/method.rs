//! Typed declarations of RPC methods.

use std::any::type_name;
use std::fmt;
use std::marker::PhantomData;

/// One RPC method: its name and the types of its request and reply, declared
/// once and named by both the caller and the service that handles it.
///
/// ```
/// use labrpc::Method;
/// # #[derive(serde::Serialize, serde::Deserialize)] struct EchoArgs;
/// # #[derive(serde::Serialize, serde::Deserialize)] struct EchoReply;
/// /// `Echo.Say`: returns what it was given.
/// pub const SAY: Method<EchoArgs, EchoReply> = Method::new("Echo.Say");
/// ```
///
/// The name is `"<Service>.<method>"`, as in the course's labrpc. A call whose
/// types differ from the handler's for the same name is a programming error and
/// panics with both pairs of types.
pub struct Method<Req, Rep> {
    name: &'static str,
    types: PhantomData<fn(Req) -> Rep>,
}

impl<Req, Rep> Method<Req, Rep> {
    /// Declares the method `name`, of the form `"Service.Method"`.
    ///
    /// # Panics
    /// When `name` is not two non-empty parts joined by one dot (checked at
    /// compile time when declared as a `const`).
    pub const fn new(name: &'static str) -> Self {
        assert!(
            split(name).is_some(),
            "an RPC method name must look like \"Service.Method\""
        );
        Method {
            name,
            types: PhantomData,
        }
    }

    /// The full name, `"Service.Method"`.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The service part of the name.
    pub fn service(&self) -> &'static str {
        let (service, _) = split(self.name).expect("checked by Method::new");
        service
    }

    pub(crate) fn signature(&self) -> Signature {
        Signature {
            request: type_name::<Req>(),
            reply: type_name::<Rep>(),
        }
    }
}

// Derives would demand `Req: Copy` and `Rep: Copy`; a declaration is copyable
// whatever its types are.
impl<Req, Rep> Clone for Method<Req, Rep> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<Req, Rep> Copy for Method<Req, Rep> {}

impl<Req, Rep> fmt::Debug for Method<Req, Rep> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.signature())
    }
}

/// The request and reply types of a method, by name, as compared between a
/// caller and a handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Signature {
    pub(crate) request: &'static str,
    pub(crate) reply: &'static str,
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request {}, reply {}", self.request, self.reply)
    }
}

/// Splits `"Service.Method"` into its two parts; `None` unless there is exactly
/// one dot with something on each side. `const` so that declarations are
/// checked when compiled.
const fn split(name: &str) -> Option<(&str, &str)> {
    let bytes = name.as_bytes();
    let mut dot = None;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'.' {
            if dot.is_some() {
                return None;
            }
            dot = Some(i);
        }
        i += 1;
    }
    match dot {
        Some(at) if at > 0 && at + 1 < bytes.len() => {
            let (service, rest) = name.split_at(at);
            let (_, method) = rest.split_at(1);
            Some((service, method))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_service_and_method() {
        assert_eq!(split("Raft.RequestVote"), Some(("Raft", "RequestVote")));
        assert_eq!(split("Raft"), None);
        assert_eq!(split(".x"), None);
        assert_eq!(split("x."), None);
        assert_eq!(split("a.b.c"), None);
    }

    #[test]
    fn service_part() {
        let m: Method<u8, u8> = Method::new("Kv.Get");
        assert_eq!(m.service(), "Kv");
        assert_eq!(format!("{m:?}"), "Kv.Get (request u8, reply u8)");
    }
}
