//! Real origin servers for tests: std threads on loopback, recording what
//! they receive and answering as each test scripts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A request as the origin received it.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub trailers: Vec<(String, String)>,
    /// Index of the connection (per origin) it arrived on.
    pub conn: usize,
    /// Index of the request on its connection (0 for the first).
    pub nth: usize,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn has_header(&self, name: &str) -> bool {
        self.header(name).is_some()
    }
}

/// What the origin does with a request.
pub enum Reply {
    /// 200 with this body and Content-Length.
    Ok(Vec<u8>),
    /// These bytes verbatim, then keep the connection (or close if `close`).
    Raw { bytes: Vec<u8>, close: bool },
    /// Wait, then do the inner reply.
    Delay(Duration, Box<Reply>),
    /// Close without answering.
    Close,
    /// Send `bytes`, wait, send `rest`, close.
    Slow {
        bytes: Vec<u8>,
        wait: Duration,
        rest: Vec<u8>,
    },
    /// Send `bytes` (maybe none), then reset the connection (RST, not FIN).
    Reset(Vec<u8>),
    /// Send `bytes`, then hold the connection open, sending nothing more,
    /// for `hold` (or until the peer closes).
    Stall { bytes: Vec<u8>, hold: Duration },
    /// Send each piece after its delay; keep the connection unless `close`.
    Pieces {
        parts: Vec<(Duration, Vec<u8>)>,
        close: bool,
    },
}

impl Reply {
    pub fn text(s: &str) -> Reply {
        Reply::Ok(s.as_bytes().to_vec())
    }

    pub fn raw(s: &str) -> Reply {
        Reply::Raw {
            bytes: s.as_bytes().to_vec(),
            close: false,
        }
    }
}

pub type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

pub struct Origin {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    pub conns: Arc<AtomicUsize>,
    /// Every byte received, over all connections, in arrival order.
    pub received: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr);
    }
}

impl Origin {
    /// Start an origin whose answer is `handler(request)`.
    pub fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Origin {
        Self::start_on("127.0.0.1:0", Arc::new(handler))
    }

    pub fn start_on(addr: &str, handler: Handler) -> Origin {
        let l = TcpListener::bind(addr).expect("origin bind");
        let addr = l.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let conns = Arc::new(AtomicUsize::new(0));
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s2, c2, st2, r2) = (seen.clone(), conns.clone(), stop.clone(), received.clone());
        std::thread::spawn(move || {
            for s in l.incoming() {
                if st2.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(s) = s else { continue };
                let idx = c2.fetch_add(1, Ordering::SeqCst);
                let (h, seen, stop) = (handler.clone(), s2.clone(), st2.clone());
                let log = r2.clone();
                std::thread::spawn(move || serve(s, idx, h, seen, log, stop));
            }
        });
        Origin {
            addr,
            seen,
            conns,
            received,
            stop,
        }
    }

    /// An origin that names itself in every body.
    pub fn named(name: &'static str) -> Origin {
        Origin::start(move |_| Reply::text(name))
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// Connections accepted so far.
    pub fn conn_count(&self) -> usize {
        self.conns.load(Ordering::SeqCst)
    }

    /// Everything received so far, as text (lossy).
    pub fn received_text(&self) -> String {
        String::from_utf8_lossy(&self.received.lock().unwrap()).into_owned()
    }
}

/// An address nothing listens on (connections are refused). On a loopback
/// address of its own: a port freed on 127.0.0.1 is soon reused by a
/// parallel test's listener, which would then answer.
pub fn refused_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.253:0").unwrap();
    let a = l.local_addr().unwrap();
    drop(l);
    a
}

/// A reader that also logs every byte it reads.
struct Tee {
    s: TcpStream,
    log: Arc<Mutex<Vec<u8>>>,
}

