//! The connection to a cluster: a kube client from a kubeconfig and a
//! context, and the discovery catalog that resolves kinds.

use std::path::PathBuf;
use std::sync::Arc;

use kube::config::{KubeConfigOptions, Kubeconfig};
use tokio::sync::RwLock;

use crate::expect::KindRef;

use super::KubeError;
use super::discovery::{Catalog, ResolvedKind};
use super::error::error_chain;

/// Which cluster to talk to, as kubectl's `--kubeconfig` and `--context`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectOptions {
    /// A kubeconfig file; without it, `KUBECONFIG` or `~/.kube/config`
    /// (and in a Pod, its service account).
    pub kubeconfig: Option<PathBuf>,
    /// A context of the kubeconfig; without it, the current context.
    pub context: Option<String>,
}

/// A connected cluster. Cheap to clone: clones share the client and the
/// discovery catalog.
#[derive(Clone)]
pub struct Cluster {
    client: kube::Client,
    server: String,
    default_namespace: String,
    catalog: Arc<RwLock<Catalog>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("server", &self.server)
            .field("default_namespace", &self.default_namespace)
            .finish()
    }
}

impl Cluster {
    /// Loads the kubeconfig, connects and runs discovery, so that a cluster
    /// that cannot be reached fails here with a clear error rather than in
    /// the middle of a scenario.
    pub async fn connect(options: &ConnectOptions) -> Result<Cluster, KubeError> {
        let config = load_config(options).await?;
        Cluster::from_config(config).await.map_err(|e| match e {
            KubeError::Kubeconfig { message, .. } => KubeError::Kubeconfig {
                path: options.kubeconfig.clone(),
                context: options.context.clone(),
                message,
            },
            other => other,
        })
    }

    /// Connects with a ready-made configuration (and runs discovery).
    pub async fn from_config(config: kube::Config) -> Result<Cluster, KubeError> {
        let server = config.cluster_url.to_string();
        let client = kube::Client::try_from(config).map_err(|e| KubeError::Kubeconfig {
            path: None,
            context: None,
            message: error_chain(&e),
        })?;
        Cluster::with_client(client, server).await
    }

    /// Wraps an existing client (and runs discovery).
    pub async fn from_client(client: kube::Client) -> Result<Cluster, KubeError> {
        Cluster::with_client(client, "the API server".to_string()).await
    }

    async fn with_client(client: kube::Client, server: String) -> Result<Cluster, KubeError> {
        let catalog = Catalog::load(&client, &server).await?;
        Ok(Cluster {
            default_namespace: client.default_namespace().to_string(),
            client,
            server,
            catalog: Arc::new(RwLock::new(catalog)),
        })
    }

    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// The API server's URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The namespace of the kubeconfig's context (`default` if it names none).
    pub fn default_namespace(&self) -> &str {
        &self.default_namespace
    }

    /// Resolves a kind kubectl-style. On a miss, discovery runs again once:
    /// a CRD applied since the last run must become resolvable.
    pub async fn resolve(&self, kind: &KindRef) -> Result<ResolvedKind, KubeError> {
        if let Some(found) = self.catalog.read().await.find(kind) {
            return Ok(found);
        }
        self.refresh_discovery().await?;
        self.catalog
            .read()
            .await
            .find(kind)
            .ok_or_else(|| KubeError::UnknownKind {
                kind: kind.kind.clone(),
                api_version: kind.api_version.clone(),
            })
    }

    /// Reruns discovery.
    pub async fn refresh_discovery(&self) -> Result<(), KubeError> {
        let fresh = Catalog::load(&self.client, &self.server).await?;
        *self.catalog.write().await = fresh;
        Ok(())
    }
}

async fn load_config(options: &ConnectOptions) -> Result<kube::Config, KubeError> {
    let bad = |message: String| KubeError::Kubeconfig {
        path: options.kubeconfig.clone(),
        context: options.context.clone(),
        message,
    };
    let config_options = KubeConfigOptions {
        context: options.context.clone(),
        ..Default::default()
    };
    match &options.kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path).map_err(|e| bad(error_chain(&e)))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &config_options)
                .await
                .map_err(|e| bad(error_chain(&e)))
        }
        // `--context` only makes sense with a kubeconfig (KUBECONFIG or ~/.kube/config).
        None if options.context.is_some() => kube::Config::from_kubeconfig(&config_options)
            .await
            .map_err(|e| bad(error_chain(&e))),
        // kubectl's order: KUBECONFIG, ~/.kube/config, then in-cluster.
        None => kube::Config::infer()
            .await
            .map_err(|e| bad(error_chain(&e))),
    }
}

impl Cluster {
    /// An API for `kind`: in `namespace` if the kind is namespaced and one
    /// is given, across all namespaces otherwise.
    pub fn api(
        &self,
        kind: &ResolvedKind,
        namespace: Option<&str>,
    ) -> kube::Api<kube::core::DynamicObject> {
        match namespace {
            Some(ns) if kind.namespaced => {
                kube::Api::namespaced_with(self.client.clone(), ns, &kind.resource)
            }
            _ => kube::Api::all_with(self.client.clone(), &kind.resource),
        }
    }
}

/// The namespace a request about `kind` is made in: none for cluster-scoped kinds.
pub(crate) fn scoped<'a>(kind: &ResolvedKind, namespace: Option<&'a str>) -> Option<&'a str> {
    if kind.namespaced { namespace } else { None }
}
