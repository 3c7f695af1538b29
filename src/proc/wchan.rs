//! What a sleeping process waits for, from the kernel function in /proc/PID/wchan, in words.

/// Why a process sleeps, as far as its wait channel tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitKind {
    Child,
    PipeRead,
    PipeWrite,
    Futex,
    FileLock,
    Poll,
    Sleep,
    Signal,
    SocketRead,
    Terminal,
    MessageQueue,
    Semaphore,
    Other,
}

impl WaitKind {
    pub fn describe(self) -> &'static str {
        match self {
            WaitKind::Child => "waiting for a child (wait)",
            WaitKind::PipeRead => "reading an empty pipe",
            WaitKind::PipeWrite => "writing to a full pipe",
            WaitKind::Futex => "waiting on a futex (a lock, condition or thread join)",
            WaitKind::FileLock => "waiting for a file lock",
            WaitKind::Poll => "waiting in poll/select/epoll",
            WaitKind::Sleep => "sleeping on a timer",
            WaitKind::Signal => "waiting for a signal",
            WaitKind::SocketRead => "reading a socket",
            WaitKind::Terminal => "reading its terminal",
            WaitKind::MessageQueue => "waiting on a message queue",
            WaitKind::Semaphore => "waiting on a semaphore",
            WaitKind::Other => "in the kernel",
        }
    }
}

/// The kernel function `pid` sleeps in, without the compiler's suffixes (`.constprop.0`);
/// `None` while it runs ("0") or when unreadable.
pub fn read_symbol(pid: super::Pid) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/wchan")).ok()?;
    let symbol = text.trim().split('.').next().unwrap_or_default();
    (!symbol.is_empty() && symbol != "0").then(|| super::text::sanitize(symbol.as_bytes()))
}

/// Classifies a wchan symbol. Kernel versions name these functions differently
/// (`pipe_read`, `anon_pipe_read`, `pipe_wait_readable`), and compilers add suffixes such as
/// `.constprop.0`, so the match is on stable parts of the name.
pub fn classify(symbol: &str) -> Option<WaitKind> {
    let symbol = symbol.trim();
    let base = symbol.split('.').next().unwrap_or(symbol);
    if base.is_empty() || base == "0" {
        return None;
    }
    let has = |part: &str| base.contains(part);
    let kind = if has("do_wait") || has("kernel_wait") {
        WaitKind::Child
    } else if has("pipe_read") || has("pipe_wait_readable") {
        WaitKind::PipeRead
    } else if has("pipe_write") || has("pipe_wait_writable") {
        WaitKind::PipeWrite
    } else if has("futex") {
        WaitKind::Futex
    } else if has("flock")
        || has("locks_lock")
        || has("posix_lock")
        || has("fcntl_setlk")
        || has("lock_inode_wait")
    {
        WaitKind::FileLock
    } else if has("poll") || has("select") || has("ep_") {
        WaitKind::Poll
    } else if has("nanosleep") || has("hrtimer") || has("schedule_timeout") {
        WaitKind::Sleep
    } else if has("sigtimedwait") || has("sigsuspend") || has("sys_pause") || has("do_pause") {
        WaitKind::Signal
    } else if has("unix_stream")
        || has("unix_dgram")
        || has("sk_wait")
        || has("skb_wait")
        || has("inet_csk_accept")
    {
        WaitKind::SocketRead
    } else if has("n_tty") || has("tty_read") {
        WaitKind::Terminal
    } else if has("msgrcv") || has("msgsnd") || has("wq_sleep") || has("mq_") {
        WaitKind::MessageQueue
    } else if has("semtimedop") || has("do_semop") {
        WaitKind::Semaphore
    } else {
        WaitKind::Other
    };
    Some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_symbols_of_several_versions_are_recognised() {
        assert_eq!(classify("do_wait"), Some(WaitKind::Child));
        assert_eq!(classify("anon_pipe_read"), Some(WaitKind::PipeRead));
        assert_eq!(classify("pipe_read"), Some(WaitKind::PipeRead));
        assert_eq!(classify("pipe_write"), Some(WaitKind::PipeWrite));
        assert_eq!(classify("futex_wait_queue"), Some(WaitKind::Futex));
        assert_eq!(classify("locks_lock_inode_wait"), Some(WaitKind::FileLock));
        assert_eq!(
            classify("poll_schedule_timeout.constprop.0"),
            Some(WaitKind::Poll)
        );
        assert_eq!(classify("hrtimer_nanosleep"), Some(WaitKind::Sleep));
        assert_eq!(classify("0"), None);
        assert_eq!(classify(""), None);
        assert_eq!(classify("some_new_function"), Some(WaitKind::Other));
    }
}
