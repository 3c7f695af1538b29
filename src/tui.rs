//! The interactive session: terminal setup and restore, the input and signal threads, and the
//! `recv → update → effects → draw` loop. The terminal is restored and the lab ended on every way
//! out: quit, error, panic (hooks) and SIGTERM/SIGHUP/SIGINT/SIGQUIT (delivered as events).

use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Weak};

use anyhow::Context;
use crossterm::event::{self as term, DisableMouseCapture, EnableMouseCapture, KeyEventKind};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};

use crate::app::{App, Effect, Exit};
use crate::cli::Cli;
use crate::collector::Collector;
use crate::config::Config;
use crate::effects::Effects;
use crate::event::Event;
use crate::lab::Lab;
use crate::proc::scan::ScanOptions;

pub fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    // First, before any thread starts.
    crate::proc::scan::reserve_descriptors();
    let (events, inbox) = mpsc::channel();
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT, SIGQUIT])
        .context("cannot install signal handlers")?;
    let signal_events = events.clone();
    std::thread::spawn(move || {
        for signal in signals.forever() {
            if signal_events.send(Event::Terminate(signal)).is_err() {
                return;
            }
        }
    });

    let (config, config_error) = Config::load(cli.config.as_deref());
    let config = effective(cli, config);
    let mut terminal = ratatui::try_init().context("cannot set up the terminal")?;
    let mouse = config.mouse;
    if mouse {
        // Without it brood still works; the terminal keeps the mouse for itself.
        let _ = crossterm::execute!(std::io::stdout(), EnableMouseCapture);
    }
    let collector = Collector::start(config.refresh, ScanOptions::default(), events.clone());
    let effects = Effects::new(
        Lab::new("/proc/self/exe".into()),
        events.clone(),
        collector.commands(),
    );
    install_panic_hook(effects.lab().map(Arc::downgrade));
    let result = (|| {
        let size = terminal.size()?;
        let mut app = App::new(
            config.keymap.clone(),
            cli.color(),
            std::process::id() as i32,
        );
        app.theme = config.theme;
        app.columns = config.columns.clone();
        app.auto_reap = config.auto_reap;
        app.root = cli.pid;
        app.filter.user = cli.user.clone();
        app.filter.text = cli.filter.clone().unwrap_or_default();
        if let Some(error) = config_error {
            app.warn(format!("config: {error}; running on the defaults"));
        }
        if config.subreaper {
            effects.run(Effect::SetSubreaper(true));
        }
        app.update(Event::Resize {
            width: size.width,
            height: size.height,
        });
        if let Some(id) = cli.scenario {
            app.start_scenario(id)
                .into_iter()
                .for_each(|e| effects.run(e));
        }
        spawn_input_thread(events);
        main_loop(&mut terminal, &mut app, &inbox, &effects, mouse)
    })();
    if mouse {
        let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
    }
    restore(terminal);
    let (code, leave_running) = match result {
        Ok(exit) => exit,
        Err(err) => {
            effects.shutdown(false);
            return Err(err);
        }
    };
    effects.shutdown(leave_running);
    Ok(code)
}

/// On panic, end the lab too (ratatui's own hook, installed before, restores the terminal).
fn install_panic_hook(lab: Option<Weak<Lab>>) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Some(lab) = lab.as_ref().and_then(Weak::upgrade) {
            lab.shutdown(false);
        }
        let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
        previous(info);
        // A panic on any thread (collector, effects) ends brood: the lab is gone and the
        // terminal restored, so the main loop must not go on drawing onto the normal screen.
        std::process::exit(101);
    }));
}

/// Leaves raw mode and the alternate screen and shows the cursor. Failures are ignored: they mean
/// the terminal is gone (hung up) and there is nothing left to restore. ratatui's `restore` and
/// `Terminal`'s drop would report them with `eprintln!`, which panics when stderr is that same
/// dead terminal, and that panic, inside ratatui's panic hook, aborts brood.
fn restore(mut terminal: ratatui::DefaultTerminal) {
    let _ = ratatui::try_restore();
    if terminal.show_cursor().is_err() {
        // Its drop would try again, and print the failure.
        std::mem::forget(terminal);
    }
}

