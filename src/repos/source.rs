//! What a repository to index is, checked before git ever runs.
//!
//! A repository is named by a URL (`https`, `http` or `git`) or, inside the directories
//! local indexing is allowed in, by an absolute path or a `file://` URL; with an optional ref
//! (branch, tag or commit) and subdirectory. Everything else is refused with the reason: a
//! name starting with `-` (git would read it as an option), a transport such as `ext::` or
//! `fd::`, ssh and scp-like `user@host:path` names, credentials in the URL, a host the
//! network policy refuses, a path outside the allowed directories, a ref git would not
//! accept. A repository's identity is `host/path@ref` (`local/abs/path@ref` for a local
//! one): forks and same-named repositories never merge, and two refs of one repository are
//! two sources.

use std::path::{Component, Path, PathBuf};

use url::Url;

use super::RepoError;
use crate::net_policy::NetPolicy;

/// Where local repositories may be read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalDirs {
    /// Anywhere this process can read (a local stdio server with nothing configured).
    Any,
    /// Only inside these directories (none: local paths are refused).
    Within(Vec<PathBuf>),
}

/// What may be fetched: the network policy for remote hosts, the allowed directories for
/// local paths.
#[derive(Debug, Clone)]
pub struct RepoRules {
    /// Hosts and addresses remote repositories may be fetched from.
    pub policy: NetPolicy,
    /// Where local repositories may be read from.
    pub local: LocalDirs,
}

/// A repository as the caller asked for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RepoRequest {
    /// A URL or an absolute local path.
    pub repo: String,
    /// A branch, tag or full commit id; default: the remote's HEAD.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    /// Index only this directory of the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subdir: Option<String>,
}

/// Where a checked repository is fetched from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A remote URL (https, http or git); its host passed the network policy.
    Remote(Url),
    /// A local repository, canonicalised, inside the allowed directories.
    Local(PathBuf),
}

/// A repository that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoSource {
    /// Where it is fetched from.
    pub location: Location,
    /// The ref asked for, if any.
    pub git_ref: Option<String>,
    /// The subdirectory asked for, if any (relative, `/`-separated, no `..`).
    pub subdir: Option<String>,
    /// `host/path` (`local/abs/path`), without `.git`: the identity before its ref.
    pub name: String,
}

impl RepoSource {
    /// The URL git is given (`file://` for a local repository, so a shallow fetch works).
    pub fn git_url(&self) -> String {
        match &self.location {
            Location::Remote(url) => url.to_string(),
            Location::Local(path) => Url::from_file_path(path)
                .map(String::from)
                .unwrap_or_else(|()| format!("file://{}", path.display())),
        }
    }

    /// The identity of this repository at `git_ref` (the ref asked for, or the name of
    /// the remote's HEAD branch): `host/path@ref`.
    pub fn identity(&self, git_ref: &str) -> String {
        match &self.subdir {
            Some(subdir) => format!("{}/{subdir}@{git_ref}", self.name),
            None => format!("{}@{git_ref}", self.name),
        }
    }

    /// Whether it is read from this machine's disk.
    pub fn is_local(&self) -> bool {
        matches!(self.location, Location::Local(_))
    }
}

