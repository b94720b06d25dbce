//! BFE's access-log template language, compiled once at load into a list
//! of [`Piece`]s that formatting walks without parsing or allocating.
//!
//! `$name` is an item when the text after `$` starts with a known item
//! name (no name is a prefix of another, so the match is unambiguous);
//! `${param}name` passes a parameter (a header or cookie name). There is no
//! escape for a literal `$`, as in BFE.

/// Where an item may be used: BFE refuses a request item in the session
/// template and the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    Both,
    Request,
    Session,
}

/// One template item. Parameterised items carry their parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Time,
    Host,
    RemoteAddr,
    ServerAddr,
    Vip,
    IsTrustClientip,
    Product,
    ClusterName,
    Subcluster,
    Backend,
    RetryNum,
    LogId,
    Error,
    RequestLine,
    ReqUri,
    Url,
    ReqHeader(Box<str>),
    ReqCookie(Box<str>),
    ReqNth,
    ReqBodyLen,
    StatusCode,
    ResProto,
    ResHeader(Box<str>),
    ResCookie(Box<str>),
    ResLen,
    ResBodyLen,
    Redirect,
    RequestTime,
    AllTime,
    ReadReqDuration,
    ProxyDelay,
    ConnectTime,
    LastBackendDuration,
    WriteServeTime,
    ClusterDuration,
    ResponseDuration,
    ReadwriteServeTime,
    SinceSesStartTime,
    SesClientip,
    SesStartTime,
    SesEndTime,
    SesOverhead,
    SesReadTotal,
    SesWriteTotal,
    SesKeepaliveNum,
    SesError,
    SesIsSecure,
    SesUse100,
}

/// A piece of a compiled template: literal bytes, or an item with its
/// name as written (the key of the JSON-lines format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(Box<[u8]>),
    Item { item: Item, key: Box<str> },
}

/// BFE's item names with their domain. `None` marks items BFE has that
/// ringfront cannot fill (refused at load rather than logged empty).
const NAMES: &[(&str, Domain)] = &[
    ("time", Domain::Both),
    ("host", Domain::Request),
    ("remote_addr", Domain::Request),
    ("server_addr", Domain::Request),
    ("vip", Domain::Request),
    ("is_trust_clientip", Domain::Request),
    ("product", Domain::Request),
    ("cluster_name", Domain::Request),
    ("subcluster", Domain::Request),
    ("backend", Domain::Request),
    ("retry_num", Domain::Request),
    ("log_id", Domain::Request),
    ("error", Domain::Request),
    ("request_line", Domain::Request),
    ("req_uri", Domain::Request),
    ("url", Domain::Request),
    ("req_header", Domain::Request),
    ("req_cookie", Domain::Request),
    ("req_nth", Domain::Request),
    ("req_body_len", Domain::Request),
    ("status_code", Domain::Request),
    ("res_proto", Domain::Request),
    ("res_header", Domain::Request),
    ("res_cookie", Domain::Request),
    ("res_len", Domain::Request),
    ("res_body_len", Domain::Request),
    ("redirect", Domain::Request),
    ("request_time", Domain::Request),
    ("all_time", Domain::Request),
    ("read_req_duration", Domain::Request),
    ("proxy_delay", Domain::Request),
    ("connect_time", Domain::Request),
    ("last_backend_duration", Domain::Request),
    ("write_serve_time", Domain::Request),
    ("cluster_duration", Domain::Request),
    ("response_duration", Domain::Request),
    ("readwrite_serve_time", Domain::Request),
    ("since_ses_start_time", Domain::Request),
    ("ses_clientip", Domain::Session),
    ("ses_start_time", Domain::Session),
    ("ses_end_time", Domain::Session),
    ("ses_overhead", Domain::Session),
    ("ses_read_total", Domain::Session),
    ("ses_write_total", Domain::Session),
    ("ses_keepalive_num", Domain::Session),
    ("ses_error", Domain::Session),
    ("ses_is_secure", Domain::Session),
    ("ses_use100", Domain::Session),
    ("ses_tls_client_random", Domain::Session),
    ("ses_tls_server_random", Domain::Session),
];

