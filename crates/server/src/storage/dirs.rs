//! Directory durability, the strict POSIX rule: a created, renamed or removed name survives a
//! power loss only once its parent directory was synced. Every directory the server makes or
//! removes goes through here, synchronously (startup, catalog changes, rare). A partition's
//! owner, which must not block its shard, syncs directories and replaces small files
//! (checkpoints, consumer offsets) through io_uring with [`sync_dir_async`] and
//! [`replace_file`].

use std::fs::File;
use std::io;
use std::path::Path;

use compio::buf::BufResult;
use compio::io::AsyncWriteAtExt;

use super::StorageError;

/// `fsync` of a directory: makes the entries in it durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// `fsync` of a directory through io_uring.
pub async fn sync_dir_async(dir: &Path) -> Result<(), StorageError> {
    let d = compio::fs::File::open(dir).await.map_err(StorageError::io("open", dir))?;
    d.sync_all().await.map_err(StorageError::io("sync", dir))
}

/// Replaces the file at `path` with `bytes` atomically: a temporary file beside it (the same
/// name with extension `tmp`), then a rename over it. With `durable`, the temporary file is
/// synced before the rename and the directory after it, so a crash leaves the old or the new
/// content, and the new one survives a power loss once this returns.
pub async fn replace_file(path: &Path, bytes: Vec<u8>, durable: bool) -> Result<(), StorageError> {
    let tmp = path.with_extension("tmp");
    let mut file =
        compio::fs::File::create(&tmp).await.map_err(StorageError::io("create", &tmp))?;
    let BufResult(res, _) = file.write_all_at(bytes, 0).await;
    res.map_err(StorageError::io("write", &tmp))?;
    if durable {
        file.sync_all().await.map_err(StorageError::io("sync", &tmp))?;
    }
    drop(file);
    compio::fs::rename(&tmp, path).await.map_err(StorageError::io("rename", path))?;
    match (durable, path.parent()) {
        (true, Some(dir)) if !dir.as_os_str().is_empty() => sync_dir_async(dir).await,
        _ => Ok(()),
    }
}

/// Creates `dir` and any missing parents, syncing the parent of every directory it creates,
/// and of `dir` itself even when it already existed (an earlier run may have created it and
/// crashed before that sync).
pub fn create_dir_all_durable(dir: &Path) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut at = dir;
    while !at.is_dir() {
        missing.push(at);
        match at.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => at = parent,
            _ => break,
        }
    }
    for created in missing.iter().rev() {
        match std::fs::create_dir(created) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        if let Some(parent) = created.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
    }
    if missing.is_empty()
        && let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty())
    {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Removes `dir` with everything in it and syncs its parent, so the removal is durable.
pub fn remove_dir_all_durable(dir: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    match dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => sync_dir(parent),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_nested_directories_and_removes_them() {
        let base = std::env::temp_dir().join(format!("eddy-dirs-{}", std::process::id()));
        let deep = base.join("a/b/c");
        create_dir_all_durable(&deep).unwrap();
        assert!(deep.is_dir());
        create_dir_all_durable(&deep).unwrap();
        remove_dir_all_durable(&base.join("a")).unwrap();
        assert!(!base.join("a").exists());
        remove_dir_all_durable(&base.join("a")).unwrap();
        std::fs::remove_dir_all(&base).ok();
    }
}
