//! `kspy cluster up|down|status` for the local control plane.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, ServiceAccount};
use kube::api::{Api, PostParams};

use super::binaries::{controlplane_dir, Binaries};
use super::kubeconfig;
use super::pki::Pki;
use super::process::{self, Started};
use super::state::ClusterState;
use super::{kwok_config, ports, ClusterError};

/// The service CIDR; its first address is the `kubernetes` Service.
const SERVICE_CIDR: &str = "10.96.0.0/16";
const SERVICE_IP: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 1);
/// Node Pod CIDRs are carved from this by the controller-manager.
const CLUSTER_CIDR: &str = "10.244.0.0/16";
/// Simulated nodes carry this annotation; kwok manages only them.
pub const NODE_ANNOTATION: (&str, &str) = ("kwok.x-k8s.io/node", "fake");
/// How long `up` waits for each readiness check.
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// Options of `kspy cluster up`.
#[derive(Debug, Clone)]
pub struct UpOptions {
    pub dir: PathBuf,
    /// Simulated nodes to create.
    pub nodes: usize,
    /// How long a Pod stays in ContainerCreating.
    pub creating_delay: Duration,
    /// Extra images the node can pull, beyond `ci/controlplane/images.txt`.
    pub extra_images: Option<PathBuf>,
    /// Where the build script, stages and image catalogue are read from.
    pub controlplane_dir: PathBuf,
}

impl UpOptions {
    pub fn new(dir: PathBuf) -> Self {
        UpOptions {
            dir,
            nodes: 1,
            creating_delay: Duration::from_secs(1),
            extra_images: None,
            controlplane_dir: controlplane_dir(),
        }
    }
}

/// The default state directory: `${XDG_STATE_HOME:-$HOME/.local/state}/kspy/cluster`.
pub fn default_dir() -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local").join("state")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("kspy").join("cluster")
}

/// A started local cluster.
#[derive(Debug, Clone)]
pub struct RunningCluster {
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
    pub server: String,
}

/// Starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
/// kwok and the node agent, creates the simulated nodes, and returns once the
/// cluster can run Pods. On any failure every process started so far is stopped.
pub async fn up(options: &UpOptions, progress: impl Fn(&str)) -> Result<RunningCluster, ClusterError> {
    let dir = &options.dir;
    if let Some(state) = ClusterState::load(dir)? {
        let running = state.components.iter().filter(|c| process::is_alive(c)).count();
        if running > 0 {
            return Err(ClusterError::AlreadyRunning { dir: dir.clone(), running });
        }
        // A crashed or killed cluster left its files; start afresh.
        remove_dir(dir)?;
    }
    let binaries = Binaries::ensure(&options.controlplane_dir, &progress)?;
    std::fs::create_dir_all(dir).map_err(|e| ClusterError::io(dir, e))?;
    let dir = std::fs::canonicalize(dir).map_err(|e| ClusterError::io(dir, e))?;

    let mut starter = Starter { dir: dir.clone(), binaries, started: Vec::new(), server: String::new() };
    match starter.start_all(options, &progress).await {
        Ok(cluster) => Ok(cluster),
        Err(e) => {
            starter.stop_all();
            Err(e)
        }
    }
}

/// Stops every process recorded in `dir` and removes the directory.
pub fn down(dir: &Path) -> Result<Vec<String>, ClusterError> {
    let Some(state) = ClusterState::load(dir)? else {
        return Err(ClusterError::NotRunning(dir.to_path_buf()));
    };
    let mut stopped = Vec::new();
    for component in state.components.iter().rev() {
        if process::is_alive(component) {
            process::stop(component, Duration::from_secs(10));
            stopped.push(component.name.clone());
        }
    }
    remove_dir(dir)?;
    Ok(stopped)
}