/// BFE's built-in request templates.
pub const COMMON: &str = "$host - - $request_time \"$request_line\" $status_code $res_len";
pub const COMBINED: &str = "$host - - $request_time \"$request_line\" $status_code $res_len \"${Referer}req_header\" \"${User-Agent}req_header\"";

fn item_of(name: &str, param: &str) -> Result<Item, String> {
    let p = || param.to_string().into_boxed_str();
    Ok(match name {
        "time" => Item::Time,
        "host" => Item::Host,
        "remote_addr" => Item::RemoteAddr,
        "server_addr" => Item::ServerAddr,
        "vip" => Item::Vip,
        "is_trust_clientip" => Item::IsTrustClientip,
        "product" => Item::Product,
        "cluster_name" => Item::ClusterName,
        "subcluster" => Item::Subcluster,
        "backend" => Item::Backend,
        "retry_num" => Item::RetryNum,
        "log_id" => Item::LogId,
        "error" => Item::Error,
        "request_line" => Item::RequestLine,
        "req_uri" => Item::ReqUri,
        "url" => Item::Url,
        "req_header" => Item::ReqHeader(p()),
        "req_cookie" => Item::ReqCookie(p()),
        "req_nth" => Item::ReqNth,
        "req_body_len" => Item::ReqBodyLen,
        "status_code" => Item::StatusCode,
        "res_proto" => Item::ResProto,
        "res_header" => Item::ResHeader(p()),
        "res_cookie" => Item::ResCookie(p()),
        "res_len" => Item::ResLen,
        "res_body_len" => Item::ResBodyLen,
        "redirect" => Item::Redirect,
        "request_time" => Item::RequestTime,
        "all_time" => Item::AllTime,
        "read_req_duration" => Item::ReadReqDuration,
        "proxy_delay" => Item::ProxyDelay,
        "connect_time" => Item::ConnectTime,
        "last_backend_duration" => Item::LastBackendDuration,
        "write_serve_time" => Item::WriteServeTime,
        "cluster_duration" => Item::ClusterDuration,
        "response_duration" => Item::ResponseDuration,
        "readwrite_serve_time" => Item::ReadwriteServeTime,
        "since_ses_start_time" => Item::SinceSesStartTime,
        "ses_clientip" => Item::SesClientip,
        "ses_start_time" => Item::SesStartTime,
        "ses_end_time" => Item::SesEndTime,
        "ses_overhead" => Item::SesOverhead,
        "ses_read_total" => Item::SesReadTotal,
        "ses_write_total" => Item::SesWriteTotal,
        "ses_keepalive_num" => Item::SesKeepaliveNum,
        "ses_error" => Item::SesError,
        "ses_is_secure" => Item::SesIsSecure,
        "ses_use100" => Item::SesUse100,
        other => {
            return Err(format!(
                "item {other} is not supported: ringfront's TLS stack does not expose the handshake randoms"
            ))
        }
    })
}

/// Whether `item` reads request step timings (so the worker must record them).
pub fn needs_timings(item: &Item) -> bool {
    matches!(
        item,
        Item::RequestTime
            | Item::AllTime
            | Item::ReadReqDuration
            | Item::ProxyDelay
            | Item::ConnectTime
            | Item::LastBackendDuration
            | Item::WriteServeTime
            | Item::ClusterDuration
            | Item::ResponseDuration
            | Item::ReadwriteServeTime
    )
}

/// Expand the `COMMON` / `COMBINED` keywords (whole value only, as BFE).
pub fn expand_request(text: &str) -> &str {
    match text {
        "COMMON" => COMMON,
        "COMBINED" => COMBINED,
        t => t,
    }
}

