//! `update` tests for the explorer: search, filter, sort, list mode, tags, details, follow, pause,
//! mouse — on hand-built snapshots.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use nix::sys::signal::Signal;
use strum::VariantArray;

use super::filter::StateFilter;
use super::sort::Column;
use super::*;
use crate::proc::State;
use crate::proc::builder::SnapshotBuilder;
use crate::proc::details::{Details, Unreadable};

fn machine() -> Snapshot {
    SnapshotBuilder::default()
        .proc(1, 0, "init")
        .with(10, 1, "sshd", |p| {
            p.user = "root".into();
            p.uid = Some(0);
            p.rss_bytes = 8 << 20;
        })
        .with(11, 10, "bash", |p| p.rss_bytes = 2 << 20)
        .with(12, 11, "vim", |p| {
            p.cmdline = "vim /etc/hosts".into();
            p.cpu_percent = 30.0;
        })
        .with(13, 11, "defunct", |p| p.state = State::Zombie)
        .with(20, 1, "cron", |p| {
            p.user = "root".into();
            p.uid = Some(0);
            p.cpu_percent = 2.0;
        })
        .with(21, 20, "backup", |p| p.state = State::Stopped)
        .build()
}

fn app() -> App {
    let mut app = App::new(Settings::new(1));
    app.my_uid = 1000;
    app.update(Event::Resize {
        width: 100,
        height: 30,
    });
    feed(&mut app, machine());
    app
}

fn feed(app: &mut App, snapshot: Snapshot) -> Vec<Effect> {
    app.update(Event::Snapshot(Box::new(snapshot), SystemStats::default()))
}

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn shift(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Event::Key(KeyEvent::new(code, KeyModifiers::SHIFT)))
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn selected_pid(app: &App) -> Option<Pid> {
    app.selected.map(|id| id.pid)
}

/// (pid, context) of each row.
fn rows(app: &App) -> Vec<(Pid, bool)> {
    app.rows
        .iter()
        .map(|r| (app.snapshot.procs[r.proc_index].pid(), r.context))
        .collect()
}

fn pids(app: &App) -> Vec<Pid> {
    rows(app).into_iter().map(|r| r.0).collect()
}

#[test]
fn search_unfolds_a_folded_subtree_that_hides_a_match_and_only_that() {
    let mut app = app();
    app.select_pid(10);
    key(&mut app, KeyCode::Char('h')); // fold sshd (bash, vim, defunct under it)
    app.select_pid(20);
    key(&mut app, KeyCode::Char('h')); // fold cron (backup under it)
    assert_eq!(app.rows.len(), 3);
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "vim");
    assert_eq!(
        selected_pid(&app),
        Some(12),
        "the match inside the fold is found and selected"
    );
    assert!(
        app.rows
            .iter()
            .any(|r| app.snapshot.procs[r.proc_index].pid() == 12)
    );
    assert!(
        !app.rows
            .iter()
            .any(|r| app.snapshot.procs[r.proc_index].pid() == 21),
        "a fold without a match stays folded"
    );
}

#[test]
fn typing_a_search_jumps_to_the_first_match_and_f3_steps_through_matches() {
    let mut app = app();
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "ro");
    // "ro" is in no name; command lines are /usr/bin/NAME --flag … but "cron" has it.
    assert_eq!(selected_pid(&app), Some(20));
    assert_eq!(app.rows.len(), 7, "search keeps the whole tree");
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    typed(&mut app, "ba");
    assert_eq!(
        selected_pid(&app),
        Some(11),
        "bash, the first match from the top"
    );
    key(&mut app, KeyCode::Enter);
    assert_eq!(selected_pid(&app), Some(21), "backup: next match");
    key(&mut app, KeyCode::F(3));
    assert_eq!(selected_pid(&app), Some(11), "wraps around");
    shift(&mut app, KeyCode::F(3));
    assert_eq!(selected_pid(&app), Some(21), "Shift-F3 goes back");
    typed(&mut app, "zzz");
    assert!(app.prompt.as_ref().unwrap().not_found);
    assert_eq!(
        selected_pid(&app),
        Some(21),
        "no match leaves the selection"
    );
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.prompt, None);
    assert_eq!(app.exit, None, "Esc closes the box, it does not quit");
}

