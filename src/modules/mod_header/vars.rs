//! BFE's header value variables (`%bfe_client_ip`, …): the names known at
//! load, and their values for one request, written into a caller's buffer
//! so expanding a value allocates nothing of its own.

use crate::basic::{text, Request};
use crate::route::RequestFacts;
use std::fmt::Write;

/// Every variable BFE's mod_header knows (`VariableHandlers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    ClientIp,
    ClientPort,
    RequestHost,
    SessionId,
    LogId,
    Vip,
    Bip,
    Rip,
    ServerName,
    Cluster,
    BackendInfo,
    SslResume,
    SslCipher,
    SslVersion,
    SslJa3Raw,
    SslJa3Hash,
    Protocol,
    CertSerialNumber,
    CertSubjectTitle,
    CertSubjectCommonName,
    CertSubjectOrganization,
    CertSubjectOrganizationalUnit,
    CertSubjectProvince,
    CertSubjectCountry,
    CertSubjectLocality,
    Http2Fingerprint,
    Geo(&'static str),
}

const NAMES: &[(&str, Var)] = &[
    ("bfe_client_ip", Var::ClientIp),
    ("bfe_client_port", Var::ClientPort),
    ("bfe_request_host", Var::RequestHost),
    ("bfe_session_id", Var::SessionId),
    ("bfe_log_id", Var::LogId),
    ("bfe_cip", Var::ClientIp),
    ("bfe_vip", Var::Vip),
    ("bfe_bip", Var::Bip),
    ("bfe_rip", Var::Rip),
    ("bfe_server_name", Var::ServerName),
    ("bfe_cluster", Var::Cluster),
    ("bfe_backend_info", Var::BackendInfo),
    ("bfe_ssl_resume", Var::SslResume),
    ("bfe_ssl_cipher", Var::SslCipher),
    ("bfe_ssl_version", Var::SslVersion),
    ("bfe_ssl_ja3_raw", Var::SslJa3Raw),
    ("bfe_ssl_ja3_hash", Var::SslJa3Hash),
    ("bfe_protocol", Var::Protocol),
    ("client_cert_serial_number", Var::CertSerialNumber),
    ("client_cert_subject_title", Var::CertSubjectTitle),
    (
        "client_cert_subject_common_name",
        Var::CertSubjectCommonName,
    ),
    (
        "client_cert_subject_organization",
        Var::CertSubjectOrganization,
    ),
    (
        "client_cert_subject_organizational_unit",
        Var::CertSubjectOrganizationalUnit,
    ),
    ("client_cert_subject_province", Var::CertSubjectProvince),
    ("client_cert_subject_country", Var::CertSubjectCountry),
    ("client_cert_subject_locality", Var::CertSubjectLocality),
    ("bfe_http2_fingerprint", Var::Http2Fingerprint),
    (
        "bfe_client_geo_country_iso_code",
        Var::Geo("mod_geo.country_iso_code"),
    ),
    (
        "bfe_client_geo_subdivision_iso_code",
        Var::Geo("mod_geo.subdivision_iso_code"),
    ),
    ("bfe_client_geo_city_name", Var::Geo("mod_geo.city_name")),
    ("bfe_client_geo_latitude", Var::Geo("mod_geo.latitude")),
    ("bfe_client_geo_longitude", Var::Geo("mod_geo.longitude")),
];

