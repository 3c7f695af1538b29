//! The interactive session's runtime: every thread, the terminal and every side effect live here.
//! The main loop is `recv → update → run effects → draw`; the app decides, this carries out.
//! The terminal is restored and the lab ended on every way out: quit, error, panic (hooks) and
//! SIGTERM/SIGHUP/SIGINT/SIGQUIT (delivered as events).

pub mod collector;
mod events;
pub mod executor;
mod input;
pub mod record;
pub mod recording;
mod replies;
pub mod scenario;
mod signal_set;
mod terminal;

use std::process::ExitCode;

use std::sync::mpsc::{self, Receiver};

use crate::app::{App, Exit, Settings};
use crate::cli::Cli;
use crate::config::{Config, ConfigError};
use crate::lab::Lab;
use crate::message::{Effect, Event};
use crate::proc::scan::{ScanOptions, Tracers};
use collector::Collector;
use executor::Executor;
use terminal::Terminal;

/// Fewer descriptors than this and brood could not read its terminal, /proc and its lab at once.
const MIN_DESCRIPTORS: u64 = 32;

pub fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    // First, before any thread starts.
    let descriptors = crate::proc::scan::reserve_descriptors();
    if descriptors < MIN_DESCRIPTORS {
        anyhow::bail!(
            "brood needs at least {MIN_DESCRIPTORS} open files and the limit is {descriptors} (ulimit -n): raise it"
        );
    }
    let (events, inbox) = mpsc::channel();
    input::spawn_signal_thread(events.clone())?;

    let (config, config_errors) = Config::load(cli.config.as_deref());
    let config = effective(cli, config);
    let mut terminal = Terminal::enter(config.mouse)?;
    // The screen badges a traced process whatever its state: follow every tracer.
    let scan = ScanOptions {
        tracers: Tracers::Followed,
        ..ScanOptions::default()
    };
    let collector = Collector::start(config.refresh, scan, events.clone());
    events::spawn(events.clone(), config.refresh)?;
    let executor = Executor::new(
        Lab::new("/proc/self/exe".into()),
        events.clone(),
        collector.commands(),
    );
    terminal::install_panic_hook(executor.lab());
    let result = (|| {
        let size = terminal.size()?;
        let mut app = App::new(settings(cli, &config, config_errors));
        app.update(Event::Resize {
            width: size.width,
            height: size.height,
        });
        for effect in app.start() {
            executor.run(effect);
        }
        input::spawn_input_thread(events);
        main_loop(&mut terminal, &mut app, &inbox, &executor)
    })();
    terminal.leave();
    let exit = match result {
        Ok(exit) => exit,
        Err(err) => {
            executor.shutdown(false);
            return Err(err);
        }
    };
    executor.shutdown(matches!(
        exit,
        Exit::Quit {
            leave_running: true
        }
    ));
    match exit {
        Exit::Quit { .. } => Ok(ExitCode::SUCCESS),
        Exit::Signal(signal) => Ok(ExitCode::from(128 + signal as u8)),
        Exit::Raise(signal) => Ok(terminal::raise(signal)),
        Exit::Failed(why) => Err(anyhow::anyhow!(why)),
    }
}

/// The app's settings: the configuration, the command line, and what brood reads about itself.
fn settings(cli: &Cli, config: &Config, config_errors: Vec<ConfigError>) -> Settings {
    Settings {
        keymap: config.keymap.clone(),
        theme: config.theme,
        color: cli.color(),
        columns: config.columns.clone(),
        auto_reap: config.auto_reap,
        subreaper: config.subreaper,
        self_pid: std::process::id() as i32,
        my_uid: nix::unistd::geteuid().as_raw(),
        job_control: terminal::job_control(),
        utc_offset_secs: chrono::Local::now().offset().local_minus_utc(),
        root: cli.pid,
        user: cli.user.clone(),
        filter: cli.filter.clone(),
        scenario: cli.scenario,
        warnings: config_errors
            .iter()
            .map(|error| format!("config: {error}; {}", error.consequence()))
            .collect(),
    }
}

/// The config with the command line laid over it.
pub fn effective(cli: &Cli, mut config: Config) -> Config {
    if cli.interval_given {
        config.refresh = cli.interval;
    }
    if cli.no_mouse {
        config.mouse = false;
    }
    config
}

fn main_loop(
    terminal: &mut Terminal,
    app: &mut App,
    inbox: &Receiver<Event>,
    executor: &Executor,
) -> anyhow::Result<Exit> {
    loop {
        terminal.draw(app)?;
        let Ok(first) = inbox.recv() else {
            return Ok(Exit::Quit {
                leave_running: false,
            });
        };
        // Handle everything already queued before the next frame: one redraw per burst of events.
        for event in std::iter::once(first).chain(inbox.try_iter()) {
            for effect in app.update(event) {
                match effect {
                    // The terminal is the main loop's own.
                    Effect::Suspend => terminal.suspend()?,
                    Effect::RetakeTerminal => terminal.retake()?,
                    effect => executor.run(effect),
                }
            }
            if let Some(exit) = app.exit.take() {
                return Ok(exit);
            }
        }
    }
}
