use super::*;

const SEC: u64 = 1_000_000_000;

fn id(pid: i32) -> Identity {
    Identity {
        pid,
        start_ticks: 100 + pid as u64,
    }
}

fn seen(at_ns: u64, origin: Origin, kinds: Kinds, text: &str) -> Entry {
    Entry::new(at_ns, kinds, origin, text)
}

fn lines(history: &History, lab_only: bool) -> Vec<String> {
    history.entries(lab_only).map(Entry::line).collect()
}

#[test]
fn entries_come_back_in_order_from_both_rings_both_ways() {
    let mut history = History::default();
    for n in 0..6 {
        let entry = seen(n * SEC, Origin::Scan, Kinds::FORK, &format!("e{n}")).lab(n % 3 == 0);
        history.record(entry);
    }
    assert_eq!(lines(&history, false), ["e0", "e1", "e2", "e3", "e4", "e5"]);
    let backwards: Vec<String> = history.entries(false).rev().map(Entry::line).collect();
    assert_eq!(backwards, ["e5", "e4", "e3", "e2", "e1", "e0"]);
    assert_eq!(lines(&history, true), ["e0", "e3"]);
    let middle: Vec<u64> = history.range(false, 2..=4).map(|e| e.seq).collect();
    assert_eq!(middle, [2, 3, 4]);
    let mut walk = history.range(false, 3..);
    assert_eq!(walk.next_back().map(|e| e.seq), Some(6));
    assert_eq!(walk.next().map(|e| e.seq), Some(3));
    assert_eq!(walk.len(), 2);
}

#[test]
fn the_machine_is_bounded_by_memory_and_never_pushes_the_lab_out() {
    let mut history = History::with_budgets(64 << 10, 256 << 10);
    for n in 0..50 {
        history.record(seen(0, Origin::Brood, Kinds::BROOD, &format!("lab step {n}")).lab(true));
    }
    for n in 0..10_000 {
        let text = format!("{n} (worker) exited with code 0 after 1.2 ms; parent 1 (init)");
        history.record(seen(n, Origin::Kernel, Kinds::EXIT, &text));
    }
    let lab = lines(&history, true);
    assert_eq!(
        lab.len(),
        50,
        "the lab's history survives 10 000 other events"
    );
    assert_eq!(lab[0], "lab step 0");
    assert!(history.bytes() <= (64 + 256) << 10);
    let machine = history.len() - 50;
    assert!(
        (900..10_000).contains(&machine),
        "{machine} machine entries in 256 KiB"
    );
    // The newest stay.
    let last = history.entries(false).next_back().unwrap();
    assert!(last.text.starts_with("9999 "));
}

#[test]
fn an_entry_of_typical_size_fits_five_thousand_to_the_mebibyte() {
    let mut history = History::with_budgets(1 << 20, 1 << 20);
    for n in 0..20_000 {
        let text = format!(
            "{} (kworker/u8:2) exited with code 0 after 1.2 ms",
            30_000 + n
        );
        let entry = seen(n, Origin::Kernel, Kinds::EXIT, &text)
            .about(id(30_000 + n as i32), Some(Pair::Exit))
            .then("parent 2 (kthreadd)");
        history.record(entry);
    }
    let per_mib = history.len();
    assert!(
        (4_000..8_000).contains(&per_mib),
        "{per_mib} entries in a MiB: the README says about 5 000"
    );
}

