//! Text cut to the cells it may take. Widths are measured per grapheme, as ratatui lays cells
//! out and a terminal draws them: a flag (two regional indicators) or a CJK character takes two
//! cells, a letter with a combining mark one. A cut is marked with `…`, so nothing is hidden
//! without saying so.

use std::borrow::Cow;

use ratatui::text::{Line, Span};
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

pub use crate::proc::text::width;

/// Cells a whole line takes.
pub fn width_of(line: &Line<'_>) -> usize {
    line.spans.iter().map(|s| width(&s.content)).sum()
}

/// `text` in at most `cells` cells: whole when it fits, else cut at a grapheme and ended with
/// `…` (a wide character that would straddle the edge goes whole).
pub fn cut(text: &str, cells: usize) -> Cow<'_, str> {
    if width(text) <= cells {
        return Cow::Borrowed(text);
    }
    let Some(room) = cells.checked_sub(1) else {
        return Cow::Borrowed("");
    };
    let mut used = 0;
    let mut end = 0;
    for (at, grapheme) in text.grapheme_indices(true) {
        let w = grapheme.width();
        if used + w > room {
            break;
        }
        used += w;
        end = at + grapheme.len();
    }
    Cow::Owned(format!("{}…", &text[..end]))
}

/// `text` cut to `cells` and padded with spaces to exactly that many: a table cell.
pub fn pad(text: &str, cells: usize) -> String {
    let text = cut(text, cells);
    let fill = cells.saturating_sub(width(&text));
    format!("{text}{}", " ".repeat(fill))
}

/// `line` in at most `cells` cells: spans kept in order with their styles, the one that crosses
/// the edge cut with `…`, the rest dropped.
pub fn line(line: Line<'static>, cells: usize) -> Line<'static> {
    if width_of(&line) <= cells {
        return line;
    }
    let Line {
        spans,
        style,
        alignment,
    } = line;
    let mut kept = Vec::with_capacity(spans.len());
    let mut left = cells;
    for span in spans {
        let w = width(&span.content);
        if w < left {
            left -= w;
            kept.push(span);
            continue;
        }
        // This span reaches the edge (the whole line is too wide, so something follows it).
        let content = cut(&span.content, left).into_owned();
        let content = if content.ends_with('…') {
            content
        } else {
            // It fitted exactly, with nothing left for the mark: cut it one cell shorter.
            cut(&format!("{content}…"), left).into_owned()
        };
        kept.push(Span::styled(content, span.style));
        break;
    }
    Line {
        spans: kept,
        style,
        alignment,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_never_splits_a_grapheme_and_is_marked() {
        assert_eq!(cut("short", 10), "short");
        assert_eq!(cut("abcdef", 4), "abc…");
        // The flag would straddle the edge: it goes whole, and the cell stays blank.
        assert_eq!(cut("a🇺🇸bc", 3), "a…");
        assert_eq!(width(&cut("a🇺🇸bc", 3)), 2);
        assert_eq!(cut("e\u{301}e\u{301}e\u{301}", 2), "e\u{301}…");
        assert_eq!(cut("漢字漢字", 5), "漢字…");
        assert_eq!(cut("abc", 0), "");
        assert_eq!(pad("漢", 4), "漢  ");
        assert_eq!(pad("abcdef", 4), "abc…");
    }

    #[test]
    fn a_line_too_wide_keeps_its_styles_and_ends_in_a_mark() {
        use ratatui::style::{Color, Style};
        let red = Style::new().fg(Color::Red);
        let wide = Line::from(vec![Span::raw("12345"), Span::styled("🇺🇸🇫🇷x", red)]);
        let cut = line(wide.clone(), 8);
        assert_eq!(cut.width(), 8);
        assert_eq!(cut.spans[1].content, "🇺🇸…");
        assert_eq!(cut.spans[1].style, red);
        assert_eq!(line(wide.clone(), 10), wide);
        // The first span fills the width exactly: it gives a cell to the mark.
        let exact = line(Line::from(vec![Span::raw("abcd"), Span::raw("ef")]), 4);
        assert_eq!(exact.spans.len(), 1);
        assert_eq!(exact.spans[0].content, "abc…");
    }
}
