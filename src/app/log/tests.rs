use super::*;
use crate::history::{Origin, Pair};

fn id(pid: i32) -> Identity {
    Identity {
        pid,
        start_ticks: 7,
    }
}

/// Entries "e1" … "eN", every third the lab's, every other an exit.
fn numbered(n: usize) -> History {
    let mut history = History::default();
    for i in 1..=n {
        let kinds = if i % 2 == 0 { Kinds::EXIT } else { Kinds::FORK };
        let entry = Entry::new(i as u64, kinds, Origin::Kernel, format!("e{i}"))
            .about(id(i as i32), None)
            .uid(Some(if i % 4 == 0 { 1000 } else { 0 }))
            .lab(i % 3 == 0);
        history.record(entry);
    }
    history
}

fn texts(window: &Window<'_>) -> Vec<String> {
    window.entries.iter().map(|e| e.text.to_string()).collect()
}

#[test]
fn following_shows_the_newest_at_the_bottom() {
    let history = numbered(10);
    let view = LogView::default();
    let window = view.window(&history, false, 4);
    assert_eq!(texts(&window), ["e7", "e8", "e9", "e10"]);
    assert_eq!(window.cursor, Some(3));
    assert_eq!((window.matching, window.below), (10, 0));
    // Fewer entries than rows: from the top.
    let short = numbered(2);
    let window = view.window(&short, false, 4);
    assert_eq!(texts(&window), ["e1", "e2"]);
    assert_eq!(window.cursor, Some(1));
}

#[test]
fn moving_up_stops_following_and_new_entries_come_below() {
    let mut history = numbered(10);
    let mut view = LogView::default();
    view.step(&history, false, -1, 4);
    assert_eq!(view.cursor, Some(9));
    let window = view.window(&history, false, 4);
    assert_eq!(
        texts(&window),
        ["e7", "e8", "e9", "e10"],
        "the page did not jump"
    );
    assert_eq!(window.cursor, Some(2));
    history.record(Entry::new(11, Kinds::FORK, Origin::Kernel, "e11"));
    let window = view.window(&history, false, 4);
    assert_eq!(
        texts(&window),
        ["e7", "e8", "e9", "e10"],
        "stays where it is"
    );
    assert_eq!(window.below, 1);
    // A page up, then down past the newest: following again.
    view.step(&history, false, -3, 4);
    assert_eq!(view.cursor, Some(6));
    assert_eq!(texts(&view.window(&history, false, 4))[0], "e6");
    for _ in 0..5 {
        view.step(&history, false, 1, 4);
    }
    assert_eq!(
        view.cursor,
        Some(11),
        "on the newest, and still where it is"
    );
    view.step(&history, false, 1, 4);
    assert!(view.following());
    assert_eq!(
        texts(&view.window(&history, false, 4)),
        ["e8", "e9", "e10", "e11"]
    );
}

#[test]
fn home_goes_to_the_oldest_and_end_follows() {
    let history = numbered(10);
    let mut view = LogView::default();
    view.first(&history, false);
    let window = view.window(&history, false, 4);
    assert_eq!(texts(&window), ["e1", "e2", "e3", "e4"]);
    assert_eq!(window.cursor, Some(0));
    assert_eq!(window.below, 6);
    view.follow(4);
    assert!(view.following());
}

#[test]
fn filters_by_kind_user_lab_text_and_subtree() {
    let mut history = numbered(12);
    let mut view = LogView::default();
    view.filter.kinds = Kinds::EXIT;
    assert_eq!(
        texts(&view.window(&history, false, 3)),
        ["e8", "e10", "e12"]
    );
    view.filter = LogFilter {
        user: Some((1000, "alice".into())),
        ..LogFilter::default()
    };
    assert_eq!(texts(&view.window(&history, false, 9)), ["e4", "e8", "e12"]);
    view.filter = LogFilter::default();
    assert_eq!(
        texts(&view.window(&history, true, 9)),
        ["e3", "e6", "e9", "e12"],
        "the lab view shows only the lab"
    );
    view.filter.text = "e1".into();
    assert_eq!(
        texts(&view.window(&history, false, 9)),
        ["e1", "e10", "e11", "e12"]
    );
    // 3 forked 100, which forked 101 after the filter was set; 5 is someone else.
    view.filter = LogFilter::default();
    let fork = |child: i32, parent: i32| {
        Entry::new(
            20,
            Kinds::FORK,
            Origin::Kernel,
            format!("{parent} forked {child}"),
        )
        .about(id(child), Some(Pair::Fork))
        .parent(Some(id(parent)))
    };
    history.record(fork(100, 3));
    let mut subtree = Subtree::new(id(3), "3 (x)".into(), [], &history);
    for entry in [fork(101, 100), fork(102, 5)] {
        let seq = history.record(entry);
        subtree.observe(history.get(seq).unwrap());
    }
    view.filter.subtree = Some(subtree);
    assert_eq!(
        texts(&view.window(&history, false, 9)),
        ["e3", "3 forked 100", "100 forked 101"]
    );
    assert_eq!(view.filter.describe(), "subtree of 3 (x)");
}

#[test]
fn search_finds_older_matches_first_and_wraps() {
    let history = numbered(12);
    let mut view = LogView {
        search: "e1".into(),
        ..LogView::default()
    };
    // From the newest, itself included: e12.
    assert!(view.find(&history, false, true, true));
    assert_eq!(view.cursor, Some(12));
    let mut seen = Vec::new();
    for _ in 0..4 {
        assert!(view.find(&history, false, true, false));
        seen.push(view.cursor.unwrap());
    }
    assert_eq!(seen, [11, 10, 1, 12], "older first, then around");
    assert!(view.find(&history, false, false, false));
    assert_eq!(
        view.cursor,
        Some(1),
        "newer: wraps back to the oldest match"
    );
    view.search = "nowhere".into();
    assert!(!view.find(&history, false, true, false));
    assert_eq!(view.cursor, Some(1), "nothing found: the cursor stays");
}

#[test]
fn while_paused_what_was_seen_waits_but_what_brood_says_shows() {
    let mut history = numbered(3);
    let view = LogView {
        frozen_after: Some(3),
        ..LogView::default()
    };
    history.record(Entry::new(4, Kinds::FORK, Origin::Kernel, "seen"));
    history.record(Entry::new(5, Kinds::BROOD, Origin::Brood, "said"));
    assert_eq!(
        texts(&view.window(&history, false, 9)),
        ["e1", "e2", "e3", "said"]
    );
}

#[test]
fn a_cursor_on_an_entry_pushed_out_moves_to_the_oldest_kept() {
    let mut history = History::with_budgets(1 << 20, 2_000);
    for i in 1..=5 {
        history.record(Entry::new(i, Kinds::FORK, Origin::Kernel, format!("e{i}")));
    }
    let view = LogView {
        cursor: Some(1),
        ..LogView::default()
    };
    for i in 6..=40 {
        history.record(Entry::new(i, Kinds::FORK, Origin::Kernel, format!("e{i}")));
    }
    let current = view.current(&history, false).unwrap();
    assert_eq!(current.seq, history.entries(false).next().unwrap().seq);
    assert!(current.seq > 1);
}
