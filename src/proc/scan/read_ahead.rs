//! A first scan (what the first frame waits for) reads its many new processes ahead on two
//! threads: stat file opened and read, owner and command line read, for the pass to take up.

use std::fs::File;
use std::os::unix::fs::FileExt;

use super::budget::is_fd_exhaustion;
use super::read::{read_cmdline, read_uid};
use super::{Opened, Pid, ReadAhead, Scanner};

/// New processes at least this many (a first scan) are read ahead on two threads.
pub(super) const READ_AHEAD_FROM: usize = 256;

impl Scanner {
    /// When many processes are new (the first scan), opens and reads their stat files and reads
    /// their owners and command lines on two threads, for the pass to take up: the first frame
    /// is waiting for it. Only with room in the fd budget for the files held ahead *and* for
    /// every file the pass itself may open (a stat and a schedstat file a process at most), as
    /// the files held ahead are not counted in `open_files` until the pass keeps them.
    pub(super) fn read_ahead_new(&mut self, pids: &[Pid]) {
        let new: Vec<Pid> = pids
            .iter()
            .copied()
            .filter(|pid| !self.entries.contains_key(pid))
            .collect();
        let room = self.open_budget.saturating_sub(self.open_files);
        if new.len() < READ_AHEAD_FROM
            || new.len() + 2 * pids.len() > room
            || std::thread::available_parallelism().map_or(1, usize::from) < 2
        {
            return;
        }
        let (mine, theirs) = new.split_at(new.len() / 2);
        let read = std::thread::scope(|scope| {
            // No thread to be had (RLIMIT_NPROC, a cgroup's pids.max): the pass reads them all.
            let Ok(helper) = std::thread::Builder::new()
                .name("read-ahead".into())
                .spawn_scoped(scope, || read_ahead(theirs))
            else {
                return Vec::new();
            };
            let mut read = read_ahead(mine);
            read.extend(helper.join().unwrap_or_default());
            read
        });
        self.read_ahead = read.into_iter().collect();
    }
}

/// Opens the stat files of `pids` and reads their owners and command lines (see
/// [`Scanner::read_ahead_new`]). A process already gone is left out.
fn read_ahead(pids: &[Pid]) -> Vec<(Pid, Opened)> {
    use std::fmt::Write;
    let mut path = String::new();
    let mut buf = vec![0; 1024];
    let mut raw = Vec::new();
    let mut out_of_descriptors = false;
    pids.iter()
        .filter_map(|&pid| {
            if out_of_descriptors {
                return None;
            }
            path.clear();
            let _ = write!(path, "/proc/{pid}/stat");
            // Out of descriptors: the rest is left to the pass, which reads one file at a time.
            let file = File::open(&path)
                .inspect_err(|err| out_of_descriptors = is_fd_exhaustion(err))
                .ok()?;
            let len = loop {
                let len = file.read_at(&mut buf, 0).ok().filter(|&len| len > 0)?;
                if len < buf.len() {
                    break len;
                }
                buf.resize(buf.len() * 2, 0);
            };
            let read_ahead = ReadAhead {
                stat: buf[..len].to_vec(),
                uid: read_uid(&file),
                cmdline: read_cmdline(pid, &mut raw).ok(),
            };
            let read_ahead = Some(read_ahead);
            Some((pid, Opened { file, read_ahead }))
        })
        .collect()
}
