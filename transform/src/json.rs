//! A validating scanner for one JSON object that reports where each top-level member's key
//! and value stand in the input, so members can be copied byte-for-byte.
//!
//! It checks the whole text against RFC 8259 (strings, escapes, surrogate pairs, numbers,
//! literals, nesting) without building a tree and without recursion. The input is already
//! known to be UTF-8 (`str`), so bytes at or above 0x80 need no further checks.

use std::fmt;

/// The deepest nesting accepted, counting the event object itself: 127, the most that
/// serde_json (the local lake, `eventlake query`) reads back. Real events nest a few levels.
pub const MAX_DEPTH: usize = 127;

/// Why a text is not a single valid JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// Byte offset in the record data where the problem was found.
    pub offset: usize,
    /// What was wrong there.
    pub kind: JsonErrorKind,
}

/// The kinds of [`JsonError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonErrorKind {
    /// The text ended inside a value.
    UnexpectedEnd,
    /// A byte that cannot start or continue the expected token.
    Unexpected(char, &'static str),
    /// A backslash escape other than `\" \\ \/ \b \f \n \r \t`, or `\u` with four hex digits.
    InvalidEscape,
    /// A `\uD800`–`\uDFFF` escape not forming a surrogate pair.
    LoneSurrogate,
    /// A raw control character (below U+0020) inside a string.
    ControlCharacter,
    /// A number that does not follow the JSON grammar.
    InvalidNumber,
    /// Containers nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// The top-level value is not an object.
    NotAnObject(ValueKind),
    /// Non-whitespace text after the object.
    TrailingData,
    /// The text starts with U+FEFF, a byte-order mark.
    ByteOrderMark,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.offset;
        match self.kind {
            JsonErrorKind::UnexpectedEnd => write!(f, "the JSON ends early at byte {at}"),
            JsonErrorKind::Unexpected(c, expected) => write!(f, "expected {expected} at byte {at}, found {c:?}"),
            JsonErrorKind::InvalidEscape => write!(f, "invalid escape sequence in a string at byte {at}"),
            JsonErrorKind::LoneSurrogate => write!(f, "unpaired UTF-16 surrogate escape at byte {at}"),
            JsonErrorKind::ControlCharacter => write!(f, "unescaped control character in a string at byte {at}"),
            JsonErrorKind::InvalidNumber => write!(f, "invalid number at byte {at}"),
            JsonErrorKind::TooDeep => write!(f, "nesting deeper than {MAX_DEPTH} levels at byte {at}"),
            JsonErrorKind::NotAnObject(kind) => {
                write!(f, "the record is {}, expected a JSON object", kind.with_article())
            }
            JsonErrorKind::ByteOrderMark => f.write_str("it starts with a byte-order mark (U+FEFF); send plain UTF-8"),
            JsonErrorKind::TrailingData => {
                write!(f, "more data after the JSON object at byte {at} (one event per record)")
            }
        }
    }
}

/// The kind of a JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A string.
    String,
    /// A number.
    Number,
    /// An object.
    Object,
    /// An array.
    Array,
    /// `true` or `false`.
    Bool,
    /// `null`.
    Null,
}

impl ValueKind {
    /// The kind in a sentence: "a string", "an array", "null".
    pub fn with_article(self) -> &'static str {
        match self {
            ValueKind::String => "a JSON string",
            ValueKind::Number => "a JSON number",
            ValueKind::Object => "a JSON object",
            ValueKind::Array => "a JSON array",
            ValueKind::Bool => "a JSON boolean",
            ValueKind::Null => "JSON null",
        }
    }
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueKind::String => "string",
            ValueKind::Number => "number",
            ValueKind::Object => "object",
            ValueKind::Array => "array",
            ValueKind::Bool => "boolean",
            ValueKind::Null => "null",
        })
    }
}

/// A string token: `start..end` covers the quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrSpan {
    /// Offset of the opening quote.
    pub start: usize,
    /// Offset just past the closing quote.
    pub end: usize,
    /// Whether the string contains a backslash escape.
    pub escaped: bool,
}

/// One top-level member of the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// The key token.
    pub key: StrSpan,
    /// Offset of the value's first byte.
    pub value_start: usize,
    /// Offset just past the value's last byte.
    pub value_end: usize,
    /// The value's kind.
    pub kind: ValueKind,
    /// For numbers: whether it has a fraction or an exponent.
    pub non_integer: bool,
    /// For strings: whether it has a backslash escape.
    pub escaped: bool,
}

