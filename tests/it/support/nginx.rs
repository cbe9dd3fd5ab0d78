//! A real nginx (Debian's, which `tools/test.sh` installs) as a plain round-robin load
//! balancer in front of several servers under test, the way users deploy replicas: HTTP/1.1
//! to the upstreams, no buffering (SSE), long read timeouts, a refusing replica skipped for
//! the next without being marked down (max_fails=0), no affinity of any kind. It runs
//! as one process (`master_process off`), so stopping it leaves no worker behind.

use std::time::Duration;

use super::fixture_server::closed_address;

/// A running nginx; stopped when dropped.
pub struct Nginx {
    child: tokio::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// Balances `upstreams` (`host:port` each) round-robin on a free 127.0.0.1 port.
    pub async fn round_robin(upstreams: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = closed_address().port();
        let conf = config(&dir.path().display().to_string(), port, upstreams);
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = tokio::process::Command::new("nginx")
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf_path)
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("nginx (tools/test.sh installs Debian's nginx-light)");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "nginx did not start: {}",
                std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Self {
            child,
            port,
            _dir: dir,
        }
    }

    /// What nginx logged (warnings and errors: failed upstreams among them).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("error.log")).unwrap_or_default()
    }

    /// `127.0.0.1:PORT`, where it listens.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// The configuration of an nginx in `dir` on `port` balancing `upstreams`.
pub fn config(dir: &str, port: u16, upstreams: &[&str]) -> String {
    let servers: String = upstreams
        .iter()
        .map(|upstream| format!("    server {upstream} max_fails=0;\n"))
        .collect();
    format!(
        "user root;\nmaster_process off;\ndaemon off;\npid {dir}/nginx.pid;\n\
             error_log {dir}/error.log warn;\nevents {{ worker_connections 256; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {dir}/body;\n\
               proxy_temp_path {dir}/proxy;\n  fastcgi_temp_path {dir}/fastcgi;\n\
               uwsgi_temp_path {dir}/uwsgi;\n  scgi_temp_path {dir}/scgi;\n\
               upstream crawlium {{\n{servers}  }}\n\
               server {{\n    listen 127.0.0.1:{port};\n    location / {{\n\
                 proxy_pass http://crawlium;\n      proxy_http_version 1.1;\n\
                 proxy_set_header Connection \"\";\n      proxy_set_header Host $http_host;\n\
                 proxy_buffering off;\n      proxy_connect_timeout 2s;\n\
                 proxy_next_upstream error timeout non_idempotent;\n\
                 proxy_next_upstream_tries 3;\n\
                 proxy_read_timeout 3600s;\n    }}\n  }}\n}}\n"
    )
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
