//! The SSH transport: the only code in hoist that knows russh.
//!
//! * One SSH connection per target for the whole run ([`Session`]).
//! * Gateways (ProxyJump hosts, chains included) are shared: every target
//!   behind one gateway rides on one connection to it, as direct-tcpip
//!   channels, and concurrent handshakes through a gateway are bounded.
//! * Host keys are always checked against known_hosts before anything is
//!   sent; a changed key is refused with the file:line of the stored key.
//! * Commands run in exec channels that are always closed; never more than
//!   [`MAX_CHANNELS`] at once per connection (sshd's MaxSessions is 10).
//! * Every step has a timeout; keepalives turn a silent peer into an
//!   UNREACHABLE host instead of a hang.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use russh::client::{self, Handle};
use russh::keys::{self, HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey};
use russh::{ChannelMsg, Disconnect};
use tokio::sync::{OnceCell, Semaphore};
use tokio::time::timeout;

use super::known_hosts::{self, HostKeyStatus, KnownHosts};
use super::shell::ScriptRunner;
use super::ssh_config::{JumpHost, Overrides, SshConfig, SshTarget, StrictMode};
use super::trace::{self, TraceEvent};
use super::{ConnError, ConnResult, ExecOutput};

/// Nudges per command at most (see `Session::nudge`): the first
/// small replies are what Nagle holds; a big output must not queue a
/// request per message, or the session's command queue fills while its
/// loop waits for this command to take its data, and both wait forever.
const MAX_NUDGES: usize = 3;

/// Exec channels open at once on one connection (sshd's MaxSessions is 10).
pub const MAX_CHANNELS: usize = 8;
/// Handshakes in flight through one gateway (sshd's MaxStartups begins
/// dropping unauthenticated connections at 10).
pub const MAX_HANDSHAKES_PER_GATEWAY: usize = 8;

/// Run-wide SSH settings.
#[derive(Clone, Debug)]
pub struct SshOptions {
    /// Connect, authentication and channel-open timeout (Ansible's `timeout`).
    pub timeout: Duration,
    /// Host key policy forced from the command line or environment.
    pub host_key_policy: Option<StrictMode>,
}

impl Default for SshOptions {
    fn default() -> Self {
        SshOptions {
            timeout: Duration::from_secs(10),
            host_key_policy: None,
        }
    }
}

/// One authenticated SSH connection.
pub struct Session {
    handle: Handle<Client>,
    name: String,
    slots: Semaphore,
    timeout: Duration,
    /// The gateway this connection is tunnelled through, kept alive.
    _via: Option<Arc<Session>>,
    /// The SFTP subsystem, opened on first use (`None`: the host has none).
    sftp: OnceCell<Option<russh_sftp::client::SftpSession>>,
    /// The shell kept open for short scripts (see [`Session::run_short`]);
    /// `None` until first use and after it died. A busy shell is never
    /// waited for: a second script at once gets an exec channel.
    shell: tokio::sync::Mutex<Option<KeptShell>>,
    /// The host had no usable kept shell: short scripts use exec channels.
    shell_broken: std::sync::atomic::AtomicBool,
}

/// A `/bin/sh` reading scripts on its standard input, one exec channel for
/// the whole run. Each script runs in a subshell with its standard input
/// from /dev/null; after it, the shell writes a marker with the exit
/// status on stdout and a marker on stderr, so the output of each script
/// is known to be complete without the channel closing. The marker holds
/// 128 random bits: no file or command output can fake it.
struct KeptShell {
    ch: russh::Channel<client::Msg>,
    marker: String,
    /// It has answered a script: a failure after that is the shell dying,
    /// before that the host not keeping one (a ForceCommand, a shell that
    /// is no shell): then exec channels for good.
    answered: bool,
}

/// A kept shell taken out of its session for one script: if the script
/// is abandoned (a task `timeout:`, Ctrl-C) or the shell fails, the
/// channel is killed and its slot given back; after a clean script it
/// goes back to the session.
struct ShellLease<'a> {
    shell: Option<KeptShell>,
    session: &'a Session,
}

impl Drop for ShellLease<'_> {
    fn drop(&mut self) {
        if let Some(sh) = self.shell.take() {
            self.session.slots.add_permits(1);
            drop(ChannelGuard(Some(sh.ch)));
        }
    }
}

impl Session {
    pub fn name(&self) -> &str {
        &self.name
    }

    fn lost(&self, e: impl std::fmt::Display) -> ConnError {
        ConnError::unreachable(format!(
            "Failed to connect to the host via ssh: {}: {e}",
            self.name
        ))
    }

