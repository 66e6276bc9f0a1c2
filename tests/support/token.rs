//! Kubeconfigs for ServiceAccounts, for tests that act as a user with
//! fewer rights than the admin (RBAC denials, namespace-only access).

use std::path::{Path, PathBuf};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};

/// Asks the TokenRequest API for a token of `namespace/account` and writes
/// a kubeconfig using it against the admin kubeconfig's server and CA. The
/// context is named after the account; `context_namespace` sets its default
/// namespace.
pub async fn service_account_kubeconfig(
    client: &kube::Client,
    admin_kubeconfig: &Path,
    namespace: &str,
    account: &str,
    context_namespace: Option<&str>,
) -> Result<PathBuf, String> {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let request = TokenRequest {
        spec: Some(TokenRequestSpec { expiration_seconds: Some(1800), ..Default::default() }),
        ..Default::default()
    };
    let token = accounts
        .create_token_request(account, &PostParams::default(), &request)
        .await
        .map_err(|e| format!("TokenRequest for {namespace}/{account}: {e}"))?
        .status
        .and_then(|s| s.token)
        .ok_or("the TokenRequest has no token")?;
    let admin = kube::config::Kubeconfig::read_from(admin_kubeconfig).map_err(|e| e.to_string())?;
    let server_cluster = admin
        .clusters
        .first()
        .and_then(|c| c.cluster.clone())
        .ok_or("no cluster in the admin kubeconfig")?;
    let server = server_cluster.server.ok_or("no server in the admin kubeconfig")?;
    let ca = match (server_cluster.certificate_authority, server_cluster.certificate_authority_data) {
        (Some(file), _) => format!("certificate-authority: {file}"),
        (None, Some(data)) => format!("certificate-authority-data: {data}"),
        (None, None) => return Err("no CA in the admin kubeconfig".into()),
    };
    let context_namespace = context_namespace.map(|ns| format!("\n    namespace: {ns}")).unwrap_or_default();
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n    {ca}\n\
         users:\n- name: {account}\n  user:\n    token: {token}\ncontexts:\n- name: {account}\n  context:\n    cluster: c\n    user: {account}{context_namespace}\n\
         current-context: {account}\n"
    );
    let path = std::env::temp_dir().join(format!("kspy-test-{namespace}-{account}-{}.kubeconfig", std::process::id()));
    std::fs::write(&path, yaml).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}
