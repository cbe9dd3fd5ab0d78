//! Child processes that run in a process group of their own (`process_group(0)`: the group
//! id is the child's pid), so stopping one stops everything it started: Chromium and its
//! helpers, git and the transports it spawns.
//!
//! It imports nothing else of the crate.

/// Kills the whole process group led by `pid` (SIGKILL); nothing for pid 0 or 1.
pub fn kill_group(pid: u32) {
    let Ok(pgid) = libc::pid_t::try_from(pid) else {
        return;
    };
    if pgid > 1 {
        // SAFETY: kill has no memory-safety preconditions; a negative pid names the group
        // this server created for its child (process_group(0) makes the group id its pid).
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

/// Kills a child's process group when dropped, unless the child was seen to end: a future
/// that owns a child and is dropped (a cancelled call, a stopped job) takes everything the
/// child started with it, not just the child (`kill_on_drop` kills only the child).
pub struct GroupGuard {
    pid: u32,
    armed: bool,
}

impl GroupGuard {
    /// Guards the group led by `pid`.
    pub fn new(pid: u32) -> Self {
        Self { pid, armed: true }
    }

    /// The child ended by itself: its group id may be reused, so nothing is killed.
    pub fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            kill_group(self.pid);
        }
    }
}
