//! The HTTP/1.1 codec.
pub struct Response;
pub struct BackendResponse;
