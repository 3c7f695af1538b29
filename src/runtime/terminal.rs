//! The terminal: raw mode and the alternate screen on the way in, restored on every way out —
//! quit, error, panic (a hook) and suspend (Ctrl-Z, restored again on `fg`).

use std::process::ExitCode;
use std::sync::{Arc, Weak};

use anyhow::Context;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture};

use crate::lab::Lab;

pub struct Terminal {
    inner: ratatui::DefaultTerminal,
    mouse: bool,
}

impl Terminal {
    pub fn enter(mouse: bool) -> anyhow::Result<Terminal> {
        let inner = ratatui::try_init().context("cannot set up the terminal")?;
        if mouse {
            // Without it brood still works; the terminal keeps the mouse for itself.
            let _ = crossterm::execute!(std::io::stdout(), EnableMouseCapture);
        }
        Ok(Terminal { inner, mouse })
    }

    pub fn size(&self) -> anyhow::Result<ratatui::layout::Size> {
        Ok(self.inner.size()?)
    }

    pub fn draw(&mut self, app: &crate::app::App) -> anyhow::Result<()> {
        self.inner.draw(|frame| crate::ui::draw(frame, app))?;
        Ok(())
    }

    /// Leaves raw mode and the alternate screen and shows the cursor. Failures are ignored: they
    /// mean the terminal is gone (hung up) and there is nothing left to restore. ratatui's
    /// `restore` and `Terminal`'s drop would report them with `eprintln!`, which panics when
    /// stderr is that same dead terminal, and that panic, inside ratatui's panic hook, aborts.
    pub fn leave(mut self) {
        if self.mouse {
            let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
        }
        let _ = ratatui::try_restore();
        if self.inner.show_cursor().is_err() {
            // Its drop would try again, and print the failure.
            std::mem::forget(self.inner);
        }
    }

    /// Ctrl-Z: give the terminal back as it was, stop like any job, and on `fg` take the
    /// terminal again and redraw everything (the shell may have drawn over the screen meanwhile).
    pub fn suspend(&mut self) -> anyhow::Result<()> {
        use crossterm::terminal::LeaveAlternateScreen;
        let mut out = std::io::stdout();
        if self.mouse {
            let _ = crossterm::execute!(out, DisableMouseCapture);
        }
        let _ = crossterm::execute!(out, LeaveAlternateScreen, crossterm::cursor::Show);
        let _ = crossterm::terminal::disable_raw_mode();
        // SIGSTOP, not SIGTSTP: brood catches SIGTSTP (to get here when it comes from outside).
        // `fg` sends SIGCONT and brood goes on from here.
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGSTOP);
        self.retake()
    }

    /// Takes the terminal again after a stop (ours, or SIGSTOP from outside, after which the
    /// shell may have left it cooked and echoing) and redraws the whole screen.
    pub fn retake(&mut self) -> anyhow::Result<()> {
        use crossterm::terminal::EnterAlternateScreen;
        let mut out = std::io::stdout();
        // crossterm remembers having switched raw mode on and would do nothing now: switch it
        // off (back to the mode brood found) first, whatever the terminal was changed to since.
        let _ = crossterm::terminal::disable_raw_mode();
        crossterm::terminal::enable_raw_mode().context("cannot take the terminal back")?;
        crossterm::execute!(out, EnterAlternateScreen, crossterm::cursor::Hide)
            .context("cannot take the terminal back")?;
        if self.mouse {
            let _ = crossterm::execute!(out, EnableMouseCapture);
        }
        // Not `terminal.clear()`: it asks the terminal for the cursor position, and the input
        // thread, blocked in its read, would take the answer. A blank frame makes ratatui's idea
        // of the screen blank, so the next frame is drawn whole.
        crossterm::execute!(
            out,
            crossterm::terminal::Clear(crossterm::terminal::ClearType::All)
        )?;
        self.inner.draw(|_| {})?;
        Ok(())
    }
}

/// On panic, end the lab too (ratatui's own hook, installed before, restores the terminal).
pub fn install_panic_hook(lab: Option<&Arc<Lab>>) {
    let lab: Option<Weak<Lab>> = lab.map(Arc::downgrade);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Some(lab) = lab.as_ref().and_then(Weak::upgrade) {
            lab.shutdown(false);
        }
        let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
        previous(info);
        // A panic on any thread (collector, executor) ends brood: the lab is gone and the
        // terminal restored, so the main loop must not go on drawing onto the normal screen.
        std::process::exit(101);
    }));
}

/// Whether a shell with job control could resume brood: the kernel ignores SIGTSTP in an
/// orphaned process group (no parent in the same session but another group), and then nothing
/// could `fg` it anyway.
pub fn job_control() -> bool {
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

/// Raises `signal` on brood itself with its default action (the terminal was given back and the
/// lab ended): brood ends as that signal ends a process. If it does not end brood, the exit
/// status says it anyway.
pub fn raise(signal: i32) -> ExitCode {
    use nix::sys::signal::{SigHandler, Signal, signal as set_disposition};
    if let Ok(signal) = Signal::try_from(signal) {
        // SAFETY: restoring the default disposition runs no handler code.
        let _ = unsafe { set_disposition(signal, SigHandler::SigDfl) };
        let _ = nix::sys::signal::raise(signal);
    }
    ExitCode::from(128u8.saturating_add(signal as u8))
}
