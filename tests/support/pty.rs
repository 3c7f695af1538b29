//! The real brood binary in a pseudo-terminal: keys go in as bytes, the output is parsed by a
//! vt100 emulator and read back as text and cell attributes. Every wait has a deadline and prints
//! the last screen when it fails; dropping a `Brood` kills and reaps the child, so a failed
//! assertion never leaves a brood behind.
//!
//! Use it from a test file with `#[path = "support/pty.rs"] mod pty;`.

#![allow(dead_code)] // each test file uses its own subset

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

/// A key as a terminal sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Up,
    Down,
    Left,
    Right,
    Enter,
    Esc,
    CtrlC,
    Char(char),
}

impl Key {
    pub fn bytes(self) -> Vec<u8> {
        match self {
            Key::Up => b"\x1b[A".to_vec(),
            Key::Down => b"\x1b[B".to_vec(),
            Key::Right => b"\x1b[C".to_vec(),
            Key::Left => b"\x1b[D".to_vec(),
            Key::Enter => b"\r".to_vec(),
            Key::Esc => b"\x1b".to_vec(),
            Key::CtrlC => b"\x03".to_vec(),
            Key::Char(c) => c.to_string().into_bytes(),
        }
    }
}

/// How to start brood: arguments, extra environment, terminal size.
#[derive(Debug, Clone)]
pub struct Launch {
    args: Vec<String>,
    env: Vec<(String, String)>,
    cols: u16,
    rows: u16,
    /// Started under this RLIMIT_NOFILE (soft and hard), through a shell's `ulimit -n`.
    files: Option<u32>,
    /// Where it runs (what it writes without a path goes there); else the package's directory.
    cwd: Option<std::path::PathBuf>,
}

impl Default for Launch {
    fn default() -> Launch {
        Launch {
            args: Vec::new(),
            env: Vec::new(),
            cols: 120,
            rows: 30,
            files: None,
            cwd: None,
        }
    }
}

impl Launch {
    pub fn args(mut self, args: &[&str]) -> Launch {
        self.args.extend(args.iter().map(ToString::to_string));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Launch {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// At most `files` open descriptors, as `ulimit -n` sets (soft and hard).
    pub fn files(mut self, files: u32) -> Launch {
        self.files = Some(files);
        self
    }

    pub fn cwd(mut self, dir: &std::path::Path) -> Launch {
        self.cwd = Some(dir.to_path_buf());
        self
    }

    pub fn size(mut self, cols: u16, rows: u16) -> Launch {
        self.cols = cols;
        self.rows = rows;
        self
    }

    pub fn start(self) -> Brood {
        Brood::start(self)
    }
}

/// What the reader thread shares with the test: the emulated terminal and whether the pty closed.
struct Term {
    parser: vt100::Parser,
    /// The slave side is closed (brood and everything holding the terminal is gone).
    closed: bool,
}

struct Shared {
    term: Mutex<Term>,
    changed: Condvar,
    /// Asks the reader to close its end of the pty (see [`Brood::hang_up`]).
    hang_up: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Term> {
        // A panicking test thread must not hide the screen from the others' Drop.
        self.term
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sleeps until the reader reports a change or `timeout` passes.
    fn wait<'a>(&self, term: MutexGuard<'a, Term>, timeout: Duration) -> MutexGuard<'a, Term> {
        self.changed
            .wait_timeout(term, timeout)
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .0
    }
}

/// A running brood in its own pseudo-terminal.
pub struct Brood {
    child: Box<dyn Child + Send + Sync>,
    pid: i32,
    /// The master side and its writer; `None` once the terminal was hung up.
    master: Option<Box<dyn MasterPty + Send>>,
    writer: Option<Box<dyn Write + Send>>,
    shared: Arc<Shared>,
    exit_code: Option<i32>,
}

fn size(cols: u16, rows: u16) -> PtySize {
    PtySize {
        rows,
        cols,
        pixel_width: 0,
        pixel_height: 0,
    }
}

fn nonzero(n: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(n).expect("terminal sizes are at least 1x1")
}

impl Brood {
    /// brood with default settings in a 120x30 terminal.
    pub fn start_default() -> Brood {
        Launch::default().start()
    }

    pub fn launch() -> Launch {
        Launch::default()
    }

