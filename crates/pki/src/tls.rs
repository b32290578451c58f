//! Mutual-TLS configurations for tonic (rustls, ring).

use tonic::transport::{Certificate, ClientTlsConfig, Identity as TlsIdentity, ServerTlsConfig};

/// The name central's certificate is issued for; nodes verify it whatever
/// address they dial.
pub const CENTRAL_NAME: &str = "kechuang-central";

/// Central's server config: its certificate, and client certificates
/// required and verified against the CA.
pub fn server_tls(ca_pem: &str, cert_pem: &str, key_pem: &str) -> ServerTlsConfig {
    ServerTlsConfig::new()
        .identity(TlsIdentity::from_pem(cert_pem, key_pem))
        .client_ca_root(Certificate::from_pem(ca_pem))
        .client_auth_optional(false)
}

/// A node's client config: trust only the CA, present the node certificate.
pub fn client_tls(ca_pem: &str, cert_pem: &str, key_pem: &str) -> ClientTlsConfig {
    ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .identity(TlsIdentity::from_pem(cert_pem, key_pem))
        .domain_name(CENTRAL_NAME)
}
