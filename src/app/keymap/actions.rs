//! What keys can ask for, one enum per layer of the key table: the main screen, and each kind of
//! popup or prompt. Each action carries its config name (snake case) and its one-line doc; the
//! help screen, the hints and the config file all come from these.

use strum::{EnumMessage, EnumProperty, IntoStaticStr, VariantArray};

/// An action of one layer of the key table.
pub trait Bindable: Copy + Eq + std::hash::Hash + std::fmt::Debug + 'static {
    /// The layer's section in the config file's `[keys]` (`None`: `[keys]` itself).
    const SECTION: Option<&'static str>;
    /// The layer's title in the help screen.
    const TITLE: &'static str;
    /// Every action, in help-screen order.
    fn all() -> &'static [Self];
    /// The name used in the config file.
    fn name(self) -> &'static str;
    /// One line for the help screen.
    fn doc(self) -> &'static str;
}

macro_rules! bindable {
    ($action:ty, $section:expr, $title:expr) => {
        impl Bindable for $action {
            const SECTION: Option<&'static str> = $section;
            const TITLE: &'static str = $title;
            fn all() -> &'static [Self] {
                <$action as VariantArray>::VARIANTS
            }
            fn name(self) -> &'static str {
                self.into()
            }
            fn doc(self) -> &'static str {
                self.get_message().unwrap_or_default()
            }
        }
    };
}

/// Everything a key can ask brood to do on the main screen.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, IntoStaticStr, VariantArray, EnumMessage, EnumProperty,
)]
#[strum(serialize_all = "snake_case")]
pub enum Action {
    #[strum(
        message = "quit (asks what to do with running lab processes)",
        props(hint = "quit")
    )]
    Quit,
    #[strum(message = "quit at once, ending every lab process (works in every popup too)")]
    ForceQuit,
    #[strum(message = "close what was opened last: details, IPC, log, or the scenario panel")]
    Close,
    #[strum(message = "show or hide this help", props(hint = "help"))]
    Help,
    #[strum(message = "select the process above")]
    Up,
    #[strum(message = "select the process below")]
    Down,
    #[strum(message = "one page up")]
    PageUp,
    #[strum(message = "one page down")]
    PageDown,
    #[strum(message = "first process")]
    First,
    #[strum(message = "last process")]
    Last,
    #[strum(message = "fold the selected subtree, or go to the parent")]
    Collapse,
    #[strum(message = "unfold the selected subtree")]
    Expand,
    #[strum(message = "fold every subtree below the top level, or unfold all")]
    FoldAll,
    #[strum(message = "show or hide kernel threads")]
    KernelThreads,
    #[strum(message = "show or hide userland threads")]
    Threads,
    #[strum(
        message = "lab: start a new lab process as brood's child",
        props(hint = "spawn")
    )]
    Spawn,
    #[strum(
        message = "lab: the selected lab process calls fork()",
        props(hint = "fork")
    )]
    Fork,
    #[strum(
        message = "lab: the selected lab process exits (asks for the code)",
        props(hint = "exit")
    )]
    Exit,
    #[strum(
        message = "lab: waitpid() in the selected process; a zombie is reaped by its parent",
        props(hint = "wait")
    )]
    Wait,
    #[strum(
        message = "signal menu for the selected process, its subtree or its group",
        props(hint = "signal")
    )]
    SignalMenu,
    #[strum(message = "send SIGSTOP (stop; T in the tree)")]
    Stop,
    #[strum(message = "send SIGCONT (continue a stopped process)")]
    Continue,
    #[strum(message = "send SIGKILL (cannot be caught)")]
    Kill,
    #[strum(message = "show or hide the event log panel", props(hint = "log"))]
    EventLog,
    #[strum(message = "the event log, full screen: scroll, search, filter by kind, process, user")]
    FullLog,
    #[strum(
        message = "timeline: the states of the lab, the tagged processes or the selected subtree over time"
    )]
    TimelineView,
    #[strum(
        message = "record the session to a file (brood-DATE-TIME.brood here), or stop; brood replay FILE plays it back"
    )]
    Record,
    #[strum(
        message = "step back in time: the tree a scan ago, again for further; Esc: back to live"
    )]
    StepBack,
    #[strum(
        message = "IPC: why the selected process sleeps, its pipes and sockets, deadlocks",
        props(hint = "ipc")
    )]
    IpcView,
    #[strum(
        message = "lab view: only brood and the processes of its lab",
        props(hint = "lab")
    )]
    LabView,
    #[strum(message = "lab: brood reaps its exited children at once (off: they stay zombies)")]
    AutoReap,
    #[strum(message = "lab: brood becomes a child subreaper and adopts lab orphans")]
    Subreaper,
    #[strum(
        message = "scenarios: start a ready-made lesson in the lab (zombie, pipe, deadlock, …)",
        props(hint = "scenarios")
    )]
    Scenarios,
    #[strum(message = "show or hide the panel that explains the running scenario")]
    Explain,
    #[strum(
        message = "search name, command line or PID; again: next match",
        props(hint = "search")
    )]
    Search,
    #[strum(
        serialize = "search_previous",
        message = "previous search match (N: terminals that never send Shift-F3)"
    )]
    SearchPrev,
    #[strum(
        message = "filter: matches and their ancestors (dimmed) stay; Esc in the box clears",
        props(hint = "filter")
    )]
    Filter,
    #[strum(message = "filter: also show the descendants of each match")]
    FilterDescendants,
    #[strum(message = "filter by user: a picker of the users present")]
    FilterUser,
    #[strum(message = "filter by state: only zombies, only stopped, only orphans, all")]
    FilterState,
    #[strum(message = "only my processes, or everyone's")]
    FilterMine,
    #[strum(message = "clear every filter")]
    ClearFilters,
    #[strum(message = "tree or flat list (sorted as a whole)")]
    TreeMode,
    #[strum(message = "sort by a column (picker); the same column again reverses")]
    SortMenu,
    #[strum(message = "reverse the sort order")]
    ReverseSort,
    #[strum(message = "tag or untag the selected process; signals then go to every tagged one")]
    Tag,
    #[strum(message = "tag the selected process and all its descendants")]
    TagSubtree,
    #[strum(message = "clear all tags")]
    UntagAll,
    #[strum(message = "show or hide the details pane of the selected process")]
    Details,
    #[strum(message = "scroll the details pane up")]
    DetailsUp,
    #[strum(message = "scroll the details pane down")]
    DetailsDown,
    #[strum(message = "follow: keep the selected process in the middle of the view")]
    Follow,
    #[strum(message = "pause or resume refreshing (the screen freezes)")]
    Pause,
    #[strum(message = "suspend brood to the shell; fg brings it back")]
    Suspend,
}