#[test]
fn shift_f3_and_n_step_back_through_the_matches_once_the_search_box_is_closed() {
    use super::help::{self, HelpRow};
    use super::keymap::{Action, Bindable};

    // Three matches, so that back is told from forward: sshd, bash, and vim's /etc/hosts.
    // Terminals send both keys with Shift held.
    for previous in [KeyCode::F(3), KeyCode::Char('N')] {
        let mut app = app();
        key(&mut app, KeyCode::Char('/'));
        typed(&mut app, "h");
        assert_eq!(selected_pid(&app), Some(10));
        // In the box N is a letter of the search.
        key(&mut app, KeyCode::Esc);
        let visited: Vec<Option<Pid>> = (0..3)
            .map(|_| {
                shift(&mut app, previous);
                selected_pid(&app)
            })
            .collect();
        assert_eq!(
            visited,
            [Some(12), Some(11), Some(10)],
            "{previous:?} goes back, wrapping around"
        );
    }
    let help = help::rows(&app().keymap);
    assert!(
        help.contains(&HelpRow::Key(
            "Shift-F3, N".into(),
            Action::SearchPrev.doc()
        )),
        "the help lists both keys"
    );
}

#[test]
fn search_matches_a_pid_exactly_and_the_command_line() {
    let mut app = app();
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "13");
    assert_eq!(selected_pid(&app), Some(13));
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "/etc/HOSTS");
    assert_eq!(
        selected_pid(&app),
        Some(12),
        "vim's arguments, ignoring case"
    );
    key(&mut app, KeyCode::Esc);
    // F3 with the box closed opens it; F3 again brings back the last search.
    key(&mut app, KeyCode::Home);
    key(&mut app, KeyCode::F(3));
    key(&mut app, KeyCode::F(3));
    assert_eq!(app.prompt.as_ref().unwrap().input, "/etc/HOSTS");
    assert_eq!(selected_pid(&app), Some(12));
}

#[test]
fn the_filter_hides_the_rest_but_keeps_ancestors_dimmed() {
    let mut app = app();
    key(&mut app, KeyCode::Char('\\'));
    typed(&mut app, "vim");
    assert_eq!(
        rows(&app),
        vec![(1, true), (10, true), (11, true), (12, false)]
    );
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.prompt, None);
    assert_eq!(app.filter.text, "vim", "Enter keeps the filter");
    // Typing "/" in the filter box is text, not the search key.
    key(&mut app, KeyCode::F(4));
    typed(&mut app, "/");
    assert_eq!(app.filter.text, "vim/");
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.filter.text, "", "Esc in the filter box clears it");
    assert_eq!(app.rows.len(), 7);
}

#[test]
fn the_filter_can_show_descendants_and_survives_new_snapshots() {
    let mut app = app();
    key(&mut app, KeyCode::Char('\\'));
    typed(&mut app, "bash");
    key(&mut app, KeyCode::Enter);
    assert_eq!(pids(&app), vec![1, 10, 11]);
    key(&mut app, KeyCode::Char('D'));
    assert_eq!(pids(&app), vec![1, 10, 11, 12, 13]);
    feed(&mut app, machine());
    assert_eq!(
        pids(&app),
        vec![1, 10, 11, 12, 13],
        "a refresh keeps the filter"
    );
    key(&mut app, KeyCode::Char('c'));
    assert_eq!(app.rows.len(), 7);
    assert!(!app.filter.descendants, "c clears +descendants too");
    key(&mut app, KeyCode::Char('\\'));
    typed(&mut app, "bash");
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        pids(&app),
        vec![1, 10, 11],
        "a new filter starts without descendants"
    );
}

