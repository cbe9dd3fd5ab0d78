//! The command line: --help and --version, one-line errors for bad settings, the refusal to
//! serve a public address unauthenticated, precedence of flags over env over .env, doctor.

use std::process::Output;

use crate::support::{
    server::{command, root},
    site::CrawlSite,
};

async fn run(dir: &std::path::Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = command(dir);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .env_remove("RUST_LOG");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    tokio::time::timeout(std::time::Duration::from_secs(30), cmd.output())
        .await
        .expect("finished in time")
        .unwrap()
}

#[tokio::test]
async fn help_documents_every_flag_and_env_var() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["--help"], &[]).await;
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--port",
        "CRAWLIUM_PORT",
        "--host",
        "--allow-unauthenticated",
        "CRAWLIUM_AUTH_TOKENS",
        "CRAWLIUM_ALLOWED_HOSTS",
        "CRAWLIUM_ALLOWED_ORIGINS",
        "CRAWLIUM_CORS_ORIGINS",
        "CRAWLIUM_MAX_BODY_BYTES",
        "METRICS_REQUIRE_AUTH",
        "SHUTDOWN_GRACE_SECS",
        "LOG_FORMAT",
        "RUST_LOG",
        "CRAWLIUM_DATA_DIR",
        "DATABASE_URL",
        "REDIS_URL",
        "CHROME_PATH",
        "CRAWL_HOST_CONCURRENCY",
        "CRAWL_MEMORY_THRESHOLD_MB",
        "doctor",
        "crawl",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}");
    }
    let out = run(dir.path(), &["--version"], &[]).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[tokio::test]
async fn every_documented_setting_is_in_env_example() {
    let example = std::fs::read_to_string(root().join(".env.example")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let help = String::from_utf8_lossy(&run(dir.path(), &["--help"], &[]).await.stdout).to_string();
    let vars: Vec<&str> = help
        .split("[env: ")
        .skip(1)
        .map(|rest| rest.split(['=', ']']).next().unwrap())
        .collect();
    assert!(vars.len() >= 15, "{vars:?}");
    for var in vars {
        assert!(
            example.contains(&format!("{var}=")),
            ".env.example lacks {var}"
        );
    }
}

#[tokio::test]
async fn bad_settings_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &[], &[("LOG_FORMAT", "xml")]).await;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("LOG_FORMAT") && err.contains("pretty, json"),
        "{err}"
    );

    let out = run(dir.path(), &["--port", "0", "--host", "0.0.0.0"], &[]).await;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("--allow-unauthenticated"), "{err}");

    let out = run(dir.path(), &[], &[("CRAWLIUM_AUTH_TOKENS", "tooshort")]).await;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("CRAWLIUM_AUTH_TOKENS") && !err.contains("tooshort"),
        "{err}"
    );
}

