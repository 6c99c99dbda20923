//! Inventory tests: real-looking INI and YAML inventories, sources,
//! group_vars/host_vars, precedence, patterns and located errors.

use std::path::{Path, PathBuf};

use super::*;
use crate::template::py_repr;

fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

fn load(paths: &[&Path]) -> Inventory {
    let sources: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    match Inventory::load(&sources) {
        Ok(inv) => inv,
        Err(diags) => panic!(
            "{}",
            diags.iter().map(|d| d.to_string()).collect::<String>()
        ),
    }
}

fn load_err(paths: &[&Path]) -> Vec<Diagnostic> {
    let sources: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    match Inventory::load(&sources) {
        Ok(_) => panic!("expected errors"),
        Err(d) => d,
    }
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn var(inv: &Inventory, host: &str, key: &str) -> String {
    inv.host_vars(host)
        .get(key)
        .map(py_repr)
        .unwrap_or_else(|| "<unset>".into())
}

fn sel(inv: &Inventory, pattern: &str) -> Vec<String> {
    inv.select(pattern).unwrap()
}

/// (line, col) of a diagnostic.
fn at(d: &Diagnostic) -> (usize, usize) {
    let s = d.span.as_ref().expect("located");
    (s.line, s.col)
}

const INI: &str = "\
# Example inventory, as in the Ansible documentation
mail.example.com

[webservers]
foo.example.com http_port=80 maxRequestsPerChild=808
bar.example.com:2222 ansible_user=\"deploy user\" quoted=\"'1'\"   # trailing comment
www[01:03].example.com

[dbservers]
db-[a:c].example.com
192.0.2.50

[atlanta]
host1
host2

[raleigh]
host2
host3

[southeast:children]
atlanta
raleigh

[southeast:vars]
some_server=foo.southeast.example.com
halon_system_timeout=30
flag=True
items=[1, 'two']
word=yes

; semicolon comment
[usa:children]
southeast
northeast

[northeast]

[all:vars]
ntp_server=ntp.example.com
";

#[test]
fn ini_inventory_structure() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "hosts", INI);
    let inv = load(&[&path]);
    assert_eq!(
        inv.hosts(),
        names(&[
            "mail.example.com",
            "foo.example.com",
            "bar.example.com",
            "www01.example.com",
            "www02.example.com",
            "www03.example.com",
            "db-a.example.com",
            "db-b.example.com",
            "db-c.example.com",
            "192.0.2.50",
            "host1",
            "host2",
            "host3",
        ])
    );
    let groups = inv.groups_map();
    assert_eq!(
        groups.keys().cloned().collect::<Vec<_>>(),
        names(&[
            "all",
            "ungrouped",
            "webservers",
            "dbservers",
            "atlanta",
            "raleigh",
            "southeast",
            "usa",
            "northeast"
        ])
    );
    assert_eq!(groups["ungrouped"], names(&["mail.example.com"]));
    assert_eq!(groups["southeast"], names(&["host1", "host2", "host3"]));
    assert_eq!(groups["usa"], names(&["host1", "host2", "host3"]));
    assert!(groups["northeast"].is_empty());
    assert_eq!(
        inv.group_names("host2"),
        names(&["atlanta", "raleigh", "southeast", "usa"])
    );
    // As in Ansible, a host in no group reports `ungrouped`.
    assert_eq!(inv.group_names("mail.example.com"), names(&["ungrouped"]));
    assert!(inv.has_host("www02.example.com") && !inv.has_host("www04.example.com"));
    assert!(inv.group_exists("northeast") && inv.group_exists("all") && !inv.group_exists("nope"));
}

#[test]
fn ini_values_as_ansible() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "hosts", INI);
    let inv = load(&[&path]);
    assert_eq!(var(&inv, "foo.example.com", "http_port"), "80");
    assert_eq!(var(&inv, "bar.example.com", "ansible_port"), "2222");
    assert_eq!(
        var(&inv, "bar.example.com", "ansible_user"),
        "'deploy user'"
    );
    assert_eq!(var(&inv, "bar.example.com", "quoted"), "'1'");
    assert_eq!(var(&inv, "host1", "halon_system_timeout"), "30");
    assert_eq!(var(&inv, "host1", "flag"), "True");
    assert_eq!(var(&inv, "host1", "items"), "[1, 'two']");
    assert_eq!(var(&inv, "host1", "word"), "'yes'");
    assert_eq!(
        var(&inv, "host1", "some_server"),
        "'foo.southeast.example.com'"
    );
    assert_eq!(
        var(&inv, "db-b.example.com", "ntp_server"),
        "'ntp.example.com'"
    );
    assert_eq!(
        var(&inv, "host1", "inventory_file"),
        py_repr(&Value::from(path.display().to_string()))
    );
    assert_eq!(
        var(&inv, "host1", "inventory_dir"),
        py_repr(&Value::from(dir.path().display().to_string()))
    );
}

