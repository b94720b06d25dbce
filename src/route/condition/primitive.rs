//! The primitive catalogue: BFE's names and argument lists
//! (`bfe_basic/condition/parser/semant.go`), each built from a *fetch*
//! (which part of the request) and a *test* (how it is compared), as BFE
//! splits them. Adding a primitive is one [`PRIMITIVES`] entry; only a new
//! kind of request part or comparison needs a new enum variant.
//!
//! Case-insensitive flags are BFE's: host, method and SNI lists always
//! fold case; path, query, cookie and header values fold when the last
//! boolean argument says so; names of query keys and cookies never fold,
//! header names always do.

use super::fetch::{Fetch, Keys};
use super::hash::HashTest;
use super::ip::{IpOf, IpTest};
use super::matcher::{Test, Values};
use super::params::query_pairs;
use super::time::TimeTest;
use crate::route::RequestFacts;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgType {
    Str,
    Bool,
    Int,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ArgValue {
    Str(String),
    Bool(bool),
    Int(i64),
}

impl ArgValue {
    pub fn kind(&self) -> ArgType {
        match self {
            ArgValue::Str(_) => ArgType::Str,
            ArgValue::Bool(_) => ArgType::Bool,
            ArgValue::Int(_) => ArgType::Int,
        }
    }
}

/// Why a primitive could not be built, and which argument (0-based) is at
/// fault, so the error can point at it.
pub type BuildError = (usize, String);

/// One entry of the primitive table.
pub struct PrimitiveDef {
    pub name: &'static str,
    pub args: &'static [ArgType],
    /// Called with arguments already checked against `args`.
    pub build: fn(&Args) -> Result<Prim, BuildError>,
}

/// Type-checked arguments of one call.
pub struct Args<'a>(pub &'a [ArgValue]);

impl Args<'_> {
    fn s(&self, i: usize) -> &str {
        match self.0.get(i) {
            Some(ArgValue::Str(s)) => s,
            _ => "",
        }
    }

    fn b(&self, i: usize) -> bool {
        matches!(self.0.get(i), Some(ArgValue::Bool(true)))
    }

    /// A name (header, cookie, query key) as bytes.
    fn name(&self, i: usize) -> Box<[u8]> {
        self.s(i).as_bytes().into()
    }

    /// The value list at `i`, folding case as the boolean at `fold` says.
    fn values(&self, i: usize, fold: usize) -> Values {
        Values::new(self.s(i), self.b(fold))
    }

    fn list(&self, i: usize) -> Box<[Box<[u8]>]> {
        Values::new(self.s(i), false).items
    }
}

fn at(i: usize) -> impl Fn(String) -> BuildError {
    move |msg| (i, msg)
}

fn check(fetch: Fetch, test: Test) -> Result<Prim, BuildError> {
    Ok(Prim::Bytes(fetch, test))
}

use ArgType::{Bool as B, Str as S};