    /// Runs a command line in an exec channel, feeding `stdin`, and
    /// collects its output and exit status.
    pub async fn run(&self, command: &str, stdin: Option<&[u8]>) -> ConnResult<ExecOutput> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| ConnError::unreachable("connection closed"))?;
        if self.handle.is_closed() {
            return Err(self.lost("connection closed"));
        }
        let asked = std::time::Instant::now();
        trace::count(trace::Trip::Exec);
        let ch = match timeout(self.timeout, self.handle.channel_open_session()).await {
            Ok(Ok(ch)) => ch,
            Ok(Err(e)) => return Err(self.lost(format!("cannot open a channel: {e}"))),
            Err(_) => return Err(self.lost("timed out opening a channel")),
        };
        detail(|| {
            format!(
                "SSH: channel {} opened on {} in {:.1} ms; exec request",
                ch.id(),
                self.name,
                asked.elapsed().as_secs_f64() * 1000.0
            )
        });
        // If this future is dropped (a task `timeout:`, Ctrl-C), the guard
        // kills the remote command and closes the channel anyway.
        let mut guard = ChannelGuard(Some(ch));
        let Some(ch) = guard.0.as_mut() else {
            return Err(self.lost("channel vanished"));
        };
        let result = async {
            ch.exec(true, command.as_bytes())
                .await
                .map_err(|e| self.lost(e))?;
            if let Some(data) = stdin
                && !data.is_empty()
            {
                ch.data(data).await.map_err(|e| self.lost(e))?;
            }
            ch.eof().await.map_err(|e| self.lost(e))?;
            let mut out = ExecOutput::default();
            let mut rc: Option<i32> = None;
            let mut nudges = 0;
            while let Some(msg) = ch.wait().await {
                self.nudge(ch, &mut nudges, &msg).await;
                match msg {
                    ChannelMsg::Data { data } => out.stdout.extend_from_slice(&data),
                    ChannelMsg::ExtendedData { data, ext: 1 } => {
                        out.stderr.extend_from_slice(&data)
                    }
                    ChannelMsg::ExitStatus { exit_status } => rc = Some(exit_status as i32),
                    ChannelMsg::ExitSignal { signal_name, .. } => {
                        rc = Some(-1);
                        out.stderr.extend_from_slice(
                            format!("killed by signal {signal_name:?}").as_bytes(),
                        );
                    }
                    ChannelMsg::Close => break,
                    _ => {}
                }
            }
            match rc {
                Some(rc) => {
                    detail(|| {
                        format!(
                            "SSH: exit status {rc} after {:.1} ms; {} bytes out, {} bytes err; channel closed",
                            asked.elapsed().as_secs_f64() * 1000.0,
                            out.stdout.len(),
                            out.stderr.len()
                        )
                    });
                    out.rc = rc;
                    Ok(out)
                }
                None => Err(self.lost("the connection closed before the command finished")),
            }
        }
        .await;
        if let Some(ch) = guard.0.take() {
            let _ = ch.close().await;
        }
        result
    }

    /// Nudge: a packet back at once carries the TCP ACK of what the server
    /// just sent, so its next small write is not held by Nagle for our (or
    /// a gateway's) delayed ACK. Only for a command's first few replies
    /// (`sent` counts them; see [`MAX_NUDGES`]).
    ///
    /// The packet is a `window-change` request on the command's own channel
    /// (no reply wanted; without a terminal sshd has nothing to resize):
    /// nothing comes back to be held in turn, and nothing is left waiting
    /// for an answer. A `keepalive@openssh.com` without a reply would do on
    /// the wire, but russh queues an answer for every global request it
    /// sends and never drops one that will not come, so the queue grew by
    /// three entries per command for the life of the connection; with a
    /// reply wanted, the replies brought the stall back (+40% no-op time).
    async fn nudge(&self, ch: &russh::Channel<client::Msg>, sent: &mut usize, msg: &ChannelMsg) {
        if *sent < MAX_NUDGES
            && matches!(
                msg,
                ChannelMsg::Success | ChannelMsg::Data { .. } | ChannelMsg::ExtendedData { .. }
            )
        {
            *sent += 1;
            let _ = ch.window_change(0, 0, 0, 0).await;
        }
    }

    /// Runs a short script of hoist's own (a probe such as a stat or a
    /// read, or a small change such as a chmod: no standard input, nothing
    /// left running) in the host's kept shell: one message out and one or
    /// two back, where an exec channel costs an open, a request, an EOF and
    /// a close, and sshd a new session and a login shell on the host. An
    /// exec channel runs it instead when the kept shell is busy (another
    /// script of this host at the same time) or the host cannot keep one.
    pub async fn run_short(&self, command: &str) -> ConnResult<ExecOutput> {
        use std::sync::atomic::Ordering;
        if self.shell_broken.load(Ordering::Relaxed) {
            return self.run(command, None).await;
        }
        let Ok(mut kept) = self.shell.try_lock() else {
            return self.run(command, None).await;
        };
        if self.handle.is_closed() {
            return Err(self.lost("connection closed"));
        }
        let asked = std::time::Instant::now();
        let mut lease = ShellLease {
            shell: kept.take(),
            session: self,
        };
        if lease.shell.is_none() {
            match self.open_shell().await {
                Ok(sh) => lease.shell = Some(sh),
                Err(e) => {
                    detail(|| {
                        format!(
                            "SSH: no kept shell on {}: {e}; exec channels instead",
                            self.name
                        )
                    });
                    self.shell_broken.store(true, Ordering::Relaxed);
                    drop(lease);
                    drop(kept);
                    return self.run(command, None).await;
                }
            }
        }
        let Some(sh) = lease.shell.as_mut() else {
            return self.run(command, None).await;
        };
        trace::count(trace::Trip::Exec);
        match self.converse(sh, command).await {
            Ok(out) => {
                detail(|| {
                    format!(
                        "SSH: kept shell on {}: exit status {} after {:.1} ms; {} bytes out, {} bytes err",
                        self.name,
                        out.rc,
                        asked.elapsed().as_secs_f64() * 1000.0,
                        out.stdout.len(),
                        out.stderr.len()
                    )
                });
                sh.answered = true;
                *kept = lease.shell.take();
                Ok(out)
            }
            Err(e) => {
                // The shell is gone (killed on the host, or the connection
                // closed): it is dropped, and a live connection runs the
                // script again in an exec channel (hoist's short scripts
                // are probes or idempotent changes).
                if !sh.answered {
                    self.shell_broken.store(true, Ordering::Relaxed);
                }
                drop(lease);
                drop(kept);
                if self.handle.is_closed() {
                    return Err(e);
                }
                detail(|| {
                    format!(
                        "SSH: the kept shell on {} failed ({e}); exec channel",
                        self.name
                    )
                });
                self.run(command, None).await
            }
        }
    }

    /// Starts the kept shell: an exec channel running `/bin/sh`, which
    /// holds one of the connection's channel slots until it ends.
    async fn open_shell(&self) -> ConnResult<KeptShell> {
        let permit = self
            .slots
            .acquire()
            .await
            .map_err(|_| ConnError::unreachable("connection closed"))?;
        let ch = match timeout(self.timeout, self.handle.channel_open_session()).await {
            Ok(Ok(ch)) => ch,
            Ok(Err(e)) => return Err(self.lost(format!("cannot open a channel: {e}"))),
            Err(_) => return Err(self.lost("timed out opening a channel")),
        };
        let mut guard = ChannelGuard(Some(ch));
        let Some(ch) = guard.0.as_mut() else {
            return Err(self.lost("channel vanished"));
        };
        ch.exec(true, &b"exec /bin/sh"[..])
            .await
            .map_err(|e| self.lost(e))?;
        let marker = super::random_marker("__hoist_done_")?;
        let Some(ch) = guard.0.take() else {
            return Err(self.lost("channel vanished"));
        };
        permit.forget();
        detail(|| {
            format!(
                "SSH: kept shell opened on {} (channel {})",
                self.name,
                ch.id()
            )
        });
        Ok(KeptShell {
            ch,
            marker,
            answered: false,
        })
    }

    /// Sends one script to the kept shell and reads its output up to the
    /// markers.
    async fn converse(&self, sh: &mut KeptShell, command: &str) -> ConnResult<ExecOutput> {
        let m = &sh.marker;
        let line = format!(
            "( eval {} ) </dev/null; __hoist_rc=$?; printf '%s\\n' {m} >&2; printf '%s %d\\n' {m} \"$__hoist_rc\"\n",
            super::shell::quote(command)
        );
        sh.ch
            .data(line.as_bytes())
            .await
            .map_err(|e| self.lost(e))?;
        let mut out = ExecOutput::default();
        let mut rc: Option<i32> = None;
        let mut err_done = false;
        let mut nudges = 0;
        while rc.is_none() || !err_done {
            let Some(msg) = sh.ch.wait().await else {
                return Err(self.lost("the kept shell's channel closed"));
            };
            self.nudge(&sh.ch, &mut nudges, &msg).await;
            match msg {
                ChannelMsg::Data { data } => {
                    out.stdout.extend_from_slice(&data);
                    if rc.is_none() {
                        rc = take_marker(&mut out.stdout, m, true);
                    }
                }
                ChannelMsg::ExtendedData { data, ext: 1 } => {
                    out.stderr.extend_from_slice(&data);
                    if !err_done {
                        err_done = take_marker(&mut out.stderr, m, false).is_some();
                    }
                }
                ChannelMsg::Success | ChannelMsg::WindowAdjusted { .. } => {}
                ChannelMsg::Failure => return Err(self.lost("the host refused the kept shell")),
                ChannelMsg::ExitStatus { .. }
                | ChannelMsg::ExitSignal { .. }
                | ChannelMsg::Eof
                | ChannelMsg::Close => return Err(self.lost("the kept shell ended")),
                _ => {}
            }
        }
        out.rc = rc.unwrap_or(-1);
        Ok(out)
    }

    /// Writes a new file (mode 0600, failing if it exists) over SFTP;
    /// `Ok(false)` when the host offers no SFTP subsystem.
    pub async fn upload(&self, path: &str, data: &[u8]) -> ConnResult<bool> {
        use russh_sftp::protocol::{FileAttributes, OpenFlags};
        use tokio::io::AsyncWriteExt;
        let sftp = self
            .sftp
            .get_or_init(|| async {
                // The subsystem channel holds one of the connection's slots for good.
                let slot = self.slots.acquire().await.ok()?;
                let ch = timeout(self.timeout, self.handle.channel_open_session())
                    .await
                    .ok()?
                    .ok()?;
                ch.request_subsystem(true, "sftp").await.ok()?;
                let s = timeout(
                    self.timeout,
                    russh_sftp::client::SftpSession::new(ch.into_stream()),
                )
                .await
                .ok()?
                .ok()?;
                slot.forget();
                Some(s)
            })
            .await;
        let Some(sftp) = sftp else {
            detail(|| {
                format!(
                    "SFTP: {} offers no SFTP subsystem; piping instead",
                    self.name
                )
            });
            return Ok(false);
        };
        let began = std::time::Instant::now();
        let attrs = FileAttributes {
            permissions: Some(0o600),
            ..FileAttributes::empty()
        };
        let flags = OpenFlags::CREATE | OpenFlags::WRITE | OpenFlags::EXCLUDE | OpenFlags::TRUNCATE;
        // Open, write (pipelined), close.
        for _ in 0..3 {
            trace::count(trace::Trip::Sftp);
        }
        let mut f = sftp
            .open_with_flags_and_attributes(path, flags, attrs)
            .await
            .map_err(|e| ConnError::failed(format!("sftp: cannot create {path}: {e}")))?;
        let written = async {
            f.write_all(data).await?;
            f.shutdown().await
        }
        .await;
        if let Err(e) = written {
            let _ = sftp.remove_file(path).await;
            return Err(ConnError::failed(format!("sftp: cannot write {path}: {e}")));
        }
        detail(|| {
            format!(
                "SFTP: PUT {} bytes TO {path} in {:.1} ms",
                data.len(),
                began.elapsed().as_secs_f64() * 1000.0
            )
        });
        Ok(true)
    }

    /// Closes the connection politely.
    pub async fn disconnect(&self) {
        let _ = self
            .handle
            .disconnect(Disconnect::ByApplication, "", "en")
            .await;
    }
}

