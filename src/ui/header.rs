//! The two header lines: system figures, then the count of processes per state.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::format;
use super::theme::Theme;
use crate::app::App;
use crate::proc::State;

const METER_CELLS: usize = 10;

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App, theme: Theme) {
    let lines = vec![system_line(app, theme), states_line(app, theme)];
    frame.render_widget(Paragraph::new(lines), area);
}

fn system_line(app: &App, theme: Theme) -> Line<'static> {
    let mut spans = vec![Span::styled(" brood ", theme.title()), Span::raw(" ")];
    if let Some((path, _)) = &app.recording {
        // Said first, live or back in time: a recording goes on writing the live session.
        spans.push(Span::styled(format!("● REC {path}"), theme.error()));
        spans.push(Span::raw("  "));
    }
    if let Some(replay) = app.replay.as_ref().filter(|r| r.file.session) {
        // Back in time says so before anything: nothing on this screen is live.
        let secs = replay.entered_ns.saturating_sub(replay.cursor_ns) as f64 / 1e9;
        let ago = if secs < 60.0 {
            format!("{secs:.1} s")
        } else {
            format::duration(secs)
        };
        let esc = app.keymap.main.first(crate::app::keymap::Action::Close);
        let back = app.keymap.main.first(crate::app::keymap::Action::StepBack);
        let text = format!(
            "BACK IN TIME {} ({ago} before {back}) · scan {} of {} kept · {esc}: live",
            format::clock(replay.cursor_ns, app.utc_offset_secs, true),
            replay.frame_at(replay.cursor_ns) + 1,
            replay.file.frames.len(),
        );
        spans.push(Span::styled(text, theme.key()));
        return Line::from(spans);
    }
    if let Some(replay) = &app.replay {
        // A replay says so before anything: nothing on this screen is live.
        let (first, last) = replay.span();
        let state = match replay.playing {
            Some(speed) => format!("playing {speed}×"),
            None => "paused".to_string(),
        };
        let text = format!(
            "REPLAY {} {} · {} · scan {} of {}{}",
            replay.file.path,
            format::clock(replay.cursor_ns, app.utc_offset_secs, true),
            state,
            replay.frame_at(replay.cursor_ns) + 1,
            replay.file.frames.len(),
            if replay.loaded { "" } else { " · reading…" },
        );
        spans.push(Span::styled(text, theme.key()));
        spans.push(Span::raw(format!(
            "  ({} s recorded on {})",
            (last - first) / 1_000_000_000,
            replay.file.host
        )));
        return Line::from(spans);
    }
    let Some(sys) = app.system else {
        spans.push(Span::styled("reading /proc…", theme.dim()));
        return Line::from(spans);
    };
    let filled = ((sys.cpu_percent / 100.0) * METER_CELLS as f32)
        .round()
        .clamp(0.0, METER_CELLS as f32) as usize;
    spans.extend([
        Span::raw("CPU ["),
        Span::styled("|".repeat(filled), theme.meter()),
        Span::raw(" ".repeat(METER_CELLS - filled)),
        Span::raw(format!("] {:>5.1}% of {}  ", sys.cpu_percent, sys.cpus)),
        Span::raw(format!(
            "Mem {}/{}  ",
            format::bytes(sys.mem_used),
            format::bytes(sys.mem_total)
        )),
        Span::raw(format!(
            "Swap {}/{}  ",
            format::bytes(sys.swap_used),
            format::bytes(sys.swap_total)
        )),
        Span::raw(format!(
            "Load {:.2} {:.2} {:.2}  ",
            sys.load[0], sys.load[1], sys.load[2]
        )),
        Span::raw(format!("Up {}", format::duration(sys.uptime_secs as f64))),
    ]);
    Line::from(spans)
}

fn states_line(app: &App, theme: Theme) -> Line<'static> {
    let c = app.counts;
    let mut spans = vec![Span::raw(format!(" Tasks {}", c.total))];
    let mut item = |count: usize, label: &str, style: Style| {
        spans.push(Span::raw("  "));
        spans.push(Span::styled(format!("{count} {label}"), style));
    };
    item(c.running, "R runnable", theme.state(State::Running));
    item(c.sleeping, "S sleeping", theme.state(State::Sleeping));
    item(c.disk, "D disk", theme.state(State::DiskSleep));
    item(c.stopped, "T stopped", theme.state(State::Stopped));
    item(c.traced, "t traced", theme.state(State::Traced));
    item(c.zombie, "Z zombie", theme.state(State::Zombie));
    item(c.orphan, "orphan", theme.orphan());
    let kernel = if app.show_kernel_threads {
        "kthr"
    } else {
        "kthr hidden"
    };
    item(c.kernel_threads, kernel, theme.dim());
    if app.show_threads {
        item(c.threads, "thr", theme.dim());
    }
    Line::from(spans)
}
