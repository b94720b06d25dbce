//! A small origin server for trying ringfront out: answers every request
//! with 200 and a short text naming itself and what it received.
//!
//! `ringfront-origin [ADDR] [NAME]` (default 127.0.0.1:8181, "origin").

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8181".to_string());
    let name = args.next().unwrap_or_else(|| "origin".to_string());
    let listener = match TcpListener::bind(&addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ringfront-origin: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("ringfront-origin '{name}' listening on {addr}");
    for s in listener.incoming().flatten() {
        let name = name.clone();
        std::thread::spawn(move || serve(s, &name));
    }
}

fn serve(s: TcpStream, name: &str) {
    let mut out = match s.try_clone() {
        Ok(o) => o,
        Err(_) => return,
    };
    let mut r = BufReader::new(s);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let request_line = line.trim_end().to_string();
        let (mut length, mut close) = (0usize, request_line.ends_with("HTTP/1.0"));
        let mut host = String::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap_or((h, ""));
            let v = v.trim();
            match k.to_ascii_lowercase().as_str() {
                "content-length" => length = v.parse().unwrap_or(0),
                "connection" => close = v.eq_ignore_ascii_case("close"),
                "host" => host = v.to_string(),
                _ => {}
            }
        }
        let mut body = vec![0u8; length.min(1 << 20)];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let text =
            format!("hello from {name}: {request_line} (Host: {host}, {length} body bytes)\n");
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{}\r\n",
            text.len(),
            if close { "Connection: close\r\n" } else { "" }
        );
        // One write: head and body in two small writes meet Nagle and a
        // delayed ACK, and every response would take 40 ms.
        let mut msg = head.into_bytes();
        msg.extend_from_slice(text.as_bytes());
        if out.write_all(&msg).is_err() || close {
            return;
        }
    }
}