#[test]
fn state_user_and_mine_filters() {
    let mut app = app();
    key(&mut app, KeyCode::Char('o'));
    assert_eq!(
        rows(&app),
        vec![(1, true), (10, true), (11, true), (13, false)]
    );
    key(&mut app, KeyCode::Char('o'));
    assert_eq!(rows(&app), vec![(1, true), (20, true), (21, false)]);
    key(&mut app, KeyCode::Char('o'));
    key(&mut app, KeyCode::Char('o'));
    assert_eq!(app.filter.state, StateFilter::All);

    key(&mut app, KeyCode::Char('u'));
    let Some(Overlay::Pick(picker)) = &app.overlay else {
        panic!("no user picker")
    };
    assert_eq!(picker.items, vec!["(every user)", "alice", "root"]);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.filter.user.as_deref(), Some("root"));
    assert_eq!(rows(&app), vec![(1, true), (10, false), (20, false)]);

    key(&mut app, KeyCode::Char('c'));
    key(&mut app, KeyCode::Char('m'));
    assert_eq!(pids(&app), vec![1, 10, 11, 12, 13, 20, 21]);
    assert_eq!(
        rows(&app)
            .iter()
            .filter(|r| r.1)
            .map(|r| r.0)
            .collect::<Vec<_>>(),
        vec![10, 20],
        "root's processes are context for alice's"
    );
}

#[test]
fn sort_orders_siblings_in_the_tree_and_everything_in_list_mode() {
    let mut app = app();
    app.sort_by(Column::Cpu);
    assert_eq!(
        pids(&app),
        vec![1, 20, 21, 10, 11, 12, 13],
        "cron is busier than sshd"
    );
    key(&mut app, KeyCode::Char('I'));
    assert_eq!(pids(&app), vec![1, 10, 11, 13, 12, 20, 21]);
    key(&mut app, KeyCode::Char('I'));
    key(&mut app, KeyCode::F(5));
    assert!(app.list_mode);
    assert_eq!(pids(&app)[..2], [12, 20], "the list is sorted as a whole");
    assert!(app.rows.iter().all(|r| r.depth == 0));

    key(&mut app, KeyCode::F(6));
    let Some(Overlay::Pick(picker)) = &app.overlay else {
        panic!("no sort picker")
    };
    assert_eq!(picker.items[picker.selected], "CPU%     cpu");
    key(&mut app, KeyCode::Home);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.sort.column, Column::Pid);
    assert_eq!(pids(&app), vec![1, 10, 11, 12, 13, 20, 21]);
}

/// An IPC sweep of `machine()` in which bash waits for a child, vim reads its terminal and
/// cron sleeps in a kernel function brood does not know.
fn waits() -> crate::proc::ipc::IpcState {
    use crate::proc::wchan::WaitChannel;
    let mut ipc = crate::proc::ipc::IpcState::default();
    for (pid, symbol) in [(11, "do_wait"), (12, "wait_woken"), (20, "zzz_new_wait")] {
        ipc.waits_in
            .insert(pid, WaitChannel::parse(symbol).expect("a symbol"));
    }
    ipc.ids = machine().procs.iter().map(|p| (p.pid(), p.id)).collect();
    ipc
}

#[test]
fn the_wchan_column_asks_for_every_scans_wait_channels_and_sorts_by_them() {
    let collector = |on| Effect::Collector(CollectorCommand::WaitChannels(on));
    let mut app = app();
    // Neither shown nor sorted by: the slow cadence is enough.
    assert!(!key(&mut app, KeyCode::Down).contains(&collector(true)));
    // Sorted by it: every scan, until sorted by something else.
    key(&mut app, KeyCode::F(6));
    let wchan = Column::VARIANTS
        .iter()
        .position(|&c| c == Column::Wchan)
        .unwrap();
    for _ in 0..wchan {
        key(&mut app, KeyCode::Down);
    }
    assert_eq!(key(&mut app, KeyCode::Enter), vec![collector(true)]);
    app.update(Event::Ipc(Box::new(waits())));
    key(&mut app, KeyCode::F(5));
    // Running or not swept first, then by the words: "child", "input", the raw symbol.
    assert_eq!(pids(&app)[4..], [11, 12, 20]);
    app.sort_by(Column::Pid);
    assert_eq!(key(&mut app, KeyCode::Down), vec![collector(false)]);

    // Shown as a column: asked for at once.
    let mut shown = App::new(Settings {
        columns: vec![Column::Pid, Column::Wchan, Column::Command],
        ..Settings::new(1)
    });
    assert_eq!(feed(&mut shown, machine()), vec![collector(true)]);
}

