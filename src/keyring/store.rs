//! Where downloaded certificates are kept between runs: the [`KeyStore`] trait and a directory.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::redact::Escaped;

/// A place that keeps downloaded platform certificates, so that a restart (or another process)
/// does not need the network. Implement it over a shared volume, a database or a cache service
/// to let several processes share what one downloaded.
///
/// Certificates come out of the store as they went in (PEM), and are trusted as the verified
/// downloads they were: keep the store as private as the merchant key.
pub trait KeyStore: Send + Sync + 'static {
    /// Every stored certificate, PEM.
    fn load(&self) -> io::Result<Vec<Vec<u8>>>;
    /// Keeps the certificate `serial` (PEM), replacing any with the same serial.
    fn save(&self, serial: &str, pem: &[u8]) -> io::Result<()>;
    /// Forgets the certificate `serial` (it expired).
    fn remove(&self, serial: &str) -> io::Result<()>;

    /// Takes the lock that lets one process of those sharing this store download the
    /// certificates at a time, for at most `ttl`: `Ok(Some(token))` when taken (the key ring
    /// gives `token` back to [`unlock_download`](Self::unlock_download) after its download),
    /// `Ok(None)` when another process holds it (the ring then waits for that download and
    /// reads this store). An error lets the ring download on its own. The default: no shared
    /// lock, always taken.
    fn try_lock_download(&self, ttl: std::time::Duration) -> io::Result<Option<String>> {
        let _ = ttl;
        Ok(Some(String::new()))
    }

    /// Releases the download lock taken with `token` (if it still holds it).
    fn unlock_download(&self, token: &str) -> io::Result<()> {
        let _ = token;
        Ok(())
    }
}

/// Certificates as `wechatpay_<serial>.pem` files in a directory, as wechatpay-php's and the
/// Node SDK's tools write them (so either can fill it).
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("wechatpay-doc-store-{}", std::process::id()));
/// use wechatpay::keyring::{DirectoryStore, KeyStore};
///
/// let store = DirectoryStore::new(&dir);
/// store.save("5157F09EFDC096DE15EBE81A47057A7232F1B8E1", b"-----BEGIN CERTIFICATE-----\n...").unwrap();
/// assert!(dir.join("wechatpay_5157F09EFDC096DE15EBE81A47057A7232F1B8E1.pem").exists());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct DirectoryStore {
    dir: PathBuf,
}

impl DirectoryStore {
    /// A store in `dir` (created on the first save).
    pub fn new(dir: impl AsRef<Path>) -> DirectoryStore {
        DirectoryStore {
            dir: dir.as_ref().to_path_buf(),
        }
    }

    fn path(&self, serial: &str) -> io::Result<PathBuf> {
        if serial.is_empty() || !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("`{}` is not a certificate serial", serial.escape_default()),
            ));
        }
        Ok(self.dir.join(format!("wechatpay_{serial}.pem")))
    }
}

impl KeyStore for DirectoryStore {
    fn load(&self) -> io::Result<Vec<Vec<u8>>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut pems = Vec::new();
        for entry in entries {
            let path = entry?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.starts_with("wechatpay_") && name.ends_with(".pem") {
                // One unreadable file (removed by another process since the listing, no
                // permission) does not hide the others.
                match std::fs::read(&path) {
                    Ok(pem) => pems.push(pem),
                    Err(e) => tracing::warn!(
                        file = %Escaped(path.display()),
                        error = %Escaped(&e),
                        "cannot read a file of the certificate store: skipped"
                    ),
                }
            }
        }
        Ok(pems)
    }

    fn save(&self, serial: &str, pem: &[u8]) -> io::Result<()> {
        let path = self.path(serial)?;
        std::fs::create_dir_all(&self.dir)?;
        // Written aside and renamed: another process never reads half a certificate. The name
        // is this writer's alone (process, counter and random part: containers sharing the
        // volume may all be process 1), and only the writer that created it removes it.
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let random = crate::crypto::nonce().map_err(io::Error::other)?;
        let partial = self.dir.join(format!(
            ".wechatpay_{serial}.pem.{}.{}.{random}",
            std::process::id(),
            WRITES.fetch_add(1, Ordering::Relaxed)
        ));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial)?;
        let written = file
            .write_all(pem)
            .and_then(|()| file.sync_all())
            .and_then(|()| std::fs::rename(&partial, &path));
        if written.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        written
    }

    fn remove(&self, serial: &str) -> io::Result<()> {
        match std::fs::remove_file(self.path(serial)?) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("wechatpay-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn concurrent_saves_of_one_serial_leave_one_whole_file_and_no_partial() {
        let dir = scratch("saves");
        let serial = "0123456789ABCDEF";
        let versions: Vec<Vec<u8>> = (0..8u8).map(|n| vec![b'A' + n; 64 * 1024]).collect();
        std::thread::scope(|scope| {
            for version in &versions {
                let store = DirectoryStore::new(&dir);
                scope.spawn(move || {
                    for _ in 0..20 {
                        store.save(serial, version).unwrap();
                    }
                });
            }
        });
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [format!("wechatpay_{serial}.pem")]);
        let saved = DirectoryStore::new(&dir).load().unwrap();
        assert_eq!(saved.len(), 1);
        assert!(versions.contains(&saved[0]), "a mixed file");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unreadable_file_does_not_hide_the_others() {
        let dir = scratch("unreadable");
        let store = DirectoryStore::new(&dir);
        store.save("AA", b"first").unwrap();
        // A directory where a certificate file is expected: reading it fails.
        std::fs::create_dir(dir.join("wechatpay_BB.pem")).unwrap();
        assert_eq!(store.load().unwrap(), [b"first".to_vec()]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
