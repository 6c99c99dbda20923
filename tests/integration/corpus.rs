//! The bad-input corpus (tests/corpus/, see its README): every malformed or
//! hostile input there is run through the real `hoist` binary, which must
//! exit with the expected code and diagnostic, never panic, finish within
//! [`TIME_LIMIT`] and stay under [`MEMORY_LIMIT`] of address space. All
//! failing cases are reported together.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A case using more CPU time than this is killed and fails. CPU time, not
/// wall time, so that a loaded machine (the suite shares it with builds)
/// does not make a case fail; a run that waits instead of working is
/// caught by [`WALL_LIMIT`].
const TIME_LIMIT: Duration = Duration::from_secs(10);
/// A case taking longer than this, working or not, is killed and fails.
const WALL_LIMIT: Duration = Duration::from_secs(120);
/// The address-space limit (`ulimit -v`, in KiB) each run gets: 2 GiB. An
/// allocation past it fails, and hoist aborts, which fails the case.
const MEMORY_LIMIT_KIB: u64 = 2 * 1024 * 1024;
/// More output than this is itself a failure (a diagnostic must not quote
/// a 50 MB line); only this much is kept.
const OUTPUT_LIMIT: usize = 256 * 1024;
/// Never acceptable in any output.
const FORBIDDEN: &[&str] = &[
    "panicked",
    "RUST_BACKTRACE",
    "stack overflow",
    "memory allocation of",
    "Diagnostic {",
];

#[derive(Clone, Debug, Default)]
struct Case {
    /// `kind/name`.
    id: String,
    kind: String,
    name: String,
    /// The arguments after `hoist`, shell-quoted, with placeholders.
    run: String,
    exit: Option<i32>,
    expect: Vec<String>,
    reject: Vec<String>,
    /// A generator writing the input at run time.
    generate: Option<String>,
    /// The input's file name when generated (default: `<name>.yml`).
    input: Option<String>,
    /// Extra environment (`NAME=value`).
    env: Vec<(String, String)>,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// Reads every `<kind>/cases.txt`.
fn load_cases() -> Vec<Case> {
    let mut kinds: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/corpus")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("cases.txt").is_file())
        .collect();
    kinds.sort();
    let mut cases = Vec::new();
    for dir in kinds {
        let kind = dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("kind name")
            .to_owned();
        let text = std::fs::read_to_string(dir.join("cases.txt")).expect("cases.txt");
        cases.extend(parse_manifest(&kind, &text));
    }
    cases
}

/// The manifest format: `[name]` starts a case; `key = value` lines set
/// its fields (`expect`, `reject` and `env` repeat); `[defaults]` sets
/// what the cases after it inherit. `#` starts a comment line.
fn parse_manifest(kind: &str, text: &str) -> Vec<Case> {
    let mut defaults = Case::default();
    let mut cases: Vec<Case> = Vec::new();
    let mut in_defaults = false;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_defaults = name == "defaults";
            if !in_defaults {
                let mut c = defaults.clone();
                c.kind = kind.to_owned();
                c.name = name.to_owned();
                c.id = format!("{kind}/{name}");
                cases.push(c);
            }
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .map(|(k, v)| (k.trim(), v.trim()))
            .unwrap_or_else(|| panic!("{kind}/cases.txt:{}: not `key = value`", n + 1));
        let c = if in_defaults {
            &mut defaults
        } else {
            cases
                .last_mut()
                .unwrap_or_else(|| panic!("{kind}/cases.txt:{}: outside a case", n + 1))
        };
        match key {
            "run" => c.run = value.to_owned(),
            "exit" => c.exit = Some(value.parse().expect("exit code")),
            "expect" => c.expect.push(value.to_owned()),
            "reject" => c.reject.push(value.to_owned()),
            "generate" => c.generate = Some(value.to_owned()),
            "input" => c.input = Some(value.to_owned()),
            "env" => {
                let (k, v) = value.split_once('=').expect("env NAME=value");
                c.env.push((k.to_owned(), v.to_owned()));
            }
            _ => panic!("{kind}/cases.txt:{}: unknown key `{key}`", n + 1),
        }
    }
    cases
}