/// Tells the task's trace how the host is reached (`-vvv`).
fn said(make: impl FnOnce() -> String) {
    trace::emit(trace::CONNECTION, || TraceEvent::Connection(make()));
}

/// Tells the task's trace a lower-level step (`-vvvv`).
fn detail(make: impl FnOnce() -> String) {
    trace::emit(trace::DETAILS, || TraceEvent::Detail(make()));
}

/// Cuts the kept shell's marker off the end of a stream once it is all
/// there: `MARKER RC\n` on stdout (`Some(rc)`), `MARKER\n` on stderr
/// (`Some(0)`); `None` while it has not arrived.
fn take_marker(buf: &mut Vec<u8>, marker: &str, with_rc: bool) -> Option<i32> {
    let m = marker.as_bytes();
    if buf.last() != Some(&b'\n') {
        return None;
    }
    // The marker is the last thing the shell writes: only the tail is
    // searched (a big file read must not be scanned again per message).
    let from = buf.len().saturating_sub(m.len() + 14);
    let at = from + buf[from..].windows(m.len()).rposition(|w| w == m)?;
    let rest = std::str::from_utf8(&buf[at + m.len()..]).ok()?;
    let rc = if with_rc {
        rest.strip_prefix(' ')?.strip_suffix('\n')?.parse().ok()?
    } else if rest == "\n" {
        0
    } else {
        return None;
    };
    buf.truncate(at);
    Some(rc)
}

