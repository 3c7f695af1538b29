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
pub mod replay;
mod replies;
pub mod scenario;
mod session;
mod signal_set;
mod terminal;

use std::process::ExitCode;

use std::sync::mpsc::{self, Receiver};

use crate::app::{App, Exit, Settings};
use crate::cli::{Cli, Command};
use crate::config::{Config, ConfigError};
use crate::lab::Lab;
use crate::message::{Effect, Event};
use crate::proc::scan::{ScanOptions, Tracers};
use collector::Collector;
use executor::Executor;
use session::Own;
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
    // A replay reads its file in place of /proc, and starts no lab: nothing it shows is live.
    let replayed = match &cli.command {
        Some(Command::Replay(args)) => Some(&args.file),
        _ => None,
    };
    let (collector, seeks, lab) = match replayed {
        None => {
            let collector = Collector::start(config.refresh, scan, events.clone());
            events::spawn(events.clone(), config.refresh)?;
            (Some(collector), None, Lab::new("/proc/self/exe".into()))
        }
        Some(file) => {
            let seeks = replay::spawn(file, events.clone())?;
            let no_lab = std::io::Error::other("a recording is replayed");
            (None, Some(seeks), Err(crate::lab::LabError::Setup(no_lab)))
        }
    };
    let collector_commands = match &collector {
        Some(collector) => collector.commands(),
        None => mpsc::channel().0,
    };
    let executor = Executor::new(lab, events.clone(), collector_commands);
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
        input::spawn_input_thread(events.clone());
        let mut own = Own::new(events.clone(), seeks, &app);
        main_loop(&mut terminal, &mut app, &inbox, &executor, &mut own)
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
    own: &mut Own,
) -> anyhow::Result<Exit> {
    let exit = loop {
        terminal.draw(app)?;
        let Ok(first) = inbox.recv() else {
            break Exit::Quit {
                leave_running: false,
            };
        };
        // Handle everything already queued before the next frame: one redraw per burst of events.
        let mut exit = None;
        for event in std::iter::once(first).chain(inbox.try_iter()) {
            for effect in app.update(event) {
                match effect {
                    // The terminal is the main loop's own; so is what is kept of the session.
                    Effect::Suspend => terminal.suspend()?,
                    Effect::RetakeTerminal => terminal.retake()?,
                    effect @ (Effect::Record(_) | Effect::Seek(_) | Effect::Travel(_)) => {
                        own.carry_out(effect, app)
                    }
                    effect => executor.run(effect),
                }
            }
            own.after_update(app);
            exit = app.exit.take();
            if exit.is_some() {
                break;
            }
        }
        if let Some(exit) = exit {
            break exit;
        }
    };
    // Whatever ends the session, a recording is left whole.
    own.finish();
    Ok(exit)
}
