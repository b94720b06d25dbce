//! Connections to backends, owned by one worker: connect with a timeout,
//! keep idle keep-alive connections per backend address for reuse, and
//! the PROXY protocol header a cluster may ask to open them with.

mod pool;
mod proxy_header;

pub(crate) use pool::Pool;
pub(crate) use proxy_header::write_v2 as write_proxy_v2;

use monoio::net::TcpStream;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// Open a connection to a backend within `timeout`.
pub(crate) async fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    match monoio::time::timeout(timeout, TcpStream::connect_addr(addr)).await {
        Ok(Ok(s)) => {
            let _ = s.set_nodelay(true);
            Ok(s)
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")),
    }
}
