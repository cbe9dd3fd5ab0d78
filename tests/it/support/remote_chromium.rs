//! A Chromium the pool did not launch, for the tests of remote DevTools endpoints
//! (`BROWSER_CDP_ENDPOINTS`).

/// A headless Chromium started the way someone else would start one (not by a pool),
/// reached at its DevTools endpoint; killed with its process group when dropped.
pub struct RemoteChromium {
    /// Its `ws://…/devtools/browser/…` address.
    pub endpoint: String,
    pub pid: u32,
    child: tokio::process::Child,
    _profile: tempfile::TempDir,
}

impl RemoteChromium {
    /// Starts it and waits for its DevTools address.
    pub async fn start() -> Self {
        use tokio::io::AsyncBufReadExt;
        let profile = tempfile::tempdir().unwrap();
        let mut child =
            tokio::process::Command::new(crawlium::browser::find_chromium(None).unwrap())
                .args(["--headless", "--no-sandbox", "--remote-debugging-port=0"])
                .arg(format!("--user-data-dir={}", profile.path().display()))
                .stderr(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .process_group(0)
                .kill_on_drop(true)
                .spawn()
                .unwrap();
        let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let mut endpoint = String::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(address) = line.split("DevTools listening on ").nth(1) {
                endpoint = address.trim().to_string();
                break;
            }
        }
        assert!(!endpoint.is_empty(), "Chromium printed no DevTools address");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let pid = child.id().unwrap();
        Self {
            endpoint,
            pid,
            child,
            _profile: profile,
        }
    }
}

impl Drop for RemoteChromium {
    fn drop(&mut self) {
        // Its helpers too (its process group); the child itself is reaped by tokio.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.pid)])
            .status();
        let _ = self.child.start_kill();
    }
}