/// Copies a file, or a directory's contents, into `to`.
fn copy_into(from: &Path, to: &Path) {
    if from.is_dir() {
        for e in std::fs::read_dir(from).expect("read case dir").flatten() {
            let dest = to.join(e.file_name());
            if e.path().is_dir() {
                std::fs::create_dir_all(&dest).expect("mkdir");
                copy_into(&e.path(), &dest);
            } else {
                std::fs::copy(e.path(), &dest).expect("copy");
            }
        }
    } else {
        std::fs::copy(from, to.join(from.file_name().expect("file name"))).expect("copy");
    }
}

/// The committed input of a case: `<kind>/<name>/` or `<kind>/<name>.*`.
fn committed_input(case: &Case) -> Option<PathBuf> {
    let dir = corpus_dir().join(&case.kind);
    let as_dir = dir.join(&case.name);
    if as_dir.is_dir() {
        return Some(as_dir);
    }
    std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.is_file()
                && p.file_stem().and_then(|s| s.to_str()) == Some(case.name.as_str())
                && p.file_name().and_then(|s| s.to_str()) != Some("cases.txt")
        })
}

/// A small deterministic generator of "random" bytes (xorshift).
fn garbage(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A play that runs `tasks` (YAML text, indented for `tasks:`) on localhost.
fn play(vars: &str, tasks: &str) -> String {
    format!("- hosts: all\n  gather_facts: false\n  vars:\n{vars}  tasks:\n{tasks}")
}

const DEBUG_TASK: &str = "    - debug: msg=hi\n";

/// Writes a generated input; returns its file name.
fn generate(generator: &str, file: &str, dir: &Path) -> Result<(), String> {
    let path = dir.join(file);
    let bytes: Vec<u8> = match generator {
        // 100 000 nested flow sequences.
        "deep_flow_seq" => format!("x: {}{}\n", "[".repeat(100_000), "]".repeat(100_000)).into(),
        // 100 000 nested flow mappings.
        "deep_flow_map" => {
            format!("x: {}1{}\n", "{a: ".repeat(100_000), "}".repeat(100_000)).into()
        }
        // 100 000 nested block sequences on one line (`- - - … x`).
        "deep_block_seq" => format!("{}x\n", "- ".repeat(100_000)).into(),
        // 3 000 nested block mappings, one space of indentation each.
        "deep_block_map" => {
            let mut s = String::new();
            for i in 0..3000 {
                s.push_str(&" ".repeat(i));
                s.push_str("k:\n");
            }
            s.into()
        }
        // Deeply nested vars reached through a template.
        "deep_vars" => play(
            &format!("    x: {}1{}\n", "[".repeat(250), "]".repeat(250)),
            "    - debug: msg={{ x | to_json | length }}\n",
        )
        .into(),
        // The billion laughs: nine levels of nine aliases each.
        "billion_laughs" => {
            let mut vars =
                String::from("    a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
            let mut prev = 'a';
            for c in "bcdefghij".chars() {
                vars.push_str(&format!(
                    "    {c}: &{c} [{}]\n",
                    vec![format!("*{prev}"); 9].join(", ")
                ));
                prev = c;
            }
            play(&vars, DEBUG_TASK).into()
        }
        // The same with mappings and merge keys.
        "billion_laughs_merge" => {
            let mut vars = String::from("    a: &a {k0: lol, k1: lol, k2: lol, k3: lol}\n");
            let mut prev = 'a';
            for c in "bcdefghijklmnopqrstuvwxyz".chars() {
                vars.push_str(&format!(
                    "    {c}: &{c} {{x: *{prev}, y: *{prev}, z: *{prev}, <<: *{prev}}}\n"
                ));
                prev = c;
            }
            play(&vars, DEBUG_TASK).into()
        }
        // An alias bomb as an extra-vars file or a vars file (no play around it).
        "billion_laughs_vars" => {
            let mut s = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
            let mut prev = 'a';
            for c in "bcdefghijk".chars() {
                s.push_str(&format!(
                    "{c}: &{c} [{}]\n",
                    vec![format!("*{prev}"); 10].join(",")
                ));
                prev = c;
            }
            s.into()
        }
        // An alias bomb in a YAML inventory (hosts' vars).
        "billion_laughs_inventory" => {
            let mut s = String::from(
                "all:\n  vars:\n    a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
            );
            let mut prev = 'a';
            for c in "bcdefghijk".chars() {
                s.push_str(&format!(
                    "    {c}: &{c} [{}]\n",
                    vec![format!("*{prev}"); 10].join(",")
                ));
                prev = c;
            }
            s.push_str("  hosts:\n    localhost:\n      ansible_connection: local\n");
            s.into()
        }
        // A 50 MB line: a key that long (YAML allows 1024 characters).
        "huge_key_line" => format!(
            "- hosts: all\n  gather_facts: false\n  {}: 1\n  tasks: []\n",
            "k".repeat(50 << 20)
        )
        .into(),
        // A 50 MB line with a syntax error at its end.
        "huge_line_syntax_error" => format!(
            "- hosts: all\n  vars:\n    x: [{}\n  tasks: []\n",
            "a".repeat(50 << 20)
        )
        .into(),
        // A 50 MB string value used by a task (valid: must simply work).
        "huge_string_value" => play(
            &format!("    x: \"{}\"\n", "y".repeat(50 << 20)),
            "    - debug: msg={{ x | length }}\n",
        )
        .into(),
        // 200 000 list items: valid, and must load quickly.
        "huge_list" => {
            let mut vars = String::from("    x:\n");
            for i in 0..200_000 {
                vars.push_str(&format!("      - {i}\n"));
            }
            play(&vars, "    - debug: msg={{ x | length }}\n").into()
        }
        // 20 000 tasks with an error in the last.
        "many_tasks" => {
            let mut tasks = String::new();
            for i in 0..20_000 {
                tasks.push_str(&format!("    - name: t{i}\n      debug: msg=hi\n"));
            }
            tasks.push_str("    - name: last\n      debgu: msg=hi\n");
            play("    a: 1\n", &tasks).into()
        }
        // Random bytes.
        "garbage" => garbage(0x5eed, 64 << 10),
        // Random bytes behind a valid vault header.
        "garbage_vault" => {
            let mut b = b"$ANSIBLE_VAULT;1.1;AES256\n".to_vec();
            b.extend(garbage(0xbad, 4096));
            b
        }
        // The vault fixture (password `hoist-fixture-pw`).
        "copy_fixture" => std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/vault/fixture-1.2.yml.vault"),
        )
        .map_err(|e| e.to_string())?,
        // A vault file with 10 MB of hex that is not an encryption.
        "huge_vault" => {
            let mut s = String::from("$ANSIBLE_VAULT;1.1;AES256\n");
            let line = "3".repeat(80);
            for _ in 0..(10 << 20) / 81 {
                s.push_str(&line);
                s.push('\n');
            }
            s.into()
        }
        // An INI inventory group chain 1 000 deep (the time hoist takes
        // grows with the square of the depth: 10 000 takes minutes).
        "deep_ini_children" => {
            let mut s = String::from("[g0]\nlocalhost ansible_connection=local\n");
            for i in 1..1_000 {
                s.push_str(&format!("[g{i}:children]\ng{}\n", i - 1));
            }
            s.into()
        }
        // A YAML inventory whose groups nest 60 deep (120 YAML levels,
        // under the YAML limit).
        "deep_yaml_children" => {
            let mut s = String::from("all:\n  children:\n");
            let mut indent = 4;
            for i in 0..60 {
                s.push_str(&format!(
                    "{}g{i}:\n{}children:\n",
                    " ".repeat(indent),
                    " ".repeat(indent + 2)
                ));
                indent += 4;
            }
            s.push_str(&format!(
                "{}leaf:\n{}hosts:\n{}localhost:\n{}ansible_connection: local\n",
                " ".repeat(indent),
                " ".repeat(indent + 2),
                " ".repeat(indent + 4),
                " ".repeat(indent + 6)
            ));
            s.into()
        }
        // 100 000 hosts.
        "huge_inventory" => {
            let mut s = String::from("[web]\n");
            for i in 0..100_000 {
                s.push_str(&format!("h{i} ansible_connection=local\n"));
            }
            s.push_str("[web:vars]\nbroken line here\n");
            s.into()
        }
        // Template variables each referring to the next, 5 000 deep.
        "deep_template_chain" => {
            let mut vars = String::new();
            for i in 0..5000 {
                vars.push_str(&format!("    v{i}: \"{{{{ v{} }}}}\"\n", i + 1));
            }
            vars.push_str("    v5000: end\n");
            play(&vars, "    - debug: msg={{ v0 }}\n").into()
        }
        // Each variable doubles the previous: 2^40 characters if expanded.
        "exponential_template" => {
            let mut vars = String::from("    v0: ab\n");
            for i in 1..=40 {
                vars.push_str(&format!("    v{i}: \"{{{{ v{p} ~ v{p} }}}}\"\n", p = i - 1));
            }
            play(&vars, "    - debug: msg={{ v40 | length }}\n").into()
        }
        // 100 000 nested parentheses in an expression.
        "deep_jinja_parens" => play(
            "    a: 1\n",
            &format!(
                "    - debug:\n        msg: \"{{{{ {}1{} }}}}\"\n",
                "(".repeat(100_000),
                ")".repeat(100_000)
            ),
        )
        .into(),
        // 10 000 nested `{% if %}` blocks.
        "deep_jinja_blocks" => play(
            "    a: 1\n",
            &format!(
                "    - debug:\n        msg: \"{}x{}\"\n",
                "{% if true %}".repeat(10_000),
                "{% endif %}".repeat(10_000)
            ),
        )
        .into(),
        // A 10 MB known_hosts line (5M host patterns) for the known_hosts
        // module to read.
        "huge_known_hosts" => format!("{} ssh-ed25519 AAAA\n", "h,".repeat(5 << 20)).into(),
        // An ssh_config including itself (through a glob) over and over.
        "huge_ssh_config" => {
            let mut s = String::from("Host web\n  HostName 127.0.0.1\n  Port 9\n");
            for i in 0..200_000 {
                s.push_str(&format!("Host h{i}\n  User u{i}\n"));
            }
            s.push_str("Host last\n  Port notaport\n");
            s.into()
        }
        other => return Err(format!("unknown generator `{other}`")),
    };
    std::fs::write(&path, bytes).map_err(|e| format!("write {}: {e}", path.display()))
}

/// The CPU time (user and system, all threads) a live process has used so
/// far, from /proc (in clock ticks, 100 a second on Linux).
fn cpu_time(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // Fields after the command name (which may hold spaces): state is the
    // 3rd field, utime the 14th and stime the 15th.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return Duration::ZERO;
    };
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    Duration::from_millis(fields.iter().sum::<u64>() * 10)
}