const YAML: &str = "\
all:
  hosts:
    mail.example.com:
  vars:
    ntp: ntp.example.com
  children:
    webservers:
      hosts:
        foo.example.com:
          http_port: 80
          opts: {a: [1, 2]}
        bar.example.com:2222:
        www[01:02].example.com:
    dbservers:
      hosts: one.example.com
      vars:
        db_port: 5432
    prod:
      children:
        webservers:
        dbservers:
";

#[test]
fn yaml_inventory_structure() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "inventory.yml", YAML);
    let inv = load(&[&path]);
    assert_eq!(
        inv.hosts(),
        names(&[
            "mail.example.com",
            "foo.example.com",
            "bar.example.com",
            "www01.example.com",
            "www02.example.com",
            "one.example.com"
        ])
    );
    let groups = inv.groups_map();
    assert_eq!(
        groups["prod"],
        names(&[
            "foo.example.com",
            "bar.example.com",
            "www01.example.com",
            "www02.example.com",
            "one.example.com"
        ])
    );
    assert_eq!(groups["ungrouped"], names(&["mail.example.com"]));
    assert_eq!(
        inv.group_names("foo.example.com"),
        names(&["prod", "webservers"])
    );
    assert_eq!(inv.group_names("mail.example.com"), names(&["ungrouped"]));
    assert_eq!(var(&inv, "foo.example.com", "http_port"), "80");
    assert_eq!(var(&inv, "foo.example.com", "opts"), "{'a': [1, 2]}");
    assert_eq!(var(&inv, "bar.example.com", "ansible_port"), "2222");
    assert_eq!(var(&inv, "one.example.com", "db_port"), "5432");
    assert_eq!(var(&inv, "one.example.com", "ntp"), "'ntp.example.com'");
}

#[test]
fn yaml_without_extension_and_ini_without_extension() {
    let dir = tempfile::tempdir().unwrap();
    let y = write(dir.path(), "a/prod", "all:\n  hosts:\n    y1:\n");
    let i = write(dir.path(), "b/staging", "[web]\ni1 x=1\n");
    let inv = load(&[&y, &i]);
    assert_eq!(inv.hosts(), names(&["y1", "i1"]));
    assert_eq!(var(&inv, "i1", "x"), "1");
}

#[test]
fn host_lists_and_empty_inventory() {
    let inv = Inventory::load(&["h1,h2:2222, h1".to_string()]).unwrap();
    assert_eq!(inv.hosts(), names(&["h1", "h2"]));
    assert_eq!(var(&inv, "h2", "ansible_port"), "2222");
    assert_eq!(inv.group_names("h1"), names(&["ungrouped"]));

    let inv = Inventory::load(&["localhost,".to_string()]).unwrap();
    assert_eq!(sel(&inv, "all"), names(&["localhost"]));
    assert!(!inv.is_implicit_localhost("localhost"));
    // An explicit localhost has no implicit `ansible_connection`.
    assert_eq!(var(&inv, "localhost", "ansible_connection"), "<unset>");

    let inv = Inventory::load(&[]).unwrap();
    assert!(inv.hosts().is_empty());
    assert!(sel(&inv, "all").is_empty());
    assert_eq!(
        inv.groups_map().keys().cloned().collect::<Vec<_>>(),
        names(&["all", "ungrouped"])
    );
}