/// Byte classes for string scanning: 1 = ends the fast run (`"`, `\`, control character).
static STRING_STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// A position in JSON text, with the token readers [`scan_object`] is built from (also used
/// by the Firehose envelope reader).
pub(crate) struct Scanner<'a> {
    pub(crate) b: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Scanner<'a> {
    #[inline]
    fn err(&self, kind: JsonErrorKind) -> JsonError {
        JsonError { offset: self.pos, kind }
    }

    #[inline]
    fn unexpected(&self, expected: &'static str) -> JsonError {
        match self.b.get(self.pos) {
            None => self.err(JsonErrorKind::UnexpectedEnd),
            Some(_) => {
                // The input is valid UTF-8 and pos is at a token boundary, so this decodes.
                let c = std::str::from_utf8(&self.b[self.pos..])
                    .ok()
                    .and_then(|s| s.chars().next())
                    .unwrap_or(char::REPLACEMENT_CHARACTER);
                self.err(JsonErrorKind::Unexpected(c, expected))
            }
        }
    }

    #[inline]
    pub(crate) fn skip_ws(&mut self) {
        // Compact JSON has no whitespace: one comparison settles the common case.
        while let Some(&c) = self.b.get(self.pos) {
            if c <= b' ' && (c == b' ' || c == b'\n' || c == b'\r' || c == b'\t') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    /// Parses a string starting at the opening quote.
    #[inline(always)]
    pub(crate) fn string(&mut self) -> Result<StrSpan, JsonError> {
        let start = self.pos;
        debug_assert_eq!(self.b[start], b'"');
        self.pos += 1;
        let mut escaped = false;
        loop {
            // Fast run over ordinary bytes, many at a time.
            self.pos = skip_plain(self.b, self.pos);
            match self.b.get(self.pos) {
                None => return Err(self.err(JsonErrorKind::UnexpectedEnd)),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(StrSpan {
                        start,
                        end: self.pos,
                        escaped,
                    });
                }
                Some(b'\\') => {
                    escaped = true;
                    // The two-byte escapes inline; `\u` (and errors) out of line.
                    match self.b.get(self.pos + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.pos += 2,
                        _ => self.escape()?,
                    }
                }
                Some(_) => return Err(self.err(JsonErrorKind::ControlCharacter)),
            }
        }
    }

    /// Checks one escape sequence starting at the backslash.
    #[inline(never)]
    fn escape(&mut self) -> Result<(), JsonError> {
        let at = self.pos;
        match self.b.get(at + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.pos += 2;
                Ok(())
            }
            Some(b'u') => {
                let unit = hex4(self.b, at + 2).ok_or(JsonError {
                    offset: at,
                    kind: JsonErrorKind::InvalidEscape,
                })?;
                self.pos = at + 6;
                match unit {
                    0xD800..=0xDBFF => {
                        let low = if self.b.get(self.pos) == Some(&b'\\') && self.b.get(self.pos + 1) == Some(&b'u') {
                            hex4(self.b, self.pos + 2)
                        } else {
                            None
                        };
                        match low {
                            Some(0xDC00..=0xDFFF) => {
                                self.pos += 6;
                                Ok(())
                            }
                            _ => Err(JsonError {
                                offset: at,
                                kind: JsonErrorKind::LoneSurrogate,
                            }),
                        }
                    }
                    0xDC00..=0xDFFF => Err(JsonError {
                        offset: at,
                        kind: JsonErrorKind::LoneSurrogate,
                    }),
                    _ => Ok(()),
                }
            }
            None => Err(JsonError {
                offset: at + 1,
                kind: JsonErrorKind::UnexpectedEnd,
            }),
            Some(_) => Err(JsonError {
                offset: at,
                kind: JsonErrorKind::InvalidEscape,
            }),
        }
    }

    /// Parses a number; returns whether it has a fraction or exponent.
    fn number(&mut self) -> Result<bool, JsonError> {
        let start = self.pos;
        let b = self.b;
        let mut p = self.pos;
        if b.get(p) == Some(&b'-') {
            p += 1;
        }
        match b.get(p) {
            Some(b'0') => p += 1,
            Some(b'1'..=b'9') => p = skip_digits(b, p + 1),
            _ => {
                return Err(JsonError {
                    offset: start,
                    kind: JsonErrorKind::InvalidNumber,
                })
            }
        }
        let mut non_integer = false;
        if b.get(p) == Some(&b'.') {
            non_integer = true;
            p += 1;
            let digits = p;
            p = skip_digits(b, p);
            if p == digits {
                return Err(JsonError {
                    offset: start,
                    kind: JsonErrorKind::InvalidNumber,
                });
            }
        }
        if matches!(b.get(p), Some(b'e' | b'E')) {
            non_integer = true;
            p += 1;
            if matches!(b.get(p), Some(b'+' | b'-')) {
                p += 1;
            }
            let digits = p;
            p = skip_digits(b, p);
            if p == digits {
                return Err(JsonError {
                    offset: start,
                    kind: JsonErrorKind::InvalidNumber,
                });
            }
        }
        self.pos = p;
        Ok(non_integer)
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), JsonError> {
        if self.b[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.unexpected("a JSON value"))
        }
    }

    /// Parses `"key" ws : ws` and returns the key span.
    #[inline(always)]
    pub(crate) fn key_colon(&mut self) -> Result<StrSpan, JsonError> {
        if self.peek() != Some(b'"') {
            return Err(self.unexpected("a string key"));
        }
        let key = self.string()?;
        // Compact JSON: `:` right after the key.
        if self.peek() != Some(b':') {
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.unexpected("':'"));
            }
        }
        self.pos += 1;
        self.skip_ws();
        Ok(key)
    }

    /// Parses one value of any kind at the current position (no leading whitespace), allowing
    /// `depth_budget` nested containers. Iterative: nesting costs a bit per level, not stack.
    /// Returns the kind and, for a number, whether it has a fraction or exponent; for a
    /// string, whether it has an escape.
    #[inline(always)]
    pub(crate) fn value(&mut self, depth_budget: usize) -> Result<(ValueKind, bool), JsonError> {
        // Most values are strings and numbers: read those without the nesting loop.
        match self.peek() {
            Some(b'"') => Ok((ValueKind::String, self.string()?.escaped)),
            Some(b'-' | b'0'..=b'9') => Ok((ValueKind::Number, self.number()?)),
            _ => self.nested_value(depth_budget),
        }
    }

    /// [`Scanner::value`] for any value, containers and literals included.
    fn nested_value(&mut self, depth_budget: usize) -> Result<(ValueKind, bool), JsonError> {
        // Bit i of `stack` is 1 when container i (0 = outermost) is an object.
        let mut stack: u128 = 0;
        let mut depth: usize = 0;
        let mut first_kind = None;
        let mut flag = false;
        loop {
            // Expect a value.
            let kind = match self.peek() {
                Some(b'{') | Some(b'[') => {
                    let is_obj = self.b[self.pos] == b'{';
                    if depth == depth_budget {
                        return Err(self.err(JsonErrorKind::TooDeep));
                    }
                    if is_obj {
                        stack |= 1u128 << depth;
                    } else {
                        stack &= !(1u128 << depth);
                    }
                    depth += 1;
                    self.pos += 1;
                    self.skip_ws();
                    let kind = if is_obj { ValueKind::Object } else { ValueKind::Array };
                    first_kind.get_or_insert(kind);
                    let close = if is_obj { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        depth -= 1;
                    } else {
                        if is_obj {
                            self.key_colon()?;
                        }
                        continue;
                    }
                    kind
                }
                Some(b'"') => {
                    let span = self.string()?;
                    if first_kind.is_none() {
                        flag = span.escaped;
                    }
                    ValueKind::String
                }
                Some(b'-' | b'0'..=b'9') => {
                    let frac = self.number()?;
                    if first_kind.is_none() {
                        flag = frac;
                    }
                    ValueKind::Number
                }
                Some(b't') => {
                    self.literal(b"true")?;
                    ValueKind::Bool
                }
                Some(b'f') => {
                    self.literal(b"false")?;
                    ValueKind::Bool
                }
                Some(b'n') => {
                    self.literal(b"null")?;
                    ValueKind::Null
                }
                _ => return Err(self.unexpected("a JSON value")),
            };
            first_kind.get_or_insert(kind);
            // After a value: close containers or move to the next element.
            loop {
                if depth == 0 {
                    return Ok((first_kind.unwrap_or(kind), flag));
                }
                self.skip_ws();
                let in_obj = stack & (1u128 << (depth - 1)) != 0;
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        self.skip_ws();
                        if in_obj {
                            self.key_colon()?;
                        }
                        break;
                    }
                    Some(b'}') if in_obj => {
                        self.pos += 1;
                        depth -= 1;
                    }
                    Some(b']') if !in_obj => {
                        self.pos += 1;
                        depth -= 1;
                    }
                    _ => return Err(self.unexpected(if in_obj { "',' or '}'" } else { "',' or ']'" })),
                }
            }
        }
    }
}

