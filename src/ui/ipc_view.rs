//! The IPC panel for the selected process: why it sleeps, whom it is connected to (a small graph,
//! one edge a line, arrows for the direction data flows) and any deadlock it is part of.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::theme::Theme;
use crate::app::App;
use crate::proc::ipc::Access;
use crate::proc::wchan::Sleep;
use crate::proc::{Identity, ProcInfo, State};

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App, theme: Theme) {
    let block = Block::default()
        .borders(Borders::TOP)
        // The sweep is of now: said so while the tree shows the past.
        .title(if app.in_the_past() {
            " IPC (now) "
        } else {
            " IPC "
        })
        .title_style(theme.title());
    let replaying_a_file = app.replay.is_some() && !app.in_the_past();
    let lines = match app.selected_proc() {
        _ if replaying_a_file => vec![Line::styled(
            "not recorded: wait channels, descriptors and locks are read live only",
            theme.dim(),
        )],
        Some(proc) => lines_for(app, proc, theme),
        None => vec![Line::raw("no process selected")],
    };
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

fn label(app: &App, id: Identity) -> String {
    app.proc_by_pid(id.pid)
        .filter(|p| p.id == id)
        .map_or_else(|| id.to_string(), |p| format!("{id} {}", p.name))
}

fn lines_for(app: &App, proc: &ProcInfo, theme: Theme) -> Vec<Line<'static>> {
    let pid = proc.pid();
    let why = match (proc.state, app.ipc.wait_of(proc.id)) {
        (State::Sleeping | State::DiskSleep, Some(channel)) => channel.describe(),
        (State::Sleeping | State::DiskSleep, None) if app.ipc.wait_hidden(proc.id) => {
            format!("sleeping, wait channel {}", Sleep::HIDDEN)
        }
        (State::Sleeping | State::DiskSleep, None) => {
            "sleeping (wait channel not read yet)".to_string()
        }
        (state, _) => state.meaning().to_string(),
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(label(app, proc.id), theme.key()),
        Span::raw(format!(": {} — {why}", proc.state.letter())),
    ])];
    for deadlock in app
        .deadlocks
        .iter()
        .filter(|d| d.members().any(|m| m == proc.id))
    {
        let steps: Vec<String> = deadlock
            .cycle
            .iter()
            .map(|(waiter, reason, on)| reason.step(&label(app, *waiter), &label(app, *on)))
            .collect();
        lines.push(Line::from(vec![
            Span::styled("DEADLOCK ", theme.state(State::Zombie)),
            Span::raw(format!(
                "{} — signal one of them (s) to break it",
                steps.join(" → ")
            )),
        ]));
    }
    match app.ipc.ends.get(&pid).filter(|_| app.ipc.knows(proc.id)) {
        Some(None) => lines.push(Line::styled(
            "its descriptors: permission denied",
            theme.dim(),
        )),
        None => lines.push(Line::styled("reading descriptors…", theme.dim())),
        Some(Some(_)) => {
            let links = &app.links;
            if links.is_empty() {
                lines.push(Line::styled(
                    "no pipe, socket, shared memory or queue shared with another process",
                    theme.dim(),
                ));
            }
            for link in links {
                // Data flows from a writing end to a reading one; two ends used the same way
                // share the object rather than talk through it.
                let arrow = match (link.mine, link.theirs) {
                    (Access::Write, Access::Read | Access::ReadWrite)
                    | (Access::ReadWrite, Access::Read) => "──▶",
                    (Access::Read, Access::Write | Access::ReadWrite)
                    | (Access::ReadWrite, Access::Write) => "◀──",
                    (Access::ReadWrite, Access::ReadWrite) => "◀─▶",
                    (Access::Read, Access::Read) => "═ both read ═",
                    (Access::Write, Access::Write) => "═ both write ═",
                };
                lines.push(Line::from(vec![
                    Span::raw(format!("  {} {arrow} ", label(app, proc.id))),
                    Span::styled(label(app, link.peer), theme.key()),
                    Span::styled(format!("  {}", link.endpoint.describe()), theme.dim()),
                ]));
            }
        }
    }
    lines
}