#[test]
fn implicit_localhost() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "hosts", "[web]\nw1\n[all:vars]\ngreeting=hi\n");
    write(dir.path(), "group_vars/all.yml", "from_files: yes\n");
    write(dir.path(), "group_vars/web.yml", "web_only: 1\n");
    write(dir.path(), "host_vars/localhost.yml", "mine: 1\n");
    let inv = load(&[&path]);
    assert_eq!(sel(&inv, "localhost"), names(&["localhost"]));
    assert_eq!(sel(&inv, "127.0.0.1"), names(&["127.0.0.1"]));
    assert_eq!(sel(&inv, "web:localhost"), names(&["w1", "localhost"]));
    assert!(!sel(&inv, "all").contains(&"localhost".to_string()));
    assert!(!inv.hosts().contains(&"localhost".to_string()));
    assert!(!inv.has_host("localhost") && inv.is_implicit_localhost("localhost"));
    let vars = inv.host_vars("localhost");
    assert_eq!(py_repr(&vars["ansible_connection"]), "'local'");
    assert_eq!(py_repr(&vars["greeting"]), "'hi'");
    assert_eq!(py_repr(&vars["from_files"]), "True");
    assert_eq!(py_repr(&vars["mine"]), "1");
    assert!(!vars.contains_key("web_only"));
    assert!(inv.group_names("localhost").is_empty());
    // A localhost-like host of the inventory stands in for `localhost`.
    let p2 = write(dir.path(), "other", "127.0.0.1 ansible_connection=local\n");
    let inv = load(&[&p2]);
    assert_eq!(sel(&inv, "localhost"), names(&["127.0.0.1"]));
    assert!(!inv.is_implicit_localhost("localhost"));
}

#[test]
fn ungrouped_and_dedupe() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "hosts", "a\nb\n[g1]\nb\nc\n[g2]\nc\na:2200\n");
    let inv = load(&[&path]);
    assert_eq!(inv.groups_map()["ungrouped"], Vec::<String>::new());
    assert_eq!(inv.hosts(), names(&["b", "c", "a"]));
    assert_eq!(sel(&inv, "g1:g2"), names(&["b", "c", "a"]));
    // The port of a host already defined is ignored, as in ansible-core.
    assert_eq!(var(&inv, "a", "ansible_port"), "<unset>");
    assert_eq!(inv.group_names("c"), names(&["g1", "g2"]));
}

#[test]
fn ini_children_declared_later_and_vars_before_group() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[top:children]\nmid\n[mid:vars]\nm=1\n[mid:children]\nleaf\n[leaf]\nl1\n";
    let path = write(dir.path(), "hosts", text);
    let inv = load(&[&path]);
    assert_eq!(inv.groups_map()["top"], names(&["l1"]));
    assert_eq!(inv.group_names("l1"), names(&["leaf", "mid", "top"]));
    assert_eq!(var(&inv, "l1", "m"), "1");
}

fn precedence_case(n: usize) -> (String, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let inv_dir = dir.path().join("inv");
    let play_dir = dir.path().join("play");
    std::fs::create_dir_all(&play_dir).unwrap();
    let mut ini = String::from("[parent:children]\nchild\n[child]\n");
    ini.push_str(if n >= 10 { "h1 v=L10\n" } else { "h1\n" });
    if n >= 1 {
        ini.push_str("[all:vars]\nv=L1\n");
    }
    if n >= 2 {
        ini.push_str("[parent:vars]\nv=L2\n");
    }
    if n >= 3 {
        ini.push_str("[child:vars]\nv=L3\n");
    }
    let path = write(&inv_dir, "hosts", &ini);
    let files: [(&Path, &str); 12] = [
        (&inv_dir, ""),
        (&inv_dir, ""),
        (&inv_dir, ""),
        (&inv_dir, "group_vars/all.yml"),
        (&play_dir, "group_vars/all.yml"),
        (&inv_dir, "group_vars/parent.yml"),
        (&inv_dir, "group_vars/child.yml"),
        (&play_dir, "group_vars/parent.yml"),
        (&play_dir, "group_vars/child.yml"),
        (&inv_dir, ""),
        (&inv_dir, "host_vars/h1.yml"),
        (&play_dir, "host_vars/h1.yml"),
    ];
    for (i, (base, rel)) in files.iter().enumerate().take(n) {
        if !rel.is_empty() {
            write(base, rel, &format!("v: L{}\n", i + 1));
        }
    }
    let mut inv = load(&[&path]);
    inv.add_playbook_vars_dir(&play_dir).unwrap();
    let sources = inv
        .var_sources("h1")
        .into_iter()
        .filter(|(name, _)| name == "v")
        .map(|(_, s)| py_repr(&s.value))
        .collect();
    (py_repr(&inv.host_vars("h1")["v"]), sources)
}

