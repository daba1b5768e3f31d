//! The filesystem's model, without FUSE: inodes with current and durable (synced) contents,
//! directories with current and durable entries, the power cut, and fault injection. Pure data.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::{OsStr, OsString};

/// The page size a torn cut keeps or drops.
pub const PAGE: usize = 4096;
/// The root directory's inode.
pub const ROOT: u64 = 1;

/// What survives a power cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Only what was synced.
    Clean,
    /// What was synced, plus each unsynced 4 KiB page of file data independently with
    /// probability 1/2, drawn from `seed` (a disk that wrote some of its cache before the cut).
    Torn { seed: u64 },
}

/// An operation a fault can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultOp {
    /// `fsync`/`fdatasync` of a file or directory fails with `EIO` (and syncs nothing).
    FsyncEio,
    /// A write fails with `ENOSPC` (and writes nothing).
    WriteEnospc,
    /// Opening or creating a file fails with `EMFILE`.
    OpenEmfile,
}

/// Fails `op` on paths containing `path_contains`, `times` times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub op: FaultOp,
    pub path_contains: String,
    pub times: u32,
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub writes: u64,
    pub fsyncs: u64,
    pub dir_fsyncs: u64,
    pub faults_fired: u64,
    pub cuts: u64,
    /// Bytes of unsynced file data the last cut dropped.
    pub dropped_bytes: u64,
    /// Directory entries the last cut reverted (unsynced creates, renames, unlinks).
    pub reverted_entries: u64,
}

#[derive(Debug, Clone)]
pub enum Body {
    File { data: Vec<u8>, durable: Vec<u8> },
    Dir { entries: BTreeMap<OsString, u64>, durable: BTreeMap<OsString, u64> },
}

#[derive(Debug, Clone)]
pub struct Node {
    pub body: Body,
    pub mode: u16,
    /// The directory and name this node was last linked under (for fault paths).
    pub parent: u64,
    pub name: OsString,
}

/// Why an operation failed; the FUSE layer maps these to errno values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsError {
    NotFound,
    Exists,
    NotDir,
    IsDir,
    NotEmpty,
    Io,
    NoSpace,
    TooManyFiles,
}

#[derive(Debug)]
pub struct State {
    pub nodes: HashMap<u64, Node>,
    next_ino: u64,
    pub faults: Vec<Fault>,
    pub stats: Stats,
}

impl State {
    pub fn new() -> Self {
        let root = Node {
            body: Body::Dir { entries: BTreeMap::new(), durable: BTreeMap::new() },
            mode: 0o755,
            parent: ROOT,
            name: OsString::new(),
        };
        Self {
            nodes: HashMap::from([(ROOT, root)]),
            next_ino: ROOT + 1,
            faults: Vec::new(),
            stats: Stats::default(),
        }
    }

    /// The node's path from the root, for fault matching.
    pub fn path(&self, mut ino: u64) -> String {
        let mut parts = Vec::new();
        while ino != ROOT {
            let Some(node) = self.nodes.get(&ino) else { break };
            parts.push(node.name.to_string_lossy().into_owned());
            ino = node.parent;
        }
        parts.reverse();
        format!("/{}", parts.join("/"))
    }

    /// Consumes one firing of a matching fault, if any.
    pub fn fault(&mut self, op: FaultOp, ino: u64, name: Option<&OsStr>) -> bool {
        let mut path = self.path(ino);
        if let Some(name) = name {
            path = format!("{}/{}", path.trim_end_matches('/'), name.to_string_lossy());
        }
        let hit = self
            .faults
            .iter_mut()
            .find(|f| f.op == op && f.times > 0 && path.contains(&f.path_contains));
        match hit {
            Some(f) => {
                f.times -= 1;
                self.stats.faults_fired += 1;
                true
            }
            None => false,
        }
    }

    pub fn entries(&self, dir: u64) -> Result<&BTreeMap<OsString, u64>, FsError> {
        match self.nodes.get(&dir).map(|n| &n.body) {
            Some(Body::Dir { entries, .. }) => Ok(entries),
            Some(Body::File { .. }) => Err(FsError::NotDir),
            None => Err(FsError::NotFound),
        }
    }