/// Checks a requested repository against `rules`. Names resolving to addresses the policy
/// refuses are caught later, right before git connects ([`check_addresses`]).
pub fn check(request: &RepoRequest, rules: &RepoRules) -> Result<RepoSource, RepoError> {
    let repo = request.repo.trim();
    let refuse = |why: String| Err(RepoError::Refused(why));
    if repo.is_empty() {
        return refuse("the repository is empty: give an https URL or a local path".into());
    }
    if repo.starts_with('-') {
        return refuse(format!(
            "'{repo}' starts with '-', which git would read as an option"
        ));
    }
    if repo.contains("::") {
        return refuse(format!(
            "'{repo}' names a git remote helper transport; only https, http and git URLs (and \
             local paths) are indexed"
        ));
    }
    if repo.chars().any(char::is_control) {
        return refuse("the repository name contains control characters".into());
    }
    let git_ref = request.git_ref.as_deref().map(check_ref).transpose()?;
    let subdir = request.subdir.as_deref().map(check_subdir).transpose()?;
    let (location, name) = if repo.starts_with('/') {
        local(Path::new(repo), rules)?
    } else {
        match Url::parse(repo) {
            Ok(url) if url.scheme() == "file" => {
                let path = url.to_file_path().map_err(|()| {
                    RepoError::Refused(format!("'{repo}' is not a local path this server reads"))
                })?;
                local(&path, rules)?
            }
            Ok(url) => remote(url, rules)?,
            Err(_) if looks_like_scp(repo) => {
                return refuse(format!(
                    "'{repo}' is an ssh address; ssh is not used: give the https URL"
                ));
            }
            Err(_) => {
                return refuse(format!(
                    "'{repo}' is neither a URL nor an absolute path: give an https URL (such as \
                     https://github.com/owner/name) or an absolute local path"
                ));
            }
        }
    };
    Ok(RepoSource {
        location,
        git_ref,
        subdir,
        name,
    })
}

/// `user@host:path` or `host:path`: what git reads as ssh.
fn looks_like_scp(repo: &str) -> bool {
    match repo.split_once(':') {
        Some((host, _)) => !host.is_empty() && !host.contains('/'),
        None => false,
    }
}

fn remote(url: Url, rules: &RepoRules) -> Result<(Location, String), RepoError> {
    let scheme = url.scheme().to_string();
    if !matches!(scheme.as_str(), "https" | "http" | "git") {
        return Err(RepoError::Refused(format!(
            "'{scheme}' repositories are not fetched; use an https, http or git URL"
        )));
    }
    // git:// is not a special scheme to the URL parser: its host is checked in its http
    // spelling, where every form of an IP address is normalised.
    let checked = if scheme == "git" {
        let authority = url[url::Position::BeforeUsername..url::Position::AfterPort].to_string();
        Url::parse(&format!("http://{authority}/"))
            .map_err(|e| RepoError::Refused(format!("'{url}' has no valid host ({e})")))?
    } else {
        url.clone()
    };
    if checked.host_str().is_none_or(str::is_empty) {
        return Err(RepoError::Refused(format!("'{url}' has no host")));
    }
    rules
        .policy
        .check_url(&checked)
        .map_err(|blocked| RepoError::Refused(blocked.to_string()))?;
    let mut url = url;
    url.set_fragment(None);
    let host = match checked.port() {
        Some(port) => format!("{}:{port}", checked.host_str().unwrap_or_default()),
        None => checked.host_str().unwrap_or_default().to_string(),
    };
    let path = url.path().trim_end_matches('/').trim_end_matches(".git");
    let path = path.trim_end_matches('/');
    if path.is_empty() {
        return Err(RepoError::Refused(format!(
            "'{url}' names a host but no repository on it"
        )));
    }
    Ok((Location::Remote(url.clone()), format!("{host}{path}")))
}

fn local(path: &Path, rules: &RepoRules) -> Result<(Location, String), RepoError> {
    let allowed = match &rules.local {
        LocalDirs::Any => None,
        LocalDirs::Within(dirs) if dirs.is_empty() => {
            return Err(RepoError::Refused(format!(
                "local repositories are not indexed by this server ({}): set REPO_ALLOWED_DIRS to \
                 the directories it may read, or give a URL",
                path.display()
            )));
        }
        LocalDirs::Within(dirs) => Some(dirs),
    };
    let canonical = match (path.canonicalize(), allowed) {
        (Ok(canonical), _) => canonical,
        (Err(e), None) => return Err(RepoError::NotFound(format!("{}: {e}", path.display()))),
        // Said the same way as a path outside: a caller learns nothing of what exists.
        (Err(_), Some(_)) => return Err(outside(path)),
    };
    if let Some(dirs) = allowed {
        let inside = dirs.iter().any(|dir| {
            dir.canonicalize()
                .is_ok_and(|dir| canonical.starts_with(dir))
        });
        if !inside {
            return Err(outside(path));
        }
    }
    let name = format!(
        "local{}",
        canonical.display().to_string().trim_end_matches(".git")
    );
    Ok((Location::Local(canonical), name))
}

