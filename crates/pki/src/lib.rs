//! Kechuang's small certificate authority and the TLS side of trust:
//! central's CA issues each node a certificate that carries the node's id,
//! kind and region; this crate makes those certificates, reads identities
//! back out of a peer's certificate, and builds the mutual-TLS configs for
//! tonic, and keeps the bearer tokens of the loopback APIs. Private keys and
//! tokens are written with mode 0600 and never sent anywhere.

mod ca;
mod error;
mod files;
mod identity;
mod tls;
mod token;

pub use ca::{Ca, Issued, Validity};
pub use error::{Error, Result};
pub use files::{read, write_public, write_secret};
pub use identity::{Identity, expiry_of, identity_of};
pub use tls::{CENTRAL_NAME, client_tls, server_config};
pub use token::{PresentToken, RequireToken, bearer, ensure_token};