/// Every supported primitive.
pub static PRIMITIVES: &[PrimitiveDef] = &[
    // Always / session flags.
    PrimitiveDef {
        name: "default_t",
        args: &[],
        build: |_| Ok(Prim::True),
    },
    PrimitiveDef {
        name: "req_cip_trusted",
        args: &[],
        build: |_| Ok(Prim::CipTrusted),
    },
    PrimitiveDef {
        name: "req_proto_secure",
        args: &[],
        build: |_| Ok(Prim::ProtoSecure),
    },
    // Addresses.
    PrimitiveDef {
        name: "req_cip_range",
        args: &[S, S],
        build: |a| ip_range(a, IpOf::Client),
    },
    PrimitiveDef {
        name: "req_vip_in",
        args: &[S],
        build: |a| {
            let t = IpTest::list(a.s(0)).map_err(at(0))?;
            Ok(Prim::Ip(IpOf::Vip, t))
        },
    },
    PrimitiveDef {
        name: "req_vip_range",
        args: &[S, S],
        build: |a| ip_range(a, IpOf::Vip),
    },
    PrimitiveDef {
        name: "ses_vip_range",
        args: &[S, S],
        build: |a| ip_range(a, IpOf::Vip),
    },
    PrimitiveDef {
        name: "ses_sip_range",
        args: &[S, S],
        build: |a| ip_range(a, IpOf::Peer),
    },
    // Method, host, port.
    PrimitiveDef {
        name: "req_method_in",
        args: &[S],
        build: |a| check(Fetch::Method, Test::In(Values::new(a.s(0), true))),
    },
    PrimitiveDef {
        name: "req_host_in",
        args: &[S],
        build: |a| {
            let v = Values::new(a.s(0), true);
            if let Some(h) = v.items.iter().find(|h| h.contains(&b':')) {
                let h = String::from_utf8_lossy(h);
                return Err((0, format!("port should not be included in host {h:?}")));
            }
            check(Fetch::Host, Test::In(v))
        },
    },
    PrimitiveDef {
        name: "req_host_suffix_in",
        args: &[S],
        build: |a| check(Fetch::Host, Test::SuffixIn(Values::new(a.s(0), true))),
    },
    PrimitiveDef {
        name: "req_host_regmatch",
        args: &[S],
        build: |a| check(Fetch::Host, Test::regex(a.s(0)).map_err(at(0))?),
    },
    PrimitiveDef {
        name: "req_port_in",
        args: &[S],
        build: |a| check(Fetch::Port, Test::In(Values::new(a.s(0), false))),
    },
    // Path and URL.
    PrimitiveDef {
        name: "req_path_in",
        args: &[S, B],
        build: |a| check(Fetch::Path, Test::In(a.values(0, 1))),
    },
    PrimitiveDef {
        name: "req_path_prefix_in",
        args: &[S, B],
        build: |a| check(Fetch::Path, Test::PrefixIn(a.values(0, 1))),
    },
    PrimitiveDef {
        name: "req_path_suffix_in",
        args: &[S, B],
        build: |a| check(Fetch::Path, Test::SuffixIn(a.values(0, 1))),
    },
    PrimitiveDef {
        name: "req_path_contain",
        args: &[S, B],
        build: |a| check(Fetch::Path, Test::Contain(a.values(0, 1))),
    },
    PrimitiveDef {
        name: "req_path_element_prefix_in",
        args: &[S, B],
        build: |a| check(Fetch::Path, Test::element_prefix(a.s(0), a.b(1))),
    },
    PrimitiveDef {
        name: "req_path_regmatch",
        args: &[S],
        build: |a| check(Fetch::Path, Test::regex(a.s(0)).map_err(at(0))?),
    },
    PrimitiveDef {
        name: "req_url_regmatch",
        args: &[S],
        build: |a| check(Fetch::Url, Test::regex(a.s(0)).map_err(at(0))?),
    },
    // Query.
    PrimitiveDef {
        name: "req_query_exist",
        args: &[],
        build: |_| Ok(Prim::QueryExist),
    },
    PrimitiveDef {
        name: "req_query_key_in",
        args: &[S],
        build: |a| Ok(Prim::HasKey(Keys::Query, a.list(0))),
    },
    PrimitiveDef {
        name: "req_query_key_prefix_in",
        args: &[S],
        build: |a| Ok(Prim::HasKey(Keys::QueryPrefix, a.list(0))),
    },
    PrimitiveDef {
        name: "req_query_value_in",
        args: &[S, S, B],
        build: |a| check(Fetch::Query(a.name(0)), Test::In(a.values(1, 2))),
    },
    PrimitiveDef {
        name: "req_query_value_prefix_in",
        args: &[S, S, B],
        build: |a| check(Fetch::Query(a.name(0)), Test::PrefixIn(a.values(1, 2))),
    },
    PrimitiveDef {
        name: "req_query_value_suffix_in",
        args: &[S, S, B],
        build: |a| check(Fetch::Query(a.name(0)), Test::SuffixIn(a.values(1, 2))),
    },
    PrimitiveDef {
        name: "req_query_value_contain",
        args: &[S, S, B],
        build: |a| check(Fetch::Query(a.name(0)), Test::Contain(a.values(1, 2))),
    },
    PrimitiveDef {
        name: "req_query_value_regmatch",
        args: &[S, S],
        build: |a| check(Fetch::Query(a.name(0)), Test::regex(a.s(1)).map_err(at(1))?),
    },
    // Cookies.
    PrimitiveDef {
        name: "req_cookie_key_in",
        args: &[S],
        build: |a| Ok(Prim::HasKey(Keys::Cookie, a.list(0))),
    },
    PrimitiveDef {
        name: "req_cookie_value_in",
        args: &[S, S, B],
        build: |a| check(Fetch::Cookie(a.name(0)), Test::In(a.values(1, 2))),
    },
    PrimitiveDef {
        name: "req_cookie_value_prefix_in",
        args: &[S, S, B],
        build: |a| check(Fetch::Cookie(a.name(0)), Test::PrefixIn(a.values(1, 2))),
    },
    PrimitiveDef {
        name: "req_cookie_value_suffix_in",
        args: &[S, S, B],
        build: |a| check(Fetch::Cookie(a.name(0)), Test::SuffixIn(a.values(1, 2))),
    },
    PrimitiveDef {
        name: "req_cookie_value_contain",
        args: &[S, S, B],
        build: |a| check(Fetch::Cookie(a.name(0)), Test::Contain(a.values(1, 2))),
    },
    // Headers.
    PrimitiveDef {
        name: "req_header_key_in",
        args: &[S],
        build: |a| Ok(Prim::HasKey(Keys::Header, a.list(0))),
    },
    PrimitiveDef {
        name: "req_header_value_in",
        args: &[S, S, B],
        build: |a| check(Fetch::Header(a.name(0)), Test::In(a.values(1, 2))),
    },
    PrimitiveDef {
        name: "req_header_value_prefix_in",
        args: &[S, S, B],
        build: |a| check(Fetch::Header(a.name(0)), Test::PrefixIn(a.values(1, 2))),
    },
    PrimitiveDef {
        name: "req_header_value_suffix_in",
        args: &[S, S, B],
        build: |a| check(Fetch::Header(a.name(0)), Test::SuffixIn(a.values(1, 2))),
    },
    PrimitiveDef {
        name: "req_header_value_contain",
        args: &[S, S, B],
        build: |a| check(Fetch::Header(a.name(0)), Test::Contain(a.values(1, 2))),
    },
    PrimitiveDef {
        name: "req_header_value_regmatch",
        args: &[S, S],
        build: |a| {
            check(
                Fetch::Header(a.name(0)),
                Test::regex(a.s(1)).map_err(at(1))?,
            )
        },
    },
    PrimitiveDef {
        name: "req_ua_regmatch",
        args: &[S],
        build: |a| {
            let ua = Fetch::Header(b"User-Agent"[..].into());
            check(ua, Test::regex(a.s(0)).map_err(at(0))?)
        },
    },
    // Response (false until the backend has answered).
    PrimitiveDef {
        name: "res_code_in",
        args: &[S],
        build: |a| check(Fetch::ResCode, Test::In(Values::new(a.s(0), false))),
    },
    PrimitiveDef {
        name: "res_header_key_in",
        args: &[S],
        build: |a| Ok(Prim::HasKey(Keys::ResHeader, a.list(0))),
    },
    PrimitiveDef {
        name: "res_header_value_in",
        args: &[S, S, B],
        build: |a| check(Fetch::ResHeader(a.name(0)), Test::In(a.values(1, 2))),
    },
    // Hash buckets (BFE's murmur3 into 0..9999).
    PrimitiveDef {
        name: "req_cip_hash_in",
        args: &[S],
        build: |a| Ok(Prim::CipHash(HashTest::new(a.s(0), false).map_err(at(0))?)),
    },
    PrimitiveDef {
        name: "req_query_value_hash_in",
        args: &[S, S, B],
        build: |a| check(Fetch::Query(a.name(0)), hash(a)?),
    },
    PrimitiveDef {
        name: "req_header_value_hash_in",
        args: &[S, S, B],
        build: |a| check(Fetch::Header(a.name(0)), hash(a)?),
    },
    PrimitiveDef {
        name: "req_cookie_value_hash_in",
        args: &[S, S, B],
        build: |a| check(Fetch::Cookie(a.name(0)), hash(a)?),
    },
    // Protocol, host tag, request tags and context values.
    PrimitiveDef {
        name: "req_proto_match",
        args: &[S],
        build: |a| check(Fetch::Proto, Test::In(Values::one(a.s(0), true))),
    },
    PrimitiveDef {
        name: "req_host_tag_in",
        args: &[S],
        build: |a| check(Fetch::HostTag, Test::In(Values::new(a.s(0), true))),
    },
    PrimitiveDef {
        name: "req_tag_match",
        args: &[S, S],
        build: |a| Ok(Prim::TagMatch(a.s(0).into(), a.s(1).into())),
    },
    PrimitiveDef {
        name: "req_context_value_in",
        args: &[S, S, B],
        build: |a| check(Fetch::Context(a.s(0).into()), Test::In(a.values(1, 2))),
    },
    // TLS and time.
    PrimitiveDef {
        name: "ses_tls_sni_in",
        args: &[S],
        build: |a| check(Fetch::Sni, Test::In(Values::new(a.s(0), true))),
    },
    PrimitiveDef {
        name: "bfe_time_range",
        args: &[S, S],
        build: |a| {
            let t = TimeTest::range(a.s(0), a.s(1))?;
            Ok(Prim::Time(t))
        },
    },
    PrimitiveDef {
        name: "bfe_periodic_time_range",
        args: &[S, S, S],
        build: |a| {
            let t = TimeTest::daily(a.s(0), a.s(1), a.s(2))?;
            Ok(Prim::Time(t))
        },
    },
];

