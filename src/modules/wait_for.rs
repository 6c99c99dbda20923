//! `wait_for`: wait for a port, a file, a string in a file, connections to
//! drain, or just some time, as Ansible's `ansible.builtin.wait_for` does —
//! with no Python on the target: the controller polls, each check one round
//! trip (a file read, `/proc/net/tcp*`, or a TCP connect by bash's
//! `/dev/tcp` with the host and port as arguments, never in the script).

use std::time::{Duration, Instant};

use async_trait::async_trait;
use minijinja::Value;

use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult, ModuleSpec, Outcome,
    Param, ParamType,
};
use crate::connection::ExecRequest;
use crate::template::vmap;

pub struct WaitFor;

static SPEC: ModuleSpec = ModuleSpec {
    name: "wait_for",
    params: &[
        Param::new("host", ParamType::Str),
        Param::new("port", ParamType::Int),
        Param::new("path", ParamType::Path),
        Param::new("search_regex", ParamType::Str),
        Param::new("state", ParamType::Str),
        Param::new("delay", ParamType::Int),
        Param::new("timeout", ParamType::Int),
        Param::new("connect_timeout", ParamType::Int),
        Param::new("sleep", ParamType::Int),
        Param::new("exclude_hosts", ParamType::List),
        Param::new("active_connection_states", ParamType::List),
        Param::new("msg", ParamType::Str),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[&["port", "path"]],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Wait for a port, a file, a string in a file, connections to drain, or a time.",
    check_note: "runs as usual, since it only reads (ansible-core skips it in check mode)",
    diff: DiffSupport::No,
    notes: &[
        "The controller polls, with no Python on the target: each check is one round trip (a \
         file read, /proc/net/tcp for draining, a TCP connect by bash's `/dev/tcp`, which \
         needs bash and `timeout` on the target).",
    ],
};

/// The TCP states of `/proc/net/tcp`, by their hex code.
const TCP_STATES: &[(&str, &str)] = &[
    ("01", "ESTABLISHED"),
    ("02", "SYN_SENT"),
    ("03", "SYN_RECV"),
    ("04", "FIN_WAIT1"),
    ("05", "FIN_WAIT2"),
    ("06", "TIME_WAIT"),
    ("07", "CLOSE"),
    ("08", "CLOSE_WAIT"),
    ("09", "LAST_ACK"),
    ("0A", "LISTEN"),
    ("0B", "CLOSING"),
];

const ACTIVE_DEFAULT: &[&str] = &[
    "ESTABLISHED",
    "FIN_WAIT1",
    "FIN_WAIT2",
    "SYN_RECV",
    "SYN_SENT",
    "TIME_WAIT",
];

/// Connections to local `port` in one of `states`, from `/proc/net/tcp`
/// text, not counting remote addresses in `exclude` (hex-decoded IPv4).
pub fn active_connections(
    proc_tcp: &str,
    port: u16,
    states: &[String],
    exclude: &[String],
) -> usize {
    let mut n = 0;
    for line in proc_tcp.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(remote), Some(st)) = (fields.get(1), fields.get(2), fields.get(3))
        else {
            continue;
        };
        let local_port = local
            .rsplit(':')
            .next()
            .and_then(|p| u16::from_str_radix(p, 16).ok());
        if local_port != Some(port) {
            continue;
        }
        let state = TCP_STATES
            .iter()
            .find(|(code, _)| code.eq_ignore_ascii_case(st))
            .map(|(_, name)| *name)
            .unwrap_or("");
        if !states.iter().any(|s| s == state) {
            continue;
        }
        let remote_ip = remote.split(':').next().and_then(hex_ipv4);
        if remote_ip.is_some_and(|ip| exclude.contains(&ip)) {
            continue;
        }
        n += 1;
    }
    n
}

/// `0100007F` (little-endian hex, as /proc shows IPv4) → `127.0.0.1`.
fn hex_ipv4(h: &str) -> Option<String> {
    if h.len() != 8 {
        return None;
    }
    let v = u32::from_str_radix(h, 16).ok()?;
    let b = v.to_le_bytes();
    Some(format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3]))
}

/// What one check finds.
enum Seen {
    /// The condition holds (with the regex's groups when there was one).
    Yes(Option<(Vec<Value>, Value)>),
    No,
}

struct Wait<'a> {
    ctx: &'a ModuleCtx<'a>,
    host: String,
    port: Option<u16>,
    path: Option<String>,
    regex: Option<regex::Regex>,
    state: String,
    connect_timeout: u64,
    exclude: Vec<String>,
    active: Vec<String>,
}

