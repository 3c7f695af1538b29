//! Popups that ask something: exit code, signal menu, confirmation, quit.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::hints;
use super::theme::Theme;
use crate::app::keymap::{ConfirmAction, ExitCodeAction, MenuAction, QuitAction};
use crate::app::{App, Overlay, PickKind, Picker, QuitDialog, SignalMenu};
use crate::signals;

pub fn draw(frame: &mut Frame<'_>, screen: Rect, app: &App, overlay: &Overlay, theme: Theme) {
    match overlay {
        Overlay::Help { .. } | Overlay::ScenarioMenu(_) => {}
        Overlay::ExitCode { target, input } => {
            let lines = vec![
                Line::from(format!("{target} calls _exit() with code:")),
                Line::from(vec![
                    Span::styled(format!(" {input}_"), theme.key()),
                    Span::styled("  (empty means 0)", theme.dim()),
                ]),
                Line::raw(""),
                Line::styled(
                    hints::line(&[
                        (app.keymap.exit_code.label(ExitCodeAction::Send), "exit"),
                        (app.keymap.exit_code.label(ExitCodeAction::Cancel), "cancel"),
                    ]),
                    theme.dim(),
                ),
            ];
            popup(frame, screen, " exit ", lines, 50, theme);
        }
        Overlay::Confirm { question, .. } => {
            let mut lines: Vec<Line<'_>> = question.iter().map(|q| Line::raw(q.clone())).collect();
            lines.push(Line::raw(""));
            lines.push(Line::styled(
                hints::line(&[
                    (app.keymap.confirm.label(ConfirmAction::Yes), "send"),
                    (app.keymap.confirm.label(ConfirmAction::No), "cancel"),
                ]),
                theme.dim(),
            ));
            popup(frame, screen, " confirm ", lines, 64, theme);
        }
        Overlay::Quit(dialog) => popup(
            frame,
            screen,
            " quit ",
            quit_lines(app, dialog, theme),
            64,
            theme,
        ),
        Overlay::SignalMenu(menu) => draw_signal_menu(frame, screen, app, menu, theme),
        Overlay::Pick(picker) => draw_picker(frame, screen, app, picker, theme),
    }
}

/// How many lab processes live and in which state, and what each way out does to them.
fn quit_lines(app: &App, dialog: &QuitDialog, theme: Theme) -> Vec<Line<'static>> {
    let keys = &app.keymap.quit_dialog;
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let running = dialog.processes - dialog.zombies;
    let zombies = plural(dialog.zombies, "zombie", "zombies");
    let summary = match (running, dialog.stopped.len()) {
        (0, _) => format!("The lab has {zombies} left: exited, not yet reaped"),
        (_, stopped) => {
            let mut text = format!(
                "{} still running",
                plural(running, "lab process is", "lab processes are")
            );
            if stopped > 0 {
                text.push_str(&format!(" ({stopped} stopped)"));
            }
            if dialog.zombies > 0 {
                text.push_str(&format!(", and {zombies}"));
            }
            text
        }
    };
    let key = |action: QuitAction, text: &'static str| {
        Line::from(vec![
            Span::styled(keys.label(action), theme.key()),
            Span::raw(text),
        ])
    };
    let mut lines = vec![
        Line::from(format!("{summary}.")),
        Line::raw(""),
        key(QuitAction::End, ": end them all and quit"),
        key(QuitAction::Leave, ": leave them running and quit"),
    ];
    if !dialog.stopped.is_empty() {
        lines.insert(
            2,
            Line::styled(
                "Left running, their group loses its last parent in this session when brood exits; with a member stopped, the kernel then sends the whole group SIGHUP and SIGCONT, and they would all die.",
                theme.error(),
            ),
        );
        lines.insert(3, Line::raw(""));
        lines.push(key(
            QuitAction::Continue,
            ": continue the stopped ones, then leave them running",
        ));
    }
    lines.push(key(QuitAction::Stay, ": stay in brood"));
    lines
}

