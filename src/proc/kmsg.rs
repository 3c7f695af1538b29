//! Who the kernel's OOM killer ended, from the kernel's log (`/dev/kmsg`), where brood may read
//! it (root, or `kernel.dmesg_restrict = 0`). Only records written after brood opened it count.

use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;

use super::Pid;

/// The kernel's log, read from where it ended when brood opened it.
#[derive(Debug)]
pub struct KernelLog {
    file: File,
    buf: Vec<u8>,
}

/// A record is at most this long (the kernel's own limit is a little under 1 KiB of text).
const RECORD_BYTES: usize = 8 * 1024;

impl KernelLog {
    /// `None` where the log cannot be read: that is normal, not an error.
    pub fn open() -> Option<KernelLog> {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open("/dev/kmsg")
            .ok()?;
        file.seek(SeekFrom::End(0)).ok()?;
        Some(KernelLog {
            file,
            buf: vec![0; RECORD_BYTES],
        })
    }

    /// The PIDs the OOM killer ended since the last call, from the records written meanwhile.
    pub fn oom_victims(&mut self) -> Vec<Pid> {
        let mut victims = Vec::new();
        loop {
            match self.file.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => victims.extend(oom_victim(&self.buf[..n])),
                // Records were overwritten before they were read: the next ones still come.
                Err(err) if err.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        victims
    }
}

/// The PID in a record such as `3,812,55,-;Out of memory: Killed process 4242 (hog)
/// total-vm:…` (a memory cgroup's OOM says "Memory cgroup out of memory: Killed process …").
pub fn oom_victim(record: &[u8]) -> Option<Pid> {
    let text = std::str::from_utf8(record).ok()?;
    let message = text.split_once(';').map_or(text, |(_, message)| message);
    let after = message.split_once("Killed process ")?.1;
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_victim_in_the_oom_killers_records_only() {
        let record = b"3,812,5512345,-;Out of memory: Killed process 4242 (hog) total-vm:1048576kB, anon-rss:900000kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:2000kB oom_score_adj:0\n";
        assert_eq!(oom_victim(record), Some(4242));
        let cgroup = b"3,900,6612345,-;Memory cgroup out of memory: Killed process 17 (a (b) c) total-vm:1kB";
        assert_eq!(oom_victim(cgroup), Some(17));
        assert_eq!(oom_victim(b"6,901,1,-;usb 1-1: new device"), None);
        assert_eq!(oom_victim(b"6,902,1,-;Killed process x"), None);
        assert_eq!(oom_victim(&[0xff, 0xfe]), None);
    }
}
