//! What a sleeping process waits for, from the kernel function in /proc/PID/wchan, in words.
//! One table ([`KNOWN`]) says which kernel function means what; a name not in it is shown as it
//! is, never guessed from a part of it (`futex_do_wait` contains `do_wait`, and is no child wait).

use std::sync::Arc;

/// Why a process sleeps, as far as its wait channel tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WaitKind {
    Child,
    PipeRead,
    PipeWrite,
    FifoOpen,
    Futex,
    FileLock,
    Poll,
    Sleep,
    Signal,
    SocketRead,
    SocketWrite,
    Accept,
    /// `wait_woken`: the generic wait of TCP reads, terminals and many drivers.
    Input,
    MessageQueue,
    Semaphore,
    DiskIo,
    KernelWork,
}

impl WaitKind {
    /// A sentence part for the details pane and the IPC panel.
    pub fn describe(self) -> &'static str {
        match self {
            WaitKind::Child => "waiting for a child (wait)",
            WaitKind::PipeRead => "reading an empty pipe",
            WaitKind::PipeWrite => "writing to a full pipe",
            WaitKind::FifoOpen => "opening a FIFO, waiting for the other end",
            WaitKind::Futex => "waiting on a futex (a lock, condition or thread join)",
            WaitKind::FileLock => "waiting for a file lock",
            WaitKind::Poll => "waiting in poll/select/epoll",
            WaitKind::Sleep => "sleeping on a timer",
            WaitKind::Signal => "waiting for a signal",
            WaitKind::SocketRead => "reading a socket",
            WaitKind::SocketWrite => "writing to a full socket",
            WaitKind::Accept => "waiting for a connection (accept)",
            WaitKind::Input => "waiting for input (a socket, terminal or device)",
            WaitKind::MessageQueue => "waiting on a message queue",
            WaitKind::Semaphore => "waiting on a semaphore",
            WaitKind::DiskIo => "waiting for disk I/O",
            WaitKind::KernelWork => "a kernel thread waiting for work",
        }
    }

    /// At most 10 characters, for the table's `WCHAN` column.
    pub fn short(self) -> &'static str {
        match self {
            WaitKind::Child => "child",
            WaitKind::PipeRead => "pipe read",
            WaitKind::PipeWrite => "pipe write",
            WaitKind::FifoOpen => "fifo open",
            WaitKind::Futex => "futex",
            WaitKind::FileLock => "file lock",
            WaitKind::Poll => "poll",
            WaitKind::Sleep => "sleep",
            WaitKind::Signal => "signal",
            WaitKind::SocketRead => "sock read",
            WaitKind::SocketWrite => "sock write",
            WaitKind::Accept => "accept",
            WaitKind::Input => "input",
            WaitKind::MessageQueue => "msg queue",
            WaitKind::Semaphore => "semaphore",
            WaitKind::DiskIo => "disk I/O",
            WaitKind::KernelWork => "idle kthr",
        }
    }
}

