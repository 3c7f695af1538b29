//! The help popup, generated from the key table and the state list.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::fit;
use super::theme::Theme;
use crate::app::App;
use crate::app::help::{self, HelpRow};
use crate::app::keymap::MenuAction;

pub fn draw(frame: &mut Frame<'_>, screen: Rect, app: &App, theme: Theme, scroll: u16) {
    let width = screen.width.saturating_sub(4).min(100);
    let height = screen.height.saturating_sub(2);
    let area = Rect::new(
        screen.x + (screen.width - width) / 2,
        screen.y + 1,
        width,
        height,
    );
    // Cut, not clipped: a line too long for a narrow screen says so with `…`.
    let inner = usize::from(width.saturating_sub(2));
    let lines: Vec<Line<'static>> = help_lines(app, theme)
        .into_iter()
        .map(|line| fit::line(line, inner))
        .collect();
    let max_scroll = (lines.len() as u16).saturating_sub(height.saturating_sub(2));
    let menu = &app.keymap.menu;
    let title = format!(
        " help — {} closes, {} {} scroll ",
        menu.first(MenuAction::Cancel),
        menu.first(MenuAction::Up),
        menu.first(MenuAction::Down)
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .title(title)
        .title_style(theme.title());
    super::dialogs::clear(frame, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .scroll((scroll.min(max_scroll), 0)),
        area,
    );
}

fn help_lines(app: &App, theme: Theme) -> Vec<Line<'static>> {
    let heading = theme.title().remove_modifier(Modifier::REVERSED);
    help::rows(&app.keymap)
        .into_iter()
        .map(|row| match row {
            HelpRow::Heading(text) => Line::from(Span::styled(text, heading)),
            HelpRow::State(state) => Line::from(vec![
                Span::raw("  "),
                Span::styled(state.letter().to_string(), theme.state(state)),
                Span::raw(format!("  {}", state.meaning())),
            ]),
            HelpRow::Badge(badge, meaning) => Line::from(vec![
                Span::styled(format!("  {badge:<26}"), theme.orphan()),
                Span::raw(meaning),
            ]),
            HelpRow::Key(keys, doc) => Line::from(vec![
                Span::styled(format!("  {keys:<24}"), theme.key()),
                Span::raw(doc),
            ]),
            HelpRow::Blank => Line::raw(""),
        })
        .collect()
}