#[test]
fn tagged_processes_get_one_signal_with_one_confirmation_listing_them() {
    let mut app = app();
    app.select_pid(12);
    key(&mut app, KeyCode::Char(' '));
    assert_eq!(selected_pid(&app), Some(13), "space tags and moves down");
    app.select_pid(21);
    key(&mut app, KeyCode::Char(' '));
    assert_eq!(app.tagged.len(), 2);

    let effects = key(&mut app, KeyCode::Char('s'));
    assert!(matches!(effects.as_slice(), [Effect::ReadDispositions(id)] if id.pid == 12));
    let Some(Overlay::SignalMenu(menu)) = &app.overlay else {
        panic!("no signal menu")
    };
    let targets: Vec<Pid> = menu.targets.iter().map(|t| t.id.pid).collect();
    assert_eq!(targets, vec![12, 21]);
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    let Some(Overlay::Confirm { question, effect }) = &app.overlay else {
        panic!("no confirmation")
    };
    assert!(question.iter().any(|l| l.contains("12 (vim)")));
    assert!(question.iter().any(|l| l.contains("21 (backup)")));
    let Effect::Signal {
        targets, signal, ..
    } = effect
    else {
        panic!("not a signal")
    };
    assert_eq!(*signal, Signal::SIGTERM);
    assert_eq!(targets.len(), 2);
    assert_eq!(
        key(&mut app, KeyCode::Char('y')).len(),
        1,
        "one effect for both"
    );

    // A tag disappears with its process; U clears the rest.
    let mut gone = machine();
    std::sync::Arc::make_mut(&mut gone.procs).retain(|p| p.pid() != 21);
    feed(&mut app, gone);
    assert_eq!(app.tagged.len(), 1);
    key(&mut app, KeyCode::Char('U'));
    assert!(app.tagged.is_empty());
    app.select_pid(10);
    key(&mut app, KeyCode::Char('t'));
    assert_eq!(app.tagged.len(), 4, "sshd and its subtree");
}

#[test]
fn the_details_pane_asks_the_collector_and_shows_only_the_selected_process() {
    let mut app = app();
    assert_eq!(selected_pid(&app), Some(1));
    let effects = key(&mut app, KeyCode::Char('d'));
    let init = app.selected.unwrap();
    assert_eq!(
        effects,
        vec![Effect::Collector(CollectorCommand::Inspect(Some(init)))]
    );
    let effects = key(&mut app, KeyCode::Down);
    let sshd = app.selected.unwrap();
    assert_eq!(
        effects,
        vec![Effect::Collector(CollectorCommand::Inspect(Some(sshd)))]
    );
    // Details of the process selected before arrive late: not shown for this one.
    app.update(Event::Details(Box::new(Details::unreadable(
        init,
        Unreadable::PermissionDenied,
    ))));
    assert_eq!(app.details, None);
    // Nor those of a process that reused sshd's PID.
    let impostor = Identity {
        pid: sshd.pid,
        start_ticks: 999,
    };
    app.update(Event::Details(Box::new(Details::unreadable(
        impostor,
        Unreadable::Gone,
    ))));
    assert_eq!(app.details, None);
    app.update(Event::Details(Box::new(Details::unreadable(
        sshd,
        Unreadable::PermissionDenied,
    ))));
    assert_eq!(app.details.as_ref().map(|d| d.id), Some(sshd));
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Effect::Collector(CollectorCommand::Inspect(None))]
    );
    assert!(!app.show_details);
}