/// Compile `text` for `domain` (`Request` or `Session`). The error names
/// the item and says why, for the caller to prefix with file and key.
pub fn compile(text: &str, domain: Domain) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut lit: Vec<u8> = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        lit.extend_from_slice(&rest.as_bytes()[..i]);
        let after = &rest[i + 1..];
        if after.is_empty() {
            return Err("template ends with '$'".into());
        }
        let (param, tail) = match after.strip_prefix('{') {
            Some(p) => {
                let Some(end) = p.find('}') else {
                    return Err(format!("'{{' without '}}' in ${after}"));
                };
                if end + 1 == p.len() {
                    return Err(format!("'}}' ends the template in ${after}"));
                }
                (Some(&p[..end]), &p[end + 1..])
            }
            None => (None, after),
        };
        let Some(&(name, d)) = NAMES.iter().find(|(n, _)| tail.starts_with(n)) else {
            return Err(format!("unknown item at ${after}"));
        };
        if d != Domain::Both && d != domain {
            let want = match domain {
                Domain::Session => "session",
                _ => "request",
            };
            return Err(format!("item {name} cannot be used in a {want} template"));
        }
        let item = item_of(name, param.unwrap_or(name))?;
        if !lit.is_empty() {
            out.push(Piece::Text(std::mem::take(&mut lit).into_boxed_slice()));
        }
        let key = match (&item, param) {
            (
                Item::ReqHeader(_) | Item::ResHeader(_) | Item::ReqCookie(_) | Item::ResCookie(_),
                Some(p),
            ) => {
                format!("{name}.{p}")
            }
            _ => name.to_string(),
        };
        out.push(Piece::Item {
            item,
            key: key.into_boxed_str(),
        });
        rest = &tail[name.len()..];
    }
    lit.extend_from_slice(rest.as_bytes());
    if !lit.is_empty() {
        out.push(Piece::Text(lit.into_boxed_slice()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(p: &[Piece]) -> Vec<&Item> {
        p.iter()
            .filter_map(|p| match p {
                Piece::Item { item, .. } => Some(item),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn literal_and_items_split_where_the_name_ends() {
        let p = compile(
            "a $hostfoo ${User-Agent}req_header$status_code",
            Domain::Request,
        )
        .unwrap();
        assert_eq!(p[0], Piece::Text(b"a ".to_vec().into()));
        assert_eq!(
            p[1],
            Piece::Item {
                item: Item::Host,
                key: "host".into()
            }
        );
        assert_eq!(p[2], Piece::Text(b"foo ".to_vec().into()));
        assert_eq!(
            p[3],
            Piece::Item {
                item: Item::ReqHeader("User-Agent".into()),
                key: "req_header.User-Agent".into()
            }
        );
        assert_eq!(items(&p)[2], &Item::StatusCode);
    }

    #[test]
    fn bare_parameterised_item_uses_its_own_name() {
        let p = compile("$req_header", Domain::Request).unwrap();
        assert_eq!(items(&p), vec![&Item::ReqHeader("req_header".into())]);
    }

    #[test]
    fn errors_bfe_refuses() {
        for bad in ["abc $", "${Host", "${Host}", "$nope", "${x}nope"] {
            assert!(compile(bad, Domain::Request).is_err(), "{bad}");
        }
        let e = compile("$ses_clientip", Domain::Request).unwrap_err();
        assert!(e.contains("ses_clientip") && e.contains("request"), "{e}");
        let e = compile("$host", Domain::Session).unwrap_err();
        assert!(e.contains("host") && e.contains("session"), "{e}");
        assert!(compile("$time", Domain::Session).is_ok());
        assert!(compile("$ses_tls_client_random", Domain::Session).is_err());
    }

    #[test]
    fn keywords_expand_and_compile() {
        assert_eq!(expand_request("COMMON"), COMMON);
        let p = compile(expand_request("COMBINED"), Domain::Request).unwrap();
        assert_eq!(items(&p).len(), 7);
        assert!(items(&p).iter().any(|i| needs_timings(i)));
    }
}
