//! Snapshot → ordered forest, flattened into display rows.
//! Iterative throughout (a 10 000-deep chain must not touch the call stack) and linear in the
//! number of processes apart from sorting siblings.

use std::cmp::Ordering;
use std::collections::HashSet;

use super::{Identity, ProcInfo, Snapshot, TaskKind};

/// What the forest hides and folds.
#[derive(Clone, Copy)]
pub struct TreeOptions<'a> {
    pub show_kernel_threads: bool,
    pub collapsed: &'a HashSet<Identity>,
    /// When set, only processes it accepts are shown; a shown process whose parent is hidden
    /// becomes a root.
    pub keep: Option<&'a dyn Fn(&ProcInfo) -> bool>,
    /// A filter that keeps the tree readable: processes it accepts are shown, and so are their
    /// ancestors, as context rows ([`Row::context`]) the UI dims. `None` shows everything.
    pub matches: Option<&'a dyn Fn(&ProcInfo) -> bool>,
    /// With `matches`: also show every descendant of a match (not as context).
    pub with_descendants: bool,
    /// A flat list instead of a forest: every shown process is a root, all ordered by `order`,
    /// folds ignored, and no context rows (ancestors mean nothing without the tree).
    pub flat: bool,
}

impl<'a> TreeOptions<'a> {
    /// Everything shown (but kernel threads), as a tree, with these folds.
    pub fn new(collapsed: &'a HashSet<Identity>) -> TreeOptions<'a> {
        TreeOptions {
            show_kernel_threads: false,
            collapsed,
            keep: None,
            matches: None,
            with_descendants: false,
            flat: false,
        }
    }
}

/// One line of the flattened tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// Index into `Snapshot::procs`.
    pub proc_index: usize,
    pub depth: u32,
    /// The last of its siblings: drawn with `└─` and no `│` below it.
    pub is_last: bool,
    /// Row of the parent, `None` for a root.
    pub parent_row: Option<usize>,
    /// Visible children, whether or not they are folded away.
    pub child_count: u32,
    pub collapsed: bool,
    /// Shown only as an ancestor of a filter match, to keep the tree readable: drawn dimmed.
    pub context: bool,
}

fn is_shown(proc: &ProcInfo, options: &TreeOptions<'_>) -> bool {
    (options.show_kernel_threads || proc.kind != TaskKind::KernelThread)
        && options.keep.is_none_or(|keep| keep(proc))
}

