//! Responses ringfront makes itself: handler answers and error pages.

/// A complete response produced inside the proxy (a handler's answer, a
/// redirect, an error). Rare by design, so it owns its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The plain error page for a status code.
    pub fn error(status: u16) -> Self {
        let mut body = Vec::with_capacity(48);
        body.extend_from_slice(status.to_string().as_bytes());
        body.push(b' ');
        body.extend_from_slice(status_reason(status).as_bytes());
        body.push(b'\n');
        Response::new(status)
            .with_header("Content-Type", "text/plain")
            .with_body(body)
    }

    /// A redirect to `location` with the given 3xx code.
    pub fn redirect(code: u16, location: &str) -> Self {
        Response::new(code).with_header("Location", location)
    }
}

/// Reason phrases for the codes ringfront produces or commonly relays.
pub fn status_reason(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        101 => "Switching Protocols",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        417 => "Expectation Failed",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}
