//! The command line, defined once with clap (help, version and errors come from here).

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use strum::VariantArray;

use crate::lab::scenarios::ScenarioId;

#[derive(Debug, Parser)]
#[command(
    name = "brood",
    version,
    about = "A live process tree and multiprocessing lab for Linux"
)]
pub struct Cli {
    /// Refresh interval in seconds, from 0.1 to 3600 (e.g. 0.5)
    #[arg(short = 'd', long, value_name = "SECONDS", default_value = "1", value_parser = parse_interval, allow_negative_numbers = true)]
    pub interval: Duration,

    /// Turn colours off (setting the NO_COLOR environment variable does the same)
    #[arg(long)]
    pub no_color: bool,

    /// Start a scenario at once (S opens the menu later), e.g. zombie, orphan, pipe, deadlock-flock
    #[arg(long, value_name = "NAME", value_parser = ScenarioName)]
    pub scenario: Option<ScenarioId>,

    /// Show only this process and its descendants
    #[arg(long, value_name = "PID", value_parser = clap::value_parser!(i32).range(1..), allow_negative_numbers = true)]
    pub pid: Option<i32>,

    /// Show only the processes of this user (their ancestors stay, dimmed)
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// Start filtered: name, command line or PID containing TEXT (ancestors stay, dimmed)
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,

    /// Leave the mouse to the terminal (text selection) instead of clicks and the wheel
    #[arg(long)]
    pub no_mouse: bool,

    /// Read the configuration from PATH instead of $XDG_CONFIG_HOME/brood/config.toml
    #[arg(long, value_name = "PATH")]
    pub config: Option<std::path::PathBuf>,

    /// Print the effective configuration (defaults, config file, options) and exit
    #[arg(long)]
    pub print_config: bool,

    /// Print a completion script for SHELL (bash, zsh, fish, elvish, powershell) and exit
    #[arg(long, value_name = "SHELL")]
    pub completions: Option<clap_complete::Shell>,

    /// Print the man page (roff; e.g. brood --man | man -l -) and exit
    #[arg(long)]
    pub man: bool,

    /// Whether --interval was given (else the config file's refresh applies); set by `main`.
    #[arg(skip)]
    pub interval_given: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the process tree once, with states and badges, and exit (no terminal needed)
    Snapshot(SnapshotArgs),
    /// Serve zombie, orphan, deadlock and stuck-process metrics for Prometheus (no terminal needed)
    Exporter(ExporterArgs),
    /// Print every fork, exec and exit as it happens, one line each (no terminal needed)
    Events(EventsArgs),
    /// Record the process tree and every event to a file, until interrupted (no terminal needed)
    Record(RecordArgs),
    /// Turn a recording into a trace for Perfetto or chrome://tracing, or into JSON lines
    Export(ExportArgs),
    /// Open a recording in the same screens, with a time cursor (step, jump, play)
    Replay(ReplayArgs),
}

/// The exporter's default address: loopback only, unless `--listen` says otherwise.
pub const EXPORTER_LISTEN: &str = "127.0.0.1:10146";

#[derive(Debug, Args)]
pub struct ExporterArgs {
    /// Address and port to serve /metrics on: loopback unless another address is given here
    #[arg(long, value_name = "ADDR:PORT", default_value = EXPORTER_LISTEN)]
    pub listen: std::net::SocketAddr,