struct Outcome {
    code: Option<i32>,
    signal: Option<i32>,
    /// Killed for taking too long, with the CPU time used.
    timed_out: Option<Duration>,
    elapsed: Duration,
    stdout: String,
    stderr: String,
    output_len: usize,
}

fn capture(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<(Vec<u8>, usize)> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut total = 0;
        let mut buf = [0u8; 65536];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n;
            if kept.len() < OUTPUT_LIMIT {
                let room = OUTPUT_LIMIT - kept.len();
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
        (kept, total)
    })
}

/// Runs hoist with `args` in `dir` under the memory limit, killing it
/// after the time limit.
fn run_hoist(dir: &Path, args: &[String], env: &[(String, String)]) -> Outcome {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!(
            "ulimit -v {MEMORY_LIMIT_KIB} && exec \"$0\" \"$@\""
        ))
        .arg(env!("CARGO_BIN_EXE_hoist"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, _) in std::env::vars() {
        if k.starts_with("ANSIBLE_") || k.starts_with("HOIST_") || k == "SSH_AUTH_SOCK" {
            c.env_remove(k);
        }
    }
    c.env("HOME", dir.join("home"))
        .env("NO_COLOR", "1")
        .env("TERM", "dumb")
        .env("EDITOR", "false");
    for (k, v) in env {
        c.env(k, v);
    }
    let start = Instant::now();
    let mut child = c.spawn().expect("spawn hoist");
    let out = capture(child.stdout.take().expect("stdout"));
    let err = capture(child.stderr.take().expect("stderr"));
    let mut timed_out = None;
    let status = loop {
        match child.try_wait().expect("wait") {
            Some(s) => break s,
            None => {
                let cpu = cpu_time(child.id());
                if cpu > TIME_LIMIT || start.elapsed() > WALL_LIMIT {
                    timed_out = Some(cpu);
                    let _ = child.kill();
                    break child.wait().expect("wait after kill");
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    };
    let elapsed = start.elapsed();
    let (o, olen) = out.join().expect("stdout reader");
    let (e, elen) = err.join().expect("stderr reader");
    use std::os::unix::process::ExitStatusExt;
    Outcome {
        code: status.code(),
        signal: status.signal(),
        timed_out,
        elapsed,
        stdout: String::from_utf8_lossy(&o).into_owned(),
        stderr: String::from_utf8_lossy(&e).into_owned(),
        output_len: olen + elen,
    }
}

/// Runs one case; `Err` says everything wrong with it.
fn run_case(case: &Case) -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("home/.ssh")).map_err(|e| e.to_string())?;
    std::fs::write(
        dir.join("hosts.ini"),
        "localhost ansible_connection=local\n",
    )
    .map_err(|e| e.to_string())?;
    // What every case of the kind shares (password files, say).
    let shared = corpus_dir().join(&case.kind).join("_shared");
    if shared.is_dir() {
        copy_into(&shared, dir);
    }
    let committed = committed_input(case);
    // `generate = NAME > FILE` writes FILE beside the committed input.
    let beside = case
        .generate
        .as_deref()
        .and_then(|g| g.split_once('>'))
        .map(|(g, f)| (g.trim(), f.trim()));
    if let Some((g, file)) = beside {
        let path = committed
            .as_ref()
            .ok_or("`generate = NAME > FILE` needs a committed input too")?;
        copy_into(path, dir);
        generate(g, file, dir)?;
    }
    let input = match (&case.generate, committed) {
        (Some(g), _) if beside.is_none() => {
            let file = case.input.clone().unwrap_or(format!("{}.yml", case.name));
            generate(g, &file, dir)?;
            file
        }
        (_, Some(path)) => {
            if beside.is_none() {
                copy_into(&path, dir);
            }
            if path.is_dir() {
                case.input.clone().unwrap_or_else(|| "site.yml".into())
            } else {
                path.file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
                    .to_owned()
            }
        }
        // A case whose command names no input needs none.
        (_, None) if !case.run.contains("{input}") && !case.run.is_empty() => String::new(),
        (_, None) => return Err("no input: neither a file, a directory nor `generate`".into()),
    };
    // A play for the inventory and connection cases to run.
    if !dir.join("site.yml").exists() {
        std::fs::write(
            dir.join("site.yml"),
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=hi\n",
        )
        .map_err(|e| e.to_string())?;
    }
    let fill = |s: &str| {
        s.replace("{input}", &input)
            .replace("{dir}", &dir.display().to_string())
    };
    let run = if case.run.is_empty() {
        "apply {input} -i hosts.ini"
    } else {
        case.run.as_str()
    };
    let args: Vec<String> =
        shlex::split(&fill(run)).ok_or_else(|| format!("cannot split `run = {run}`"))?;
    let env: Vec<(String, String)> = case.env.iter().map(|(k, v)| (k.clone(), fill(v))).collect();
    let o = run_hoist(dir, &args, &env);
    let both = format!("{}\n{}", o.stdout, o.stderr);
    let mut problems = Vec::new();
    if let Some(cpu) = o.timed_out {
        problems.push(format!(
            "still running after {:.1?} ({cpu:.1?} of CPU time; limits {TIME_LIMIT:?} of CPU, {WALL_LIMIT:?} in all): killed",
            o.elapsed
        ));
    }
    if let Some(sig) = o.signal {
        problems.push(format!(
            "killed by signal {sig} (abort: a panic, or the memory limit)"
        ));
    }
    match case.exit {
        Some(want) if o.code != Some(want) && o.timed_out.is_none() => {
            problems.push(format!("exit code {:?}, expected {want}", o.code))
        }
        None => problems.push("the manifest gives no `exit`".into()),
        _ => {}
    }
    if o.output_len > OUTPUT_LIMIT {
        problems.push(format!(
            "{} bytes of output (limit {OUTPUT_LIMIT})",
            o.output_len
        ));
    }
    for f in FORBIDDEN {
        if both.contains(f) {
            problems.push(format!("output contains {f:?}"));
        }
    }
    for e in &case.expect {
        let e = fill(e);
        if !both.contains(&e) {
            problems.push(format!("output lacks {e:?}"));
        }
    }
    for r in &case.reject {
        let r = fill(r);
        if both.contains(&r) {
            problems.push(format!("output contains rejected {r:?}"));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let cut = |s: &str| -> String {
        if s.len() > 3000 {
            let mut end = 3000;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}…[{} bytes]", &s[..end], s.len())
        } else {
            s.to_owned()
        }
    };
    Err(format!(
        "{}\n  $ hoist {}   ({:.1?})\n--- stdout\n{}\n--- stderr\n{}",
        problems.join("\n"),
        args.join(" "),
        o.elapsed,
        cut(&o.stdout),
        cut(&o.stderr)
    ))
}

#[test]
fn corpus() {
    let cases = load_cases();
    let only = std::env::var("CORPUS_CASE").ok();
    let cases: Vec<Case> = cases
        .into_iter()
        .filter(|c| only.as_deref().is_none_or(|o| c.id.contains(o)))
        .collect();
    let mut seen = BTreeMap::new();
    for c in &cases {
        assert!(
            seen.insert(c.id.clone(), ()).is_none(),
            "duplicate case {}",
            c.id
        );
    }
    if only.is_none() {
        assert!(
            cases.len() >= 110,
            "the corpus has only {} cases",
            cases.len()
        );
    }
    let queue = Mutex::new(cases.iter());
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 2);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let Some(case) = queue.lock().expect("queue").next() else {
                        break;
                    };
                    if let Err(e) = run_case(case) {
                        failures
                            .lock()
                            .expect("failures")
                            .push(format!("=== {}: {e}", case.id));
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().expect("failures");
    failures.sort();
    assert!(
        failures.is_empty(),
        "{} of {} corpus cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn manifest_format() {
    let cases = parse_manifest(
        "k",
        "# c\n[defaults]\nrun = apply {input}\nexit = 4\n[a]\nexpect = x\nexpect = y\n[b]\nexit = 1\nenv = A=b=c\n",
    );
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[0].id, "k/a");
    assert_eq!((cases[0].exit, cases[0].expect.len()), (Some(4), 2));
    assert_eq!(cases[1].run, "apply {input}");
    assert_eq!(cases[1].exit, Some(1));
    assert_eq!(cases[1].env, vec![("A".into(), "b=c".into())]);
}
