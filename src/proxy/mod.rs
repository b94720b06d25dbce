//! Proxy lifecycle.
pub struct Request;
pub struct Session;