    /// Seconds between two scans, from 0.1 to 3600; scrapes are served from the latest scan
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = parse_interval, allow_negative_numbers = true)]
    pub interval: Duration,

    /// Seconds a process must stay in uninterruptible sleep (D) to count as stuck, 0.1 to 3600
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = parse_interval, allow_negative_numbers = true)]
    pub d_state_threshold: Duration,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Output format: an indented tree, or a JSON array with one object per process
    #[arg(long, value_enum, default_value_t = SnapshotFormat::Text)]
    pub format: SnapshotFormat,

    /// Print only this process and its descendants
    #[arg(long, value_name = "PID", value_parser = clap::value_parser!(i32).range(1..), allow_negative_numbers = true)]
    pub pid: Option<i32>,

    /// Include kernel threads (hidden by default, as pstree does)
    #[arg(long)]
    pub kernel_threads: bool,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Output format: one sentence a line, or one JSON object a line
    #[arg(long, value_enum, default_value_t = SnapshotFormat::Text)]
    pub format: SnapshotFormat,

    /// Print only the events of this process (and the forks it makes)
    #[arg(long, value_name = "PID", value_parser = clap::value_parser!(i32).range(1..), allow_negative_numbers = true)]
    pub pid: Option<i32>,

    /// With --pid: its descendants' events too, following every fork
    #[arg(long, requires = "pid")]
    pub subtree: bool,

    /// Print only the events of processes whose name, command line or PID contains TEXT
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,

    /// Stop after this many seconds (e.g. 0.5); without it, run until interrupted
    #[arg(long, value_name = "SECONDS", value_parser = parse_duration, allow_negative_numbers = true)]
    pub duration: Option<Duration>,

    /// Print the events of threads too (their creation and end)
    #[arg(long)]
    pub threads: bool,

    /// Take events from scans even where the kernel's are allowed (they miss short processes)
    #[arg(long)]
    pub from_scans: bool,

    /// Seconds between scans when events come from scans, from 0.1 to 3600
    #[arg(short = 'd', long, value_name = "SECONDS", default_value = "1", value_parser = parse_interval, allow_negative_numbers = true)]
    pub interval: Duration,
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The file to write (default: brood-YYYYmmdd-HHMMSS.brood here); an existing one is never overwritten
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,

    /// Stop after this many seconds (e.g. 0.5); without it, record until interrupted
    #[arg(long, value_name = "SECONDS", value_parser = parse_duration, allow_negative_numbers = true)]
    pub duration: Option<Duration>,

    /// Record only this process (and the forks it makes)
    #[arg(long, value_name = "PID", value_parser = clap::value_parser!(i32).range(1..), allow_negative_numbers = true)]
    pub pid: Option<i32>,

    /// With --pid: its descendants too, following every fork
    #[arg(long, requires = "pid")]
    pub subtree: bool,

    /// Seconds between scans, from 0.1 to 3600
    #[arg(short = 'd', long, value_name = "SECONDS", default_value = "1", value_parser = parse_interval, allow_negative_numbers = true)]
    pub interval: Duration,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A recording made by brood record, or by r on brood's screen
    #[arg(value_name = "FILE")]
    pub file: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A recording made by brood record
    #[arg(value_name = "FILE")]
    pub file: std::path::PathBuf,

    /// chrome-trace: Trace Event Format JSON (Perfetto, chrome://tracing); json: one history entry a line
    #[arg(long, value_enum)]
    pub format: ExportFormat,

    /// The file to write (default: standard output)
    #[arg(short = 'o', long, value_name = "OUT")]
    pub output: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    ChromeTrace,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SnapshotFormat {
    Text,
    Json,
}

/// A scenario's name: parsed into its id, and listed with its title for completion scripts,
/// `--help` and the man page.
#[derive(Debug, Clone, Copy)]
struct ScenarioName;

