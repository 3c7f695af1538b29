//! Makes text from /proc safe to put on a terminal: process names and arguments are chosen by
//! whoever started the process, so they may hold escape sequences, newlines, bidi overrides or
//! invalid UTF-8. Nothing from /proc reaches the screen without passing through here.

/// The longest command line kept per process; the rest is cut (64 KiB arguments exist).
pub const MAX_CMDLINE_CHARS: usize = 4096;

/// Decodes (lossily) and escapes control and bidi characters as `\n`, `\x1b`, `\u{202e}`.
pub fn sanitize(bytes: &[u8]) -> String {
    sanitize_limited(bytes, usize::MAX)
}

/// Like [`sanitize`], keeping at most `max_chars` characters of output (escapes included) and
/// marking a cut with `…`.
pub fn sanitize_limited(bytes: &[u8], max_chars: usize) -> String {
    let mut out = String::with_capacity(bytes.len().min(max_chars));
    let mut shown = 0;
    for ch in String::from_utf8_lossy(bytes).chars() {
        let before = out.len();
        push_escaped(&mut out, ch);
        // Escapes are ASCII, so their byte length is their length in characters.
        shown += if out.len() - before == ch.len_utf8() {
            1
        } else {
            out.len() - before
        };
        if shown > max_chars {
            out.truncate(before);
            out.push('…');
            break;
        }
    }
    out
}

/// A command line from /proc/PID/cmdline: NUL-separated arguments, joined by spaces.
pub fn cmdline_from_raw(raw: &[u8]) -> String {
    let trimmed = raw.strip_suffix(b"\0").unwrap_or(raw);
    let joined: Vec<u8> = trimmed
        .iter()
        .map(|&b| if b == 0 { b' ' } else { b })
        .collect();
    sanitize_limited(&joined, MAX_CMDLINE_CHARS)
}

fn push_escaped(out: &mut String, ch: char) {
    use std::fmt::Write;
    match ch {
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        c if c.is_control() => {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        c if is_bidi_control(c) || is_invisible_format(c) => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

/// Characters that reorder the text around them (Unicode bidi controls).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{061c}')
}

/// Zero-width characters that would make two different names look the same.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_newlines_are_escaped() {
        assert_eq!(sanitize(b"a\x1b[2Jb\nc"), "a\\x1b[2Jb\\nc");
        assert_eq!(sanitize(b"tab\there"), "tab\\there");
    }

    #[test]
    fn bidi_overrides_and_invalid_utf8_are_made_visible() {
        assert_eq!(sanitize("evil\u{202e}txt".as_bytes()), "evil\\u{202e}txt");
        assert_eq!(sanitize(b"bad\xffbyte"), "bad\u{fffd}byte");
    }

    #[test]
    fn command_lines_are_joined_and_cut() {
        assert_eq!(cmdline_from_raw(b"sleep\x0030\x00"), "sleep 30");
        let long = vec![b'a'; 70_000];
        let shown = cmdline_from_raw(&long);
        assert_eq!(shown.chars().count(), MAX_CMDLINE_CHARS + 1);
        assert!(shown.ends_with('…'));
    }
}
