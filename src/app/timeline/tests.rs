use super::*;
use crate::proc::State;
use crate::proc::builder::{SnapshotBuilder, id};

const SEC: u64 = 1_000_000_000;

/// 100 seconds of scans: 10 (sh) with a child 11 from 20 s to 60 s, and 30 (other) throughout.
fn history() -> Timeline {
    let mut timeline = Timeline::default();
    for second in 0..=100u64 {
        let mut builder = SnapshotBuilder::default()
            .uptime(1_000.0 + second as f64)
            .proc(1, 0, "init")
            .proc(10, 1, "sh")
            .with(30, 1, "other", |p| p.state = State::Running);
        if (20..60).contains(&second) {
            builder = builder.proc(11, 10, "child");
        }
        timeline.observe_snapshot(second * SEC, &builder.build());
    }
    timeline
}

fn pids(lines: &[Line<'_>]) -> Vec<(i32, usize)> {
    lines.iter().map(|l| (l.row.id.pid, l.depth)).collect()
}

#[test]
fn the_sets_are_the_lab_the_tagged_a_subtree_or_all() {
    let timeline = history();
    let all = TimelineView::new(RowSet::All);
    assert_eq!(
        pids(&all.lines(&timeline)),
        [(1, 0), (10, 1), (11, 2), (30, 1)]
    );
    let subtree = TimelineView::new(RowSet::Subtree {
        root: id(10),
        name: "10 (sh)".into(),
    });
    assert_eq!(
        pids(&subtree.lines(&timeline)),
        [(10, 0), (11, 1)],
        "the child ended long ago but is still its subtree's"
    );
    let tagged = TimelineView::new(RowSet::Tagged([id(30)].into()));
    assert_eq!(pids(&tagged.lines(&timeline)), [(30, 0)]);
    assert!(TimelineView::new(RowSet::Lab).lines(&timeline).is_empty());
}

#[test]
fn following_shows_the_latest_moment_at_the_right_edge() {
    let timeline = history();
    let view = TimelineView::new(RowSet::All);
    let frame = view.frame(&timeline, 50, 10);
    assert_eq!(frame.scale_ns, SEC);
    assert_eq!(frame.cursor_ns, 100 * SEC);
    assert_eq!(frame.window, 51 * SEC..101 * SEC);
    assert_eq!(frame.lines.len(), 4);
}

#[test]
fn the_cursor_moves_the_window_when_it_leaves_it_and_follows_again_past_the_latest() {
    let timeline = history();
    let mut view = TimelineView::new(RowSet::All);
    view.move_cursor(&timeline, -10, 50);
    assert_eq!(view.cursor_ns, Some(90 * SEC));
    assert_eq!(
        view.frame(&timeline, 50, 10).window,
        51 * SEC..101 * SEC,
        "still on screen"
    );
    view.move_cursor(&timeline, -49, 50);
    let frame = view.frame(&timeline, 50, 10);
    assert_eq!(frame.cursor_ns, 41 * SEC);
    assert!(
        frame.window.contains(&frame.cursor_ns),
        "{:?}",
        frame.window
    );
    // Never before the first scan: what /proc says of a birth before it is no history.
    view.move_cursor(&timeline, -100_000, 50);
    assert_eq!(view.cursor_ns, Some(0));
    view.move_cursor(&timeline, 100_000, 50);
    assert!(view.following());
}

#[test]
fn zoom_changes_what_a_column_stands_for_and_fit_shows_everything() {
    let timeline = history();
    let mut view = TimelineView::new(RowSet::All);
    view.zoom(true);
    assert_eq!(view.scale_ns(), 250_000_000);
    for _ in 0..20 {
        view.zoom(true);
    }
    assert_eq!(view.scale_ns(), 1_000_000, "no finer than a millisecond");
    view.fit(&timeline, 50);
    let frame = view.frame(&timeline, 50, 10);
    assert!(frame.window.start == 0 && 100 * SEC < frame.window.end);

    // Only the rows listed count: on 7 columns (the last the latest moment's), 100 s need a
    // minute a column; the child, seen from 20 s on, needs 15 s, and shows from its start.
    view.fit(&timeline, 7);
    assert_eq!(view.scale_ns(), 60 * SEC);
    let mut child = TimelineView::new(RowSet::Tagged([id(11)].into()));
    child.fit(&timeline, 7);
    assert_eq!(child.scale_ns(), 15 * SEC);
    assert!(child.frame(&timeline, 7, 1).window.start <= 20 * SEC);
    child.first(&timeline, 50);
    assert_eq!(child.cursor_ns, Some(20 * SEC));
}

#[test]
fn selection_moves_by_rows_and_keeps_on_screen() {
    let timeline = history();
    let mut view = TimelineView::new(RowSet::All);
    view.select(&timeline, 1, 2);
    assert_eq!(view.selected, Some(id(10)));
    view.select(&timeline, 2, 2);
    assert_eq!(view.selected, Some(id(30)));
    assert_eq!(view.scroll, 2);
    let frame = view.frame(&timeline, 50, 2);
    assert_eq!(pids(&frame.lines), [(11, 2), (30, 1)]);
    assert_eq!(frame.selected, Some(1));
    view.select(&timeline, -10, 2);
    assert_eq!((view.selected, view.scroll), (Some(id(1)), 0));
}