/// Stops one component of the cluster in `dir` (SIGTERM, then SIGKILL after
/// 1 s: a crash rather than a graceful shutdown, which takes the API server
/// a minute while it drains its watches) and starts it again with the binary and arguments it was started
/// with, appending to its log; `state.json` gets the new pid. Returns once
/// the new process is started, not once it is ready. Used by the
/// reliability tests to take the API server away during a scenario:
///
/// ```no_run
/// # fn example() -> Result<(), kspy::cluster::ClusterError> {
/// let dir = kspy::cluster::default_dir();
/// kspy::cluster::restart_component(&dir, "kube-apiserver", std::time::Duration::from_secs(3))?;
/// # Ok(())
/// # }
/// ```
///
/// `down_for` is how long the component stays stopped.
pub fn restart_component(dir: &Path, component: &str, down_for: Duration) -> Result<(), ClusterError> {
    let Some(mut state) = ClusterState::load(dir)? else {
        return Err(ClusterError::NotRunning(dir.to_path_buf()));
    };
    let cannot = |why: &str| ClusterError::CannotRestart { component: component.to_string(), dir: dir.to_path_buf(), why: why.to_string() };
    let Some(record) = state.components.iter_mut().find(|c| c.name == component) else {
        return Err(cannot("no such component in the state file"));
    };
    if record.args.is_empty() {
        return Err(cannot("the state file does not record its arguments (started by an older kspy)"));
    }
    process::stop(record, Duration::from_secs(1));
    std::thread::sleep(down_for);
    let started = process::respawn(record)?;
    *record = started.record.clone();
    state.save(dir)
}

/// What `kspy cluster status` shows.
#[derive(Debug, Clone)]
pub struct StatusReport {
    pub state: ClusterState,
    /// Each component with whether it is alive.
    pub components: Vec<(process::ComponentRecord, bool)>,
}

pub fn status(dir: &Path) -> Result<StatusReport, ClusterError> {
    let Some(state) = ClusterState::load(dir)? else {
        return Err(ClusterError::NotRunning(dir.to_path_buf()));
    };
    let components = state.components.iter().map(|c| (c.clone(), process::is_alive(c))).collect();
    Ok(StatusReport { state, components })
}

fn remove_dir(dir: &Path) -> Result<(), ClusterError> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ClusterError::io(dir, e)),
    }
}

/// Starts components in order and remembers them, so a failure part-way can
/// stop what already runs.
struct Starter {
    dir: PathBuf,
    binaries: Binaries,
    started: Vec<Started>,
    server: String,
}