    fn start(launch: Launch) -> Brood {
        let pair = native_pty_system()
            .openpty(size(launch.cols, launch.rows))
            .expect("cannot open a pseudo-terminal");
        let mut cmd = match launch.files {
            // The shell execs brood: the same process, with the limit set.
            Some(files) => {
                let mut cmd = CommandBuilder::new("sh");
                cmd.args([
                    "-c",
                    &format!("ulimit -n {files} && exec \"$0\" \"$@\""),
                    env!("CARGO_BIN_EXE_brood"),
                ]);
                cmd
            }
            None => CommandBuilder::new(env!("CARGO_BIN_EXE_brood")),
        };
        cmd.args(&launch.args);
        match &launch.cwd {
            Some(dir) => cmd.cwd(dir),
            None => cmd.cwd(env!("CARGO_MANIFEST_DIR")),
        }
        cmd.env("TERM", "xterm-256color");
        // The same brood whatever the developer's shell has set: colour on, no personal config.
        cmd.env_remove("NO_COLOR");
        let config_home = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-no-config");
        std::fs::create_dir_all(&config_home).expect("cannot create an empty config directory");
        cmd.env("XDG_CONFIG_HOME", config_home);
        for (key, value) in &launch.env {
            cmd.env(key, value);
        }
        let child = pair
            .slave
            .spawn_command(cmd)
            .expect("cannot start brood in the pty");
        // Only brood may hold the slave side, so the reader sees the pty close when brood exits.
        drop(pair.slave);
        let pid = child.process_id().expect("a started child has a PID") as i32;

        let shared = Arc::new(Shared {
            term: Mutex::new(Term {
                parser: vt100::Parser::new(nonzero(launch.rows), nonzero(launch.cols), 0),
                closed: false,
            }),
            changed: Condvar::new(),
            hang_up: AtomicBool::new(false),
        });
        let reader = reader_of(pair.master.as_ref());
        let for_reader = Arc::clone(&shared);
        thread::spawn(move || read_until_closed(reader, &for_reader));
        let writer = pair.master.take_writer().expect("cannot write to the pty");
        Brood {
            child,
            pid,
            master: Some(pair.master),
            writer: Some(writer),
            shared,
            exit_code: None,
        }
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// A copy of the emulated screen as it is now.
    pub fn screen(&self) -> vt100::Screen {
        self.shared.lock().parser.screen().clone()
    }

    /// Waits until `ready` holds for the screen text and returns that text; fails the test with
    /// the last screen when `timeout` passes first.
    #[track_caller]
    pub fn wait_for(&self, ready: impl Fn(&str) -> bool, timeout: Duration) -> String {
        self.wait_for_screen(|screen| ready(&screen.contents()), timeout)
            .contents()
    }

    /// Like [`Brood::wait_for`], with the whole screen (cell colours and attributes) to look at.
    #[track_caller]
    pub fn wait_for_screen(
        &self,
        ready: impl Fn(&vt100::Screen) -> bool,
        timeout: Duration,
    ) -> vt100::Screen {
        match self.poll_screen(ready, timeout) {
            Ok(screen) => screen,
            Err(failure) => panic!("{failure}"),
        }
    }

    /// Waits like [`Brood::wait_for_screen`], but gives a failure back (with the last screen)
    /// instead of failing the test, for callers that try again.
    pub fn poll_screen(
        &self,
        ready: impl Fn(&vt100::Screen) -> bool,
        timeout: Duration,
    ) -> Result<vt100::Screen, String> {
        let deadline = Instant::now() + timeout;
        let mut term = self.shared.lock();
        loop {
            if ready(term.parser.screen()) {
                return Ok(term.parser.screen().clone());
            }
            let now = Instant::now();
            if now >= deadline || term.closed {
                let why = if term.closed {
                    "brood closed the terminal"
                } else {
                    "timed out"
                };
                let rule = "-".repeat(40);
                return Err(format!(
                    "{why} after waiting {timeout:?} for the screen; the last screen was:\n\
                     {rule}\n{}\n{rule}",
                    term.parser.screen().contents()
                ));
            }
            term = self.shared.wait(term, deadline - now);
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        let writer = self.writer.as_mut().expect("the terminal was hung up");
        writer
            .write_all(bytes)
            .and_then(|()| writer.flush())
            .expect("cannot write to the pty");
    }

    pub fn send_key(&mut self, key: Key) {
        self.send(&key.bytes());
    }

    /// Resizes the terminal: the emulator first, so the output drawn for the new size lands on
    /// a screen of that size, then the pty (the kernel sends brood SIGWINCH).
    pub fn resize(&mut self, cols: u16, rows: u16) {
        self.shared
            .lock()
            .parser
            .screen_mut()
            .set_size(nonzero(rows), nonzero(cols));
        self.master
            .as_ref()
            .expect("the terminal was hung up")
            .resize(size(cols, rows))
            .expect("cannot resize the pty");
    }

    /// Sends a signal to brood itself.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill has no memory effects; the PID is our own unreaped child, so not recycled.
        let rc = unsafe { libc::kill(self.pid, signal) };
        assert_eq!(
            rc,
            0,
            "kill({}, {signal}): {}",
            self.pid,
            std::io::Error::last_os_error()
        );
    }

    /// Waits for brood to exit and for its last output to be parsed; returns the exit code.
    /// Fails the test if brood outlives `timeout` or dies of a signal.
    #[track_caller]
    pub fn wait_exit(&mut self, timeout: Duration) -> i32 {
        let deadline = Instant::now() + timeout;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                Ok(None) => panic!(
                    "brood did not exit within {timeout:?}; the last screen was:\n{}",
                    self.screen().contents()
                ),
                Err(e) => panic!("cannot wait for brood: {e}"),
            }
        };
        if let Some(signal) = status.signal() {
            panic!(
                "brood was killed by a signal ({signal}); the last screen was:\n{}",
                self.screen().contents()
            );
        }
        let code = status.exit_code() as i32;
        self.exit_code = Some(code);
        // Read what brood wrote before it died (restoring the terminal) before anyone looks.
        if !self.wait_closed(deadline) {
            panic!("brood exited with {code} but its terminal never closed within {timeout:?}");
        }
        code
    }

