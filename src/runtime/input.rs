//! The threads that turn the outside world into events: the terminal's keys, mouse and resizes,
//! the signals that end brood (SIGTERM, SIGHUP, SIGINT, SIGQUIT), and those of job control: a
//! SIGTSTP from outside (brood gives the terminal back before it stops) and SIGCONT (brood
//! takes it again, whoever stopped it).

use std::sync::mpsc::Sender;

use anyhow::Context;
use crossterm::event::{self as term, KeyEventKind};
use signal_hook::consts::{SIGCONT, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTSTP};

use crate::message::Event;

/// Delivers the ending signals as [`Event::Terminate`], so the main loop restores the terminal and
/// ends the lab before exiting, and the job-control ones as [`Event::Stopping`] and
/// [`Event::Continued`].
pub fn spawn_signal_thread(events: Sender<Event>) -> anyhow::Result<()> {
    let mut signals =
        signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGTSTP, SIGCONT])
            .context("cannot install signal handlers")?;
    std::thread::spawn(move || {
        for signal in signals.forever() {
            let event = match signal {
                SIGTSTP => Event::Stopping,
                SIGCONT => Event::Continued,
                signal => Event::Terminate(signal),
            };
            if events.send(event).is_err() {
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
                // A read interrupted by a signal (the stop and continue of job control) is tried
                // again; anything else means no key will ever arrive: say so and stop.
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) => Event::InputLost(err.to_string()),
            };
            let lost = matches!(event, Event::InputLost(_));
            if events.send(event).is_err() || lost {
                return;
            }
        }
    });
}
