//! `lab.json`: the machine-readable state of a lab, written before anything
//! is created and updated as processes start, so `down` can always clean up.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::plan::{self, HostPlan, LinkEnd, Net, Veth};

pub const STATE_FILE: &str = "lab.json";
pub const INVENTORY_FILE: &str = "inventory.ini";
pub const SSH_CONFIG_FILE: &str = "ssh_config";
pub const KNOWN_HOSTS_FILE: &str = "known_hosts";
pub const CLIENT_KEY_FILE: &str = "id_ed25519";
/// Per-host keys, sshd_config, logs and pid file: `<dir>/hosts/<name>/`.
pub const HOSTS_DIR: &str = "hosts";
/// The tmpfs holding every host's overlay upper/work dirs: `<dir>/fs/`.
pub const FS_DIR: &str = "fs";
/// Where the lab dir is bind-mounted inside each host.
pub const INNER_DIR: &str = "/run/hoist-lab";
/// The real directories each host sees through an overlay.
pub const OVERLAY_DIRS: &[&str] = &["etc", "var", "home", "root", "opt", "srv", "usr", "tmp"];
/// Host key types, in the order they are offered.
pub const HOST_KEY_TYPES: &[&str] = &["ed25519", "ecdsa", "rsa"];

/// A process the lab started: pid plus its start time (clock ticks since
/// boot, from /proc/PID/stat), so a reused pid is never mistaken for ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proc {
    pub pid: u32,
    pub start: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostState {
    pub name: String,
    pub group: String,
    /// The address clients use (`ansible_host`).
    pub address: String,
    /// The address on the lab network.
    pub lan_address: String,
    pub netns: String,
    pub veths: Vec<Veth>,
    /// The interface `cut`/`heal` take down/up.
    pub link: LinkEnd,
    pub default_via: String,
    /// The process holding the host's mount and UTS namespaces (and its
    /// overlays); sshd runs inside its namespaces.
    pub holder: Option<Proc>,
    pub sshd: Option<Proc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabState {
    pub version: u32,
    /// "creating" while `up` runs, "up" once it finished.
    pub status: String,
    pub dir: String,
    /// Lab number: the third octet of its addresses.
    pub net: u8,
    pub created_unix: u64,
    pub machine_if: String,
    pub machine_address: String,
    pub uplink_net: String,
    pub lan_net: String,
    pub switch_netns: String,
    pub bridge: String,
    /// The tmpfs mount point (overlay upper/work dirs).
    pub tmpfs: String,
    pub client_key: String,
    pub groups: Vec<String>,
    /// The gateway first, then the targets.
    pub hosts: Vec<HostState>,
}

impl LabState {
    pub fn new(dir: &Path, net: Net, groups: &[String], hosts: Vec<HostPlan>) -> LabState {
        let created_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        LabState {
            version: 1,
            status: "creating".to_string(),
            dir: dir.display().to_string(),
            net: net.0,
            created_unix,
            machine_if: net.machine_if(),
            machine_address: format!("{}/{}", net.machine_addr(), Net::UPLINK_PREFIX),
            uplink_net: net.uplink_net(),
            lan_net: net.lan_net(),
            switch_netns: net.switch_netns(),
            bridge: plan::BRIDGE.to_string(),
            tmpfs: dir.join(FS_DIR).display().to_string(),
            client_key: dir.join(CLIENT_KEY_FILE).display().to_string(),
            groups: groups.to_vec(),
            hosts: hosts
                .into_iter()
                .map(|h| HostState {
                    name: h.name,
                    group: h.group,
                    address: h.address.to_string(),
                    lan_address: h.lan_address.to_string(),
                    netns: h.netns,
                    veths: h.veths,
                    link: h.link,
                    default_via: h.default_via.to_string(),
                    holder: None,
                    sshd: None,
                })
                .collect(),
        }
    }

    pub fn dir(&self) -> PathBuf {
        PathBuf::from(&self.dir)
    }

    pub fn host_dir(&self, name: &str) -> PathBuf {
        self.dir().join(HOSTS_DIR).join(name)
    }

    /// A host's directory as seen from inside the host.
    pub fn inner_host_dir(name: &str) -> String {
        format!("{INNER_DIR}/{HOSTS_DIR}/{name}")
    }

    pub fn host_index(&self, name: &str) -> Result<usize, String> {
        self.hosts
            .iter()
            .position(|h| h.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = self.hosts.iter().map(|h| h.name.as_str()).collect();
                format!("no host '{name}' in this lab (hosts: {})", names.join(", "))
            })
    }

    pub fn targets(&self) -> impl Iterator<Item = &HostState> {
        self.hosts.iter().filter(|h| h.group != plan::GATEWAY_GROUP)
    }

    /// Reads `<dir>/lab.json`; Ok(None) when there is none.
    pub fn load(dir: &Path) -> Result<Option<LabState>, String> {
        let path = dir.join(STATE_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{} is not a hoist lab state file: {e}", path.display()))
    }

    /// Writes `<dir>/lab.json` atomically.
    pub fn save(&self) -> Result<(), String> {
        let path = self.dir().join(STATE_FILE);
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())? + "\n";
        write_atomic(&path, text.as_bytes(), 0o644)
    }
}

/// Writes a file via a temporary sibling and a rename.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp~");
    let res = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    res.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        format!("cannot write {}: {e}", path.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_through_json() {
        let groups = vec!["web".to_string(), "db".to_string()];
        let hosts = plan::plan(Net(0), 3, &groups).unwrap();
        let mut st = LabState::new(Path::new("/var/tmp/hoist-lab"), Net(0), &groups, hosts);
        st.hosts[1].sshd = Some(Proc { pid: 42, start: 7 });
        let text = serde_json::to_string_pretty(&st).unwrap();
        let back: LabState = serde_json::from_str(&text).unwrap();
        assert_eq!(back, st);
        assert_eq!(st.tmpfs, "/var/tmp/hoist-lab/fs");
        assert_eq!(st.machine_address, "198.18.0.1/30");
        assert_eq!(st.host_index("db1").unwrap(), 2);
        assert!(
            st.host_index("nope")
                .unwrap_err()
                .contains("gateway, web1, db1, web2")
        );
        assert_eq!(st.targets().count(), 3);
        assert_eq!(
            LabState::inner_host_dir("web1"),
            "/run/hoist-lab/hosts/web1"
        );
    }

    #[test]
    fn load_and_save() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(LabState::load(dir.path()).unwrap(), None);
        let groups = vec!["web".to_string()];
        let st = LabState::new(
            dir.path(),
            Net(3),
            &groups,
            plan::plan(Net(3), 1, &groups).unwrap(),
        );
        st.save().unwrap();
        assert_eq!(LabState::load(dir.path()).unwrap(), Some(st));
        fs::write(dir.path().join(STATE_FILE), "nonsense").unwrap();
        assert!(LabState::load(dir.path()).is_err());
    }
}
