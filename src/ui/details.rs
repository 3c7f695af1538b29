//! The details pane: everything the collector read about the selected process, in sections,
//! scrollable. Parts that could not be read say why; details of another process (the selection
//! moved, the PID was reused) are never shown for this one.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::format;
use super::theme::Theme;
use crate::app::App;
use crate::proc::details::{Details, Field};
use crate::proc::wchan::Sleep;
use crate::proc::{ProcInfo, State};
use crate::signals;

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App, theme: Theme) {
    let proc = app.selected_proc();
    let title = match proc {
        Some(p) => format!(" details: {} ({}) ", p.pid(), p.name),
        None => " details ".to_string(),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .title(title)
        .title_style(theme.title());
    let lines = match (proc, app.details.as_deref()) {
        // A recording (or the session's past) holds what a scan read, not the rest of /proc.
        (Some(proc), _) if app.replay.is_some() => recorded_lines(app, proc, theme),
        (Some(proc), Some(details)) if details.id == proc.id => {
            detail_lines(app, proc, details, theme)
        }
        (Some(proc), _) => vec![Line::styled(
            format!(" reading /proc/{}…", proc.pid()),
            theme.dim(),
        )],
        (None, _) => vec![Line::styled(" no process selected", theme.dim())],
    };
    let inner = block.inner(area);
    // Long values (command lines, paths) wrap; count the rows they take to bound the scroll.
    let width = usize::from(inner.width.max(1));
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(width)).sum();
    let max_scroll = u16::try_from(rows)
        .unwrap_or(u16::MAX)
        .saturating_sub(inner.height);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((app.details_scroll.min(max_scroll), 0)),
        area,
    );
}

/// Lines of label and value, under section headings.
struct Sections {
    lines: Vec<Line<'static>>,
    theme: Theme,
}

impl Sections {
    fn heading(&mut self, text: &str) {
        self.lines.push(Line::styled(
            text.to_string(),
            self.theme
                .key()
                .add_modifier(Modifier::UNDERLINED | Modifier::BOLD),
        ));
    }

    fn item(&mut self, label: &str, value: String) {
        self.lines.push(Line::from(vec![
            Span::styled(format!("  {label:<10} "), self.theme.dim()),
            Span::raw(value),
        ]));
    }

    /// A field that may be unreadable: its text, or why it is missing.
    fn field<T>(&mut self, label: &str, field: &Field<T>, show: impl FnOnce(&T) -> String) {
        match field {
            Ok(value) => self.item(label, show(value)),
            Err(why) => self.missing(label, &why.to_string()),
        }
    }

    fn missing(&mut self, label: &str, why: &str) {
        self.lines.push(Line::from(vec![
            Span::styled(format!("  {label:<10} "), self.theme.dim()),
            Span::styled(why.to_string(), self.theme.error()),
        ]));
    }

    /// A list section: its items, or why there are none.
    fn list<T>(&mut self, field: &Field<Vec<T>>, show: impl Fn(&T) -> String) {
        match field {
            Ok(items) if items.is_empty() => {
                self.lines.push(Line::styled("  (none)", self.theme.dim()))
            }
            Ok(items) => {
                for item in items {
                    self.lines.push(Line::raw(format!("  {}", show(item))));
                }
            }
            Err(why) => self.missing("", &why.to_string()),
        }
    }
}