#[test]
fn precedence_of_every_layer() {
    // Layer n (1-based, lowest first) must win over layers 1..n-1:
    //  1 [all:vars]   2 [parent:vars]   3 [child:vars]
    //  4 inv group_vars/all   5 play group_vars/all
    //  6 inv group_vars/parent   7 inv group_vars/child
    //  8 play group_vars/parent  9 play group_vars/child
    // 10 inline host var   11 inv host_vars/h1   12 play host_vars/h1
    // `var_sources` (what `hoist vars` shows) lists the same layers in the
    // same order, so its last entry is always the winner.
    for n in 1..=12 {
        let (winner, sources) = precedence_case(n);
        assert_eq!(winner, format!("'L{n}'"), "layer {n} should win");
        let want: Vec<String> = (1..=n).map(|i| format!("'L{i}'")).collect();
        assert_eq!(sources, want, "sources with {n} layers");
    }
}

#[test]
fn group_priority_and_depth() {
    let dir = tempfile::tempdir().unwrap();
    let base = "[a]\nh\n[b]\nh\n[a:vars]\nv=a\n[b:vars]\nv=b\n";
    let p1 = write(dir.path(), "one/hosts", base);
    let inv = load(&[&p1]);
    // Same depth, same priority: by name, so `b` wins.
    assert_eq!(var(&inv, "h", "v"), "'b'");
    let p2 = write(
        dir.path(),
        "two/hosts",
        "[a]\nh\n[b]\nh\n[a:vars]\nv=a\nansible_group_priority=10\n[b:vars]\nv=b\n",
    );
    let inv = load(&[&p2]);
    assert_eq!(var(&inv, "h", "v"), "'a'");
    assert_eq!(var(&inv, "h", "ansible_group_priority"), "<unset>");
    // Depth beats name: a child group (`aa`, deeper) wins over `zz`.
    let p3 = write(
        dir.path(),
        "three/hosts",
        "[zz]\nh\n[p:children]\naa\n[aa]\nh\n[zz:vars]\nv=zz\n[aa:vars]\nv=aa\n",
    );
    let inv = load(&[&p3]);
    assert_eq!(var(&inv, "h", "v"), "'aa'");
    // YAML priorities too, and a bad one is a located error.
    let y = write(
        dir.path(),
        "four/inv.yml",
        "all:\n  children:\n    a:\n      vars:\n        ansible_group_priority: high\n",
    );
    let errs = load_err(&[&y]);
    assert_eq!(at(&errs[0]), (5, 33));
    assert!(errs[0].message.contains("ansible_group_priority"));
}

#[test]
fn group_vars_directory_of_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "hosts", "[web]\nw1\n");
    write(
        dir.path(),
        "group_vars/web/10-base.yml",
        "a: base\nb: base\n",
    );
    write(
        dir.path(),
        "group_vars/web/20-more.yaml",
        "b: more\nc: more\n",
    );
    write(dir.path(), "group_vars/web/sub/30-deep", "c: deep\n");
    write(dir.path(), "group_vars/web/.hidden.yml", "a: hidden\n");
    write(dir.path(), "group_vars/web/notes.txt", "a: txt\n");
    write(dir.path(), "group_vars/web/zz.yml~", "a: backup\n");
    write(dir.path(), "group_vars/web/empty.yml", "# nothing\n");
    // The directory is found first, so web.yml is not read.
    write(dir.path(), "group_vars/web.yml", "a: file\n");
    write(
        dir.path(),
        "group_vars/nosuchgroup.yml",
        "- ignored, as the group does not exist\n",
    );
    write(dir.path(), "host_vars/w1.json", "{\"j\": [1, 2]}\n");
    let inv = load(&[&path]);
    let vars = inv.host_vars("w1");
    assert_eq!(py_repr(&vars["a"]), "'base'");
    assert_eq!(py_repr(&vars["b"]), "'more'");
    assert_eq!(py_repr(&vars["c"]), "'deep'");
    assert_eq!(py_repr(&vars["j"]), "[1, 2]");
}

#[test]
fn vars_files_must_be_mappings() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "hosts", "[web]\nw1\n");
    write(dir.path(), "group_vars/web.yml", "# header\n- a\n- b\n");
    write(
        dir.path(),
        "host_vars/w1.yml",
        "x: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n",
    );
    let errs = load_err(&[&path]);
    // The `!vault` value fails only where it is used (as ansible-core).
    assert_eq!(errs.len(), 1);
    assert!(errs[0].message.contains("must contain a mapping"));
    assert_eq!(at(&errs[0]), (2, 1));
    assert_eq!(
        errs[0].span.as_ref().unwrap().file.as_ref(),
        dir.path().join("group_vars/web.yml").display().to_string()
    );
}