/// BFE primitives ringfront does not implement, with why: named so a BFE
/// configuration using one gets a clear refusal, not "unknown".
pub static UNSUPPORTED: &[(&str, &str)] = &[
    ("req_path_with_vars_in", ""),
    ("req_path_with_vars_prefix_in", ""),
    ("req_body_json_in", ""),
    ("req_body_json_prefix_in", ""),
    (
        "ses_tls_client_auth",
        "ringfront's TLS listeners do not request client certificates",
    ),
    (
        "ses_tls_client_ca_in",
        "ringfront's TLS listeners do not request client certificates",
    ),
];

/// Why `name` is refused, if it is a BFE primitive ringfront lacks.
pub fn unsupported(name: &str) -> Option<&'static str> {
    UNSUPPORTED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, why)| *why)
}

/// A `*_value_hash_in(name, buckets, fold)` test.
fn hash(a: &Args) -> Result<Test, BuildError> {
    HashTest::new(a.s(1), a.b(2)).map(Test::Hash).map_err(at(1))
}

fn ip_range(a: &Args, of: IpOf) -> Result<Prim, BuildError> {
    Ok(Prim::Ip(of, IpTest::range(a.s(0), a.s(1))?))
}

pub fn lookup(name: &str) -> Option<&'static PrimitiveDef> {
    PRIMITIVES.iter().find(|p| p.name == name)
}