fn detail_lines(app: &App, proc: &ProcInfo, d: &Details, theme: Theme) -> Vec<Line<'static>> {
    let mut s = Sections {
        lines: Vec::new(),
        theme,
    };
    let secs = |v: f64| format!("{v:.2} s");

    s.heading("Command");
    s.field("args", &d.cmdline, |args| args.join(" "));
    s.field("exe", &d.exe, Clone::clone);
    s.field("cwd", &d.cwd, Clone::clone);

    s.heading("Identity");
    s.field("user", &d.status, |st| {
        let c = &st.credentials;
        let mut text = format!("{} (uid {})", c.user, c.uids[0]);
        if c.uids[1] != c.uids[0] {
            text.push_str(&format!(", effective {} ({})", c.effective_user, c.uids[1]));
        }
        text.push_str(&format!("; saved {}, fs {}", c.uids[2], c.uids[3]));
        text
    });
    s.field("group", &d.status, |st| {
        let c = &st.credentials;
        format!(
            "{} (gid {}); effective {}, saved {}, fs {}",
            c.group, c.gids[0], c.gids[1], c.gids[2], c.gids[3]
        )
    });
    s.item("parents", parent_chain(app, proc));
    s.field("NSpid", &d.status, |st| {
        let ids: Vec<String> = st.nspid.iter().map(ToString::to_string).collect();
        if ids.is_empty() {
            "-".into()
        } else {
            ids.join(" → ")
        }
    });
    s.item("group/sess", group_and_session(proc));

    s.heading("State");
    s.item("state", state_words(proc));
    s.field("tracer", &d.status, |st| {
        tracer_words(app, (st.tracer != 0).then_some(st.tracer))
    });
    s.field("wchan", &d.wchan, |sleep| match sleep {
        Sleep::In(channel) => channel.describe(),
        Sleep::Awake => "- (running)".into(),
        Sleep::Hidden => Sleep::HIDDEN.into(),
    });

    s.heading("Time");
    s.field("started", &d.stat, |st| {
        let at = st.started_unix.map_or_else(
            || "?".into(),
            |unix| format::date_time(unix, app.utc_offset_secs),
        );
        format!(
            "{at} ({} ago)",
            format::duration(app.snapshot.age_secs(proc))
        )
    });
    s.field("CPU", &d.stat, |st| {
        format!(
            "user {}, system {}; reaped children user {}, system {}",
            secs(st.user_secs),
            secs(st.system_secs),
            secs(st.children_user_secs),
            secs(st.children_system_secs)
        )
    });
    s.field("threads", &d.status, |st| {
        let switches = match (st.voluntary_switches, st.involuntary_switches) {
            (Some(v), Some(i)) => format!("; context switches {v} voluntary, {i} involuntary"),
            _ => String::new(),
        };
        format!("{}{switches}", st.threads)
    });
    s.field("priority", &d.stat, |st| {
        format!("nice {}, priority {}", st.nice, st.priority)
    });

    s.heading("Memory");
    let size = |v: Option<u64>| v.map_or_else(|| "-".into(), format::bytes);
    s.field("resident", &d.status, |st| {
        format!(
            "RSS {}  VSZ {}  shared {}  swap {}",
            size(st.rss_bytes),
            size(st.vsize_bytes),
            size(st.shared_bytes),
            size(st.swap_bytes)
        )
    });

    s.heading("I/O");
    s.field("all", &d.io, |io| {
        format!(
            "read {} in {} calls, written {} in {} calls",
            format::bytes(io.rchar),
            io.syscr,
            format::bytes(io.wchar),
            io.syscw
        )
    });
    s.field("storage", &d.io, |io| {
        format!(
            "read {}, written {}",
            format::bytes(io.read_bytes),
            format::bytes(io.write_bytes)
        )
    });

    s.heading("Signals");
    let names = |mask: u64| {
        let names = signals::names_in(mask);
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(" ")
        }
    };
    s.field("ignored", &d.status, |st| names(st.sig_ignored));
    s.field("caught", &d.status, |st| names(st.sig_caught));
    s.field("blocked", &d.status, |st| names(st.sig_blocked));
    s.field("pending", &d.status, |st| names(st.sig_pending));

    match &d.fds {
        Ok(fds) => {
            s.heading(&format!("Open files ({})", fds.total));
            for (fd, target) in &fds.listed {
                s.lines.push(Line::raw(format!("  {fd:>4} → {target}")));
            }
            if fds.total > fds.listed.len() {
                s.lines.push(Line::styled(
                    format!("  … {} more", fds.total - fds.listed.len()),
                    theme.dim(),
                ));
            }
        }
        Err(why) => {
            s.heading("Open files");
            s.missing("", &why.to_string());
        }
    }

    s.heading("Environment");
    s.list(&d.environ, Clone::clone);

    s.heading("Limits (soft / hard)");
    s.list(&d.limits, |l| {
        format!("{:<22} {:>20} / {}", l.name, l.soft, l.hard)
    });

    s.heading("Control groups");
    s.list(&d.cgroups, Clone::clone);

    s.heading("Namespaces");
    s.list(&d.namespaces, |(kind, id)| format!("{kind:<18} {id}"));

    if proc.state == State::Zombie {
        s.lines.push(Line::styled(
            "  a zombie has no memory, files or environment left: only its exit status",
            theme.dim(),
        ));
    }
    s.lines
}

