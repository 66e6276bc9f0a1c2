//! The certificates and keys of the local control plane: one CA, the API
//! server's serving certificate, a client certificate per component, and the
//! service-account signing key. ECDSA P-256 throughout: quick to generate,
//! accepted by every component and by rustls.

use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

use super::ClusterError;

/// Paths of the generated files, all under `DIR/pki`.
#[derive(Debug, Clone)]
pub struct Pki {
    pub dir: PathBuf,
}

/// A client identity: the certificate's CN is the user, O the groups.
pub struct ClientIdentity<'a> {
    pub file_stem: &'a str,
    pub user: &'a str,
    pub groups: &'a [&'a str],
}

/// Who talks to the API server, and as whom. The scheduler and the
/// controller-manager use the identities the API server's bootstrap RBAC
/// roles are written for; kspy and kwok are cluster admins.
pub const CLIENTS: &[ClientIdentity<'static>] = &[
    ClientIdentity { file_stem: "admin", user: "kspy-admin", groups: &["system:masters"] },
    ClientIdentity { file_stem: "scheduler", user: "system:kube-scheduler", groups: &[] },
    ClientIdentity {
        file_stem: "controller-manager",
        user: "system:kube-controller-manager",
        groups: &[],
    },
    ClientIdentity { file_stem: "kwok", user: "kwok-node-simulator", groups: &["system:masters"] },
];

impl Pki {
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }
    pub fn serving_cert(&self) -> PathBuf {
        self.dir.join("apiserver.crt")
    }
    pub fn serving_key(&self) -> PathBuf {
        self.dir.join("apiserver.key")
    }
    pub fn client_cert(&self, stem: &str) -> PathBuf {
        self.dir.join(format!("{stem}.crt"))
    }
    pub fn client_key(&self, stem: &str) -> PathBuf {
        self.dir.join(format!("{stem}.key"))
    }
    pub fn service_account_key(&self) -> PathBuf {
        self.dir.join("sa.key")
    }
    pub fn service_account_pub(&self) -> PathBuf {
        self.dir.join("sa.pub")
    }

    /// Generates every certificate and key into `dir`. `service_ip` is the
    /// first address of the service CIDR (the `kubernetes` Service), which
    /// in-cluster clients use to reach the API server.
    pub fn generate(dir: &Path, service_ip: Ipv4Addr) -> Result<Pki, ClusterError> {
        fs::create_dir_all(dir).map_err(|e| ClusterError::io(dir, e))?;
        let pki = Pki { dir: dir.to_path_buf() };

        let ca_key = KeyPair::generate().map_err(ClusterError::pki)?;
        let mut ca_params = CertificateParams::default();
        ca_params.distinguished_name = name("kspy-local-ca", &[]);
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).map_err(ClusterError::pki)?;
        write(&pki.ca_cert(), &ca_cert.pem())?;
        let issuer = Issuer::new(ca_params, ca_key);

        let serving_names = vec![
            "localhost".to_string(),
            "kubernetes".to_string(),
            "kubernetes.default".to_string(),
            "kubernetes.default.svc".to_string(),
            "kubernetes.default.svc.cluster.local".to_string(),
        ];
        let mut serving = CertificateParams::new(serving_names).map_err(ClusterError::pki)?;
        serving.subject_alt_names.push(rcgen::SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        serving.subject_alt_names.push(rcgen::SanType::IpAddress(IpAddr::V4(service_ip)));
        serving.distinguished_name = name("kube-apiserver", &[]);
        serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        issue(&issuer, serving, &pki.serving_cert(), &pki.serving_key())?;

        for client in CLIENTS {
            let mut params = CertificateParams::default();
            params.distinguished_name = name(client.user, client.groups);
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            issue(
                &issuer,
                params,
                &pki.client_cert(client.file_stem),
                &pki.client_key(client.file_stem),
            )?;
        }

        let sa_key = KeyPair::generate().map_err(ClusterError::pki)?;
        write(&pki.service_account_key(), &sa_key.serialize_pem())?;
        write(&pki.service_account_pub(), &sa_key.public_key_pem())?;
        Ok(pki)
    }
}

fn name(common_name: &str, organizations: &[&str]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    for org in organizations {
        dn.push(DnType::OrganizationName, *org);
    }
    dn
}

fn issue(
    issuer: &Issuer<'_, KeyPair>,
    params: CertificateParams,
    cert_path: &Path,
    key_path: &Path,
) -> Result<(), ClusterError> {
    let key = KeyPair::generate().map_err(ClusterError::pki)?;
    let cert = params.signed_by(&key, issuer).map_err(ClusterError::pki)?;
    write(cert_path, &cert.pem())?;
    write(key_path, &key.serialize_pem())
}

fn write(path: &Path, contents: &str) -> Result<(), ClusterError> {
    fs::write(path, contents).map_err(|e| ClusterError::io(path, e))
}
