//! A process table against the one before: the processes gone, the fields that changed, the
//! processes new and where they go. Pure, both ways.

use std::sync::Arc;

use super::wire::{Delta, Field, kind_byte, kind_of, proc_from_wire, proc_to_wire, state_byte};
use crate::proc::{PidMap, ProcInfo, State};

/// The delta from `before` to `now`, strings numbered by `number`; `None` when the processes
/// still there changed order (scans list /proc in PID order, so they do not): then only a
/// keyframe can say it.
pub(super) fn diff(
    before: &[ProcInfo],
    now: &[ProcInfo],
    mut number: impl FnMut(&Arc<str>) -> u32,
) -> Option<Delta> {
    let index: PidMap<u32> = before
        .iter()
        .enumerate()
        .map(|(i, p)| (p.pid(), i as u32))
        .collect();
    let mut kept = vec![false; before.len()];
    let mut last_kept = None;
    let mut delta = Delta::default();
    for (at, proc) in now.iter().enumerate() {
        let found = index
            .get(&proc.pid())
            .copied()
            .filter(|&i| before[i as usize].id == proc.id);
        let Some(i) = found else {
            delta
                .added
                .push((at as u32, proc_to_wire(proc, &mut number)));
            continue;
        };
        if last_kept.is_some_and(|last| i <= last) {
            return None;
        }
        last_kept = Some(i);
        kept[i as usize] = true;
        let fields = changed_fields(&before[i as usize], proc, &mut number);
        if !fields.is_empty() {
            delta.changed.push((i, fields));
        }
    }
    let gone = kept.iter().enumerate().filter(|(_, k)| !**k);
    delta.gone = gaps(gone.map(|(i, _)| i as u32));
    let positions = gaps(delta.changed.iter().map(|(i, _)| *i));
    for ((at, _), gap) in delta.changed.iter_mut().zip(positions) {
        *at = gap;
    }
    Some(delta)
}

/// The table after `delta`, strings looked up by `string`; `None` if the delta does not fit
/// the table (a damaged or foreign file).
pub(super) fn apply(
    mut procs: Vec<ProcInfo>,
    delta: &Delta,
    string: impl Fn(u32) -> Option<Arc<str>>,
) -> Option<Vec<ProcInfo>> {
    let positions = ungap(delta.changed.iter().map(|(gap, _)| *gap));
    for ((_, fields), at) in delta.changed.iter().zip(positions) {
        let proc = procs.get_mut(at as usize)?;
        for field in fields {
            apply_field(proc, field, &string)?;
        }
    }
    let mut gone = vec![false; procs.len()];
    for at in ungap(delta.gone.iter().copied()) {
        *gone.get_mut(at as usize)? = true;
    }
    let left = procs.len() - gone.iter().filter(|g| **g).count();
    let mut survivors = procs
        .into_iter()
        .zip(gone)
        .filter_map(|(p, gone)| (!gone).then_some(p));
    let mut added = delta.added.iter().peekable();
    let total = left + delta.added.len();
    let mut table = Vec::with_capacity(total);
    for at in 0..total {
        match added.next_if(|(place, _)| *place as usize == at) {
            Some((_, wire)) => table.push(proc_from_wire(wire, &string)?),
            None => table.push(survivors.next()?),
        }
    }
    Some(table)
}

fn changed_fields(
    before: &ProcInfo,
    now: &ProcInfo,
    mut number: impl FnMut(&Arc<str>) -> u32,
) -> Vec<Field> {
    let mut fields = Vec::new();
    let difference = |a: u64, b: u64| b.wrapping_sub(a) as i64;
    if before.ppid != now.ppid {
        fields.push(Field::Ppid(now.ppid));
    }
    if before.pgrp != now.pgrp {
        fields.push(Field::Pgrp(now.pgrp));
    }
    if before.session != now.session {
        fields.push(Field::Session(now.session));
    }
    if before.kind != now.kind {
        fields.push(Field::Kind(kind_byte(now.kind)));
    }
    if before.state != now.state {
        fields.push(Field::State(state_byte(now.state)));
    }
    if before.name != now.name {
        fields.push(Field::Name(number(&now.name)));
    }
    if before.cmdline != now.cmdline {
        fields.push(Field::Cmdline(number(&now.cmdline)));
    }
    if before.uid != now.uid {
        fields.push(Field::Uid(now.uid));
    }
    if before.user != now.user {
        fields.push(Field::User(number(&now.user)));
    }
    if before.cpu_ticks != now.cpu_ticks {
        fields.push(Field::CpuTicks(difference(before.cpu_ticks, now.cpu_ticks)));
    }
    if before.cpu_percent.to_bits() != now.cpu_percent.to_bits() {
        fields.push(Field::CpuPercent(now.cpu_percent));
    }
    if before.rss_bytes != now.rss_bytes {
        fields.push(Field::RssBytes(difference(before.rss_bytes, now.rss_bytes)));
    }
    if before.vsize_bytes != now.vsize_bytes {
        fields.push(Field::VsizeBytes(difference(
            before.vsize_bytes,
            now.vsize_bytes,
        )));
    }
    if before.nice != now.nice {
        fields.push(Field::Nice(now.nice));
    }
    if before.threads != now.threads {
        fields.push(Field::Threads(now.threads));
    }
    if before.tracer != now.tracer {
        fields.push(Field::Tracer(now.tracer));
    }
    if before.ran != now.ran {
        fields.push(Field::Ran(now.ran));
    }
    fields
}

fn apply_field(
    proc: &mut ProcInfo,
    field: &Field,
    string: impl Fn(u32) -> Option<Arc<str>>,
) -> Option<()> {
    let add = |value: u64, difference: i64| value.wrapping_add(difference as u64);
    match *field {
        Field::Ppid(ppid) => proc.ppid = ppid,
        Field::Pgrp(pgrp) => proc.pgrp = pgrp,
        Field::Session(session) => proc.session = session,
        Field::Kind(kind) => proc.kind = kind_of(kind),
        Field::State(state) => proc.state = State::from_letter(state),
        Field::Name(name) => proc.name = string(name)?,
        Field::Cmdline(cmdline) => proc.cmdline = string(cmdline)?,
        Field::Uid(uid) => proc.uid = uid,
        Field::User(user) => proc.user = string(user)?,
        Field::CpuTicks(difference) => proc.cpu_ticks = add(proc.cpu_ticks, difference),
        Field::CpuPercent(percent) => proc.cpu_percent = percent,
        Field::RssBytes(difference) => proc.rss_bytes = add(proc.rss_bytes, difference),
        Field::VsizeBytes(difference) => proc.vsize_bytes = add(proc.vsize_bytes, difference),
        Field::Nice(nice) => proc.nice = nice,
        Field::Threads(threads) => proc.threads = threads,
        Field::Tracer(tracer) => proc.tracer = tracer,
        Field::Ran(ran) => proc.ran = ran,
    }
    Some(())
}

/// Rising positions as the gap after each one before (the first as itself).
fn gaps(positions: impl Iterator<Item = u32>) -> Vec<u32> {
    let mut next = 0;
    positions
        .map(|at| {
            let gap = at.wrapping_sub(next);
            next = at.wrapping_add(1);
            gap
        })
        .collect()
}

fn ungap(gaps: impl Iterator<Item = u32>) -> impl Iterator<Item = u32> {
    let mut next = 0u32;
    gaps.map(move |gap| {
        let at = next.wrapping_add(gap);
        next = at.wrapping_add(1);
        at
    })
}