impl Wait<'_> {
    async fn check(&self) -> Result<Seen, ModuleError> {
        // The host changes under us between checks: nothing cached holds.
        self.ctx.conn.forget_cached();
        match (&self.path, self.port) {
            (Some(path), _) => self.check_path(path).await,
            (None, Some(port)) => self.check_port(port).await,
            (None, None) => Ok(Seen::Yes(None)),
        }
    }

    async fn check_path(&self, path: &str) -> Result<Seen, ModuleError> {
        let data = self.ctx.conn.read_file(path).await.ok().flatten();
        let wanted = matches!(self.state.as_str(), "present" | "started");
        Ok(match (data, wanted) {
            (Some(bytes), true) => match &self.regex {
                None => Seen::Yes(None),
                Some(re) => match groups(re, &String::from_utf8_lossy(&bytes)) {
                    Some(g) => Seen::Yes(Some(g)),
                    None => Seen::No,
                },
            },
            (None, true) => {
                // A directory or unreadable file still exists.
                match (&self.regex, self.ctx.conn.stat(path, true).await) {
                    (None, Ok(Some(_))) => Seen::Yes(None),
                    _ => Seen::No,
                }
            }
            (_, false) => match self.ctx.conn.stat(path, true).await {
                Ok(None) => Seen::Yes(None),
                _ => Seen::No,
            },
        })
    }

    async fn check_port(&self, port: u16) -> Result<Seen, ModuleError> {
        if self.state == "drained" {
            let mut n = 0;
            for f in ["/proc/net/tcp", "/proc/net/tcp6"] {
                if let Ok(Some(text)) = self.ctx.conn.read_file(f).await {
                    n += active_connections(
                        &String::from_utf8_lossy(&text),
                        port,
                        &self.active,
                        &self.exclude,
                    );
                }
            }
            return Ok(if n == 0 { Seen::Yes(None) } else { Seen::No });
        }
        // Connect (and with a regex, read what the server sends) for at most
        // connect_timeout seconds; the host and port are arguments.
        let script = if self.regex.is_some() {
            "exec 3<>\"/dev/tcp/$1/$2\" || exit 1; cat <&3"
        } else {
            "exec 3<>\"/dev/tcp/$1/$2\""
        };
        let argv = [
            "timeout".to_owned(),
            self.connect_timeout.max(1).to_string(),
            "bash".to_owned(),
            "-c".to_owned(),
            script.to_owned(),
            "wait_for".to_owned(),
            self.host.clone(),
            port.to_string(),
        ];
        let out = self
            .ctx
            .conn
            .exec(&ExecRequest::argv(argv).read_only())
            .await
            .map_err(|e| ModuleError::Failed(e.msg))?;
        if out.rc == 127 {
            return Err(ModuleError::Failed(
                "wait_for needs bash and timeout (coreutils) on the target to check a port"
                    .to_owned(),
            ));
        }
        // `timeout` ends a connection still open after reading (124).
        let connected = out.rc == 0 || (self.regex.is_some() && out.rc == 124);
        let started = self.state != "stopped";
        Ok(match (connected, started, &self.regex) {
            (true, true, Some(re)) => match groups(re, &String::from_utf8_lossy(&out.stdout)) {
                Some(g) => Seen::Yes(Some(g)),
                None => Seen::No,
            },
            (true, true, None) | (false, false, _) => Seen::Yes(None),
            _ => Seen::No,
        })
    }
}

/// The groups and named groups of the first match, as Python's
/// `match.groups()` and `match.groupdict()`.
fn groups(re: &regex::Regex, text: &str) -> Option<(Vec<Value>, Value)> {
    let caps = re.captures(text)?;
    let list = (1..caps.len())
        .map(|i| {
            caps.get(i)
                .map(|m| Value::from(m.as_str()))
                .unwrap_or(Value::from(()))
        })
        .collect();
    let named = vmap(re.capture_names().flatten().map(|n| {
        (
            n.to_owned(),
            caps.name(n)
                .map(|m| Value::from(m.as_str()))
                .unwrap_or(Value::from(())),
        )
    }));
    Some((list, named))
}

#[async_trait]
impl Module for WaitFor {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        let started_at = Instant::now();
        let port = match args.int("port") {
            Some(p) => Some(u16::try_from(p).map_err(|_| {
                ModuleError::Failed(format!("port must be between 0 and 65535, got {p}"))
            })?),
            None => None,
        };
        let path = args.str("path");
        let state = args.str("state").unwrap_or_else(|| "started".to_owned());
        let valid = ["present", "started", "stopped", "absent", "drained"];
        if !valid.contains(&state.as_str()) {
            return Err(ModuleError::Failed(format!(
                "value of state must be one of: {}, got: {state}",
                valid.join(", ")
            )));
        }
        if port.is_some() && state == "absent" {
            return Err(ModuleError::Failed(
                "state=absent should only be used for checking a file or search string".into(),
            ));
        }
        if path.is_some() && state == "drained" {
            return Err(ModuleError::Failed(
                "state=drained should only be used for checking a port".into(),
            ));
        }
        let search = args.str("search_regex");
        if search.is_some() && matches!(state.as_str(), "stopped" | "absent" | "drained") {
            return Err(ModuleError::Failed(
                "search_regex should only be used with state=started or present".into(),
            ));
        }
        let regex = match &search {
            Some(p) => Some(
                crate::pyre::compile(p, false, true, crate::pyre::Anchor::Search)
                    .map_err(|e| ModuleError::Failed(e.to_string()))?,
            ),
            None => None,
        };
        let delay = args.int("delay").unwrap_or(0).max(0) as u64;
        let timeout = args.int("timeout").unwrap_or(300).max(0) as u64;
        let sleep = args.int("sleep").unwrap_or(1).max(0) as u64;
        let wait = Wait {
            ctx,
            host: args.str("host").unwrap_or_else(|| "127.0.0.1".to_owned()),
            port,
            path: path.clone(),
            regex,
            state: state.clone(),
            connect_timeout: args.int("connect_timeout").unwrap_or(5).max(1) as u64,
            exclude: args.str_list("exclude_hosts").unwrap_or_default(),
            active: args
                .str_list("active_connection_states")
                .unwrap_or_else(|| ACTIVE_DEFAULT.iter().map(|s| (*s).to_owned()).collect()),
        };