impl Starter {
    async fn start_all(&mut self, options: &UpOptions, progress: &impl Fn(&str)) -> Result<RunningCluster, ClusterError> {
        let dir = self.dir.clone();
        let pki = Pki::generate(&dir.join("pki"), SERVICE_IP)?;
        let [etcd_client, etcd_peer, apiserver, scheduler, controller_manager, kwok_port] =
            <[u16; 6]>::try_from(ports::free_ports(6)?).expect("six ports were asked for");
        self.server = format!("https://127.0.0.1:{apiserver}");

        let etcd_url = format!("http://127.0.0.1:{etcd_client}");
        let etcd_peer_url = format!("http://127.0.0.1:{etcd_peer}");
        progress("starting etcd");
        self.spawn("etcd", self.binaries.etcd.clone(), Some(etcd_client), vec![
            "--name=kspy".into(),
            format!("--data-dir={}", dir.join("etcd").display()),
            format!("--listen-client-urls={etcd_url}"),
            format!("--advertise-client-urls={etcd_url}"),
            format!("--listen-peer-urls={etcd_peer_url}"),
            format!("--initial-advertise-peer-urls={etcd_peer_url}"),
            format!("--initial-cluster=kspy={etcd_peer_url}"),
            // A throwaway test cluster: durability is not worth the fsyncs.
            "--unsafe-no-fsync=true".into(),
            "--log-level=warn".into(),
        ])?;

        progress("starting kube-apiserver");
        let admin = kubeconfig::write(&dir.join("kubeconfig"), &self.server, &pki, "admin")?;
        self.spawn("kube-apiserver", self.binaries.kube.clone(), Some(apiserver), vec![
            "apiserver".into(),
            format!("--etcd-servers={etcd_url}"),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            format!("--secure-port={apiserver}"),
            format!("--cert-dir={}", dir.join("pki").display()),
            format!("--tls-cert-file={}", pki.serving_cert().display()),
            format!("--tls-private-key-file={}", pki.serving_key().display()),
            format!("--client-ca-file={}", pki.ca_cert().display()),
            "--authorization-mode=Node,RBAC".into(),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
            format!("--service-account-key-file={}", pki.service_account_pub().display()),
            format!("--service-account-signing-key-file={}", pki.service_account_key().display()),
            format!("--service-cluster-ip-range={SERVICE_CIDR}"),
            // The `kubernetes` Service cannot have a loopback endpoint; a
            // local test cluster needs none.
            "--endpoint-reconciler-type=none".into(),
            "--allow-privileged=true".into(),
            "--profiling=false".into(),
        ])?;
        let client = kubeconfig::client(&admin).await?;
        progress("waiting for kube-apiserver /readyz");
        self.wait_until("kube-apiserver /readyz", || {
            let client = client.clone();
            async move {
                let request = http::Request::get("/readyz").body(Vec::new()).map_err(|e| e.to_string())?;
                client.request_text(request).await.map(|_| ()).map_err(|e| e.to_string())
            }
        })
        .await?;

        // Not earlier: they read RBAC-protected objects at start, and exit
        // if the API server has not finished bootstrapping its roles.
        progress("starting kube-controller-manager, kube-scheduler, kwok and the node agent");
        let cm_config = kubeconfig::write(&dir.join("controller-manager.kubeconfig"), &self.server, &pki, "controller-manager")?;
        self.spawn("kube-controller-manager", self.binaries.kube.clone(), Some(controller_manager), vec![
            "controller-manager".into(),
            format!("--kubeconfig={}", cm_config.display()),
            format!("--authentication-kubeconfig={}", cm_config.display()),
            format!("--authorization-kubeconfig={}", cm_config.display()),
            "--bind-address=127.0.0.1".into(),
            format!("--secure-port={controller_manager}"),
            "--leader-elect=false".into(),
            "--use-service-account-credentials=true".into(),
            format!("--service-account-private-key-file={}", pki.service_account_key().display()),
            format!("--root-ca-file={}", pki.ca_cert().display()),
            "--allocate-node-cidrs=true".into(),
            format!("--cluster-cidr={CLUSTER_CIDR}"),
            "--node-cidr-mask-size=24".into(),
            format!("--service-cluster-ip-range={SERVICE_CIDR}"),
            "--controllers=*".into(),
            // The default client rate limit (20 qps) makes starting every
            // controller take seconds; a local cluster has no one to protect.
            "--kube-api-qps=200".into(),
            "--kube-api-burst=400".into(),
        ])?;
        let sched_config = kubeconfig::write(&dir.join("scheduler.kubeconfig"), &self.server, &pki, "scheduler")?;
        self.spawn("kube-scheduler", self.binaries.kube.clone(), Some(scheduler), vec![
            "scheduler".into(),
            format!("--kubeconfig={}", sched_config.display()),
            format!("--authentication-kubeconfig={}", sched_config.display()),
            format!("--authorization-kubeconfig={}", sched_config.display()),
            "--bind-address=127.0.0.1".into(),
            format!("--secure-port={scheduler}"),
            "--leader-elect=false".into(),
        ])?;

        let controlplane = &options.controlplane_dir;
        let mut images = kwok_config::read_images(&controlplane.join("images.txt"))?;
        if let Some(extra) = &options.extra_images {
            images.extend(kwok_config::read_images(extra)?);
        }
        let kwok_yaml = kwok_config::render(&controlplane.join("stages"), &images, options.creating_delay)?;
        let kwok_config_path = dir.join("kwok.yaml");
        std::fs::write(&kwok_config_path, kwok_yaml).map_err(|e| ClusterError::io(&kwok_config_path, e))?;
        let kwok_kubeconfig = kubeconfig::write(&dir.join("kwok.kubeconfig"), &self.server, &pki, "kwok")?;
        self.spawn("kwok", self.binaries.kwok.clone(), Some(kwok_port), vec![
            format!("--kubeconfig={}", kwok_kubeconfig.display()),
            format!("--config={}", kwok_config_path.display()),
            "--manage-all-nodes=false".into(),
            format!("--manage-nodes-with-annotation-selector={}={}", NODE_ANNOTATION.0, NODE_ANNOTATION.1),
            format!("--server-address=127.0.0.1:{kwok_port}"),
            format!("--cidr={CLUSTER_CIDR}"),
            // Without it the node's InternalIP is "" and no Pod can get a
            // hostIP; this is the address kind gives its first node.
            "--node-ip=172.18.0.2".into(),
        ])?;
        // kwok keeps the nodes alive; the node agent is the kubelet's Pod side
        // (statuses, Events, image pulls, volumes): see docs/simulated-kubelet.md.
        let catalogue_path = dir.join("images.txt");
        std::fs::write(&catalogue_path, images.join("\n") + "\n").map_err(|e| ClusterError::io(&catalogue_path, e))?;
        self.spawn("nodeagent", self.binaries.nodeagent.clone(), None, vec![
            format!("--kubeconfig={}", kwok_kubeconfig.display()),
            format!("--images={}", catalogue_path.display()),
            format!("--creating-delay={}ms", options.creating_delay.as_millis()),
            format!("--node-annotation={}={}", NODE_ANNOTATION.0, NODE_ANNOTATION.1),
        ])?;

        progress("creating the simulated node");
        let nodes: Api<Node> = Api::all(client.clone());
        for index in 0..options.nodes {
            let node: Node = serde_json::from_value(simulated_node(&format!("kspy-node-{index}")))
                .expect("the node literal is a valid Node");
            match nodes.create(&PostParams::default(), &node).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.wait_until("the simulated node to be Ready and untainted", || {
            let nodes = nodes.clone();
            async move {
                let list = nodes.list(&Default::default()).await.map_err(|e| e.to_string())?;
                let ready = list.items.iter().filter(|n| node_is_ready(n)).count();
                if ready >= 1 { Ok(()) } else { Err(format!("{ready} of {} nodes Ready", list.items.len())) }
            }
        })
        .await?;
        progress("waiting for the default ServiceAccount");
        let service_accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
        self.wait_until("the default ServiceAccount", || {
            let service_accounts = service_accounts.clone();
            async move {
                match service_accounts.get_opt("default").await {
                    Ok(Some(_)) => Ok(()),
                    Ok(None) => Err("not created yet".to_string()),
                    Err(e) => Err(e.to_string()),
                }
            }
        })
        .await?;

        Ok(RunningCluster { dir, kubeconfig: admin, server: self.server.clone() })
    }

    fn spawn(&mut self, name: &str, binary: PathBuf, port: Option<u16>, args: Vec<String>) -> Result<(), ClusterError> {
        let log = self.dir.join(format!("{name}.log"));
        let started = process::spawn(name, &binary, &args, &log, port)?;
        self.started.push(started);
        // Saved after every start, so `down` can stop what runs even if this
        // process is killed half-way through `up`.
        ClusterState {
            version: 1,
            server: self.server.clone(),
            kubeconfig: self.dir.join("kubeconfig"),
            bin_dir: binary.parent().map(Path::to_path_buf).unwrap_or_default(),
            components: self.started.iter().map(|s| s.record.clone()).collect(),
        }
        .save(&self.dir)
    }

    /// Polls `check` until it succeeds, failing at once if a component dies
    /// and after `READY_TIMEOUT` otherwise.
    async fn wait_until<F, Fut>(&self, what: &str, check: F) -> Result<(), ClusterError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<(), String>>,
    {
        let started = Instant::now();
        loop {
            for component in &self.started {
                if let Some(status) = component.exit_status() {
                    return Err(component.died(status));
                }
            }
            let last = match tokio::time::timeout(Duration::from_secs(5), check()).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) => e,
                Err(_) => "no answer within 5s".to_string(),
            };
            if started.elapsed() > READY_TIMEOUT {
                return Err(ClusterError::NotReady {
                    what: what.to_string(),
                    waited: started.elapsed(),
                    detail: format!("last check: {last}"),
                    dir: self.dir.clone(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn stop_all(&self) {
        for component in self.started.iter().rev() {
            process::stop(&component.record, Duration::from_secs(5));
        }
    }
}

/// Ready, and schedulable: the node lifecycle controller gives a new node
/// the `node.kubernetes.io/not-ready` NoSchedule taint and lifts it only some
/// time after the node turns Ready. A Pod created in between is
/// Unschedulable, so `up` waits for the taint to go.
fn node_is_ready(node: &Node) -> bool {
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let blocking_taint = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|ts| ts.iter().any(|t| t.effect == "NoSchedule" || t.effect == "NoExecute"));
    ready && !blocking_taint
}

/// A Node object for kwok to manage: a roomy amd64 Linux machine.
fn simulated_node(name: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": { NODE_ANNOTATION.0: NODE_ANNOTATION.1 },
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
        },
        "status": {
            "allocatable": { "cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "100Gi" },
            "capacity": { "cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "100Gi" },
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "kubeletVersion": "v1.37.2",
                "containerRuntimeVersion": "containerd://2.1.0",
            },
        },
    })
}