fn draw_signal_menu(
    frame: &mut Frame<'_>,
    screen: Rect,
    app: &App,
    menu: &SignalMenu,
    theme: Theme,
) {
    let table = signals::all();
    let height = screen.height.saturating_sub(2).min(table.len() as u16 + 5);
    let visible = usize::from(height.saturating_sub(5)).max(1);
    let mut lines = vec![
        Line::from(vec![
            Span::raw(match menu.targets.len() {
                0 | 1 => format!("to {} — ", menu.target),
                n => format!("to {n} tagged processes ({}…) — ", menu.target),
            }),
            Span::styled(menu.scope.describe(), theme.key()),
            Span::styled(
                format!(
                    "  ({}: process / subtree / group)",
                    app.keymap.menu.label(MenuAction::Scope)
                ),
                theme.dim(),
            ),
        ]),
        Line::raw(""),
    ];
    let items = table.iter().map(|info| {
        let effect = match menu.dispositions {
            Some(Some(dispositions)) => dispositions.describe(*info),
            Some(None) => format!("{} (its handlers: unreadable)", info.default.describe()),
            None => info.default.describe().to_string(),
        };
        Line::from(vec![
            Span::raw(format!("{:>2} {:<10}", info.number(), info.name())),
            Span::raw(format!("{:<56}", info.meaning)),
            Span::styled(effect, theme.orphan()),
        ])
    });
    let keys = hints::menu(app, "send");
    lines.extend(menu_lines(
        items.collect(),
        menu.selected,
        visible,
        keys,
        theme,
    ));
    popup(frame, screen, " send a signal ", lines, 124, theme);
}

fn draw_picker(frame: &mut Frame<'_>, screen: Rect, app: &App, picker: &Picker, theme: Theme) {
    let title = match picker.kind {
        PickKind::User => " show processes of ",
        PickKind::Sort => " sort by ",
        PickKind::LogKind => " show in the log ",
    };
    let visible = usize::from(screen.height.saturating_sub(6));
    let items = picker
        .items
        .iter()
        .map(|item| Line::raw(format!(" {item}")))
        .collect();
    let keys = hints::menu(app, "pick");
    popup(
        frame,
        screen,
        title,
        menu_lines(items, picker.selected, visible, keys, theme),
        44,
        theme,
    );
}

/// The window of a list that fits in `visible` rows around its selected item, that item
/// highlighted, and the keys that work below it.
pub(super) fn menu_lines<'a>(
    items: Vec<Line<'a>>,
    selected: usize,
    visible: usize,
    keys: String,
    theme: Theme,
) -> Vec<Line<'a>> {
    let visible = visible.max(1);
    let first = selected
        .saturating_sub(visible / 2)
        .min(items.len().saturating_sub(visible));
    let mut lines: Vec<Line<'a>> = items
        .into_iter()
        .enumerate()
        .skip(first)
        .take(visible)
        .map(|(i, line)| {
            if i == selected {
                line.patch_style(theme.selected())
            } else {
                line
            }
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled(keys, theme.dim()));
    lines
}

/// A bordered box centred on the screen, as tall as its lines once wrapped to its width.
pub(super) fn popup(
    frame: &mut Frame<'_>,
    screen: Rect,
    title: &str,
    lines: Vec<Line<'_>>,
    width: u16,
    theme: Theme,
) {
    let width = width
        .min(screen.width.saturating_sub(2))
        .max(10.min(screen.width));
    let wrapped = Paragraph::new(lines.clone())
        .wrap(Wrap { trim: false })
        .line_count(width.saturating_sub(2));
    let height = u16::try_from(wrapped + 2)
        .unwrap_or(u16::MAX)
        .min(screen.height);
    let area = Rect::new(
        screen.x + (screen.width - width) / 2,
        screen.y + (screen.height - height) / 2,
        width,
        height,
    );
    boxed(frame, area, title.to_string(), lines, theme);
}

/// Clears `area` and draws `lines` in it, wrapped, inside a titled border.
pub(super) fn boxed(
    frame: &mut Frame<'_>,
    area: Rect,
    title: String,
    lines: Vec<Line<'_>>,
    theme: Theme,
) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(title)
        .title_style(theme.title());
    clear(frame, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

/// Blanks `area` for a popup, and any wide character (CJK, emoji) of what lies beneath whose
/// right half the popup's left edge would cover: left there, it would be drawn whole over the
/// popup's border (ratatui never redraws the cell a wide character covers), and the border
/// would look moved.
pub(super) fn clear(frame: &mut Frame<'_>, area: Rect) {
    frame.render_widget(Clear, area);
    let Some(left) = area.x.checked_sub(1) else {
        return;
    };
    let buffer = frame.buffer_mut();
    for y in area.top()..area.bottom() {
        if let Some(cell) = buffer.cell_mut((left, y))
            && crate::proc::text::width(cell.symbol()) > 1
        {
            cell.set_symbol(" ");
        }
    }
}