#[test]
fn a_request_and_what_happened_are_one_line_whichever_comes_first() {
    // Asked first, then the kernel's exit.
    let mut history = History::default();
    let asked = Entry::new(
        0,
        Kinds::SIGNAL,
        Origin::Asked,
        "brood sent SIGTERM to 42 (sleep)",
    )
    .about(id(42), Some(Pair::Exit))
    .asked("brood sent SIGTERM")
    .lab(true);
    history.record(asked.clone());
    let exit = seen(
        SEC,
        Origin::Kernel,
        Kinds::EXIT | Kinds::SIGNAL,
        "42 (sleep) was killed by SIGTERM after 3.00 s",
    )
    .about(id(42), Some(Pair::Exit))
    .then("parent 41 (brood)");
    history.record(exit.clone());
    assert_eq!(
        lines(&history, false),
        ["42 (sleep) was killed by SIGTERM after 3.00 s — brood sent SIGTERM; parent 41 (brood)"]
    );
    let only = history.entries(false).next().unwrap();
    assert_eq!(only.at_ns, SEC, "the time is when it happened");
    assert!(only.kinds.contains(Kinds::EXIT | Kinds::SIGNAL));
    assert!(only.lab);

    // The exit first (the kernel is quick), then brood's own report of the signal.
    let mut history = History::default();
    history.record(exit);
    history.record(asked);
    assert_eq!(
        lines(&history, true),
        ["42 (sleep) was killed by SIGTERM after 3.00 s — brood sent SIGTERM; parent 41 (brood)"],
        "merged, and moved to the lab's ring"
    );
}

#[test]
fn a_zombie_seen_by_a_scan_completes_the_kernels_exit_line() {
    let zombie = seen(
        2 * SEC,
        Origin::Scan,
        Kinds::EXIT,
        "42 (sleep) exited within 3.40 s",
    )
    .about(id(42), Some(Pair::Exit))
    .then("a zombie until its parent 41 (sh) waits for it");
    let kernel = seen(
        SEC,
        Origin::Kernel,
        Kinds::EXIT,
        "42 (sleep) exited with code 3 after 3.21 s",
    )
    .about(id(42), Some(Pair::Exit))
    .then("parent 41 (sh)");
    let want = "42 (sleep) exited with code 3 after 3.21 s; a zombie until its parent 41 (sh) waits for it";
    for order in [[&kernel, &zombie], [&zombie, &kernel]] {
        let mut history = History::default();
        for entry in order {
            history.record(entry.clone());
        }
        assert_eq!(lines(&history, false), [want]);
    }
}

#[test]
fn pairs_are_per_process_and_per_thing_and_wait_only_so_long() {
    let mut history = History::default();
    let fork = |pid, at| {
        seen(at, Origin::Kernel, Kinds::FORK, &format!("1 forked {pid}"))
            .about(id(pid), Some(Pair::Fork))
    };
    history.record(fork(5, 0));
    history.record(fork(6, 0));
    // Another process, another thing: separate lines.
    history.record(seen(0, Origin::Scan, Kinds::EXIT, "5 exited").about(id(5), Some(Pair::Exit)));
    assert_eq!(history.len(), 3);
    // A scan that tells a birth the kernel told is no new line.
    history
        .record(seen(SEC, Origin::Scan, Kinds::FORK, "6 appeared").about(id(6), Some(Pair::Fork)));
    assert_eq!(
        lines(&history, false),
        ["1 forked 5", "1 forked 6", "5 exited"]
    );
    // A stop pairs for seconds only: a later one is a new line.
    let stop =
        |at| seen(at, Origin::Scan, Kinds::STATE, "5 stopped").about(id(5), Some(Pair::Stop));
    history.record(stop(2 * SEC));
    history.record(stop(3 * SEC));
    assert_eq!(history.len(), 4);
    history.record(stop(30 * SEC));
    assert_eq!(history.len(), 5);
}