/// The variable called `name` (without `%`).
pub fn lookup(name: &str) -> Option<Var> {
    NAMES.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// The client's port when the request's client address is the session's
/// (a trusted proxy's header may name another address, without a port).
pub fn client_port(req: &Request) -> Option<u16> {
    let c = req.ses.client();
    (c.ip() == req.client_ip).then_some(c.port())
}

/// Append the value of `v` for `req` to `out` ("" where BFE has none).
/// `server_name` is the host name, read once at load.
pub fn expand(v: Var, req: &Request, server_name: &str, out: &mut String) {
    match v {
        Var::ClientIp => text::push_ip(out, req.client_ip),
        Var::ClientPort => {
            if let Some(p) = client_port(req) {
                text::push_u64(out, p.into());
            }
        }
        Var::RequestHost => out.push_str(&String::from_utf8_lossy(req.host())),
        Var::SessionId => {
            // mod_logid gives the session its id at HandleAccept.
            if let Some(id) = req.ses.session_id() {
                out.push_str(id);
            }
        }
        Var::LogId => out.push_str(req.log_id.as_deref().unwrap_or("")),
        Var::Vip => text::push_ip(out, req.ses.local.ip()),
        // The listener's own address: not the VIP behind a PROXY header.
        Var::Rip => text::push_ip(out, req.ses.server_addr.ip()),
        // The layer-4 balancer, known only from a PROXY header.
        Var::Bip => match req.ses.balancer {
            Some(b) => text::push_ip(out, b.ip()),
            None => out.push_str("unknown"),
        },
        Var::ServerName => out.push_str(server_name),
        Var::Cluster => out.push_str(req.cluster_name().unwrap_or("")),
        Var::BackendInfo => backend_info(req, out),
        Var::SslVersion => {
            if let Some(t) = req.ses.tls() {
                out.push_str(openssl_version(t.version));
            }
        }
        Var::Protocol => out.push_str(protocol(req)),
        // Not recorded by ringfront's TLS layer (see docs/modules/mod_header.md).
        Var::SslResume
        | Var::SslCipher
        | Var::SslJa3Raw
        | Var::SslJa3Hash
        | Var::CertSerialNumber
        | Var::CertSubjectTitle
        | Var::CertSubjectCommonName
        | Var::CertSubjectOrganization
        | Var::CertSubjectOrganizationalUnit
        | Var::CertSubjectProvince
        | Var::CertSubjectCountry
        | Var::CertSubjectLocality
        | Var::Http2Fingerprint => {}
        Var::Geo(key) => out.push_str(req.ctx.value(key).unwrap_or("")),
    }
}

/// BFE's `req.Protocol()`: `h2` on HTTP/2, `https` on TLS, else `http`.
fn protocol(req: &Request) -> &'static str {
    match req.ses.tls() {
        Some(t) if t.alpn.as_deref() == Some(b"h2") => "h2",
        Some(_) => "https",
        None => "http",
    }
}

fn openssl_version(v: &str) -> &'static str {
    match v {
        "TLSv1_3" => "TLSv1.3",
        "TLSv1_2" => "TLSv1.2",
        "TLSv1_1" => "TLSv1.1",
        "TLSv1_0" => "TLSv1",
        _ => "",
    }
}

/// `ClusterName:<c>,SubClusterName:<s>,BackendName:<n>(<addr>)`.
fn backend_info(req: &Request, out: &mut String) {
    let cluster = req.cluster_conf();
    let sub = cluster.and_then(|c| req.route.subcluster.and_then(|i| c.subclusters.get(i)));
    let pick = req.route.backend;
    let name = sub
        .zip(pick)
        .and_then(|(s, p)| s.backends.get(p.index))
        .map_or("", |b| b.name.as_str());
    let _ = write!(
        out,
        "ClusterName:{},SubClusterName:{},BackendName:{}(",
        cluster.map_or("", |c| c.name.as_str()),
        sub.map_or("", |s| s.name.as_str()),
        name
    );
    if let Some(p) = pick {
        let _ = write!(out, "{}", p.addr);
    }
    out.push(')');
}

/// The machine's host name (BFE's `os.Hostname()`), `unknown` on error.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `len` bytes into the buffer.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".to_string();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::basic::RequestBuilder;

    #[test]
    fn session_and_log_ids_come_from_mod_logid() {
        let mut req = RequestBuilder::get("example.org", "/").build();
        let mut out = String::new();
        expand(Var::SessionId, &req, "h", &mut out);
        assert_eq!(out, "", "no id before mod_logid gives one");
        req.ses.set_session_id("0123abcd".into());
        req.log_id = Some("feed".into());
        expand(Var::SessionId, &req, "h", &mut out);
        out.push('|');
        expand(Var::LogId, &req, "h", &mut out);
        assert_eq!(out, "0123abcd|feed");
    }
}