/// What a scan recorded of a process: the table's fields, in the pane's sections.
fn recorded_lines(app: &App, proc: &ProcInfo, theme: Theme) -> Vec<Line<'static>> {
    let mut s = Sections {
        lines: Vec::new(),
        theme,
    };
    let snapshot = &app.snapshot;
    s.heading("Command");
    let args = if proc.cmdline.is_empty() {
        format!("[{}]", proc.name)
    } else {
        proc.cmdline.to_string()
    };
    s.item("args", args);
    s.heading("Identity");
    let uid = proc.uid.map_or_else(|| "?".into(), |uid| uid.to_string());
    s.item("user", format!("{} (uid {uid})", proc.user));
    s.item("parents", parent_chain(app, proc));
    s.item("group/sess", group_and_session(proc));
    s.heading("State");
    s.item("state", state_words(proc));
    s.item("tracer", tracer_words(app, proc.tracer));
    s.heading("Time");
    s.item(
        "started",
        format!(
            "{} before this moment",
            format::duration(snapshot.age_secs(proc))
        ),
    );
    let cpu_secs = proc.cpu_ticks as f64 / snapshot.ticks_per_sec.max(1) as f64;
    s.item(
        "CPU",
        format!(
            "{cpu_secs:.2} s in all; {:.1} % of a core then",
            proc.cpu_percent
        ),
    );
    s.item("threads", proc.threads.to_string());
    s.item("priority", format!("nice {}", proc.nice));
    s.heading("Memory");
    s.item(
        "resident",
        format!(
            "RSS {}  VSZ {}",
            format::bytes(proc.rss_bytes),
            format::bytes(proc.vsize_bytes)
        ),
    );
    s.lines.push(Line::styled(
        "  as recorded: a scan keeps these; files, environment, limits and the rest of /proc are read live only",
        theme.dim(),
    ));
    s.lines
}

fn group_and_session(proc: &ProcInfo) -> String {
    format!("process group {}, session {}", proc.pgrp, proc.session)
}

fn state_words(proc: &ProcInfo) -> String {
    format!("{} — {}", proc.state.letter(), proc.state.meaning())
}

/// `none`, or the tracer's PID and name where it is in the table.
fn tracer_words(app: &App, tracer: Option<crate::proc::Pid>) -> String {
    tracer.map_or_else(
        || "none".into(),
        |pid| {
            let name = app.proc_by_pid(pid).map(|p| format!(" ({})", p.name));
            format!("{pid}{}", name.unwrap_or_default())
        },
    )
}

/// `4242 sleep ← 300 bash ← 1 init`: the process and its ancestors, up to the root.
fn parent_chain(app: &App, proc: &ProcInfo) -> String {
    let by_pid = app.snapshot.index_by_pid();
    let mut parts = vec![format!("{} {}", proc.pid(), proc.name)];
    let mut current = proc;
    while let Some(parent) = by_pid
        .get(current.ppid)
        .map(|i| &app.snapshot.procs[i])
        .filter(|p| p.pid() != current.pid())
    {
        if parts.len() > 64 {
            parts.push("…".into());
            break;
        }
        parts.push(format!("{} {}", parent.pid(), parent.name));
        current = parent;
    }
    if current.ppid != 0 && !by_pid.contains(current.ppid) {
        parts.push(current.ppid.to_string());
    }
    parts.join(" ← ")
}
