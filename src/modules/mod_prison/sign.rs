//! The access signature of a request for one rule: what BFE feeds to MD5
//! (`&label=<Cond>&clientIP=…&url=…`), fed instead to two SipHash-1-3
//! hashers keyed at random per worker, giving 128 bits without building the
//! string. The signature never leaves the worker, so only its grouping
//! matters: requests BFE would give one signature get one here.

use super::conf::PrisonRule;
use crate::basic::Request;
use crate::route::condition::params::query_value;
use crate::route::RequestFacts;
use std::collections::hash_map::{DefaultHasher, RandomState};
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;

pub(super) struct Signer {
    keys: (RandomState, RandomState),
}

/// Both hashers, fed the same bytes.
struct Sig {
    a: DefaultHasher,
    b: DefaultHasher,
}

impl Sig {
    fn write(&mut self, bytes: &[u8]) {
        self.a.write(bytes);
        self.b.write(bytes);
    }

    /// `&key=value`, as BFE's `buildKeyValue`.
    fn kv(&mut self, key: &[u8], value: &[u8]) {
        self.write(b"&");
        self.write(key);
        self.write(b"=");
        self.write(value);
    }

    fn ip(&mut self, key: &[u8], ip: IpAddr) {
        match ip {
            IpAddr::V4(v4) => self.kv(key, &v4.octets()),
            IpAddr::V6(v6) => self.kv(key, &v6.octets()),
        }
    }

    fn finish(&self) -> u128 {
        (u128::from(self.a.finish()) << 64) | u128::from(self.b.finish())
    }
}

impl Signer {
    pub(super) fn new() -> Self {
        Signer {
            keys: (RandomState::new(), RandomState::new()),
        }
    }

    /// The signature, or `None` when the request lacks an element the rule
    /// requires (the rule is then skipped for it, as in BFE).
    pub(super) fn sign(&self, rule: &PrisonRule, req: &Request) -> Option<u128> {
        let s = &rule.sign;
        let mut h = Sig {
            a: self.keys.0.build_hasher(),
            b: self.keys.1.build_hasher(),
        };
        h.kv(b"label", rule.cond_text.as_bytes());
        if s.use_socket_ip {
            h.ip(b"socketIP", req.ses.peer.ip());
        }
        if s.use_client_ip {
            h.ip(b"clientIP", req.client_ip);
        }
        if s.use_connect_id {
            h.kv(b"connectID", &req.ses.id.to_le_bytes());
        }
        if s.use_url {
            h.kv(b"url", req.uri());
        }
        if s.use_host {
            h.kv(b"host", req.host());
        }
        if s.use_path {
            h.kv(b"path", req.path());
        }
        if let Some(re) = &s.url_regexp {
            let caps = re.captures(req.uri())?;
            h.write(b"&urlpattern=");
            for (i, g) in caps.iter().skip(1).enumerate() {
                if i > 0 {
                    h.write(b",");
                }
                h.write(g.map_or(&b""[..], |m| m.as_bytes()));
            }
        }
        for name in &s.header {
            let v = req.header(name.as_bytes()).filter(|v| !v.is_empty())?;
            h.kv(name.as_bytes(), v);
        }
        for name in &s.cookie {
            let v = req.cookie(name)?;
            h.kv(name.as_bytes(), v);
        }
        if !s.query.is_empty() {
            let q = req.query();
            for (text, alts) in &s.query {
                h.write(b"&");
                h.write(text.as_bytes());
                h.write(b"=");
                let mut any = false;
                for alt in alts {
                    if let Some(v) = query_value(q, alt.as_bytes()).filter(|v| !v.is_empty()) {
                        h.write(v);
                        any = true;
                    }
                }
                if !any {
                    return None;
                }
            }
        }
        if s.use_headers {
            let host = req.host();
            req.each_header(&mut |name, value| {
                let v = if name.eq_ignore_ascii_case(b"host") {
                    host
                } else {
                    value
                };
                h.kv(name, v);
                true
            });
        }
        Some(h.finish())
    }
}
