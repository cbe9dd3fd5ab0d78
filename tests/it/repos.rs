//! Fetching repositories (issue 11) through the library, against repositories the tests
//! make with `git init` and serve with a real `git daemon` (git://) and `git http-backend`
//! (smart HTTP), and read from allowed local directories: the commit fetched is the one
//! `git rev-parse` names, the files are read from the object store, the same commit again
//! is `Unchanged`, missing repositories and refs fail at once while refused connections are
//! retried, and hostile names, private hosts, paths outside the allowed directories, a
//! server that never answers and a repository over the size cap each fail with their reason.

use std::{path::Path, time::Duration};

use crawlium::{
    net_policy::NetPolicy,
    repos::{
        Caps, Fetch, Fetched, LocalDirs, RepoError, RepoRequest, RepoRules, RepoSettings, Repos,
    },
};

use crate::support::git::{GitDaemon, GitHttp, Repos as TestRepos, git, noise};

fn settings(cache: &Path, allowed: &Path) -> RepoSettings {
    RepoSettings {
        git: "git".into(),
        cache_dir: cache.to_path_buf(),
        rules: RepoRules {
            policy: NetPolicy {
                allow_private: true,
                ..NetPolicy::default()
            },
            local: LocalDirs::Within(vec![allowed.to_path_buf()]),
        },
        timeout: Duration::from_secs(60),
        max_repo_bytes: 50 * 1024 * 1024,
        max_file_bytes: 64 * 1024,
    }
}

fn request(repo: &str) -> RepoRequest {
    RepoRequest {
        repo: repo.into(),
        ..RepoRequest::default()
    }
}

fn fetched(outcome: Result<Fetch, RepoError>) -> Fetched {
    match outcome {
        Ok(Fetch::Fetched(fetched)) => *fetched,
        other => panic!("expected a fetch: {other:?}"),
    }
}

async fn contents(repos: &Repos, fetched: &Fetched) -> Vec<(String, String)> {
    let read = repos.read(fetched, &fetched.files).await.unwrap();
    fetched
        .files
        .iter()
        .zip(read)
        .map(|(f, bytes)| (f.path.clone(), String::from_utf8(bytes).unwrap()))
        .collect()
}

const FILES: &[(&str, &str)] = &[
    ("README.md", "# Demo\n\nA demo library.\n"),
    ("src/lib.py", "def run_stream(x):\n    return x\n"),
    ("docs/guide.md", "# Guide\n"),
];

#[tokio::test]
async fn a_repository_is_fetched_over_git_http_and_file_at_the_commit_git_names() {
    let made = TestRepos::new();
    let commit = made.create("demo", FILES);
    let (daemon, http) = (
        GitDaemon::serve(made.root()).await,
        GitHttp::serve(made.root()).await,
    );
    let cache = tempfile::tempdir().unwrap();
    let repos = Repos::new(settings(cache.path(), made.root()));
    let local = made.path("demo").display().to_string();
    for url in [daemon.url("demo"), http.url("demo"), local.clone()] {
        let got = fetched(
            repos
                .fetch(&request(&url), Caps::default(), &|_| None)
                .await,
        );
        assert_eq!(got.commit, commit, "{url}");
        assert_eq!(got.git_ref, "main", "{url}");
        let mut files = contents(&repos, &got).await;
        files.sort();
        let mut expected: Vec<(String, String)> = FILES
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect();
        expected.sort();
        assert_eq!(files, expected, "{url}");
    }
    let named = fetched(
        repos
            .fetch(&request(&daemon.url("demo")), Caps::default(), &|_| None)
            .await,
    );
    let address = daemon.url("demo").trim_start_matches("git://").to_string();
    assert_eq!(named.identity, format!("{address}@main"));
    // Only the asked-for subdirectory; a file over the size cap is left out, said so.
    made.commit("demo", &[("docs/big.md", &"x".repeat(100 * 1024))], "big");
    let sub = fetched(
        repos
            .fetch(
                &RepoRequest {
                    repo: http.url("demo"),
                    git_ref: None,
                    subdir: Some("docs".into()),
                },
                Caps::default(),
                &|_| None,
            )
            .await,
    );
    let paths: Vec<&str> = sub.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["docs/guide.md"]);
    assert_eq!(sub.warnings.len(), 1, "{:?}", sub.warnings);
    assert!(
        sub.warnings[0].contains("docs/big.md"),
        "{:?}",
        sub.warnings
    );
    assert!(
        sub.identity.ends_with("/demo/docs@main"),
        "{}",
        sub.identity
    );
}