/// Advances past bytes that need no attention inside a string (anything but `"`, `\` and
/// control characters): 16 bytes at a time with SSE2 (part of every x86-64 CPU), eight at a
/// time elsewhere.
#[inline]
fn skip_plain(b: &[u8], mut p: usize) -> usize {
    #[cfg(all(feature = "simd", target_arch = "x86_64"))]
    {
        if p + 16 <= b.len() {
            if let Some(stop) = sse2::first_stop(b, p) {
                return stop;
            }
            p += 16;
            // A long run (base64 data, text): 64 bytes a step with AVX2 where the CPU has it.
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2.
                p = unsafe { avx2::skip_plain_blocks(b, p) };
                if b.get(p).is_some_and(|&c| STRING_STOP[usize::from(c)]) {
                    return p;
                }
            }
        }
        while p + 16 <= b.len() {
            if let Some(stop) = sse2::first_stop(b, p) {
                return stop;
            }
            p += 16;
        }
    }
    while p + 8 <= b.len() {
        let flags = needs_escape(u64::from_le_bytes(b[p..p + 8].try_into().expect("8 bytes")));
        if flags != 0 {
            // The lowest flagged byte is exact.
            return p + (flags.trailing_zeros() / 8) as usize;
        }
        p += 8;
    }
    skip_plain_tail(b, p)
}