/// Kernel functions a task is seen sleeping in, whole names as /proc/PID/wchan shows them
/// without the compiler's suffixes. Kernels rename them, so old and new names stand side by side
/// (the kernel versions in the comments are where a name first or last appears).
pub const KNOWN: &[(&str, WaitKind)] = &[
    ("do_wait", WaitKind::Child),
    ("kernel_wait4", WaitKind::Child),
    ("kernel_waitid", WaitKind::Child),
    // Linux ≥ 6.15 splits anonymous pipes from FIFOs.
    ("anon_pipe_read", WaitKind::PipeRead),
    ("pipe_read", WaitKind::PipeRead),
    ("pipe_wait_readable", WaitKind::PipeRead),
    ("anon_pipe_write", WaitKind::PipeWrite),
    ("pipe_write", WaitKind::PipeWrite),
    ("pipe_wait_writable", WaitKind::PipeWrite),
    ("wait_for_partner", WaitKind::FifoOpen),
    ("fifo_open", WaitKind::FifoOpen),
    // futex_wait_queue_me (≤ 5.15), futex_wait_queue (5.16–6.15), futex_do_wait (≥ 6.16).
    ("futex_do_wait", WaitKind::Futex),
    ("futex_wait_queue", WaitKind::Futex),
    ("futex_wait_queue_me", WaitKind::Futex),
    ("futex_wait", WaitKind::Futex),
    ("__futex_wait", WaitKind::Futex),
    ("locks_lock_inode_wait", WaitKind::FileLock),
    ("flock_lock_inode_wait", WaitKind::FileLock),
    ("posix_lock_inode_wait", WaitKind::FileLock),
    ("fcntl_setlk", WaitKind::FileLock),
    ("do_lock_file_wait", WaitKind::FileLock),
    ("__do_sys_flock", WaitKind::FileLock),
    ("poll_schedule_timeout", WaitKind::Poll),
    ("do_sys_poll", WaitKind::Poll),
    ("do_select", WaitKind::Poll),
    ("core_sys_select", WaitKind::Poll),
    ("ep_poll", WaitKind::Poll),
    ("do_epoll_wait", WaitKind::Poll),
    ("hrtimer_nanosleep", WaitKind::Sleep),
    ("do_nanosleep", WaitKind::Sleep),
    ("common_nsleep", WaitKind::Sleep),
    ("__do_sys_pause", WaitKind::Signal),
    ("sys_pause", WaitKind::Signal),
    ("__x64_sys_pause", WaitKind::Signal),
    ("do_sigtimedwait", WaitKind::Signal),
    ("sigsuspend", WaitKind::Signal),
    ("__do_sys_rt_sigsuspend", WaitKind::Signal),
    ("unix_stream_read_generic", WaitKind::SocketRead),
    ("unix_stream_data_wait", WaitKind::SocketRead),
    ("__skb_wait_for_more_packets", WaitKind::SocketRead),
    ("skb_wait_for_more_packets", WaitKind::SocketRead),
    ("__skb_recv_datagram", WaitKind::SocketRead),
    ("sk_wait_data", WaitKind::SocketRead),
    ("sk_stream_wait_memory", WaitKind::SocketWrite),
    ("sock_alloc_send_pskb", WaitKind::SocketWrite),
    ("unix_wait_for_peer", WaitKind::SocketWrite),
    ("inet_csk_accept", WaitKind::Accept),
    ("inet_csk_wait_for_connect", WaitKind::Accept),
    ("wait_woken", WaitKind::Input),
    ("n_tty_read", WaitKind::Input),
    ("wq_sleep", WaitKind::MessageQueue),
    ("do_msgrcv", WaitKind::MessageQueue),
    ("do_msgsnd", WaitKind::MessageQueue),
    ("__do_semtimedop", WaitKind::Semaphore),
    ("do_semtimedop", WaitKind::Semaphore),
    ("folio_wait_bit_common", WaitKind::DiskIo),
    ("wait_on_page_bit_common", WaitKind::DiskIo),
    ("worker_thread", WaitKind::KernelWork),
    ("rescuer_thread", WaitKind::KernelWork),
    ("smpboot_thread_fn", WaitKind::KernelWork),
    ("kthreadd", WaitKind::KernelWork),
    ("kthread_worker_fn", WaitKind::KernelWork),
];

/// Where a task sleeps: the kernel function, and what it means when brood knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitChannel {
    /// Without the compiler's suffixes (`.constprop.0`), made safe to print.
    pub symbol: Arc<str>,
    pub kind: Option<WaitKind>,
}

impl WaitChannel {
    /// The wait channel in the text of /proc/PID/wchan; `None` for "0", which a task that runs
    /// shows, and any task to a reader that may not trace it (see [`Sleep`]).
    pub fn parse(text: &str) -> Option<WaitChannel> {
        let symbol = text.trim().split('.').next().unwrap_or_default();
        if symbol.is_empty() || symbol == "0" {
            return None;
        }
        let kind = KNOWN
            .iter()
            .find(|(known, _)| *known == symbol)
            .map(|&(_, kind)| kind);
        Some(WaitChannel {
            symbol: super::text::sanitize(symbol.as_bytes()).into(),
            kind,
        })
    }

