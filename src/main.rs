use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use brood::cli::Cli;
use clap::Parser;
use clap::error::ErrorKind;

fn main() -> ExitCode {
    // The hidden worker role comes first: lab processes are this binary, started by brood.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == brood::lab::WORKER_ARG) {
        let dir = args
            .get(2)
            .map(std::path::PathBuf::from)
            .unwrap_or_default();
        let lifeline = args.get(3).and_then(|fd| fd.to_str()?.parse().ok());
        std::process::exit(brood::lab::worker::run(&dir, lifeline));
    }
    let cli = match Cli::try_parse() {
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
    if !std::io::stdout().is_terminal() {
        eprintln!("brood: standard output is not a terminal, and brood's screen needs one");
        return ExitCode::from(2);
    }
    match brood::tui::run(&cli) {
        Ok(code) => code,
        Err(err) => {
            // Not eprintln!: the error may be that the terminal is gone, stderr with it, and
            // eprintln! panics on a failed write.
            let _ = writeln!(std::io::stderr(), "brood: {err:#}");
            ExitCode::FAILURE
        }
    }
}