/// Closes an exec channel that was abandoned mid-command.
struct ChannelGuard(Option<russh::Channel<client::Msg>>);

impl Drop for ChannelGuard {
    fn drop(&mut self) {
        if let Some(ch) = self.0.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                let _ = ch.signal(russh::Sig::KILL).await;
                let _ = ch.close().await;
            });
        }
    }
}

/// Runs command lines over a [`Session`] to one target, opening it on first
/// use and again whenever it has closed (as ssh does for every command, so a
/// host that rebooted is reached again by the next task), and on demand
/// ([`ScriptRunner::reconnect`]).
pub struct SshRunner {
    pool: Arc<SshPool>,
    target: SshTarget,
    config: Arc<SshConfig>,
    name: String,
    session: tokio::sync::Mutex<Option<Arc<Session>>>,
}

impl SshRunner {
    /// A runner for `target`; `session` is the connection already open to
    /// it, if any (`None`: connect on first use).
    pub fn new(
        pool: Arc<SshPool>,
        target: SshTarget,
        config: Arc<SshConfig>,
        session: Option<Arc<Session>>,
    ) -> SshRunner {
        let user = target.user.clone().unwrap_or_else(local_user);
        let name = format!("{user}@{}", shown_name(&target.hostname, target.port));
        SshRunner {
            pool,
            target,
            config,
            name,
            session: tokio::sync::Mutex::new(session),
        }
    }

    /// Ansible's `ESTABLISH SSH CONNECTION` line, once per task (`-vvv`).
    fn announce(&self) {
        trace::once("establish", trace::CONNECTION, || {
            TraceEvent::Connection(format!(
                "ESTABLISH SSH CONNECTION FOR USER: {}",
                self.target.user.clone().unwrap_or_else(local_user)
            ))
        });
    }

    /// The open session, (re)connecting when there is none or it closed.
    async fn session(&self) -> ConnResult<Arc<Session>> {
        let mut cur = self.session.lock().await;
        self.announce();
        if let Some(s) = cur.as_ref()
            && !s.handle.is_closed()
        {
            trace::once("reuse", trace::CONNECTION, || {
                TraceEvent::Connection(format!("SSH: reusing the open connection to {}", s.name))
            });
            return Ok(s.clone());
        }
        if cur.is_some() {
            said(|| format!("SSH: the connection to {} closed; reconnecting", self.name));
        }
        let s = self.pool.connect(&self.target, &self.config).await?;
        // Opened for this task: nothing is reused in it.
        trace::mark("reuse");
        *cur = Some(s.clone());
        Ok(s)
    }

    /// Opens the connection now (unless it is open), not at the first
    /// command.
    pub async fn open_now(&self) -> ConnResult<()> {
        self.session().await.map(|_| ())
    }
}

