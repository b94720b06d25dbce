//! Handler tests: lines formatted for requests and sessions built with
//! `RequestBuilder`, read back from the buffer the writer would get.

use super::format::{go_duration, go_time, json_str, Fmt, Now, Subject};
use super::template::{compile, expand_request, Domain};
use super::*;
use crate::basic::{ErrorKind, ProxyError, RequestBuilder, StepTimes};
use crossbeam_channel::bounded;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

fn line(tpl: &str, json: bool, req: &Request, res: &Response) -> String {
    let pieces = compile(expand_request(tpl), Domain::Request).unwrap();
    let mut out = Vec::new();
    Fmt::default().line(
        &mut out,
        &pieces,
        json,
        &Subject::Request(req, res),
        &mut Now::new(),
    );
    String::from_utf8(out).unwrap()
}

fn ses_line(tpl: &str, ses: &Session, now: &mut Now) -> String {
    let pieces = compile(tpl, Domain::Session).unwrap();
    let mut out = Vec::new();
    Fmt::default().line(&mut out, &pieces, false, &Subject::Session(ses), now);
    String::from_utf8(out).unwrap()
}

#[test]
fn request_items_read_the_request_and_response() {
    let mut req = RequestBuilder::get("example.org", "/a/b?x=1")
        .header("User-Agent", "curl/8")
        .header("Cookie", "sid=42; theme=dark")
        .peer("10.1.2.3:5555")
        .local("127.0.0.1:8080")
        .build();
    req.stat.header_len_out = 100;
    req.stat.body_len_out = 23;
    req.stat.body_len_in = 7;
    let res = Response::new(404)
        .with_header("Set-Cookie", "a=b; Path=/")
        .with_header("X-Multi", "1")
        .with_header("X-Multi", "2");
    let l = line(
        "$remote_addr|$server_addr|$vip|$host|$request_line|$req_uri|$url|${User-Agent}req_header|${Referer}req_header|${theme}req_cookie|${nope}req_cookie|$status_code|$res_len|$res_body_len|$req_body_len|${X-Multi}res_header|${x-multi}res_header|${a}res_cookie|$res_proto|$product|$cluster_name|$subcluster|$backend|$retry_num|$log_id|$error|$redirect|$req_nth|$is_trust_clientip",
        false,
        &req,
        &res,
    );
    assert_eq!(
        l,
        "10.1.2.3|127.0.0.1:8080|127.0.0.1|example.org|GET /a/b?x=1 HTTP/1.1|/a/b?x=1|/a/b?x=1|curl/8|-|dark|-|404|123|23|7|1,2|1,2|b|HTTP/1.1|-|-||,,,|0||-|-|1|false\n"
    );
}

#[test]
fn common_and_no_response_and_errors() {
    let mut req = RequestBuilder::get("h", "/").build();
    req.fail(
        ProxyError::new(ErrorKind::NoProduct),
        "no product for host h",
    );
    req.set_redirect("http://x/", 302);
    req.log_id = Some("abc".into());
    let l = line(
        "$status_code $res_len $res_proto ${A}res_header $error $redirect $log_id",
        false,
        &req,
        &Response::none(),
    );
    assert_eq!(
        l,
        "- - - - BK_FIND_PRODUCT,no product for host h http://x/,302 abc\n"
    );
    // COMMON without timings: request_time is empty, as BFE leaves an item
    // whose prerequisite is missing.
    let l = line("COMMON", false, &req, &Response::new(200));
    assert_eq!(l, "h - -  \"GET / HTTP/1.1\" 200 0\n");
}

