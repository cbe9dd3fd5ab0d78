//! The browser pool on its own, with real headless Chromium: lifetime recycling, crash
//! detection and replacement, a missing Chromium, remote endpoints and their capacity, and
//! clean-up that leaves no process or profile dir behind. A full pool's "capacity exhausted"
//! answer within the acquire timeout is tested through MCP, in browser.rs.

use std::time::{Duration, Instant};

use crawlium::{
    browser::{BrowserError, Pool, PoolSettings, cdp, find_chromium},
    metrics::Metrics,
};
use serde_json::Value;

use crate::support::{
    processes::{group_members, profile_of},
    remote_chromium::RemoteChromium,
    serial,
    server::signal,
    wait::eventually,
};

fn settings(max_processes: u32, max_contexts: u32, max_lifetime: u32) -> PoolSettings {
    PoolSettings {
        chrome_path: find_chromium(None),
        max_processes,
        min_processes: 0,
        max_contexts,
        max_lifetime_contexts: max_lifetime,
        acquire_timeout: Duration::from_millis(800),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_process_is_recycled_after_its_lifetime_and_a_new_one_serves() {
    let _serial = serial::lock().await;
    let metrics = Metrics::new();
    let pool = Pool::new(settings(2, 4, 3), metrics.browser());
    let mut pids = Vec::new();
    for _ in 0..3 {
        let (lease, _) = pool.acquire().await.unwrap();
        pids.push(lease.pid().unwrap());
        lease.close().await;
    }
    assert!(
        pids.iter().all(|p| *p == pids[0]),
        "lifetime-first: {pids:?}"
    );
    let old = pids[0];
    // Its third context reached the lifetime: it retires once that context closed.
    assert!(
        eventually(Duration::from_secs(5), || group_members(old).is_empty()).await,
        "the retired Chromium (group {old}) is still running: {:?}",
        group_members(old)
    );
    let (lease, _) = pool.acquire().await.unwrap();
    assert_ne!(lease.pid(), Some(old));
    assert!(
        eventually(Duration::from_secs(5), || pool.status().processes.len()
            == 1)
        .await,
        "{:?}",
        pool.status()
    );
    assert!(
        metrics
            .render()
            .contains("crawlium_browser_recycles_total 1"),
        "{}",
        metrics.render()
    );
    pool.shutdown().await;
}

#[tokio::test]
async fn a_killed_chromium_fails_only_its_own_contexts_and_is_replaced() {
    let _serial = serial::lock().await;
    let metrics = Metrics::new();
    // Two contexts per process: the first two fill process A, the third goes to B.
    let pool = Pool::new(settings(2, 2, 50), metrics.browser());
    let (doomed, _) = pool.acquire().await.unwrap();
    let (doomed_too, _) = pool.acquire().await.unwrap();
    let (survivor, survivor_tab) = pool.acquire().await.unwrap();
    let survivor_page = survivor_tab.tab.page();
    let doomed_pid = doomed.pid().unwrap();
    assert_eq!(doomed_too.pid(), Some(doomed_pid));
    assert_ne!(survivor.pid(), Some(doomed_pid));
    let doomed_profile = profile_of(doomed_pid);
    // Let B's spare context be ready, as it is on a server that has been up a while.
    assert!(
        eventually(Duration::from_secs(5), || pool
            .status()
            .processes
            .iter()
            .all(|p| p.spare_ready || p.contexts == 2))
        .await
    );

    signal(doomed_pid, "KILL");
    let killed = Instant::now();
    assert!(
        eventually(Duration::from_secs(2), || doomed.dead().is_cancelled()
            && doomed_too.dead().is_cancelled())
        .await,
        "the crash was not noticed within 2 s"
    );
    // Its whole process group goes, not just the main process.
    assert!(
        eventually(Duration::from_secs(2), || group_members(doomed_pid)
            .is_empty())
        .await,
        "{:?}",
        group_members(doomed_pid)
    );
    // A new context is served within 2 s of the kill.
    let (fresh, _) = pool.acquire().await.unwrap();
    assert!(
        killed.elapsed() < Duration::from_secs(2),
        "{:?}",
        killed.elapsed()
    );
    assert_ne!(fresh.pid(), Some(doomed_pid));
    // The other process's context still works.
    assert!(!survivor.dead().is_cancelled());
    let title = tokio::time::timeout(Duration::from_secs(5), survivor_page.get_title())
        .await
        .unwrap();
    assert!(title.is_ok(), "{title:?}");
    // The dead process is replaced, and leaves nothing behind.
    assert!(
        eventually(Duration::from_secs(10), || {
            let status = pool.status();
            status.processes.len() == 2
                && status.processes.iter().all(|p| p.pid != Some(doomed_pid))
        })
        .await,
        "{:?}",
        pool.status()
    );
    assert!(
        metrics
            .render()
            .contains("crawlium_browser_crashes_total 1"),
        "{}",
        metrics.render()
    );
    assert!(
        eventually(Duration::from_secs(2), || !doomed_profile.exists()).await,
        "the crashed Chromium's profile {} is left behind",
        doomed_profile.display()
    );
    pool.shutdown().await;
}

#[tokio::test]
async fn a_missing_chromium_is_a_clear_error_at_once() {
    let _serial = serial::lock().await;
    let pool = Pool::new(
        PoolSettings {
            chrome_path: Some("/nonexistent/chromium".into()),
            ..settings(1, 1, 1)
        },
        Metrics::new().browser(),
    );
    let started = Instant::now();
    let error = pool.acquire().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(
        error.to_string(),
        "Chromium not found at /nonexistent/chromium: install it with `apt-get install \
         chromium` or set CHROME_PATH"
    );
    let status = pool.status();
    assert!(!status.available);
    assert!(
        status.detail.contains("apt-get install chromium"),
        "{status:?}"
    );
    pool.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_every_process_and_profile() {
    let _serial = serial::lock().await;
    let pool = Pool::new(settings(2, 1, 50), Metrics::new().browser());
    let (a, _) = pool.acquire().await.unwrap();
    let (b, _) = pool.acquire().await.unwrap();
    let pids = [a.pid().unwrap(), b.pid().unwrap()];
    assert!(pids.iter().all(|p| group_members(*p).len() > 1));
    let profiles = pids.map(profile_of);
    let started = Instant::now();
    pool.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    for pid in pids {
        assert!(
            group_members(pid).is_empty(),
            "{pid}: {:?}",
            group_members(pid)
        );
    }
    for profile in profiles {
        assert!(!profile.exists(), "{} left behind", profile.display());
    }
    assert_eq!(
        pool.acquire().await.unwrap_err(),
        BrowserError::ShuttingDown
    );
}

#[tokio::test]
async fn remote_endpoints_serve_contexts_and_are_left_running() {
    let _serial = serial::lock().await;
    // A Chromium started by someone else, reached at its DevTools endpoint.
    let remote = RemoteChromium::start().await;
    let remote_pid = remote.pid;

    let pool = Pool::new(
        PoolSettings {
            chrome_path: Some("/nonexistent/chromium".into()),
            cdp_endpoints: vec![remote.endpoint.clone()],
            max_contexts: 1,
            ..settings(1, 1, 50)
        },
        Metrics::new().browser(),
    );
    let (lease, first) = pool.acquire().await.unwrap();
    let page = first.tab.page();
    assert_eq!(lease.pid(), None, "not launched by the pool");
    let version =
        tokio::time::timeout(Duration::from_secs(5), page.evaluate("navigator.userAgent"))
            .await
            .unwrap()
            .unwrap();
    assert!(format!("{:?}", version.value()).contains("Chrome"));
    // The tab comes set up as every tab starts: the default viewport, and focused.
    let setup = page
        .evaluate("[innerWidth, innerHeight, document.hasFocus()].join(' ')")
        .await
        .unwrap();
    assert_eq!(
        setup.value(),
        Some(&serde_json::json!("1280 720 true")),
        "viewport and focus of a leased tab"
    );
    // Navigations go through a second connection to the same endpoint.
    let answer = lease
        .navigator()
        .navigate(
            page.target_id().inner(),
            serde_json::json!({"url": "data:text/html,<title>Remote</title>"}),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert!(answer["loaderId"].is_string(), "{answer}");
    let mut title = Value::Null;
    for _ in 0..50 {
        let read = cdp::call(
            page,
            lease.dead(),
            "Runtime.evaluate",
            serde_json::json!({"expression": "document.title", "returnByValue": true}),
        )
        .await
        .unwrap();
        title = read["result"]["value"].clone();
        if title == "Remote" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(title, "Remote", "the remote tab navigated");
    // One process per endpoint, full: the capacity error.
    assert!(matches!(
        pool.acquire().await.unwrap_err(),
        BrowserError::CapacityExhausted {
            in_use: 1,
            capacity: 1
        }
    ));
    lease.close().await;
    pool.shutdown().await;
    assert!(
        !group_members(remote_pid).is_empty(),
        "the remote browser is not the pool's to stop"
    );
}
