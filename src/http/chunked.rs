//! Streaming chunked coding: a decoder that never buffers and an encoder
//! that frames each piece it is handed.
//!
//! The decoder is fed whatever bytes arrived and hands back at most one
//! event per call plus how much input it consumed; data events borrow the
//! input, so body bytes are never copied by the decoder. Chunk extensions
//! are checked and skipped (bounded per line and per body), trailers are
//! checked field line by field line and passed through raw (bounded), and
//! every size or framing error is refused rather than guessed at: what the
//! decoder accepts has exactly one reading (RFC 9112 §7.1).

use std::io::Write;

/// Longest chunk-size line (size, extensions, CRLF) accepted.
pub const MAX_CHUNK_LINE: usize = 4096;

/// Most chunk-extension bytes one body may carry in all: extensions are
/// skipped, so without a bound a client could make ringfront read
/// unlimited input for a tiny body.
pub const MAX_CHUNK_EXTENSIONS: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkError {
    /// A chunk size that is not hex, empty, overflows 64 bits, or is
    /// followed by anything but whitespace, `;` or CRLF.
    BadSize,
    /// A size line longer than [`MAX_CHUNK_LINE`], or more extension bytes
    /// than [`MAX_CHUNK_EXTENSIONS`].
    LineTooLong,
    /// Missing CRLF after chunk data, bare CR/LF, a control byte, or a
    /// malformed trailer field line.
    BadFraming,
    /// Trailer section larger than the decoder's limit.
    TrailersTooLarge,
}

impl ChunkError {
    /// The status a client gets for a request body with this error.
    pub fn status(&self) -> u16 {
        match self {
            ChunkError::TrailersTooLarge => 431,
            _ => 400,
        }
    }
}

/// One thing the decoder found.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// Body bytes, in order.
    Data(&'a [u8]),
    /// Raw trailer-section bytes (field lines with their CRLFs), possibly a
    /// piece of a line; the terminating empty line is not included.
    Trailer(&'a [u8]),
    /// The message ended (last chunk and trailer section consumed).
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size,
    /// Whitespace after the size, before `;` or CRLF.
    SizeWs,
    Ext,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    /// The start of a trailer field line, or of the final empty line.
    TrailerStart,
    TrailerName,
    TrailerValue,
    TrailerLf,
    EndLf,
    Done,
}

/// The decoder for one body.
#[derive(Debug, Clone)]
pub struct Decoder {
    state: State,
    /// Digits seen in the current size line.
    digits: u32,
    /// Bytes left in the current chunk, or the size being read.
    size: u64,
    line_len: usize,
    ext_total: usize,
    trailer_len: usize,
    max_trailer: usize,
}

/// A token byte (RFC 9110 §5.6.2), as field names are made of.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A control byte other than HTAB: never valid in a line.
fn is_ctl(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

impl Decoder {
    pub fn new(max_trailer: usize) -> Self {
        Decoder {
            state: State::Size,
            digits: 0,
            size: 0,
            line_len: 0,
            ext_total: 0,
            trailer_len: 0,
            max_trailer,
        }
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consume from `input`; returns bytes consumed and the event found, if
    /// any. `(n, None)` with `n == input.len()` means: feed more input.
    pub fn feed<'a>(&mut self, input: &'a [u8]) -> Result<(usize, Option<Event<'a>>), ChunkError> {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                State::Size => match b {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        let v = (b as char).to_digit(16).unwrap_or(0) as u64;
                        // RFC 9112: `1*HEXDIG`, so leading zeros are valid;
                        // the value is capped, not the digit count (the
                        // size line's length is, below).
                        if self.size > u64::MAX >> 4 {
                            return Err(ChunkError::BadSize);
                        }
                        self.size = self.size << 4 | v;
                        self.digits += 1;
                        self.line_len += 1;
                        if self.line_len > MAX_CHUNK_LINE {
                            return Err(ChunkError::LineTooLong);
                        }
                    }
                    b'\r' if self.digits > 0 => self.state = State::SizeLf,
                    b';' if self.digits > 0 => self.state = State::Ext,
                    b' ' | b'\t' if self.digits > 0 => self.state = State::SizeWs,
                    _ => return Err(ChunkError::BadSize),
                },
                State::SizeWs => {
                    self.ext_byte()?;
                    match b {
                        b' ' | b'\t' => {}
                        b';' => self.state = State::Ext,
                        b'\r' => self.state = State::SizeLf,
                        _ => return Err(ChunkError::BadSize),
                    }
                }
                State::Ext => {
                    self.ext_byte()?;
                    match b {
                        b'\r' => self.state = State::SizeLf,
                        _ if is_ctl(b) => return Err(ChunkError::BadFraming),
                        _ => {}
                    }
                }
                State::SizeLf => {
                    if b != b'\n' {
                        return Err(ChunkError::BadFraming);
                    }
                    self.line_len = 0;
                    self.digits = 0;
                    self.state = if self.size == 0 {
                        State::TrailerStart
                    } else {
                        State::Data
                    };
                }
                State::Data => {
                    let avail = (input.len() - i) as u64;
                    let take = avail.min(self.size) as usize;
                    self.size -= take as u64;
                    if self.size == 0 {
                        self.state = State::DataCr;
                    }
                    return Ok((i + take, Some(Event::Data(&input[i..i + take]))));
                }
                State::DataCr => {
                    if b != b'\r' {
                        return Err(ChunkError::BadFraming);
                    }
                    self.state = State::DataLf;
                }
                State::DataLf => {
                    if b != b'\n' {
                        return Err(ChunkError::BadFraming);
                    }
                    self.state = State::Size;
                }
                State::TrailerStart if b == b'\r' => self.state = State::EndLf,
                State::EndLf => {
                    if b != b'\n' {
                        return Err(ChunkError::BadFraming);
                    }
                    self.state = State::Done;
                    return Ok((i + 1, Some(Event::End)));
                }
                State::TrailerStart
                | State::TrailerName
                | State::TrailerValue
                | State::TrailerLf => return self.trailer(input, i),
                State::Done => return Ok((i, Some(Event::End))),
            }
            i += 1;
        }
        Ok((i, None))
    }

    /// One more byte of the size line past the digits.
    fn ext_byte(&mut self) -> Result<(), ChunkError> {
        self.line_len += 1;
        self.ext_total += 1;
        if self.line_len > MAX_CHUNK_LINE || self.ext_total > MAX_CHUNK_EXTENSIONS {
            return Err(ChunkError::LineTooLong);
        }
        Ok(())
    }

    /// Pass trailer bytes through up to the end of the current field line,
    /// checking it is `token ":" value` with no folding or control bytes.
    fn trailer<'a>(
        &mut self,
        input: &'a [u8],
        start: usize,
    ) -> Result<(usize, Option<Event<'a>>), ChunkError> {
        let mut j = start;
        while j < input.len() {
            let c = input[j];
            j += 1;
            // Checked per byte, so the error does not depend on how the
            // input was split.
            if self.trailer_len + (j - start) > self.max_trailer {
                return Err(ChunkError::TrailersTooLarge);
            }
            match self.state {
                State::TrailerStart if is_tchar(c) => self.state = State::TrailerName,
                // Folded (obs-fold), empty-named or junk field lines.
                State::TrailerStart => return Err(ChunkError::BadFraming),
                State::TrailerName if c == b':' => self.state = State::TrailerValue,
                State::TrailerName if is_tchar(c) => {}
                State::TrailerName => return Err(ChunkError::BadFraming),
                State::TrailerValue if c == b'\r' => self.state = State::TrailerLf,
                State::TrailerValue if c == b'\n' || is_ctl(c) => {
                    return Err(ChunkError::BadFraming)
                }
                State::TrailerValue => {}
                State::TrailerLf if c == b'\n' => {
                    self.state = State::TrailerStart;
                    break;
                }
                _ => return Err(ChunkError::BadFraming),
            }
        }
        self.trailer_len += j - start;
        Ok((j, Some(Event::Trailer(&input[start..j]))))
    }
}

