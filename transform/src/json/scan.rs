//! The validating scanner and the string decoder.

use std::fmt;

use super::escape::needs_escape;

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

/// Past the digits at `p`, which must be at least one (a fraction's or an exponent's); the
/// error names the number at `start`.
fn at_least_one_digit(b: &[u8], p: usize, start: usize) -> Result<usize, JsonError> {
    let end = skip_digits(b, p);
    if end == p {
        return Err(JsonError {
            offset: start,
            kind: JsonErrorKind::InvalidNumber,
        });
    }
    Ok(end)
}

/// Byte classes for string scanning: 1 = ends the fast run (`"`, `\`, control character).
pub(super) static STRING_STOP: [bool; 256] = {
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
            p = at_least_one_digit(b, p + 1, start)?;
        }
        if matches!(b.get(p), Some(b'e' | b'E')) {
            non_integer = true;
            p += 1;
            if matches!(b.get(p), Some(b'+' | b'-')) {
                p += 1;
            }
            p = at_least_one_digit(b, p, start)?;
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
pub(super) fn skip_plain(b: &[u8], mut p: usize) -> usize {
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
pub(super) fn skip_digits(b: &[u8], mut p: usize) -> usize {
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

/// The content of a valid JSON string token (quotes included in `token`): borrowed when it
/// has no escape (`escaped` as the scanner found it), decoded when it has.
pub fn string_text(token: &str, escaped: bool) -> std::borrow::Cow<'_, str> {
    if escaped {
        decode_string(token).into()
    } else {
        token[1..token.len() - 1].into()
    }
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
