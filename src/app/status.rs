//! The status line and the event log: what brood tells the user.

use super::{App, Overlay, STATUS_SCANS, Severity, StatusMessage};
use crate::history::{Entry, Kinds, Origin};
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

    /// Logs something brood said about itself or its lab.
    pub fn log_line(&mut self, text: String) {
        let entry = Entry::new(self.now_ns(), Kinds::BROOD, Origin::Brood, text).lab(true);
        self.record(entry);
    }

    /// Puts an entry in the history (and so in the log).
    pub(super) fn record(&mut self, entry: Entry) -> u64 {
        let seq = self.history.record(entry);
        if let Some(subtree) = &mut self.log.filter.subtree
            && let Some(entry) = self.history.get(seq)
        {
            subtree.observe(entry);
        }
        seq
    }

    pub(super) fn record_all(&mut self, entries: Vec<Entry>) {
        for entry in entries {
            self.record(entry);
        }
    }

    /// Gives the timeline the history's entries it has not seen, new or amended.
    pub(super) fn feed_timeline(&mut self) {
        let (amended, read_to) = self.history.amended_since(self.timeline_amendments);
        self.timeline_amendments = read_to;
        for seq in amended
            .into_iter()
            .filter(|&seq| seq < self.timeline_next_seq)
        {
            if let Some(entry) = self.history.get(seq) {
                self.timeline.observe_entry(entry);
            }
        }
        for entry in self.history.range(false, self.timeline_next_seq..) {
            self.timeline.observe_entry(entry);
        }
        self.timeline_next_seq = self.history.next_seq();
    }

    /// Now, as the history stamps it: nanoseconds since the Unix epoch.
    pub(super) fn now_ns(&self) -> u64 {
        (self.clock)()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
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