#[test]
fn timings_are_milliseconds_and_request_time_is_clf() {
    let mut req = RequestBuilder::get("h", "/").build();
    let t0 = Instant::now();
    let ms = |n| t0 + Duration::from_millis(n);
    req.stat.times = Some(Box::new(StepTimes {
        read_start: Some(t0),
        read_end: Some(ms(2)),
        cluster_start: Some(ms(5)),
        backend_start: Some(ms(6)),
        backend_connected: Some(ms(9)),
        backend_end: Some(ms(20)),
        cluster_end: Some(ms(21)),
        response_start: Some(ms(22)),
        response_end: Some(ms(30)),
        ..Default::default()
    }));
    let pieces = compile(
        "$read_req_duration $proxy_delay $connect_time $last_backend_duration $write_serve_time $cluster_duration $response_duration $all_time $readwrite_serve_time $request_time",
        Domain::Request,
    )
    .unwrap();
    let mut out = Vec::new();
    let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_349_230);
    let mut now = Now::at(ms(40), wall);
    let res = Response::new(200);
    Fmt::default().line(
        &mut out,
        &pieces,
        false,
        &Subject::Request(&req, &res),
        &mut now,
    );
    let s = String::from_utf8(out).unwrap();
    let (nums, when) = s.split_at(s.find('[').unwrap());
    assert_eq!(nums, "2 3 3 14 14 16 8 40 34 ");
    // [02/Jan/2026:HH:MM:SS +ZZZZ] in local time: shape checked.
    assert_eq!(when.len(), "[02/Jan/2026:10:20:30 +0000]\n".len(), "{when}");
    assert!(
        when.contains("/Jan/2026:") || when.contains("/Jan/2026:"),
        "{when}"
    );
    // Never forwarded: proxy_delay and readwrite_serve_time are `-`,
    // connect_time is empty.
    req.stat.times = Some(Box::default());
    let l = line(
        "$proxy_delay|$readwrite_serve_time|$connect_time|",
        false,
        &req,
        &res,
    );
    assert_eq!(l, "-|-||\n");
}

#[test]
fn json_lines_parse_and_escape() {
    let req = RequestBuilder::get("example.org", "/q")
        .header("User-Agent", "evil \"quote\" \\ \tx")
        .build();
    let l = line("COMBINED", true, &req, &Response::new(200));
    let v: serde_json::Value = serde_json::from_str(l.trim_end()).unwrap();
    assert_eq!(v["host"], "example.org");
    assert_eq!(v["status_code"], 200);
    assert_eq!(v["res_len"], 0);
    assert_eq!(v["req_header.User-Agent"], "evil \"quote\" \\ \tx");
    assert_eq!(v["req_header.Referer"], "-");
    assert_eq!(v["request_line"], "GET /q HTTP/1.1");
    let mut o = Vec::new();
    json_str(&mut o, b"a\xffb\n");
    assert_eq!(o, "\"a\u{fffd}b\\n\"".as_bytes());
    let r = "\u{fffd}";
    for (raw, want) in [
        (
            &b"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \x7f"[..],
            "caf\u{e9} \u{20ac} \u{1f600} \u{7f}".to_string(),
        ),
        (b"\xc3", r.to_string()),
        (b"\xe2\x82 x", format!("{r}{r} x")),
        (b"\xed\xa0\x80", format!("{r}{r}{r}")),
    ] {
        let mut o = Vec::new();
        json_str(&mut o, raw);
        let v: String = serde_json::from_slice(&o).expect("valid JSON");
        assert_eq!(v, want, "{raw:?}");
    }
}

#[test]
fn session_items() {
    let ses = RequestBuilder::get("h", "/").peer("[::1]:4000").session();
    ses.add_bytes_in(10);
    ses.add_bytes_out(20);
    ses.count_request();
    ses.set_error(ProxyError::new(ErrorKind::ClientTimeout));
    let mut now = Now::at(ses.started + Duration::from_millis(1500), SystemTime::now());
    let l = ses_line(
        "$ses_clientip $ses_read_total $ses_write_total $ses_keepalive_num $ses_error $ses_is_secure $ses_use100 $ses_overhead",
        &ses,
        &mut now,
    );
    assert_eq!(l, "[::1]:4000 10 20 1 CLIENT_TIMEOUT false false 1.5s\n");
    // Start and end in Go's layout: end = now, start = now - overhead.
    let wall = SystemTime::UNIX_EPOCH + Duration::from_millis(1_767_349_230_500);
    let mut now = Now::at(ses.started + Duration::from_millis(1500), wall);
    let l = ses_line("$ses_start_time|$ses_end_time", &ses, &mut now);
    let (start, end) = l.trim_end().split_once('|').unwrap();
    assert!(
        start.starts_with("2026-01-0") && start.contains(":29 "),
        "{l}"
    );
    assert!(end.contains(":30.5 "), "{l}");
    let zone = crate::sys::local_time(1_767_349_230);
    assert!(
        end.ends_with(std::str::from_utf8(zone.zone()).unwrap()),
        "{l}"
    );
}

