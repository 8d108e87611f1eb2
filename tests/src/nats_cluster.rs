//! A three-node NATS JetStream cluster of real `nats-server` processes on
//! `127.0.0.1`, for the tests of the JetStream backend.
//!
//! The binary is the pinned nats-server 2.15.1 that `scripts/nats-server.sh`
//! installs; its path comes from `ICR_NATS_SERVER`. Each node keeps file
//! storage in its own temporary directory with `sync_interval: always`, so an
//! acknowledged message is on disk. [`NatsCluster::start`] returns once
//! JetStream has a meta leader and every peer is current; dropping the cluster
//! kills every node that is still running.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The variable that names the `nats-server` binary.
pub const NATS_SERVER_VAR: &str = "ICR_NATS_SERVER";

/// How many nodes the cluster has.
pub const NODES: usize = 3;

/// How long [`NatsCluster::start`] and [`NatsCluster::wait_ready`] wait for
/// the cluster to form (generous: the machine may be loaded).
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The path of the pinned `nats-server`, from `ICR_NATS_SERVER`.
///
/// # Panics
/// When the variable is unset or names no file, with the words of
/// [`nats_server_binary_from`]: tests that need the cluster fail, never skip.
pub fn nats_server_binary() -> PathBuf {
    nats_server_binary_from(std::env::var_os(NATS_SERVER_VAR)).unwrap_or_else(|e| panic!("{e}"))
}

/// The binary named by a value of `ICR_NATS_SERVER`, or what is wrong and
/// how to install it.
///
/// # Errors
/// When the value is missing or names no file.
pub fn nats_server_binary_from(value: Option<OsString>) -> Result<PathBuf, String> {
    let Some(path) = value else {
        return Err(format!(
            "{NATS_SERVER_VAR} is not set: the JetStream cluster tests need the pinned \
             nats-server 2.15.1. Install it with `bash scripts/nats-server.sh` and run \
             the tests with {NATS_SERVER_VAR}=<the path it prints>"
        ));
    };
    let path = PathBuf::from(path);
    if !path.is_file() {
        return Err(format!(
            "{NATS_SERVER_VAR}={} names no file: run `bash scripts/nats-server.sh` and set \
             {NATS_SERVER_VAR} to the path it prints",
            path.display()
        ));
    }
    Ok(path)
}

/// One node: its ports, its storage and its process while it runs.
struct Node {
    name: String,
    client_port: u16,
    monitor_port: u16,
    process: Option<Child>,
    dir: TempDir,
}

/// A running three-node JetStream cluster; every node is killed on drop.
pub struct NatsCluster {
    nodes: Vec<Node>,
}

