//! The plan's jobs, kept compact until they are written: per selected crate its row and risk
//! reason once, and per job 12 bytes (the crate's index and a bit set of its targets), instead of a
//! full [`Job`] (~450 bytes with its strings) per (crate, target). A dump where most crates are
//! selected makes hundreds of thousands of jobs; this keeps `matrix`'s memory bounded by the
//! selected crates, not by crates x targets. [`Planned::jobs`] makes the jobs one at a time, in plan
//! order, with their chunk ids. Pure data, no I/O.

use super::chunk;
use super::select::Selected;
use super::Options;
use crate::schema::plan::{Job, Plan};

/// At most this many targets in one plan (a bit set of `u64`); the supported list is shorter.
pub const MAX_TARGETS: usize = 64;

/// A plan whose `jobs` are listed compactly.
pub struct Planned {
    /// Every field but `jobs`, which is empty.
    pub plan: Plan,
    crates: Vec<Selected>,
    reasons: Vec<Option<Box<str>>>,
    /// (index into `crates`, bit set of `plan.targets`), in plan order.
    list: Vec<(u32, u64)>,
    grouped: bool,
}

impl Planned {
    pub(super) fn new(
        plan: Plan,
        crates: Vec<Selected>,
        reasons: Vec<Option<Box<str>>>,
        list: Vec<(u32, u64)>,
        options: &Options,
    ) -> Planned {
        Planned { plan, crates, reasons, list, grouped: options.group_targets }
    }

    /// Jobs in the plan.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The jobs from `start` on, made one at a time, in plan order, with their chunk ids.
    pub fn jobs_from(&self, start: usize) -> impl Iterator<Item = Job> + '_ {
        let chunk_size = (self.plan.chunk_size as usize).max(1);
        self.list.iter().enumerate().skip(start).map(move |(n, &(index, mask))| {
            let krate = &self.crates[index as usize];
            let mut targets: Vec<String> = (0..self.plan.targets.len())
                .filter(|t| mask & (1 << t) != 0)
                .map(|t| self.plan.targets[t].clone())
                .collect();
            let target = if self.grouped { String::new() } else { targets.pop().unwrap_or_default() };
            Job {
                crate_name: krate.name.to_string(),
                version: krate.version.to_string(),
                target,
                targets,
                checksum: hex::encode(krate.checksum),
                bin_names: krate.bin_names(),
                risk: self.reasons[index as usize].as_deref().map(str::to_string),
                chunk: chunk::chunk_id(n / chunk_size),
            }
        })
    }

    /// Every job, in plan order.
    pub fn jobs(&self) -> impl Iterator<Item = Job> + '_ {
        self.jobs_from(0)
    }

    /// The whole plan document, every job in memory.
    pub fn into_plan(self) -> Plan {
        let jobs = self.jobs().collect();
        Plan { jobs, ..self.plan }
    }
}
