//! `get_url` and `uri` through the local connection, against a tiny HTTP
//! server in a thread of the test (files, a JSON echo, a 404): a checksum
//! download that converges, check mode that writes nothing, names with
//! spaces, quotes and `$`. The lab tests (tests/lab/http.rs) cover the rest
//! over SSH.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

use crate::common::{Project, recap};

/// sha256 of `hello world\n`.
const HELLO_SHA256: &str = "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447";

/// Starts the server; returns its base URL.
fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Ok(clone) = stream.try_clone() else {
                continue;
            };
            let mut reader = BufReader::new(clone);
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let mut words = request_line.split_whitespace();
            let method = words.next().unwrap_or("").to_owned();
            let path = words.next().unwrap_or("").to_owned();
            let (status, ctype, payload) = match path.as_str() {
                "/files/hello.txt" => ("200 OK", "text/plain", b"hello world\n".to_vec()),
                "/echo" => (
                    "200 OK",
                    "application/json",
                    format!("{{\"method\": \"{method}\", \"length\": {}}}", body.len())
                        .into_bytes(),
                ),
                _ => ("404 Not Found", "text/plain", b"nope\n".to_vec()),
            };
            let head = format!(
                "HTTP/1.0 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n",
                payload.len()
            );
            let _ = stream.write_all(head.as_bytes());
            if method != "HEAD" {
                let _ = stream.write_all(&payload);
            }
        }
    });
    format!("http://127.0.0.1:{port}")
}

#[test]
fn get_url_and_uri_converge_locally() {
    let base = serve();
    let p = Project::new();
    let site = format!(
        r#"- hosts: localhost
  gather_facts: false
  vars:
    d: "{{{{ root }}}}/it's $x"
  tasks:
    - file: path="{{{{ d }}}}" state=directory
    - get_url:
        url: "{base}/files/hello.txt"
        dest: "{{{{ d }}}}/a \"b\" $c.txt"
        checksum: "sha256:{HELLO_SHA256}"
        mode: "0640"
      register: dl
    - uri:
        url: "{base}/echo"
        method: POST
        body: {{k: "it's $x"}}
        body_format: json
      register: echo
    - uri: url="{base}/missing"
      register: missing
      ignore_errors: true
    - assert:
        that:
          - echo.json.method == 'POST' and echo.status == 200
          - missing.status == 404
      when: not ansible_check_mode
"#
    );
    p.write("site.yml", &site);
    let file = p.root().join("it's $x").join("a \"b\" $c.txt");

    // Check mode: the download is predicted, nothing is written.
    std::fs::create_dir_all(p.root().join("it's $x")).expect("mkdir");
    let d = p.diff();
    assert_eq!(d.code, 2, "{d:?}");
    assert!(!file.exists(), "check mode wrote {file:?}");

    let a = p.apply();
    assert_eq!(a.code, 0, "{a:?}");
    assert_eq!(recap(&a, "localhost")[..4], [5, 1, 0, 0], "{a:?}");
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        "hello world\n"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o640);

    // A matching checksum skips the request: nothing changes.
    let b = p.apply();
    assert_eq!(b.code, 0, "{b:?}");
    assert_eq!(recap(&b, "localhost")[..4], [5, 0, 0, 0], "{b:?}");
    let d2 = p.diff();
    assert_eq!(d2.code, 0, "{d2:?}");
    let left: Vec<_> = std::fs::read_dir(p.root().join("it's $x"))
        .expect("ls")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left.len(), 1, "temporary files left: {left:?}");
}

#[test]
fn hoist_diff_runs_a_get_with_check_mode_false_and_never_a_post() {
    let base = serve();
    let p = Project::new();
    p.write(
        "site.yml",
        &format!(
            r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: probe
      uri:
        url: {base}/echo
        return_content: true
      check_mode: false
      register: probe
    - name: the probe ran for real
      assert:
        that: probe.json.method == 'GET'
    - name: post
      uri:
        url: {base}/echo
        method: POST
        body: x
      check_mode: false
      register: post
    - name: the post did not run
      assert:
        that: post is skipped
    - name: download
      uri:
        url: {base}/files/hello.txt
        dest: "{{{{ root }}}}/hello.txt"
      check_mode: false
"#
        ),
    );
    let diff = p.hoist("diff", &[]);
    assert_eq!(diff.code, 0, "{diff:?}");
    assert!(
        !p.root().join("hello.txt").exists(),
        "diff wrote a file: {diff:?}"
    );
}
