//! The status line and the event log: what brood tells the user.

use super::{App, LOG_CAPACITY, LogEntry, Overlay, STATUS_SCANS, Severity, StatusMessage};
use crate::proc::Identity;
use crate::signals::Dispositions;

impl App {
    pub fn set_status(&mut self, severity: Severity, text: impl Into<String>) {
        self.status = Some(StatusMessage {
            text: text.into(),
            severity,
            expires_after_scan: self.scan_count + STATUS_SCANS,
        });
    }

    pub(super) fn say_toggle(&mut self, what: &str, on: bool, on_text: &str, off_text: &str) {
        self.set_status(
            Severity::Info,
            format!("{what} {}", if on { on_text } else { off_text }),
        );
    }

    /// Logs something brood did or found about its lab.
    pub fn log_line(&mut self, text: String) {
        self.push_log(text, true);
    }

    pub(super) fn push_log(&mut self, text: String, about_lab: bool) {
        self.push_entry(LogEntry {
            at: (self.clock)(),
            text,
            about_lab,
        });
    }

    pub(super) fn push_entry(&mut self, entry: LogEntry) {
        if self.log.len() == LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(entry);
    }

    /// Sets the status line and writes the same sentence to the log.
    pub(super) fn tell(&mut self, severity: Severity, text: String) {
        self.log_line(text.clone());
        self.set_status(severity, text);
    }

    /// The dispositions shown in an open signal menu arrive after the menu opened.
    pub(super) fn set_dispositions(
        &mut self,
        target: Identity,
        dispositions: Option<Dispositions>,
    ) {
        if let Some(Overlay::SignalMenu(menu)) = &mut self.overlay
            && menu.target.id == target
        {
            menu.dispositions = Some(dispositions);
        }
    }
}