        tokio::time::sleep(Duration::from_secs(delay)).await;
        // The result ansible-core's module returns on success: every key,
        // null when unused; a path that exists adds its file attributes.
        let success = |groups: Option<(Vec<Value>, Value)>| {
            let (list, named) =
                groups.unwrap_or_else(|| (Vec::new(), vmap(Vec::<(String, Value)>::new())));
            let mut out = Outcome::changed(false);
            out.set("state", state.as_str());
            out.set("port", port.map(Value::from).unwrap_or(Value::from(())));
            out.set(
                "search_regex",
                search
                    .as_deref()
                    .map(Value::from)
                    .unwrap_or(Value::from(())),
            );
            out.set("match_groups", Value::from(list));
            out.set("match_groupdict", named);
            out.set(
                "path",
                path.as_deref().map(Value::from).unwrap_or(Value::from(())),
            );
            out.set("elapsed", started_at.elapsed().as_secs() as i64);
            out
        };
        // Nothing to wait for: the timeout is just a sleep.
        if port.is_none() && path.is_none() {
            tokio::time::sleep(Duration::from_secs(timeout)).await;
            return Ok(success(None));
        }
        let deadline = Instant::now() + Duration::from_secs(timeout);
        loop {
            if let Seen::Yes(found) = wait.check().await? {
                let mut out = success(found);
                if path.is_some() {
                    ctx.conn.forget_cached();
                    let _ = super::file::add_path_info(ctx, &mut out).await;
                }
                return Ok(out);
            }
            if Instant::now() >= deadline {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(Duration::from_secs(sleep).min(left)).await;
        }
        let target = match (&path, port) {
            (Some(p), _) => p.clone(),
            (None, Some(p)) => format!("{}:{p}", wait.host),
            _ => String::new(),
        };
        let why = match (state.as_str(), &search, &path) {
            (_, Some(s), Some(p)) => format!("Timeout when waiting for search string {s} in {p}"),
            (_, Some(s), None) => {
                format!("Timeout when waiting for search string {s} in {target}")
            }
            ("absent", _, _) => format!("Timeout when waiting for {target} to be absent."),
            ("stopped", _, _) => format!("Timeout when waiting for {target} to stop."),
            ("drained", _, _) => format!("Timeout when waiting for {target} to drain"),
            (_, None, Some(p)) => format!("Timeout when waiting for file {p}"),
            _ => format!("Timeout when waiting for {target}"),
        };
        let mut fail = Outcome::failure(args.str("msg").unwrap_or(why));
        fail.set("elapsed", started_at.elapsed().as_secs() as i64);
        Ok(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_tcp_counts_active_connections_on_the_port() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue\n\
            0: 00000000:0050 00000000:0000 0A 00000000:00000000\n\
            1: 0100007F:0050 0100007F:D431 01 00000000:00000000\n\
            2: 0100007F:0050 0A00000A:D432 06 00000000:00000000\n\
            3: 0100007F:1F90 0100007F:D433 01 00000000:00000000\n";
        let active: Vec<String> = ACTIVE_DEFAULT.iter().map(|s| s.to_string()).collect();
        assert_eq!(active_connections(text, 80, &active, &[]), 2);
        assert_eq!(
            active_connections(text, 80, &active, &["10.0.0.10".to_owned()]),
            1
        );
        assert_eq!(active_connections(text, 8080, &active, &[]), 1);
        assert_eq!(active_connections(text, 81, &active, &[]), 0);
        assert_eq!(hex_ipv4("0100007F").as_deref(), Some("127.0.0.1"));
    }

    #[test]
    fn groups_are_pythons() {
        let re = crate::pyre::compile(
            r"v(?P<major>\d+)\.(\d+)",
            false,
            true,
            crate::pyre::Anchor::Search,
        )
        .unwrap();
        let (list, named) = groups(&re, "app v2.7 ready").unwrap();
        assert_eq!(Value::from(list), Value::from(vec!["2", "7"]));
        assert_eq!(named.get_attr("major").unwrap(), Value::from("2"));
    }
}
