//! `get_url` and `uri` over SSH: the request is made on the target (web3)
//! against a small HTTP server the test starts on another lab host (app3).
//! The server (Python, as lab test infrastructure only) serves files (with
//! `Last-Modified` / `304`), echoes requests as JSON, answers chosen status
//! codes, redirects, sends `Content-Disposition` and wants basic auth on
//! one path. The expected values are what ansible-playbook 2.19 returns for
//! the same requests (checked against a local server).

use crate::common::{Lab, lab, recap, without_quoted_source};

const SERVER: &str = r#"
import base64, email.utils, http.server, json, os, sys, urllib.parse
ADDR, ROOT, PORTFILE = sys.argv[1], sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def send(self, code, body=b"", ctype="text/plain", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra: self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    def handle_any(self):
        p = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if p.startswith("/status/"):
            code = int(p.split("/")[2])
            return self.send(code, ("status %d\n" % code).encode())
        if p.startswith("/redirect/"):
            return self.send(302, b"", extra=[("Location", "/files/" + p[len("/redirect/"):])])
        if p.startswith("/auth/"):
            want = "Basic " + base64.b64encode(b"user:p'a$s w").decode()
            if self.headers.get("Authorization") != want:
                return self.send(401, b"auth needed\n", extra=[("WWW-Authenticate", 'Basic realm="lab"')])
            p = "/files/" + p[len("/auth/"):]
        if p.startswith("/cd/"):
            name = p[len("/cd/"):].replace('"', '\\"')
            return self.send(200, b"disposition body\n", "application/octet-stream",
                             [("Content-Disposition", 'attachment; filename="%s"' % name)])
        if p.startswith("/echo"):
            out = {"method": self.command, "body": body.decode("utf-8", "replace"),
                   "content_type": self.headers.get("Content-Type"),
                   "headers": {k.lower(): v for k, v in self.headers.items()}}
            return self.send(200, json.dumps(out, sort_keys=True).encode(), "application/json",
                             [("X-Echo-Thing", "yes"), ("Set-Cookie", "sid=abc; Path=/")])
        if p.startswith("/files/"):
            f = os.path.join(ROOT, p[len("/files/"):])
            if os.path.isfile(f):
                mt = int(os.path.getmtime(f))
                ims = self.headers.get("If-Modified-Since")
                if ims:
                    try:
                        if int(email.utils.parsedate_to_datetime(ims).timestamp()) >= mt:
                            return self.send(304, b"")
                    except Exception:
                        pass
                with open(f, "rb") as fh:
                    return self.send(200, fh.read(), "application/octet-stream",
                                     [("Last-Modified", email.utils.formatdate(mt, usegmt=True))])
        return self.send(404, b"nope\n")
    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = handle_any
srv = http.server.ThreadingHTTPServer((ADDR, 0), H)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
"#;

/// sha256 of `hello world\n`.
const HELLO_SHA256: &str = "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447";
const HELLO_SHA1: &str = "22596363b3de40b06f981fb85d82312e8c0ed511";
const HELLO_MD5: &str = "6f5902ac237024bdd0c176cb93063dc4";

/// A lab host's address from the inventory.
fn address(lab: &Lab, host: &str) -> String {
    let text = std::fs::read_to_string(lab.inventory()).expect("inventory");
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(host))
        .and_then(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("ansible_host="))
        })
        .unwrap_or_else(|| panic!("{host} not in the lab inventory"))
        .to_owned()
}

/// The test's HTTP server on a lab host; stopped (by its pid) when dropped.
struct Server<'a> {
    lab: &'a Lab,
    host: &'static str,
    pid: String,
    root: String,
    base: String,
}

impl Drop for Server<'_> {
    fn drop(&mut self) {
        self.lab.ssh(
            self.host,
            "root",
            &format!("kill {}; rm -rf '{}'", self.pid, self.root),
        );
    }
}