/// Builds the rows of the forest, siblings ordered by `order`.
pub fn build_rows(
    snapshot: &Snapshot,
    options: &TreeOptions<'_>,
    order: impl Fn(&ProcInfo, &ProcInfo) -> Ordering,
) -> Vec<Row> {
    let procs = &snapshot.procs;
    let by_pid = snapshot.index_by_pid();
    let mut shown: Vec<bool> = procs.iter().map(|p| is_shown(p, options)).collect();

    let mut parent_of: Vec<Option<usize>> = procs
        .iter()
        .map(|p| {
            by_pid
                .get(p.ppid)
                .filter(|&parent| p.ppid != p.pid() && shown[parent])
        })
        .collect();
    let context = match options.matches {
        Some(matches) => apply_filter(procs, &mut shown, &parent_of, matches, options),
        None => vec![false; procs.len()],
    };
    if options.flat {
        parent_of.iter_mut().for_each(|p| *p = None);
    } else {
        // A parent hidden by the filter no longer holds its children.
        for parent in parent_of.iter_mut() {
            *parent = parent.filter(|&p| shown[p]);
        }
    }

    // Children lists in one flat array (compressed rows), so building costs no allocation per node.
    let mut offsets = vec![0usize; procs.len() + 1];
    for parent in parent_of.iter().flatten() {
        offsets[parent + 1] += 1;
    }
    for i in 0..procs.len() {
        offsets[i + 1] += offsets[i];
    }
    let mut fill = offsets.clone();
    let mut children = vec![0usize; offsets[procs.len()]];
    let mut roots = Vec::new();
    for (child, parent) in parent_of.iter().enumerate() {
        if !shown[child] {
            continue;
        }
        match parent {
            Some(parent) => {
                children[fill[*parent]] = child;
                fill[*parent] += 1;
            }
            None => roots.push(child),
        }
    }
    let cmp = |a: &usize, b: &usize| order(&procs[*a], &procs[*b]);
    for node in 0..procs.len() {
        children[offsets[node]..offsets[node + 1]].sort_by(cmp);
    }
    roots.sort_by(cmp);

    let mut rows = Vec::with_capacity(procs.len());
    let mut visited = vec![false; procs.len()];
    // (node, depth, is_last, parent row); a node under a fold is visited but gets no row.
    let mut stack: Vec<(usize, u32, bool, Option<usize>, bool)> = Vec::new();
    let push_group = |stack: &mut Vec<_>, group: &[usize], depth: u32, parent_row, folded| {
        for (i, &node) in group.iter().enumerate().rev() {
            stack.push((node, depth, i + 1 == group.len(), parent_row, folded));
        }
    };
    push_group(&mut stack, &roots, 0, None, false);
    let mut stray_cursor = 0;
    loop {
        while let Some((node, depth, is_last, parent_row, folded)) = stack.pop() {
            if visited[node] {
                continue;
            }
            visited[node] = true;
            let kids = &children[offsets[node]..offsets[node + 1]];
            if folded {
                push_group(&mut stack, kids, depth + 1, None, true);
                continue;
            }
            let collapsed =
                !options.flat && !kids.is_empty() && options.collapsed.contains(&procs[node].id);
            rows.push(Row {
                proc_index: node,
                depth,
                is_last,
                parent_row,
                child_count: kids.len() as u32,
                collapsed,
                context: context[node],
            });
            push_group(&mut stack, kids, depth + 1, Some(rows.len() - 1), collapsed);
        }
        // A snapshot is not atomic: a PPID read mid-reparenting can form a loop no root reaches.
        // Such processes are shown as roots rather than lost.
        while stray_cursor < procs.len() && (visited[stray_cursor] || !shown[stray_cursor]) {
            stray_cursor += 1;
        }
        if stray_cursor == procs.len() {
            break;
        }
        stack.push((stray_cursor, 0, true, None, false));
    }
    rows
}

/// Narrows `shown` to the matches, their ancestors (returned as context) and, when asked, their
/// descendants. Walks are iterative and each process is marked once, so this stays linear.
fn apply_filter(
    procs: &[ProcInfo],
    shown: &mut [bool],
    parent_of: &[Option<usize>],
    matches: &dyn Fn(&ProcInfo) -> bool,
    options: &TreeOptions<'_>,
) -> Vec<bool> {
    let matched: Vec<bool> = procs
        .iter()
        .zip(shown.iter())
        .map(|(p, &shown)| shown && matches(p))
        .collect();
    let mut keep = matched.clone();
    if options.with_descendants {
        // A process is kept if any ancestor matched; memoised per node, so each chain is walked once.
        let mut known: Vec<Option<bool>> = matched.iter().map(|&m| m.then_some(true)).collect();
        let mut chain = Vec::new();
        for start in 0..procs.len() {
            let mut node = start;
            let verdict = loop {
                if let Some(v) = known[node] {
                    break v;
                }
                chain.push(node);
                match parent_of[node] {
                    // A parent loop (torn read) ends the walk: no match above it.
                    Some(parent) if chain.len() <= procs.len() => node = parent,
                    _ => break false,
                }
            };
            for n in chain.drain(..) {
                known[n] = Some(verdict);
            }
        }
        for (i, k) in keep.iter_mut().enumerate() {
            *k = shown[i] && known[i] == Some(true);
        }
    }
    let mut context = vec![false; procs.len()];
    if !options.flat {
        for start in (0..procs.len()).filter(|&i| keep[i]) {
            let mut node = parent_of[start];
            while let Some(parent) = node {
                if keep[parent] || context[parent] {
                    break;
                }
                context[parent] = true;
                node = parent_of[parent];
            }
        }
    }
    for (i, s) in shown.iter_mut().enumerate() {
        *s = keep[i] || context[i];
    }
    context
}

