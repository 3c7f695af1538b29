//! The table's columns and the sort order over them: which processes come first among siblings
//! (tree mode) or in the whole list (list mode). Pure comparisons of snapshot data (and, for the
//! wait channel, of the last IPC sweep).

use std::cmp::Ordering;

use strum::{EnumString, IntoStaticStr, VariantArray};

use crate::proc::ProcInfo;
use crate::proc::ipc::IpcState;

/// A column of the process table. Its name in the config file is the variant's in lower case;
/// the picker lists them in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, IntoStaticStr, EnumString, VariantArray)]
#[strum(serialize_all = "lowercase")]
pub enum Column {
    Pid,
    Ppid,
    User,
    State,
    Nice,
    Threads,
    Cpu,
    Res,
    Virt,
    Elapsed,
    /// What a sleeping process waits for, in a word or two (from the IPC sweep's wait channels).
    Wchan,
    /// The command with its tree guides; always the last column, taking the rest of the row.
    Command,
}

/// The columns shown when the config names none.
pub const DEFAULT_COLUMNS: [Column; 7] = [
    Column::Pid,
    Column::User,
    Column::State,
    Column::Cpu,
    Column::Res,
    Column::Elapsed,
    Column::Command,
];

impl Column {
    /// The name used in the config file.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The header text.
    pub fn label(self) -> &'static str {
        match self {
            Column::Pid => "PID",
            Column::Ppid => "PPID",
            Column::User => "USER",
            Column::State => "S",
            Column::Nice => "NI",
            Column::Threads => "THR",
            Column::Cpu => "CPU%",
            Column::Res => "RES",
            Column::Virt => "VIRT",
            Column::Elapsed => "ELAPSED",
            Column::Wchan => "WCHAN",
            Column::Command => "COMMAND",
        }
    }

    /// Cells wide (the command takes what is left).
    pub fn width(self) -> u16 {
        match self {
            Column::Pid | Column::Ppid => 7,
            Column::User => 8,
            Column::State => 1,
            Column::Nice => 3,
            Column::Threads => 4,
            Column::Cpu => 5,
            Column::Res | Column::Virt => 6,
            Column::Elapsed => 9,
            Column::Wchan => 10,
            Column::Command => 0,
        }
    }

    pub fn right_aligned(self) -> bool {
        !matches!(
            self,
            Column::User | Column::State | Column::Wchan | Column::Command
        )
    }

    /// Whether the biggest value usually matters most (CPU, memory, age): sorted descending first.
    fn descending_first(self) -> bool {
        matches!(
            self,
            Column::Cpu | Column::Res | Column::Virt | Column::Threads | Column::Elapsed
        )
    }

    fn compare(self, a: &ProcInfo, b: &ProcInfo, ipc: &IpcState) -> Ordering {
        match self {
            Column::Pid => a.pid().cmp(&b.pid()),
            Column::Ppid => a.ppid.cmp(&b.ppid),
            Column::User => a.user.cmp(&b.user),
            Column::State => a.state.letter().cmp(&b.state.letter()),
            Column::Nice => a.nice.cmp(&b.nice),
            Column::Threads => a.threads.cmp(&b.threads),
            Column::Cpu => a.cpu_percent.total_cmp(&b.cpu_percent),
            Column::Res => a.rss_bytes.cmp(&b.rss_bytes),
            Column::Virt => a.vsize_bytes.cmp(&b.vsize_bytes),
            // Longer elapsed means an earlier start.
            Column::Elapsed => b.id.start_ticks.cmp(&a.id.start_ticks),
            // Those with no wait channel (running, or not swept yet) first.
            Column::Wchan => ipc.wait_short(a.id).cmp(&ipc.wait_short(b.id)),
            Column::Command => a
                .name
                .to_lowercase()
                .cmp(&b.name.to_lowercase())
                .then_with(|| a.cmdline.cmp(&b.cmdline)),
        }
    }
}

/// The sort order: a column and a direction; ties go by PID so the order is stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub column: Column,
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Sort {
        Sort {
            column: Column::Pid,
            descending: false,
        }
    }
}

impl Sort {
    /// `ipc` is the last IPC sweep, for the wait channel column.
    pub fn compare(&self, a: &ProcInfo, b: &ProcInfo, ipc: &IpcState) -> Ordering {
        let order = self
            .column
            .compare(a, b, ipc)
            .then_with(|| a.pid().cmp(&b.pid()));
        if self.descending {
            order.reverse()
        } else {
            order
        }
    }

    /// Sorting by `column`: the same column again flips the direction; a new one starts in the
    /// direction that puts what usually matters first.
    pub fn by(self, column: Column) -> Sort {
        if column == self.column {
            Sort {
                column,
                descending: !self.descending,
            }
        } else {
            Sort {
                column,
                descending: column.descending_first(),
            }
        }
    }

    /// `▲` or `▼` after the sorted column's label.
    pub fn arrow(&self) -> &'static str {
        if self.descending { "▼" } else { "▲" }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::builder::SnapshotBuilder;

    fn sorted(sort: Sort) -> Vec<i32> {
        let snapshot = SnapshotBuilder::default()
            .with(3, 1, "zsh", |p| {
                p.cpu_percent = 5.0;
                p.rss_bytes = 10;
            })
            .with(1, 0, "Init", |p| {
                p.cpu_percent = 0.5;
                p.rss_bytes = 30;
            })
            .with(2, 1, "bash", |p| {
                p.cpu_percent = 5.0;
                p.rss_bytes = 20;
            })
            .build();
        let mut procs = snapshot.procs.to_vec();
        procs.sort_by(|a, b| sort.compare(a, b, &IpcState::default()));
        procs.iter().map(ProcInfo::pid).collect()
    }

    #[test]
    fn each_column_sorts_both_ways_with_pid_breaking_ties() {
        let cpu = Sort::default().by(Column::Cpu);
        assert!(cpu.descending, "CPU starts with the busiest");
        assert_eq!(sorted(cpu), vec![3, 2, 1]);
        assert_eq!(sorted(cpu.by(Column::Cpu)), vec![1, 2, 3]);
        assert_eq!(sorted(Sort::default().by(Column::Res)), vec![1, 2, 3]);
        assert_eq!(sorted(Sort::default().by(Column::Command)), vec![2, 1, 3]);
        assert_eq!(sorted(Sort::default()), vec![1, 2, 3]);
        assert_eq!(sorted(Sort::default().by(Column::Pid)), vec![3, 2, 1]);
        // Elapsed: PID 1 started first (start ticks = PID in built snapshots), so it is oldest.
        assert_eq!(sorted(Sort::default().by(Column::Elapsed)), vec![1, 2, 3]);
    }

    #[test]
    fn column_names_round_trip() {
        let names: Vec<&str> = Column::VARIANTS.iter().map(|c| c.name()).collect();
        assert_eq!(
            names,
            [
                "pid", "ppid", "user", "state", "nice", "threads", "cpu", "res", "virt", "elapsed",
                "wchan", "command"
            ]
        );
        for &column in Column::VARIANTS {
            assert_eq!(column.name().parse(), Ok(column));
        }
        assert!("bogus".parse::<Column>().is_err());
    }
}
