//! Bearer tokens for the loopback APIs (a node's operator API, central's
//! admin API): a random secret in a 0600 file beside the daemon's data,
//! which every call must present; whoever can read the file may call.

use std::path::Path;
use std::sync::Arc;

use tonic::service::Interceptor;
use tonic::{Request, Status};

use crate::{Result, read, write_secret};

/// Reads the token at `path`, creating it (0600) on first use.
pub fn ensure_token(path: &Path) -> Result<String> {
    if let Ok(token) = read(path) {
        return Ok(token.trim().to_owned());
    }
    let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    write_secret(path, token.as_bytes())?;
    Ok(token)
}

/// The metadata value a client sends: `Bearer <token>`.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Refuses calls without the token (compared in constant time).
#[derive(Clone)]
pub struct RequireToken {
    expected: Arc<Vec<u8>>,
    hint: &'static str,
}

impl RequireToken {
    /// Requires `token`; `hint` tells a refused caller where to find it.
    pub fn new(token: &str, hint: &'static str) -> Self {
        Self { expected: Arc::new(bearer(token).into_bytes()), hint }
    }
}

impl Interceptor for RequireToken {
    fn call(&mut self, request: Request<()>) -> std::result::Result<Request<()>, Status> {
        let given = request.metadata().get("authorization").map(|v| v.as_bytes()).unwrap_or_default();
        let same = given.len() == self.expected.len()
            && given.iter().zip(self.expected.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        if same { Ok(request) } else { Err(Status::unauthenticated(format!("token missing or wrong ({})", self.hint))) }
    }
}

/// Adds a token to every call a client makes.
#[derive(Clone)]
pub struct PresentToken(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl PresentToken {
    /// Presents the token read from `path`.
    pub fn read(path: &Path) -> Result<Self> {
        let token = read(path)?;
        let value = bearer(token.trim()).parse().map_err(|_| crate::Error::File {
            path: path.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "the token is not ASCII"),
        })?;
        Ok(Self(value))
    }
}

impl Interceptor for PresentToken {
    fn call(&mut self, mut request: Request<()>) -> std::result::Result<Request<()>, Status> {
        request.metadata_mut().insert("authorization", self.0.clone());
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_made_once_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin.token");
        let token = ensure_token(&path).unwrap();
        assert_eq!(ensure_token(&path).unwrap(), token, "read back, not replaced");
        let mut guard = RequireToken::new(&token, "see the data directory");
        let mut present = PresentToken::read(&path).unwrap();
        let request = present.call(Request::new(())).unwrap();
        assert!(guard.call(request).is_ok());
        let mut wrong = Request::new(());
        wrong.metadata_mut().insert("authorization", "Bearer 0000".parse().unwrap());
        assert_eq!(guard.call(wrong).unwrap_err().code(), tonic::Code::Unauthenticated);
        assert_eq!(guard.call(Request::new(())).unwrap_err().code(), tonic::Code::Unauthenticated);
    }
}
