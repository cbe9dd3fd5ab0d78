//! The `git` binary, driven safely: what a repository's ref points at (`ls-remote`), a
//! shallow fetch of that commit into a bare cache, and its files read straight from the
//! object store (`ls-tree`, `cat-file --batch`) — no working tree, so nothing of the
//! repository is ever checked out or run.
//!
//! Every git runs without a shell, with a cleared environment: no system or global config,
//! no hooks, no credential helpers or prompts, no redirects, no submodules, only the
//! transports the source allows (`GIT_ALLOW_PROTOCOL`: https, http, git, and file for a
//! local source), in a process group of its own that is killed whole when the repository's
//! deadline passes or its cache outgrows the size cap.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    process::Command,
    time::Instant,
};

use super::RepoError;
use crate::child::GroupGuard;

/// How often a fetch's cache is measured against the size cap.
const SIZE_POLL: Duration = Duration::from_millis(250);

/// A file of a commit's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// Its path from the repository's root, `/`-separated.
    pub path: String,
    /// Its blob id.
    pub blob: String,
    /// Its size in bytes.
    pub size: u64,
}

/// What a ref of a remote points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The commit.
    pub commit: String,
    /// The ref's short name (`main`, `v1.2`), or the commit id when one was asked for.
    pub name: String,
    /// The full ref to fetch (`refs/heads/main`); `None` for a commit id.
    pub full: Option<String>,
}

/// Runs `git`.
#[derive(Debug, Clone)]
pub struct Git {
    program: PathBuf,
}

