//! Remembers what a module has already asked a host within one task, so
//! modules that stat the same path several times cost one round trip.
//! Anything that may change the host (writes, chmod, commands …) forgets
//! everything.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{
    ConnResult, Connection, ExecOutput, ExecRequest, FileAttrs, FileStat, StatsAndContent,
    StatsAndSum,
};

pub struct StatCache<'a> {
    inner: &'a dyn Connection,
    stats: Mutex<HashMap<(String, bool), Option<FileStat>>>,
    sums: Mutex<HashMap<String, Option<String>>>,
    contents: Mutex<HashMap<String, Vec<u8>>>,
}

impl<'a> StatCache<'a> {
    pub fn new(inner: &'a dyn Connection) -> StatCache<'a> {
        StatCache {
            inner,
            stats: Mutex::new(HashMap::new()),
            sums: Mutex::new(HashMap::new()),
            contents: Mutex::new(HashMap::new()),
        }
    }

    /// Keeps a path's lstat and stat, answered together.
    fn remember_stats(&self, path: &str, lstat: &Option<FileStat>, stat: &Option<FileStat>) {
        if let Ok(mut m) = self.stats.lock() {
            m.insert((path.to_owned(), false), lstat.clone());
            m.insert((path.to_owned(), true), stat.clone());
        }
    }

    fn forget(&self) {
        if let Ok(mut m) = self.stats.lock() {
            m.clear();
        }
        if let Ok(mut m) = self.sums.lock() {
            m.clear();
        }
        if let Ok(mut m) = self.contents.lock() {
            m.clear();
        }
    }
}

#[async_trait]
impl Connection for StatCache<'_> {
    fn forget_cached(&self) {
        self.forget();
        self.inner.forget_cached();
    }
    fn transport(&self) -> &'static str {
        self.inner.transport()
    }
    async fn reconnect(&self, connect_timeout: Option<std::time::Duration>) -> ConnResult<()> {
        self.forget();
        self.inner.reconnect(connect_timeout).await
    }
    async fn exec(&self, req: &ExecRequest) -> ConnResult<ExecOutput> {
        if !req.read_only {
            self.forget();
        }
        self.inner.exec(req).await
    }
    async fn stat(&self, path: &str, follow: bool) -> ConnResult<Option<FileStat>> {
        let key = (path.to_owned(), follow);
        if let Ok(m) = self.stats.lock()
            && let Some(hit) = m.get(&key)
        {
            return Ok(hit.clone());
        }
        // Modules that look at a path usually ask for both: one round
        // trip answers both (a failing lstat falls back to the one asked).
        let st = match self.inner.stat_both(path).await {
            Ok((lstat, stat)) => {
                self.remember_stats(path, &lstat, &stat);
                if follow { stat } else { lstat }
            }
            Err(_) => {
                let st = self.inner.stat(path, follow).await?;
                if let Ok(mut m) = self.stats.lock() {
                    m.insert(key, st.clone());
                }
                st
            }
        };
        Ok(st)
    }
    async fn checksum(&self, path: &str) -> ConnResult<Option<String>> {
        if let Ok(m) = self.sums.lock()
            && let Some(hit) = m.get(path)
        {
            return Ok(hit.clone());
        }
        let sum = self.inner.checksum(path).await?;
        if let Ok(mut m) = self.sums.lock() {
            m.insert(path.to_owned(), sum.clone());
        }
        Ok(sum)
    }
    async fn stat_both_checksum(&self, path: &str) -> ConnResult<StatsAndSum> {
        let (lstat, stat, sum) = self.inner.stat_both_checksum(path).await?;
        self.remember_stats(path, &lstat, &stat);
        if let Ok(mut m) = self.sums.lock() {
            m.insert(path.to_owned(), sum.clone());
        }
        Ok((lstat, stat, sum))
    }
    async fn stat_both_content(&self, path: &str) -> ConnResult<StatsAndContent> {
        let (lstat, stat, content) = self.inner.stat_both_content(path).await?;
        self.remember_stats(path, &lstat, &stat);
        if let Some(c) = &content
            && let Ok(mut m) = self.contents.lock()
        {
            m.insert(path.to_owned(), c.clone());
        }
        Ok((lstat, stat, content))
    }
    async fn read_files(&self, paths: &[&str]) -> ConnResult<Vec<ConnResult<Option<Vec<u8>>>>> {
        self.inner.read_files(paths).await
    }
    async fn realpath(&self, path: &str) -> ConnResult<Option<String>> {
        self.inner.realpath(path).await
    }
    async fn read_file(&self, path: &str) -> ConnResult<Option<Vec<u8>>> {
        if let Ok(m) = self.contents.lock()
            && let Some(hit) = m.get(path)
        {
            return Ok(Some(hit.clone()));
        }
        self.inner.read_file(path).await
    }
    async fn write_file(&self, path: &str, data: &[u8], attrs: &FileAttrs) -> ConnResult<()> {
        self.forget();
        self.inner.write_file(path, data, attrs).await
    }
    async fn mkdir(&self, path: &str, mode: u32) -> ConnResult<()> {
        self.forget();
        self.inner.mkdir(path, mode).await
    }
    async fn chmod(&self, path: &str, mode: u32) -> ConnResult<()> {
        self.forget();
        self.inner.chmod(path, mode).await
    }
    async fn chown(
        &self,
        path: &str,
        owner: Option<&str>,
        group: Option<&str>,
        follow: bool,
    ) -> ConnResult<()> {
        self.forget();
        self.inner.chown(path, owner, group, follow).await
    }
    async fn symlink(&self, target: &str, path: &str) -> ConnResult<()> {
        self.forget();
        self.inner.symlink(target, path).await
    }
    async fn hardlink(&self, target: &str, path: &str) -> ConnResult<()> {
        self.forget();
        self.inner.hardlink(target, path).await
    }
    async fn remove(&self, path: &str, recursive: bool) -> ConnResult<()> {
        self.forget();
        self.inner.remove(path, recursive).await
    }
    async fn rename(&self, from: &str, to: &str) -> ConnResult<()> {
        self.forget();
        self.inner.rename(from, to).await
    }
    async fn list_dir(&self, path: &str) -> ConnResult<Vec<String>> {
        self.inner.list_dir(path).await
    }
    async fn set_times(&self, path: &str, atime: f64, mtime: f64) -> ConnResult<()> {
        self.forget();
        self.inner.set_times(path, atime, mtime).await
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
    async fn repeated_stats_are_remembered_until_something_changes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f").display().to_string();
        let local = LocalConnection;
        let c = StatCache::new(&local);
        assert!(c.stat(&p, false).await.unwrap().is_none());
        std::fs::write(&p, "behind its back").unwrap();
        assert!(c.stat(&p, false).await.unwrap().is_none(), "remembered");
        c.write_file(&p, b"x", &FileAttrs::default()).await.unwrap();
        assert_eq!(
            c.stat(&p, false).await.unwrap().unwrap().size,
            1,
            "forgotten after a write"
        );
        c.chmod(&p, 0o600).await.unwrap();
        assert_eq!(c.stat(&p, false).await.unwrap().unwrap().mode, 0o600);
    }

    #[tokio::test]
    async fn checksums_are_remembered_until_something_changes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f").display().to_string();
        std::fs::write(&p, "one").unwrap();
        let local = LocalConnection;
        let c = StatCache::new(&local);
        let (l, s, sum) = c.stat_both_checksum(&p).await.unwrap();
        assert_eq!((l.unwrap().size, s.unwrap().size), (3, 3));
        assert_eq!(
            sum.as_deref(),
            Some(crate::connection::sha1_hex(b"one").as_str())
        );
        std::fs::write(&p, "two!").unwrap();
        assert_eq!(c.checksum(&p).await.unwrap(), sum, "remembered");
        assert_eq!(
            c.stat(&p, true).await.unwrap().unwrap().size,
            3,
            "remembered"
        );
        let (_, _, content) = c.stat_both_content(&p).await.unwrap();
        assert_eq!(content.as_deref(), Some(&b"two!"[..]));
        std::fs::write(&p, "behind its back").unwrap();
        assert_eq!(
            c.read_file(&p).await.unwrap().as_deref(),
            Some(&b"two!"[..])
        );
        c.write_file(&p, b"three", &FileAttrs::default())
            .await
            .unwrap();
        assert_eq!(
            c.read_file(&p).await.unwrap().as_deref(),
            Some(&b"three"[..])
        );
        assert_eq!(
            c.checksum(&p).await.unwrap().as_deref(),
            Some(crate::connection::sha1_hex(b"three").as_str()),
            "forgotten after a write"
        );
    }
}
