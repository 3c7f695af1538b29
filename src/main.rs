use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use brood::cli::{Cli, Command, ExporterArgs, SnapshotArgs, SnapshotFormat};
use brood::proc::ipc::{find_deadlocks, read_ipc};
use brood::proc::scan::{ScanOptions, Scanner, Tracers};
use clap::Parser;
use clap::error::ErrorKind;

fn main() -> ExitCode {
    tune_allocator();
    // The hidden roles come first: lab processes are this binary, started by brood.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(code) = brood::lab::worker::run_role(&args) {
        brood::lab::worker::exit_now(code);
    }
    let mut cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err)
            if matches!(
                err.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) =>
        {
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            // clap's own message spans several lines; one is enough to say what was wrong.
            let text = err.to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("invalid arguments")
                .trim_start_matches("error: ");
            eprintln!("brood: {first} (see brood --help)");
            return ExitCode::from(2);
        }
    };
    cli.interval_given = Cli::interval_given_in(std::env::args_os());
    if let Some(code) = print_and_exit(&cli) {
        return code;
    }
    match &cli.command {
        Some(Command::Snapshot(args)) => return snapshot(args),
        Some(Command::Exporter(args)) => return exporter(args),
        Some(Command::Events(args)) => return brood::events_cli::run(args),
        Some(Command::Record(args)) => return brood::runtime::record::run(args),
        Some(Command::Export(args)) => return brood::export::run(args),
        Some(Command::Replay(args)) => {
            if let Err(why) = brood::runtime::replay::check(&args.file) {
                eprintln!("brood: {why}");
                return ExitCode::FAILURE;
            }
        }
        None => {}
    }
    if let Some(problem) = incapable_terminal(std::env::var_os("TERM")) {
        eprintln!("brood: {problem}");
        return ExitCode::from(2);
    }
    if !std::io::stdout().is_terminal() {
        eprintln!(
            "brood: standard output is not a terminal, and brood's screen needs one (for a printed tree: brood snapshot)"
        );
        return ExitCode::from(2);
    }
    match brood::runtime::run(&cli) {
        Ok(code) => code,
        Err(err) => {
            // Not eprintln!: the error may be that the terminal is gone, stderr with it, and
            // eprintln! panics on a failed write.
            let _ = writeln!(std::io::stderr(), "brood: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Why the terminal `TERM` names cannot show brood's screen, if it cannot: brood moves the cursor
/// and draws in colour, which a dumb terminal (or one that says nothing about itself) cannot do.
fn incapable_terminal(term: Option<std::ffi::OsString>) -> Option<String> {
    match term.as_ref().and_then(|t| t.to_str()) {
        None | Some("") => Some(
            "TERM is not set, so brood cannot tell how to draw on this terminal; set it (e.g. TERM=xterm-256color)".into(),
        ),
        Some("dumb") => Some(
            "this terminal (TERM=dumb) cannot move the cursor or draw a screen, which brood needs; for a printed tree: brood snapshot".into(),
        ),
        Some(_) => None,
    }
}

/// Every refresh makes and frees a few big blocks (the snapshot, the rows) on two threads. glibc's
/// defaults would keep a heap for each thread and keep freed big blocks in them, to no use here:
/// one heap, and blocks from 64 KiB on mapped on their own and given back when freed.
fn tune_allocator() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets allocator parameters; called first, before any thread.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024);
    }
}

/// `brood snapshot`: one scan, printed, then exit. Works without a terminal.
fn snapshot(args: &SnapshotArgs) -> ExitCode {
    // One scan keeps nothing for a next one: read each stat file and close it at once.
    let options = ScanOptions {
        max_open_files: Some(0),
        tracers: Tracers::Every,
        ..ScanOptions::default()
    };
    let snapshot = match Scanner::new(options).scan() {
        Ok(snapshot) => snapshot,
        Err(err) => {
            eprintln!("brood: {err}");
            return ExitCode::FAILURE;
        }
    };
    let options = brood::snapshot::Options {
        root: args.pid,
        kernel_threads: args.kernel_threads,
    };
    // The deadlock badge needs the wait channels and descriptors of the blocked processes.
    let deadlocks = find_deadlocks(&read_ipc(&snapshot, false).waits());
    let output = match args.format {
        SnapshotFormat::Text => brood::snapshot::text(&snapshot, &deadlocks, &options),
        SnapshotFormat::Json => brood::snapshot::json(&snapshot, &deadlocks, &options),
    };
    let output = match output {
        Ok(output) => output,
        Err(err) => {
            eprintln!("brood: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(output.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`brood snapshot | head -1`): what it wanted, it has.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("brood: cannot write the snapshot: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `brood exporter`: serves metrics until SIGTERM or SIGINT. Works without a terminal; a
/// `--listen` address it cannot use is a usage error (status 2), as a bad argument is.
fn exporter(args: &ExporterArgs) -> ExitCode {
    match brood::exporter::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "brood: {err}");
            ExitCode::from(if err.is_usage() { 2 } else { 1 })
        }
    }
}

/// `--completions`, `--man` and `--print-config` print and exit, with no terminal needed.
fn print_and_exit(cli: &Cli) -> Option<ExitCode> {
    let text = if let Some(shell) = cli.completions {
        Cli::completion_script(shell)
    } else if cli.man {
        match brood::man::page() {
            Ok(page) => page,
            Err(err) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "brood: cannot render the man page: {err}"
                );
                return Some(ExitCode::FAILURE);
            }
        }
    } else if cli.print_config {
        let (config, errors) = brood::config::Config::load(cli.config.as_deref());
        let mut text = String::new();
        for error in errors {
            let consequence = error.consequence();
            let _ = writeln!(std::io::stderr(), "brood: {error}; {consequence}");
            text.push_str(&format!("# {error}; {consequence}\n"));
        }
        text.push_str(&brood::runtime::effective(cli, config).to_toml());
        text.into_bytes()
    } else {
        return None;
    };
    let _ = std::io::stdout().write_all(&text);
    Some(ExitCode::SUCCESS)
}