#[test]
fn playbook_vars_dir_errors_and_dedupe() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "inv/hosts", "[web]\nw1\n");
    write(dir.path(), "play/group_vars/web.yml", "a: [unclosed\n");
    let mut inv = load(&[&path]);
    let errs = inv
        .add_playbook_vars_dir(&dir.path().join("play"))
        .unwrap_err();
    assert!(errs[0].message.starts_with("YAML syntax error"));
    write(dir.path(), "play/group_vars/web.yml", "a: 1\n");
    inv.add_playbook_vars_dir(&dir.path().join("play")).unwrap();
    inv.add_playbook_vars_dir(&dir.path().join("play/."))
        .unwrap();
    assert_eq!(inv.playbook_vars.len(), 1);
    assert_eq!(var(&inv, "w1", "a"), "1");
}

#[test]
fn directory_sources() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("inventory");
    write(&d, "01-hosts.ini", "[web]\nw1\n");
    write(
        &d,
        "02-more.yml",
        "all:\n  children:\n    db:\n      hosts:\n        d1:\n",
    );
    write(&d, "03-plain", "[web]\nw2\n");
    write(&d, "sub/04-nested", "n1\n");
    for ignored in [
        "README.md",
        "notes.txt",
        "old.retry",
        "hosts.orig",
        "ansible.cfg",
        "hosts~",
        ".hidden",
        "x.ini~",
        "x.bak",
    ] {
        write(&d, ignored, "[[[ not an inventory\n");
    }
    write(&d, "group_vars/web.yml", "role: web\n");
    write(&d, "host_vars/d1/main.yml", "id: 7\n");
    let inv = load(&[&d]);
    // `db` was made a child of `all` by the YAML file, before `web` was
    // adopted by `all` at the end, so its hosts come first (as in Ansible).
    assert_eq!(inv.hosts(), names(&["n1", "d1", "w1", "w2"]));
    assert_eq!(var(&inv, "w2", "role"), "'web'");
    assert_eq!(var(&inv, "d1", "id"), "7");
    assert_eq!(
        var(&inv, "w1", "inventory_file"),
        py_repr(&Value::from(d.join("01-hosts.ini").display().to_string()))
    );
    assert_eq!(
        var(&inv, "n1", "inventory_dir"),
        py_repr(&Value::from(d.join("sub").display().to_string()))
    );
}

#[test]
fn several_sources_merge() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a/hosts", "[web]\nw1 x=1\n[web:vars]\ng=a\n");
    let b = write(
        dir.path(),
        "b/hosts.yml",
        "all:\n  children:\n    web:\n      hosts:\n        w1:\n          y: 2\n        w2:\n      vars:\n        g: b\n",
    );
    write(dir.path(), "a/group_vars/web.yml", "f: a\n");
    write(dir.path(), "b/group_vars/web.yml", "f: b\n");
    let inv = load(&[&a, &b]);
    assert_eq!(inv.hosts(), names(&["w1", "w2"]));
    assert_eq!(var(&inv, "w1", "x"), "1");
    assert_eq!(var(&inv, "w1", "y"), "2");
    assert_eq!(var(&inv, "w1", "g"), "'b'");
    assert_eq!(var(&inv, "w1", "f"), "'b'");
    // inventory_file is the first source that named the host.
    assert_eq!(
        var(&inv, "w1", "inventory_file"),
        py_repr(&Value::from(a.display().to_string()))
    );
}

fn pattern_inventory() -> (tempfile::TempDir, Inventory) {
    let dir = tempfile::tempdir().unwrap();
    let text = "\
[webservers]
web1.example.com
web2.example.com
web3.example.org

[dbservers]
db1.example.com
web2.example.com

[staging]
web1.example.com
db1.example.com

[phoenix]
web3.example.org
";
    let path = write(dir.path(), "hosts", text);
    let inv = load(&[&path]);
    (dir, inv)
}

