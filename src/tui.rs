//! The interactive session: terminal setup and restore, the input and signal threads, and the
//! `recv → update → draw` loop. The terminal is restored on every way out: quit, error, panic
//! (ratatui's hook) and SIGTERM/SIGHUP/SIGINT/SIGQUIT (delivered as events, not as deaths).

use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, Sender};

use anyhow::Context;
use crossterm::event::{self as term, KeyEventKind};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};

use crate::app::keymap::Keymap;
use crate::app::{App, Effect, Exit};
use crate::cli::Cli;
use crate::collector::{Collector, Command};
use crate::event::Event;
use crate::proc::scan::ScanOptions;

pub fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
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

    let mut terminal = ratatui::try_init().context("cannot set up the terminal")?;
    let result = (|| {
        let size = terminal.size()?;
        let mut app = App::new(Keymap::default(), cli.color(), std::process::id() as i32);
        app.update(Event::Resize {
            width: size.width,
            height: size.height,
        });
        spawn_input_thread(events.clone());
        let collector = Collector::start(cli.interval, ScanOptions::default(), events);
        main_loop(&mut terminal, &mut app, &inbox, &collector)
    })();
    restore(terminal);
    result
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

fn main_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    inbox: &Receiver<Event>,
    collector: &Collector,
) -> anyhow::Result<ExitCode> {
    loop {
        terminal.draw(|frame| crate::ui::draw(frame, app))?;
        let Ok(first) = inbox.recv() else {
            return Ok(ExitCode::SUCCESS);
        };
        // Handle everything already queued before the next frame: one redraw per burst of events.
        for event in std::iter::once(first).chain(inbox.try_iter()) {
            for effect in app.update(event) {
                match effect {
                    Effect::ScanThreads(on) => collector.send(Command::ScanThreads(on)),
                }
            }
            match app.exit {
                Some(Exit::Quit) => return Ok(ExitCode::SUCCESS),
                Some(Exit::Signal(signal)) => return Ok(ExitCode::from(128 + signal as u8)),
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
