//! The graph walk shared by apply, destroy and `dekit run`: which nodes may start (all they wait
//! on finished), which are skipped (something they wait on failed, transitively), and when to stop
//! launching (Ctrl-C). The caller launches the work and reports; the walker only schedules, so it
//! is tested without any cloud.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub struct Walker {
    waits: BTreeMap<String, BTreeSet<String>>,
    /// Higher goes first among the ready ones (the slow and the critical path first).
    priority: BTreeMap<String, u64>,
    /// Each node's group (its resource kind): one group takes at most `share` of the slots
    /// while another has work ready.
    group: BTreeMap<String, String>,
    parallelism: usize,
    pending: BTreeSet<String>,
    running: BTreeSet<String>,
    done: BTreeSet<String>,
    blocked: BTreeSet<String>,
    interrupted: Arc<AtomicBool>,
    stopping: bool,
    listener: Option<tokio::task::JoinHandle<()>>,
}

impl Walker {
    /// `waits`: for each node to visit, the nodes it waits on (others are ignored).
    pub fn new(waits: BTreeMap<String, BTreeSet<String>>, parallelism: usize) -> Walker {
        let pending = waits.keys().cloned().collect();
        let waits = waits
            .iter()
            .map(|(k, v)| {
                let inside = v.iter().filter(|d| waits.contains_key(*d)).cloned();
                (k.clone(), inside.collect())
            })
            .collect();
        Walker {
            waits,
            priority: BTreeMap::new(),
            group: BTreeMap::new(),
            parallelism: parallelism.max(1),
            pending,
            running: BTreeSet::new(),
            done: BTreeSet::new(),
            blocked: BTreeSet::new(),
            interrupted: Arc::new(AtomicBool::new(false)),
            stopping: false,
            listener: None,
        }
    }

    /// Ctrl-C only sets a flag: work in flight finishes and is recorded, nothing new starts.
    pub fn stop_on_ctrl_c(mut self) -> Walker {
        let flag = self.interrupted.clone();
        self.listener = Some(tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, Ordering::SeqCst);
            }
        }));
        self
    }

    /// Launch order among ready nodes: `cost` of each node (how long its own work takes, e.g. a
    /// stream that must become ACTIVE) plus the costliest chain of nodes waiting on it, so the
    /// critical path starts first.
    pub fn prioritize(mut self, cost: impl Fn(&str) -> u64) -> Walker {
        let mut dependents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (a, ws) in &self.waits {
            for w in ws {
                dependents.entry(w.as_str()).or_default().push(a.as_str());
            }
        }
        fn chain<'a>(
            a: &'a str,
            deps: &BTreeMap<&'a str, Vec<&'a str>>,
            cost: &dyn Fn(&str) -> u64,
            memo: &mut BTreeMap<&'a str, u64>,
        ) -> u64 {
            if let Some(v) = memo.get(a) {
                return *v;
            }
            let below = deps
                .get(a)
                .into_iter()
                .flatten()
                .map(|d| chain(d, deps, cost, memo))
                .max()
                .unwrap_or(0);
            let v = cost(a) + below;
            memo.insert(a, v);
            v
        }
        let mut memo = BTreeMap::new();
        let keys: Vec<String> = self.waits.keys().cloned().collect();
        for a in &keys {
            let p = chain(a, &dependents, &cost, &mut memo);
            self.priority.insert(a.clone(), p);
        }
        self
    }

    /// Group nodes (by resource kind): while nodes of other groups are ready, one group holds at
    /// most 60% of the slots. The costliest kind (streams) goes first, but a service that
    /// answers one call at a time (LocalStack's Kinesis) does not hold every slot while roles,
    /// alarms and tables, served elsewhere, wait; when it is the only kind left, it gets all.
    pub fn grouped(mut self, group: impl Fn(&str) -> String) -> Walker {
        self.group = self.waits.keys().map(|a| (a.clone(), group(a))).collect();
        self
    }

    /// Nodes to launch now (moved to running); none once stopping.
    pub fn ready(&mut self) -> Vec<String> {
        if self.stopping {
            return vec![];
        }
        let room = self.parallelism.saturating_sub(self.running.len());
        let mut candidates: Vec<&String> = self
            .pending
            .iter()
            .filter(|a| self.waits[*a].iter().all(|d| self.done.contains(d)))
            .collect();
        let prio = |a: &String| self.priority.get(a).copied().unwrap_or(0);
        candidates.sort_by(|a, b| prio(b).cmp(&prio(a)).then(a.cmp(b)));
        let group = |a: &String| self.group.get(a).map(String::as_str).unwrap_or("");
        let share = (self.parallelism * 3).div_ceil(5);
        let mut held: BTreeMap<&str, usize> = BTreeMap::new();
        for a in &self.running {
            *held.entry(group(a)).or_default() += 1;
        }
        // First within each group's share, then, if slots remain, whatever is ready.
        let mut ready: Vec<String> = vec![];
        for a in &candidates {
            if ready.len() == room {
                break;
            }
            let n = held.entry(group(a)).or_default();
            if *n < share {
                *n += 1;
                ready.push((*a).clone());
            }
        }
        for a in &candidates {
            if ready.len() == room {
                break;
            }
            if !ready.contains(a) {
                ready.push((*a).clone());
            }
        }
        for a in &ready {
            self.pending.remove(a);
            self.running.insert(a.clone());
        }
        ready
    }

    pub fn is_running(&self) -> bool {
        !self.running.is_empty()
    }

    /// True once, when an interrupt is first seen: from then on nothing new starts.
    pub fn newly_interrupted(&mut self) -> bool {
        if !self.stopping && self.interrupted.load(Ordering::SeqCst) {
            self.stopping = true;
            return true;
        }
        false
    }

    /// Record a finished node; returns the nodes skipped because of it (when it failed).
    pub fn finish(&mut self, address: &str, ok: bool) -> Vec<String> {
        self.running.remove(address);
        if ok {
            self.done.insert(address.to_string());
            return vec![];
        }
        self.blocked.insert(address.to_string());
        let mut skipped = vec![];
        loop {
            let newly: Vec<String> = self
                .pending
                .iter()
                .filter(|a| self.waits[*a].iter().any(|d| self.blocked.contains(d)))
                .cloned()
                .collect();
            if newly.is_empty() {
                return skipped;
            }
            for a in newly {
                self.pending.remove(&a);
                self.blocked.insert(a.clone());
                skipped.push(a);
            }
        }
    }

    /// What never started (after an interrupt).
    pub fn not_started(&mut self) -> Vec<String> {
        std::mem::take(&mut self.pending).into_iter().collect()
    }
}