impl clap::builder::TypedValueParser for ScenarioName {
    type Value = ScenarioId;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<ScenarioId, clap::Error> {
        let text = value.to_string_lossy();
        // One line that names every scenario: `main` shows clap's first line only.
        text.parse().map_err(|why: String| {
            clap::Error::raw(
                clap::error::ErrorKind::InvalidValue,
                format!("invalid value '{text}' for '--scenario <NAME>': {why}\n"),
            )
            .with_cmd(cmd)
        })
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(ScenarioId::VARIANTS.iter().map(|id| {
            clap::builder::PossibleValue::new(id.name()).help(id.title())
        })))
    }
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(0.1..=3600.0).contains(&secs) {
        return Err(format!("{secs} s is out of range: use 0.1 to 3600 seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= 1e9) {
        return Err(format!(
            "{secs} s is out of range: give a positive number of seconds"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

impl Cli {
    /// Whether `--interval`/`-d` was on the command line, as opposed to its default.
    pub fn interval_given_in(args: impl IntoIterator<Item = std::ffi::OsString>) -> bool {
        use clap::CommandFactory;
        Cli::command().try_get_matches_from(args).is_ok_and(|m| {
            m.value_source("interval") == Some(clap::parser::ValueSource::CommandLine)
        })
    }

    /// The completion script for `shell`, generated from this definition.
    pub fn completion_script(shell: clap_complete::Shell) -> Vec<u8> {
        use clap::CommandFactory;
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "brood", &mut out);
        out
    }

    /// Colour is on unless `--no-color` or a non-empty NO_COLOR (see no-color.org) says otherwise.
    pub fn color(&self) -> bool {
        !self.no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_takes_fractions_and_rejects_nonsense() {
        let cli = Cli::try_parse_from(["brood", "-d", "0.5"]).unwrap();
        assert_eq!(cli.interval, Duration::from_millis(500));
        assert!(Cli::try_parse_from(["brood", "--interval", "0"]).is_err());
        assert!(Cli::try_parse_from(["brood", "--interval", "soon"]).is_err());
        // A negative number is a value, refused for its range, not taken for an option.
        let err = Cli::try_parse_from(["brood", "--interval", "-1"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("out of range: use 0.1 to 3600"), "{err}");
        let err = Cli::try_parse_from(["brood", "--pid", "-1"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("-1 is not in 1.."), "{err}");
        assert!(Cli::try_parse_from(["brood", "--bogus"]).is_err());
    }

    #[test]
    fn snapshot_takes_a_format_and_a_positive_pid() {
        let cli =
            Cli::try_parse_from(["brood", "snapshot", "--format", "json", "--pid", "42"]).unwrap();
        let Some(Command::Snapshot(args)) = cli.command else {
            panic!("no snapshot subcommand: {cli:?}");
        };
        assert_eq!(args.format, SnapshotFormat::Json);
        assert_eq!(args.pid, Some(42));
        assert!(!args.kernel_threads);

        let cli = Cli::try_parse_from(["brood", "snapshot"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Snapshot(SnapshotArgs {
                format: SnapshotFormat::Text,
                pid: None,
                ..
            }))
        ));
        assert!(Cli::try_parse_from(["brood", "snapshot", "--pid", "0"]).is_err());
        assert!(Cli::try_parse_from(["brood", "snapshot", "--format", "xml"]).is_err());
        assert!(Cli::try_parse_from(["brood"]).unwrap().command.is_none());
    }

    #[test]
    fn exporter_listens_on_loopback_unless_told_and_rejects_a_bad_address() {
        let cli = Cli::try_parse_from(["brood", "exporter"]).unwrap();
        let Some(Command::Exporter(args)) = cli.command else {
            panic!("no exporter subcommand: {cli:?}");
        };
        assert!(args.listen.ip().is_loopback(), "{}", args.listen);
        assert_eq!(args.interval, Duration::from_secs(5));
        assert_eq!(args.d_state_threshold, Duration::from_secs(30));

        let cli = Cli::try_parse_from([
            "brood",
            "exporter",
            "--listen",
            "[::]:9000",
            "--interval",
            "0.5",
            "--d-state-threshold",
            "300",
        ])
        .unwrap();
        let Some(Command::Exporter(args)) = cli.command else {
            panic!("no exporter subcommand: {cli:?}");
        };
        assert_eq!(args.listen.to_string(), "[::]:9000");
        assert_eq!(args.interval, Duration::from_millis(500));
        assert_eq!(args.d_state_threshold, Duration::from_secs(300));

        for bad in ["localhost", "127.0.0.1", "127.0.0.1:http", "1.2.3.4:99999"] {
            assert!(
                Cli::try_parse_from(["brood", "exporter", "--listen", bad]).is_err(),
                "{bad}"
            );
        }
        assert!(Cli::try_parse_from(["brood", "exporter", "--interval", "0"]).is_err());
    }

    #[test]
    fn events_takes_a_pid_subtree_filter_and_duration() {
        let cli = Cli::try_parse_from([
            "brood",
            "events",
            "--format",
            "json",
            "--pid",
            "7",
            "--subtree",
            "--filter",
            "cc",
            "--duration",
            "1.5",
            "--threads",
        ])
        .unwrap();
        let Some(Command::Events(args)) = cli.command else {
            panic!("no events subcommand: {cli:?}");
        };
        assert_eq!(args.format, SnapshotFormat::Json);
        assert_eq!((args.pid, args.subtree), (Some(7), true));
        assert_eq!(args.filter.as_deref(), Some("cc"));
        assert_eq!(args.duration, Some(Duration::from_millis(1500)));
        assert!(args.threads && !args.from_scans);
        assert_eq!(args.interval, Duration::from_secs(1));
        assert!(
            Cli::try_parse_from(["brood", "events", "--subtree"]).is_err(),
            "needs --pid"
        );
        assert!(Cli::try_parse_from(["brood", "events", "--duration", "0"]).is_err());
        assert!(Cli::try_parse_from(["brood", "events", "--duration", "soon"]).is_err());
    }

    #[test]
    fn record_and_export_take_their_files_and_options() {
        let cli = Cli::try_parse_from([
            "brood",
            "record",
            "-o",
            "x.brood",
            "--duration",
            "2",
            "--pid",
            "7",
            "--subtree",
            "-d",
            "0.5",
        ])
        .unwrap();
        let Some(Command::Record(args)) = cli.command else {
            panic!("no record subcommand: {cli:?}");
        };
        assert_eq!(
            args.output.as_deref(),
            Some(std::path::Path::new("x.brood"))
        );
        assert_eq!(args.duration, Some(Duration::from_secs(2)));
        assert_eq!((args.pid, args.subtree), (Some(7), true));
        assert_eq!(args.interval, Duration::from_millis(500));
        let cli = Cli::try_parse_from(["brood", "record"]).unwrap();
        let Some(Command::Record(args)) = cli.command else {
            panic!("no record subcommand: {cli:?}");
        };
        assert!(args.output.is_none() && args.duration.is_none() && args.pid.is_none());
        assert!(Cli::try_parse_from(["brood", "record", "--subtree"]).is_err());

        let cli = Cli::try_parse_from(["brood", "export", "x.brood", "--format", "chrome-trace"])
            .unwrap();
        let Some(Command::Export(args)) = cli.command else {
            panic!("no export subcommand: {cli:?}");
        };
        assert_eq!(args.format, ExportFormat::ChromeTrace);
        assert!(args.output.is_none());
        assert!(
            Cli::try_parse_from(["brood", "export", "x.brood"]).is_err(),
            "a format"
        );
        assert!(Cli::try_parse_from(["brood", "export", "x", "--format", "svg"]).is_err());
    }

    #[test]
    fn a_scenario_is_named_on_the_command_line_and_a_bogus_one_lists_the_valid_names() {
        let cli = Cli::try_parse_from(["brood", "--scenario", "zombie"]).unwrap();
        assert_eq!(cli.scenario, Some(ScenarioId::Zombie));
        let err = Cli::try_parse_from(["brood", "--scenario", "bogus"])
            .unwrap_err()
            .to_string();
        let first_line = err.lines().next().unwrap();
        assert!(
            first_line.contains("unknown scenario \"bogus\"")
                && first_line.contains("single-child")
                && first_line.contains("signals"),
            "{first_line}"
        );
    }

    #[test]
    fn explorer_options_parse() {
        let cli = Cli::try_parse_from([
            "brood",
            "--pid",
            "42",
            "--user",
            "root",
            "--filter",
            "ssh",
            "--no-mouse",
            "--config",
            "/tmp/b.toml",
        ])
        .unwrap();
        assert_eq!(cli.pid, Some(42));
        assert_eq!(cli.user.as_deref(), Some("root"));
        assert_eq!(cli.filter.as_deref(), Some("ssh"));
        assert!(cli.no_mouse);
        assert!(Cli::try_parse_from(["brood", "--pid", "me"]).is_err());
        assert!(Cli::interval_given_in(["brood", "-d", "2"].map(Into::into)));
        assert!(!Cli::interval_given_in(["brood"].map(Into::into)));
    }

    #[test]
    fn completions_come_from_the_definition() {
        let bash = String::from_utf8(Cli::completion_script(clap_complete::Shell::Bash)).unwrap();
        assert!(bash.contains("--filter") && bash.contains("--no-mouse"));
    }

    #[test]
    fn every_shell_completes_the_scenario_names() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
        ] {
            let script = String::from_utf8(Cli::completion_script(shell)).unwrap();
            for id in ScenarioId::VARIANTS {
                assert!(script.contains(id.name()), "{shell}: {}", id.name());
            }
        }
        let fish = String::from_utf8(Cli::completion_script(clap_complete::Shell::Fish)).unwrap();
        assert!(
            fish.contains(ScenarioId::Zombie.title()),
            "each name comes with its title"
        );
    }
}
