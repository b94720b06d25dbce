//! The response side of the module platform through the real server:
//! `res_*` conditions at HandleReadResponse, body filters on backend and
//! proxy-made responses, and file bodies streamed without being read
//! whole into memory.

mod common;

use common::client::{self, Conn};
use common::conf::{Cluster, Layout};
use common::origin::{Origin, Reply};
use ringfront::basic::{BodyFilter, Request, Response};
use ringfront::module::{InitCtx, Module, ModuleError, RequestPoint, ResponsePoint, Ret};
use ringfront::route::{Cond, RequestFacts};
use std::io::Write;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

/// Upper-cases a body as it streams.
struct Upper;

impl BodyFilter for Upper {
    fn data(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.extend(input.iter().map(u8::to_ascii_uppercase));
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"!");
    }
}

/// `mod_resp_test`: at HandleReadResponse, filters responses a `res_*`
/// condition selects; at HandleFoundProduct, answers `/file/...` with a
/// file (filtered too under `/file/upper/`).
struct RespTest {
    file: PathBuf,
}

fn answer_file(file: &PathBuf, req: &mut Request) -> (Ret, Option<Response>) {
    if !req.path().starts_with(b"/file/") {
        return (Ret::GoOn, None);
    }
    let Ok(f) = std::fs::File::open(file) else {
        return (Ret::Finish, None);
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut res = Response::new(200)
        .with_header("Content-Type", "application/octet-stream")
        .with_file(f, 0, len);
    if req.path().starts_with(b"/file/upper/") {
        res.add_body_filter(Box::new(Upper));
    }
    (Ret::Response, Some(res))
}

impl Module for RespTest {
    fn name(&self) -> &'static str {
        "mod_resp_test"
    }

    fn init(&self, ctx: &mut InitCtx<'_>) -> Result<(), ModuleError> {
        let cond = Cond::compile(
            r#"res_code_in("200") && res_header_value_in("X-Filter", "upper", true)"#,
        )
        .map_err(|e| ModuleError {
            module: "mod_resp_test".into(),
            file: String::new(),
            reason: e.msg,
        })?;
        let cond = Rc::new(cond);
        let file = self.file.clone();
        let cbs = ctx.callbacks();
        cbs.on_request(RequestPoint::FoundProduct, move |req| {
            answer_file(&file, req)
        });
        cbs.on_response(ResponsePoint::ReadResponse, move |req, res| {
            if cond.eval(&req.with_response(res)) {
                res.add_body_filter(Box::new(Upper));
                res.set_header("X-Filtered", "yes");
            }
            Ret::GoOn
        });
        Ok(())
    }
}

struct Env {
    _d: common::conf::ConfDir,
    _o: Origin,
    h: ringfront::server::ServerHandle,
    big: Vec<u8>,
}

fn env() -> Env {
    let big: Vec<u8> = (0..400_000u32)
        .map(|i| b"abcdefghij"[(i % 10) as usize])
        .collect();
    let sent = big.clone();
    let o = Origin::start(move |s| {
        match s.target.as_str() {
        "/small" => Reply::raw("HTTP/1.1 200 OK\r\nX-Filter: upper\r\nContent-Length: 5\r\n\r\nhello"),
        "/chunked" => Reply::raw(
            "HTTP/1.1 200 OK\r\nX-Filter: UPPER\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        ),
        "/plain" => Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
        "/missing" => Reply::raw("HTTP/1.1 404 Not Found\r\nX-Filter: upper\r\nContent-Length: 4\r\n\r\ngone"),
        "/big" => {
            let mut r = format!(
                "HTTP/1.1 200 OK\r\nX-Filter: upper\r\nContent-Length: {}\r\n\r\n",
                sent.len()
            )
            .into_bytes();
            r.extend_from_slice(&sent);
            Reply::Raw {
                bytes: r,
                close: false,
            }
        }
        _ => Reply::text("other"),
    }
    });
    let mut l = Layout::single(Cluster::simple("c", &[o.addr]));
    l.modules = vec!["mod_resp_test".into()];
    let d = l.write();
    let file = d.path().join("served.bin");
    std::fs::File::create(&file)
        .and_then(|mut f| f.write_all(&big))
        .expect("write the served file");
    let mut registry = ringfront::modules::registry();
    registry.register(Arc::new(RespTest { file }));
    let h = common::start(d.path(), Some(registry));
    Env {
        _d: d,
        _o: o,
        h,
        big,
    }
}

fn get(c: &mut Conn, path: &str) -> client::Resp {
    c.send(format!("GET {path} HTTP/1.1\r\nHost: example.org\r\n\r\n").as_bytes());
    c.response(false).expect("a response")
}

#[test]
fn res_conditions_choose_responses_and_filters_rewrite_their_bodies() {
    let e = env();
    let mut c = Conn::open(e.h.http_addr);
    // Selected by res_code_in + res_header_value_in: filtered, chunked.
    let r = get(&mut c, "/small");
    assert_eq!((r.status, r.text().as_str()), (200, "HELLO!"));
    assert!(r.chunked);
    assert_eq!(r.header("content-length"), None);
    assert_eq!(r.header("x-filtered"), Some("yes"));
    // A chunked backend body is decoded, filtered, re-framed.
    let r = get(&mut c, "/chunked");
    assert_eq!(r.text(), "ABCDE!");
    // Not selected: the status or the header does not match.
    let r = get(&mut c, "/missing");
    assert_eq!((r.status, r.text().as_str()), (404, "gone"));
    assert_eq!(r.header("x-filtered"), None);
    let r = get(&mut c, "/plain");
    assert_eq!(
        (r.text().as_str(), r.header("content-length")),
        ("hello", Some("5"))
    );
    // A body bigger than any buffer streams through the filter intact, and
    // the connection stays usable.
    let r = get(&mut c, "/big");
    let want: Vec<u8> = e
        .big
        .iter()
        .map(u8::to_ascii_uppercase)
        .chain(*b"!")
        .collect();
    assert_eq!(r.body.len(), want.len());
    assert!(r.body == want);
    assert_eq!(get(&mut c, "/small").text(), "HELLO!");
}

#[test]
fn an_http10_client_gets_a_filtered_body_close_delimited() {
    let e = env();
    let raw = client::raw(
        e.h.http_addr,
        b"GET /small HTTP/1.0\r\nHost: example.org\r\n\r\n",
    );
    let r = client::parse_response(&raw).unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "HELLO!"));
    assert!(!r.chunked);
}

#[test]
fn a_module_answers_with_a_file_streamed_from_disk() {
    let e = env();
    let mut c = Conn::open(e.h.http_addr);
    let r = get(&mut c, "/file/served.bin");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("400000"));
    assert!(r.body == e.big);
    // HEAD: the head with the file's length, no body.
    c.send(b"HEAD /file/served.bin HTTP/1.1\r\nHost: example.org\r\n\r\n");
    let r = c.response(true).unwrap();
    assert_eq!(
        (r.header("content-length"), r.body.len()),
        (Some("400000"), 0)
    );
    // A filtered file: chunked, whole.
    let r = get(&mut c, "/file/upper/served.bin");
    assert!(r.chunked);
    assert_eq!(r.body.len(), e.big.len() + 1);
    assert!(r.body.starts_with(b"ABCDEFGHIJ"));
    assert!(r.body.ends_with(b"J!"));
    assert_eq!(get(&mut c, "/plain").text(), "hello");
}
