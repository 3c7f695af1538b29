//! Everything the main loop reacts to arrives as one [`Event`] on one channel.

use crossterm::event::{KeyEvent, MouseEvent};

use crate::collector::SystemStats;
use crate::effects::Outcome;
use crate::proc::Snapshot;
use crate::proc::details::Details;
use crate::proc::ipc::IpcState;

#[derive(Debug)]
pub enum Event {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Resize {
        width: u16,
        height: u16,
    },
    /// A fresh scan of /proc and the system figures read with it.
    Snapshot(Box<Snapshot>, SystemStats),
    /// Wait channels, locks and IPC ends, read on a slower cadence than snapshots.
    Ipc(Box<IpcState>),
    /// /proc could not be read at all (it is normal for single processes to fail; this is not that).
    ScanFailed(String),
    /// SIGTERM, SIGHUP, SIGINT or SIGQUIT reached brood.
    Terminate(i32),
    /// What /proc says about the process the details pane shows (read by the collector).
    Details(Box<Details>),
    /// An effect finished (a lab request answered, a signal sent, …).
    Done(Outcome),
}
