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
    let shown: Vec<bool> = procs.iter().map(|p| is_shown(p, options)).collect();

    let parent_of: Vec<Option<usize>> = procs
        .iter()
        .map(|p| {
            by_pid
                .get(&p.ppid)
                .copied()
                .filter(|&parent| p.ppid != p.pid() && shown[parent])
        })
        .collect();

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
            let collapsed = !kids.is_empty() && options.collapsed.contains(&procs[node].id);
            rows.push(Row {
                proc_index: node,
                depth,
                is_last,
                parent_row,
                child_count: kids.len() as u32,
                collapsed,
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

/// Siblings by PID, the order `pstree -p` uses.
pub fn by_pid(a: &ProcInfo, b: &ProcInfo) -> Ordering {
    a.pid().cmp(&b.pid())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::builder::SnapshotBuilder;

    fn rows_of(snapshot: &Snapshot, collapsed: &HashSet<Identity>) -> Vec<(i32, u32, bool)> {
        let options = TreeOptions {
            show_kernel_threads: false,
            collapsed,
            keep: None,
        };
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
        let options = TreeOptions {
            show_kernel_threads: false,
            collapsed: &collapsed,
            keep: None,
        };
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
            collapsed: &none,
            keep: None,
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
}
