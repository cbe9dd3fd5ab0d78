//! The deployment files (`docker/`) against the code, since no container engine runs here:
//! every variable they set is a real setting, ports, probe paths and grace periods agree with
//! the server, the balancer is configured the way the cluster tests run nginx, and the image
//! build copies everything the manifest names.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use crate::support::server::root;

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every setting the server reads from the environment (the `env = "…"` of its config).
fn settings() -> BTreeSet<String> {
    let config = read("src/config.rs");
    config
        .split("env = \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

fn is_variable(name: &str) -> bool {
    name.len() > 2
        && name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The `KEY: value` and `- name: KEY` variables of a YAML file.
fn yaml_variables(yaml: &str) -> BTreeSet<String> {
    yaml.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| {
            let line = line.trim().trim_start_matches("- ");
            let key = line.strip_prefix("name: ").unwrap_or(line);
            let key = key.split(':').next()?.trim();
            is_variable(key).then(|| key.to_string())
        })
        .collect()
}

/// The value of `KEY: value` in a YAML file (the first one).
fn yaml_value(yaml: &str, key: &str) -> String {
    yaml.lines()
        .find_map(|line| line.trim().strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key}"))
        .trim()
        .trim_matches('"')
        .to_string()
}

/// The variables of one `ENV` line (`KEY=value …`).
fn env_pairs(line: &str) -> Vec<(String, &'static str)> {
    line.split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, _)| (key.to_string(), "docker/Dockerfile"))
        .collect()
}

#[test]
fn every_variable_the_files_set_is_a_setting() {
    let settings = settings();
    assert!(settings.contains("REDIS_URL") && settings.len() > 30);
    // Variables of other images, or helpers the manifests expand themselves.
    let others = [
        "POSTGRES_USER",
        "POSTGRES_PASSWORD",
        "POSTGRES_DB",
        "POD_IP",
    ];
    let dockerfile = read("docker/Dockerfile");
    let mut set: Vec<(String, &str)> = Vec::new();
    let mut in_env = false;
    for line in dockerfile.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("ENV ") {
            in_env = true;
            set.extend(env_pairs(rest));
        } else if in_env {
            set.extend(env_pairs(line));
        }
        in_env = in_env && line.ends_with('\\');
    }
    for file in [
        "docker/docker-compose.yml",
        "docker/k8s/configmap.yaml",
        "docker/k8s/secret.example.yaml",
        "docker/k8s/deployment.yaml",
    ] {
        set.extend(
            yaml_variables(&read(file))
                .into_iter()
                .map(|key| (key, file)),
        );
    }
    assert!(set.len() > 20, "{set:?}");
    for (key, file) in set {
        assert!(
            settings.contains(&key) || others.contains(&key.as_str()),
            "{file} sets {key}, which is not a setting of src/config.rs"
        );
    }
}

#[test]
fn ports_probes_and_grace_periods_agree_with_the_server() {
    let http = read("src/transport/http.rs");
    for path in ["/health", "/ready", "/mcp", "/sse", "/message"] {
        assert!(
            http.contains(&format!("\"{path}\"")),
            "the server has no {path}"
        );
    }
    let configmap = read("docker/k8s/configmap.yaml");
    let deployment = read("docker/k8s/deployment.yaml");
    let compose = read("docker/docker-compose.yml");
    let port = yaml_value(&configmap, "CRAWLIUM_PORT");
    assert_eq!(port, yaml_value(&compose, "CRAWLIUM_PORT"));
    assert!(deployment.contains(&format!("containerPort: {port}")));
    assert!(deployment.contains(&format!("value: http://$(POD_IP):{port}")));
    assert!(read("docker/Dockerfile").contains(&format!("EXPOSE {port}")));
    for probe in ["path: /health", "path: /ready"] {
        assert!(deployment.contains(probe), "deployment lacks {probe}");
    }
    assert!(compose.contains(&format!("http://127.0.0.1:{port}/ready")));

    // Shutdown: the orchestrator waits longer than the server's grace period.
    let grace: u64 = yaml_value(&configmap, "SHUTDOWN_GRACE_SECS")
        .parse()
        .unwrap();
    assert_eq!(
        grace.to_string(),
        yaml_value(&compose, "SHUTDOWN_GRACE_SECS")
    );
    let termination: u64 = yaml_value(&deployment, "terminationGracePeriodSeconds")
        .parse()
        .unwrap();
    let pre_stop: u64 = deployment
        .split("command: [\"sleep\", \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        termination > grace + pre_stop,
        "terminationGracePeriodSeconds {termination} must exceed {grace} + {pre_stop}"
    );
    let stop: u64 = yaml_value(&compose, "stop_grace_period")
        .trim_end_matches('s')
        .parse()
        .unwrap();
    assert!(
        stop > grace,
        "stop_grace_period {stop} s must exceed {grace} s"
    );
}

#[test]
fn the_balancer_is_configured_as_the_cluster_tests_run_it() {
    let nginx = read("docker/nginx.conf");
    let compose = read("docker/docker-compose.yml");
    let tested = crate::support::nginx::config("/tmp", 8931, &["127.0.0.1:1"]);
    for directive in [
        "proxy_http_version 1.1;",
        "proxy_set_header Connection \"\";",
        "proxy_set_header Host $http_host;",
        "proxy_buffering off;",
        "proxy_read_timeout 3600s;",
        "proxy_connect_timeout 2s;",
        "proxy_next_upstream error timeout non_idempotent;",
        "proxy_next_upstream_tries 3;",
        "max_fails=0;",
    ] {
        assert!(nginx.contains(directive), "nginx.conf lacks {directive}");
        assert!(
            tested.contains(directive),
            "the tests' nginx lacks {directive}"
        );
    }
    assert!(!nginx.contains("ip_hash") && !nginx.contains("sticky"));
    // Each replica advertises the name nginx and the others reach it by.
    for n in 1..=3 {
        assert!(nginx.contains(&format!("server crawlium-{n}:8931 max_fails=0;")));
        assert!(compose.contains(&format!("  crawlium-{n}:")));
        assert!(compose.contains(&format!("CRAWLIUM_ADVERTISE_URL: http://crawlium-{n}:8931")));
    }
}

#[test]
fn the_image_build_copies_what_the_manifest_names() {
    let dockerfile = read("docker/Dockerfile");
    let copied: Vec<PathBuf> = dockerfile
        .lines()
        .filter_map(|line| line.strip_prefix("COPY "))
        .filter(|line| !line.starts_with("--from"))
        .flat_map(|line| {
            let parts: Vec<&str> = line.split_whitespace().collect();
            parts[..parts.len() - 1]
                .iter()
                .map(PathBuf::from)
                .collect::<Vec<_>>()
        })
        .collect();
    let manifest = read("Cargo.toml");
    let named: Vec<&str> = manifest
        .lines()
        // Targets' `path = "…"` lines and path dependencies' `{ path = "…" }`.
        .filter_map(|line| line.split_once("path = \"").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split('"').next())
        .chain(["Cargo.lock", "migrations/sqlite"])
        .collect();
    assert!(named.len() >= 4, "{named:?}");
    for path in named {
        assert!(
            copied.iter().any(|c| Path::new(path).starts_with(c)),
            "the Dockerfile does not copy {path}"
        );
        assert!(root().join(path).exists(), "{path} does not exist");
    }
    assert!(
        dockerfile.contains("USER crawlium"),
        "the image runs as root"
    );
    assert!(dockerfile.contains("chromium") && dockerfile.contains("git"));
}