    /// Whether the table knows its function as meaning `kind`: the whole name decides, never a
    /// part of it.
    pub fn is(&self, kind: WaitKind) -> bool {
        self.kind == Some(kind)
    }

    /// For the table: the short words, or the raw symbol when the function is not known.
    pub fn short(&self) -> &str {
        match self.kind {
            Some(kind) => kind.short(),
            None => &self.symbol,
        }
    }

    /// For the panels: what it waits for and the kernel function, e.g. `reading an empty pipe
    /// (anon_pipe_read)`; an unknown function is named as it is.
    pub fn describe(&self) -> String {
        match self.kind {
            Some(kind) => format!("{} ({})", kind.describe(), self.symbol),
            None => format!("in the kernel function {}", self.symbol),
        }
    }
}

/// What /proc/PID/wchan says of a task. The kernel writes "0" for a task that runs, and also,
/// whatever the task does, to a reader that may not ptrace it: that "0" means "not shown".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sleep {
    /// It sleeps in this kernel function.
    In(WaitChannel),
    /// It does not sleep: it runs, or has exited.
    Awake,
    /// The kernel does not show where, or whether, it sleeps: this reader may not trace it.
    Hidden,
}

impl Sleep {
    /// What the panels say of a hidden wait channel.
    pub const HIDDEN: &'static str =
        "hidden (the kernel shows it only to those allowed to trace the process)";

    /// From the text of /proc/PID/wchan; `may_trace` (asked only when the text is "0") says
    /// whether this reader is shown the real wait channel.
    pub fn parse(text: &str, may_trace: impl FnOnce() -> bool) -> Sleep {
        match WaitChannel::parse(text) {
            Some(channel) => Sleep::In(channel),
            None if may_trace() => Sleep::Awake,
            None => Sleep::Hidden,
        }
    }
}

/// The wait channel of `pid`; `None` while it runs, or when unreadable or hidden.
pub fn read(pid: super::Pid) -> Option<WaitChannel> {
    WaitChannel::parse(&std::fs::read_to_string(format!("/proc/{pid}/wchan")).ok()?)
}

/// Where `pid` sleeps, telling a hidden wait channel from none.
pub fn read_sleep(pid: super::Pid) -> Sleep {
    match std::fs::read_to_string(format!("/proc/{pid}/wchan")) {
        Ok(text) => Sleep::parse(&text, || may_trace(pid)),
        // Under `hidepid=1` another user's files refuse even to open.
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => Sleep::Hidden,
        Err(_) => Sleep::Awake,
    }
}

