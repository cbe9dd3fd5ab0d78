//! Repository indexing benchmark (issue 11): a large real source tree made into a git
//! repository, indexed by Crawlium (a first index, then a re-index after a one-file commit)
//! and tagged by universal-ctags (`ctags -R`) in the same run; prints files/s, symbols/s,
//! wall time and peak RSS side by side.
//!
//!   tools/bench/repos/run.sh                        # installs universal-ctags if missing
//!   BENCH_TREES=/path/a,/path/b cargo bench --bench repos
//!
//! The default tree is tokio's source from the cargo registry (Rust) and Python's standard
//! library (Python), test directories left out of both. Crawlium's figures are end to end:
//! `git ls-remote` and `git fetch` of the commit, reading the blobs, parsing on one worker
//! per core, and storing files and symbols in SQLite. "parse only" is the extractor alone
//! on the same files (what ctags does). Peak RSS: the benchmark process's high-water mark
//! (VmHWM) for Crawlium, ctags' own (getrusage of children) for ctags.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use crawlium::{
    net_policy::NetPolicy,
    repos::{
        LocalDirs, RepoRequest, RepoRules, RepoSettings, Repos,
        index::{IndexReport, IndexSpec, Indexer},
        symbols::{self, Language},
    },
    store::Store,
};

/// Directories left out of the tree: tests (not what users look up) and caches.
const SKIPPED: [&str; 6] = [
    "test",
    "tests",
    "__pycache__",
    "lib-dynload",
    "idlelib",
    "benches",
];

/// The newest directory (by name) among `parents`' children whose name starts with `prefix`
/// and that holds `marker`.
fn newest(parents: &[PathBuf], prefix: &str, marker: &str) -> Option<PathBuf> {
    parents
        .iter()
        .flat_map(|parent| std::fs::read_dir(parent).into_iter().flatten().flatten())
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
                && path.join(marker).exists()
        })
        .max()
}

fn default_trees() -> Vec<PathBuf> {
    let registry = dirs::home_dir()
        .unwrap_or_default()
        .join(".cargo/registry/src");
    let indexes: Vec<PathBuf> = std::fs::read_dir(&registry)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .collect();
    let tokio = newest(&indexes, "tokio-1.", "src/lib.rs");
    let python = newest(&["/usr/lib".into()], "python3.", "os.py");
    tokio.into_iter().chain(python).collect()
}

/// Copies the source files (of the languages Crawlium parses) under `from` into `to`.
fn copy_sources(from: &Path, to: &Path) -> usize {
    let mut copied = 0;
    let Ok(entries) = std::fs::read_dir(from) else {
        return 0;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() && !SKIPPED.contains(&name.as_str()) && !name.starts_with('.') {
            copied += copy_sources(&path, &to.join(&name));
        } else if kind.is_file() && Language::of_path(&name).is_some() {
            std::fs::create_dir_all(to).unwrap();
            std::fs::copy(&path, to.join(&name)).unwrap();
            copied += 1;
        }
    }
    copied
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.org")
        .env("GIT_COMMITTER_NAME", "Bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.org")
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

/// The process's peak resident memory so far, MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Peak resident memory of the largest child waited for so far, MB.
fn children_peak_rss_mb() -> f64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    usage.ru_maxrss as f64 / 1024.0
}

struct Run {
    wall: Duration,
    files: u64,
    symbols: u64,
}

impl Run {
    fn print(&self, what: &str, rss_mb: f64) {
        let secs = self.wall.as_secs_f64();
        println!(
            "{what:<34} {:>8.2} s {:>8} files {:>9.0} files/s {:>8} symbols {:>9.0} symbols/s {:>7.0} MB",
            secs,
            self.files,
            self.files as f64 / secs,
            self.symbols,
            self.symbols as f64 / secs,
            rss_mb
        );
    }
}

async fn index(indexer: &Indexer, spec: &IndexSpec) -> (IndexReport, Duration) {
    let report = IndexReport::start(spec, &IndexReport::default());
    let (progress, _) = tokio::sync::watch::channel(report.clone());
    let started = Instant::now();
    let report = indexer
        .run(
            spec,
            report,
            &progress,
            &tokio_util::sync::CancellationToken::new(),
        )
        .await;
    (report, started.elapsed())
}