impl Action {
    /// A short label for the bottom bar, for the actions worth a place there.
    pub fn hint(self) -> Option<&'static str> {
        self.get_str("hint")
    }
}

/// Keys in a list to choose from: the signal menu, the scenario menu, the pickers, the help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, IntoStaticStr, VariantArray, EnumMessage)]
#[strum(serialize_all = "snake_case")]
pub enum MenuAction {
    #[strum(message = "the item above")]
    Up,
    #[strum(message = "the item below")]
    Down,
    #[strum(message = "one page up")]
    PageUp,
    #[strum(message = "one page down")]
    PageDown,
    #[strum(message = "the first item")]
    First,
    #[strum(message = "the last item")]
    Last,
    #[strum(message = "choose the highlighted item")]
    Choose,
    #[strum(message = "close without choosing")]
    Cancel,
    #[strum(message = "signal menu: the process, its subtree or its process group")]
    Scope,
}

/// Keys in a confirmation ("send SIGTERM to …?").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, IntoStaticStr, VariantArray, EnumMessage)]
#[strum(serialize_all = "snake_case")]
pub enum ConfirmAction {
    #[strum(message = "yes: do it")]
    Yes,
    #[strum(message = "no: cancel")]
    No,
}

/// Keys in the dialog that asks what to do with running lab processes at quit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, IntoStaticStr, VariantArray, EnumMessage)]
#[strum(serialize_all = "snake_case")]
pub enum QuitAction {
    #[strum(message = "end every lab process and quit")]
    End,
    #[strum(message = "leave the lab processes running and quit")]
    Leave,
    #[strum(message = "continue the stopped lab processes, then leave them running and quit")]
    Continue,
    #[strum(message = "stay in brood")]
    Stay,
}

/// Keys while typing an exit code for `x` (digits are typed as they are).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, IntoStaticStr, VariantArray, EnumMessage)]
#[strum(serialize_all = "snake_case")]
pub enum ExitCodeAction {
    #[strum(message = "exit with the code typed (empty: 0)")]
    Send,
    #[strum(message = "erase the last digit")]
    Erase,
    #[strum(message = "cancel")]
    Cancel,
}

/// Keys in the search and filter boxes (characters are typed as they are).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, IntoStaticStr, VariantArray, EnumMessage)]
#[strum(serialize_all = "snake_case")]
pub enum InputAction {
    #[strum(message = "search: next match; filter: keep it and close the box")]
    Accept,
    #[strum(message = "close the box (the filter box clears the filter)")]
    Cancel,
    #[strum(message = "erase the last character")]
    Erase,
    #[strum(message = "next match")]
    Next,
    #[strum(message = "previous match")]
    Previous,
}