/// Whether this process is shown `pid`'s wait channel. The kernel asks the same ptrace access
/// (`PTRACE_MODE_READ_FSCREDS`) before reading the link /proc/PID/cwd, which fails with EACCES
/// where it is refused; any other outcome (a process gone or exiting) hides nothing.
fn may_trace(pid: super::Pid) -> bool {
    !matches!(
        std::fs::read_link(format!("/proc/{pid}/cwd")),
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> Option<WaitKind> {
        WaitChannel::parse(text).and_then(|c| c.kind)
    }

    #[test]
    fn todays_kernel_names_are_known() {
        // As Linux 6.18 shows them (each seen on a live process).
        for (symbol, expected) in [
            ("anon_pipe_read", WaitKind::PipeRead),
            ("anon_pipe_write", WaitKind::PipeWrite),
            ("futex_do_wait", WaitKind::Futex),
            ("do_wait", WaitKind::Child),
            ("poll_schedule_timeout.constprop.0", WaitKind::Poll),
            ("do_epoll_wait", WaitKind::Poll),
            ("hrtimer_nanosleep", WaitKind::Sleep),
            ("__do_sys_pause", WaitKind::Signal),
            ("do_sigtimedwait.isra.0", WaitKind::Signal),
            ("unix_stream_read_generic", WaitKind::SocketRead),
            ("__skb_wait_for_more_packets", WaitKind::SocketRead),
            ("inet_csk_accept", WaitKind::Accept),
            ("wait_woken", WaitKind::Input),
            ("wait_for_partner", WaitKind::FifoOpen),
            ("locks_lock_inode_wait", WaitKind::FileLock),
            ("fcntl_setlk", WaitKind::FileLock),
            ("wq_sleep", WaitKind::MessageQueue),
            ("do_msgrcv", WaitKind::MessageQueue),
            ("__do_semtimedop", WaitKind::Semaphore),
            ("worker_thread", WaitKind::KernelWork),
        ] {
            assert_eq!(kind(symbol), Some(expected), "{symbol}");
        }
    }

    #[test]
    fn older_kernel_names_are_known_too() {
        for (symbol, expected) in [
            ("pipe_read", WaitKind::PipeRead),
            ("pipe_write", WaitKind::PipeWrite),
            ("futex_wait_queue", WaitKind::Futex),
            ("futex_wait_queue_me", WaitKind::Futex),
            ("do_sys_poll", WaitKind::Poll),
            ("ep_poll", WaitKind::Poll),
            ("flock_lock_inode_wait", WaitKind::FileLock),
            ("sk_wait_data", WaitKind::SocketRead),
            ("n_tty_read", WaitKind::Input),
        ] {
            assert_eq!(kind(symbol), Some(expected), "{symbol}");
        }
    }

    #[test]
    fn whole_names_match_so_a_futex_wait_is_no_child_wait() {
        assert_eq!(kind("futex_do_wait"), Some(WaitKind::Futex));
        let futex = WaitChannel::parse("futex_do_wait").unwrap();
        assert!(futex.is(WaitKind::Futex) && !futex.is(WaitKind::Child));
        // Parts of known names are not known names.
        for symbol in ["do_wait_for_something", "my_pipe_read", "ep_", "wait"] {
            assert_eq!(kind(symbol), None, "{symbol}");
        }
    }

    #[test]
    fn unknown_functions_are_shown_raw_and_running_has_no_channel() {
        let unknown = WaitChannel::parse("some_new_function.part.0\n").unwrap();
        assert_eq!(unknown.kind, None);
        assert_eq!(unknown.short(), "some_new_function");
        assert_eq!(
            unknown.describe(),
            "in the kernel function some_new_function"
        );
        let pipe = WaitChannel::parse("anon_pipe_read").unwrap();
        assert_eq!(pipe.short(), "pipe read");
        assert_eq!(pipe.describe(), "reading an empty pipe (anon_pipe_read)");
        assert_eq!(WaitChannel::parse("0"), None);
        assert_eq!(WaitChannel::parse(""), None);
        assert_eq!(
            WaitChannel::parse("\x1b[2J").map(|c| c.symbol),
            Some("\\x1b[2J".into())
        );
    }

    #[test]
    fn zero_is_awake_only_to_a_reader_who_may_trace_and_hidden_to_any_other() {
        assert_eq!(Sleep::parse("0", || true), Sleep::Awake);
        assert_eq!(Sleep::parse("0", || false), Sleep::Hidden);
        // A named function is shown only to who may trace: no need to ask.
        let asked = std::cell::Cell::new(false);
        let sleep = Sleep::parse("anon_pipe_read", || {
            asked.set(true);
            false
        });
        assert_eq!(
            sleep,
            Sleep::In(WaitChannel::parse("anon_pipe_read").unwrap())
        );
        assert!(!asked.get());
    }

    #[test]
    fn the_table_names_each_function_once_and_short_words_fit_the_column() {
        let mut names: Vec<&str> = KNOWN.iter().map(|(name, _)| *name).collect();
        names.sort_unstable();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count, "a function named twice");
        for &(_, kind) in KNOWN {
            assert!(kind.short().chars().count() <= 10, "{kind:?}");
        }
    }
}