impl Git {
    /// Runs the `git` found at `program`.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
        }
    }

    /// A git command with the safe environment; `file` allows the file transport (a local
    /// source).
    fn command(&self, file: bool) -> Command {
        let mut command = Command::new(&self.program);
        command
            .env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
            )
            .env("LC_ALL", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_PROTOCOL_FROM_USER", "0")
            .env(
                "GIT_ALLOW_PROTOCOL",
                if file {
                    "https:http:git:file"
                } else {
                    "https:http:git"
                },
            )
            .args([
                "-c",
                "core.hooksPath=/dev/null",
                "-c",
                "credential.helper=",
                "-c",
                "core.askPass=",
                "-c",
                "http.followRedirects=false",
                "-c",
                "fetch.recurseSubmodules=false",
                "-c",
                "submodule.recurse=false",
                "-c",
                "core.fsmonitor=false",
                "-c",
                "gc.auto=0",
                "-c",
                "protocol.version=2",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        command
    }

    /// Runs `command` until `deadline`; its stdout, or why it failed. With `cap`, the
    /// directory is measured while git runs and git is stopped once it holds more bytes.
    async fn run(
        &self,
        mut command: Command,
        what: &str,
        deadline: Instant,
        cap: Option<(&Path, u64)>,
    ) -> Result<Vec<u8>, RepoError> {
        let child = command.spawn().map_err(|e| {
            RepoError::Failed(format!(
                "cannot run git ({}): {e}; install git",
                self.program.display()
            ))
        })?;
        // Past the deadline, over the cap or dropped: git and its transports go together.
        let mut group = GroupGuard::new(child.id().unwrap_or(0));
        let outgrown = async {
            match cap {
                Some((dir, max)) => loop {
                    tokio::time::sleep(SIZE_POLL).await;
                    let size = measure(dir).await;
                    if size > max {
                        return size;
                    }
                },
                None => std::future::pending().await,
            }
        };
        let output = tokio::select! {
            output = child.wait_with_output() => output,
            () = tokio::time::sleep_until(deadline) => {
                return Err(RepoError::TimedOut(format!("{what} did not finish in time")));
            }
            size = outgrown => {
                return Err(RepoError::TooLarge(too_large(what, size)));
            }
        };
        group.disarm();
        let output =
            output.map_err(|e| RepoError::Failed(format!("{what}: git did not run: {e}")))?;
        if output.status.success() {
            return Ok(output.stdout);
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let message = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("hint:"))
            .collect::<Vec<_>>()
            .join("; ");
        let message = if message.is_empty() {
            format!("{what} failed ({})", output.status)
        } else {
            format!("{what} failed: {message}")
        };
        Err(classify(message))
    }

    /// What `git_ref` (default: the remote's HEAD) of the repository at `url` points at.
    pub async fn resolve(
        &self,
        url: &str,
        git_ref: Option<&str>,
        file: bool,
        deadline: Instant,
    ) -> Result<Resolved, RepoError> {
        let mut command = self.command(file);
        command.args(["ls-remote", "--symref", "--", url]);
        match git_ref {
            Some(git_ref) => command.arg(git_ref),
            None => command.arg("HEAD"),
        };
        let listed = self.run(command, "git ls-remote", deadline, None).await?;
        let listed = String::from_utf8_lossy(&listed);
        pick_ref(&listed, git_ref).ok_or_else(|| match git_ref {
            Some(git_ref) => RepoError::NotFound(format!("no branch or tag '{git_ref}' in {url}")),
            None => RepoError::NotFound(format!("{url} has no HEAD (an empty repository?)")),
        })
    }

    /// Fetches `resolved`'s commit (depth 1) from `url` into the bare repository `cache`,
    /// created if missing; stops past `max_bytes` in the cache. Returns the commit fetched.
    pub async fn fetch(
        &self,
        cache: &Path,
        url: &str,
        resolved: &Resolved,
        file: bool,
        max_bytes: u64,
        deadline: Instant,
    ) -> Result<String, RepoError> {
        if !tokio::fs::try_exists(cache.join("HEAD"))
            .await
            .unwrap_or(false)
        {
            let mut init = self.command(false);
            init.args(["init", "--bare", "--quiet", "--"]).arg(cache);
            self.run(init, "git init", deadline, None).await?;
        }
        let want = resolved.full.as_deref().unwrap_or(&resolved.commit);
        let mut fetch = self.command(file);
        fetch
            .arg("-C")
            .arg(cache)
            .args(["fetch", "--quiet", "--depth", "1", "--no-tags"])
            .args(["--no-recurse-submodules", "--", url, want]);
        self.run(fetch, "git fetch", deadline, Some((cache, max_bytes)))
            .await?;
        // A fetch quicker than the first measurement is measured once it is done.
        let size = measure(cache).await;
        if size > max_bytes {
            return Err(RepoError::TooLarge(too_large("git fetch", size)));
        }
        let mut parse = self.command(false);
        parse.arg("-C").arg(cache).args([
            "rev-parse",
            "--verify",
            "--quiet",
            "FETCH_HEAD^{commit}",
        ]);
        let commit = self.run(parse, "git rev-parse", deadline, None).await?;
        let commit = String::from_utf8_lossy(&commit).trim().to_string();
        // A ref of our own keeps the commit's objects from being pruned.
        let mut keep = self.command(false);
        keep.arg("-C")
            .arg(cache)
            .args(["update-ref", &format!("refs/crawlium/{commit}"), &commit]);
        self.run(keep, "git update-ref", deadline, None).await?;
        Ok(commit)
    }

    /// The commit `rev` names in the repository at `dir` (a local source, read where it
    /// is).
    pub async fn commit_in(
        &self,
        dir: &Path,
        rev: &str,
        deadline: Instant,
    ) -> Result<String, RepoError> {
        let mut parse = self.command(false);
        parse.arg("-C").arg(dir).args([
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &format!("{rev}^{{commit}}"),
        ]);
        match self.run(parse, "git rev-parse", deadline, None).await {
            Ok(commit) => Ok(String::from_utf8_lossy(&commit).trim().to_string()),
            Err(RepoError::TimedOut(why)) => Err(RepoError::TimedOut(why)),
            Err(_) => Err(RepoError::NotFound(format!(
                "no commit {rev} in {}",
                dir.display()
            ))),
        }
    }

    /// The files of `commit` in `cache`, under `subdir` if given (symbolic links and
    /// submodules left out).
    pub async fn tree(
        &self,
        cache: &Path,
        commit: &str,
        subdir: Option<&str>,
        deadline: Instant,
    ) -> Result<Vec<TreeEntry>, RepoError> {
        let mut command = self.command(false);
        command
            .arg("-C")
            .arg(cache)
            .args(["ls-tree", "-r", "-l", "-z", "--full-tree", commit]);
        if let Some(subdir) = subdir {
            command.args(["--", subdir]);
        }
        let listed = self.run(command, "git ls-tree", deadline, None).await?;
        Ok(parse_tree(&listed))
    }

    /// The contents of `blobs` in `cache`, in order, read through one `git cat-file --batch`.
    pub async fn read_blobs(
        &self,
        cache: &Path,
        blobs: &[String],
        deadline: Instant,
    ) -> Result<Vec<Vec<u8>>, RepoError> {
        let mut command = self.command(false);
        command
            .arg("-C")
            .arg(cache)
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped());
        let mut child = command
            .spawn()
            .map_err(|e| RepoError::Failed(format!("cannot run git cat-file: {e}")))?;
        let mut group = GroupGuard::new(child.id().unwrap_or(0));
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let request: String = blobs.iter().map(|b| format!("{b}\n")).collect();
        let write = async move {
            stdin.write_all(request.as_bytes()).await?;
            stdin.shutdown().await
        };
        let read = async {
            let mut contents = Vec::with_capacity(blobs.len());
            let mut header = String::new();
            for blob in blobs {
                header.clear();
                stdout.read_line(&mut header).await?;
                let size = match header.split_whitespace().collect::<Vec<_>>()[..] {
                    [_, "blob", size] => size.parse::<usize>().unwrap_or(0),
                    _ => {
                        return Err(std::io::Error::other(format!(
                            "blob {blob}: {}",
                            header.trim()
                        )));
                    }
                };
                let mut content = vec![0; size + 1];
                stdout.read_exact(&mut content).await?;
                content.pop();
                contents.push(content);
            }
            Ok(contents)
        };
        let both = async { tokio::try_join!(write, read).map(|((), contents)| contents) };
        let contents = tokio::select! {
            contents = both => contents,
            () = tokio::time::sleep_until(deadline) => {
                return Err(RepoError::TimedOut("reading the files did not finish in time".into()));
            }
        };
        let _ = child.wait().await;
        group.disarm();
        contents.map_err(|e| RepoError::Failed(format!("git cat-file: {e}")))
    }
}