/// Append the chunk header for `len` data bytes (`len` must be > 0).
pub fn write_chunk_header(out: &mut Vec<u8>, len: usize) {
    let _ = write!(out, "{len:x}\r\n");
}

/// The CRLF that closes a chunk's data.
pub const CHUNK_END: &[u8] = b"\r\n";

/// The last chunk; trailers (if any) and the final CRLF follow it.
pub const LAST_CHUNK: &[u8] = b"0\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    /// Decode a whole body fed in pieces of `step` bytes.
    fn decode(input: &[u8], step: usize) -> Result<(Vec<u8>, Vec<u8>, bool), ChunkError> {
        let mut d = Decoder::new(1024);
        let (mut data, mut trailers, mut ended) = (Vec::new(), Vec::new(), false);
        for piece in input.chunks(step) {
            let mut off = 0;
            while off < piece.len() && !ended {
                let (n, ev) = d.feed(&piece[off..])?;
                off += n;
                match ev {
                    Some(Event::Data(b)) => data.extend_from_slice(b),
                    Some(Event::Trailer(b)) => trailers.extend_from_slice(b),
                    Some(Event::End) => ended = true,
                    None => {}
                }
            }
        }
        Ok((data, trailers, ended))
    }

    #[test]
    fn decodes_in_any_split() {
        let body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: 1\r\n\r\n";
        for step in 1..body.len() {
            let (d, t, end) = decode(body, step).unwrap();
            assert_eq!(d, b"hello world");
            assert_eq!(t, b"X-T: 1\r\n");
            assert!(end);
        }
    }

    #[test]
    fn leading_zeros_are_a_size_like_any_other() {
        // RFC 9112 chunk-size = 1*HEXDIG: 35 digits, value 0xe3.
        let mut body = b"000000000000000000000000000000000e3\r\n".to_vec();
        body.extend(std::iter::repeat_n(b'a', 0xe3));
        body.extend_from_slice(b"\r\n00000\r\n\r\n");
        for step in [1, 7, 64, body.len()] {
            let (d, _, end) = decode(&body, step).unwrap();
            assert_eq!(d.len(), 0xe3);
            assert!(end);
        }
        // The value is capped, and the line's length still is.
        assert_eq!(
            decode(b"0000010000000000000000\r\n", 64).unwrap_err(),
            ChunkError::BadSize
        );
        let zeros = vec![b'0'; MAX_CHUNK_LINE + 1];
        assert_eq!(decode(&zeros, 64).unwrap_err(), ChunkError::LineTooLong);
    }

    #[test]
    fn refuses_bad_input() {
        assert_eq!(decode(b"zz\r\n", 4).unwrap_err(), ChunkError::BadSize);
        assert_eq!(decode(b"\r\n", 4).unwrap_err(), ChunkError::BadSize);
        assert_eq!(
            decode(b"11111111111111111\r\n", 64).unwrap_err(),
            ChunkError::BadSize
        );
        assert_eq!(
            decode(b"1\r\nab\r\n", 64).unwrap_err(),
            ChunkError::BadFraming
        );
        assert_eq!(decode(b"1\nab", 64).unwrap_err(), ChunkError::BadSize);
        let mut long = b"1;".to_vec();
        long.extend(std::iter::repeat_n(b'x', MAX_CHUNK_LINE + 1));
        assert_eq!(decode(&long, 64).unwrap_err(), ChunkError::LineTooLong);
    }

    #[test]
    fn refuses_junk_after_size_and_in_extensions() {
        let bad: &[(&[u8], ChunkError)] = &[
            (b"5 x\r\nhello\r\n0\r\n\r\n", ChunkError::BadSize),
            (b"5x\r\nhello\r\n0\r\n\r\n", ChunkError::BadSize),
            (b"-5\r\nhello\r\n0\r\n\r\n", ChunkError::BadSize),
            (b"+5\r\nhello\r\n0\r\n\r\n", ChunkError::BadSize),
            (b"0x5\r\nhello\r\n0\r\n\r\n", ChunkError::BadSize),
            (b" 5\r\nhello\r\n0\r\n\r\n", ChunkError::BadSize),
            (b"5;a\nb\r\nhello\r\n0\r\n\r\n", ChunkError::BadFraming),
            (b"5;a\x00\r\nhello\r\n0\r\n\r\n", ChunkError::BadFraming),
            (b"5\r\nhello\n0\r\n\r\n", ChunkError::BadFraming),
            (b"5\rhello\r\n0\r\n\r\n", ChunkError::BadFraming),
            (b"0\r\n X: folded\r\n\r\n", ChunkError::BadFraming),
            (b"0\r\n: no-name\r\n\r\n", ChunkError::BadFraming),
            (b"0\r\nX Y: 1\r\n\r\n", ChunkError::BadFraming),
            (b"0\r\nno-colon\r\n\r\n", ChunkError::BadFraming),
            (b"0\r\nX: a\nb\r\n\r\n", ChunkError::BadFraming),
            (b"0\r\nX: a\x01\r\n\r\n", ChunkError::BadFraming),
            (b"0\r\n\n", ChunkError::BadFraming),
        ];
        for (input, want) in bad {
            for step in [1, 3, input.len()] {
                assert_eq!(
                    decode(input, step).unwrap_err(),
                    *want,
                    "{:?}",
                    String::from_utf8_lossy(input)
                );
            }
        }
        // Whitespace before `;` or CRLF is allowed (BWS).
        let (d, _, end) = decode(b"5 \t;x=\"y z\"\r\nhello\r\n0 \r\n\r\n", 2).unwrap();
        assert_eq!((d.as_slice(), end), (&b"hello"[..], true));
    }

    #[test]
    fn extensions_are_bounded_per_body() {
        let mut body = Vec::new();
        let ext = "e".repeat(1000);
        for _ in 0..20 {
            body.extend_from_slice(format!("1;{ext}\r\nx\r\n").as_bytes());
        }
        assert_eq!(decode(&body, 512).unwrap_err(), ChunkError::LineTooLong);
        assert_eq!(ChunkError::LineTooLong.status(), 400);
        assert_eq!(ChunkError::TrailersTooLarge.status(), 431);
    }

    #[test]
    fn trailer_limit() {
        let mut body = b"0\r\n".to_vec();
        for _ in 0..200 {
            body.extend_from_slice(b"X-Trailer: aaaaaaaa\r\n");
        }
        body.extend_from_slice(b"\r\n");
        assert_eq!(
            decode(&body, 100).unwrap_err(),
            ChunkError::TrailersTooLarge
        );
    }

    #[test]
    fn header_encoding() {
        let mut v = Vec::new();
        write_chunk_header(&mut v, 255);
        assert_eq!(v, b"ff\r\n");
    }
}