#[test]
fn pause_holds_snapshots_back_until_resumed() {
    let mut app = app();
    key(&mut app, KeyCode::Char('Z'));
    assert!(app.paused);
    feed(
        &mut app,
        SnapshotBuilder::default().proc(1, 0, "init").build(),
    );
    assert_eq!(app.rows.len(), 7, "the screen is frozen");
    key(&mut app, KeyCode::Char('p'));
    assert!(!app.paused);
    assert_eq!(
        app.rows.len(),
        1,
        "the latest snapshot is applied on resume"
    );
}

#[test]
fn follow_keeps_the_selection_in_the_middle() {
    let mut app = App::new(Settings::new(1));
    app.update(Event::Resize {
        width: 100,
        height: 30,
    });
    feed(&mut app, crate::proc::builder::population(300));
    key(&mut app, KeyCode::Char('F'));
    for _ in 0..100 {
        key(&mut app, KeyCode::Down);
    }
    let half = usize::from(app.table_height()) / 2;
    assert_eq!(app.scroll, app.selected_row - half);
    assert_eq!(key(&mut app, KeyCode::Char('z')), vec![]);
    assert_eq!(
        app.update(Event::Key(KeyEvent::new(
            KeyCode::Char('z'),
            KeyModifiers::CONTROL
        ))),
        vec![Effect::Suspend]
    );
}

#[test]
fn mouse_clicks_select_fold_and_sort_and_the_wheel_scrolls() {
    let mut app = app();
    let areas = app.areas();
    let click = |app: &mut App, column: u16, row: u16| {
        app.update(Event::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column,
            row,
            modifiers: KeyModifiers::NONE,
        }))
    };
    let first = areas.table.y;
    click(&mut app, 2, first + 2);
    assert_eq!(selected_pid(&app), Some(11));
    // bash's guide "│ ├─" starts at the command column: a click there folds it.
    let command_x = super::layout::columns(&app.columns, areas.table.width)
        .last()
        .unwrap()
        .1;
    click(&mut app, command_x + 1, first + 2);
    assert_eq!(pids(&app), vec![1, 10, 11, 20, 21]);
    click(&mut app, command_x + 1, first + 2);
    assert_eq!(app.rows.len(), 7);

    // The CPU% header sorts by CPU.
    let (_, cpu_x, _) = super::layout::columns(&app.columns, areas.table.width)
        .into_iter()
        .find(|(c, _, _)| *c == Column::Cpu)
        .unwrap();
    click(&mut app, cpu_x + 1, areas.table_header.y);
    assert_eq!(app.sort.column, Column::Cpu);

    click(&mut app, 2, first);
    let before = app.selected_row;
    app.update(Event::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: 5,
        row: first,
        modifiers: KeyModifiers::NONE,
    }));
    assert_eq!(app.selected_row, before + 3);
}

#[test]
fn the_wheel_over_the_log_panel_scrolls_the_log_and_follows_again_past_the_newest() {
    use crate::history::{Entry, Kinds, Origin};
    let mut app = app();
    for i in 0..40u64 {
        app.history
            .record(Entry::new(i, Kinds::FORK, Origin::Kernel, format!("e{i}")));
    }
    key(&mut app, KeyCode::Char('e'));
    let panel = app.areas().log;
    assert!(panel.height > 2, "the panel is open: {panel:?}");
    let wheel = |app: &mut App, kind| {
        app.update(Event::Mouse(MouseEvent {
            kind,
            column: panel.x + 2,
            row: panel.y + 1,
            modifiers: KeyModifiers::NONE,
        }))
    };
    let selected = app.selected_row;
    wheel(&mut app, MouseEventKind::ScrollUp);
    assert!(!app.log.following(), "scrolled back");
    assert_eq!(app.selected_row, selected, "the tree's selection stays");
    wheel(&mut app, MouseEventKind::ScrollDown);
    wheel(&mut app, MouseEventKind::ScrollDown);
    assert!(app.log.following(), "past the newest: following again");
}
