//! The collector thread: scans /proc and reads system figures every interval, and sends each
//! result to the main loop as an [`Event`]. Its sleep is a channel wait, so a command (scan now,
//! change options, stop) wakes it at once and an idle brood wakes only for its tick.
//! The only /proc reader of the interactive session besides the executor's identity checks.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sysinfo::System;

use crate::message::{CollectorCommand as Command, Event, SystemStats};
use crate::proc::Identity;
use crate::proc::details;
use crate::proc::ipc::Sweeper;
use crate::proc::scan::{ScanOptions, Scanner};

/// Scans between two IPC sweeps (deadlock detection) when no view needs links.
const IPC_EVERY: u64 = 5;

pub struct Collector {
    commands: Sender<Command>,
    thread: Option<JoinHandle<()>>,
}

impl Collector {
    pub fn start(interval: Duration, options: ScanOptions, events: Sender<Event>) -> Collector {
        let (commands, inbox) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("collector".into())
            .spawn(move || run(interval, options, &inbox, &events))
            .ok();
        Collector { commands, thread }
    }

    pub fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    /// A handle for other threads (the effects layer asks for a scan after each action).
    pub fn commands(&self) -> Sender<Command> {
        self.commands.clone()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.send(Command::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(
    interval: Duration,
    options: ScanOptions,
    inbox: &Receiver<Command>,
    events: &Sender<Event>,
) {
    let mut scanner = Scanner::new(options);
    let mut sweeper = Sweeper::default();
    let mut system = System::new().ok();
    let mut inspected: Option<Identity> = None;
    let send_details = |id: Option<Identity>| match id {
        Some(id) => events
            .send(Event::Details(Box::new(details::read(id))))
            .is_ok(),
        None => true,
    };
    let mut links = false;
    let mut wait_channels = false;
    for scan in 0u64.. {
        let started = Instant::now();
        let (event, ipc) = match scanner.scan() {
            Ok(snapshot) => {
                sweeper.observe(&snapshot);
                let due = links || wait_channels || scan % IPC_EVERY == 1;
                let ipc = due.then(|| {
                    sweeper.skip_own_files(scanner.held_files());
                    sweeper.sweep(&snapshot, links)
                });
                (
                    Event::Snapshot(Box::new(snapshot), read_system(system.as_mut())),
                    ipc,
                )
            }
            Err(err) => (Event::ScanFailed(err.to_string()), None),
        };
        if events.send(event).is_err() || !send_details(inspected) {
            return;
        }
        if let Some(ipc) = ipc
            && events.send(Event::Ipc(Box::new(ipc))).is_err()
        {
            return;
        }
        // Wait out the interval; a new process to inspect is read at once, without a scan.
        loop {
            let wait = (started + interval).saturating_duration_since(Instant::now());
            match inbox.recv_timeout(wait) {
                Ok(Command::ScanNow) | Err(RecvTimeoutError::Timeout) => break,
                Ok(Command::ScanThreads(on)) => {
                    scanner.set_threads(on);
                    break;
                }
                Ok(Command::IpcLinks(on)) => {
                    links = on;
                    break;
                }
                Ok(Command::WaitChannels(on)) => {
                    wait_channels = on;
                    break;
                }
                Ok(Command::Inspect(id)) => {
                    inspected = id;
                    if !send_details(id) {
                        return;
                    }
                }
                Ok(Command::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }
}

fn read_system(system: Option<&mut System>) -> SystemStats {
    let Some(system) = system else {
        return SystemStats {
            utc_offset_secs: chrono::Local::now().offset().local_minus_utc(),
            ..SystemStats::default()
        };
    };
    system.refresh_cpu_usage();
    system.refresh_memory();
    let load = System::load_average()
        .map(|l| [l.one, l.five, l.fifteen])
        .unwrap_or_default();
    SystemStats {
        cpu_percent: system.global_cpu_usage(),
        cpus: system.cpus().len(),
        mem_used: system.used_memory(),
        mem_total: system.total_memory(),
        swap_used: system.used_swap(),
        swap_total: system.total_swap(),
        load,
        uptime_secs: System::uptime().unwrap_or_default(),
        utc_offset_secs: chrono::Local::now().offset().local_minus_utc(),
    }
}