fn start_server<'a>(lab: &'a Lab, host: &'static str, tag: &str) -> Server<'a> {
    let addr = address(lab, host);
    let root = format!("/tmp/hoist-http-{tag}");
    let setup = format!(
        "rm -rf {root} && mkdir -p {root}/files && cd {root} && \
         cat > srv.py <<'HOIST_EOF'\n{SERVER}\nHOIST_EOF\n\
         printf 'hello world\\n' > files/hello.txt && \
         printf 'quoted\\n' > \"files/it's \\$x.txt\" && \
         touch -d '2020-01-01 00:00:00' files/hello.txt && \
         (cd files && sha256sum hello.txt > SHA256SUMS) || exit 1\n\
         nohup python3 srv.py {addr} {root}/files {root}/port </dev/null >{root}/log 2>&1 &\n\
         echo $!"
    );
    let r = lab.ssh(host, "root", &setup);
    assert_eq!(r.code, 0, "{r:?}");
    let pid = r.stdout.trim().to_owned();
    assert!(
        pid.chars().all(|c| c.is_ascii_digit()) && !pid.is_empty(),
        "{r:?}"
    );
    let wait = format!(
        "for i in $(seq 100); do [ -s {root}/port ] && break; sleep 0.1; done; cat {root}/port"
    );
    let port = lab.ssh(host, "root", &wait);
    let port = port.stdout.trim().to_owned();
    assert!(!port.is_empty(), "the test server did not start on {host}");
    Server {
        lab,
        host,
        pid,
        root: root.clone(),
        base: format!("http://{addr}:{port}"),
    }
}

/// A word quoted for the remote shell.
fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// An `assert` task; each expression is a YAML block scalar, so it may hold
/// any quotes and colons.
fn assert_task(exprs: &[String]) -> String {
    let mut t = String::from("    - assert:\n        that:\n");
    for e in exprs {
        t.push_str("          - |-\n            ");
        t.push_str(e);
        t.push('\n');
    }
    t
}