fn outside(path: &Path) -> RepoError {
    RepoError::Refused(format!(
        "{} is not a repository inside the directories this server may read (REPO_ALLOWED_DIRS)",
        path.display()
    ))
}

/// A ref git accepts (`git check-ref-format` rules, and a full commit id).
fn check_ref(git_ref: &str) -> Result<String, RepoError> {
    let git_ref = git_ref.trim();
    let bad = git_ref.is_empty()
        || git_ref.starts_with('-')
        || git_ref.starts_with('/')
        || git_ref.ends_with('/')
        || git_ref.ends_with('.')
        || git_ref.ends_with(".lock")
        || git_ref.contains("..")
        || git_ref.contains("@{")
        || git_ref.contains("//")
        || git_ref == "@"
        || git_ref
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c));
    if bad {
        return Err(RepoError::Refused(format!(
            "'{git_ref}' is not a valid ref: give a branch, tag or full commit id"
        )));
    }
    Ok(git_ref.to_string())
}

/// A relative subdirectory without `..`.
fn check_subdir(subdir: &str) -> Result<String, RepoError> {
    let trimmed = subdir.trim().trim_matches('/');
    let path = Path::new(trimmed);
    let plain = !trimmed.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)));
    if !plain {
        return Err(RepoError::Refused(format!(
            "subdir '{subdir}' must be a directory inside the repository, such as 'docs' or \
             'src/lib' (no '..')"
        )));
    }
    Ok(trimmed.to_string())
}