    fn entries_mut(&mut self, dir: u64) -> Result<&mut BTreeMap<OsString, u64>, FsError> {
        match self.nodes.get_mut(&dir).map(|n| &mut n.body) {
            Some(Body::Dir { entries, .. }) => Ok(entries),
            Some(Body::File { .. }) => Err(FsError::NotDir),
            None => Err(FsError::NotFound),
        }
    }

    pub fn lookup(&self, dir: u64, name: &OsStr) -> Result<u64, FsError> {
        self.entries(dir)?.get(name).copied().ok_or(FsError::NotFound)
    }

    /// Creates a file or directory named `name` in `dir`.
    pub fn create(
        &mut self,
        dir: u64,
        name: &OsStr,
        is_dir: bool,
        mode: u16,
    ) -> Result<u64, FsError> {
        if self.entries(dir)?.contains_key(name) {
            return Err(FsError::Exists);
        }
        if !is_dir && self.fault(FaultOp::OpenEmfile, dir, Some(name)) {
            return Err(FsError::TooManyFiles);
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        let body = match is_dir {
            true => Body::Dir { entries: BTreeMap::new(), durable: BTreeMap::new() },
            false => Body::File { data: Vec::new(), durable: Vec::new() },
        };
        self.nodes.insert(ino, Node { body, mode, parent: dir, name: name.to_owned() });
        self.entries_mut(dir)?.insert(name.to_owned(), ino);
        Ok(ino)
    }

    /// Removes `name` from `dir` (a directory only if empty).
    pub fn remove(&mut self, dir: u64, name: &OsStr, want_dir: bool) -> Result<(), FsError> {
        let ino = self.lookup(dir, name)?;
        match (&self.nodes[&ino].body, want_dir) {
            (Body::Dir { entries, .. }, true) if !entries.is_empty() => {
                return Err(FsError::NotEmpty);
            }
            (Body::Dir { .. }, false) => return Err(FsError::IsDir),
            (Body::File { .. }, true) => return Err(FsError::NotDir),
            _ => {}
        }
        self.entries_mut(dir)?.remove(name);
        Ok(())
    }

    /// Renames, replacing a target file (or empty directory).
    pub fn rename(
        &mut self,
        dir: u64,
        name: &OsStr,
        to_dir: u64,
        to_name: &OsStr,
    ) -> Result<(), FsError> {
        let ino = self.lookup(dir, name)?;
        self.entries(to_dir)?;
        if let Ok(existing) = self.lookup(to_dir, to_name) {
            if existing == ino {
                return Ok(());
            }
            if let Body::Dir { entries, .. } = &self.nodes[&existing].body
                && !entries.is_empty()
            {
                return Err(FsError::NotEmpty);
            }
        }
        self.entries_mut(dir)?.remove(name);
        self.entries_mut(to_dir)?.insert(to_name.to_owned(), ino);
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.parent = to_dir;
            node.name = to_name.to_owned();
        }
        Ok(())
    }

    pub fn write(&mut self, ino: u64, offset: u64, bytes: &[u8]) -> Result<usize, FsError> {
        if self.fault(FaultOp::WriteEnospc, ino, None) {
            return Err(FsError::NoSpace);
        }
        let Some(Body::File { data, .. }) = self.nodes.get_mut(&ino).map(|n| &mut n.body) else {
            return Err(FsError::IsDir);
        };
        let start = usize::try_from(offset).map_err(|_| FsError::NoSpace)?;
        let end = start.checked_add(bytes.len()).ok_or(FsError::NoSpace)?;
        if data.len() < end {
            data.resize(end, 0);
        }
        data[start..end].copy_from_slice(bytes);
        self.stats.writes += 1;
        Ok(bytes.len())
    }

    pub fn truncate(&mut self, ino: u64, size: u64) -> Result<(), FsError> {
        let Some(Body::File { data, .. }) = self.nodes.get_mut(&ino).map(|n| &mut n.body) else {
            return Err(FsError::IsDir);
        };
        data.resize(usize::try_from(size).map_err(|_| FsError::NoSpace)?, 0);
        Ok(())
    }

