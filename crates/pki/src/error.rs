//! PKI errors.

/// What can go wrong making or reading certificates.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Generating or signing failed.
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
    /// A certificate could not be parsed.
    #[error("certificate: {0}")]
    Parse(String),
    /// The certificate does not carry a Kechuang node identity.
    #[error("certificate identity: {0}")]
    Identity(String),
    /// A key or certificate file could not be read or written.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Result of a PKI operation.
pub type Result<T> = std::result::Result<T, Error>;
