//! Predicted state for check mode.
//!
//! Ansible's check mode asks every module to guess on its own, so a task
//! that depends on an earlier task's file (a link to a template, a stat of a
//! rendered config, lineinfile on a file another task creates) fails or lies.
//! hoist instead runs file modules for real against an [`Overlay`]: an
//! in-memory copy-on-write layer over the host's filesystem. Writes land in
//! the overlay, reads see the overlay first, and nothing ever reaches the
//! host. Later tasks see what earlier tasks would have done, so `hoist diff`
//! shows exactly what `apply` would change.
//!
//! Commands cannot be predicted: through an overlay, only requests marked
//! [`ExecRequest::read_only`] run; anything else is refused.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{
    ConnError, ConnResult, Connection, ExecOutput, ExecRequest, FileAttrs, FileKind, FileStat,
};

#[derive(Clone, Debug)]
enum Entry {
    /// Removed (or replaced by nothing): hides the host's path and all below.
    Absent,
    /// A file; `data: None` means "the host's content at `origin`".
    File {
        data: Option<Arc<Vec<u8>>>,
        origin: Option<String>,
        meta: FileStat,
    },
    Dir {
        meta: FileStat,
    },
    Link {
        meta: FileStat,
    },
}

/// Who the connection logs in as, and its umask, for files the overlay creates.
#[derive(Clone, Debug)]
struct Identity {
    uid: u32,
    gid: u32,
    user: Option<String>,
    group: Option<String>,
    umask: u32,
}

/// The predicted filesystem changes of one host.
#[derive(Debug, Default)]
pub struct Overlay {
    entries: Mutex<BTreeMap<String, Entry>>,
    identity: Mutex<Option<Identity>>,
}

impl Overlay {
    pub fn new() -> Overlay {
        Overlay::default()
    }

    /// A connection that reads through `inner` and writes into this overlay.
    pub fn over<'a>(&'a self, inner: &'a dyn Connection) -> OverlayConn<'a> {
        OverlayConn {
            inner,
            overlay: self,
        }
    }

    /// Nothing predicted yet: the host is as the overlay would show it.
    fn is_empty(&self) -> bool {
        self.entries.lock().map(|m| m.is_empty()).unwrap_or(false)
    }

    fn get(&self, path: &str) -> Option<Entry> {
        self.entries.lock().ok()?.get(path).cloned()
    }

    fn put(&self, path: &str, e: Entry) {
        if let Ok(mut m) = self.entries.lock() {
            m.insert(path.to_owned(), e);
        }
    }

    /// True when an ancestor of `path` was removed or is no longer a directory.
    fn hidden_by_ancestor(&self, path: &str) -> bool {
        let Ok(m) = self.entries.lock() else {
            return false;
        };
        let mut cur = parent(path);
        while let Some(p) = cur {
            match m.get(&p) {
                Some(Entry::Dir { .. }) => return false,
                Some(_) => return true,
                None => {}
            }
            cur = parent(&p);
        }
        false
    }

    fn remove_below(&self, path: &str) {
        if let Ok(mut m) = self.entries.lock() {
            let prefix = format!("{}/", path.trim_end_matches('/'));
            m.retain(|k, _| !k.starts_with(&prefix));
        }
    }

    fn children(&self, dir: &str) -> Vec<(String, bool)> {
        let Ok(m) = self.entries.lock() else {
            return Vec::new();
        };
        let prefix = if dir == "/" {
            "/".to_owned()
        } else {
            format!("{}/", dir)
        };
        m.iter()
            .filter_map(|(k, e)| {
                let rest = k.strip_prefix(&prefix)?;
                if rest.is_empty() || rest.contains('/') {
                    return None;
                }
                Some((rest.to_owned(), !matches!(e, Entry::Absent)))
            })
            .collect()
    }
}

/// `a/b/../c/./d//` → `a/c/d`, keeping a leading `/`.
fn normalize(path: &str) -> String {
    let abs = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    if abs {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}

fn parent(path: &str) -> Option<String> {
    if path == "/" || path.is_empty() {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/".into()),
        Some(i) => Some(path[..i].to_owned()),
        None => None,
    }
}

fn join(dir: &str, rel: &str) -> String {
    if rel.starts_with('/') {
        normalize(rel)
    } else {
        normalize(&format!("{dir}/{rel}"))
    }
}

static NEXT_INODE: AtomicU64 = AtomicU64::new(1 << 40);

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

pub struct OverlayConn<'a> {
    inner: &'a dyn Connection,
    overlay: &'a Overlay,
}

