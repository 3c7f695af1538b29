//! The interactive session: terminal setup and restore, the input and signal threads, and the
//! `recv → update → effects → draw` loop. The terminal is restored and the lab ended on every way
//! out: quit, error, panic (hooks) and SIGTERM/SIGHUP/SIGINT/SIGQUIT (delivered as events).

use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Weak};

use anyhow::Context;
use crossterm::event::{self as term, KeyEventKind};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};

use crate::app::keymap::Keymap;
use crate::app::{App, Exit};
use crate::cli::Cli;
use crate::collector::Collector;
use crate::effects::Effects;
use crate::event::Event;
use crate::lab::Lab;
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
    let collector = Collector::start(cli.interval, ScanOptions::default(), events.clone());
    let effects = Effects::new(
        Lab::new("/proc/self/exe".into()),
        events.clone(),
        collector.commands(),
    );
    install_panic_hook(effects.lab().map(Arc::downgrade));
    let result = (|| {
        let size = terminal.size()?;
        let mut app = App::new(Keymap::default(), cli.color(), std::process::id() as i32);
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
        main_loop(&mut terminal, &mut app, &inbox, &effects)
    })();
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
        previous(info);
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

fn main_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    inbox: &Receiver<Event>,
    effects: &Effects,
) -> anyhow::Result<(ExitCode, bool)> {
    loop {
        terminal.draw(|frame| crate::ui::draw(frame, app))?;
        let Ok(first) = inbox.recv() else {
            return Ok((ExitCode::SUCCESS, false));
        };
        // Handle everything already queued before the next frame: one redraw per burst of events.
        for event in std::iter::once(first).chain(inbox.try_iter()) {
            for effect in app.update(event) {
                effects.run(effect);
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