#[test]
fn who_asked_waits_for_the_line_it_belongs_to() {
    let mut history = History::default();
    history.annotate(
        id(7),
        Pair::Exit,
        "the kernel sent SIGHUP (group 7 orphaned)",
        0,
    );
    history.record(
        seen(
            SEC,
            Origin::Kernel,
            Kinds::EXIT,
            "7 (sh) was killed by SIGHUP",
        )
        .about(id(7), Some(Pair::Exit)),
    );
    // And to a line already there.
    history.record(
        seen(
            SEC,
            Origin::Kernel,
            Kinds::EXIT,
            "8 (sh) was killed by SIGHUP",
        )
        .about(id(8), Some(Pair::Exit)),
    );
    history.annotate(
        id(8),
        Pair::Exit,
        "the kernel sent SIGHUP (group 7 orphaned)",
        SEC,
    );
    assert_eq!(
        lines(&history, false),
        [
            "7 (sh) was killed by SIGHUP — the kernel sent SIGHUP (group 7 orphaned)",
            "8 (sh) was killed by SIGHUP — the kernel sent SIGHUP (group 7 orphaned)"
        ]
    );
}

#[test]
fn a_storm_of_forks_keeps_the_pairing_bounded() {
    let mut history = History::with_budgets(1 << 20, 1 << 20);
    for pid in 0..(MAX_PENDING as i32 + 5_000) {
        history
            .record(seen(0, Origin::Kernel, Kinds::FORK, "fork").about(id(pid), Some(Pair::Fork)));
    }
    assert!(history.pending.len() <= MAX_PENDING);
    // The newest still pair.
    let last = MAX_PENDING as i32 + 4_999;
    let before = history.len();
    history
        .record(seen(0, Origin::Scan, Kinds::FORK, "appeared").about(id(last), Some(Pair::Fork)));
    assert_eq!(history.len(), before);
}

#[test]
fn how_a_process_ended_outlasts_the_signal_sent_to_end_it_whatever_comes_first() {
    use crate::proc::events::ExitStatus;
    let killed = ExitStatus::Signal {
        number: 15,
        core_dumped: false,
    };
    let asked = Entry::new(0, Kinds::SIGNAL, Origin::Asked, "brood sent SIGTERM")
        .about(id(9), Some(Pair::Exit))
        .fact(Fact::Signal(15));
    let exit = seen(SEC, Origin::Kernel, Kinds::EXIT, "9 was killed by SIGTERM")
        .about(id(9), Some(Pair::Exit))
        .fact(Fact::Ended(killed));
    let zombie =
        seen(2 * SEC, Origin::Scan, Kinds::EXIT, "9 exited").about(id(9), Some(Pair::Exit));
    for order in [
        [&asked, &exit, &zombie],
        [&exit, &asked, &zombie],
        [&zombie, &exit, &asked],
    ] {
        let mut history = History::default();
        for entry in order {
            history.record(entry.clone());
        }
        assert_eq!(history.len(), 1);
        let only = history.entries(false).next().unwrap();
        assert_eq!(only.fact, Some(Fact::Ended(killed)));
    }
}

#[test]
fn amendments_are_told_once_each_to_every_follower() {
    let mut history = History::default();
    let fork = seen(0, Origin::Kernel, Kinds::FORK, "1 forked 5").about(id(5), Some(Pair::Fork));
    let appeared =
        seen(SEC, Origin::Scan, Kinds::FORK, "5 appeared").about(id(5), Some(Pair::Fork));
    let start = history.amendments_end();
    let seq = history.record(fork);
    assert_eq!(
        history.amended_since(start),
        (vec![], start),
        "new, not amended"
    );
    history.record(appeared.clone());
    history.record(appeared);
    history.annotate(id(5), Pair::Fork, "brood asked", SEC);
    let (amended, next) = history.amended_since(start);
    assert_eq!(amended, [seq], "once, however often");
    assert_eq!(history.amended_since(next).0, Vec::<u64>::new());
    assert_eq!(
        history.amended_since(start).0,
        [seq],
        "a second follower reads its own"
    );
    // One that fell behind the journal gets what it still holds.
    for n in 0..(JOURNAL as i32 + 10) {
        let fork = seen(0, Origin::Kernel, Kinds::FORK, "f").about(id(100 + n), Some(Pair::Fork));
        history.record(fork);
        history.annotate(id(100 + n), Pair::Fork, "x", 0);
    }
    assert_eq!(history.amended_since(start).0.len(), JOURNAL);
}