    pub fn read(&self, ino: u64, offset: u64, size: usize) -> Result<&[u8], FsError> {
        let Some(Body::File { data, .. }) = self.nodes.get(&ino).map(|n| &n.body) else {
            return Err(FsError::IsDir);
        };
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(data.len());
        let end = start.saturating_add(size).min(data.len());
        Ok(&data[start..end])
    }

    /// Makes a file's data or a directory's entries durable.
    pub fn fsync(&mut self, ino: u64) -> Result<(), FsError> {
        if self.fault(FaultOp::FsyncEio, ino, None) {
            return Err(FsError::Io);
        }
        match self.nodes.get_mut(&ino).map(|n| &mut n.body) {
            Some(Body::File { data, durable }) => {
                durable.clone_from(data);
                self.stats.fsyncs += 1;
            }
            Some(Body::Dir { entries, durable }) => {
                durable.clone_from(entries);
                self.stats.dir_fsyncs += 1;
            }
            None => return Err(FsError::NotFound),
        }
        Ok(())
    }

    /// The power cut: directories back to their durable entries, files to their durable data
    /// (plus surviving pages when torn), unreachable nodes dropped.
    pub fn power_cut(&mut self, cut: Cut) -> Stats {
        let mut rng = match cut {
            Cut::Clean => None,
            Cut::Torn { seed } => Some(seed | 1),
        };
        let mut dropped = 0u64;
        let mut reverted = 0u64;
        let mut inos: Vec<u64> = self.nodes.keys().copied().collect();
        inos.sort_unstable();
        for ino in inos {
            let Some(node) = self.nodes.get_mut(&ino) else { continue };
            match &mut node.body {
                Body::Dir { entries, durable } => {
                    reverted +=
                        entries.iter().filter(|(k, v)| durable.get(*k) != Some(v)).count() as u64;
                    reverted += durable.keys().filter(|k| !entries.contains_key(*k)).count() as u64;
                    entries.clone_from(durable);
                }
                Body::File { data, durable } => {
                    let mut survived = durable.clone();
                    if let Some(state) = rng.as_mut() {
                        for page in (0..data.len()).step_by(PAGE) {
                            let end = (page + PAGE).min(data.len());
                            if durable.get(page..end) == Some(&data[page..end]) {
                                continue;
                            }
                            *state ^= *state << 13;
                            *state ^= *state >> 7;
                            *state ^= *state << 17;
                            if *state & 1 == 1 {
                                if survived.len() < end {
                                    survived.resize(end, 0);
                                }
                                survived[page..end].copy_from_slice(&data[page..end]);
                            }
                        }
                    }
                    let lost = data
                        .iter()
                        .enumerate()
                        .filter(|(i, b)| survived.get(*i) != Some(*b))
                        .count();
                    dropped += lost as u64 + survived.len().saturating_sub(data.len()) as u64;
                    *durable = survived.clone();
                    *data = survived;
                }
            }
        }
        // Drop what no directory reaches any more.
        let mut reachable = HashSet::from([ROOT]);
        let mut stack = vec![ROOT];
        while let Some(ino) = stack.pop() {
            if let Some(Node { body: Body::Dir { entries, .. }, .. }) = self.nodes.get(&ino) {
                for &child in entries.values() {
                    if reachable.insert(child) {
                        stack.push(child);
                    }
                }
            }
        }
        self.nodes.retain(|ino, _| reachable.contains(ino));
        // Names and parents follow the surviving entries.
        let links: Vec<(u64, u64, OsString)> = self
            .nodes
            .iter()
            .filter_map(|(&dir, n)| match &n.body {
                Body::Dir { entries, .. } => {
                    Some(entries.iter().map(move |(k, &v)| (v, dir, k.clone())))
                }
                Body::File { .. } => None,
            })
            .flatten()
            .collect();
        for (ino, dir, name) in links {
            if let Some(node) = self.nodes.get_mut(&ino) {
                node.parent = dir;
                node.name = name;
            }
        }
        self.faults.clear();
        self.stats.cuts += 1;
        self.stats.dropped_bytes = dropped;
        self.stats.reverted_entries = reverted;
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> &OsStr {
        OsStr::new(s)
    }

    #[test]
    fn a_cut_keeps_synced_data_and_entries_only() {
        let mut s = State::new();
        let dir = s.create(ROOT, os("d"), true, 0o755).unwrap();
        s.fsync(ROOT).unwrap();
        let synced = s.create(dir, os("a"), false, 0o644).unwrap();
        s.write(synced, 0, b"hello").unwrap();
        s.fsync(synced).unwrap();
        s.fsync(dir).unwrap();
        s.write(synced, 5, b" world").unwrap();
        let unlinked_name = s.create(dir, os("b"), false, 0o644).unwrap();
        s.write(unlinked_name, 0, b"never named durably").unwrap();
        s.fsync(unlinked_name).unwrap();
        s.power_cut(Cut::Clean);
        assert_eq!(s.read(synced, 0, 100).unwrap(), b"hello");
        assert_eq!(s.lookup(dir, os("b")), Err(FsError::NotFound), "its directory was not synced");
        assert_eq!(s.stats.dropped_bytes, 6);
    }

    #[test]
    fn a_removal_or_rename_is_undone_unless_the_directory_was_synced() {
        let mut s = State::new();
        let f = s.create(ROOT, os("f"), false, 0o644).unwrap();
        s.fsync(ROOT).unwrap();
        s.rename(ROOT, os("f"), ROOT, os("g")).unwrap();
        s.power_cut(Cut::Clean);
        assert_eq!(s.lookup(ROOT, os("f")), Ok(f));
        s.remove(ROOT, os("f"), false).unwrap();
        s.fsync(ROOT).unwrap();
        s.power_cut(Cut::Clean);
        assert_eq!(s.lookup(ROOT, os("f")), Err(FsError::NotFound));
    }

    #[test]
    fn a_torn_cut_keeps_some_unsynced_pages_reproducibly() {
        let run = |seed| {
            let mut s = State::new();
            let f = s.create(ROOT, os("f"), false, 0o644).unwrap();
            s.fsync(ROOT).unwrap();
            s.write(f, 0, &vec![7u8; 64 * PAGE]).unwrap();
            s.power_cut(Cut::Torn { seed });
            s.read(f, 0, usize::MAX).unwrap().to_vec()
        };
        let a = run(42);
        assert_eq!(a, run(42), "seeded");
        let kept = a.chunks(PAGE).filter(|p| p.iter().all(|&b| b == 7)).count();
        assert!(kept > 0 && kept < 64, "some pages survive, not all: {kept}");
    }

    #[test]
    fn faults_fire_on_matching_paths_as_many_times_as_asked() {
        let mut s = State::new();
        let d = s.create(ROOT, os("part"), true, 0o755).unwrap();
        let f = s.create(d, os("x.log"), false, 0o644).unwrap();
        s.faults.push(Fault { op: FaultOp::FsyncEio, path_contains: "x.log".into(), times: 1 });
        s.faults.push(Fault { op: FaultOp::WriteEnospc, path_contains: "/part/".into(), times: 2 });
        s.faults.push(Fault { op: FaultOp::OpenEmfile, path_contains: "y".into(), times: 1 });
        assert_eq!(s.fsync(f), Err(FsError::Io));
        assert_eq!(s.fsync(f), Ok(()));
        assert_eq!(s.write(f, 0, b"a"), Err(FsError::NoSpace));
        assert_eq!(s.write(f, 0, b"a"), Err(FsError::NoSpace));
        assert_eq!(s.write(f, 0, b"a"), Ok(1));
        assert_eq!(s.create(d, os("y"), false, 0o644), Err(FsError::TooManyFiles));
        assert!(s.create(d, os("y"), false, 0o644).is_ok());
        assert_eq!(s.stats.faults_fired, 4);
    }
}