#[test]
fn patterns_union_intersection_exclusion() {
    let (_d, inv) = pattern_inventory();
    let all = names(&[
        "web1.example.com",
        "web2.example.com",
        "web3.example.org",
        "db1.example.com",
    ]);
    assert_eq!(sel(&inv, "all"), all);
    assert_eq!(sel(&inv, "*"), all);
    assert_eq!(
        sel(&inv, "webservers"),
        names(&["web1.example.com", "web2.example.com", "web3.example.org"])
    );
    assert_eq!(sel(&inv, "db1.example.com"), names(&["db1.example.com"]));
    // Union keeps pattern order.
    assert_eq!(
        sel(&inv, "dbservers:webservers"),
        names(&[
            "db1.example.com",
            "web2.example.com",
            "web1.example.com",
            "web3.example.org"
        ])
    );
    assert_eq!(
        sel(&inv, "dbservers,webservers"),
        sel(&inv, "dbservers:webservers")
    );
    assert_eq!(
        sel(&inv, "webservers:&staging"),
        names(&["web1.example.com"])
    );
    assert_eq!(
        sel(&inv, "webservers:!phoenix"),
        names(&["web1.example.com", "web2.example.com"])
    );
    assert_eq!(
        sel(&inv, "webservers:dbservers:&staging:!phoenix"),
        names(&["web1.example.com", "db1.example.com"])
    );
    // Order of operators does not matter.
    assert_eq!(
        sel(&inv, "!phoenix:&staging:webservers:dbservers"),
        sel(&inv, "webservers:dbservers:&staging:!phoenix")
    );
    // Only exclusions: from `all`.
    assert_eq!(sel(&inv, "!webservers"), names(&["db1.example.com"]));
    assert_eq!(
        sel(&inv, "all:!web2.example.com"),
        names(&["web1.example.com", "web3.example.org", "db1.example.com"])
    );
    assert!(sel(&inv, "nosuch").is_empty());
    assert_eq!(
        sel(&inv, "nosuch:staging"),
        names(&["web1.example.com", "db1.example.com"])
    );
}

#[test]
fn patterns_wildcards_regex_subscripts() {
    let (_d, inv) = pattern_inventory();
    assert_eq!(
        sel(&inv, "*.example.com"),
        names(&["web1.example.com", "web2.example.com", "db1.example.com"])
    );
    assert_eq!(
        sel(&inv, "web*.example.com"),
        names(&["web1.example.com", "web2.example.com"])
    );
    assert_eq!(sel(&inv, "web?.example.org"), names(&["web3.example.org"]));
    // A wildcard matching group names takes their hosts.
    assert_eq!(
        sel(&inv, "db*"),
        names(&["db1.example.com", "web2.example.com"])
    );
    assert_eq!(
        sel(&inv, "~(web|db)1\\."),
        names(&["web1.example.com", "db1.example.com"])
    );
    assert_eq!(
        sel(&inv, "~staging|phoenix"),
        names(&["web1.example.com", "db1.example.com", "web3.example.org"])
    );
    assert_eq!(sel(&inv, "webservers[0]"), names(&["web1.example.com"]));
    assert_eq!(sel(&inv, "webservers[-1]"), names(&["web3.example.org"]));
    assert_eq!(
        sel(&inv, "webservers[1:2]"),
        names(&["web2.example.com", "web3.example.org"])
    );
    assert_eq!(
        sel(&inv, "webservers[1:]"),
        names(&["web2.example.com", "web3.example.org"])
    );
    // Documented, but not parsed by ansible-core: matches nothing.
    assert!(sel(&inv, "webservers[:1]").is_empty());
    // `[2:0]`: an end of 0 selects the start host alone, as ansible-core.
    assert_eq!(sel(&inv, "webservers[2:0]"), names(&["web3.example.org"]));
    assert_eq!(
        sel(&inv, "web1.example.com,db*"),
        names(&["web1.example.com", "db1.example.com", "web2.example.com"])
    );
    assert_eq!(
        sel(&inv, "webservers[0],dbservers[0]"),
        names(&["web1.example.com", "db1.example.com"])
    );
    assert_eq!(
        sel(&inv, "webservers[0:1]:!web2.example.com"),
        names(&["web1.example.com"])
    );
    assert!(
        inv.select("webservers[7]")
            .unwrap_err()
            .contains("webservers[7]")
    );
    assert!(
        inv.select("~(")
            .unwrap_err()
            .contains("Invalid host list pattern")
    );
}

