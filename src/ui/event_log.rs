//! The event log panel: the newest entries at the bottom, each with its time.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::format;
use super::theme::Theme;
use crate::app::App;

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App, theme: Theme) {
    let block = Block::default()
        .borders(Borders::TOP)
        .title(if app.lab_view {
            " event log: the lab "
        } else {
            " event log "
        })
        .title_style(theme.title());
    let inner = block.inner(area);
    let shown = usize::from(inner.height);
    // In the lab view the log keeps to the lab too: the rest of the machine is noise there.
    let entries: Vec<_> = app
        .log
        .iter()
        .filter(|e| !app.lab_view || e.about_lab)
        .collect();
    let lines: Vec<Line<'_>> = entries
        .iter()
        .skip(entries.len().saturating_sub(shown))
        .map(|entry| {
            Line::from(vec![
                Span::styled(format::clock(entry.at, app.utc_offset_secs), theme.dim()),
                Span::raw(format!(" {}", entry.text)),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