/// AVX2 scanning of long string runs.
#[cfg(all(feature = "simd", target_arch = "x86_64"))]
mod avx2 {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_max_epu8, _mm256_movemask_epi8, _mm256_or_si256,
        _mm256_set1_epi8,
    };

    /// From `p`, advances 64 bytes at a time to the first `"`, `\\` or control character;
    /// returns its position, or where fewer than 64 bytes are left (the caller finishes).
    #[target_feature(enable = "avx2")]
    pub(super) fn skip_plain_blocks(b: &[u8], mut p: usize) -> usize {
        let quote = _mm256_set1_epi8(b'"' as i8);
        let backslash = _mm256_set1_epi8(b'\\' as i8);
        let below_space = _mm256_set1_epi8(0x1f);
        let stops = |v: __m256i| {
            _mm256_or_si256(
                _mm256_or_si256(_mm256_cmpeq_epi8(v, quote), _mm256_cmpeq_epi8(v, backslash)),
                _mm256_cmpeq_epi8(_mm256_max_epu8(v, below_space), below_space),
            )
        };
        while p + 64 <= b.len() {
            let block = &b[p..p + 64];
            // SAFETY: both loads read within the 64 bytes of `block`.
            let (lo, hi) = unsafe {
                (
                    _mm256_loadu_si256(block.as_ptr().cast::<__m256i>()),
                    _mm256_loadu_si256(block.as_ptr().add(32).cast::<__m256i>()),
                )
            };
            let mask = u64::from(_mm256_movemask_epi8(stops(lo)) as u32)
                | u64::from(_mm256_movemask_epi8(stops(hi)) as u32) << 32;
            if mask != 0 {
                return p + mask.trailing_zeros() as usize;
            }
            p += 64;
        }
        p
    }
}

/// SSE2 classification of 16 bytes.
#[cfg(all(feature = "simd", target_arch = "x86_64"))]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };

    /// The first `"`, `\` or control character among the 16 bytes at `p`
    /// (`p + 16 <= b.len()`), if any.
    #[inline]
    pub(super) fn first_stop(b: &[u8], p: usize) -> Option<usize> {
        let block: &[u8; 16] = b[p..p + 16].try_into().expect("16 bytes");
        // SAFETY: SSE2 is part of the x86-64 baseline, which every build of this target has.
        let stops = unsafe { string_stops(block) };
        (stops != 0).then(|| p + stops.trailing_zeros() as usize)
    }

    /// Bit i is set when byte i of `block` is `"`, `\` or a control character.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn string_stops(block: &[u8; 16]) -> u32 {
        // SAFETY: the load reads exactly the 16 bytes of `block`.
        let v = unsafe { _mm_loadu_si128(block.as_ptr().cast::<__m128i>()) };
        let below_space = _mm_set1_epi8(0x1f);
        let stops = _mm_or_si128(
            _mm_or_si128(
                _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8)),
                _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8)),
            ),
            _mm_cmpeq_epi8(_mm_max_epu8(v, below_space), below_space),
        );
        _mm_movemask_epi8(stops) as u32
    }
}

/// The first position at or after `p` that is not an ASCII digit, eight bytes a step.
#[inline]
fn skip_digits(b: &[u8], mut p: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    while let Some(chunk) = b.get(p..p + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        // A byte is a digit when its high nibble is 3, also after adding 6 (0x30..=0x39).
        // Adding 6 carries into the next byte only from 0xFA..=0xFF, itself not a digit, so
        // the lowest non-zero byte of `other` is exact.
        let high = ONES * 0xF0;
        let other = ((w & high) ^ (ONES * 0x30)) | ((w.wrapping_add(ONES * 6) & high) ^ (ONES * 0x30));
        if other != 0 {
            let flags = ((other & (ONES * 0x7F)).wrapping_add(ONES * 0x7F) | other) & (ONES * 0x80);
            return p + (flags.trailing_zeros() / 8) as usize;
        }
        p += 8;
    }
    while matches!(b.get(p), Some(b'0'..=b'9')) {
        p += 1;
    }
    p
}

/// The byte-at-a-time end of [`skip_plain`].
#[inline]
fn skip_plain_tail(b: &[u8], mut p: usize) -> usize {
    while let Some(&c) = b.get(p) {
        if STRING_STOP[c as usize] {
            break;
        }
        p += 1;
    }
    p
}

#[inline]
fn hex4(b: &[u8], at: usize) -> Option<u16> {
    let digits = b.get(at..at + 4)?;
    let mut v: u16 = 0;
    for &d in digits {
        let n = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return None,
        };
        v = v << 4 | u16::from(n);
    }
    Some(v)
}

/// Scans `text` as exactly one JSON object surrounded by optional whitespace and calls
/// `on_member` for each top-level member, in input order.
pub fn scan_object<E>(
    text: &str,
    mut on_member: impl FnMut(Member) -> Result<(), E>,
) -> Result<(), ObjectScanError<E>> {
    let mut s = Scanner {
        b: text.as_bytes(),
        pos: 0,
    };
    if text.starts_with('\u{feff}') {
        return Err(ObjectScanError::Json(s.err(JsonErrorKind::ByteOrderMark)));
    }
    s.skip_ws();
    match s.peek() {
        Some(b'{') => s.pos += 1,
        None => return Err(ObjectScanError::Json(s.err(JsonErrorKind::UnexpectedEnd))),
        Some(_) => {
            // Say what the record is, when it is some other JSON value.
            let kind = s.value(MAX_DEPTH).map(|(k, _)| k);
            return Err(ObjectScanError::Json(match kind {
                Ok(kind) => JsonError {
                    offset: 0,
                    kind: JsonErrorKind::NotAnObject(kind),
                },
                Err(e) => e,
            }));
        }
    }
    s.skip_ws();
    if s.peek() == Some(b'}') {
        s.pos += 1;
    } else {
        loop {
            let key = s.key_colon().map_err(ObjectScanError::Json)?;
            let value_start = s.pos;
            let (kind, flag) = s.value(MAX_DEPTH - 1).map_err(ObjectScanError::Json)?;
            on_member(Member {
                key,
                value_start,
                value_end: s.pos,
                kind,
                non_integer: kind == ValueKind::Number && flag,
                escaped: kind == ValueKind::String && flag,
            })
            .map_err(ObjectScanError::Member)?;
            s.skip_ws();
            match s.peek() {
                Some(b',') => {
                    s.pos += 1;
                    s.skip_ws();
                }
                Some(b'}') => {
                    s.pos += 1;
                    break;
                }
                _ => return Err(ObjectScanError::Json(s.unexpected("',' or '}'"))),
            }
        }
    }
    s.skip_ws();
    if s.pos != s.b.len() {
        return Err(ObjectScanError::Json(s.err(JsonErrorKind::TrailingData)));
    }
    Ok(())
}

