//! BFE's condition language, compiled once per load into a tree that
//! evaluates against a request without allocating.
//!
//! `expr := expr "||" expr | expr "&&" expr | "!" expr | "(" expr ")" | call`
//! with `!` > `&&` > `||`, `//` comments, and string / integer / boolean
//! arguments. Primitives are listed in [`primitive::PRIMITIVES`]; each reads
//! one part of the request ([`fetch`]) and compares it ([`matcher`], [`ip`],
//! [`time`]).

pub mod fetch;
pub mod hash;
pub mod ip;
mod lexer;
pub mod matcher;
pub mod params;
mod parser;
pub mod primitive;
#[cfg(test)]
mod primitive_tests;
pub mod time;

use super::RequestFacts;
use std::fmt;

pub use primitive::{ArgType, ArgValue, Prim, PrimitiveDef, PRIMITIVES};

/// A compiled condition.
#[derive(Debug, Clone)]
pub enum Cond {
    Prim(Prim),
    Not(Box<Cond>),
    /// `a && b && …`, short-circuiting left to right.
    All(Vec<Cond>),
    /// `a || b || …`, short-circuiting left to right.
    Any(Vec<Cond>),
}

impl Cond {
    pub fn compile(text: &str) -> Result<Cond, CondError> {
        let tokens = lexer::tokenize(text).map_err(|e| e.locate(text))?;
        parser::parse(&tokens).map_err(|e| e.locate(text))
    }

    pub fn eval<R: RequestFacts + ?Sized>(&self, req: &R) -> bool {
        match self {
            Cond::Prim(p) => p.eval(req),
            Cond::Not(c) => !c.eval(req),
            Cond::All(cs) => cs.iter().all(|c| c.eval(req)),
            Cond::Any(cs) => cs.iter().any(|c| c.eval(req)),
        }
    }
}

/// A parse or type error at a position in the condition text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CondError {
    /// Byte offset into the condition.
    pub pos: usize,
    /// 1-based line and column (in characters) of `pos`.
    pub line: usize,
    pub column: usize,
    pub msg: String,
}

impl CondError {
    pub(crate) fn new(pos: usize, msg: impl Into<String>) -> CondError {
        CondError {
            pos,
            line: 1,
            column: pos + 1,
            msg: msg.into(),
        }
    }

    fn locate(mut self, text: &str) -> CondError {
        let pos = self.pos.min(text.len());
        let before = text.get(..pos).unwrap_or(text);
        self.line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        self.column = before[line_start..].chars().count() + 1;
        self
    }
}

impl fmt::Display for CondError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 1 {
            write!(f, "line {} column {}: {}", self.line, self.column, self.msg)
        } else {
            write!(f, "column {}: {}", self.column, self.msg)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::test_req::Req;

    fn ev(cond: &str, req: &Req) -> bool {
        Cond::compile(cond)
            .unwrap_or_else(|e| panic!("{cond}: {e}"))
            .eval(req)
    }

    fn err(cond: &str) -> CondError {
        Cond::compile(cond).unwrap_err()
    }

    #[test]
    fn precedence_and_parentheses() {
        let r = Req::get("a.com", "/x");
        // ! binds tighter than &&, && tighter than ||.
        assert!(ev("default_t() || !default_t() && !default_t()", &r));
        assert!(!ev("(default_t() || !default_t()) && !default_t()", &r));
        assert!(ev("!!default_t()", &r));
        assert!(!ev("!(default_t() && default_t())", &r));
        assert!(ev("!default_t() || default_t() && default_t()", &r));
    }

    #[test]
    fn comments() {
        let r = Req::get("a.com", "/x");
        assert!(ev(
            "// leading\ndefault_t() // trailing\n && req_path_in(\"/x\", false) // end",
            &r
        ));
    }

    #[test]
    fn host_in() {
        let r = Req::get("WWW.A.com:8080", "/");
        assert!(ev(r#"req_host_in("b.com|www.a.COM")"#, &r));
        assert!(!ev(r#"req_host_in("a.com")"#, &r));
        assert!(err(r#"req_host_in("a.com:80")"#).msg.contains("port"));
    }

    #[test]
    fn path_prefix_and_exact() {
        let r = Req::get("a.com", "/API/v1%2Fx");
        assert!(ev(r#"req_path_prefix_in("/api", true)"#, &r));
        assert!(!ev(r#"req_path_prefix_in("/api", false)"#, &r));
        assert!(ev(r#"req_path_prefix_in("/x|/API/v1/", false)"#, &r));
        assert!(ev(r#"req_path_in("/api/v1/x", true)"#, &r));
        assert!(!ev(r#"req_path_in("/api/v1/x", false)"#, &r));
        assert!(!ev(r#"req_path_in("/API", false)"#, &r));
    }

    #[test]
    fn method_in() {
        let r = Req::get("a.com", "/");
        assert!(ev(r#"req_method_in("post|get")"#, &r));
        assert!(!ev(r#"req_method_in("POST")"#, &r));
    }

    #[test]
    fn header_value_in() {
        let r = Req::get("a.com", "/").with_header("X-Env", "Canary");
        assert!(ev(r#"req_header_value_in("x-env", "canary", true)"#, &r));
        assert!(!ev(r#"req_header_value_in("X-Env", "canary", false)"#, &r));
        assert!(ev(
            r#"req_header_value_in("X-Env", "prod|Canary", false)"#,
            &r
        ));
        assert!(!ev(r#"req_header_value_in("X-Other", "canary", true)"#, &r));
        // Missing header reads as "", as in BFE.
        assert!(ev(r#"req_header_value_in("X-Other", "", true)"#, &r));
    }

    #[test]
    fn errors() {
        let e = err("default_t(1)");
        assert!(e.msg.contains("argument"), "{e}");
        assert_eq!(e.column, 1);
        let e = err(r#"req_path_in("/a", "yes")"#);
        assert!(e.msg.contains("boolean"), "{e}");
        assert_eq!(e.column, 19);
        let e = err("default_t() && nope()");
        assert!(e.msg.contains("unknown primitive nope"));
        assert_eq!(e.column, 16);
        let e = err(r#"req_host_in("abc)"#);
        assert!(e.msg.contains("unterminated"));
        assert_eq!(e.column, 13);
        assert!(err("default_t(").msg.contains("argument"));
        assert!(err("(default_t()").msg.contains("')'"));
        assert!(err("default_t() default_t()").msg.contains("unexpected"));
        assert!(err("").msg.contains("end"));
        assert!(err("default_t").msg.contains("'('"));
        let e = err("default_t()\n && bad()");
        assert_eq!((e.line, e.column), (2, 5));
        assert_eq!(e.to_string(), "line 2 column 5: unknown primitive bad");
    }

    #[test]
    fn no_panic_on_garbage() {
        for s in [
            "(((", ")", "!", "&&", "a(,)", "a(\"\\", "é", "a(true,", "\"", "`", "-", "a(-)",
        ] {
            let _ = Cond::compile(s);
        }
    }
}
