//! `hoist lab`: disposable local test hosts, in a second, with no containers.
//!
//! Each host is a network namespace plus private mount and UTS namespaces
//! holding overlay views of the real /etc /var /home /root /opt /srv /usr
//! /tmp (upper dirs on a tmpfs the lab mounts under its dir, so nothing a host
//! writes reaches the real system), a private /run and /dev/shm, and the
//! system's OpenSSH sshd. A gateway host is reachable from the machine over a
//! veth (198.18.N.0/30); the targets sit on a bridge in a "switch" namespace
//! (198.19.N.0/24) and are reached through the gateway (`ProxyJump`).
//!
//! Per host, a "holder" process (`sleep`, started through `ip netns exec …
//! unshare --mount --uts`) keeps the mount/UTS namespaces alive; sshd is
//! started into them with `nsenter`, so `stop`/`start` restart sshd with the
//! same namespaces and overlay contents.

mod ops;
mod plan;
mod render;
mod state;
mod sys;

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// Where a lab lives unless `--dir` says otherwise.
pub const DEFAULT_DIR: &str = "/var/tmp/hoist-lab";

#[derive(Args, Debug, Clone)]
pub struct LabArgs {
    /// Directory of the lab: keys, inventory.ini, ssh_config, known_hosts,
    /// lab.json.
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = DEFAULT_DIR,
        env = "HOIST_LAB_DIR"
    )]
    pub dir: PathBuf,
    #[command(subcommand)]
    pub command: LabCommand,
}

#[derive(Subcommand, Debug, Clone)]
pub enum LabCommand {
    /// Create a gateway and N target hosts, and write inventory.ini,
    /// ssh_config and known_hosts into the lab dir.
    Up(UpArgs),
    /// Remove everything the lab made (idempotent).
    Down,
    /// Show the hosts, their addresses, sshd and link state.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Take a host's link down (for the gateway: its link to this machine).
    Cut {
        #[arg(required = true, value_name = "HOST")]
        hosts: Vec<String>,
    },
    /// Bring a host's link back up.
    Heal {
        #[arg(required = true, value_name = "HOST")]
        hosts: Vec<String>,
    },
    /// Stop a host's sshd and end its open sessions.
    Stop {
        #[arg(required = true, value_name = "HOST")]
        hosts: Vec<String>,
        /// Stop only the listener; sessions already open stay (like
        /// `systemctl stop ssh`).
        #[arg(long)]
        keep_sessions: bool,
    },
    /// Start a host's sshd again, in the same namespaces and overlays.
    Start {
        #[arg(required = true, value_name = "HOST")]
        hosts: Vec<String>,
    },
    /// Run a command inside a host's namespaces (default: a login shell).
    Exec {
        #[arg(value_name = "HOST")]
        host: String,
        #[arg(
            value_name = "COMMAND",
            trailing_var_arg = true,
            allow_hyphen_values = true
        )]
        command: Vec<String>,
    },
}

#[derive(Args, Debug, Clone)]
pub struct UpArgs {
    /// Number of target hosts (besides the gateway).
    #[arg(value_name = "N")]
    pub count: usize,
    /// Target groups, comma-separated; targets are split round-robin and
    /// named <group><n>.
    #[arg(long, value_name = "GROUPS", default_value = plan::DEFAULT_GROUPS)]
    pub groups: String,
    /// Remove an existing lab in the dir first.
    #[arg(long)]
    pub force: bool,
    /// Lab network number 0-255 (addresses 198.18.NET.0/30 and
    /// 198.19.NET.0/24); default: the first free one.
    #[arg(long, value_name = "NET")]
    pub net: Option<u8>,
}

/// Runs a `hoist lab` subcommand and returns the exit code.
pub fn run(args: LabArgs) -> i32 {
    let dir = args.dir;
    let res = match args.command {
        LabCommand::Up(a) => ops::up(
            &dir,
            &ops::UpOptions {
                count: a.count,
                groups: a.groups,
                force: a.force,
                net: a.net,
            },
        )
        .map(|_| 0),
        LabCommand::Down => ops::down(&dir).map(|_| 0),
        LabCommand::Status { json } => ops::status(&dir, json).map(|_| 0),
        LabCommand::Cut { hosts } => ops::set_link(&dir, &hosts, false).map(|_| 0),
        LabCommand::Heal { hosts } => ops::set_link(&dir, &hosts, true).map(|_| 0),
        LabCommand::Stop {
            hosts,
            keep_sessions,
        } => ops::stop(&dir, &hosts, keep_sessions).map(|_| 0),
        LabCommand::Start { hosts } => ops::start(&dir, &hosts).map(|_| 0),
        LabCommand::Exec { host, command } => ops::exec(&dir, &host, &command),
    };
    match res {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ERROR! {e}");
            1
        }
    }
}
