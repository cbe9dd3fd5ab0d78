//! Watching processes in /proc: a server's children and descendants, Chromium among them,
//! process groups, Chromium's crash handlers and profile dirs. Linux only, like the suite.

use std::collections::HashSet;

/// `(pid, ppid, pgid, command name)` of every process in /proc.
fn processes() -> Vec<(u32, u32, u32, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid pgrp ..."; comm may contain spaces and parentheses.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_string();
        let rest: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        if rest.len() < 3 || rest[0] == "Z" {
            continue;
        }
        let (Ok(ppid), Ok(pgid)) = (rest[1].parse(), rest[2].parse()) else {
            continue;
        };
        out.push((pid, ppid, pgid, comm));
    }
    out
}

/// Live processes whose parent is `pid` (whichever of its threads started them).
pub fn children(pid: u32) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|(_, ppid, _, _)| *ppid == pid)
        .map(|(child, ..)| child)
        .collect()
}

/// Live (non-zombie) processes whose ancestor is `root`.
pub fn descendants(root: u32) -> Vec<u32> {
    let all = processes();
    let mut found: HashSet<u32> = HashSet::from([root]);
    loop {
        let before = found.len();
        for (pid, ppid, _, _) in &all {
            if found.contains(ppid) {
                found.insert(*pid);
            }
        }
        if found.len() == before {
            break;
        }
    }
    found.remove(&root);
    found.into_iter().collect()
}

/// Live Chromium processes (by command name) among `pids`.
pub fn chromium_among(pids: &[u32]) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|(pid, _, _, comm)| pids.contains(pid) && is_chromium(comm))
        .map(|(pid, ..)| pid)
        .collect()
}

/// Live processes in process group `pgid`.
pub fn group_members(pgid: u32) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|(_, _, group, _)| *group == pgid)
        .map(|(pid, ..)| pid)
        .collect()
}

/// Live Chromium crash handlers (which escape process groups) of the server with pid
/// `server_pid`: their `--database` lies in one of that server's profile dirs
/// (`crawlium-chromium-<server pid>-…`), so other servers' browsers do not count.
pub fn crashpad_handlers_of(server_pid: u32) -> Vec<u32> {
    let profile = format!("crawlium-chromium-{server_pid}-");
    processes()
        .into_iter()
        .filter(|(_, _, _, comm)| comm.starts_with("chrome_crashpad"))
        .filter(|(pid, ..)| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(&profile))
        })
        .map(|(pid, ..)| pid)
        .collect()
}

fn is_chromium(comm: &str) -> bool {
    comm.starts_with("chrom") || comm.starts_with("headless_shell")
}

/// The `--user-data-dir` a running Chromium was started with.
pub fn profile_of(pid: u32) -> std::path::PathBuf {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    cmdline
        .split(|b| *b == 0)
        .filter_map(|arg| std::str::from_utf8(arg).ok())
        .find_map(|arg| arg.strip_prefix("--user-data-dir="))
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| panic!("pid {pid} has no --user-data-dir"))
}

/// Live processes whose command line contains `text`.
pub fn mentioning(text: &str) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|(pid, ..)| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|line| String::from_utf8_lossy(&line).contains(text))
        })
        .map(|(pid, ..)| pid)
        .collect()
}