impl Read for Tee {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.s.read(buf)?;
        self.log.lock().unwrap().extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

fn serve(
    s: TcpStream,
    idx: usize,
    h: Handler,
    seen: Arc<Mutex<Vec<Seen>>>,
    log: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    // Head and body are written separately: without this, Nagle plus
    // delayed ACKs stall each response ~40 ms.
    let _ = s.set_nodelay(true);
    let mut out = s.try_clone().unwrap();
    let mut r = BufReader::new(Tee { s, log });
    let mut nth = 0;
    while !stop.load(Ordering::Relaxed) {
        let Some(mut req) = read_request(&mut r, idx) else {
            return;
        };
        req.nth = nth;
        nth += 1;
        seen.lock().unwrap().push(req.clone());
        if !answer(&mut out, h(&req)) {
            return;
        }
        if req
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
        {
            return;
        }
    }
}

/// Close with RST: SO_LINGER on with a zero timeout.
fn reset(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a properly sized linger struct.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    let _ = s.shutdown(std::net::Shutdown::Both);
}

/// Write a reply; false when the connection should close.
fn answer(out: &mut TcpStream, reply: Reply) -> bool {
    match reply {
        Reply::Ok(body) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n",
                body.len()
            );
            out.write_all(head.as_bytes()).is_ok() && out.write_all(&body).is_ok()
        }
        Reply::Raw { bytes, close } => out.write_all(&bytes).is_ok() && !close,
        Reply::Delay(d, inner) => {
            std::thread::sleep(d);
            answer(out, *inner)
        }
        Reply::Close => false,
        Reply::Slow { bytes, wait, rest } => {
            let _ = out.write_all(&bytes);
            let _ = out.flush();
            std::thread::sleep(wait);
            let _ = out.write_all(&rest);
            false
        }
        Reply::Reset(bytes) => {
            let _ = out.write_all(&bytes);
            let _ = out.flush();
            // Let the bytes leave before the reset discards the queue.
            std::thread::sleep(Duration::from_millis(50));
            reset(out);
            false
        }
        Reply::Stall { bytes, hold } => {
            let _ = out.write_all(&bytes);
            let _ = out.set_read_timeout(Some(hold));
            let mut tmp = [0u8; 1024];
            // Returns when the peer closes or `hold` passes.
            while let Ok(n) = out.read(&mut tmp) {
                if n == 0 {
                    break;
                }
            }
            false
        }
        Reply::Pieces { parts, close } => {
            for (wait, bytes) in parts {
                std::thread::sleep(wait);
                if out.write_all(&bytes).is_err() {
                    return false;
                }
            }
            !close
        }
    }
}

fn line(r: &mut BufReader<Tee>) -> Option<String> {
    let mut l = String::new();
    match r.read_line(&mut l) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(l.trim_end_matches(['\r', '\n']).to_string()),
    }
}

fn read_request(r: &mut BufReader<Tee>, conn: usize) -> Option<Seen> {
    let first = line(r)?;
    let mut parts = first.splitn(3, ' ');
    let mut seen = Seen {
        method: parts.next()?.to_string(),
        target: parts.next()?.to_string(),
        version: parts.next()?.to_string(),
        conn,
        ..Default::default()
    };
    loop {
        let l = line(r)?;
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':')?;
        seen.headers.push((k.to_string(), v.trim().to_string()));
    }
    if seen
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let size_line = line(r)?;
            let size = usize::from_str_radix(size_line.split(';').next()?.trim(), 16).ok()?;
            if size == 0 {
                loop {
                    let t = line(r)?;
                    if t.is_empty() {
                        break;
                    }
                    let (k, v) = t.split_once(':')?;
                    seen.trailers.push((k.to_string(), v.trim().to_string()));
                }
                break;
            }
            let mut chunk = vec![0; size];
            r.read_exact(&mut chunk).ok()?;
            seen.body.extend_from_slice(&chunk);
            line(r)?;
        }
    } else if let Some(n) = seen
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        let mut body = vec![0; n];
        r.read_exact(&mut body).ok()?;
        seen.body = body;
    }
    Some(seen)
}