/// The config with the command line laid over it.
pub fn effective(cli: &Cli, mut config: Config) -> Config {
    if cli.interval_given {
        config.refresh = cli.interval;
    }
    if cli.no_mouse {
        config.mouse = false;
    }
    config
}

/// Whether a shell with job control could resume brood: the kernel ignores SIGTSTP in an
/// orphaned process group (no parent in the same session but another group), and then nothing
/// could `fg` it anyway.
fn job_control() -> bool {
    use nix::unistd::{getpgid, getppid, getsid};
    let parent = getppid();
    match (
        getpgid(None),
        getsid(None),
        getpgid(Some(parent)),
        getsid(Some(parent)),
    ) {
        (Ok(group), Ok(session), Ok(parent_group), Ok(parent_session)) => {
            parent_session == session && parent_group != group
        }
        _ => false,
    }
}

/// Ctrl-Z: give the terminal back as it was, stop like any job, and on `fg` take the terminal
/// again and redraw everything (the shell may have drawn over the screen meanwhile).
fn suspend(terminal: &mut ratatui::DefaultTerminal, mouse: bool) -> anyhow::Result<()> {
    use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen};
    let mut out = std::io::stdout();
    if mouse {
        let _ = crossterm::execute!(out, DisableMouseCapture);
    }
    let _ = crossterm::execute!(out, LeaveAlternateScreen, crossterm::cursor::Show);
    let _ = crossterm::terminal::disable_raw_mode();
    // SIGTSTP's default action stops brood here; `fg` sends SIGCONT and it returns.
    let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGTSTP);
    crossterm::terminal::enable_raw_mode().context("cannot take the terminal back")?;
    crossterm::execute!(out, EnterAlternateScreen, crossterm::cursor::Hide)
        .context("cannot take the terminal back")?;
    if mouse {
        let _ = crossterm::execute!(out, EnableMouseCapture);
    }
    // Not `terminal.clear()`: it asks the terminal for the cursor position, and the input
    // thread, blocked in its read, would take the answer. A blank frame makes ratatui's idea of
    // the screen blank, so the next frame is drawn whole.
    crossterm::execute!(
        out,
        crossterm::terminal::Clear(crossterm::terminal::ClearType::All)
    )?;
    terminal.draw(|_| {})?;
    Ok(())
}

fn main_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    inbox: &Receiver<Event>,
    effects: &Effects,
    mouse: bool,
) -> anyhow::Result<(ExitCode, bool)> {
    loop {
        terminal.draw(|frame| crate::ui::draw(frame, app))?;
        let Ok(first) = inbox.recv() else {
            return Ok((ExitCode::SUCCESS, false));
        };
        // Handle everything already queued before the next frame: one redraw per burst of events.
        for event in std::iter::once(first).chain(inbox.try_iter()) {
            for effect in app.update(event) {
                match effect {
                    Effect::Suspend if job_control() => suspend(terminal, mouse)?,
                    Effect::Suspend => app.set_status(
                        crate::app::Severity::Error,
                        "Ctrl-Z: brood was not started by a job-control shell, so nothing could bring it back; not suspended",
                    ),
                    effect => effects.run(effect),
                }
            }
            match app.exit {
                Some(Exit::Quit { leave_running }) => {
                    return Ok((ExitCode::SUCCESS, leave_running));
                }
                Some(Exit::Signal(signal)) => {
                    return Ok((ExitCode::from(128 + signal as u8), false));
                }
                None => {}
            }
        }
    }
}

fn spawn_input_thread(events: Sender<Event>) {
    std::thread::spawn(move || {
        loop {
            let event = match term::read() {
                Ok(term::Event::Key(key)) if key.kind != KeyEventKind::Release => Event::Key(key),
                Ok(term::Event::Mouse(mouse)) => Event::Mouse(mouse),
                Ok(term::Event::Resize(width, height)) => Event::Resize { width, height },
                Ok(_) => continue,
                Err(_) => return,
            };
            if events.send(event).is_err() {
                return;
            }
        }
    });
}