/// Keys in the full-screen event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, IntoStaticStr, VariantArray, EnumMessage)]
#[strum(serialize_all = "snake_case")]
pub enum LogAction {
    #[strum(message = "back to the process tree")]
    Close,
    #[strum(message = "quit (asks what to do with running lab processes)")]
    Quit,
    #[strum(message = "show or hide this help")]
    Help,
    #[strum(message = "the entry above (older); the log stops following")]
    Up,
    #[strum(message = "the entry below (newer); past the newest the log follows again")]
    Down,
    #[strum(message = "one page up")]
    PageUp,
    #[strum(message = "one page down")]
    PageDown,
    #[strum(message = "the oldest entry kept")]
    First,
    #[strum(message = "the newest entry, and follow new ones as they come")]
    Last,
    #[strum(message = "search the log, older entries first")]
    Search,
    #[strum(message = "the next older match")]
    SearchNext,
    #[strum(message = "the next newer match")]
    SearchPrevious,
    #[strum(message = "only entries holding a text; Esc in the box clears")]
    Filter,
    #[strum(message = "only one kind: fork, exec, exit, signal, state change, reparent, …")]
    FilterKind,
    #[strum(message = "only the process under the cursor and its descendants (again: all)")]
    FilterSubtree,
    #[strum(message = "only the user of the process under the cursor (again: every user)")]
    FilterUser,
    #[strum(message = "only the lab, or everything")]
    FilterLab,
    #[strum(message = "clear every filter of the log")]
    ClearFilters,
    #[strum(message = "select the entry's process in the tree, if it still runs")]
    Show,
}

/// Keys on the timeline page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, IntoStaticStr, VariantArray, EnumMessage)]
#[strum(serialize_all = "snake_case")]
pub enum TimelineAction {
    #[strum(message = "back to the process tree")]
    Close,
    #[strum(message = "quit (asks what to do with running lab processes)")]
    Quit,
    #[strum(message = "show or hide this help")]
    Help,
    #[strum(message = "the row above")]
    Up,
    #[strum(message = "the row below")]
    Down,
    #[strum(message = "one page of rows up")]
    PageUp,
    #[strum(message = "one page of rows down")]
    PageDown,
    #[strum(message = "the time cursor one column back")]
    Earlier,
    #[strum(message = "the time cursor one column on; past the latest it follows again")]
    Later,
    #[strum(message = "the time cursor a screen back")]
    EarlierPage,
    #[strum(message = "the time cursor a screen on")]
    LaterPage,
    #[strum(message = "the earliest moment kept")]
    First,
    #[strum(message = "the latest moment, and follow it")]
    Last,
    #[strum(message = "zoom in: a column stands for less time")]
    ZoomIn,
    #[strum(message = "zoom out: a column stands for more time")]
    ZoomOut,
    #[strum(message = "zoom to show all the time kept")]
    Fit,
    #[strum(message = "only the selected row's process and its descendants")]
    Subtree,
    #[strum(message = "every process")]
    All,
    #[strum(message = "only the lab")]
    Lab,
    #[strum(message = "to the row of the child forked at the cursor (a + mark)")]
    Child,
    #[strum(message = "to the row of the process that forked this one")]
    Parent,
    #[strum(message = "select the row's process in the tree, if it still runs")]
    Show,
}

/// Keys while a recording is replayed (`brood replay FILE`), before each page's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, IntoStaticStr, VariantArray, EnumMessage)]
#[strum(serialize_all = "snake_case")]
pub enum ReplayAction {
    #[strum(message = "the scan before")]
    PreviousScan,
    #[strum(message = "the scan after")]
    NextScan,
    #[strum(message = "back to the event before")]
    PreviousEvent,
    #[strum(message = "on to the next event")]
    NextEvent,
    #[strum(message = "a second back")]
    SecondBack,
    #[strum(message = "a second on")]
    SecondOn,
    #[strum(message = "ten seconds back")]
    TenBack,
    #[strum(message = "ten seconds on")]
    TenOn,
    #[strum(message = "play or pause")]
    Play,
    #[strum(message = "play at real speed")]
    Speed1,
    #[strum(message = "play ten times as fast")]
    Speed10,
    #[strum(message = "play a hundred times as fast")]
    Speed100,
    #[strum(message = "jump to a time: HH:MM:SS, or seconds from the start")]
    Jump,
}

bindable!(Action, None, "Keys");
bindable!(ReplayAction, Some("replay"), "Replaying a recording");
bindable!(TimelineAction, Some("timeline"), "On the timeline");
bindable!(LogAction, Some("log"), "In the full-screen event log");
bindable!(MenuAction, Some("menu"), "In menus and pickers");
bindable!(ConfirmAction, Some("confirm"), "In a confirmation");
bindable!(QuitAction, Some("quit_dialog"), "In the quit dialog");
bindable!(ExitCodeAction, Some("exit_code"), "Typing an exit code");
bindable!(InputAction, Some("input"), "In the search and filter boxes");
