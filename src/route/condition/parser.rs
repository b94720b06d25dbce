//! Recursive-descent parser: `||` binds loosest, then `&&`, then `!`.
//! Each call is checked against the primitive table and compiled on the
//! spot, so a parsed condition is ready to evaluate.

use super::lexer::{Tok, Token};
use super::primitive::{self, ArgType, ArgValue, Args};
use super::{Cond, CondError};

pub(super) fn parse(tokens: &[Token]) -> Result<Cond, CondError> {
    let mut p = Parser { t: tokens, i: 0 };
    let c = p.or()?;
    let tail = p.peek();
    if tail.tok != Tok::Eof {
        return Err(CondError::new(
            tail.pos,
            "unexpected token after expression",
        ));
    }
    Ok(c)
}

struct Parser<'a> {
    t: &'a [Token],
    i: usize,
}

const EOF: Token = Token {
    tok: Tok::Eof,
    pos: 0,
};

impl Parser<'_> {
    fn peek(&self) -> &Token {
        self.t.get(self.i).or_else(|| self.t.last()).unwrap_or(&EOF)
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if self.i < self.t.len() {
            self.i += 1;
        }
        t
    }

    fn or(&mut self) -> Result<Cond, CondError> {
        let mut items = vec![self.and()?];
        while self.peek().tok == Tok::Or {
            self.bump();
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Cond::Any(items)
        })
    }

    fn and(&mut self) -> Result<Cond, CondError> {
        let mut items = vec![self.unary()?];
        while self.peek().tok == Tok::And {
            self.bump();
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Cond::All(items)
        })
    }

    fn unary(&mut self) -> Result<Cond, CondError> {
        let t = self.bump();
        match t.tok {
            Tok::Not => Ok(Cond::Not(Box::new(self.unary()?))),
            Tok::LParen => {
                let inner = self.or()?;
                let close = self.bump();
                if close.tok != Tok::RParen {
                    return Err(CondError::new(close.pos, "expected ')'"));
                }
                Ok(inner)
            }
            Tok::Ident(name) => self.call(name, t.pos),
            Tok::Eof => Err(CondError::new(t.pos, "unexpected end of condition")),
            _ => Err(CondError::new(t.pos, "expected a primitive, '!' or '('")),
        }
    }

    fn call(&mut self, name: String, pos: usize) -> Result<Cond, CondError> {
        let open = self.bump();
        if open.tok != Tok::LParen {
            return Err(CondError::new(
                open.pos,
                format!("expected '(' after {name}"),
            ));
        }
        let mut args: Vec<(ArgValue, usize)> = Vec::new();
        if self.peek().tok == Tok::RParen {
            self.bump();
        } else {
            loop {
                let a = self.bump();
                let v = match a.tok {
                    Tok::Str(s) => ArgValue::Str(s),
                    Tok::Int(n) => ArgValue::Int(n),
                    Tok::Ident(ref w) if w == "true" => ArgValue::Bool(true),
                    Tok::Ident(ref w) if w == "false" => ArgValue::Bool(false),
                    _ => {
                        return Err(CondError::new(
                            a.pos,
                            "expected a string, integer or boolean argument",
                        ))
                    }
                };
                args.push((v, a.pos));
                let sep = self.bump();
                match sep.tok {
                    Tok::Comma => continue,
                    Tok::RParen => break,
                    _ => return Err(CondError::new(sep.pos, "expected ',' or ')'")),
                }
            }
        }
        let Some(def) = primitive::lookup(&name) else {
            let msg = match primitive::unsupported(&name) {
                Some("") => format!("BFE primitive {name} is not supported by ringfront"),
                Some(why) => format!("BFE primitive {name} is not supported by ringfront: {why}"),
                None => format!("unknown primitive {name}"),
            };
            return Err(CondError::new(pos, msg));
        };
        if def.args.len() != args.len() {
            return Err(CondError::new(
                pos,
                format!(
                    "{name} takes {} argument(s), got {}",
                    def.args.len(),
                    args.len()
                ),
            ));
        }
        for (i, (want, (got, apos))) in def.args.iter().zip(&args).enumerate() {
            if *want != got.kind() {
                return Err(CondError::new(
                    *apos,
                    format!(
                        "{name} argument {} must be {}, got {}",
                        i + 1,
                        want.name(),
                        got.kind().name()
                    ),
                ));
            }
        }
        let values: Vec<ArgValue> = args.iter().map(|(v, _)| v.clone()).collect();
        (def.build)(&Args(&values))
            .map(Cond::Prim)
            .map_err(|(i, msg)| {
                let at = args.get(i).map_or(pos, |(_, p)| *p);
                CondError::new(at, format!("{name}: {msg}"))
            })
    }
}

impl ArgType {
    fn name(self) -> &'static str {
        match self {
            ArgType::Str => "a string",
            ArgType::Bool => "a boolean",
            ArgType::Int => "an integer",
        }
    }
}