#[tokio::test]
async fn flag_beats_env_beats_dotenv() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "LOG_FORMAT=xml\nSHUTDOWN_GRACE_SECS=oops\n",
    )
    .unwrap();
    // .env alone is read (and its bad value reported)...
    let out = run(dir.path(), &["doctor"], &[]).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // ...the environment overrides .env...
    let out = run(
        dir.path(),
        &["doctor"],
        &[("LOG_FORMAT", "json"), ("SHUTDOWN_GRACE_SECS", "3")],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // ...and a flag overrides the environment.
    let out = run(
        dir.path(),
        &[
            "--log-format",
            "pretty",
            "--shutdown-grace-secs",
            "3",
            "doctor",
        ],
        &[("LOG_FORMAT", "xml")],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn doctor_prints_a_table_with_fixes() {
    let dir = tempfile::tempdir().unwrap();
    let redis = std::env::var("TEST_REDIS_URL").unwrap_or("redis://127.0.0.1:6379".into());
    let database = std::env::var("TEST_DATABASE_URL")
        .unwrap_or("postgres://postgres@127.0.0.1:5432/test".into());
    let out = run(
        dir.path(),
        &["doctor"],
        &[("REDIS_URL", &redis), ("DATABASE_URL", &database)],
    )
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for row in [
        "config",
        "data dir",
        "chromium",
        "database",
        "redis",
        "embedding model",
    ] {
        assert!(text.contains(row), "{text}");
    }
    assert!(text.contains("answers PING"), "{text}");
    assert!(
        text.contains("keyword search only") && text.contains("tools/fetch-model.sh"),
        "{text}"
    );
    assert!(
        text.contains("PostgreSQL") && text.contains("answers"),
        "{text}"
    );

    let out = run(
        dir.path(),
        &["doctor"],
        &[("REDIS_URL", "redis://127.0.0.1:1")],
    )
    .await;
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAIL") && text.contains("Fixes:") && text.contains("REDIS_URL"),
        "{text}"
    );

    // A model directory without the model fails; the real one passes.
    let empty = dir.path().to_str().unwrap();
    let out = run(dir.path(), &["doctor"], &[("EMBEDDING_MODEL_DIR", empty)]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        text.contains("lacks model.safetensors, tokenizer.json"),
        "{text}"
    );
    let model = std::env::var("CRAWLIUM_TEST_MODEL_DIR").unwrap();
    let out = run(dir.path(), &["doctor"], &[("EMBEDDING_MODEL_DIR", &model)]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("all-MiniLM-L6-v2 in"), "{text}");
}

#[tokio::test]
async fn crawl_runs_a_job_from_the_command_line_and_fails_loudly() {
    let site = CrawlSite::start().await;
    let dir = tempfile::tempdir().unwrap();
    let private = [("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true")];
    let url = site.url("/");
    let out = run(
        dir.path(),
        &["crawl", &url, "--max-depth", "1", "--json"],
        &private,
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(job["status"], "succeeded");
    // The terminal shows the bar and the outcome, not the server's INFO log.
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!said.contains("INFO"), "{said}");
    assert_eq!(job["progress"]["done"], 4, "/ /a /b /trap/1: {job:#}");
    assert_eq!(job["progress"]["skipped"], 1);

    // The summary table, and what the store kept is visible to a server on the same data dir.
    let out = run(dir.path(), &["crawl", &url, "--sitemap"], &private).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    for row in [
        "status       succeeded",
        "pages done   7",
        "skipped      1",
        "pages/s",
        "memory       peak",
    ] {
        assert!(table.contains(row), "{row}: {table}");
    }

    let out = run(
        dir.path(),
        &["crawl", &site.url("/missing"), "--max-depth", "0"],
        &private,
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "a failed job exits 1");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("HTTP 404"), "{table}");

    let out = run(dir.path(), &["crawl", "ftp://example.com/"], &private).await;
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        said.matches("not an http(s) URL").count(),
        1,
        "said once: {said}"
    );

    // A flag past the crawl tools' limits is refused by its own name, before anything runs.
    for (flag, value, range) in [
        ("--max-concurrent", "100", "1..=64"),
        ("--max-pages", "100001", "1..=100000"),
        ("--max-depth", "101", "0..=100"),
    ] {
        let out = run(dir.path(), &["crawl", &url, flag, value], &private).await;
        assert_eq!(out.status.code(), Some(2), "{flag}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(flag) && stderr.contains(range) && !stderr.contains("maxConcurrent"),
            "{flag}: {stderr}"
        );
    }
}

#[tokio::test]
async fn boolean_flags_work_bare_or_with_a_value() {
    let site = CrawlSite::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = site.url("/");
    for flag in ["--allow-private-networks", "--allow-private-networks=true"] {
        let out = run(
            dir.path(),
            &[flag, "crawl", &url, "--max-depth", "0", "--json"],
            &[],
        )
        .await;
        assert!(
            out.status.success(),
            "{flag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = run(
        dir.path(),
        &[
            "--allow-private-networks=false",
            "crawl",
            &url,
            "--max-depth",
            "0",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "private addresses refused");
    assert!(String::from_utf8_lossy(&out.stdout).contains("CRAWLIUM_ALLOW_PRIVATE_NETWORKS"));
}