/// The error of [`scan_object`]: the text, or the member callback.
#[derive(Debug)]
pub enum ObjectScanError<E> {
    /// The text is not one valid JSON object.
    Json(JsonError),
    /// The callback refused a member.
    Member(E),
}

/// Decodes the content of a valid JSON string token (quotes included in `token`).
pub fn decode_string(token: &str) -> String {
    let inner = &token[1..token.len() - 1];
    let b = inner.as_bytes();
    let mut out = String::with_capacity(inner.len());
    let mut i = 0;
    let mut run = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        out.push_str(&inner[run..i]);
        let c = b[i + 1];
        i += 2;
        let ch = match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            _ => {
                let hi = hex4(b, i).unwrap_or(0xFFFD);
                i += 4;
                let code = if (0xD800..0xDC00).contains(&hi) {
                    let lo = hex4(b, i + 2).unwrap_or(0xDC00);
                    i += 6;
                    0x10000 + ((u32::from(hi) - 0xD800) << 10) + (u32::from(lo) - 0xDC00)
                } else {
                    u32::from(hi)
                };
                char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER)
            }
        };
        out.push(ch);
        run = i;
    }
    out.push_str(&inner[run..]);
    out
}

/// What a byte becomes inside a JSON string: 0 = itself, else the escape letter (`u` for
/// `\u00XX`). Matches serde_json's escaping exactly.
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// Appends `raw` (valid JSON text, or any UTF-8 text) to `out` escaped as the content of a
/// JSON string, exactly as serde_json escapes.
#[inline]
pub fn escape_into(out: &mut Vec<u8>, raw: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut run = 0;
    let mut i = 0;
    loop {
        // The SWAR scan stops exactly at the bytes that need escaping.
        i = skip_plain(raw, i);
        let Some(&c) = raw.get(i) else { break };
        out.extend_from_slice(&raw[run..i]);
        match ESCAPE[usize::from(c)] {
            b'u' => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(c >> 4)],
                HEX[usize::from(c & 0xf)],
            ]),
            e => out.extend_from_slice(&[b'\\', e]),
        }
        i += 1;
        run = i;
    }
    out.extend_from_slice(&raw[run..]);
}

/// Appends `raw`, which must be valid JSON text (a token or a value, as the scanner
/// found it), escaped as the content of a JSON string. Valid JSON text holds no control
/// characters but whitespace (`\t \n \r`), so every byte becomes at most two. With SSSE3
/// (any x86-64 Lambda host), 16 bytes at a time without a branch per escaped byte
/// ([`ssse3`]); elsewhere eight at a time. Same bytes as [`escape_into`].
#[inline]
pub fn escape_json_text(out: &mut Vec<u8>, raw: &[u8]) {
    #[cfg(all(feature = "simd", target_arch = "x86_64"))]
    if std::arch::is_x86_feature_detected!("ssse3") {
        if ssse3::escape_json_text(out, raw) {
            return;
        }
        // Not JSON text after all (a control character): the general escaper is exact.
        escape_into(out, raw);
        return;
    }
    escape_json_text_swar(out, raw);
}

/// [`escape_json_text`] eight bytes at a time, in portable code.
pub fn escape_json_text_swar(out: &mut Vec<u8>, raw: &[u8]) {
    let start = out.len();
    out.resize(start + 2 * raw.len(), 0);
    let buf = &mut out[start..];
    let (mut i, mut w) = (0, 0);
    let mut general = false;
    loop {
        // Eight bytes at a time: store them all, then keep only those before the first byte
        // that needs escaping (the lowest flagged byte of the SWAR test is always a real one).
        if i + 8 <= raw.len() {
            let chunk: [u8; 8] = raw[i..i + 8].try_into().expect("8 bytes");
            buf[w..w + 8].copy_from_slice(&chunk);
            let flags = needs_escape(u64::from_le_bytes(chunk));
            if flags == 0 {
                i += 8;
                w += 8;
                continue;
            }
            let plain = (flags.trailing_zeros() / 8) as usize;
            i += plain;
            w += plain;
        }
        let Some(&c) = raw.get(i) else { break };
        let e = ESCAPE[usize::from(c)];
        if e == 0 {
            buf[w] = c;
            w += 1;
        } else if e == b'u' {
            general = true;
            break;
        } else {
            buf[w] = b'\\';
            buf[w + 1] = e;
            w += 2;
        }
        i += 1;
    }
    if general {
        // Not JSON text after all (a control character): the general escaper is exact.
        escape_tail(out, start, raw);
    } else {
        out.truncate(start + w);
    }
}