#[test]
fn go_formats() {
    let d = |ns: u64| {
        let mut o = Vec::new();
        go_duration(&mut o, Duration::from_nanos(ns));
        String::from_utf8(o).unwrap()
    };
    assert_eq!(d(0), "0s");
    assert_eq!(d(999), "999ns");
    assert_eq!(d(1_500), "1.5µs");
    assert_eq!(d(1_234_567), "1.234567ms");
    assert_eq!(d(123_500_000_000), "2m3.5s");
    assert_eq!(d(3_600_000_000_000), "1h0m0s");
    let mut o = Vec::new();
    let t = crate::sys::local_time(1_767_349_230);
    go_time(&mut o, Duration::new(1_767_349_230, 120_000_000), t);
    let s = String::from_utf8(o).unwrap();
    // 2026-01-02 HH:MM:30.12 +ZZZZ ZONE
    assert!(s.starts_with("2026-01-0"), "{s}");
    assert!(s.contains(":30.12 "), "{s}");
}

#[test]
fn handlers_format_into_the_buffer_and_count() {
    let (tx, rx) = bounded::<Msg>(4);
    let log = AccessLog::new(
        conf_for("COMMON", "$ses_keepalive_num $time"),
        Sink::new(tx, bounded(1).1),
        Rc::new(Counters::new(&COUNTERS)),
    );
    let req = RequestBuilder::get("h", "/x").build();
    assert_eq!(log.request(&req, &Response::new(204)), Ret::GoOn);
    assert_eq!(log.session(&req.ses), Ret::GoOn);
    log.flush();
    match rx.try_recv() {
        Ok(Msg::Lines(b)) => {
            let s = String::from_utf8(b).unwrap();
            let lines: Vec<&str> = s.lines().collect();
            assert_eq!(lines.len(), 2, "{s}");
            assert_eq!(lines[0], "h - -  \"GET /x HTTP/1.1\" 204 0", "{s}");
            assert!(lines[1].starts_with("0 20"), "{s}");
        }
        _ => panic!("nothing handed over"),
    }
    assert_eq!(log.counters.get(0), 1);
    assert_eq!(log.counters.get(1), 1);
}

#[test]
fn init_through_the_framework_writes_the_file() {
    let d = std::env::temp_dir().join(format!("rf-access-init-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("mod_access")).unwrap();
    std::fs::write(
        d.join("mod_access/mod_access.conf"),
        "[Log]\nLogFile = out.log\n[Template]\nRequestTemplate = \"$host $status_code $all_time\"\nSessionTemplate = SES $ses_keepalive_num\n",
    )
    .unwrap();
    let mut registry = crate::module::ModuleRegistry::new();
    registry.register(Arc::new(ModAccess::without_timer()));
    let set = registry.select(&["mod_access".to_string()]).unwrap();
    let tables = set.check(&d).unwrap();
    let (cbs, _state) = set.build_callbacks(&d, 0, tables).unwrap();
    assert!(cbs.timings(), "a time item turns timings on");
    assert_eq!(cbs.list(crate::module::Point::RequestFinish).len(), 1);
    assert_eq!(cbs.list(crate::module::Point::Finish).len(), 1);
    let mut req = RequestBuilder::get("example.org", "/").build();
    let mut res = Response::new(200);
    cbs.run_response(crate::module::Point::RequestFinish, &mut req, &mut res);
    cbs.run_finish(&req.ses);
    drop(cbs); // the worker's end hands over its buffer
    let path = d.join("out.log");
    let mut text = String::new();
    for _ in 0..200 {
        text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.lines().count() == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // No read_start on a built request: all_time is empty.
    assert_eq!(text, "example.org 200 \nSES 0\n");
    let _ = std::fs::remove_dir_all(&d);
}

fn conf_for(req: &str, ses: &str) -> AccessConf {
    AccessConf {
        target: writer::Target {
            path: "/dev/null".into(),
            rotate: None,
        },
        request: compile(expand_request(req), Domain::Request).unwrap(),
        session: compile(ses, Domain::Session).unwrap(),
        json: false,
    }
}