/// Picks what `git_ref` names from `ls-remote --symref` output: a peeled tag, a tag, a
/// branch, the full ref, or (for none) HEAD with the branch it points to; a full commit id
/// when no ref has that name.
fn pick_ref(listed: &str, git_ref: Option<&str>) -> Option<Resolved> {
    let mut refs = Vec::new();
    let mut head_branch = None;
    for line in listed.lines() {
        if let Some(symref) = line.strip_prefix("ref: ") {
            if let Some((target, "HEAD")) = symref.split_once('\t') {
                head_branch = Some(target.to_string());
            }
            continue;
        }
        if let Some((commit, name)) = line.split_once('\t') {
            refs.push((commit.to_string(), name.to_string()));
        }
    }
    let find = |full: &str| {
        refs.iter()
            .find(|(_, name)| name == full)
            .map(|(c, _)| c.clone())
    };
    match git_ref {
        None => {
            let commit = find("HEAD")?;
            let name = head_branch
                .as_deref()
                .map(|b| b.trim_start_matches("refs/heads/").to_string())
                .unwrap_or_else(|| "HEAD".into());
            Some(Resolved {
                commit,
                name,
                full: Some(head_branch.unwrap_or_else(|| "HEAD".into())),
            })
        }
        Some(git_ref) => {
            let tag = format!("refs/tags/{git_ref}");
            let candidates = [
                (format!("{tag}^{{}}"), tag.clone()),
                (tag.clone(), tag),
                (
                    format!("refs/heads/{git_ref}"),
                    format!("refs/heads/{git_ref}"),
                ),
                (git_ref.to_string(), git_ref.to_string()),
            ];
            for (listed_as, full) in candidates {
                if let Some(commit) = find(&listed_as) {
                    return Some(Resolved {
                        commit,
                        name: git_ref.to_string(),
                        full: Some(full),
                    });
                }
            }
            let commit_id = git_ref.len() == 40 && git_ref.chars().all(|c| c.is_ascii_hexdigit());
            commit_id.then(|| Resolved {
                commit: git_ref.to_ascii_lowercase(),
                name: git_ref.to_ascii_lowercase(),
                full: None,
            })
        }
    }
}

/// Parses `ls-tree -r -l -z`: `mode type blob size\tpath\0` records; blobs only.
fn parse_tree(listed: &[u8]) -> Vec<TreeEntry> {
    listed
        .split(|b| *b == 0)
        .filter_map(|record| {
            let record = std::str::from_utf8(record).ok()?;
            let (meta, path) = record.split_once('\t')?;
            let mut fields = meta.split_whitespace();
            let (mode, kind, blob, size) = (
                fields.next()?,
                fields.next()?,
                fields.next()?,
                fields.next()?,
            );
            // Regular files only: not symbolic links (120000) nor submodules (commit).
            if kind != "blob" || mode == "120000" {
                return None;
            }
            Some(TreeEntry {
                path: path.to_string(),
                blob: blob.to_string(),
                size: size.parse().ok()?,
            })
        })
        .collect()
}