/// JSON-text escaping with SSSE3: each half of a 16-byte block is spread over its output
/// positions by one byte shuffle, a backslash going in front of every `"` and `\`, so the
/// cost does not depend on how many bytes need escaping (event payloads have one every ~7).
#[cfg(all(feature = "simd", target_arch = "x86_64"))]
mod ssse3 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_shuffle_epi8, _mm_srli_si128, _mm_storeu_si128,
    };

    use super::ESCAPE;

    /// For each mask of the bytes among eight that get a backslash: the shuffle that spreads
    /// the eight bytes over their output positions (0x80, which the shuffle turns into 0,
    /// where a backslash goes), and the backslashes to OR in.
    static SPREAD: [([u8; 16], [u8; 16]); 256] = {
        let mut t = [([0x80u8; 16], [0u8; 16]); 256];
        let mut m = 0;
        while m < 256 {
            let mut j = 0;
            let mut k = 0;
            while k < 8 {
                if m & (1 << k) != 0 {
                    t[m].1[j] = b'\\';
                    j += 1;
                }
                t[m].0[j] = k as u8;
                j += 1;
                k += 1;
            }
            m += 1;
        }
        t
    };

    /// Appends `raw` escaped; `false` (with `out` unchanged) when `raw` holds a control
    /// character other than `\t \n \r`, which valid JSON text does not.
    pub(super) fn escape_json_text(out: &mut Vec<u8>, raw: &[u8]) -> bool {
        let start = out.len();
        // Every byte becomes at most two; the last 16-byte store may run 16 bytes further.
        out.reserve(2 * raw.len() + 16);
        // SAFETY: the caller checked that the CPU has SSSE3.
        let written = unsafe { escape(raw, out.spare_capacity_mut().as_mut_ptr().cast::<u8>()) };
        match written {
            Some(n) => {
                // SAFETY: `escape` initialized the first `n` spare bytes, and n <= 2 * len.
                unsafe { out.set_len(start + n) };
                true
            }
            None => false,
        }
    }

    /// Writes `raw` escaped to `dst`, which must have room for `2 * raw.len() + 16` bytes;
    /// returns how many bytes it wrote, or `None` at a control character other than
    /// `\t \n \r`.
    #[target_feature(enable = "ssse3")]
    unsafe fn escape(raw: &[u8], dst: *mut u8) -> Option<usize> {
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let below_space = _mm_set1_epi8(0x1f);
        let (mut i, mut w) = (0, 0);
        while i + 16 <= raw.len() {
            // SAFETY: i + 16 <= raw.len().
            let v = unsafe { _mm_loadu_si128(raw.as_ptr().add(i).cast::<__m128i>()) };
            let control = _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(v, below_space), below_space));
            if control != 0 {
                // Whitespace between tokens: this block byte by byte.
                w += scalar(&raw[i..i + 16], dst, w)?;
                i += 16;
                continue;
            }
            let m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash))) as u32;
            // No branch on whether the block needs escaping: in event text that is a coin
            // toss, and a mispredicted branch costs more than the shuffles.
            for (half, bits) in [(v, m & 0xff), (_mm_srli_si128::<8>(v), m >> 8)] {
                let (shuffle, slashes) = &SPREAD[bits as usize];
                // SAFETY: both tables are 16 bytes; w + 16 stays within the room of `dst`
                // (at most two output bytes per input byte so far, plus 16).
                unsafe {
                    let spread = _mm_shuffle_epi8(half, _mm_loadu_si128(shuffle.as_ptr().cast::<__m128i>()));
                    let out = _mm_or_si128(spread, _mm_loadu_si128(slashes.as_ptr().cast::<__m128i>()));
                    _mm_storeu_si128(dst.add(w).cast::<__m128i>(), out);
                }
                w += 8 + bits.count_ones() as usize;
            }
            i += 16;
        }
        w += scalar(&raw[i..], dst, w)?;
        Some(w)
    }

    /// Escapes `raw` byte by byte to `dst` at `w` (room as for [`escape`]); returns the bytes
    /// written.
    #[inline]
    unsafe fn scalar(raw: &[u8], dst: *mut u8, w: usize) -> Option<usize> {
        let mut n = 0;
        for &c in raw {
            let e = ESCAPE[usize::from(c)];
            // SAFETY: at most two bytes per input byte, within the room of `dst`.
            unsafe {
                match e {
                    0 => {
                        dst.add(w + n).write(c);
                        n += 1;
                    }
                    b'u' => return None,
                    _ => {
                        dst.add(w + n).write(b'\\');
                        dst.add(w + n + 1).write(e);
                        n += 2;
                    }
                }
            }
        }
        Some(n)
    }
}