#[tokio::main]
async fn main() {
    let trees: Vec<PathBuf> = match std::env::var("BENCH_TREES") {
        Ok(list) => list.split(',').map(PathBuf::from).collect(),
        Err(_) => default_trees(),
    };
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("tree");
    let mut files = 0;
    for tree in &trees {
        let name = tree.file_name().unwrap_or_default();
        files += copy_sources(tree, &repo.join(name));
    }
    assert!(files > 0, "no source files under {trees:?}");
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "tree"]);
    println!(
        "tree: {files} source files from {}",
        trees
            .iter()
            .map(|t| t.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );

    // ctags first: its RSS is measured on its own process.
    let tags = work.path().join("tags");
    let started = Instant::now();
    let status = Command::new("ctags")
        .args([
            "-R",
            "--fields=+nS",
            "--extras=-F",
            "--languages=Rust,Python",
            "-f",
        ])
        .arg(&tags)
        .arg(&repo)
        .status();
    let ctags = match status {
        Ok(status) if status.success() => {
            let wall = started.elapsed();
            let symbols = std::fs::read_to_string(&tags)
                .unwrap_or_default()
                .lines()
                .filter(|l| !l.starts_with("!_"))
                .count() as u64;
            Some((
                Run {
                    wall,
                    files: files as u64,
                    symbols,
                },
                children_peak_rss_mb(),
            ))
        }
        _ => {
            println!("ctags: not run (install universal-ctags: apt-get install universal-ctags)");
            None
        }
    };

    // The extractor alone, on one worker per core like the indexer.
    let sources: Vec<(String, Language, String)> = walk(&repo)
        .into_iter()
        .filter_map(|path| {
            let relative = path.strip_prefix(&repo).ok()?.to_string_lossy().to_string();
            let language = Language::of_path(&relative)?;
            let text = std::fs::read_to_string(&path).ok()?;
            Some((relative, language, text))
        })
        .collect();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let started = Instant::now();
    let symbols: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = sources
            .chunks(sources.len().div_ceil(cores))
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(path, language, text)| {
                            symbols::extract(*language, path, text).symbols.len()
                        })
                        .sum::<usize>()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    let parse_only = Run {
        wall: started.elapsed(),
        files: sources.len() as u64,
        symbols: symbols as u64,
    };

    let store_dir = work.path().join("store");
    std::fs::create_dir_all(&store_dir).unwrap();
    let store = Store::open(
        &format!("sqlite://{}", store_dir.join("bench.db").display()),
        4,
    )
    .await
    .unwrap();
    let repos = Repos::new(RepoSettings {
        git: "git".into(),
        cache_dir: work.path().join("cache"),
        rules: RepoRules {
            policy: NetPolicy::default(),
            local: LocalDirs::Any,
        },
        timeout: Duration::from_secs(600),
        max_repo_bytes: 4 << 30,
        max_file_bytes: 4 << 20,
    });
    let indexer = Indexer::new(repos, store);
    let spec = IndexSpec {
        repos: vec![RepoRequest {
            repo: repo.display().to_string(),
            ..RepoRequest::default()
        }],
        max_concurrent: 1,
        max_retries: 0,
        include_docs: false,
        include_tests: true,
        languages: Vec::new(),
        caps: Default::default(),
    };
    let (first, first_wall) = index(&indexer, &spec).await;
    let outcome = &first.repos[0];
    assert!(outcome.error.is_none(), "{outcome:?}");
    let first_run = Run {
        wall: first_wall,
        files: outcome.files,
        symbols: outcome.symbols,
    };
    let rss = peak_rss_mb();
    let first_timings = outcome.timings;

    // One file changed: a function appended to the first Python file.
    let (changed, _, _) = sources
        .iter()
        .find(|(_, language, _)| *language == Language::Python)
        .unwrap_or(&sources[0]);
    let path = repo.join(changed);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("\n\ndef bench_added(value):\n    return value\n");
    std::fs::write(&path, text).unwrap();
    git(&repo, &["commit", "-q", "-am", "one file"]);
    let (again, again_wall) = index(&indexer, &spec).await;
    let outcome = &again.repos[0];
    assert!(outcome.error.is_none(), "{outcome:?}");
    let again_run = Run {
        wall: again_wall,
        files: outcome.parsed,
        symbols: outcome.symbols,
    };

    println!();
    first_run.print("crawlium: first index (end to end)", rss);
    println!(
        "{:<34} git {:.2} s, parse {:.2} s, store {:.2} s",
        "",
        first_timings.fetch_ms as f64 / 1000.0,
        first_timings.parse_ms as f64 / 1000.0,
        first_timings.store_ms as f64 / 1000.0
    );
    parse_only.print("crawlium: parse only", rss);
    again_run.print(
        &format!("crawlium: re-index, {} file parsed", outcome.parsed),
        rss,
    );
    if let Some((run, rss)) = &ctags {
        run.print("ctags -R", *rss);
        println!();
        println!(
            "first index vs ctags: {:.2}x the time for {:.2}x the symbols (signatures, \
             parameters, docs, members, imports); parse only: {:.2}x the time",
            first_run.wall.as_secs_f64() / run.wall.as_secs_f64(),
            first_run.symbols as f64 / run.symbols.max(1) as f64,
            parse_only.wall.as_secs_f64() / run.wall.as_secs_f64()
        );
    }
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => stack.push(path),
                Ok(kind) if kind.is_file() => out.push(path),
                _ => {}
            }
        }
    }
    out.sort();
    out
}
