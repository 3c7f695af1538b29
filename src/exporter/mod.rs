//! `brood exporter`: what only brood knows about processes — zombies and who leaves them,
//! orphans seen being adopted, deadlock cycles, processes stuck in D — as Prometheus metrics.
//! It reads /proc through `proc` alone and is read-only: it never signals, forks or writes
//! anything but its HTTP responses (and one line saying where it listens).
//!
//! Cadence: a fixed one, not a scan per scrape. Zombie ages, adoptions and time in D exist only
//! as the difference between consecutive scans, so someone must scan at a steady pace whether or
//! not anyone scrapes; scrapes are then served from the latest result. That also keeps a scrape
//! cheap and constant (two Prometheus servers cost what one does), and a scrape never fails
//! during process churn, since it reads no /proc at all. The price is staleness of up to one
//! `--interval` (default 5 s), below any useful scrape interval.

pub mod metrics;
pub mod observe;
pub mod sampler;
pub mod server;

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use signal_hook::consts::{SIGINT, SIGTERM};

use crate::cli::ExporterArgs;
use sampler::Sampler;

#[derive(Debug, thiserror::Error)]
pub enum ExporterError {
    /// The `--listen` address cannot be used (a usage error: exit status 2).
    #[error("cannot listen on {address}: {reason}")]
    Listen { address: SocketAddr, reason: String },
    #[error("cannot start the exporter: {0}")]
    Start(#[source] io::Error),
    #[error("the exporter stopped accepting connections: {0}")]
    Accept(#[source] io::Error),
}

impl ExporterError {
    /// Whether the user can fix it on the command line.
    pub fn is_usage(&self) -> bool {
        matches!(self, ExporterError::Listen { .. })
    }
}

fn listen_error(address: SocketAddr, err: &io::Error) -> ExporterError {
    let reason = match err.kind() {
        io::ErrorKind::AddrInUse => "the port is in use (choose another with --listen)".into(),
        io::ErrorKind::AddrNotAvailable => "that address is not one of this machine's".into(),
        io::ErrorKind::PermissionDenied => {
            "permission denied (ports below 1024 need privileges)".into()
        }
        _ => err.to_string(),
    };
    ExporterError::Listen { address, reason }
}

/// A bound, sampling exporter, ready to serve.
pub struct Exporter {
    server: Arc<tiny_http::Server>,
    address: SocketAddr,
    sampler: Sampler,
    stopping: Arc<AtomicBool>,
}

/// Ends [`Exporter::serve`] from another thread (a signal, a test): requests already received
/// are answered first.
#[derive(Clone)]
pub struct Stopper {
    server: Arc<tiny_http::Server>,
    stopping: Arc<AtomicBool>,
}

impl Stopper {
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.server.unblock();
    }
}

impl Exporter {
    /// Binds the address first (a bad `--listen` fails before any scan), then makes the first
    /// scan, so that a scrape always finds metrics.
    pub fn start(args: &ExporterArgs) -> Result<Exporter, ExporterError> {
        let listener =
            TcpListener::bind(args.listen).map_err(|err| listen_error(args.listen, &err))?;
        let address = listener
            .local_addr()
            .map_err(|err| listen_error(args.listen, &err))?;
        let server = tiny_http::Server::from_listener(listener, None)
            .map_err(|err| ExporterError::Start(io::Error::other(err.to_string())))?;
        let sampler =
            Sampler::start(args.interval, args.d_state_threshold).map_err(ExporterError::Start)?;
        Ok(Exporter {
            server: Arc::new(server),
            address,
            sampler,
            stopping: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Where it listens (with the real port when `--listen` asked for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn stopper(&self) -> Stopper {
        Stopper {
            server: Arc::clone(&self.server),
            stopping: Arc::clone(&self.stopping),
        }
    }

    /// Answers requests, one at a time (each is a copy of a ready buffer), until stopped.
    pub fn serve(self) -> Result<(), ExporterError> {
        let latest = self.sampler.latest();
        loop {
            match self.server.recv() {
                Ok(request) => server::respond(request, &latest.get()),
                Err(_) if self.stopping.load(Ordering::SeqCst) => return Ok(()),
                Err(err) => return Err(ExporterError::Accept(err)),
            }
        }
    }
}

/// `brood exporter`: binds, says where on one line, and serves until SIGTERM or SIGINT.
pub fn run(args: &ExporterArgs) -> Result<(), ExporterError> {
    // Registered before anything can be served, so a signal is never the default (a kill).
    let mut signals =
        signal_hook::iterator::Signals::new([SIGTERM, SIGINT]).map_err(ExporterError::Start)?;
    let exporter = Exporter::start(args)?;
    let stopper = exporter.stopper();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                stopper.stop();
            }
        })
        .map_err(ExporterError::Start)?;
    let mut stdout = io::stdout().lock();
    // Nobody reading the line is no reason not to serve.
    let _ = writeln!(
        stdout,
        "brood exporter: serving http://{}/metrics",
        exporter.address()
    )
    .and_then(|()| stdout.flush());
    drop(stdout);
    exporter.serve()
}