/// Bit 7 of each byte of the result is set for bytes of `w` that are `"`, `\` or below
/// 0x20; the lowest set byte is exact, higher ones may be false positives.
#[inline]
fn needs_escape(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    has_zero(w ^ (ONES * u64::from(b'"')))
        | has_zero(w ^ (ONES * u64::from(b'\\')))
        | (w.wrapping_sub(ONES * 0x20) & !w & HIGHS)
}

/// Fallback of [`escape_json_text`] for text with control characters: redo with the
/// general escaper.
#[cold]
fn escape_tail(out: &mut Vec<u8>, start: usize, raw: &[u8]) {
    out.truncate(start);
    escape_into(out, raw);
}

/// How many bytes each byte adds when escaped (0, 1 for `\x`, 5 for `\u00XX`).
static ESCAPE_EXTRA: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = match ESCAPE[i] {
            0 => 0,
            b'u' => 5,
            _ => 1,
        };
        i += 1;
    }
    t
};

/// The length of `s` as a JSON string token (quotes included), escaped as serde_json does.
#[inline]
pub fn string_token_len(s: &str) -> usize {
    2 + s.len()
        + s.bytes()
            .map(|b| usize::from(ESCAPE_EXTRA[usize::from(b)]))
            .sum::<usize>()
}

/// Appends `s` to `out` as a JSON string token (with quotes), escaped as serde_json does: the
/// reference the tests hold [`string_token_len`] and the byte escapers to.
#[cfg(test)]
fn push_string_token(out: &mut String, s: &str) {
    out.push('"');
    let mut run = 0;
    for (i, &c) in s.as_bytes().iter().enumerate() {
        let e = ESCAPE[usize::from(c)];
        if e == 0 {
            continue;
        }
        // Escaped bytes are ASCII, so `run..i` lies on character boundaries.
        out.push_str(&s[run..i]);
        out.push('\\');
        if e == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("u00");
            out.push(char::from(HEX[usize::from(c >> 4)]));
            out.push(char::from(HEX[usize::from(c & 0xf)]));
        } else {
            out.push(char::from(e));
        }
        run = i + 1;
    }
    out.push_str(&s[run..]);
    out.push('"');
}

