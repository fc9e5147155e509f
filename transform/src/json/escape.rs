//! JSON string escaping, as serde_json escapes.

use super::scan::skip_plain;

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
pub(super) fn needs_escape(w: u64) -> u64 {
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
pub(super) fn push_string_token(out: &mut String, s: &str) {
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