impl Drop for Walker {
    fn drop(&mut self) {
        if let Some(l) = self.listener.take() {
            l.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Walker;
    use std::collections::{BTreeMap, BTreeSet};

    fn waits(edges: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
        edges
            .iter()
            .map(|(a, d)| (a.to_string(), d.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn schedules_in_order_and_skips_only_dependents() {
        // a <- b <- d; c independent; e waits on something outside the walk.
        let mut w = Walker::new(
            waits(&[
                ("a", &[]),
                ("b", &["a"]),
                ("c", &[]),
                ("d", &["b"]),
                ("e", &["zz"]),
            ]),
            2,
        );
        assert_eq!(w.ready(), ["a", "c"], "parallelism bounds the launch");
        assert!(w.ready().is_empty());
        assert_eq!(w.finish("a", false), ["b", "d"]);
        assert_eq!(w.ready(), ["e"]);
        assert!(w.finish("c", true).is_empty());
        assert!(w.finish("e", true).is_empty());
        assert!(!w.is_running());
        assert!(w.not_started().is_empty());
    }

    #[test]
    fn the_critical_path_starts_first() {
        // `slow` (cost 10) heads a chain to `tail` (5); `a` and `b` are cheap and independent.
        let mut w = Walker::new(
            waits(&[("a", &[]), ("b", &[]), ("slow", &[]), ("tail", &["slow"])]),
            1,
        )
        .prioritize(|n| match n {
            "slow" => 10,
            "tail" => 5,
            _ => 1,
        });
        assert_eq!(w.ready(), ["slow"]);
        assert!(w.finish("slow", true).is_empty());
        assert_eq!(w.ready(), ["tail"], "its chain is still the longest");
    }

    #[test]
    fn one_kind_holds_at_most_its_share_while_others_wait() {
        let nodes: Vec<(String, Vec<&str>)> = ["s1", "s2", "s3", "s4", "s5", "r1", "r2"]
            .iter()
            .map(|n| (n.to_string(), vec![]))
            .collect();
        let edges: Vec<(&str, &[&str])> = nodes.iter().map(|(n, d)| (n.as_str(), &d[..])).collect();
        let mut w = Walker::new(waits(&edges), 5)
            .prioritize(|n| if n.starts_with('s') { 10 } else { 1 })
            .grouped(|n| n[..1].to_string());
        // 60% of 5 slots: three streams, then the roles.
        assert_eq!(w.ready(), ["s1", "s2", "s3", "r1", "r2"]);
        w.finish("r1", true);
        w.finish("r2", true);
        // Only streams left: they may take every slot.
        assert_eq!(w.ready(), ["s4", "s5"]);
    }
}
