//! The CA: creating it, and issuing central's and nodes' certificates.

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

use crate::{Identity, Result, files};

/// A certificate and its private key, in PEM.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certificate.
    pub cert_pem: String,
    /// The private key; write it with [`crate::write_secret`].
    pub key_pem: String,
}

/// When a certificate is valid.
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    /// First valid moment.
    pub not_before: OffsetDateTime,
    /// Last valid moment.
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// From now (less a minute of clock skew) for `days` days.
    pub fn days(days: i64) -> Self {
        let now = OffsetDateTime::now_utc();
        Self { not_before: now - Duration::minutes(1), not_after: now + Duration::days(days) }
    }
}

/// Central's certificate authority.
pub struct Ca {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").finish_non_exhaustive()
    }
}

impl Ca {
    /// A new CA named `name`, valid for twenty years.
    pub fn create(name: &str) -> Result<Self> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        dn.push(DnType::OrganizationName, "Kechuang");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let validity = Validity::days(20 * 365);
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        let cert = params.self_signed(&key)?;
        Ok(Self { cert_pem: cert.pem(), issuer: Issuer::new(params, key) })
    }

    /// Loads the CA from `cert` and `key` PEM files.
    pub fn load(cert: &Path, key: &Path) -> Result<Self> {
        let cert_pem = files::read(cert)?;
        let key = KeyPair::from_pem(&files::read(key)?)?;
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key)?;
        Ok(Self { cert_pem, issuer })
    }

    /// The CA certificate, for trust stores.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA private key, to keep (0600) beside central.
    pub fn key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    /// Central's server certificate for `names` (DNS names or IP addresses),
    /// always including [`crate::CENTRAL_NAME`].
    pub fn issue_server(&self, names: &[String], validity: Validity) -> Result<Issued> {
        let mut all = vec![crate::CENTRAL_NAME.to_owned(), "localhost".to_owned(), "127.0.0.1".to_owned()];
        all.extend(names.iter().cloned());
        all.dedup();
        let mut params = CertificateParams::new(all)?;
        params.distinguished_name.push(DnType::CommonName, crate::CENTRAL_NAME);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params, validity)
    }

    /// A node's client certificate stating `identity`.
    pub fn issue_node(&self, identity: &Identity, validity: Validity) -> Result<Issued> {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, identity.id.as_str());
        params.subject_alt_names = identity
            .uris()
            .into_iter()
            .map(|u| u.try_into().map(SanType::URI))
            .collect::<std::result::Result<_, _>>()?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params, validity)
    }

    fn sign(&self, mut params: CertificateParams, validity: Validity) -> Result<Issued> {
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }
}

#[cfg(test)]
mod tests {
    use kechuang_types::{NodeId, NodeKind, Region};

    use super::*;
    use crate::identity_of;

    #[test]
    fn node_certificates_carry_their_identity_and_survive_reload() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::create("Kechuang test CA").unwrap();
        let (cert, key) = (dir.path().join("ca.crt"), dir.path().join("ca.key"));
        crate::write_public(&cert, ca.cert_pem().as_bytes()).unwrap();
        crate::write_secret(&key, ca.key_pem().as_bytes()).unwrap();
        let ca = Ca::load(&cert, &key).unwrap();

        let identity = Identity {
            id: NodeId::parse("id", "sz-city").unwrap(),
            kind: NodeKind::City,
            region: Region::parse("region", "440300").unwrap(),
            fields: Vec::new(),
        };
        let issued = ca.issue_node(&identity, Validity::days(30)).unwrap();
        let der = pem_to_der(&issued.cert_pem);
        assert_eq!(identity_of(&der).unwrap(), identity);
        let society = Identity {
            id: NodeId::parse("id", "ces").unwrap(),
            kind: NodeKind::Society,
            region: Region::parse("region", "110000").unwrap(),
            fields: vec![
                kechuang_types::Industry::parse("f", "C38").unwrap(),
                kechuang_types::Industry::parse("f", "C39").unwrap(),
            ],
        };
        let issued = ca.issue_node(&society, Validity::days(30)).unwrap();
        assert_eq!(
            identity_of(&pem_to_der(&issued.cert_pem)).unwrap(),
            society,
            "a society's fields travel in its certificate"
        );

        let server = ca.issue_server(&[], Validity::days(30)).unwrap();
        assert!(identity_of(&pem_to_der(&server.cert_pem)).is_err(), "central's cert is not a node identity");
    }

    fn pem_to_der(pem: &str) -> Vec<u8> {
        let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
        p.contents
    }
}
