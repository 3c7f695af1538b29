//! Drawing: `draw(frame, &App)` paints the state and nothing else: no /proc, no signals, no `&mut`.

mod details;
mod dialogs;
mod event_log;
mod fit;
mod footer;
pub mod format;
mod header;
mod help;
mod hints;
mod ipc_view;
pub mod scenario_panel;
pub mod theme;
mod timeline;
mod tree_view;

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use crate::app::{App, Overlay, Page, layout};
use theme::Theme;

pub fn draw(frame: &mut Frame<'_>, app: &App) {
    let screen = frame.area();
    let areas = layout::areas(screen, app.panels());
    if areas.too_small {
        draw_too_small(frame, screen);
        return;
    }
    let theme = Theme::new(app.theme, app.color);
    match app.page {
        Page::Tree => draw_tree_page(frame, &areas, app, theme),
        Page::Log => event_log::draw_page(frame, screen, app, theme),
        Page::Timeline => timeline::draw(frame, screen, app, theme),
    }
    match &app.overlay {
        Some(Overlay::Help { scroll }) => help::draw(frame, screen, app, theme, *scroll),
        Some(Overlay::ScenarioMenu(menu)) => {
            scenario_panel::draw_menu(frame, screen, app, *menu, theme)
        }
        Some(overlay) => dialogs::draw(frame, screen, app, overlay, theme),
        None => {}
    }
}

fn draw_tree_page(frame: &mut Frame<'_>, areas: &layout::Areas, app: &App, theme: Theme) {
    header::draw(frame, areas.header, app, theme);
    tree_view::draw(frame, areas.table_header, areas.table, app, theme);
    if areas.scenario.height > 0 {
        scenario_panel::draw(frame, areas.scenario, app, theme);
    }
    if areas.details.height > 0 {
        details::draw(frame, areas.details, app, theme);
    }
    if areas.ipc.height > 0 {
        ipc_view::draw(frame, areas.ipc, app, theme);
    }
    if areas.log.height > 0 {
        event_log::draw_panel(frame, areas.log, app, theme);
    }
    footer::draw(frame, areas.footer, app, theme);
}

fn draw_too_small(frame: &mut Frame<'_>, screen: Rect) {
    let text = format!(
        "terminal too small ({}x{}): brood needs {}x{}",
        screen.width,
        screen.height,
        layout::MIN_WIDTH,
        layout::MIN_HEIGHT
    );
    let notice = Paragraph::new(Line::from(text))
        .alignment(Alignment::Center)
        .wrap(Wrap { trim: true });
    let top = screen.height.saturating_sub(2) / 2;
    let area = Rect::new(screen.x, screen.y + top, screen.width, screen.height - top);
    frame.render_widget(notice, area);
}
