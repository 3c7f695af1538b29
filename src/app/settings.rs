//! What an [`App`](super::App) is built from: the configuration, the command line and the few
//! facts about the machine and brood's own process that the runtime reads once at start. The app
//! reads nothing itself; everything it knows comes from here or from events.

use strum::{EnumString, IntoStaticStr, VariantArray};

use super::keymap::Keymap;
use super::sort::{Column, DEFAULT_COLUMNS};
use crate::lab::scenarios::ScenarioId;
use crate::proc::Pid;

/// Everything `App::new` needs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub keymap: Keymap,
    pub theme: ThemeName,
    /// Colour on (off under NO_COLOR or --no-color).
    pub color: bool,
    pub columns: Vec<Column>,
    pub auto_reap: bool,
    /// Become a child subreaper at start.
    pub subreaper: bool,
    /// brood's own PID, marked in the tree and never a lab process.
    pub self_pid: Pid,
    /// brood's effective user, for "only my processes".
    pub my_uid: u32,
    /// Whether a shell could resume brood after Ctrl-Z (it was started by one with job control).
    pub job_control: bool,
    /// Local time minus UTC at start, until the first system figures say otherwise.
    pub utc_offset_secs: i32,
    /// Show only this process and its descendants (`--pid`).
    pub root: Option<Pid>,
    /// Start filtered by this user (`--user`) or text (`--filter`).
    pub user: Option<String>,
    pub filter: Option<String>,
    /// Start this scenario at once (`--scenario`).
    pub scenario: Option<ScenarioId>,
    /// Problems found while reading the configuration, to show at start.
    pub warnings: Vec<String>,
}

impl Settings {
    /// The shipped defaults for a brood whose PID is `self_pid`.
    pub fn new(self_pid: Pid) -> Settings {
        Settings {
            keymap: Keymap::default(),
            theme: ThemeName::default(),
            color: true,
            columns: DEFAULT_COLUMNS.to_vec(),
            auto_reap: false,
            subreaper: false,
            self_pid,
            my_uid: 0,
            job_control: true,
            utc_offset_secs: 0,
            root: None,
            user: None,
            filter: None,
            scenario: None,
            warnings: Vec::new(),
        }
    }
}

/// The palettes a config can name, by the variant's name in lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, IntoStaticStr, EnumString, VariantArray)]
#[strum(serialize_all = "lowercase")]
pub enum ThemeName {
    #[default]
    Dark,
    Light,
    Monochrome,
}

impl ThemeName {
    /// The name used in the config file.
    pub fn name(self) -> &'static str {
        self.into()
    }
}
