//! The terminal experience: `--profile`, colour rules off a terminal, and
//! a real pseudo-terminal (tmux) showing the progress bars, colours and a
//! clean screen at the end.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{Project, Run, recap, run};

/// The environment variables that decide colour, removed so the tests see
/// only what they set.
const COLOUR_VARS: &[&str] = &[
    "NO_COLOR",
    "ANSIBLE_NOCOLOR",
    "HOIST_NOCOLOR",
    "ANSIBLE_FORCE_COLOR",
    "HOIST_FORCE_COLOR",
];

fn hoist_in(p: &Project, cmd: &str, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hoist"));
    c.current_dir(p.path())
        .arg(cmd)
        .arg("site.yml")
        .arg("-i")
        .arg("hosts.ini")
        .arg("-e")
        .arg(format!("root={}", p.root().display()))
        .args(extra);
    for v in COLOUR_VARS {
        c.env_remove(v);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    run(c)
}

const TIMED: &str = r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: quick one
      debug:
        msg: hi
    - name: slow one
      command: sleep 1.2
    - name: middling one
      command: sleep 0.4
      changed_when: false
"#;

/// The seconds of a `name ---- 1.23s` line.
fn profile_secs(line: &str) -> f64 {
    line.rsplit(' ')
        .next()
        .and_then(|t| t.strip_suffix('s'))
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no time in {line:?}"))
}

#[test]
fn profile_lists_the_slowest_tasks_after_the_recap() {
    let p = Project::new();
    p.write("site.yml", TIMED);
    let r = hoist_in(&p, "apply", &["--profile"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(recap(&r, "localhost"), [3, 1, 0, 0, 0, 0, 0]);
    let out = &r.stdout;
    let recap_at = out.find("PLAY RECAP").expect("recap");
    let tasks_at = out.find("\nTASKS RECAP *").expect("tasks recap");
    assert!(tasks_at > recap_at, "{r:?}");
    let lines: Vec<&str> = out[tasks_at + 1..].lines().collect();
    assert_eq!(lines[0], format!("TASKS RECAP {}", "*".repeat(68)));
    assert_eq!(lines[1], format!("{} ", "=".repeat(79)));
    // Slowest first, each line as profile_tasks prints it: the name, a
    // space, dashes, and the time right-aligned, 79 columns.
    let names: Vec<&str> = lines[2..5]
        .iter()
        .map(|l| l.split(" -").next().unwrap_or_default())
        .collect();
    assert_eq!(names, ["slow one", "middling one", "quick one"], "{r:?}");
    for l in &lines[2..5] {
        assert_eq!(l.chars().count(), 79, "{l:?}");
        assert!(l.contains(" ---") && l.ends_with('s'), "{l:?}");
    }
    let slow = profile_secs(lines[2]);
    let middling = profile_secs(lines[3]);
    assert!((1.2..5.0).contains(&slow), "{r:?}");
    assert!((0.4..slow).contains(&middling), "{r:?}");
    assert_eq!(lines[5], "-".repeat(79));
    assert!(lines[6].starts_with("Total ---"), "{r:?}");
    // (Each time is rounded to hundredths.)
    assert!(profile_secs(lines[6]) + 0.02 >= slow + middling, "{r:?}");
    // Off a terminal: no colour, no bars.
    assert!(!out.contains('\x1b') && !r.stderr.contains('\x1b'), "{r:?}");
    // Then the round trips: each command task ran one command, debug none.
    let trips_at = out.find("\nROUND TRIPS *").expect("round trips");
    let trips: Vec<&str> = out[trips_at + 1..].lines().collect();
    assert_eq!(trips[0], format!("ROUND TRIPS {}", "*".repeat(68)));
    for name in ["slow one", "middling one"] {
        let l = trips
            .iter()
            .find(|l| l.starts_with(&format!("{name} -")))
            .unwrap_or_else(|| panic!("{name}: {r:?}"));
        assert!(l.ends_with(" 1.0 + 0.0 (max 1)"), "{l:?}");
        assert_eq!(l.chars().count(), 79, "{l:?}");
    }
    assert!(
        trips
            .iter()
            .any(|l| l.starts_with("quick one -") && l.ends_with(" 0.0 + 0.0 (max 0)")),
        "{r:?}"
    );
    assert!(
        out.contains("Total: 2 commands and 0 SFTP requests on 1 hosts"),
        "{r:?}"
    );
}

#[test]
fn without_profile_nothing_follows_the_recap_and_json_ignores_it() {
    let p = Project::new();
    p.write("site.yml", TIMED);
    let r = hoist_in(&p, "apply", &[], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stdout.contains("TASKS RECAP"), "{r:?}");
    assert!(r.stdout.ends_with("ignored=0   \n\n"), "{r:?}");
    let j = hoist_in(&p, "apply", &["--profile", "--output", "json"], &[]);
    assert_eq!(j.code, 0, "{j:?}");
    for line in j.stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        assert_ne!(v["type"], "profile");
    }
    assert!(!j.stdout.contains("TASKS RECAP") && !j.stdout.contains('\x1b'));
}

const CHANGES: &str = r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: write
      copy:
        dest: "{{ root }}/f.txt"
        content: "new\n"
    - name: look
      debug:
        msg: fine
    - name: never
      debug:
        msg: no
      when: false
    - name: break
      fail:
        msg: boom
      ignore_errors: true
"#;

#[test]
fn off_a_terminal_output_has_no_colour_unless_forced() {
    let p = Project::new();
    p.write("site.yml", CHANGES);
    std::fs::write(p.root().join("f.txt"), "old\n").expect("seed");
    let plain = hoist_in(&p, "diff", &[], &[]);
    assert_eq!(plain.code, 2, "{plain:?}");
    assert!(!plain.stdout.contains('\x1b'), "{plain:?}");
    assert!(!plain.stderr.contains('\x1b'), "{plain:?}");
    // NO_COLOR and ANSIBLE_NOCOLOR change nothing off a terminal: the
    // output is the same bytes.
    for var in ["NO_COLOR", "ANSIBLE_NOCOLOR"] {
        let r = hoist_in(&p, "diff", &[], &[(var, "1")]);
        assert_eq!(r.stdout.lines().count(), plain.stdout.lines().count());
        assert!(!r.stdout.contains('\x1b'), "{var}: {r:?}");
    }
    // ANSIBLE_FORCE_COLOR colours as ansible-playbook does, even here.
    let c = hoist_in(&p, "diff", &[], &[("ANSIBLE_FORCE_COLOR", "1")]);
    assert_eq!(c.code, 2, "{c:?}");
    let out = &c.stdout;
    assert!(
        out.contains("\x1b[0;33mchanged: [localhost]\x1b[0m\n"),
        "{c:?}"
    );
    assert!(
        out.contains("\x1b[0;32mok: [localhost] => {\x1b[0m\n"),
        "{c:?}"
    );
    assert!(
        out.contains("\x1b[0;36mskipping: [localhost]\x1b[0m\n"),
        "{c:?}"
    );
    assert!(
        out.contains("\x1b[0;31mfatal: [localhost]: FAILED! => {\"changed\": false, \"msg\": \"boom\"}\x1b[0m\n"),
        "{c:?}"
    );
    assert!(out.contains("\x1b[0;36m...ignoring\x1b[0m\n"), "{c:?}");
    // The diff: removed lines red, added green, hunk headers cyan.
    assert!(out.contains("\x1b[0;31m-old\x1b[0m\n"), "{c:?}");
    assert!(out.contains("\x1b[0;32m+new\x1b[0m\n"), "{c:?}");
    assert!(out.contains("\x1b[0;36m@@ -1 +1 @@\x1b[0m\n"), "{c:?}");
    // The recap: the host yellow (changes, no failure), counts that are
    // not zero in their colours, padded as ansible pads them.
    let line = out
        .lines()
        .find(|l| l.contains(" : ") && l.contains("ok="))
        .expect("recap line");
    let host = format!("\x1b[0;33mlocalhost\x1b[0m{} : ", " ".repeat(17));
    assert!(line.starts_with(&host), "{line:?}");
    assert!(line.contains("\x1b[0;32mok=3   \x1b[0m"), "{line:?}");
    assert!(line.contains("\x1b[0;33mchanged=1   \x1b[0m"), "{line:?}");
    assert!(line.contains(" unreachable=0    failed=0    "), "{line:?}");
    assert!(line.contains("\x1b[0;36mskipped=1   \x1b[0m"), "{line:?}");
    assert!(line.contains("\x1b[1;35mignored=1   \x1b[0m"), "{line:?}");
    // Without the escapes, the same text as without colour.
    assert_eq!(strip_sgr(out), plain.stdout);
}

/// The text without SGR escapes.
fn strip_sgr(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("\x1b[") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after.find('m').map_or(after.len(), |e| e + 1);
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

// ------------------------------------------------------------------ tmux

/// A tmux server of the test's own (its own socket), killed on drop.
struct Tmux {
    socket: String,
    /// The socket's file, removed on drop (tmux leaves it behind).
    socket_path: Option<std::path::PathBuf>,
}

impl Tmux {
    /// None (with a note) when tmux is missing, unless CI is set: there,
    /// a missing tmux is a failure.
    fn start(name: &str, dir: &Path, command: &str) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
                panic!("tmux is not installed, and CI is set: the terminal tests must run");
            }
            eprintln!(
                "SKIPPED: tmux is not installed; the terminal test needs it (scripts/test installs it)"
            );
            return None;
        }
        let mut t = Tmux {
            socket: format!("hoist-test-{name}-{}", std::process::id()),
            socket_path: None,
        };
        let status = t
            .cmd()
            .args(["new-session", "-d", "-x", "120", "-y", "40", "-c"])
            .arg(dir)
            .arg(command)
            .status()
            .expect("tmux new-session");
        assert!(status.success(), "tmux new-session failed");
        let path = t
            .cmd()
            .args(["display-message", "-p", "#{socket_path}"])
            .output()
            .expect("tmux display-message");
        let path = String::from_utf8_lossy(&path.stdout).trim().to_owned();
        t.socket_path = (!path.is_empty()).then(|| path.into());
        Some(t)
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-L").arg(&self.socket).env("TERM", "xterm-256color");
        c
    }

    /// The pane's text, with its history; with `escapes`, its colours as
    /// escape sequences.
    fn capture(&self, escapes: bool) -> String {
        let mut c = self.cmd();
        c.args(["capture-pane", "-p", "-S", "-"]);
        if escapes {
            c.arg("-e");
        }
        let out = c.output().expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Captures until `done` holds for the text, or panics after `limit`.
    fn wait_for(&self, limit: Duration, done: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let text = self.capture(false);
            if done(&text) {
                return text;
            }
            if start.elapsed() > limit {
                let sessions = self.cmd().arg("list-sessions").output();
                panic!("timed out; the pane shows:\n{text}\n(tmux sessions: {sessions:?})");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
        if let Some(path) = &self.socket_path {
            let _ = std::fs::remove_file(path);
        }
    }
}

const HOSTS: usize = 10;

/// Ten local hosts and tasks that take a while on each.
fn terminal_project() -> Project {
    let p = Project::new();
    let mut inv = String::from("[web]\n");
    for i in 1..=HOSTS {
        inv.push_str(&format!("web{i} ansible_connection=local\n"));
    }
    p.write("hosts.ini", &inv);
    p.write(
        "site.yml",
        r#"
- hosts: web
  gather_facts: false
  tasks:
    - name: first nap
      command: sleep 1.5
    - name: greet
      debug:
        msg: hello
    - name: second nap
      command: sleep 1
      changed_when: false
"#,
    );
    p
}

/// The command tmux runs: hoist with a clean colour environment, then the
/// exit code and whether the terminal echoes control characters (hoist
/// turns that off while its bars show, and must turn it back on), then a
/// pause that keeps the pane open.
fn shell_command(env: &str) -> String {
    format!(
        "env -u NO_COLOR -u ANSIBLE_NOCOLOR -u HOIST_NOCOLOR -u ANSIBLE_FORCE_COLOR -u HOIST_FORCE_COLOR {env} {} apply site.yml -i hosts.ini -f {HOSTS} --profile; echo HOIST-EXIT=$?; stty -a | tr ' ' '\\n' | grep -x -e echoctl -e -echoctl | sed 's/^/MODE=/'; sleep 120",
        env!("CARGO_BIN_EXE_hoist"),
    )
}

/// The lines of the bars: the overall bar (`[elapsed] [===>  ] n/m`) and
/// the host lines (`  webN  task (Ns)`, `… and N more`).
fn bar_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| {
            l.contains("] [")
                || l.contains(" more")
                || (l.starts_with("  web") && l.trim_end().ends_with("s)"))
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_terminal_shows_bars_while_running_and_ends_clean_and_coloured() {
    let p = terminal_project();
    let Some(tmux) = Tmux::start("bars", p.path(), &shell_command("")) else {
        return;
    };
    // While the first task runs: the overall bar and a line per working
    // host, eight at most, then how many more.
    let running = tmux.wait_for(Duration::from_secs(60), |t| {
        t.contains("first nap (") && t.contains("… and 2 more")
    });
    let bars = bar_lines(&running);
    let overall = bars
        .iter()
        .find(|l| l.contains("] ["))
        .unwrap_or_else(|| panic!("no overall bar in:\n{running}"));
    assert!(
        overall.contains(&format!("/{} ", HOSTS * 3)) && overall.contains("first nap"),
        "{overall:?}\n{running}"
    );
    let host_lines = bars.iter().filter(|l| l.contains("first nap (")).count();
    assert_eq!(host_lines, 8, "{running}");
    assert!(bars.iter().any(|l| l.trim() == "… and 2 more"), "{running}");
    // The end: the recap and the profile, and nothing left of the bars.
    let end = tmux.wait_for(Duration::from_secs(60), |t| t.contains("MODE="));
    assert!(end.contains("HOIST-EXIT=0"), "{end}");
    assert!(end.contains("\nMODE=echoctl\n"), "{end}");
    let recap_at = end.find("PLAY RECAP").unwrap_or_else(|| panic!("{end}"));
    for i in 1..=HOSTS {
        let host = format!("web{i} ");
        assert!(
            end[recap_at..]
                .lines()
                .any(|l| l.starts_with(&host) && l.contains("ok=3 ")),
            "web{i}: {end}"
        );
    }
    assert!(end.contains("TASKS RECAP"), "{end}");
    assert_eq!(bar_lines(&end), Vec::<String>::new(), "{end}");
    for spinner in ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'] {
        assert!(!end.contains(spinner), "{end}");
    }
    // Every result is there once, in ansible-playbook's words.
    for i in 1..=HOSTS {
        let lines = |word: &str| {
            end.lines()
                .filter(|l| *l == format!("{word}: [web{i}]"))
                .count()
        };
        assert_eq!(lines("changed"), 1, "web{i}: {end}");
        assert_eq!(lines("ok"), 1, "web{i}: {end}");
    }
    // Colours: changed yellow, ok green, the recap's counts coloured.
    let coloured = tmux.capture(true);
    // (tmux writes a colour where it changes, so only the first of a run
    // of lines carries it.)
    let starts = |prefix: &str| coloured.lines().any(|l| l.starts_with(prefix));
    assert!(starts("\x1b[33mchanged: [web"), "{coloured:?}");
    assert!(starts("\x1b[32mok: [web"), "{coloured:?}");
    assert!(coloured.contains("\x1b[32mok=3"), "{coloured:?}");
}

#[test]
fn no_color_on_a_terminal_keeps_bars_but_drops_colour() {
    let p = terminal_project();
    let Some(tmux) = Tmux::start("nocolor", p.path(), &shell_command("NO_COLOR=1")) else {
        return;
    };
    let running = tmux.wait_for(Duration::from_secs(60), |t| t.contains("first nap ("));
    assert!(!bar_lines(&running).is_empty(), "{running}");
    let end = tmux.wait_for(Duration::from_secs(60), |t| t.contains("HOIST-EXIT="));
    assert!(
        end.contains("HOIST-EXIT=0") && end.contains("PLAY RECAP"),
        "{end}"
    );
    assert_eq!(bar_lines(&end), Vec::<String>::new(), "{end}");
    let coloured = tmux.capture(true);
    // No colour (tmux writes colours as `ESC[3Nm`).
    for code in 30..=37 {
        assert!(
            !coloured.contains(&format!("\x1b[{code}m")),
            "colour {code}: {coloured:?}"
        );
    }
}

#[test]
fn ctrl_c_leaves_no_bars_behind() {
    let p = terminal_project();
    // Commands that ignore the interrupt (the terminal sends it to the
    // whole group): hoist alone reacts to it.
    p.write(
        "site.yml",
        r#"
- hosts: web
  gather_facts: false
  tasks:
    - name: first nap
      command: sh -c 'trap "" INT; sleep 5'
"#,
    );
    let Some(tmux) = Tmux::start("interrupt", p.path(), &shell_command("")) else {
        return;
    };
    tmux.wait_for(Duration::from_secs(60), |t| t.contains("first nap ("));
    // Ctrl-C as a person types it: the terminal echoes `^C` and signals
    // the whole foreground group.
    let status = tmux
        .cmd()
        .args(["send-keys", "C-c"])
        .status()
        .expect("tmux send-keys");
    assert!(status.success());
    let end = tmux.wait_for(Duration::from_secs(30), |t| t.contains("MODE="));
    assert!(end.contains("ERROR! User interrupted execution"), "{end}");
    assert!(end.contains("\nMODE=echoctl\n"), "{end}");
    assert!(!end.contains("PLAY RECAP"), "{end}");
    assert_eq!(bar_lines(&end), Vec::<String>::new(), "{end}");
    for spinner in ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'] {
        assert!(!end.contains(spinner), "{end}");
    }
}