#[tokio::test]
async fn the_same_commit_is_unchanged_a_new_one_is_fetched_and_two_tags_coexist() {
    let made = TestRepos::new();
    let first = made.create("lib", FILES);
    git(&made.path("lib"), &["tag", "-a", "v1", "-m", "one"]);
    let http = GitHttp::serve(made.root()).await;
    let cache = tempfile::tempdir().unwrap();
    let repos = Repos::new(settings(cache.path(), made.root()));
    let url = http.url("lib");

    let got = fetched(
        repos
            .fetch(&request(&url), Caps::default(), &|_| None)
            .await,
    );
    assert_eq!(got.commit, first);
    match repos
        .fetch(&request(&url), Caps::default(), &|_| Some(first.clone()))
        .await
    {
        Ok(Fetch::Unchanged {
            commit, git_ref, ..
        }) => {
            assert_eq!(
                (commit.as_str(), git_ref.as_str()),
                (first.as_str(), "main")
            )
        }
        other => panic!("expected unchanged: {other:?}"),
    }

    let second = made.commit("lib", &[("src/lib.py", "def other():\n    pass\n")], "two");
    git(&made.path("lib"), &["tag", "v2"]);
    let moved = fetched(
        repos
            .fetch(&request(&url), Caps::default(), &|_| Some(first.clone()))
            .await,
    );
    assert_eq!(moved.commit, second);
    // An annotated tag (peeled to its commit) and a light one, side by side in one cache.
    let at = |tag: &str| RepoRequest {
        repo: url.clone(),
        git_ref: Some(tag.into()),
        subdir: None,
    };
    let (v1, v2) = (
        fetched(repos.fetch(&at("v1"), Caps::default(), &|_| None).await),
        fetched(repos.fetch(&at("v2"), Caps::default(), &|_| None).await),
    );
    assert_eq!(
        (v1.commit.as_str(), v2.commit.as_str()),
        (first.as_str(), second.as_str())
    );
    assert_ne!(v1.identity, v2.identity);
    assert_eq!(v1.cache, v2.cache);
    let old = contents(&repos, &v1).await;
    assert!(
        old.iter()
            .any(|(p, t)| p == "src/lib.py" && t.contains("run_stream"))
    );
    // A commit id works as a ref.
    let by_id = fetched(repos.fetch(&at(&first), Caps::default(), &|_| None).await);
    assert_eq!(by_id.commit, first);
}