#[async_trait]
impl ScriptRunner for SshRunner {
    async fn run(&self, command: &str, stdin: Option<&[u8]>) -> ConnResult<ExecOutput> {
        self.session().await?.run(command, stdin).await
    }
    async fn run_short(&self, command: &str) -> ConnResult<ExecOutput> {
        self.session().await?.run_short(command).await
    }
    fn describe(&self) -> String {
        format!("ssh {}", self.name)
    }
    async fn establish(&self) {
        self.announce();
        if !trace::enabled(trace::CONNECTION) {
            return;
        }
        let cur = self.session.lock().await;
        if let Some(s) = cur.as_ref()
            && !s.handle.is_closed()
        {
            trace::once("reuse", trace::CONNECTION, || {
                TraceEvent::Connection(format!("SSH: reusing the open connection to {}", s.name))
            });
        }
    }
    async fn upload(&self, path: &str, data: &[u8]) -> ConnResult<bool> {
        self.session().await?.upload(path, data).await
    }
    fn transport(&self) -> &'static str {
        "ssh"
    }
    async fn reconnect(&self, connect_timeout: Option<Duration>) -> ConnResult<()> {
        let mut cur = self.session.lock().await;
        self.announce();
        said(|| {
            format!(
                "SSH: dropping the connection to {} and reconnecting",
                self.name
            )
        });
        if let Some(old) = cur.take() {
            // Politely, but without waiting on a peer that may be gone.
            tokio::spawn(async move {
                let _ = timeout(Duration::from_secs(2), old.disconnect()).await;
            });
        }
        let mut target = self.target.clone();
        if let Some(t) = connect_timeout {
            target.connect_timeout = Some(t);
        }
        let s = self.pool.connect(&target, &self.config).await?;
        *cur = Some(s);
        Ok(())
    }
}

/// Verifies the server's host key as OpenSSH would.
struct Client {
    /// The name and port keys are recorded under (HostKeyAlias honoured).
    host: String,
    port: u16,
    /// Every known_hosts file to check, user files first.
    files: Vec<PathBuf>,
    /// Where accept-new records a new key.
    record_in: Option<PathBuf>,
    /// HashKnownHosts.
    hash: bool,
    policy: StrictMode,
    /// Why a key was refused, or a warning about accepting it.
    verdict: Arc<Mutex<Verdict>>,
}

#[derive(Default)]
struct Verdict {
    refusal: Option<String>,
    warning: Option<String>,
    /// How the key was accepted, for the trace (`-vvv`).
    accepted: Option<String>,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let known = KnownHosts::load(&self.files);
        let key: PublicKey = match key {
            russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            russh::keys::PublicKeyOrCertificate::Certificate(cert) => {
                let shown = shown_name(&self.host, self.port);
                return match known.check_certificate(&self.host, self.port, cert) {
                    Ok(HostKeyStatus::Known { file, line }) => {
                        self.accepted(format!(
                            "host certificate of {shown} signed by the @cert-authority at {}:{line}",
                            file.display()
                        ));
                        Ok(true)
                    }
                    Ok(_) if self.policy == StrictMode::No => {
                        self.accepted(format!(
                            "host certificate of {shown} not verified (host key checking is off)"
                        ));
                        Ok(true)
                    }
                    Ok(_) => {
                        self.refuse(format!("the host certificate of {shown} is not signed by a trusted @cert-authority"));
                        Ok(false)
                    }
                    Err(e) => {
                        self.refuse(format!("the host certificate of {shown} is invalid: {e}"));
                        Ok(false)
                    }
                };
            }
        };
        let status = known.check(&self.host, self.port, &key);
        let shown = shown_name(&self.host, self.port);
        let described = || {
            format!(
                "host key of {shown}: {} {}",
                key.algorithm(),
                known_hosts::fingerprint(&key)
            )
        };
        match status {
            HostKeyStatus::Known { file, line } => {
                self.accepted(format!("{} matches {}:{line}", described(), file.display()));
                Ok(true)
            }
            HostKeyStatus::Changed {
                file,
                line,
                expected_fingerprint,
                got_fingerprint,
            } => {
                let msg = format!(
                    "REMOTE HOST IDENTIFICATION HAS CHANGED for {shown}: {}:{line} records {expected_fingerprint}, \
                     but the host offered {got_fingerprint}. Refusing to connect; if the change is expected, \
                     remove that line",
                    file.display()
                );
                if self.policy == StrictMode::No {
                    self.warn(format!(
                        "{msg} (host key checking is off: connecting anyway)"
                    ));
                    self.accepted(format!(
                        "{} CHANGED, accepted (host key checking is off)",
                        described()
                    ));
                    return Ok(true);
                }
                self.refuse(msg);
                Ok(false)
            }
            HostKeyStatus::Revoked { file, line } => {
                self.refuse(format!(
                    "the host key of {shown} is marked @revoked at {}:{line}",
                    file.display()
                ));
                Ok(false)
            }
            HostKeyStatus::Unknown => match self.policy {
                StrictMode::Yes => {
                    let files: Vec<String> =
                        self.files.iter().map(|f| f.display().to_string()).collect();
                    self.refuse(format!(
                        "the host key of {shown} ({}) is not known (looked in {}); add it to known_hosts, \
                         or use StrictHostKeyChecking=accept-new",
                        known_hosts::fingerprint(&key),
                        files.join(", ")
                    ));
                    Ok(false)
                }
                StrictMode::AcceptNew => {
                    let Some(file) = self.record_in.as_ref() else {
                        self.refuse("no known_hosts file to record a new host key in".into());
                        return Ok(false);
                    };
                    let recorded = if self.hash {
                        known_hosts::append_hashed(file, &self.host, self.port, &key)
                    } else {
                        known_hosts::append(file, &self.host, self.port, &key)
                    };
                    match recorded {
                        Ok(()) => {
                            self.accepted(format!(
                                "{} was not known; recorded in {} (accept-new)",
                                described(),
                                file.display()
                            ));
                            Ok(true)
                        }
                        Err(e) => {
                            self.refuse(format!("cannot record the host key of {shown}: {e}"));
                            Ok(false)
                        }
                    }
                }
                StrictMode::No => {
                    self.accepted(format!(
                        "{} not verified (host key checking is off)",
                        described()
                    ));
                    self.warn(format!(
                        "host key checking is off: connected to {shown} without verifying its key ({})",
                        known_hosts::fingerprint(&key)
                    ));
                    Ok(true)
                }
            },
        }
    }
}

