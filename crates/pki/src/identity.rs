//! A node's identity as its certificate states it.
//!
//! Node certificates carry three URI subject alternative names:
//! `kechuang:node/<id>`, `kechuang:kind/<kind>` and `kechuang:region/<code>`,
//! and a society's one `kechuang:field/<industry>` per field it assesses.

use kechuang_types::{Industry, NodeId, NodeKind, Region};
use x509_parser::extensions::GeneralName;

use crate::{Error, Result};

/// Who a certificate says its holder is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The node's id.
    pub id: NodeId,
    /// Its kind.
    pub kind: NodeKind,
    /// Its region.
    pub region: Region,
    /// The industries a society assesses (GB/T 4754 codes or their
    /// beginnings); empty for every other node.
    pub fields: Vec<Industry>,
}

impl Identity {
    /// The URI SANs that state this identity in a certificate.
    pub fn uris(&self) -> Vec<String> {
        let mut uris = vec![
            format!("kechuang:node/{}", self.id),
            format!("kechuang:kind/{}", self.kind),
            format!("kechuang:region/{}", self.region),
        ];
        uris.extend(self.fields.iter().map(|f| format!("kechuang:field/{f}")));
        uris
    }
}

/// Reads the node identity from a DER certificate (already verified by TLS).
pub fn identity_of(der: &[u8]) -> Result<Identity> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| Error::Parse(e.to_string()))?;
    let san = cert
        .subject_alternative_name()
        .map_err(|e| Error::Parse(e.to_string()))?
        .ok_or_else(|| Error::Identity("no subject alternative names".into()))?;
    let (mut id, mut kind, mut region, mut fields) = (None, None, None, Vec::new());
    for name in &san.value.general_names {
        let GeneralName::URI(uri) = name else { continue };
        let bad = |e: kechuang_types::Error| Error::Identity(e.to_string());
        if let Some(v) = uri.strip_prefix("kechuang:node/") {
            id = Some(NodeId::parse("node_id", v).map_err(bad)?);
        } else if let Some(v) = uri.strip_prefix("kechuang:kind/") {
            kind = Some(NodeKind::parse("kind", v).map_err(bad)?);
        } else if let Some(v) = uri.strip_prefix("kechuang:region/") {
            region = Some(Region::parse("region", v).map_err(bad)?);
        } else if let Some(v) = uri.strip_prefix("kechuang:field/") {
            fields.push(Industry::parse("field", v).map_err(bad)?);
        }
    }
    match (id, kind, region) {
        (Some(id), Some(kind), Some(region)) => Ok(Identity { id, kind, region, fields }),
        _ => Err(Error::Identity("not a Kechuang node certificate (node, kind and region URIs required)".into())),
    }
}

/// When the certificate `der` stops being valid, in milliseconds since the Unix epoch.
pub fn expiry_of(der: &[u8]) -> Result<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| Error::Parse(e.to_string()))?;
    Ok(cert.validity().not_after.timestamp() * 1000)
}