/// Appends `s` to `out` as a JSON string token (with quotes).
#[inline]
pub fn write_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    escape_into(out, s.as_bytes());
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(text: &str) -> Result<Vec<(String, String, ValueKind)>, JsonError> {
        let mut v = Vec::new();
        scan_object::<()>(text, |m| {
            v.push((
                text[m.key.start..m.key.end].to_string(),
                text[m.value_start..m.value_end].to_string(),
                m.kind,
            ));
            Ok(())
        })
        .map_err(|e| match e {
            ObjectScanError::Json(e) => e,
            ObjectScanError::Member(()) => unreachable!(),
        })?;
        Ok(v)
    }

    #[test]
    fn reports_raw_members_in_order() {
        let m = members(" {\"a\" : [1, {\"b\":null}] ,\"c\\u0041\":\"x\\\"y\", \"d\":-1.5e3}\n").unwrap();
        assert_eq!(
            m,
            vec![
                ("\"a\"".into(), "[1, {\"b\":null}]".into(), ValueKind::Array),
                ("\"c\\u0041\"".into(), "\"x\\\"y\"".into(), ValueKind::String),
                ("\"d\"".into(), "-1.5e3".into(), ValueKind::Number),
            ]
        );
        assert_eq!(members("{}").unwrap(), vec![]);
    }

    #[test]
    fn agrees_with_serde_json_on_validity() {
        let cases = [
            "{\"a\":1}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":.5}",
            "{\"a\":-}",
            "{\"a\":1e}",
            "{\"a\":1e+5}",
            "{\"a\":\"\\ud83d\\ude00\"}",
            "{\"a\":\"\\ud83d\"}",
            "{\"a\":\"\\ude00\"}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"tab\there\"}",
            "{\"a\":tru}",
            "{\"a\":[1,]}",
            "{\"a\":{\"b\":1,}}",
            "{\"a\":1,}",
            "{,}",
            "{\"a\" 1}",
            "{\"a\":[}",
            "{\"a\":{]}",
            "{\"a\":1} x",
            "{\"a\":1}{}",
            "{\"a\":\"\u{e9}\u{1F600}\"}",
            "{\"a\":[[[[]]]],\"b\":{\"c\":{\"d\":[true,false,null]}}}",
        ];
        for case in cases {
            let ours = members(case).is_ok();
            let theirs = serde_json::from_str::<serde_json::Value>(case).is_ok();
            assert_eq!(ours, theirs, "{case}");
        }
    }

    #[test]
    fn names_what_it_found_instead_of_an_object() {
        let kind = |t: &str| members(t).unwrap_err().kind;
        assert_eq!(kind("[1]"), JsonErrorKind::NotAnObject(ValueKind::Array));
        assert_eq!(kind("\"s\""), JsonErrorKind::NotAnObject(ValueKind::String));
        assert_eq!(kind("12"), JsonErrorKind::NotAnObject(ValueKind::Number));
        assert_eq!(kind(""), JsonErrorKind::UnexpectedEnd);
        assert_eq!(kind("{\"a\":1}\n{\"a\":2}"), JsonErrorKind::TrailingData);
    }

    #[test]
    fn nesting_is_capped_without_recursion() {
        let ok = format!("{{\"a\":{}{}}}", "[".repeat(MAX_DEPTH - 1), "]".repeat(MAX_DEPTH - 1));
        assert!(members(&ok).is_ok());
        assert!(serde_json::from_str::<serde_json::Value>(&ok).is_ok());
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(members(&deep).unwrap_err().kind, JsonErrorKind::TooDeep);
        let huge = format!("{{\"a\":{}", "[".repeat(1_000_000));
        assert_eq!(members(&huge).unwrap_err().kind, JsonErrorKind::TooDeep);
    }

    #[test]
    fn the_fast_escapers_agree_with_the_general_one() {
        // Every position of every special byte, in and around 8-byte chunks.
        let specials = [b'"', b'\\', b'\n', b'\t', b'\r', 0x01, 0x1f, b'a', 0xc3];
        for len in 0..40 {
            for at in 0..len.max(1) {
                for &sp in &specials {
                    let mut raw: Vec<u8> = (0..len).map(|i| b"x{}[]:,0 "[i % 9]).collect();
                    if at < raw.len() {
                        raw[at] = sp;
                        if sp == 0xc3 && at + 1 < raw.len() {
                            raw[at + 1] = 0xa9;
                        }
                    }
                    let mut general = Vec::new();
                    escape_into(&mut general, &raw);
                    let mut fast = b"prefix".to_vec();
                    escape_json_text(&mut fast, &raw);
                    assert_eq!(&fast[6..], &general[..], "{raw:?}");
                    let mut swar = b"prefix".to_vec();
                    escape_json_text_swar(&mut swar, &raw);
                    assert_eq!(swar, fast, "{raw:?}");
                    let text = String::from_utf8_lossy(&raw);
                    let mut token = String::new();
                    push_string_token(&mut token, &text);
                    assert_eq!(token, serde_json::to_string(&text).unwrap());
                    assert_eq!(string_token_len(&text), token.len());
                    assert_eq!(
                        skip_plain(&raw, 0),
                        raw.iter().position(|&c| STRING_STOP[c as usize]).unwrap_or(raw.len())
                    );
                }
            }
        }
    }

    #[test]
    fn string_scanning_stops_exactly_at_the_first_stop_byte() {
        // Long enough for every step of `skip_plain` (16-byte, 64-byte and 8-byte steps).
        for len in 0..260 {
            for at in (0..=len).step_by(if len > 100 { 7 } else { 1 }) {
                for stop in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
                    let mut b: Vec<u8> = (0..len).map(|i| b"ab c\x7f\xc3\xa9~"[i % 8]).collect();
                    if at < len {
                        b[at] = stop;
                    }
                    for from in [0, 1, 5, 17] {
                        let expect = b
                            .iter()
                            .skip(from)
                            .position(|&c| STRING_STOP[c as usize])
                            .map_or(b.len().max(from), |i| from + i);
                        assert_eq!(skip_plain(&b, from), expect, "len {len}, stop at {at}, from {from}");
                    }
                }
            }
        }
    }

    #[test]
    fn digit_runs_end_exactly_at_the_first_other_byte() {
        // Every byte value at every position of the 8-byte step and its tail, after runs of
        // every digit.
        for len in 0..20 {
            for at in 0..=len {
                for other in 0..=255u8 {
                    let mut b: Vec<u8> = (0..len).map(|i| b'0' + (i % 10) as u8).collect();
                    if at < len {
                        b[at] = other;
                    }
                    for from in [0, 3] {
                        let expect = b
                            .iter()
                            .skip(from)
                            .position(|c| !c.is_ascii_digit())
                            .map_or(b.len().max(from), |i| from + i);
                        assert_eq!(
                            skip_digits(&b, from),
                            expect,
                            "len {len}, {other:#x} at {at}, from {from}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_fast_escapers_agree_on_dense_mixes() {
        // Many special bytes per block, every length around the 8- and 16-byte steps.
        let alphabet = [
            b'"', b'\\', b'a', b'b', b' ', b'\n', b'\t', b'\r', b'{', 0xc3, 0xa9, b'"', b'\\',
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in 0..140 {
            for _ in 0..40 {
                let raw: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        alphabet[(seed % alphabet.len() as u64) as usize]
                    })
                    .collect();
                let mut general = vec![7];
                escape_into(&mut general, &raw);
                let mut fast = vec![7];
                escape_json_text(&mut fast, &raw);
                let mut swar = vec![7];
                escape_json_text_swar(&mut swar, &raw);
                assert_eq!(fast, general, "{raw:?}");
                assert_eq!(swar, general, "{raw:?}");
            }
        }
    }

    #[test]
    fn decodes_and_escapes_strings() {
        assert_eq!(
            decode_string(r#""a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00""#),
            "a\"b\\c/d\u{8}\u{c}\n\r\té😀"
        );
        let mut out = Vec::new();
        write_string(&mut out, "q\"b\\n\nt\t\u{1}é");
        assert_eq!(String::from_utf8(out.clone()).unwrap(), r#""q\"b\\n\nt\t\u0001é""#);
        assert_eq!(serde_json::from_slice::<String>(&out).unwrap(), "q\"b\\n\nt\t\u{1}é");
    }
}