impl Client {
    fn refuse(&self, msg: String) {
        if let Ok(mut v) = self.verdict.lock() {
            v.refusal = Some(msg);
        }
    }
    fn warn(&self, msg: String) {
        if let Ok(mut v) = self.verdict.lock() {
            v.warning = Some(msg);
        }
    }
    fn accepted(&self, msg: String) {
        if let Ok(mut v) = self.verdict.lock() {
            v.accepted = Some(msg);
        }
    }
}

fn shown_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_owned()
    } else {
        format!("[{host}]:{port}")
    }
}

fn local_user() -> String {
    std::env::var("USER")
        .ok()
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.name)
        })
        .unwrap_or_else(|| "root".into())
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// A connection opened once and shared (or its failure, shared too).
type SharedSession = Arc<OnceCell<Result<Arc<Session>, ConnError>>>;

/// Shared state for all SSH connections of a run.
pub struct SshPool {
    opts: SshOptions,
    /// Gateway connections, shared by key `user@host:port` (+ the chain before).
    gateways: tokio::sync::Mutex<HashMap<String, SharedSession>>,
    handshake_slots: Mutex<HashMap<String, Arc<Semaphore>>>,
    keys: tokio::sync::Mutex<HashMap<PathBuf, Option<Arc<PrivateKey>>>>,
    configs: Mutex<HashMap<PathBuf, Arc<SshConfig>>>,
    warnings: Mutex<Vec<String>>,
}

impl SshPool {
    pub fn new(opts: SshOptions) -> SshPool {
        SshPool {
            opts,
            gateways: tokio::sync::Mutex::new(HashMap::new()),
            handshake_slots: Mutex::new(HashMap::new()),
            keys: tokio::sync::Mutex::new(HashMap::new()),
            configs: Mutex::new(HashMap::new()),
            warnings: Mutex::new(Vec::new()),
        }
    }

    pub fn options(&self) -> &SshOptions {
        &self.opts
    }

    /// Warnings gathered since the last call (for the reporter).
    pub fn take_warnings(&self) -> Vec<String> {
        self.warnings
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default()
    }