#[tokio::test]
async fn missing_repositories_and_refs_fail_at_once_and_refused_connections_are_retried() {
    let made = TestRepos::new();
    made.create("here", FILES);
    let (daemon, http) = (
        GitDaemon::serve(made.root()).await,
        GitHttp::serve(made.root()).await,
    );
    let cache = tempfile::tempdir().unwrap();
    let repos = Repos::new(settings(cache.path(), made.root()));

    for url in [http.url("missing"), daemon.url("missing")] {
        let (outcome, attempts) = repos
            .fetch_with_retries(&request(&url), Caps::default(), &|_| None, 2)
            .await;
        assert!(
            matches!(outcome, Err(RepoError::NotFound(_))),
            "{url}: {outcome:?}"
        );
        assert_eq!(attempts, 1, "{url}");
    }
    let no_ref = RepoRequest {
        repo: http.url("here"),
        git_ref: Some("nope".into()),
        subdir: None,
    };
    let (outcome, attempts) = repos
        .fetch_with_retries(&no_ref, Caps::default(), &|_| None, 2)
        .await;
    match outcome {
        Err(RepoError::NotFound(why)) => assert!(why.contains("'nope'"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(attempts, 1);

    // Nothing listens: transient, so asked again, then the reason.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{closed}/x");
    let (outcome, attempts) = repos
        .fetch_with_retries(&request(&url), Caps::default(), &|_| None, 2)
        .await;
    assert!(
        matches!(outcome, Err(RepoError::Transient(_))),
        "{outcome:?}"
    );
    assert_eq!(attempts, 3);
}

#[tokio::test]
async fn hostile_names_private_hosts_and_foreign_paths_are_refused_before_git_runs() {
    let made = TestRepos::new();
    made.create("ok", FILES);
    let outside = tempfile::tempdir().unwrap();
    let marker = outside.path().join("pwned");
    let cache = tempfile::tempdir().unwrap();
    let mut strict = settings(cache.path(), made.root());
    strict.rules.policy.allow_private = false;
    let repos = Repos::new(strict);
    let http = GitHttp::serve(made.root()).await;
    let hostile = [
        format!("--upload-pack=touch {}", marker.display()),
        format!("ext::sh -c touch% {}", marker.display()),
        outside.path().display().to_string(),
        format!(
            "{}/ok/../../{}",
            made.root().display(),
            outside.path().display()
        ),
        http.url("ok"),
        "ssh://example.org/x".into(),
        "git@example.org:o/n".into(),
    ];
    for repo in &hostile {
        match repos
            .fetch(&request(repo), Caps::default(), &|_| None)
            .await
        {
            Err(RepoError::Refused(why)) => eprintln!("{repo}: {why}"),
            other => panic!("{repo}: {other:?}"),
        }
    }
    assert!(!marker.exists(), "nothing ran");
    // The allowed local repository still works on the same server.
    let ok = made.path("ok").display().to_string();
    assert!(matches!(
        repos.fetch(&request(&ok), Caps::default(), &|_| None).await,
        Ok(Fetch::Fetched(_))
    ));
}

#[tokio::test]
async fn a_server_that_never_answers_and_a_repository_over_the_cap_fail_with_their_reason() {
    let made = TestRepos::new();
    made.create("huge", &[("data.txt", &noise(3 * 1024 * 1024))]);
    let http = GitHttp::serve(made.root()).await;
    let cache = tempfile::tempdir().unwrap();
    let mut capped = settings(cache.path(), made.root());
    capped.max_repo_bytes = 512 * 1024;
    let repos = Repos::new(capped);
    match repos
        .fetch(&request(&http.url("huge")), Caps::default(), &|_| None)
        .await
    {
        Err(RepoError::TooLarge(why)) => assert!(why.contains("larger than the cap"), "{why}"),
        other => panic!("{other:?}"),
    }

    // Accepts and never answers: stopped at the repository's deadline, git's whole group.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let mut hasty = settings(cache.path(), made.root());
    hasty.timeout = Duration::from_secs(3);
    let repos = Repos::new(hasty);
    let started = std::time::Instant::now();
    let outcome = repos
        .fetch(
            &request(&format!("http://127.0.0.1:{port}/x")),
            Caps::default(),
            &|_| None,
        )
        .await;
    assert!(
        matches!(outcome, Err(RepoError::TimedOut(_))),
        "{outcome:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    // git and the transport helper it started are gone, not left waiting on the socket.
    assert_gone(&format!("127.0.0.1:{port}/x")).await;

    // A fetch given up by its caller (a cancelled job) takes git's whole group too.
    let patient = Repos::new(settings(cache.path(), made.root()));
    let address = format!("127.0.0.1:{port}/dropped");
    let url = format!("http://{address}");
    let asked = request(&url);
    let mut fetch = Box::pin(patient.fetch(&asked, Caps::default(), &|_| None));
    let started = crate::support::wait::eventually(Duration::from_secs(10), || {
        !crate::support::processes::mentioning(&address).is_empty()
    });
    tokio::select! {
        outcome = &mut fetch => panic!("the fetch ended: {outcome:?}"),
        running = started => assert!(running, "git never connected"),
    }
    drop(fetch);
    assert_gone(&address).await;
    held.abort();
}

/// No process mentions `address` any more (within a generous 10 s).
async fn assert_gone(address: &str) {
    let gone = crate::support::wait::eventually(Duration::from_secs(10), || {
        crate::support::processes::mentioning(address).is_empty()
    })
    .await;
    assert!(
        gone,
        "{address}: {:?}",
        crate::support::processes::mentioning(address)
    );
}