impl OverlayConn<'_> {
    async fn identity(&self) -> Identity {
        if let Ok(g) = self.overlay.identity.lock()
            && let Some(id) = g.as_ref()
        {
            return id.clone();
        }
        let probe =
            ExecRequest::argv(["sh", "-c", "id -u; id -g; id -un; id -gn; umask"]).read_only();
        let text = match self.inner.exec(&probe).await {
            Ok(o) if o.rc == 0 => String::from_utf8_lossy(&o.stdout).into_owned(),
            _ => String::new(),
        };
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        let id = Identity {
            uid: lines.first().and_then(|s| s.parse().ok()).unwrap_or(0),
            gid: lines.get(1).and_then(|s| s.parse().ok()).unwrap_or(0),
            user: lines.get(2).map(|s| s.to_string()),
            group: lines.get(3).map(|s| s.to_string()),
            umask: lines
                .get(4)
                .and_then(|s| u32::from_str_radix(s, 8).ok())
                .unwrap_or(0o022),
        };
        if let Ok(mut g) = self.overlay.identity.lock() {
            *g = Some(id.clone());
        }
        id
    }

    async fn new_meta(&self, kind: FileKind, mode: u32, size: u64) -> FileStat {
        let id = self.identity().await;
        let t = now();
        FileStat {
            kind,
            mode,
            uid: id.uid,
            gid: id.gid,
            owner: id.user,
            group: id.group,
            size,
            mtime: t,
            atime: t,
            ctime: t,
            inode: NEXT_INODE.fetch_add(1, Ordering::Relaxed),
            dev: 0,
            nlink: 1,
            link_target: None,
        }
    }

    /// `lstat` through the overlay.
    async fn lstat(&self, path: &str) -> ConnResult<Option<FileStat>> {
        let path = normalize(path);
        match self.overlay.get(&path) {
            Some(Entry::Absent) => return Ok(None),
            Some(Entry::File { meta, .. } | Entry::Dir { meta } | Entry::Link { meta }) => {
                return Ok(Some(meta));
            }
            None => {}
        }
        if self.overlay.hidden_by_ancestor(&path) {
            return Ok(None);
        }
        self.inner.stat(&path, false).await
    }

    /// Follows symlinks (overlay and host) to the final path.
    async fn resolve(&self, path: &str) -> ConnResult<Option<(String, FileStat)>> {
        let mut cur = normalize(path);
        for _ in 0..40 {
            match self.lstat(&cur).await? {
                None => return Ok(None),
                Some(st) if st.kind == FileKind::Symlink => {
                    let target = st.link_target.unwrap_or_default();
                    let dir = parent(&cur).unwrap_or_else(|| "/".into());
                    cur = join(&dir, &target);
                }
                Some(st) => return Ok(Some((cur, st))),
            }
        }
        Err(ConnError::failed(format!(
            "too many levels of symbolic links: {path}"
        )))
    }

    /// The overlay entry for an existing path, copying the host's state in
    /// when the overlay has none yet (so metadata can be changed).
    async fn materialize(&self, path: &str) -> ConnResult<Option<Entry>> {
        let path = normalize(path);
        if let Some(e) = self.overlay.get(&path) {
            return Ok(match e {
                Entry::Absent => None,
                e => Some(e),
            });
        }
        let Some(st) = self.lstat(&path).await? else {
            return Ok(None);
        };
        let e = match st.kind {
            FileKind::Directory => Entry::Dir { meta: st },
            FileKind::Symlink => Entry::Link { meta: st },
            _ => Entry::File {
                data: None,
                origin: Some(path.clone()),
                meta: st,
            },
        };
        self.overlay.put(&path, e.clone());
        Ok(Some(e))
    }

    async fn require_parent_dir(&self, path: &str) -> ConnResult<()> {
        if let Some(p) = parent(&normalize(path)) {
            match self.resolve(&p).await? {
                Some((_, st)) if st.kind == FileKind::Directory => {}
                Some(_) => {
                    return Err(ConnError::failed(format!(
                        "[Errno 20] Not a directory: '{p}'"
                    )));
                }
                None => {
                    return Err(ConnError::failed(format!(
                        "[Errno 2] No such file or directory: '{p}'"
                    )));
                }
            }
        }
        Ok(())
    }

    async fn update_meta(&self, path: &str, f: impl FnOnce(&mut FileStat)) -> ConnResult<()> {
        let path = normalize(path);
        let Some(mut e) = self.materialize(&path).await? else {
            return Err(ConnError::failed(format!(
                "[Errno 2] No such file or directory: '{path}'"
            )));
        };
        match &mut e {
            Entry::File { meta, .. } | Entry::Dir { meta } | Entry::Link { meta } => {
                f(meta);
                meta.ctime = now();
            }
            Entry::Absent => {}
        }
        self.overlay.put(&path, e);
        Ok(())
    }
}