/// Indexes of the process at `root` and all its descendants (iterative; a parent loop from a
/// torn read is walked once).
pub fn subtree(snapshot: &Snapshot, root: usize) -> Vec<usize> {
    let procs = &snapshot.procs;
    let mut children: std::collections::HashMap<i32, Vec<usize>> = std::collections::HashMap::new();
    for (i, p) in procs.iter().enumerate() {
        if p.ppid != p.pid() {
            children.entry(p.ppid).or_default().push(i);
        }
    }
    let mut seen = vec![false; procs.len()];
    let mut found = Vec::new();
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        if node >= procs.len() || std::mem::replace(&mut seen[node], true) {
            continue;
        }
        found.push(node);
        if let Some(kids) = children.get(&procs[node].pid()) {
            stack.extend(kids);
        }
    }
    found
}

/// Siblings by PID, the order `pstree -p` uses.
pub fn by_pid(a: &ProcInfo, b: &ProcInfo) -> Ordering {
    a.pid().cmp(&b.pid())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::builder::SnapshotBuilder;

    fn rows_of(snapshot: &Snapshot, collapsed: &HashSet<Identity>) -> Vec<(i32, u32, bool)> {
        let options = TreeOptions::new(collapsed);
        build_rows(snapshot, &options, by_pid)
            .iter()
            .map(|r| (snapshot.procs[r.proc_index].pid(), r.depth, r.is_last))
            .collect()
    }

    #[test]
    fn children_follow_their_parent_in_pid_order() {
        let snapshot = SnapshotBuilder::default()
            .proc(30, 1, "c")
            .proc(1, 0, "init")
            .proc(20, 1, "b")
            .proc(21, 20, "b1")
            .build();
        assert_eq!(
            rows_of(&snapshot, &HashSet::new()),
            vec![(1, 0, true), (20, 1, false), (21, 2, true), (30, 1, true)]
        );
    }

    #[test]
    fn a_folded_subtree_keeps_its_root_and_hides_the_rest() {
        let snapshot = SnapshotBuilder::default()
            .proc(1, 0, "init")
            .proc(5, 1, "a")
            .proc(6, 5, "b")
            .proc(7, 6, "c")
            .build();
        let collapsed: HashSet<_> = [snapshot.procs[1].id].into();
        let options = TreeOptions::new(&collapsed);
        let rows = build_rows(&snapshot, &options, by_pid);
        assert_eq!(rows.len(), 2);
        assert!(rows[1].collapsed);
        assert_eq!(rows[1].child_count, 1);
    }

    #[test]
    fn kernel_threads_are_hidden_unless_asked_for() {
        let snapshot = SnapshotBuilder::default()
            .proc(1, 0, "init")
            .with(2, 0, "kthreadd", |p| p.kind = TaskKind::KernelThread)
            .with(3, 2, "rcu_gp", |p| p.kind = TaskKind::KernelThread)
            .build();
        let none = HashSet::new();
        assert_eq!(rows_of(&snapshot, &none).len(), 1);
        let options = TreeOptions {
            show_kernel_threads: true,
            ..TreeOptions::new(&none)
        };
        assert_eq!(build_rows(&snapshot, &options, by_pid).len(), 3);
    }

    #[test]
    fn a_ten_thousand_deep_chain_builds_without_recursion() {
        let mut builder = SnapshotBuilder::default().proc(1, 0, "init");
        for pid in 2..=10_001 {
            builder = builder.proc(pid, pid - 1, "link");
        }
        let snapshot = builder.build();
        let rows = rows_of(&snapshot, &HashSet::new());
        assert_eq!(rows.len(), 10_001);
        assert_eq!(rows.last(), Some(&(10_001, 10_000, true)));
    }

    #[test]
    fn a_parent_loop_from_a_torn_read_is_shown_not_lost() {
        let snapshot = SnapshotBuilder::default()
            .proc(1, 0, "init")
            .proc(8, 9, "x")
            .proc(9, 8, "y")
            .build();
        let pids: Vec<i32> = rows_of(&snapshot, &HashSet::new())
            .iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(pids, vec![1, 8, 9]);
    }

    /// init ─ shell ─ app ─ worker, and init ─ cron ─ job; plus a kernel thread.
    fn family() -> Snapshot {
        SnapshotBuilder::default()
            .proc(1, 0, "init")
            .proc(10, 1, "shell")
            .proc(11, 10, "app")
            .proc(12, 11, "worker")
            .proc(13, 11, "helper")
            .proc(20, 1, "cron")
            .proc(21, 20, "job")
            .with(2, 0, "kthreadd", |p| p.kind = TaskKind::KernelThread)
            .build()
    }

    /// (pid, depth, context) of each row.
    fn filtered(snapshot: &Snapshot, options: &TreeOptions<'_>) -> Vec<(i32, u32, bool)> {
        build_rows(snapshot, options, by_pid)
            .iter()
            .map(|r| (snapshot.procs[r.proc_index].pid(), r.depth, r.context))
            .collect()
    }

    #[test]
    fn a_filter_keeps_the_ancestors_of_a_match_as_dimmed_context() {
        let snapshot = family();
        let none = HashSet::new();
        let is_app = |p: &ProcInfo| &*p.name == "app";
        let options = TreeOptions {
            matches: Some(&is_app),
            ..TreeOptions::new(&none)
        };
        assert_eq!(
            filtered(&snapshot, &options),
            vec![(1, 0, true), (10, 1, true), (11, 2, false)],
            "cron and its job are hidden, app's children too; init and shell stay as context"
        );
    }

    #[test]
    fn a_filter_can_also_show_the_descendants_of_each_match() {
        let snapshot = family();
        let none = HashSet::new();
        let is_app = |p: &ProcInfo| &*p.name == "app";
        let options = TreeOptions {
            matches: Some(&is_app),
            with_descendants: true,
            ..TreeOptions::new(&none)
        };
        assert_eq!(
            filtered(&snapshot, &options),
            vec![
                (1, 0, true),
                (10, 1, true),
                (11, 2, false),
                (12, 3, false),
                (13, 3, false)
            ]
        );
    }

    #[test]
    fn a_match_that_is_an_ancestor_of_another_is_not_context() {
        let snapshot = family();
        let none = HashSet::new();
        let shell_or_job = |p: &ProcInfo| matches!(&*p.name, "shell" | "worker" | "job");
        let options = TreeOptions {
            matches: Some(&shell_or_job),
            ..TreeOptions::new(&none)
        };
        assert_eq!(
            filtered(&snapshot, &options),
            vec![
                (1, 0, true),
                (10, 1, false),
                (11, 2, true),
                (12, 3, false),
                (20, 1, true),
                (21, 2, false)
            ]
        );
    }

    #[test]
    fn a_filter_matching_nothing_shows_nothing_and_never_a_hidden_kernel_thread() {
        let snapshot = family();
        let none = HashSet::new();
        let nothing = |_: &ProcInfo| false;
        let options = TreeOptions {
            matches: Some(&nothing),
            ..TreeOptions::new(&none)
        };
        assert!(filtered(&snapshot, &options).is_empty());
        let kernel = |p: &ProcInfo| p.kind == TaskKind::KernelThread;
        let options = TreeOptions {
            matches: Some(&kernel),
            ..TreeOptions::new(&none)
        };
        assert!(filtered(&snapshot, &options).is_empty());
    }

    #[test]
    fn a_filter_survives_a_parent_loop() {
        let snapshot = SnapshotBuilder::default()
            .proc(1, 0, "init")
            .proc(8, 9, "x")
            .proc(9, 8, "y")
            .build();
        let none = HashSet::new();
        let is_x = |p: &ProcInfo| &*p.name == "x";
        for with_descendants in [false, true] {
            let options = TreeOptions {
                matches: Some(&is_x),
                with_descendants,
                ..TreeOptions::new(&none)
            };
            let pids: Vec<i32> = filtered(&snapshot, &options).iter().map(|r| r.0).collect();
            assert!(pids.contains(&8), "{pids:?}");
        }
    }

    #[test]
    fn flat_mode_lists_every_process_as_a_root_in_the_given_order() {
        let snapshot = family();
        let none = HashSet::new();
        let options = TreeOptions {
            flat: true,
            ..TreeOptions::new(&none)
        };
        let by_name = |a: &ProcInfo, b: &ProcInfo| a.name.cmp(&b.name);
        let rows = build_rows(&snapshot, &options, by_name);
        let names: Vec<&str> = rows
            .iter()
            .map(|r| &*snapshot.procs[r.proc_index].name)
            .collect();
        assert_eq!(
            names,
            vec!["app", "cron", "helper", "init", "job", "shell", "worker"]
        );
        assert!(rows.iter().all(|r| r.depth == 0 && r.parent_row.is_none()));
    }
}
