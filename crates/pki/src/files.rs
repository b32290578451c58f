//! Writing keys (0600) and certificates, atomically.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::{Error, Result};

fn file_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::File { path: path.to_owned(), source }
}

fn write_mode(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(file_error(&tmp))?;
    file.set_permissions(std::fs::Permissions::from_mode(mode)).map_err(file_error(&tmp))?;
    file.write_all(contents).and_then(|()| file.sync_all()).map_err(file_error(&tmp))?;
    std::fs::rename(&tmp, path).map_err(file_error(path))
}

/// Writes a private key or token readable by its owner only (0600).
pub fn write_secret(path: &Path, contents: &[u8]) -> Result<()> {
    write_mode(path, contents, 0o600)
}

/// Writes a certificate or other public file (0644).
pub fn write_public(path: &Path, contents: &[u8]) -> Result<()> {
    write_mode(path, contents, 0o644)
}

/// Reads a PEM or token file as text.
pub fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(file_error(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        write_secret(&path, b"secret").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read(&path).unwrap(), "secret");
    }
}
