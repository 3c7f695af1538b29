//! Makes text from /proc safe to put on a terminal: process names and arguments are chosen by
//! whoever started the process, so they may hold escape sequences, newlines, bidi overrides or
//! invalid UTF-8. Nothing from /proc reaches the screen without passing through here.

/// The longest command line kept per process, the rest cut and marked `…`: the kernel's limit
/// for one argument (MAX_ARG_STRLEN, 128 KiB). The filter and search read the whole of it, and
/// real command lines (a Java class path, a 5 000-character `argv[0]`) run long before their
/// last arguments, which are often the ones looked for.
pub const MAX_CMDLINE_CHARS: usize = 128 * 1024;

/// Decodes (lossily) and escapes control characters and every invisible, separating or
/// unsteadily wide one as `\n`, `\x1b`, `\u{202e}`.
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

/// Cells `text` takes on a terminal, measured per grapheme as ratatui lays cells out: a CJK
/// character takes two, a letter with a combining mark one.
pub fn width(text: &str) -> usize {
    use unicode_segmentation::UnicodeSegmentation;
    use unicode_width::UnicodeWidthStr;
    text.graphemes(true).map(UnicodeWidthStr::width).sum()
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
        c if is_hidden_or_unsteady(c) => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

/// Characters escaped besides the controls. Invisible ones (Unicode format characters such as
/// bidi controls and zero-width joiners, the other default-ignorable code points such as
/// variation selectors, the soft hyphen and the combining grapheme joiner) reorder or hide text,
/// or make two different names look the same. Separators other than the ASCII space break lines
/// or look like a space. And the width of regional indicators (flags) and emoji skin-tone
/// modifiers depends on the terminal: tmux 3.3 keeps each indicator of a flag in a cell of its
/// own, others draw each two cells wide; whatever brood lays out, some terminal would draw it
/// wider or leave half of it behind.
fn is_hidden_or_unsteady(c: char) -> bool {
    matches!(
        c,
        '\u{a0}'
            | '\u{ad}'
            | '\u{34f}'
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{6dd}'
            | '\u{70f}'
            | '\u{890}'..='\u{891}'
            | '\u{8e2}'
            | '\u{115f}'..='\u{1160}'
            | '\u{1680}'
            | '\u{17b4}'..='\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{2000}'..='\u{200f}'
            | '\u{2028}'..='\u{202f}'
            | '\u{205f}'..='\u{206f}'
            | '\u{3000}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{fff0}'..='\u{fffb}'
            | '\u{110bd}'
            | '\u{110cd}'
            | '\u{13430}'..='\u{1343f}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{1f1e6}'..='\u{1f1ff}'
            | '\u{1f3fb}'..='\u{1f3ff}'
            | '\u{e0000}'..='\u{e0fff}'
    )
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
    fn every_invisible_separating_or_unsteadily_wide_character_is_escaped() {
        for hidden in [
            '\u{2028}',  // line separator
            '\u{2029}',  // paragraph separator
            '\u{2061}',  // function application
            '\u{2064}',  // invisible plus
            '\u{34f}',   // combining grapheme joiner
            '\u{fe0f}',  // variation selector 16
            '\u{e0100}', // variation selector 17
            '\u{ad}',    // soft hyphen
            '\u{200d}',  // zero-width joiner
            '\u{a0}',    // no-break space
            '\u{3000}',  // ideographic space
            '\u{e0041}', // tag latin capital A
            '\u{1f1fa}', // regional indicator U
            '\u{1f3fd}', // skin tone
        ]
        .into_iter()
        .chain('\u{202a}'..='\u{202e}')
        .chain('\u{2066}'..='\u{2069}')
        .chain(['\u{200e}', '\u{200f}', '\u{61c}'])
        {
            let text = format!("a{hidden}b");
            let shown = sanitize(text.as_bytes());
            assert_eq!(
                shown,
                format!("a\\u{{{:x}}}b", u32::from(hidden)),
                "{hidden:?}"
            );
        }
        // What every terminal draws alike stays as it is.
        for kept in ["漢字", "e\u{301}", "café", "a b", "😀"] {
            assert_eq!(sanitize(kept.as_bytes()), kept);
        }
        assert_eq!(
            sanitize("🇺🇸".as_bytes()),
            "\\u{1f1fa}\\u{1f1f8}",
            "a flag is shown by its letters' code points"
        );
    }

    #[test]
    fn a_long_first_argument_keeps_the_arguments_after_it() {
        let mut raw = "x".repeat(5000).into_bytes();
        raw.extend_from_slice(b"\0--needle\0");
        let shown = cmdline_from_raw(&raw);
        assert!(
            shown.ends_with(" --needle"),
            "{}",
            &shown[shown.len() - 20..]
        );
    }

    #[test]
    fn widths_are_measured_per_grapheme() {
        assert_eq!(width("漢字"), 4);
        assert_eq!(width("e\u{301}"), 1);
        assert_eq!(width("🇺🇸"), 2);
        assert_eq!(width("a😀b"), 4);
    }

    #[test]
    fn command_lines_are_joined_and_cut() {
        assert_eq!(cmdline_from_raw(b"sleep\x0030\x00"), "sleep 30");
        let long = vec![b'a'; MAX_CMDLINE_CHARS + 100];
        let shown = cmdline_from_raw(&long);
        assert_eq!(shown.chars().count(), MAX_CMDLINE_CHARS + 1);
        assert!(shown.ends_with('…'));
    }
}