#[test]
fn limit_patterns_and_files() {
    let (dir, inv) = pattern_inventory();
    let all = sel(&inv, "all");
    assert_eq!(
        inv.limit(all.clone(), "webservers:!phoenix").unwrap(),
        names(&["web1.example.com", "web2.example.com"])
    );
    assert_eq!(
        inv.limit(all.clone(), "!staging").unwrap(),
        names(&["web2.example.com", "web3.example.org"])
    );
    assert_eq!(
        inv.limit(sel(&inv, "dbservers"), "web*").unwrap(),
        names(&["web2.example.com"])
    );
    let f = write(dir.path(), "retry", "db1.example.com\n\nweb3.example.org\n");
    assert_eq!(
        inv.limit(all.clone(), &format!("@{}", f.display()))
            .unwrap(),
        names(&["web3.example.org", "db1.example.com"])
    );
    assert!(
        inv.limit(all.clone(), "@/no/such/file")
            .unwrap_err()
            .contains("Unable to find limit file")
    );
    // The implicit localhost is limited away unless named.
    assert!(
        inv.limit(names(&["localhost"]), "webservers")
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        inv.limit(names(&["localhost"]), "localhost").unwrap(),
        names(&["localhost"])
    );
}

#[test]
fn ini_errors_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let text = "\
[web]
host1 ansible_port
  host2 =x
[web:bogus]
ignored line
[bad group]
[db:children]
missing
[db]
[ghost:vars]
a=1
[web:vars]
no_equals_here
[loop:children]
loop
[other]
h3 x='unclosed
web[01:3]
";
    let path = write(dir.path(), "hosts", text);
    let errs = load_err(&[&path]);
    let got: Vec<((usize, usize), String)> =
        errs.iter().map(|d| (at(d), d.message.clone())).collect();
    let expect = [
        (
            (2, 7),
            "Expected key=value host variable assignment, got: ansible_port",
        ),
        ((3, 9), "missing variable name in `=x`"),
        ((4, 6), "Section [web:bogus] has unknown type: bogus"),
        ((6, 1), "Invalid section entry: '[bad group]'"),
        ((13, 1), "Expected key=value, got: no_equals_here"),
        ((15, 1), "group 'loop' cannot be a child of itself"),
        (
            (17, 6),
            "Error parsing host definition 'h3 x='unclosed': No closing quotation",
        ),
        (
            (18, 1),
            "invalid host pattern 'web[01:3]': host range must specify equal-length begin and end formats",
        ),
        (
            (8, 1),
            "Section [db:children] includes undefined group 'missing'",
        ),
        (
            (10, 2),
            "Section [ghost:vars] not valid for undefined group 'ghost'",
        ),
    ];
    for (i, (pos, msg)) in expect.iter().enumerate() {
        assert_eq!(
            got.get(i).map(|g| (g.0, g.1.as_str())),
            Some((*pos, *msg)),
            "error {i}: {got:#?}"
        );
    }
    assert_eq!(got.len(), expect.len(), "{got:#?}");
    // The rendering quotes the line with a caret under the bad token.
    let shown = errs[0].to_string();
    assert!(
        shown.contains("2 | host1 ansible_port\n  |       ^^^^^^^^^^^^"),
        "{shown}"
    );
    // Did-you-mean for a typo'd section type.
    let d = load_err(&[&write(dir.path(), "t2", "[web:childs]\n")]);
    assert_eq!(d[0].help.as_deref(), Some("did you mean `children`?"));
}

#[test]
fn yaml_errors_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let text = "\
all:
  hots:
    a:
  children:
    web:
      hosts:
        - w1
        - w2
    db:
      hosts:
        d1: just a string
        42:
    broken: [1, 2]
    loop:
      children:
        loop:
  varz: {}
";
    let path = write(dir.path(), "inv.yml", text);
    let errs = load_err(&[&path]);
    let got: Vec<((usize, usize), String)> =
        errs.iter().map(|d| (at(d), d.message.clone())).collect();
    assert_eq!(
        got[0],
        (
            (2, 3),
            "unknown key `hots` in group `all`: only `hosts`, `vars` and `children` are valid"
                .into()
        )
    );
    assert_eq!(errs[0].help.as_deref(), Some("did you mean `hosts`?"));
    assert_eq!(got[1].0, (7, 9));
    assert!(
        got[1]
            .1
            .starts_with("Invalid \"hosts\" entry for \"web\" group"),
        "{}",
        got[1].1
    );
    assert_eq!(
        got[2],
        (
            (11, 13),
            "the variables of host `d1` must be a mapping, found a string".into()
        )
    );
    assert_eq!(
        got[3],
        (
            (12, 9),
            "Host pattern 42 must be a string. Enclose integers/floats in quotation marks.".into()
        )
    );
    assert_eq!(got[4].0, (13, 13));
    assert!(got[4].1.starts_with("group `broken` must be a mapping"));
    assert_eq!(
        got[5],
        ((16, 9), "group 'loop' cannot be a child of itself".into())
    );
    assert_eq!(got[6].0, (17, 3));
    assert_eq!(errs[6].help.as_deref(), Some("did you mean `vars`?"));
    assert_eq!(got.len(), 7, "{got:#?}");
}