#[async_trait]
impl Connection for OverlayConn<'_> {
    fn forget_cached(&self) {
        self.inner.forget_cached();
    }
    fn transport(&self) -> &'static str {
        self.inner.transport()
    }
    // A new connection changes nothing on the host.
    async fn reconnect(&self, connect_timeout: Option<std::time::Duration>) -> ConnResult<()> {
        self.inner.reconnect(connect_timeout).await
    }
    async fn exec(&self, req: &ExecRequest) -> ConnResult<ExecOutput> {
        if !req.read_only {
            return Err(ConnError::failed(format!(
                "refusing to run `{}` while predicting changes (check mode never runs commands that could change the host)",
                req.argv.join(" ")
            )));
        }
        self.inner.exec(req).await
    }

    async fn stat(&self, path: &str, follow: bool) -> ConnResult<Option<FileStat>> {
        if follow {
            Ok(self.resolve(path).await?.map(|(_, st)| st))
        } else {
            self.lstat(path).await
        }
    }

    // While nothing is predicted the host is what the overlay shows: the
    // connection's one-round-trip answers stand. After that they are
    // built from the overlay's own stat and read.
    async fn checksum(&self, path: &str) -> ConnResult<Option<String>> {
        if self.overlay.is_empty() {
            return self.inner.checksum(path).await;
        }
        super::by_parts::checksum(self, path).await
    }
    async fn stat_both_checksum(&self, path: &str) -> ConnResult<super::StatsAndSum> {
        if self.overlay.is_empty() {
            return self.inner.stat_both_checksum(path).await;
        }
        super::by_parts::stat_both_checksum(self, path).await
    }
    async fn stat_both_content(&self, path: &str) -> ConnResult<super::StatsAndContent> {
        if self.overlay.is_empty() {
            return self.inner.stat_both_content(path).await;
        }
        super::by_parts::stat_both_content(self, path).await
    }
    async fn read_files(&self, paths: &[&str]) -> ConnResult<Vec<ConnResult<Option<Vec<u8>>>>> {
        if self.overlay.is_empty() {
            return self.inner.read_files(paths).await;
        }
        super::by_parts::read_files(self, paths).await
    }
    async fn realpath(&self, path: &str) -> ConnResult<Option<String>> {
        if self.overlay.is_empty() {
            return self.inner.realpath(path).await;
        }
        Ok(None)
    }

    async fn read_file(&self, path: &str) -> ConnResult<Option<Vec<u8>>> {
        let Some((real, st)) = self.resolve(path).await? else {
            return Ok(None);
        };
        if st.kind == FileKind::Directory {
            return Err(ConnError::failed(format!(
                "[Errno 21] Is a directory: '{path}'"
            )));
        }
        match self.overlay.get(&real) {
            Some(Entry::File { data: Some(d), .. }) => Ok(Some(d.as_ref().clone())),
            Some(Entry::File {
                data: None, origin, ..
            }) => {
                self.inner
                    .read_file(origin.as_deref().unwrap_or(&real))
                    .await
            }
            _ => self.inner.read_file(&real).await,
        }
    }

    async fn write_file(&self, path: &str, data: &[u8], attrs: &FileAttrs) -> ConnResult<()> {
        let path = normalize(path);
        self.require_parent_dir(&path).await?;
        let existing = self
            .lstat(&path)
            .await?
            .filter(|s| s.kind == FileKind::File);
        let id = self.identity().await;
        let mut meta = match existing {
            Some(m) => m,
            None => self.new_meta(FileKind::File, 0o666 & !id.umask, 0).await,
        };
        if let Some(m) = attrs.mode {
            meta.mode = m;
        }
        if let Some(o) = &attrs.owner {
            meta.uid = self.inner.lookup_user(o).await?.unwrap_or(meta.uid);
            meta.owner = Some(o.clone());
        }
        if let Some(g) = &attrs.group {
            meta.gid = self.inner.lookup_group(g).await?.unwrap_or(meta.gid);
            meta.group = Some(g.clone());
        }
        meta.kind = FileKind::File;
        meta.size = data.len() as u64;
        meta.mtime = now();
        meta.inode = NEXT_INODE.fetch_add(1, Ordering::Relaxed);
        meta.link_target = None;
        self.overlay.put(
            &path,
            Entry::File {
                data: Some(Arc::new(data.to_vec())),
                origin: None,
                meta,
            },
        );
        Ok(())
    }

    async fn mkdir(&self, path: &str, mode: u32) -> ConnResult<()> {
        let path = normalize(path);
        if self.lstat(&path).await?.is_some() {
            return Err(ConnError::failed(format!(
                "[Errno 17] File exists: '{path}'"
            )));
        }
        self.require_parent_dir(&path).await?;
        let meta = self.new_meta(FileKind::Directory, mode, 4096).await;
        self.overlay.remove_below(&path);
        self.overlay.put(&path, Entry::Dir { meta });
        Ok(())
    }

    async fn chmod(&self, path: &str, mode: u32) -> ConnResult<()> {
        match self.lstat(path).await? {
            Some(st) if st.kind == FileKind::Symlink => Ok(()),
            _ => self.update_meta(path, |m| m.mode = mode).await,
        }
    }

    async fn chown(
        &self,
        path: &str,
        owner: Option<&str>,
        group: Option<&str>,
        follow: bool,
    ) -> ConnResult<()> {
        let target = if follow {
            match self.resolve(path).await? {
                Some((p, _)) => p,
                None => {
                    return Err(ConnError::failed(format!(
                        "[Errno 2] No such file or directory: '{path}'"
                    )));
                }
            }
        } else {
            normalize(path)
        };
        let uid = match owner {
            Some(o) => Some(self.inner.lookup_user(o).await?.ok_or_else(|| {
                ConnError::failed(format!("chown failed: failed to look up user {o}"))
            })?),
            None => None,
        };
        let gid = match group {
            Some(g) => Some(self.inner.lookup_group(g).await?.ok_or_else(|| {
                ConnError::failed(format!("chgrp failed: failed to look up group {g}"))
            })?),
            None => None,
        };
        let (owner, group) = (owner.map(str::to_owned), group.map(str::to_owned));
        self.update_meta(&target, move |m| {
            if let Some(u) = uid {
                m.uid = u;
                m.owner = owner
                    .filter(|o| o.parse::<u32>().is_err())
                    .or(m.owner.take());
            }
            if let Some(g) = gid {
                m.gid = g;
                m.group = group
                    .filter(|o| o.parse::<u32>().is_err())
                    .or(m.group.take());
            }
        })
        .await
    }

    async fn symlink(&self, target: &str, path: &str) -> ConnResult<()> {
        let path = normalize(path);
        self.require_parent_dir(&path).await?;
        let mut meta = self
            .new_meta(FileKind::Symlink, 0o777, target.len() as u64)
            .await;
        meta.link_target = Some(target.to_owned());
        self.overlay.remove_below(&path);
        self.overlay.put(&path, Entry::Link { meta });
        Ok(())
    }

    async fn hardlink(&self, target: &str, path: &str) -> ConnResult<()> {
        let path = normalize(path);
        self.require_parent_dir(&path).await?;
        let Some(e) = self.materialize(target).await? else {
            return Err(ConnError::failed(format!(
                "[Errno 2] No such file or directory: '{target}'"
            )));
        };
        let e = match e {
            Entry::File {
                data,
                origin,
                mut meta,
            } => {
                meta.nlink += 1;
                let linked = Entry::File {
                    data: data.clone(),
                    origin: origin.clone(),
                    meta: meta.clone(),
                };
                self.overlay.put(&normalize(target), linked.clone());
                linked
            }
            Entry::Dir { .. } => {
                return Err(ConnError::failed(format!(
                    "[Errno 1] Operation not permitted: '{target}'"
                )));
            }
            other => other,
        };
        self.overlay.put(&path, e);
        Ok(())
    }

    async fn remove(&self, path: &str, recursive: bool) -> ConnResult<()> {
        let path = normalize(path);
        let Some(st) = self.lstat(&path).await? else {
            return Ok(());
        };
        if st.kind == FileKind::Directory && !recursive && !self.list_dir(&path).await?.is_empty() {
            return Err(ConnError::failed(format!(
                "[Errno 39] Directory not empty: '{path}'"
            )));
        }
        self.overlay.remove_below(&path);
        self.overlay.put(&path, Entry::Absent);
        Ok(())
    }

    async fn rename(&self, from: &str, to: &str) -> ConnResult<()> {
        let (from, to) = (normalize(from), normalize(to));
        let Some(e) = self.materialize(&from).await? else {
            return Err(ConnError::failed(format!(
                "[Errno 2] No such file or directory: '{from}'"
            )));
        };
        if matches!(e, Entry::Dir { .. }) {
            return Err(ConnError::failed(format!(
                "cannot predict renaming the directory {from} in check mode"
            )));
        }
        self.require_parent_dir(&to).await?;
        self.overlay.put(&to, e);
        self.overlay.put(&from, Entry::Absent);
        Ok(())
    }

    async fn list_dir(&self, path: &str) -> ConnResult<Vec<String>> {
        let Some((real, st)) = self.resolve(path).await? else {
            return Err(ConnError::failed(format!(
                "[Errno 2] No such file or directory: '{path}'"
            )));
        };
        if st.kind != FileKind::Directory {
            return Err(ConnError::failed(format!(
                "[Errno 20] Not a directory: '{path}'"
            )));
        }
        // A directory the overlay created has no host entries below it.
        let from_host = !matches!(self.overlay.get(&real), Some(Entry::Dir { meta }) if meta.inode >= (1 << 40))
            && !self.overlay.hidden_by_ancestor(&real);
        let mut names: Vec<String> = if from_host {
            self.inner.list_dir(&real).await.unwrap_or_default()
        } else {
            Vec::new()
        };
        for (name, present) in self.overlay.children(&real) {
            names.retain(|n| *n != name);
            if present {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    async fn set_times(&self, path: &str, atime: f64, mtime: f64) -> ConnResult<()> {
        self.update_meta(path, |m| {
            m.atime = atime;
            m.mtime = mtime;
        })
        .await
    }

    async fn lookup_user(&self, name: &str) -> ConnResult<Option<u32>> {
        self.inner.lookup_user(name).await
    }

    async fn lookup_group(&self, name: &str) -> ConnResult<Option<u32>> {
        self.inner.lookup_group(name).await
    }

    async fn home_dir(&self) -> ConnResult<String> {
        self.inner.home_dir().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::local::LocalConnection;

    #[tokio::test]
    async fn writes_stay_in_the_overlay_and_are_seen_by_reads() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().display().to_string();
        std::fs::write(dir.path().join("host.txt"), "host\n").unwrap();
        let local = LocalConnection;
        let ov = Overlay::new();
        let c = ov.over(&local);

        c.mkdir(&format!("{root}/d"), 0o750).await.unwrap();
        c.write_file(
            &format!("{root}/d/f"),
            b"new\n",
            &FileAttrs {
                mode: Some(0o600),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        c.symlink("d/f", &format!("{root}/link")).await.unwrap();
        c.remove(&format!("{root}/host.txt"), false).await.unwrap();

        // Nothing reached the disk.
        assert!(!dir.path().join("d").exists());
        assert!(dir.path().join("host.txt").exists());
        // The overlay answers as the host would after the changes.
        let st = c.stat(&format!("{root}/d"), false).await.unwrap().unwrap();
        assert_eq!((st.kind, st.mode), (FileKind::Directory, 0o750));
        assert_eq!(
            c.read_file(&format!("{root}/link")).await.unwrap().unwrap(),
            b"new\n"
        );
        assert_eq!(
            c.stat(&format!("{root}/link"), true)
                .await
                .unwrap()
                .unwrap()
                .mode,
            0o600
        );
        assert!(
            c.stat(&format!("{root}/host.txt"), false)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            c.list_dir(&root).await.unwrap(),
            vec!["d".to_string(), "link".to_string()]
        );
        assert_eq!(
            c.list_dir(&format!("{root}/d")).await.unwrap(),
            vec!["f".to_string()]
        );
    }

    /// The combined answers come from the host while nothing is
    /// predicted, and from the predictions after that.
    #[tokio::test]
    async fn combined_answers_see_the_predictions() {
        use crate::connection::sha1_hex;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().display().to_string();
        std::fs::write(dir.path().join("f"), "host\n").unwrap();
        let f = format!("{root}/f");
        let local = LocalConnection;
        let ov = Overlay::new();
        let c = ov.over(&local);
        let (_, _, sum) = c.stat_both_checksum(&f).await.unwrap();
        assert_eq!(sum, Some(sha1_hex(b"host\n")));
        c.write_file(&f, b"predicted\n", &FileAttrs::default())
            .await
            .unwrap();
        let (_, st, sum) = c.stat_both_checksum(&f).await.unwrap();
        assert_eq!(
            (st.map(|s| s.size), sum),
            (Some(10), Some(sha1_hex(b"predicted\n")))
        );
        let (_, _, content) = c.stat_both_content(&f).await.unwrap();
        assert_eq!(content.as_deref(), Some(&b"predicted\n"[..]));
        let files = c.read_files(&[&f, &format!("{root}/none")]).await.unwrap();
        assert_eq!(
            files[0].as_ref().unwrap().as_deref(),
            Some(&b"predicted\n"[..])
        );
        assert_eq!(files[1].as_ref().unwrap(), &None);
        assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), b"host\n");
    }

    #[tokio::test]
    async fn metadata_changes_and_removed_trees() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().display().to_string();
        std::fs::create_dir_all(dir.path().join("t/sub")).unwrap();
        std::fs::write(dir.path().join("t/sub/x"), "x").unwrap();
        std::fs::write(dir.path().join("m"), "m").unwrap();
        let local = LocalConnection;
        let ov = Overlay::new();
        let c = ov.over(&local);
        c.chmod(&format!("{root}/m"), 0o640).await.unwrap();
        assert_eq!(
            c.stat(&format!("{root}/m"), false)
                .await
                .unwrap()
                .unwrap()
                .mode,
            0o640
        );
        assert_eq!(
            c.read_file(&format!("{root}/m")).await.unwrap().unwrap(),
            b"m"
        );
        assert!(
            c.remove(&format!("{root}/t"), false).await.is_err(),
            "not empty"
        );
        c.remove(&format!("{root}/t"), true).await.unwrap();
        assert!(
            c.stat(&format!("{root}/t/sub/x"), false)
                .await
                .unwrap()
                .is_none()
        );
        assert!(dir.path().join("t/sub/x").exists());
        use std::os::unix::fs::PermissionsExt;
        assert_ne!(
            std::fs::metadata(dir.path().join("m"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o640
        );
    }

    #[tokio::test]
    async fn commands_that_could_write_are_refused() {
        let local = LocalConnection;
        let ov = Overlay::new();
        let c = ov.over(&local);
        assert!(
            c.exec(&ExecRequest::argv(["touch", "/tmp/x"]))
                .await
                .is_err()
        );
        let ok = c
            .exec(&ExecRequest::argv(["true"]).read_only())
            .await
            .unwrap();
        assert_eq!(ok.rc, 0);
    }

    #[test]
    fn paths_normalize() {
        assert_eq!(normalize("/a/b/../c/./d//"), "/a/c/d");
        assert_eq!(normalize("/"), "/");
        assert_eq!(parent("/a"), Some("/".into()));
        assert_eq!(join("/a/b", "../c"), "/a/c");
    }
}