impl NatsCluster {
    /// Starts three nodes with routes between them and waits until JetStream
    /// has a meta leader and all three peers are current.
    ///
    /// # Panics
    /// When the binary is missing, a node exits, or the cluster does not form
    /// within [`READY_TIMEOUT`].
    pub fn start() -> Self {
        let binary = nats_server_binary();
        // Nine free ports, all held at once so that none repeats, then released
        // for the servers to bind.
        let listeners: Vec<TcpListener> = (0..NODES * 3)
            .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
            .collect();
        let ports: Vec<u16> = listeners
            .iter()
            .map(|l| l.local_addr().expect("local address").port())
            .collect();
        drop(listeners);
        let route_ports: Vec<u16> = (0..NODES).map(|i| ports[i * 3 + 1]).collect();
        let routes = route_ports
            .iter()
            .map(|p| format!("\"nats-route://127.0.0.1:{p}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let nodes = (0..NODES)
            .map(|i| {
                let dir = tempfile::tempdir().expect("temporary directory for a node");
                let name = format!("n{i}");
                let (client_port, cluster_port, monitor_port) =
                    (ports[i * 3], ports[i * 3 + 1], ports[i * 3 + 2]);
                let config = node_config(
                    &name,
                    dir.path(),
                    client_port,
                    cluster_port,
                    monitor_port,
                    &routes,
                );
                let config_path = dir.path().join("nats.conf");
                std::fs::write(&config_path, config).expect("write the node's configuration");
                let process = spawn(&binary, &config_path, dir.path());
                Node {
                    name,
                    client_port,
                    monitor_port,
                    process: Some(process),
                    dir,
                }
            })
            .collect();
        let mut cluster = NatsCluster { nodes };
        cluster.wait_ready(NODES);
        cluster
    }

    /// The client URL of every node, running or not, in node order.
    pub fn client_urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.client_port))
            .collect()
    }

    /// The client URL of one node.
    pub fn client_url(&self, node: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[node].client_port)
    }

    /// The server name of one node (`n0`, `n1`, `n2`), as JetStream reports leaders.
    pub fn name(&self, node: usize) -> &str {
        &self.nodes[node].name
    }

    /// The index of the node with this server name.
    pub fn node_named(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Whether the node's process is still running.
    pub fn is_running(&self, node: usize) -> bool {
        self.nodes[node].process.is_some()
    }

    /// The node's JetStream report (`/jsz` on its monitoring port): its
    /// settings under `config`, the meta group under `meta_cluster`.
    ///
    /// # Panics
    /// When the node does not answer.
    pub fn jsz(&self, node: usize) -> serde_json::Value {
        http_get_json(self.nodes[node].monitor_port, "/jsz")
            .unwrap_or_else(|e| panic!("node {}: {e}", self.nodes[node].name))
    }

    /// Kills one node with SIGKILL (no shutdown, no final sync) and reaps it.
    pub fn kill(&mut self, node: usize) {
        if let Some(mut child) = self.nodes[node].process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits until a meta leader is known and `expected` peers, counting the
    /// leader, are current, as every running node reports it.
    ///
    /// # Panics
    /// When a running node exits or the state is not reached within
    /// [`READY_TIMEOUT`]; the message carries the last report seen.
    pub fn wait_ready(&mut self, expected: usize) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            self.check_alive();
            let reports: Vec<Result<serde_json::Value, String>> = self
                .nodes
                .iter()
                .filter(|n| n.process.is_some())
                .map(|n| http_get_json(n.monitor_port, "/jsz"))
                .collect();
            let Err(why) = meta_ready(&reports, expected) else {
                return;
            };
            assert!(
                Instant::now() < deadline,
                "the NATS cluster did not become ready within {READY_TIMEOUT:?}: {why}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Panics, naming the node and its exit status, if a node that should be
    /// running has exited.
    fn check_alive(&mut self) {
        for node in &mut self.nodes {
            if let Some(child) = node.process.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                node.process = None;
                let log =
                    std::fs::read_to_string(node.dir.path().join("nats.log")).unwrap_or_default();
                let tail: Vec<&str> = log
                    .lines()
                    .rev()
                    .take(20)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                panic!(
                    "nats-server node {} exited: {status}; its log ends:\n{}",
                    node.name,
                    tail.join("\n")
                );
            }
        }
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for node in 0..self.nodes.len() {
            self.kill(node);
        }
    }
}

/// The configuration of one node.
fn node_config(
    name: &str,
    dir: &Path,
    client_port: u16,
    cluster_port: u16,
    monitor_port: u16,
    routes: &str,
) -> String {
    let store = dir.join("jetstream");
    format!(
        "server_name: {name}\n\
         listen: \"127.0.0.1:{client_port}\"\n\
         http: \"127.0.0.1:{monitor_port}\"\n\
         jetstream {{\n  store_dir: \"{}\"\n  sync_interval: always\n}}\n\
         cluster {{\n  name: icr\n  listen: \"127.0.0.1:{cluster_port}\"\n  routes: [{routes}]\n}}\n",
        store.display()
    )
}

/// Starts one node, its log in its directory.
fn spawn(binary: &Path, config: &Path, dir: &Path) -> Child {
    let log = std::fs::File::create(dir.join("nats.log")).expect("create the node's log");
    Command::new(binary)
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {}: {e}", binary.display()))
}

/// Whether the running nodes' `/jsz` reports agree on one meta leader and
/// the leader sees `expected` current peers (itself included). Only the
/// leader tracks its followers, so the largest count reported is the one.
fn meta_ready(
    reports: &[Result<serde_json::Value, String>],
    expected: usize,
) -> Result<(), String> {
    let mut leaders = Vec::new();
    let mut most_current = 0;
    for report in reports {
        let meta = &report.as_ref().map_err(Clone::clone)?["meta_cluster"];
        let leader = meta["leader"].as_str().unwrap_or("");
        if leader.is_empty() {
            return Err(format!("a node knows no meta leader yet: {meta}"));
        }
        leaders.push(leader.to_owned());
        let current = meta["replicas"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter(|p| p["current"].as_bool() == Some(true))
                    .count()
            })
            .unwrap_or(0);
        most_current = most_current.max(current + 1);
    }
    leaders.dedup();
    if leaders.len() != 1 {
        return Err(format!(
            "the nodes name different meta leaders: {leaders:?}"
        ));
    }
    if most_current < expected {
        return Err(format!(
            "{most_current} of {expected} peers current, leader {}",
            leaders[0]
        ));
    }
    Ok(())
}

/// A plain HTTP/1.0 GET on the node's monitoring port, parsed as JSON.
fn http_get_json(port: u16, path: &str) -> Result<serde_json::Value, String> {
    let timeout = Duration::from_secs(5);
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("monitor port {port}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body)
        .ok_or_else(|| format!("no HTTP body from port {port}"))?;
    serde_json::from_str(body).map_err(|e| format!("{path} on port {port}: {e}"))
}