#[test]
fn get_url_downloads_on_the_target() {
    let Some(lab) = lab() else { return };
    let srv = start_server(&lab, "app3", "get");
    let d = "/tmp/hoist-t-get_url d'q $x";
    let r = lab.ssh(
        "web3",
        "root",
        &format!("rm -rf {0} && mkdir -p {0}", sq(d)),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let dir = tempfile::tempdir().expect("tempdir");
    let site = |tasks: &str| {
        format!(
            "- hosts: web3\n  gather_facts: false\n  vars:\n    base: \"{}\"\n    d: \"{}\"\n  tasks:\n{tasks}",
            srv.base,
            d.replace('\\', "\\\\").replace('"', "\\\"")
        )
    };
    // Downloads that converge: the second run changes nothing.
    let converge = format!(
        r#"    - get_url: url="{{{{ base }}}}/files/hello.txt" dest="{{{{ d }}}}/hello.txt" mode=0640
      register: first
    - get_url: url="{{{{ base }}}}/cd/it%27s%20%24x.bin" dest="{{{{ d }}}}"
      register: disposition
    - get_url:
        url: "{{{{ base }}}}/files/hello.txt"
        dest: "{{{{ d }}}}/sum $1.txt"
        checksum: "sha256:{{{{ base }}}}/files/SHA256SUMS"
      register: sums
    - get_url:
        url: "{{{{ base }}}}/auth/hello.txt"
        dest: "{{{{ d }}}}/authed.txt"
        url_username: user
        url_password: "p'a$s w"
        force_basic_auth: true
        checksum: "sha256:{HELLO_SHA256}"
      register: authed
    - get_url: url="{{{{ base }}}}/redirect/hello.txt" dest="{{{{ d }}}}/redirected.txt"
      register: redirected
"#
    );
    std::fs::write(dir.path().join("site.yml"), site(&converge)).expect("write");
    let r = lab.apply_on(dir.path(), "web3", &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(recap(&r, "web3")[..4], [5, 5, 0, 0], "{r:?}");
    let r = lab.apply_on(dir.path(), "web3", &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(recap(&r, "web3")[..4], [5, 0, 0, 0], "second run: {r:?}");
    let ls = lab.ssh(
        "web3",
        "root",
        &format!(
            "cd {} && stat -c '%a %n' * && cat hello.txt \"it's \\$x.bin\"",
            sq(d)
        ),
    );
    assert_eq!(
        ls.stdout,
        "644 authed.txt\n640 hello.txt\n644 it's $x.bin\n644 redirected.txt\n644 sum $1.txt\n\
         hello world\ndisposition body\n",
        "{ls:?}"
    );

    // What each case returns, as Ansible returns it.
    let checks = format!(
        r#"    - file: path="{{{{ d }}}}" state=absent
    - file: path="{{{{ d }}}}" state=directory
{converge}    - get_url: url="{{{{ base }}}}/files/hello.txt" dest="{{{{ d }}}}/hello.txt"
      register: again
    - get_url: url="{{{{ base }}}}/files/hello.txt" dest="{{{{ d }}}}/hello.txt" force=true
      register: forced
    - get_url: url="{{{{ base }}}}/files/hello.txt" dest="{{{{ d }}}}/" checksum="sha256:{HELLO_SHA256}"
      register: in_dir
    - get_url: url="{{{{ base }}}}/files/hello.txt" dest="{{{{ d }}}}/hello.txt" checksum="sha256:{HELLO_SHA256}" mode=0600
      register: attrs_only
    - get_url: url="{{{{ base }}}}/files/hello.txt" dest="{{{{ d }}}}/bad.txt" checksum="sha256:{zero}"
      register: mismatch
      ignore_errors: true
    - get_url: url="{{{{ base }}}}/files/hello.txt" dest="{{{{ d }}}}/x.txt" checksum="sha256:xyz"
      register: badsum
      ignore_errors: true
    - get_url: url="{{{{ base }}}}/status/404" dest="{{{{ d }}}}/404.txt"
      register: missing
      ignore_errors: true
    - get_url: url="{{{{ base }}}}/auth/hello.txt" dest="{{{{ d }}}}/noauth.txt" url_username=user url_password=wrong
      register: noauth
      ignore_errors: true
    - get_url: url="{{{{ base | regex_replace(':[0-9]+$', ':1') }}}}/x" dest="{{{{ d }}}}/refused.txt"
      register: refused
      ignore_errors: true
    - get_url: url="{{{{ base }}}}/files/hello.txt" dest="{{{{ d }}}}/new $n.txt"
      check_mode: true
      register: predicted
    - stat: path="{{{{ d }}}}/new $n.txt"
      register: not_written
    - shell: ls -A "$D" | grep -c hoist-get_url || true
      environment: {{D: "{{{{ d }}}}"}}
      register: leftovers
"#,
        zero = "0".repeat(64),
    );
    let zero = "0".repeat(64);
    let checks = checks + &assert_task(&[
        r#"first.changed and first.msg == 'OK (12 bytes)' and first.status_code == 200"#.to_owned(),
        format!(r#"first.checksum_src == '{HELLO_SHA1}' and first.checksum_dest is none"#),
        format!(r#"first.md5sum == '{HELLO_MD5}' and first.size == 12 and first.mode == '0640'"#),
        r#"first.dest == d ~ '/hello.txt' and first.url == base ~ '/files/hello.txt'"#.to_owned(),
        r#"disposition.dest == d ~ "/it's $x.bin""#.to_owned(),
        r#"authed.changed and authed.dest == d ~ '/authed.txt'"#.to_owned(),
        r#"not again.changed and again.status_code == 304"#.to_owned(),
        r#"again.msg == 'HTTP Error 304: Not Modified'"#.to_owned(),
        r#"not forced.changed and forced.status_code == 200"#.to_owned(),
        format!(r#"forced.checksum_dest == forced.checksum_src == '{HELLO_SHA1}'"#),
        r#"not in_dir.changed and in_dir.dest == d ~ '/hello.txt' and in_dir.msg == 'OK (12 bytes)'"#.to_owned(),
        r#"attrs_only.changed and attrs_only.msg == 'file already exists but file attributes changed'"#.to_owned(),
        r#"attrs_only.checksum_src is none and attrs_only.mode == '0600'"#.to_owned(),
        format!(r#"mismatch.failed and mismatch.checksum_src == '{HELLO_SHA1}'"#),
        format!(r#"mismatch.msg is match('The checksum for .* did not match {zero}; it was {HELLO_SHA256}\.$')"#),
        r#"badsum.msg == 'The checksum format is invalid'"#.to_owned(),
        r#"missing.msg == 'Request failed' and missing.status_code == 404"#.to_owned(),
        r#"missing.response == 'HTTP Error 404: Not Found'"#.to_owned(),
        r#"noauth.status_code == 401 and noauth.response == 'HTTP Error 401: Unauthorized'"#.to_owned(),
        r#"refused.msg == 'Request failed: <urlopen error [Errno 111] Connection refused>'"#.to_owned(),
        r#"predicted.changed and predicted.msg == 'OK (12 bytes)' and predicted.checksum_dest is none"#.to_owned(),
        r#"not not_written.stat.exists"#.to_owned(),
        r#"leftovers.stdout == '0'"#.to_owned(),
    ]);
    std::fs::write(dir.path().join("site.yml"), site(&checks)).expect("write");
    let r = lab.apply_on(dir.path(), "web3", &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(recap(&r, "web3")[3], 0, "{r:?}");
    assert!(
        !without_quoted_source(&r.stdout).contains("p'a$s w"),
        "the password leaked: {r:?}"
    );

    // Check mode through the whole run: nothing is written.
    std::fs::write(
        dir.path().join("site.yml"),
        site(
            "    - get_url: url=\"{{ base }}/files/hello.txt\" dest=\"{{ d }}/checked.txt\"\n      register: c\n    - assert: {that: [c.changed]}\n",
        ),
    )
    .expect("write");
    let r = lab.apply_on(dir.path(), "web3", &["--check"]);
    assert_eq!(r.code, 0, "{r:?}");
    let gone = lab.ssh(
        "web3",
        "root",
        &format!("test -e {}", sq(&format!("{d}/checked.txt"))),
    );
    assert_ne!(gone.code, 0, "check mode wrote the file");
    lab.ssh("web3", "root", &format!("rm -rf {}", sq(d)));
    drop(srv);
}

#[test]
fn uri_requests_from_the_target() {
    let Some(lab) = lab() else { return };
    let srv = start_server(&lab, "app3", "uri");
    let d = "/tmp/hoist-t-uri d'q $x";
    let r = lab.ssh(
        "web3",
        "root",
        &format!("rm -rf {0} && mkdir -p {0}", sq(d)),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let dir = tempfile::tempdir().expect("tempdir");
    let site = format!(
        r#"- hosts: web3
  gather_facts: false
  vars:
    base: "{base}"
    d: "{d}"
  tasks:
    - uri: url="{{{{ base }}}}/files/hello.txt" return_content=true
      register: got
    - uri:
        url: "{{{{ base }}}}/echo"
        method: POST
        body: {{a: 1, b: [x, "y z"], q: "it's $x"}}
        body_format: json
        status_code: [200, 201]
      register: posted
    - uri:
        url: "{{{{ base }}}}/echo/form"
        method: put
        body: {{a: 1, b: [x, "y z"]}}
        body_format: form-urlencoded
        headers: {{X-Thing: "a'b $c"}}
      register: form
    - uri: url="{{{{ base }}}}/status/404" return_content=true
      register: missing
      ignore_errors: true
    - uri: url="{{{{ base }}}}/status/404" status_code=200,404
      register: accepted
    - uri: url="{{{{ base }}}}/redirect/hello.txt"
      register: followed
    - uri: url="{{{{ base }}}}/redirect/hello.txt" follow_redirects=none status_code=302
      register: not_followed
    - uri: url="{{{{ base }}}}/auth/hello.txt" url_username=user url_password="p'a$s w"
      register: challenged
    - uri: url="{{{{ base }}}}/auth/hello.txt" user=user password="p'a$s w" force_basic_auth=true
      register: forced_auth
    - uri: url="{{{{ base | regex_replace(':[0-9]+$', ':1') }}}}/"
      register: refused
      ignore_errors: true
    - uri: url="{{{{ base }}}}/files/hello.txt" dest="{{{{ d }}}}/saved $1.txt" creates="{{{{ d }}}}/saved $1.txt"
      register: saved
"#,
        base = srv.base,
        d = d.replace('\\', "\\\\").replace('"', "\\\"")
    ) + &assert_task(&[
        r#"got.status == 200 and got.content == 'hello world\n' and got.msg == 'OK (12 bytes)'"#.to_owned(),
        r#"got.content_length == '12' and got.content_type == 'application/octet-stream'"#.to_owned(),
        r#"got.last_modified == 'Wed, 01 Jan 2020 00:00:00 GMT'"#.to_owned(),
        r#"not got.redirected and got.url == base ~ '/files/hello.txt' and got.json is undefined"#.to_owned(),
        r#"got.cookies == {} and got.cookies_string == ''"#.to_owned(),
        r#"not got.changed"#.to_owned(),
        r#"posted.json.method == 'POST' and posted.json.content_type == 'application/json'"#.to_owned(),
        r#"posted.json.body == '{"a": 1, "b": ["x", "y z"], "q": "it' ~ "'" ~ 's $x"}'"#.to_owned(),
        r#"posted.x_echo_thing == 'yes' and posted.content is undefined"#.to_owned(),
        r#"posted.cookies == {'sid': 'abc'} and posted.cookies_string == 'sid=abc'"#.to_owned(),
        r#"form.json.method == 'PUT' and form.json.body == 'a=1&b=x&b=y+z'"#.to_owned(),
        r#"form.json.content_type == 'application/x-www-form-urlencoded'"#.to_owned(),
        r#"form.json.headers['x-thing'] == "a'b $c""#.to_owned(),
        r#"missing.failed and missing.status == 404 and missing.content == 'status 404\n'"#.to_owned(),
        r#"missing.msg == 'Status code was 404 and not [200]: HTTP Error 404: Not Found'"#.to_owned(),
        r#"accepted.status == 404 and accepted.msg == 'HTTP Error 404: Not Found'"#.to_owned(),
        r#"followed.redirected and followed.url == base ~ '/files/hello.txt'"#.to_owned(),
        r#"not_followed.status == 302 and not_followed.location == base ~ '/files/hello.txt'"#.to_owned(),
        r#"not_followed.msg == 'HTTP Error 302: Found' and not not_followed.redirected"#.to_owned(),
        r#"challenged.status == 200 and forced_auth.status == 200"#.to_owned(),
        r#"refused.status == -1 and not refused.redirected"#.to_owned(),
        r#"refused.msg == 'Status code was -1 and not [200]: Request failed: <urlopen error [Errno 111] Connection refused>'"#.to_owned(),
    ]);
    std::fs::write(dir.path().join("site.yml"), &site).expect("write");
    let r = lab.apply_on(dir.path(), "web3", &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(recap(&r, "web3")[..4], [12, 1, 0, 0], "{r:?}");
    assert!(
        !without_quoted_source(&r.stdout).contains("p'a$s w"),
        "the password leaked: {r:?}"
    );
    let saved = lab.ssh(
        "web3",
        "root",
        &format!("cat {}", sq(&format!("{d}/saved $1.txt"))),
    );
    assert_eq!(saved.stdout, "hello world\n", "{saved:?}");
    // Second run: `creates` skips the download, nothing else changes.
    let r = lab.apply_on(dir.path(), "web3", &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(recap(&r, "web3")[..4], [12, 0, 0, 0], "second run: {r:?}");
    lab.ssh("web3", "root", &format!("rm -rf {}", sq(d)));
    drop(srv);
}
