//! Turning a host's connection variables into a live connection.
//!
//! The executor gathers the variables Ansible uses (`ansible_connection`,
//! `ansible_host`, `ansible_port`, `ansible_user`, the private key, the
//! `ansible_ssh_*_args` strings, host key checking) into a [`ConnSpec`]; this
//! module resolves them with ssh_config and opens the transport.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::local::LocalConnection;
use super::shell::{Become, BecomeRunner, LocalRunner, ScriptRunner, ShellConnection};
use super::ssh::{SshPool, SshRunner};
use super::ssh_config::{Overrides, parse_ssh_args};
use super::{ConnError, ConnResult, Connection};

/// How to reach one host, from its variables.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConnSpec {
    /// `local` or `ssh` (`smart` and `paramiko` mean ssh).
    pub kind: String,
    /// The inventory name.
    pub host: String,
    /// `ansible_host`: what ssh is asked to connect to (ssh_config `Host`
    /// patterns match it, as with Ansible's ssh command line).
    pub address: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub private_key: Option<String>,
    /// `ansible_ssh_args` (they come before the inventory's settings).
    pub ssh_args: Option<String>,
    /// `ansible_ssh_common_args`, `ansible_ssh_extra_args` (after them).
    pub extra_ssh_args: Vec<String>,
    /// `host_key_checking` false turns checking off.
    pub host_key_checking: Option<bool>,
    /// `--ssh-config FILE` from the command line.
    pub ssh_config: Option<PathBuf>,
    pub timeout: Option<Duration>,
}

/// A live connection to one host.
#[derive(Clone)]
pub struct HostLink {
    pub conn: Arc<dyn Connection>,
    pub runner: Arc<dyn ScriptRunner>,
}

impl HostLink {
    /// The same host, with every operation run as another user.
    pub fn with_become(&self, spec: Become) -> Arc<dyn Connection> {
        Arc::new(ShellConnection::new(Arc::new(BecomeRunner::new(
            self.runner.clone(),
            spec,
        ))))
    }
}

/// Opens a connection as `spec` describes; with `lazy`, an SSH connection
/// is only resolved now and opened by its first command (a module that waits
/// for the host to come up must not need it up to start).
pub async fn open(spec: &ConnSpec, pool: &Arc<SshPool>, lazy: bool) -> ConnResult<HostLink> {
    match spec.kind.as_str() {
        "local" => Ok(HostLink {
            conn: Arc::new(LocalConnection),
            runner: Arc::new(LocalRunner),
        }),
        "ssh" | "smart" | "paramiko" | "paramiko_ssh" => open_ssh(spec, pool, lazy).await,
        other => Err(ConnError::unreachable(format!(
            "unknown connection type '{other}' (hoist supports: local, ssh)"
        ))),
    }
}

async fn open_ssh(spec: &ConnSpec, pool: &Arc<SshPool>, lazy: bool) -> ConnResult<HostLink> {
    // In the order Ansible builds its ssh command line (OpenSSH keeps the
    // first value it sees): ansible_ssh_args, the inventory's host key
    // checking, port, key, user and timeout, then the common and extra args.
    let mut overrides = Overrides::default();
    // A host's own `-F` beats the run-wide `--ssh-config`.
    let mut config_file = None;
    let parse = |args: &str| {
        parse_ssh_args(args)
            .map_err(|e| ConnError::unreachable(format!("ssh arguments `{args}`: {e}")))
    };
    if let Some(args) = &spec.ssh_args {
        let (file, more) = parse(args)?;
        config_file = config_file.or(file);
        overrides.extend(more);
    }
    if spec.host_key_checking == Some(false) {
        overrides.push("stricthostkeychecking", "no");
    }
    if let Some(p) = spec.port {
        overrides.push("port", &p.to_string());
    }
    if let Some(k) = &spec.private_key {
        overrides.push("identityfile", k);
    }
    if let Some(u) = &spec.user {
        overrides.push("user", u);
    }
    if let Some(t) = spec.timeout {
        overrides.push("connecttimeout", &t.as_secs().to_string());
    }
    for args in &spec.extra_ssh_args {
        let (file, more) = parse(args)?;
        config_file = config_file.or(file);
        overrides.extend(more);
    }
    let config_file = config_file.or_else(|| spec.ssh_config.clone());
    let config = pool
        .config(config_file.as_deref())
        .map_err(ConnError::unreachable)?;
    let alias = spec.address.clone().unwrap_or_else(|| spec.host.clone());
    let target = config.resolve(&alias, &overrides);
    let ssh = Arc::new(SshRunner::new(pool.clone(), target, config, None));
    if !lazy {
        ssh.open_now().await?;
    }
    let runner: Arc<dyn ScriptRunner> = ssh;
    Ok(HostLink {
        conn: Arc::new(ShellConnection::new(runner.clone())),
        runner,
    })
}