    /// Whether the terminal is back in its ordinary (cooked) mode: line editing and echo on,
    /// as they were before brood switched to raw mode.
    pub fn is_cooked(&self) -> bool {
        let fd = self
            .master
            .as_ref()
            .and_then(|master| master.as_raw_fd())
            .expect("the terminal was hung up");
        // SAFETY: termios is plain data, and tcgetattr fills it in or fails; on a pty master it
        // reports the slave side's settings, which brood changed.
        let mut termios: libc::termios = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::tcgetattr(fd, &mut termios) };
        assert_eq!(
            rc,
            0,
            "tcgetattr on the pty: {}",
            std::io::Error::last_os_error()
        );
        let cooked = libc::ICANON | libc::ECHO;
        termios.c_lflag & cooked == cooked
    }

    /// Puts the terminal in cooked mode behind brood's back, as a shell does when it takes the
    /// terminal back from a stopped job.
    pub fn make_cooked(&self) {
        let fd = self
            .master
            .as_ref()
            .and_then(|master| master.as_raw_fd())
            .expect("the terminal was hung up");
        // SAFETY: termios is plain data, read, changed and written back on our own pty.
        unsafe {
            let mut termios: libc::termios = std::mem::zeroed();
            assert_eq!(libc::tcgetattr(fd, &mut termios), 0);
            termios.c_lflag |= libc::ICANON | libc::ECHO;
            assert_eq!(libc::tcsetattr(fd, libc::TCSANOW, &termios), 0);
        }
    }

    /// Closes the terminal under brood, as closing a terminal window does: every master-side
    /// descriptor is closed, so the kernel hangs up the pty and sends brood SIGHUP.
    #[track_caller]
    pub fn hang_up(&mut self, timeout: Duration) {
        self.writer = None;
        self.master = None;
        self.shared.hang_up.store(true, Ordering::SeqCst);
        if !self.wait_closed(Instant::now() + timeout) {
            panic!("the pty reader did not let go within {timeout:?}");
        }
    }

    /// Waits until the reader has seen the pty close; false if `deadline` passes first.
    fn wait_closed(&self, deadline: Instant) -> bool {
        let mut term = self.shared.lock();
        while !term.closed {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            term = self.shared.wait(term, deadline - now);
        }
        true
    }

    /// Whether brood is still running (not exited, not a zombie waiting for us).
    pub fn is_running(&mut self) -> bool {
        self.exit_code.is_none() && matches!(self.child.try_wait(), Ok(None))
    }
}

/// The reader's own descriptor of the master side, so that it can close it by itself.
fn reader_of(master: &dyn MasterPty) -> File {
    let master_fd = master
        .as_raw_fd()
        .expect("a unix pty master has a file descriptor");
    // SAFETY: F_DUPFD_CLOEXEC makes a new descriptor (close-on-exec at once, so no brood started
    // by a parallel test inherits it) that nothing else owns.
    let fd = unsafe { libc::fcntl(master_fd, libc::F_DUPFD_CLOEXEC, 0) };
    assert!(
        fd >= 0,
        "cannot duplicate the pty master: {}",
        std::io::Error::last_os_error()
    );
    File::from(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Feeds the pty's output to the emulator until the slave side closes (brood and everything
/// holding the terminal are gone) or the test hangs the terminal up.
fn read_until_closed(mut reader: File, shared: &Shared) {
    let mut buf = [0u8; 8192];
    // Polling with a short timeout, not a blocking read, so a hang-up request is seen.
    while !shared.hang_up.load(Ordering::SeqCst) {
        let mut poll = libc::pollfd {
            fd: reader.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, owned by this frame.
        if unsafe { libc::poll(&mut poll, 1, 50) } <= 0 {
            continue;
        }
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                shared.lock().parser.process(&buf[..n]);
                shared.changed.notify_all();
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // EIO: the last holder of the slave side closed it.
            Err(_) => break,
        }
    }
    drop(reader);
    shared.lock().closed = true;
    shared.changed.notify_all();
}

impl Drop for Brood {
    fn drop(&mut self) {
        // Let the reader go even if something brood started still holds the terminal.
        self.shared.hang_up.store(true, Ordering::SeqCst);
        if self.exit_code.is_some() {
            return;
        }
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: as in `signal`; the child is not reaped yet, so its PID is still ours.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
        // Reap it: no zombie left behind either.
        let _ = self.child.wait();
    }
}
