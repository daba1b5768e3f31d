//! Persisting the catalog: `metadata.json` in the data directory, replaced atomically (write a
//! temporary file, fsync it, rename it over the old one, fsync the directory), so a crash leaves
//! either the old or the new catalog, never a mix. Synchronous: called by the metadata owner for
//! rare, small changes.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::Catalog;
use crate::storage::StorageError;

const FILE: &str = "metadata.json";

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

/// Loads the catalog, or an empty one if none was saved yet.
pub fn load(data_dir: &Path) -> Result<Catalog, StorageError> {
    let p = path(data_dir);
    match std::fs::read(&p) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|_| StorageError::Corrupt {
            path: p,
            position: 0,
            offset: 0,
            reason: "metadata.json is not a valid catalog",
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Catalog::default()),
        Err(e) => Err(StorageError::Io { op: "read", path: p, source: e }),
    }
}

/// Saves the catalog atomically and durably.
pub fn save(data_dir: &Path, catalog: &Catalog) -> Result<(), StorageError> {
    let p = path(data_dir);
    let tmp = data_dir.join(format!("{FILE}.tmp"));
    let bytes = serde_json::to_vec_pretty(catalog).map_err(|e| StorageError::Io {
        op: "encode",
        path: p.clone(),
        source: std::io::Error::other(e),
    })?;
    let mut f = File::create(&tmp).map_err(StorageError::io("create", &tmp))?;
    f.write_all(&bytes).map_err(StorageError::io("write", &tmp))?;
    f.sync_all().map_err(StorageError::io("sync", &tmp))?;
    std::fs::rename(&tmp, &p).map_err(StorageError::io("rename", &p))?;
    File::open(data_dir).and_then(|d| d.sync_all()).map_err(StorageError::io("sync", data_dir))?;
    Ok(())
}
