//! Mutual-TLS configurations (rustls, ring): tonic's client config for
//! nodes, and the rustls server config central accepts connections with
//! itself (so it can count them per node certificate).

use std::sync::Arc;

use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};
use tonic::transport::{Certificate, ClientTlsConfig, Identity as TlsIdentity};

use crate::{Error, Result};

/// The name central's certificate is issued for; nodes verify it whatever
/// address they dial.
pub const CENTRAL_NAME: &str = "kechuang-central";

/// Central's server config for accepting TLS itself: its certificate,
/// client certificates required and verified against the CA, HTTP/2 only.
pub fn server_config(ca_pem: &str, cert_pem: &str, key_pem: &str) -> Result<Arc<ServerConfig>> {
    let tls = |e: String| Error::Parse(format!("TLS configuration: {e}"));
    let certs = |pem: &str| {
        CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| tls(e.to_string()))
    };
    let mut roots = RootCertStore::empty();
    for ca in certs(ca_pem)? {
        roots.add(ca).map_err(|e| tls(e.to_string()))?;
    }
    let verifier = WebPkiClientVerifier::builder(roots.into()).build().map_err(|e| tls(e.to_string()))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| tls(e.to_string()))?;
    let mut config = ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs(cert_pem)?, key)
        .map_err(|e| tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// A node's client config: trust only the CA, present the node certificate.
pub fn client_tls(ca_pem: &str, cert_pem: &str, key_pem: &str) -> ClientTlsConfig {
    ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .identity(TlsIdentity::from_pem(cert_pem, key_pem))
        .domain_name(CENTRAL_NAME)
}
