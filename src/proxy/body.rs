//! Streaming one body from a source to a sink, re-framed on the way.
//!
//! A [`Pump`] knows the incoming framing and whether the outgoing side is
//! chunked. Length-delimited bodies forwarded as such go straight from the
//! read buffer to the socket (`direct`); every other combination is decoded
//! and framed into an output buffer. Memory stays bounded by the buffers,
//! whatever the body's size.

use crate::http::chunked::{self, ChunkError, Decoder, Event};
use crate::http::BodyKind;

/// Largest trailer section relayed.
const MAX_TRAILERS: usize = 16 * 1024;

pub(crate) struct Pump {
    kind: BodyKind,
    remaining: u64,
    decoder: Decoder,
    out_chunked: bool,
    trailers_started: bool,
    done: bool,
    /// Body bytes seen so far (decoded).
    pub seen: u64,
}

impl Pump {
    pub(super) fn new(kind: BodyKind, out_chunked: bool) -> Self {
        Pump {
            kind,
            remaining: match kind {
                BodyKind::Length(n) => n,
                _ => 0,
            },
            decoder: Decoder::new(MAX_TRAILERS),
            out_chunked,
            trailers_started: false,
            done: matches!(kind, BodyKind::None),
            seen: 0,
        }
    }

    pub(super) fn is_done(&self) -> bool {
        self.done
    }

    /// Bytes can be written exactly as read (length in, length out).
    pub(super) fn is_direct(&self) -> bool {
        matches!(self.kind, BodyKind::Length(_)) && !self.out_chunked
    }

    /// For length-delimited input: how many more bytes belong to the body,
    /// so reads never take bytes of the next message.
    pub(super) fn wanted(&self) -> usize {
        match self.kind {
            BodyKind::Length(_) => self.remaining.min(usize::MAX as u64) as usize,
            _ => usize::MAX,
        }
    }

    /// Account for `n` bytes forwarded directly (see [`Pump::is_direct`]).
    pub(super) fn advance_direct(&mut self, n: usize) {
        let n = (n as u64).min(self.remaining);
        self.remaining -= n;
        self.seen += n;
        if self.remaining == 0 {
            self.done = true;
        }
    }

    /// Consume body bytes from `input`, appending what should be sent to
    /// `out`. Returns how many input bytes belonged to the body.
    pub(super) fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, ChunkError> {
        if self.done {
            return Ok(0);
        }
        match self.kind {
            BodyKind::None => Ok(0),
            BodyKind::Length(_) => {
                let take = (input.len() as u64).min(self.remaining) as usize;
                self.emit(&input[..take], out);
                self.advance_direct(take);
                Ok(take)
            }
            BodyKind::UntilClose => {
                self.seen += input.len() as u64;
                self.emit(input, out);
                Ok(input.len())
            }
            BodyKind::Chunked => {
                let mut off = 0;
                while off < input.len() && !self.done {
                    let (n, ev) = self.decoder.feed(&input[off..])?;
                    off += n;
                    match ev {
                        Some(Event::Data(d)) => {
                            self.seen += d.len() as u64;
                            self.emit(d, out);
                        }
                        Some(Event::Trailer(t)) if self.out_chunked => {
                            if !self.trailers_started {
                                out.extend_from_slice(chunked::LAST_CHUNK);
                                self.trailers_started = true;
                            }
                            out.extend_from_slice(t);
                        }
                        // A client that cannot take chunked coding gets no
                        // trailers.
                        Some(Event::Trailer(_)) => {}
                        Some(Event::End) => {
                            self.finish(out);
                        }
                        None => {}
                    }
                }
                Ok(off)
            }
        }
    }

    /// The source closed. Fine for close-delimited bodies (the chunked
    /// output gets its last chunk); a truncated body otherwise.
    pub(super) fn source_closed(&mut self, out: &mut Vec<u8>) -> bool {
        if self.done {
            return true;
        }
        if self.kind == BodyKind::UntilClose {
            self.finish(out);
            return true;
        }
        false
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.out_chunked {
            if !self.trailers_started {
                out.extend_from_slice(chunked::LAST_CHUNK);
            }
            out.extend_from_slice(chunked::CHUNK_END);
        }
        self.done = true;
    }

    fn emit(&self, data: &[u8], out: &mut Vec<u8>) {
        if data.is_empty() {
            return;
        }
        if self.out_chunked {
            chunked::write_chunk_header(out, data.len());
            out.extend_from_slice(data);
            out.extend_from_slice(chunked::CHUNK_END);
        } else {
            out.extend_from_slice(data);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_to_chunked_keeps_trailers() {
        let mut p = Pump::new(BodyKind::Chunked, true);
        let mut out = Vec::new();
        let input = b"3\r\nabc\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        let n = p.feed(input, &mut out).unwrap();
        assert_eq!(&input[n..], b"NEXT");
        assert!(p.is_done());
        assert_eq!(out, b"3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n");
    }

    #[test]
    fn chunked_to_raw_and_close_to_chunked() {
        let mut p = Pump::new(BodyKind::Chunked, false);
        let mut out = Vec::new();
        p.feed(b"2\r\nhi\r\n0\r\n\r\n", &mut out).unwrap();
        assert_eq!(out, b"hi");
        let mut p = Pump::new(BodyKind::UntilClose, true);
        let mut out = Vec::new();
        p.feed(b"abc", &mut out).unwrap();
        assert!(p.source_closed(&mut out));
        assert_eq!(out, b"3\r\nabc\r\n0\r\n\r\n");
    }

    #[test]
    fn length_stops_at_boundary() {
        let mut p = Pump::new(BodyKind::Length(3), false);
        let mut out = Vec::new();
        assert_eq!(p.feed(b"abcdef", &mut out).unwrap(), 3);
        assert!(p.is_done());
        assert!(!Pump::new(BodyKind::Length(3), false).source_closed(&mut out));
    }
}