/// A git failure, told apart by what git said: a missing repository or ref, or a refusal
/// that asking again will not change, is permanent; anything else (a refused connection, a
/// reset, a server error) may pass.
fn classify(message: String) -> RepoError {
    const PERMANENT: [&str; 14] = [
        "not found",
        "not exported",
        "access denied",
        "does not appear to be a git repository",
        "couldn't find remote ref",
        "not our ref",
        "authentication failed",
        "could not read username",
        "terminal prompts disabled",
        "the requested url returned error: 401",
        "the requested url returned error: 403",
        "the requested url returned error: 404",
        "transport '",
        "unable to find remote helper",
    ];
    let lower = message.to_ascii_lowercase();
    if lower.contains("redirect") {
        return RepoError::Refused(format!(
            "{message} (redirects are not followed: give the repository's own URL)"
        ));
    }
    if PERMANENT.iter().any(|p| lower.contains(p)) {
        RepoError::NotFound(message)
    } else {
        RepoError::Transient(message)
    }
}

/// The message of a repository over the size cap.
fn too_large(what: &str, size: u64) -> String {
    format!(
        "{what} stopped at {:.1} MB: the repository is larger than the cap (maxRepoMb)",
        size as f64 / (1024.0 * 1024.0)
    )
}

/// Bytes of the files under `dir`, counted on a blocking worker.
async fn measure(dir: &Path) -> u64 {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || dir_size(&dir))
        .await
        .unwrap_or(0)
}

/// Bytes of the files under `dir`.
fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => dir_size(&entry.path()),
            Ok(_) => entry.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTED: &str = "ref: refs/heads/main\tHEAD\n\
        1111111111111111111111111111111111111111\tHEAD\n\
        2222222222222222222222222222222222222222\trefs/heads/v1\n\
        3333333333333333333333333333333333333333\trefs/tags/v1\n\
        4444444444444444444444444444444444444444\trefs/tags/v1^{}\n";

    #[test]
    fn refs_are_picked_peeled_tag_first_then_tag_then_branch() {
        let head = pick_ref(LISTED, None).unwrap();
        assert_eq!(
            (head.commit.as_str(), head.name.as_str()),
            ("1111111111111111111111111111111111111111", "main")
        );
        assert_eq!(head.full.as_deref(), Some("refs/heads/main"));
        let tag = pick_ref(LISTED, Some("v1")).unwrap();
        assert_eq!(tag.commit, "4444444444444444444444444444444444444444");
        assert_eq!(tag.full.as_deref(), Some("refs/tags/v1"));
        let branch = pick_ref(
            "2222222222222222222222222222222222222222\trefs/heads/dev\n",
            Some("dev"),
        )
        .unwrap();
        assert_eq!(branch.full.as_deref(), Some("refs/heads/dev"));
        assert_eq!(pick_ref("", Some("nope")), None);
        let id = "ABCDEF0123456789ABCDEF0123456789ABCDEF01";
        let commit = pick_ref("", Some(id)).unwrap();
        assert_eq!(commit.commit, id.to_ascii_lowercase());
        assert_eq!(commit.full, None);
    }

    #[test]
    fn the_tree_keeps_regular_files() {
        let listed = b"100644 blob aaaa     12\tREADME.md\0\
            100755 blob bbbb      3\tbin/run.sh\0\
            120000 blob cccc      9\tlink\0\
            160000 commit dddd       -\tvendor/sub\0";
        let tree = parse_tree(listed);
        assert_eq!(
            tree,
            vec![
                TreeEntry {
                    path: "README.md".into(),
                    blob: "aaaa".into(),
                    size: 12
                },
                TreeEntry {
                    path: "bin/run.sh".into(),
                    blob: "bbbb".into(),
                    size: 3
                },
            ]
        );
    }

    #[test]
    fn failures_are_permanent_or_transient_by_what_git_said() {
        assert!(matches!(
            classify("fatal: repository 'http://x/y/' not found".into()),
            RepoError::NotFound(_)
        ));
        assert!(matches!(
            classify("fatal: couldn't find remote ref refs/heads/nope".into()),
            RepoError::NotFound(_)
        ));
        assert!(matches!(
            classify("fatal: unable to connect to 127.0.0.1: Connection refused".into()),
            RepoError::Transient(_)
        ));
        assert!(matches!(
            classify("error: RPC failed; HTTP 502".into()),
            RepoError::Transient(_)
        ));
    }
}
