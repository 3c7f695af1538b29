//! Runs scenarios: the script on one thread, the watcher of its live figures on another. What a
//! scenario is (its steps, figures and texts) lives in `lab::scenarios`; this is how it runs.

mod driver;
mod watch;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::lab::Lab;
use crate::lab::scenarios::{Control, ScenarioId, Step};
use crate::proc::{Identity, Pid};

/// Where a scenario's steps go (the executor turns them into events; tests collect them).
pub type Reporter = Arc<dyn Fn(Step) + Send + Sync>;

/// A process's part in a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Role {
    pid: Pid,
    /// So that ending the scenario never signals a reused PID.
    identity: Identity,
    key: String,
    label: String,
}

impl Role {
    /// The scenario's parents stay as idle lab workers when the lesson is over.
    fn lasting(&self) -> bool {
        self.key.starts_with("parent")
    }
}

/// Starts `id` on its own thread; `control` stops it early (and may end its processes). The
/// thread ends after the script; the figures go on until the scenario's processes are gone, then
/// [`Step::Finished`] is reported.
pub fn start(
    lab: Arc<Lab>,
    id: ScenarioId,
    report: Reporter,
    control: Arc<Control>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let script_done = Arc::new(AtomicBool::new(false));
        let roles = Arc::new(Mutex::new(Vec::new()));
        watch::start(
            id,
            lab.clone(),
            roles.clone(),
            report.clone(),
            control.clone(),
            script_done.clone(),
        );
        let driver = driver::Driver {
            lab,
            report,
            roles,
            control,
        };
        if let Err(why) = driver.script(id) {
            (driver.report)(Step::Failed(format!("scenario {id}: {why}")));
        }
        script_done.store(true, Ordering::SeqCst);
    })
}