/// A compiled primitive.
#[derive(Debug, Clone)]
pub enum Prim {
    True,
    CipTrusted,
    ProtoSecure,
    /// The query has at least one well-formed pair.
    QueryExist,
    Bytes(Fetch, Test),
    /// Any of the names present.
    HasKey(Keys, Box<[Box<[u8]>]>),
    Ip(IpOf, IpTest),
    Time(TimeTest),
    /// `req_tag_match(name, value)`: some value of tag `name` has `value`
    /// before its first `:` (BFE's rule: `bfe:canary` matches `bfe`).
    TagMatch(Box<str>, Box<str>),
    /// `req_cip_hash_in`: the client address's bucket.
    CipHash(HashTest),
}

impl Prim {
    pub fn eval<R: RequestFacts + ?Sized>(&self, req: &R) -> bool {
        match self {
            Prim::True => true,
            Prim::CipTrusted => req.client_trusted(),
            Prim::ProtoSecure => req.is_tls(),
            Prim::QueryExist => query_pairs(req.query()).next().is_some(),
            Prim::Bytes(fetch, test) => fetch.with(req, &mut |s| test.matches(s)),
            Prim::HasKey(keys, names) => keys.any(req, names),
            Prim::Ip(of, test) => test.matches(match of {
                IpOf::Client => req.client_ip(),
                IpOf::Peer => req.peer_ip(),
                IpOf::Vip => req.vip(),
            }),
            Prim::Time(test) => test.matches(req),
            Prim::TagMatch(name, value) => req
                .tag_values(name)
                .iter()
                .any(|t| t.split(':').next() == Some(&value[..])),
            Prim::CipHash(test) => test.matches_ip(req.client_ip()),
        }
    }
}