#[test]
fn yaml_source_problems() {
    let dir = tempfile::tempdir().unwrap();
    let errs = load_err(&[&write(dir.path(), "a.yml", "- a\n- b\n")]);
    assert_eq!(at(&errs[0]), (1, 1));
    assert!(
        errs[0]
            .message
            .contains("must be a mapping of groups, found a list")
    );
    let errs = load_err(&[&write(dir.path(), "b.yml", "all:\n  hosts: [a\n")]);
    assert!(errs[0].message.starts_with("YAML syntax error"));
    let errs = load_err(&[&write(
        dir.path(),
        "c.yml",
        "plugin: aws_ec2\nregions: [x]\n",
    )]);
    assert_eq!(at(&errs[0]), (1, 9));
    assert!(errs[0].message.contains("inventory plugin configuration"));
    // A file without extension that looks like broken YAML reports the YAML error.
    let errs = load_err(&[&write(dir.path(), "d", "all:\n  hosts:\n    a: [\n")]);
    assert!(
        errs[0].message.starts_with("YAML syntax error"),
        "{}",
        errs[0]
    );
}

#[test]
fn missing_source_is_a_file_level_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let errs = load_err(&[&missing]);
    assert_eq!(errs.len(), 1);
    let span = errs[0].span.as_ref().unwrap();
    assert_eq!((span.line, span.col), (0, 0));
    assert_eq!(span.file.as_ref(), missing.display().to_string());
    assert_eq!(
        errs[0].message,
        format!(
            "Unable to parse {} as an inventory source: no such file or directory",
            missing.display()
        )
    );
    // A bare name hints at the trailing-comma host list.
    let errs = Inventory::load(&["webhost".to_string()]).unwrap_err();
    assert!(errs[0].help.as_deref().unwrap().contains("-i webhost,"));
}

#[test]
fn errors_from_several_sources_are_all_reported() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a", "[web\n");
    let b = write(dir.path(), "b.yml", "all:\n  hostz:\n");
    let errs = load_err(&[&a, &b, &dir.path().join("c")]);
    assert_eq!(errs.len(), 3, "{errs:#?}");
}

#[test]
fn warnings_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "hosts", "[web]\nweb\nlocalhost\n127.0.0.1\n");
    let inv = load(&[&path]);
    let msgs: Vec<&str> = inv.warnings().iter().map(|d| d.message.as_str()).collect();
    assert!(
        msgs.iter()
            .any(|m| m.contains("duplicate localhost-like entry")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.contains("Found both group and host with same name: web")),
        "{msgs:?}"
    );
}

#[test]
fn script_and_toml_sources_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let script = write(
        dir.path(),
        "ec2.py",
        "#!/usr/bin/env python3\nprint('{}')\n",
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let errs = load_err(&[&script]);
    assert!(errs[0].message.contains("inventory script"));
    let errs = load_err(&[&write(dir.path(), "x.toml", "[all.hosts]\n")]);
    assert!(errs[0].message.contains("TOML"));
}

#[test]
fn yaml_key_typos_get_suggestions() {
    let dir = tempfile::tempdir().unwrap();
    let text = "all:\n  host:\n    a:\n  child:\n    g:\n  var:\n    x: 1\n  web1:\n";
    let errs = load_err(&[&write(dir.path(), "inv.yaml", text)]);
    let helps: Vec<(usize, usize, Option<&str>)> = errs
        .iter()
        .map(|d| (at(d).0, at(d).1, d.help.as_deref()))
        .collect();
    assert_eq!(
        helps,
        [
            (2, 3, Some("did you mean `hosts`?")),
            (4, 3, Some("did you mean `children`?")),
            (6, 3, Some("did you mean `vars`?")),
            (
                8,
                3,
                Some(
                    "a group's hosts go under `hosts:`, its variables under `vars:`, its subgroups under `children:`"
                )
            ),
        ]
    );
}

#[test]
fn huge_ranges_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let errs = load_err(&[&write(dir.path(), "hosts", "h[0:999999][0:9]\n")]);
    assert!(errs[0].message.contains("too many hosts"), "{}", errs[0]);
}