    /// Loads (once) an ssh_config file; a missing default file is empty.
    pub fn config(&self, path: Option<&Path>) -> Result<Arc<SshConfig>, String> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (home().join(".ssh/config"), false),
        };
        if let Ok(c) = self.configs.lock()
            && let Some(cfg) = c.get(&path)
        {
            return Ok(cfg.clone());
        }
        let cfg = if required {
            if !path.exists() {
                return Err(format!("ssh config file {} does not exist", path.display()));
            }
            Arc::new(SshConfig::load(&path)?)
        } else {
            // No -F: ~/.ssh/config, then /etc/ssh/ssh_config, as ssh reads them.
            Arc::new(SshConfig::load_default()?)
        };
        if let Ok(mut w) = self.warnings.lock() {
            w.extend(cfg.warnings().iter().cloned());
        }
        if let Ok(mut c) = self.configs.lock() {
            c.insert(path, cfg.clone());
        }
        Ok(cfg)
    }

    /// Opens a connection to `target` (through its ProxyJump chain, whose
    /// hosts are resolved with `config`).
    pub async fn connect(
        &self,
        target: &SshTarget,
        config: &SshConfig,
    ) -> ConnResult<Arc<Session>> {
        let via = self.chain(&target.proxy_jump, config).await?;
        self.open(target, via).await
    }

    /// Connects the gateways of a ProxyJump chain, each shared by every
    /// target behind it.
    async fn chain(
        &self,
        jumps: &[JumpHost],
        config: &SshConfig,
    ) -> ConnResult<Option<Arc<Session>>> {
        let mut via: Option<Arc<Session>> = None;
        let mut key_prefix = String::new();
        for jump in jumps {
            let mut ov = Overrides::default();
            if let Some(u) = &jump.user {
                ov.set("user", u);
            }
            if let Some(p) = jump.port {
                ov.set("port", &p.to_string());
            }
            let mut t = config.resolve(&jump.host, &ov);
            // The chain is given explicitly; a jump host's own ProxyJump is not followed.
            t.proxy_jump.clear();
            let user = t.user.clone().unwrap_or_else(local_user);
            let key = format!("{key_prefix}{user}@{}:{}", t.hostname, t.port);
            let cell = {
                let mut g = self.gateways.lock().await;
                g.entry(key.clone())
                    .or_insert_with(|| Arc::new(OnceCell::new()))
                    .clone()
            };
            let prev = via.clone();
            match cell.get() {
                Some(Ok(s)) if !s.handle.is_closed() => said(|| {
                    format!(
                        "SSH: through the jump host {} (its shared connection)",
                        s.name
                    )
                }),
                _ => said(|| format!("SSH: opening a connection to the jump host {}", jump.host)),
            }
            let mut session = cell
                .get_or_init(|| async { self.open(&t, prev.clone()).await })
                .await
                .clone();
            if let Ok(s) = &session
                && s.handle.is_closed()
            {
                // The gateway went away since (it rebooted): a target that
                // reconnects gets a new connection to it, shared again.
                let fresh = Arc::new(OnceCell::new());
                self.gateways
                    .lock()
                    .await
                    .insert(key.clone(), fresh.clone());
                session = fresh
                    .get_or_init(|| async { self.open(&t, prev).await })
                    .await
                    .clone();
            }
            let session = session
                .map_err(|e| ConnError::unreachable(format!("gateway {}: {}", jump.host, e.msg)))?;
            key_prefix = format!("{key} -> ");
            via = Some(session);
        }
        Ok(via)
    }

    fn handshake_slot(&self, gateway: &str) -> Arc<Semaphore> {
        let mut m = match self.handshake_slots.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        m.entry(gateway.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(MAX_HANDSHAKES_PER_GATEWAY)))
            .clone()
    }

    async fn open(&self, t: &SshTarget, via: Option<Arc<Session>>) -> ConnResult<Arc<Session>> {
        let user = t.user.clone().unwrap_or_else(local_user);
        let name = format!("{user}@{}", shown_name(&t.hostname, t.port));
        let wait = t.connect_timeout.unwrap_or(self.opts.timeout);
        let unreachable = |what: String| {
            ConnError::unreachable(format!(
                "Failed to connect to the host via ssh: {name}: {what}"
            ))
        };

        let policy = self
            .opts
            .host_key_policy
            .or(t.strict_host_key_checking)
            .unwrap_or(StrictMode::Yes);
        if t.proxy_command.is_some() {
            return Err(unreachable(
                "ProxyCommand is not supported; use ProxyJump".into(),
            ));
        }
        let files = t.all_known_hosts_files();
        let (key_host, key_port) = t.host_key_name();
        let verdict = Arc::new(Mutex::new(Verdict::default()));
        let handler = Client {
            host: key_host.to_owned(),
            port: key_port,
            files: files.clone(),
            record_in: t.known_hosts_files.first().cloned(),
            hash: t.hash_known_hosts,
            policy,
            verdict: verdict.clone(),
        };
        let mut config = client::Config {
            inactivity_timeout: None,
            keepalive_interval: Some(Duration::from_secs_f64(
                (self.opts.timeout.as_secs_f64() / 3.0).max(1.0),
            )),
            keepalive_max: 3,
            nodelay: true,
            ..client::Config::default()
        };
        if let Some(i) = t.server_alive_interval {
            config.keepalive_interval = Some(i);
        }
        if let Some(n) = t.server_alive_count_max {
            config.keepalive_max = n as usize;
        }
        // Prefer the host key algorithms already recorded for this host, as
        // OpenSSH does, so a host known by one key type is not "unknown".
        let recorded = KnownHosts::load(&files).algorithms_for(key_host, key_port);
        if !recorded.is_empty() {
            let mut keys: Vec<keys::Algorithm> = recorded.clone();
            for a in config.preferred.key.iter() {
                if !keys.contains(a) {
                    keys.push(a.clone());
                }
            }
            config.preferred.key = keys.into();
        }
        let config = Arc::new(config);

        let began = std::time::Instant::now();
        said(|| {
            format!(
                "SSH: connecting to {name} (address {} port {}{})",
                t.hostname,
                t.port,
                match &via {
                    Some(gw) => format!(", through the gateway {}", gw.name()),
                    None => String::new(),
                }
            )
        });
        let connected = match &via {
            None => {
                timeout(
                    wait,
                    client::connect(config, (t.hostname.as_str(), t.port), handler),
                )
                .await
            }
            Some(gw) => {
                let slot = self.handshake_slot(gw.name());
                let _permit = slot
                    .acquire()
                    .await
                    .map_err(|_| unreachable("gateway closed".into()))?;
                let ch = match timeout(
                    wait,
                    gw.handle.channel_open_direct_tcpip(
                        t.hostname.as_str(),
                        t.port as u32,
                        "127.0.0.1",
                        0,
                    ),
                )
                .await
                {
                    Ok(Ok(ch)) => ch,
                    Ok(Err(e)) => {
                        return Err(unreachable(format!(
                            "the gateway {} cannot reach it: {e}",
                            gw.name()
                        )));
                    }
                    Err(_) => {
                        return Err(unreachable(format!(
                            "timed out reaching it through the gateway {}",
                            gw.name()
                        )));
                    }
                };
                timeout(
                    wait,
                    client::connect_stream(config, ch.into_stream(), handler),
                )
                .await
            }
        };
        let take_verdict = || {
            verdict
                .lock()
                .map(|mut v| (v.refusal.take(), v.warning.take()))
                .unwrap_or((None, None))
        };
        if let Ok(mut v) = verdict.lock()
            && let Some(a) = v.accepted.take()
        {
            said(|| format!("SSH: {a}"));
        }
        let mut handle = match connected {
            Ok(Ok(h)) => h,
            Ok(Err(e)) => {
                let (refusal, _) = take_verdict();
                return Err(match refusal {
                    Some(r) => ConnError::unreachable(r),
                    None => unreachable(e.to_string()),
                });
            }
            Err(_) => return Err(unreachable(format!("timed out after {}s", wait.as_secs()))),
        };
        let (refusal, warning) = take_verdict();
        if let Some(r) = refusal {
            return Err(ConnError::unreachable(r));
        }
        if let Some(w) = warning
            && let Ok(mut ws) = self.warnings.lock()
        {
            ws.push(w);
        }
        match timeout(wait, self.authenticate(&mut handle, t, &user)).await {
            Ok(Ok(method)) => said(|| {
                format!(
                    "SSH: authenticated as {user} with {method}; connected to {name} in {:.2}s",
                    began.elapsed().as_secs_f64()
                )
            }),
            Ok(Err(e)) => return Err(unreachable(e)),
            Err(_) => return Err(unreachable("timed out authenticating".into())),
        }
        Ok(Arc::new(Session {
            handle,
            name,
            slots: Semaphore::new(MAX_CHANNELS),
            timeout: self.opts.timeout,
            _via: via,
            sftp: OnceCell::new(),
            shell: tokio::sync::Mutex::new(None),
            shell_broken: std::sync::atomic::AtomicBool::new(false),
        }))
    }

    async fn authenticate(
        &self,
        handle: &mut Handle<Client>,
        t: &SshTarget,
        user: &str,
    ) -> Result<String, String> {
        let rsa_hash: Option<HashAlg> = handle
            .best_supported_rsa_hash()
            .await
            .ok()
            .flatten()
            .flatten();
        let mut tried: Vec<String> = Vec::new();
        if !t.identities_only
            && std::env::var_os("SSH_AUTH_SOCK").is_some()
            && let Ok(mut agent) = keys::agent::client::AgentClient::connect_env().await
            && let Ok(ids) = agent.request_identities().await
        {
            for id in ids {
                let key = id.public_key().into_owned();
                let shown = format!(
                    "an ssh-agent key ({} {})",
                    key.algorithm(),
                    known_hosts::fingerprint(&key)
                );
                let hash = if key.algorithm().is_rsa() {
                    rsa_hash
                } else {
                    None
                };
                tried.push("agent key".into());
                if let Ok(r) = handle
                    .authenticate_publickey_with(user, key, hash, &mut agent)
                    .await
                    && r.success()
                {
                    return Ok(shown);
                }
            }
        }
        let files: Vec<PathBuf> = if t.identity_files.is_empty() {
            ["id_ed25519", "id_ecdsa", "id_rsa"]
                .iter()
                .map(|n| home().join(".ssh").join(n))
                .filter(|p| p.exists())
                .collect()
        } else {
            t.identity_files.clone()
        };
        for file in files {
            let Some(key) = self.load_key(&file).await? else {
                continue;
            };
            tried.push(file.display().to_string());
            let hash = if key.algorithm().is_rsa() {
                rsa_hash
            } else {
                None
            };
            match handle
                .authenticate_publickey(user, PrivateKeyWithHashAlg::new(key, hash))
                .await
            {
                Ok(r) if r.success() => {
                    return Ok(format!("the key file {}", file.display()));
                }
                Ok(_) => {}
                Err(e) => return Err(format!("authentication failed: {e}")),
            }
        }
        Err(format!(
            "Permission denied (publickey) for user {user}{}",
            if tried.is_empty() {
                " (no keys: set ansible_ssh_private_key_file, IdentityFile or run ssh-agent)"
                    .to_owned()
            } else {
                format!(" (tried: {})", tried.join(", "))
            }
        ))
    }

    /// Loads a private key once per run, asking for its passphrase on the
    /// terminal if it is encrypted (one prompt at a time).
    async fn load_key(&self, path: &Path) -> Result<Option<Arc<PrivateKey>>, String> {
        let mut keys = self.keys.lock().await;
        if let Some(k) = keys.get(path) {
            return Ok(k.clone());
        }
        let loaded = match keys::load_secret_key(path, None) {
            Ok(k) => Some(Arc::new(k)),
            Err(keys::Error::KeyIsEncrypted) => {
                let prompt = format!("Enter passphrase for key '{}': ", path.display());
                let pass = crate::prompt::secret(&prompt).map_err(|e| {
                    format!(
                        "key {} is encrypted and no passphrase could be read: {e}",
                        path.display()
                    )
                })?;
                Some(Arc::new(keys::load_secret_key(path, Some(&pass)).map_err(
                    |e| format!("cannot decrypt key {}: {e}", path.display()),
                )?))
            }
            Err(e) if path.exists() => {
                return Err(format!("cannot read key {}: {e}", path.display()));
            }
            Err(_) => None,
        };
        keys.insert(path.to_path_buf(), loaded.clone());
        Ok(loaded)
    }
}

#[cfg(test)]
mod tests {
    use super::take_marker;

    /// The marker ends a stream only when it is all there, at the end;
    /// what came before it is the output, newline or not.
    #[test]
    fn markers_end_the_kept_shells_output() {
        let m = "__hoist_done_0123456789abcdef";
        let mut out = format!("no newline{m} 7\n").into_bytes();
        assert_eq!(take_marker(&mut out, m, true), Some(7));
        assert_eq!(out, b"no newline");
        let mut partial = format!("data\n{m} 1").into_bytes();
        assert_eq!(take_marker(&mut partial, m, true), None, "rc not all there");
        let mut err = format!("oops\n{m}\n").into_bytes();
        assert_eq!(take_marker(&mut err, m, false), Some(0));
        assert_eq!(err, b"oops\n");
        let mut early = format!("{m} 0\nmore output\n").into_bytes();
        assert_eq!(take_marker(&mut early, m, true), None, "not at the end");
        let mut none = b"plain output\n".to_vec();
        assert_eq!(take_marker(&mut none, m, false), None);
    }
}
