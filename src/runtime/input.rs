//! The threads that turn the outside world into events: the terminal's keys, mouse and resizes,
//! and the signals that end brood (SIGTERM, SIGHUP, SIGINT, SIGQUIT).

use std::sync::mpsc::Sender;

use anyhow::Context;
use crossterm::event::{self as term, KeyEventKind};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};

use crate::message::Event;

/// Delivers the ending signals as [`Event::Terminate`], so the main loop restores the terminal and
/// ends the lab before exiting.
pub fn spawn_signal_thread(events: Sender<Event>) -> anyhow::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT, SIGQUIT])
        .context("cannot install signal handlers")?;
    std::thread::spawn(move || {
        for signal in signals.forever() {
            if events.send(Event::Terminate(signal)).is_err() {
                return;
            }
        }
    });
    Ok(())
}

pub fn spawn_input_thread(events: Sender<Event>) {
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
