//! Where a new browser context goes: lifetime-first placement over processes.
//!
//! The pool asks it for each context; the rule is kept apart from the pool's bookkeeping so it
//! can be reasoned about (and tested) on plain numbers, and so the same rule can rank
//! replicas as well as processes.

/// What [`select_process`] needs to know about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Load {
    /// Contexts open now.
    pub active: u32,
    /// Contexts served in its life (open or closed).
    pub lifetime: u32,
}

/// Lifetime-first placement: the process with the highest lifetime count that is still
/// under both limits (open contexts below `max_contexts`, lifetime below
/// `max_lifetime`); ties go to the one with fewer open contexts, then to the earlier one.
///
/// Filling the oldest process first makes processes reach their lifetime limit one after
/// another instead of together, so a retirement never takes all capacity at once.
pub fn select_process(loads: &[Load], max_contexts: u32, max_lifetime: u32) -> Option<usize> {
    loads
        .iter()
        .enumerate()
        .filter(|(_, l)| l.active < max_contexts && l.lifetime < max_lifetime)
        .min_by_key(|(i, l)| (std::cmp::Reverse(l.lifetime), l.active, *i))
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loads(pairs: &[(u32, u32)]) -> Vec<Load> {
        pairs
            .iter()
            .map(|&(active, lifetime)| Load { active, lifetime })
            .collect()
    }

    #[test]
    fn picks_the_highest_lifetime_under_both_limits() {
        let l = loads(&[(1, 10), (2, 30), (0, 5)]);
        assert_eq!(select_process(&l, 8, 50), Some(1));
        // Full (active at the limit) is skipped even with the highest lifetime.
        let l = loads(&[(1, 10), (8, 30), (0, 5)]);
        assert_eq!(select_process(&l, 8, 50), Some(0));
        // At the lifetime limit is skipped too.
        let l = loads(&[(1, 10), (0, 50), (0, 5)]);
        assert_eq!(select_process(&l, 8, 50), Some(0));
    }

    #[test]
    fn ties_go_to_fewer_open_contexts_then_the_earlier_process() {
        let l = loads(&[(3, 20), (1, 20), (1, 20)]);
        assert_eq!(select_process(&l, 8, 50), Some(1));
    }

    #[test]
    fn nothing_with_room_selects_nothing() {
        assert_eq!(select_process(&[], 8, 50), None);
        let l = loads(&[(8, 10), (2, 50)]);
        assert_eq!(select_process(&l, 8, 50), None);
    }

    /// Simulates a busy pool of two processes where each context stays open for the next two
    /// acquisitions: lifetime-first fills the oldest, so when one process retires the other
    /// is young, never both near the end of their life (where a spread-evenly policy would
    /// put them, retiring both at about the same time).
    #[test]
    fn retirements_are_staggered() {
        const MAX_CONTEXTS: u32 = 4;
        const MAX_LIFETIME: u32 = 20;
        let mut procs = loads(&[(0, 0), (0, 0)]);
        let mut open: std::collections::VecDeque<usize> = Default::default();
        let mut retirements = Vec::new();
        for step in 0..400 {
            if open.len() == 3 {
                let p = open.pop_front().unwrap();
                procs[p].active -= 1;
            }
            let chosen = select_process(&procs, MAX_CONTEXTS, MAX_LIFETIME)
                .expect("a process always has room: capacity never drops to zero");
            procs[chosen].active += 1;
            procs[chosen].lifetime += 1;
            open.push_back(chosen);
            // A process at its lifetime with nothing open restarts fresh.
            for i in 0..procs.len() {
                if procs[i].lifetime >= MAX_LIFETIME && procs[i].active == 0 {
                    procs[i] = Load {
                        active: 0,
                        lifetime: 0,
                    };
                    retirements.push((step, i, procs[1 - i].lifetime));
                }
            }
        }
        assert!(retirements.len() >= 15, "{retirements:?}");
        for &(step, process, other_lifetime) in &retirements {
            assert!(
                other_lifetime <= MAX_LIFETIME / 2,
                "process {process} retired at step {step} while the other had served \
                 {other_lifetime}: {retirements:?}"
            );
        }
        // The two take turns.
        for pair in retirements.windows(2) {
            assert_ne!(pair[0].1, pair[1].1, "{retirements:?}");
        }
    }

    #[test]
    fn new_contexts_fill_the_oldest_process() {
        let mut procs = loads(&[(0, 0), (0, 0)]);
        for _ in 0..6 {
            let i = select_process(&procs, 8, 50).unwrap();
            procs[i].active += 1;
            procs[i].lifetime += 1;
        }
        assert_eq!(
            procs[0],
            Load {
                active: 6,
                lifetime: 6
            }
        );
        assert_eq!(
            procs[1],
            Load {
                active: 0,
                lifetime: 0
            }
        );
    }
}
