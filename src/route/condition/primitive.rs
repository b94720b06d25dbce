//! Primitives of the condition language, split as BFE splits them: a
//! *fetch* (which part of the request) and a *test* (how it is compared).
//! Adding a primitive is one [`PRIMITIVES`] entry whose `build` combines an
//! existing fetch and test; only a new kind of request part or comparison
//! needs a new enum variant.

use crate::route::bytes::{decoded, iter_eq, iter_starts_with, strip_port};
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

/// One entry of the primitive table.
pub struct PrimitiveDef {
    pub name: &'static str,
    pub args: &'static [ArgType],
    /// Called with arguments already checked against `args`.
    pub build: fn(&[ArgValue]) -> Result<Prim, String>,
}

use ArgType::{Bool as B, Str as S};

/// BFE names and argument lists (`bfe_basic/condition/parser/semant.go`).
pub static PRIMITIVES: &[PrimitiveDef] = &[
    PrimitiveDef {
        name: "default_t",
        args: &[],
        build: |_| Ok(Prim::True),
    },
    PrimitiveDef {
        name: "req_host_in",
        args: &[S],
        build: |a| {
            let v = Values::new(str_arg(a, 0), true);
            if v.items.iter().any(|h| h.contains(&b':')) {
                return Err("port should not be included in host".into());
            }
            Ok(Prim::Check(Fetch::Host, Test::In(v)))
        },
    },
    PrimitiveDef {
        name: "req_path_in",
        args: &[S, B],
        build: |a| {
            Ok(Prim::Check(
                Fetch::Path,
                Test::In(Values::new(str_arg(a, 0), bool_arg(a, 1))),
            ))
        },
    },
    PrimitiveDef {
        name: "req_path_prefix_in",
        args: &[S, B],
        build: |a| {
            Ok(Prim::Check(
                Fetch::Path,
                Test::PrefixIn(Values::new(str_arg(a, 0), bool_arg(a, 1))),
            ))
        },
    },
    PrimitiveDef {
        name: "req_method_in",
        args: &[S],
        build: |a| {
            Ok(Prim::Check(
                Fetch::Method,
                Test::In(Values::new(str_arg(a, 0), true)),
            ))
        },
    },
    PrimitiveDef {
        name: "req_header_value_in",
        args: &[S, S, B],
        build: |a| {
            let name = str_arg(a, 0).as_bytes().to_vec().into_boxed_slice();
            Ok(Prim::Check(
                Fetch::Header(name),
                Test::In(Values::new(str_arg(a, 1), bool_arg(a, 2))),
            ))
        },
    },
];

pub fn lookup(name: &str) -> Option<&'static PrimitiveDef> {
    PRIMITIVES.iter().find(|p| p.name == name)
}

fn str_arg(a: &[ArgValue], i: usize) -> &str {
    match a.get(i) {
        Some(ArgValue::Str(s)) => s,
        _ => "",
    }
}

fn bool_arg(a: &[ArgValue], i: usize) -> bool {
    matches!(a.get(i), Some(ArgValue::Bool(true)))
}

/// A compiled primitive.
#[derive(Debug, Clone)]
pub enum Prim {
    True,
    Check(Fetch, Test),
}

/// Which part of the request a primitive looks at.
#[derive(Debug, Clone)]
pub enum Fetch {
    /// Host header without port.
    Host,
    Method,
    /// Percent-decoded path, as BFE compares Go's `URL.Path`.
    Path,
    /// First value of the named header; absent reads as empty, as Go's
    /// `Header.Get` does (so `""` in the list matches a missing header).
    Header(Box<[u8]>),
}

/// How the fetched bytes are compared.
#[derive(Debug, Clone)]
pub enum Test {
    In(Values),
    PrefixIn(Values),
}

/// A `|`-separated value list, kept as given; `fold` compares ASCII
/// case-insensitively in place rather than upper-casing copies.
#[derive(Debug, Clone)]
pub struct Values {
    pub items: Vec<Box<[u8]>>,
    pub fold: bool,
}

impl Values {
    pub fn new(list: &str, fold: bool) -> Values {
        let items = list
            .split('|')
            .map(|s| s.as_bytes().to_vec().into_boxed_slice())
            .collect();
        Values { items, fold }
    }
}

/// The fetched bytes and whether they still need percent-decoding.
enum Subject<'a> {
    Plain(&'a [u8]),
    Encoded(&'a [u8]),
}

impl Subject<'_> {
    fn eq(&self, want: &[u8], fold: bool) -> bool {
        match self {
            Subject::Plain(s) => iter_eq(s.iter().copied(), want, fold),
            Subject::Encoded(s) => iter_eq(decoded(s), want, fold),
        }
    }

    fn starts_with(&self, want: &[u8], fold: bool) -> bool {
        match self {
            Subject::Plain(s) => iter_starts_with(s.iter().copied(), want, fold),
            Subject::Encoded(s) => iter_starts_with(decoded(s), want, fold),
        }
    }
}

impl Prim {
    pub fn eval<R: RequestFacts + ?Sized>(&self, req: &R) -> bool {
        match self {
            Prim::True => true,
            Prim::Check(fetch, test) => {
                let subject = match fetch {
                    Fetch::Host => Subject::Plain(strip_port(req.host())),
                    Fetch::Method => Subject::Plain(req.method()),
                    Fetch::Path => Subject::Encoded(req.path()),
                    Fetch::Header(name) => Subject::Plain(req.header(name).unwrap_or(b"")),
                };
                match test {
                    Test::In(v) => v.items.iter().any(|w| subject.eq(w, v.fold)),
                    Test::PrefixIn(v) => v.items.iter().any(|w| subject.starts_with(w, v.fold)),
                }
            }
        }
    }
}