/// Checks every address `url`'s host resolves to against the policy, right before git
/// connects (a name that resolves to a private address is refused like the address).
pub async fn check_addresses(source: &RepoSource, policy: &NetPolicy) -> Result<(), RepoError> {
    let Location::Remote(url) = &source.location else {
        return Ok(());
    };
    let host = url.host_str().unwrap_or_default().to_string();
    let port = url.port_or_known_default().unwrap_or(9418);
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let addresses = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| RepoError::Transient(format!("cannot resolve {host}: {e}")))?;
    for address in addresses {
        policy
            .check_addr(address.ip())
            .map_err(|blocked| RepoError::Refused(blocked.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(local: LocalDirs) -> RepoRules {
        RepoRules {
            policy: NetPolicy::default(),
            local,
        }
    }

    fn request(repo: &str) -> RepoRequest {
        RepoRequest {
            repo: repo.into(),
            ..RepoRequest::default()
        }
    }

    fn refused(repo: &str, rules: &RepoRules) -> String {
        match check(&request(repo), rules) {
            Err(RepoError::Refused(why)) => why,
            other => panic!("{repo}: {other:?}"),
        }
    }

    #[test]
    fn urls_are_named_by_host_and_path() {
        let rules = rules(LocalDirs::Within(vec![]));
        let source = check(&request("https://GitHub.com/Owner/Name.git/"), &rules).unwrap();
        assert_eq!(source.name, "github.com/Owner/Name");
        assert_eq!(source.identity("main"), "github.com/Owner/Name@main");
        let git = check(&request("git://example.org:9419/x/y"), &rules).unwrap();
        assert_eq!(git.name, "example.org:9419/x/y");
        let sub = check(
            &RepoRequest {
                repo: "https://example.org/a/b".into(),
                git_ref: Some("v1.2".into()),
                subdir: Some("/docs/".into()),
            },
            &rules,
        )
        .unwrap();
        assert_eq!(sub.identity("v1.2"), "example.org/a/b/docs@v1.2");
    }

    #[test]
    fn hostile_names_are_refused_with_the_reason() {
        let rules = rules(LocalDirs::Within(vec![]));
        assert!(refused("--upload-pack=touch /tmp/x", &rules).contains("option"));
        assert!(refused("ext::sh -c touch% /tmp/x", &rules).contains("transport"));
        assert!(refused("fd::17", &rules).contains("transport"));
        assert!(refused("ssh://host/x", &rules).contains("'ssh'"));
        assert!(refused("git@github.com:o/n.git", &rules).contains("ssh"));
        assert!(refused("https://user:pw@example.org/x", &rules).contains("credentials"));
        assert!(refused("https://127.0.0.1/x", &rules).contains("not a public address"));
        assert!(refused("git://0x7f.1/x", &rules).contains("not a public address"));
        assert!(refused("https://example.org/", &rules).contains("no repository"));
        assert!(refused("/tmp", &rules).contains("REPO_ALLOWED_DIRS"));
        assert!(refused("relative/path", &rules).contains("absolute"));
        for bad in ["-x", "a..b", "a b", "a:b", "x@{1}", "a.lock", "^HEAD"] {
            let why = match check(
                &RepoRequest {
                    repo: "https://example.org/a/b".into(),
                    git_ref: Some(bad.into()),
                    subdir: None,
                },
                &rules,
            ) {
                Err(RepoError::Refused(why)) => why,
                other => panic!("{bad}: {other:?}"),
            };
            assert!(why.contains("not a valid ref"), "{bad}: {why}");
        }
        for bad in ["..", "a/../../b", "", "/"] {
            let checked = check(
                &RepoRequest {
                    repo: "https://example.org/a/b".into(),
                    git_ref: None,
                    subdir: Some(bad.into()),
                },
                &rules,
            );
            assert!(
                matches!(checked, Err(RepoError::Refused(ref why)) if why.contains("subdir")),
                "{bad}: {checked:?}"
            );
        }
    }

    #[test]
    fn local_paths_only_inside_the_allowed_dirs() {
        let allowed = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let repo = allowed.path().join("repo");
        std::fs::create_dir(&repo).unwrap();
        let rules = rules(LocalDirs::Within(vec![allowed.path().to_path_buf()]));
        let source = check(&request(repo.to_str().unwrap()), &rules).unwrap();
        assert_eq!(
            source.location,
            Location::Local(repo.canonicalize().unwrap())
        );
        assert!(source.git_url().starts_with("file:///"));
        let url = format!("file://{}", repo.display());
        assert!(check(&request(&url), &rules).unwrap().is_local());
        let outside = other.path().to_str().unwrap();
        assert!(refused(outside, &rules).contains("REPO_ALLOWED_DIRS"));
        assert!(refused("/no/such/dir", &rules).contains("REPO_ALLOWED_DIRS"));
        let escape = format!(
            "{}/repo/../../{}",
            allowed.path().display(),
            other.path().display()
        );
        assert!(refused(&escape, &rules).contains("REPO_ALLOWED_DIRS"));
        assert!(check(&request(outside), &super::tests::rules(LocalDirs::Any)).is_ok());
    }

    #[test]
    fn private_hosts_pass_only_when_the_policy_allows_them() {
        let open = RepoRules {
            policy: NetPolicy {
                allow_private: true,
                ..NetPolicy::default()
            },
            local: LocalDirs::Any,
        };
        assert!(check(&request("git://127.0.0.1:9418/r"), &open).is_ok());
        let denied = RepoRules {
            policy: NetPolicy {
                deny_hosts: vec!["example.org".into()],
                ..NetPolicy::default()
            },
            local: LocalDirs::Any,
        };
        assert!(refused("https://git.example.org/a/b", &denied).contains("example.org"));
    }
}
