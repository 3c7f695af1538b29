//! The signals brood can send: names, numbers, what each means and what it does by default.
//! Numbers come from the platform (nix), never hard-coded.

use nix::sys::signal::Signal;

/// What the kernel does with a signal that the process neither ignores nor catches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultAction {
    Terminate,
    CoreDump,
    Stop,
    Continue,
    Ignore,
}

impl DefaultAction {
    pub fn describe(self) -> &'static str {
        match self {
            DefaultAction::Terminate => "terminates",
            DefaultAction::CoreDump => "terminates, dumps core",
            DefaultAction::Stop => "stops",
            DefaultAction::Continue => "continues",
            DefaultAction::Ignore => "is ignored",
        }
    }

    /// Whether sending it, left to the default, ends or stops the process (worth a confirmation).
    pub fn disrupts(self) -> bool {
        matches!(
            self,
            DefaultAction::Terminate | DefaultAction::CoreDump | DefaultAction::Stop
        )
    }
}

/// One line of the signal menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalInfo {
    pub signal: Signal,
    pub meaning: &'static str,
    pub default: DefaultAction,
}

impl SignalInfo {
    pub fn number(self) -> i32 {
        self.signal as i32
    }

    pub fn name(self) -> &'static str {
        self.signal.as_str()
    }

    /// SIGKILL and SIGSTOP cannot be caught, blocked or ignored.
    pub fn catchable(self) -> bool {
        !matches!(self.signal, Signal::SIGKILL | Signal::SIGSTOP)
    }
}

/// Every standard signal, in number order.
pub fn all() -> Vec<SignalInfo> {
    Signal::iterator().map(info).collect()
}

pub fn info(signal: Signal) -> SignalInfo {
    use DefaultAction::*;
    let (meaning, default) = match signal {
        Signal::SIGHUP => ("hangup: its terminal closed; daemons reload", Terminate),
        Signal::SIGINT => ("interrupt, as from Ctrl-C", Terminate),
        Signal::SIGQUIT => ("quit with a core dump, as from Ctrl-\\", CoreDump),
        Signal::SIGILL => ("illegal instruction", CoreDump),
        Signal::SIGTRAP => ("trace or breakpoint trap", CoreDump),
        Signal::SIGABRT => ("abort, as from abort()", CoreDump),
        Signal::SIGBUS => ("bus error: bad memory access", CoreDump),
        Signal::SIGFPE => ("arithmetic error, such as division by zero", CoreDump),
        Signal::SIGKILL => (
            "kill: ends it at once, cannot be caught or ignored",
            Terminate,
        ),
        Signal::SIGUSR1 => ("user-defined signal 1", Terminate),
        Signal::SIGSEGV => ("segmentation fault: invalid memory reference", CoreDump),
        Signal::SIGUSR2 => ("user-defined signal 2", Terminate),
        Signal::SIGPIPE => ("wrote to a pipe with no reader", Terminate),
        Signal::SIGALRM => ("timer from alarm()", Terminate),
        Signal::SIGTERM => (
            "terminate: the polite request to exit; can be handled",
            Terminate,
        ),
        Signal::SIGSTKFLT => ("coprocessor stack fault (unused)", Terminate),
        Signal::SIGCHLD => ("a child stopped, continued or exited", Ignore),
        Signal::SIGCONT => ("continue a stopped process", Continue),
        Signal::SIGSTOP => ("stop: pauses it, cannot be caught or ignored", Stop),
        Signal::SIGTSTP => ("terminal stop, as from Ctrl-Z; can be handled", Stop),
        Signal::SIGTTIN => ("background read from its terminal", Stop),
        Signal::SIGTTOU => ("background write to its terminal", Stop),
        Signal::SIGURG => ("urgent data on a socket", Ignore),
        Signal::SIGXCPU => ("CPU time limit exceeded", CoreDump),
        Signal::SIGXFSZ => ("file size limit exceeded", CoreDump),
        Signal::SIGVTALRM => ("virtual timer expired", Terminate),
        Signal::SIGPROF => ("profiling timer expired", Terminate),
        Signal::SIGWINCH => ("its terminal window changed size", Ignore),
        Signal::SIGIO => ("I/O is possible on a descriptor", Terminate),
        Signal::SIGPWR => ("power failure", Terminate),
        Signal::SIGSYS => ("bad system call", CoreDump),
        _ => ("", Terminate),
    };
    SignalInfo {
        signal,
        meaning,
        default,
    }
}

/// The names of the signals set in a /proc/PID/status mask (bit n-1 is signal n); real-time
/// signals are `SIGRTMIN+k`.
pub fn names_in(mask: u64) -> Vec<String> {
    (1..=64)
        .filter(|n| mask & (1u64 << (n - 1)) != 0)
        .map(|n| match Signal::try_from(n) {
            Ok(signal) => signal.as_str().to_string(),
            Err(_) if n >= libc::SIGRTMIN() => format!("SIGRTMIN+{}", n - libc::SIGRTMIN()),
            Err(_) => format!("signal {n}"),
        })
        .collect()
}

/// How a process has arranged to treat each signal, from the masks in /proc/PID/status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dispositions {
    pub ignored: u64,
    pub caught: u64,
    pub blocked: u64,
}

impl Dispositions {
    /// What sending `signal` will do to this process, in a few words.
    pub fn describe(self, signal: SignalInfo) -> String {
        let bit = 1u64 << (signal.number() - 1);
        if !signal.catchable() {
            return format!("{} (cannot be caught)", signal.default.describe());
        }
        let mut text = if self.ignored & bit != 0 {
            "ignored by it".to_string()
        } else if self.caught & bit != 0 {
            "caught by its handler".to_string()
        } else {
            signal.default.describe().to_string()
        };
        if self.blocked & bit != 0 {
            text.push_str(", blocked for now (held pending)");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_covers_every_platform_signal_with_a_meaning() {
        let table = all();
        assert!(table.len() >= 30);
        assert!(
            table.iter().all(|s| !s.meaning.is_empty()),
            "a signal lacks a meaning"
        );
        let term = table.iter().find(|s| s.name() == "SIGTERM").unwrap();
        assert_eq!(term.number(), 15);
    }

    #[test]
    fn masks_read_as_signal_names() {
        assert_eq!(names_in(0), Vec::<String>::new());
        assert_eq!(names_in((1 << 0) | (1 << 14)), vec!["SIGHUP", "SIGTERM"]);
        let rt = libc::SIGRTMIN();
        assert_eq!(names_in(1 << (rt + 1)), vec!["SIGRTMIN+2"]);
    }

    #[test]
    fn dispositions_read_from_masks() {
        let term = info(Signal::SIGTERM);
        let masks = Dispositions {
            ignored: 0,
            caught: 1 << 14,
            blocked: 0,
        };
        assert_eq!(masks.describe(term), "caught by its handler");
        let masks = Dispositions {
            ignored: 1 << 14,
            caught: 0,
            blocked: 1 << 14,
        };
        assert_eq!(
            masks.describe(term),
            "ignored by it, blocked for now (held pending)"
        );
        assert_eq!(
            Dispositions::default().describe(info(Signal::SIGKILL)),
            "terminates (cannot be caught)"
        );
    }
}
