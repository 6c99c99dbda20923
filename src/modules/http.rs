//! What `get_url` and `uri` share: one HTTP request made on the target, as
//! Ansible makes it there (the target's network view), with `curl` instead
//! of Python's urllib.
//!
//! curl's argv is fixed (`curl -q -K -`); every option, the URL, headers and
//! credentials go to it as a config file on its standard input, so nothing a
//! user controls reaches a command line (where `ps` would show passwords)
//! or a shell. A request body travels as a private temporary file on the
//! target (`data-binary = "@file"`).
//!
//! The response comes back in one of two shapes:
//! - [`Sink::File`] / [`Sink::Discard`]: the body goes to a file (or
//!   nowhere), every response's header block to standard output, followed by
//!   a trailer line with the status code and the effective URL;
//! - [`Sink::Stdout`]: the body on standard output followed by the trailer
//!   (a checksum file, where headers do not matter).
//!
//! [`Response`] then gives what urllib's `fetch_url` puts in its `info`
//! dict: status, reason, lowercase headers, cookies, `msg`.

/// How get_url and uri make their requests (for the module reference).
pub(crate) const NOTE_CURL: &str = "The request is made by `curl` on the target (no Python, no other fallback): its \
     argv is fixed (`curl -q -K -`) and the URL, headers and credentials reach it as a config \
     on its standard input, never on a command line.";

use std::time::Instant;

use indexmap::IndexMap;
use minijinja::Value;

use super::command::exec_error;
use super::sysexec::{find_bin, missing_bin};
use super::{Args, ModuleCtx, ModuleError};
use crate::connection::{ExecRequest, FileAttrs, FileStat};

/// Marks the line curl's `write-out` adds after the output.
const TRAILER: &str = "\n@@hoist-curl@@";

/// The connection options of Ansible's `url_argument_spec`.
#[derive(Clone, Debug, Default)]
pub(crate) struct UrlOpts {
    pub username: Option<String>,
    pub password: Option<String>,
    pub force_basic_auth: bool,
    pub validate_certs: bool,
    pub use_proxy: bool,
    pub http_agent: String,
    pub timeout: i64,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
    pub ca_path: Option<String>,
    pub use_gssapi: bool,
    pub use_netrc: bool,
    pub ciphers: Vec<String>,
    pub unix_socket: Option<String>,
}

impl UrlOpts {
    pub(crate) fn from_args(args: &Args, default_timeout: i64) -> UrlOpts {
        let s = |n: &str| args.str(n).filter(|v| !v.is_empty());
        UrlOpts {
            username: s("url_username"),
            password: args.str("url_password"),
            force_basic_auth: args.bool_or("force_basic_auth", false),
            validate_certs: args.bool_or("validate_certs", true),
            use_proxy: args.bool_or("use_proxy", true),
            http_agent: args.str_or("http_agent", "ansible-httpget"),
            timeout: args.int("timeout").unwrap_or(default_timeout),
            client_cert: s("client_cert"),
            client_key: s("client_key"),
            ca_path: s("ca_path"),
            use_gssapi: args.bool_or("use_gssapi", false),
            use_netrc: args.bool_or("use_netrc", true),
            ciphers: args.str_list("ciphers").unwrap_or_default(),
            unix_socket: s("unix_socket"),
        }
    }
}

/// Where the response body goes.
#[derive(Clone, Debug)]
pub(crate) enum Sink {
    /// Nowhere (a HEAD request).
    Discard,
    /// A file on the target (created by curl with the umask's mode).
    File(String),
    /// Back to hoist, without the headers.
    Stdout,
}

#[derive(Clone, Debug)]
pub(crate) struct Request {
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    /// A file on the target holding the request body.
    pub body_file: Option<String>,
    pub follow: bool,
    /// `force`: ask caches for a fresh copy.
    pub force: bool,
    /// Sends `If-Modified-Since` (seconds since the epoch).
    pub last_mod_time: Option<f64>,
    pub sink: Sink,
    /// The request changes nothing on the target (check mode's HEAD).
    pub read_only: bool,
}

impl Request {
    pub(crate) fn get(url: &str, sink: Sink) -> Request {
        Request {
            url: url.to_owned(),
            method: "GET".into(),
            headers: Vec::new(),
            body_file: None,
            follow: true,
            force: false,
            last_mod_time: None,
            sink,
            read_only: false,
        }
    }
}

/// What came back, in the terms of urllib's `fetch_url`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Response {
    /// The final response's status; -1 when there was none.
    pub status: i64,
    pub reason: String,
    /// The final response's headers, names lowercased, repeated ones joined
    /// with `, ` (as `fetch_url` does).
    pub headers: IndexMap<String, String>,
    /// Every `Set-Cookie` value of the final response.
    pub set_cookies: Vec<String>,
    /// The effective URL (after redirects), masked.
    pub url: String,
    /// The body, with [`Sink::Stdout`].
    pub body: Vec<u8>,
    /// Why there is no response (`Request failed: …`).
    pub error: Option<String>,
    /// Whole seconds the request took.
    pub elapsed: u64,
}

impl Response {
    /// Whether urllib would have raised `HTTPError` (anything but 2xx).
    pub(crate) fn is_http_error(&self) -> bool {
        self.error.is_none() && !(200..300).contains(&self.status)
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// `info['msg']`.
    pub(crate) fn msg(&self) -> String {
        if let Some(e) = &self.error {
            e.clone()
        } else if self.is_http_error() {
            format!("HTTP Error {}: {}", self.status, self.reason)
        } else {
            format!(
                "OK ({} bytes)",
                self.header("content-length").unwrap_or("unknown")
            )
        }
    }

    /// `fetch_url`'s `info` dict: url, status, the headers, cookies, msg
    /// (and `body` for an HTTP error, when the caller has not taken it as
    /// the content).
    pub(crate) fn info(&self, body: Option<&[u8]>) -> IndexMap<String, Value> {
        let mut info = IndexMap::new();
        info.insert("url".to_owned(), Value::from(self.url.as_str()));
        info.insert("status".to_owned(), Value::from(self.status));
        if self.error.is_some() {
            info.insert("msg".to_owned(), Value::from(self.msg()));
            return info;
        }
        for (k, v) in &self.headers {
            info.insert(k.clone(), Value::from(v.as_str()));
        }
        if self.is_http_error() {
            info.insert("msg".to_owned(), Value::from(self.msg()));
            if let Some(body) = body {
                let body = String::from_utf8_lossy(body).into_owned();
                info.insert("body".to_owned(), Value::from(body));
            }
        } else {
            let cookies: Vec<(String, String)> = self
                .set_cookies
                .iter()
                .filter_map(|c| cookie_pair(c))
                .collect();
            let string = cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            info.insert("cookies_string".to_owned(), Value::from(string));
            let map: IndexMap<String, Value> = cookies
                .into_iter()
                .map(|(k, v)| (k, Value::from(v)))
                .collect();
            info.insert("cookies".to_owned(), crate::template::vmap(map));
            info.insert("msg".to_owned(), Value::from(self.msg()));
        }
        info
    }
}

/// `name=value` of a `Set-Cookie` header.
fn cookie_pair(c: &str) -> Option<(String, String)> {
    let first = c.split(';').next()?;
    let (k, v) = first.split_once('=')?;
    let k = k.trim();
    if k.is_empty() {
        return None;
    }
    Some((k.to_owned(), v.trim().to_owned()))
}

/// A `headers:` dict as (name, value) pairs.
pub(crate) fn dict_pairs(v: &Value) -> Vec<(String, String)> {
    let Ok(keys) = v.try_iter() else {
        return Vec::new();
    };
    keys.filter_map(|k| {
        let val = v.get_item(&k).ok()?;
        Some((crate::template::py_str(&k), crate::template::py_str(&val)))
    })
    .collect()
}

/// A value in curl's config syntax: double-quoted, with its escapes.
fn cq(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `Tue, 24 Nov 2026 05:02:38 GMT` (as urllib sends `If-Modified-Since`).
pub(crate) fn http_date(secs: f64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = secs.floor() as i64;
    let days = t.div_euclid(86_400);
    let (y, m, d) = super::copy::civil_from_days(days);
    let s = t.rem_euclid(86_400);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m as usize).saturating_sub(1) % 12],
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

/// The config curl reads from its standard input for one request.
pub(crate) fn curl_config(req: &Request, o: &UrlOpts) -> String {
    let mut c: Vec<String> = vec![
        format!("url = {}", cq(&req.url)),
        "silent".into(),
        "show-error".into(),
        format!("user-agent = {}", cq(&o.http_agent)),
        // urllib never sends `Expect: 100-continue`.
        format!("header = {}", cq("Expect:")),
    ];
    if o.timeout > 0 {
        // A socket timeout: connecting, and no byte for that long.
        c.push(format!("connect-timeout = {}", o.timeout));
        c.push("speed-limit = 1".into());
        c.push(format!("speed-time = {}", o.timeout));
    }
    if req.follow {
        c.push("location".into());
        // urllib's HTTPRedirectHandler.max_redirections
        c.push("max-redirs = 10".into());
    }
    let has_body = req.body_file.is_some();
    match req.method.as_str() {
        "HEAD" => c.push("head".into()),
        "GET" if !has_body => {}
        // curl infers POST from the body and, like urllib, turns it into a
        // GET on a 301/302/303 redirect; an explicit `request` would stick.
        "POST" if has_body => {}
        m => c.push(format!("request = {}", cq(m))),
    }
    if let Some(f) = &req.body_file {
        c.push(format!("data-binary = {}", cq(&format!("@{f}"))));
    }
    for (k, v) in &req.headers {
        c.push(format!("header = {}", cq(&format!("{k}: {v}"))));
    }
    // urllib sends one or the other.
    if req.force {
        c.push(format!("header = {}", cq("Cache-Control: no-cache")));
    } else if let Some(t) = req.last_mod_time {
        c.push(format!("time-cond = {}", cq(&http_date(t))));
    }
    if o.use_gssapi {
        c.push("negotiate".into());
        c.push(format!("user = {}", cq(":")));
    } else if let Some(u) = &o.username {
        let p = o.password.as_deref().unwrap_or("");
        c.push(format!("user = {}", cq(&format!("{u}:{p}"))));
        // Without force_basic_auth urllib answers a 401 challenge; with it,
        // the first request carries the credentials.
        c.push(
            if o.force_basic_auth {
                "basic"
            } else {
                "anyauth"
            }
            .into(),
        );
    } else if o.use_netrc {
        c.push("netrc-optional".into());
    }
    if !o.validate_certs {
        c.push("insecure".into());
    }
    if let Some(p) = &o.ca_path {
        c.push(format!("cacert = {}", cq(p)));
    }
    if let Some(p) = &o.client_cert {
        c.push(format!("cert = {}", cq(p)));
    }
    if let Some(p) = &o.client_key {
        c.push(format!("key = {}", cq(p)));
    }
    if !o.ciphers.is_empty() {
        c.push(format!("ciphers = {}", cq(&o.ciphers.join(":"))));
    }
    if let Some(p) = &o.unix_socket {
        c.push(format!("unix-socket = {}", cq(p)));
    }
    if !o.use_proxy {
        c.push(format!("noproxy = {}", cq("*")));
    }
    match &req.sink {
        Sink::Discard => {
            c.push(format!("output = {}", cq("/dev/null")));
            c.push(format!("dump-header = {}", cq("-")));
        }
        Sink::File(p) => {
            c.push(format!("output = {}", cq(p)));
            c.push(format!("dump-header = {}", cq("-")));
        }
        Sink::Stdout => {}
    }
    c.push(format!(
        "write-out = {}",
        cq(&format!("{TRAILER}%{{http_code}} %{{url_effective}}"))
    ));
    let mut text = c.join("\n");
    text.push('\n');
    text
}

/// Finds curl on the target, or says which module needs it.
pub(crate) async fn find_curl(ctx: &ModuleCtx<'_>, module: &str) -> Result<String, ModuleError> {
    find_bin(ctx, "curl").await?.ok_or_else(|| {
        ModuleError::Failed(format!(
            "{module} needs curl on the target: {}",
            missing_bin("curl")
        ))
    })
}

/// `mask_url`: credentials in the URL shown as `****`.
pub(crate) fn mask_url(url: &str) -> String {
    let Some(i) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[i + 3..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let netloc = &rest[..end];
    let Some(at) = netloc.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &netloc[..at];
    let masked = if userinfo.contains(':') {
        "****:****"
    } else {
        "****"
    };
    format!("{}{masked}{}", &url[..i + 3], &rest[at..])
}

/// The path part of a URL (no query or fragment).
pub(crate) fn url_path(url: &str) -> &str {
    let rest = match url.find("://") {
        Some(i) => {
            let r = &url[i + 3..];
            match r.find('/') {
                Some(j) => &r[j..],
                None => "",
            }
        }
        None => url,
    };
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    &rest[..end]
}

/// The scheme of a URL, lowercased (`urlsplit(u).scheme`).
pub(crate) fn url_scheme(url: &str) -> Option<String> {
    let (s, _) = url.split_once(':')?;
    let mut chars = s.chars();
    let first = chars.next()?;
    if first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        Some(s.to_ascii_lowercase())
    } else {
        None
    }
}

/// `urljoin(base, location)` for the forms servers send.
pub(crate) fn url_join(base: &str, loc: &str) -> String {
    if url_scheme(loc).is_some() {
        return loc.to_owned();
    }
    let Some(i) = base.find("://") else {
        return loc.to_owned();
    };
    let scheme = &base[..i];
    let rest = &base[i + 3..];
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let origin = &base[..i + 3 + host_end];
    if let Some(l) = loc.strip_prefix("//") {
        return format!("{scheme}://{l}");
    }
    if loc.starts_with('/') {
        return format!("{origin}{loc}");
    }
    if loc.is_empty() {
        return base.to_owned();
    }
    let path = url_path(base);
    let dir = match path.rfind('/') {
        Some(j) => &path[..=j],
        None => "/",
    };
    format!("{origin}{dir}{loc}")
}

/// `%XX` decoding (`urllib.parse.unquote`).
pub(crate) fn unquote(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex_val(b[i + 1]), hex_val(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// `quote_plus` for form bodies (`urlencode`).
pub(crate) fn quote_plus(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The `filename` parameter of a `Content-Disposition` header (RFC 2231
/// `filename*=charset''…` too), reduced to its base name.
pub(crate) fn disposition_filename(header: &str) -> Option<String> {
    let mut plain = None;
    let mut extended = None;
    for part in split_params(header).into_iter().skip(1) {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        let k = k.trim().to_ascii_lowercase();
        let v = v.trim();
        if k == "filename" {
            plain = Some(unquote_param(v));
        } else if k == "filename*" {
            let v = unquote_param(v);
            let value = match v.splitn(3, '\'').collect::<Vec<_>>().as_slice() {
                [_, _, rest] => unquote(rest),
                _ => v.clone(),
            };
            extended = Some(value);
        }
    }
    let name = extended.or(plain)?;
    let base = name.rsplit('/').next().unwrap_or("").to_owned();
    (!base.is_empty()).then_some(base)
}

/// Splits a header on `;` outside double quotes.
fn split_params(h: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut esc = false;
    for c in h.chars() {
        if esc {
            cur.push(c);
            esc = false;
            continue;
        }
        match c {
            '\\' if quoted => {
                cur.push(c);
                esc = true;
            }
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ';' if !quoted => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    parts.push(cur);
    parts
}

fn unquote_param(v: &str) -> String {
    let v = v.trim();
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        let inner = &v[1..v.len() - 1];
        let mut out = String::new();
        let mut esc = false;
        for c in inner.chars() {
            if esc {
                out.push(c);
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else {
                out.push(c);
            }
        }
        out
    } else {
        v.to_owned()
    }
}

/// `parse_content_type`: (content type, main type, sub type, charset).
pub(crate) fn parse_content_type(header: Option<&str>) -> (String, String, String, String) {
    let h = header.unwrap_or("");
    let parts = split_params(h);
    let mut ctype = parts
        .first()
        .map(|p| p.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if ctype.matches('/').count() != 1 {
        // email.message's get_content_type falls back to text/plain.
        ctype = if h.trim().is_empty() {
            "application/octet-stream".into()
        } else {
            "text/plain".into()
        };
    }
    let ctype = ctype.split(',').next().unwrap_or("").to_owned();
    let (main, sub) = ctype
        .split_once('/')
        .unwrap_or(("application", "octet-stream"));
    let charset = parts
        .iter()
        .skip(1)
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
        .map(|(_, v)| unquote_param(v))
        .unwrap_or_else(|| "utf-8".into());
    let charset = charset.split(',').next().unwrap_or("utf-8").to_owned();
    (ctype.clone(), main.to_owned(), sub.to_owned(), charset)
}

/// Reason phrases for statuses whose line has none (HTTP/2).
fn reason_for(status: i64) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        412 => "Precondition Failed",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// The final response's status line and headers from curl's header dump
/// (one block per response: redirects, auth challenges, `100 Continue`).
fn parse_header_dump(text: &str, resp: &mut Response) {
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        if blocks.is_empty() && !line.is_empty() && !line.starts_with("HTTP/") {
            // file: and ftp: transfers: headers without a status line.
            blocks.push(vec!["HTTP/1.0 -1 ", line]);
        } else if line.starts_with("HTTP/") {
            blocks.push(vec![line]);
        } else if !line.is_empty()
            && let Some(b) = blocks.last_mut()
        {
            b.push(line);
        }
    }
    let last = blocks.iter().rev().find(|b| {
        let code = b[0].split_whitespace().nth(1).unwrap_or("");
        !code.starts_with('1')
    });
    let Some(block) = last else { return };
    let mut words = block[0].splitn(3, ' ');
    words.next();
    if let Some(code) = words.next().and_then(|c| c.parse::<i64>().ok())
        && code >= 0
    {
        resp.status = code;
    }
    resp.reason = words.next().unwrap_or("").trim().to_owned();
    for line in &block[1..] {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let k = k.trim().to_ascii_lowercase();
        let v = v.trim().to_owned();
        if k == "set-cookie" {
            resp.set_cookies.push(v.clone());
        }
        match resp.headers.get_mut(&k) {
            Some(old) => {
                old.push_str(", ");
                old.push_str(&v);
            }
            None => {
                resp.headers.insert(k, v);
            }
        }
    }
}

/// The `Request failed: …` text for a curl failure, in urllib's words
/// where there is an equivalent.
fn curl_error(rc: i32, stderr: &str) -> String {
    let text = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("curl: ("))
        .map(|l| match l.find(") ") {
            Some(i) => l[i + 2..].to_owned(),
            None => l.to_owned(),
        })
        .unwrap_or_else(|| stderr.trim().to_owned());
    match rc {
        7 if text.contains("refused") || text.contains("Couldn't connect") => {
            "Request failed: <urlopen error [Errno 111] Connection refused>".into()
        }
        6 => "Request failed: <urlopen error [Errno -2] Name or service not known>".into(),
        28 => "Request failed: <urlopen error timed out>".into(),
        _ => format!("Request failed: <urlopen error {text}>"),
    }
}

/// Makes one request on the target with curl at `curl`.
pub(crate) async fn send(
    ctx: &ModuleCtx<'_>,
    curl: &str,
    req: &Request,
    opts: &UrlOpts,
) -> Result<Response, ModuleError> {
    let config = curl_config(req, opts);
    let argv = vec![curl.to_owned(), "-q".into(), "-K".into(), "-".into()];
    let mut er = ExecRequest::argv(argv.clone());
    er.stdin = Some(config.into_bytes());
    er.read_only = req.read_only;
    let start = Instant::now();
    let out = match ctx.conn.exec(&er).await {
        Ok(o) => o,
        Err(e) => {
            let (_, msg) = exec_error(&e, &argv)?;
            return Err(ModuleError::Failed(msg));
        }
    };
    let mut resp = Response {
        status: -1,
        url: mask_url(&req.url),
        elapsed: start.elapsed().as_secs(),
        ..Response::default()
    };
    let stdout = out.stdout;
    let (head, trailer) = match find_last(&stdout, TRAILER.as_bytes()) {
        Some(i) => (&stdout[..i], &stdout[i + TRAILER.len()..]),
        None => (&stdout[..], &[][..]),
    };
    let trailer = String::from_utf8_lossy(trailer).into_owned();
    let (code, eff) = trailer.split_once(' ').unwrap_or((trailer.as_str(), ""));
    if !eff.trim().is_empty() {
        resp.url = mask_url(eff.trim_end_matches(['\n', '\r']));
    }
    if out.rc != 0 {
        resp.error = Some(curl_error(out.rc, &String::from_utf8_lossy(&out.stderr)));
        resp.url = mask_url(&req.url);
        return Ok(resp);
    }
    match req.sink {
        Sink::Stdout => {
            resp.body = head.to_vec();
        }
        _ => parse_header_dump(&String::from_utf8_lossy(head), &mut resp),
    }
    if resp.status < 0 {
        let http = url_scheme(&req.url).is_some_and(|s| s.starts_with("http"));
        match code.trim().parse::<i64>() {
            Ok(c) if c > 0 => resp.status = c,
            // file: and ftp: URLs have no HTTP status; a transfer that
            // worked is urllib's 200.
            _ if !http => resp.status = 200,
            _ => {
                resp.error = Some("Request failed: <urlopen error no response>".into());
                return Ok(resp);
            }
        }
    }
    if resp.reason.is_empty() {
        resp.reason = reason_for(resp.status).to_owned();
    }
    Ok(resp)
}

fn find_last(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() > hay.len() {
        return None;
    }
    (0..=hay.len() - needle.len())
        .rev()
        .find(|&i| &hay[i..i + needle.len()] == needle)
}

/// A name for a temporary file in `dir` on the target.
pub(crate) fn temp_name(dir: &str, module: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let name = format!(".hoist-{module}-{}-{n}-{nanos}.tmp", std::process::id());
    if dir.is_empty() {
        name
    } else {
        format!("{}/{name}", dir.trim_end_matches('/'))
    }
}

/// `atomic_move`: the new file takes an existing dest's mode and owner,
/// then replaces it in one rename (a copy next to dest first when `tmp`
/// is on another filesystem).
pub(crate) async fn atomic_move(
    ctx: &ModuleCtx<'_>,
    tmp: &str,
    dest: &str,
    dest_st: Option<&FileStat>,
) -> Result<(), ModuleError> {
    let conn = ctx.conn;
    let take_attrs = |path: String| async move {
        if let Some(st) = dest_st {
            // Ansible ignores EPERM here (an unprivileged user keeps its own).
            let _ = conn
                .chown(
                    &path,
                    Some(&st.uid.to_string()),
                    Some(&st.gid.to_string()),
                    false,
                )
                .await;
            conn.chmod(&path, st.mode & 0o7777).await?;
        }
        Ok::<(), ModuleError>(())
    };
    take_attrs(tmp.to_owned()).await?;
    if conn.rename(tmp, dest).await.is_ok() {
        return Ok(());
    }
    // Another filesystem (tmp_dest): a copy next to dest, then the rename.
    let near = temp_name(&super::lineinfile::py_dirname(dest), "move");
    let argv = vec!["cp".to_owned(), "--".into(), tmp.to_owned(), near.clone()];
    let out = conn.exec(&ExecRequest::argv(argv)).await?;
    let result = async {
        if out.rc != 0 {
            return Err(ModuleError::Failed(format!(
                "failed to copy {tmp} to {dest}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        take_attrs(near.clone()).await?;
        conn.rename(&near, dest)
            .await
            .map_err(|e| ModuleError::Failed(format!("failed to copy {tmp} to {dest}: {e}")))
    }
    .await;
    if result.is_err() {
        let _ = conn.remove(&near, false).await;
    }
    let _ = conn.remove(tmp, false).await;
    result
}

/// A private temporary directory on the target (`mktemp -d`).
pub(crate) async fn make_temp_dir(ctx: &ModuleCtx<'_>) -> Result<String, ModuleError> {
    let argv = ["mktemp", "-d"];
    match ctx.conn.exec(&ExecRequest::argv(argv)).await {
        Ok(o) if o.rc == 0 => {
            let d = String::from_utf8_lossy(&o.stdout).trim().to_owned();
            if d.is_empty() {
                Err(ModuleError::Failed("mktemp -d printed no name".into()))
            } else {
                Ok(d)
            }
        }
        Ok(o) => Err(ModuleError::Failed(format!(
            "could not make a temporary directory: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ))),
        Err(e) => {
            let argv: Vec<String> = argv.iter().map(|s| (*s).to_owned()).collect();
            let (_, msg) = exec_error(&e, &argv)?;
            Err(ModuleError::Failed(msg))
        }
    }
}

/// Writes a request body to a private file on the target.
pub(crate) async fn write_body(
    ctx: &ModuleCtx<'_>,
    path: &str,
    data: &[u8],
) -> Result<(), ModuleError> {
    let attrs = FileAttrs {
        mode: Some(0o600),
        ..FileAttrs::default()
    };
    ctx.conn.write_file(path, data, &attrs).await?;
    Ok(())
}

/// The hash algorithms `digest_from_file` knows (hashlib's guaranteed set).
pub(crate) const ALGORITHMS: &[&str] = &[
    "sha384",
    "blake2b",
    "sha3_224",
    "sha3_384",
    "md5",
    "sha3_256",
    "sha256",
    "shake_256",
    "sha1",
    "blake2s",
    "sha512",
    "sha3_512",
    "sha224",
    "shake_128",
];

/// The coreutils program computing an algorithm's digest.
fn digest_tool(algo: &str) -> Option<&'static str> {
    Some(match algo {
        "md5" => "md5sum",
        "sha1" => "sha1sum",
        "sha224" => "sha224sum",
        "sha256" => "sha256sum",
        "sha384" => "sha384sum",
        "sha512" => "sha512sum",
        "blake2b" => "b2sum",
        _ => return None,
    })
}

/// Ansible's message for an algorithm it does not know.
pub(crate) fn unknown_algorithm(path: &str, algo: &str) -> String {
    format!(
        "Could not hash file '{path}' with algorithm '{algo}'. Available algorithms: {}",
        ALGORITHMS.join(", ")
    )
}

/// Hex digests of files on the target, one `(algorithm, path)` each (the
/// lowercase algorithm names of hashlib); `None` for a file that cannot be
/// read. One command computes them all. While check mode predicts, files are
/// read through the overlay and hashed here.
pub(crate) async fn digests(
    ctx: &ModuleCtx<'_>,
    wanted: &[(&str, &str)],
) -> Result<Vec<Option<String>>, ModuleError> {
    for (algo, path) in wanted {
        if !ALGORITHMS.contains(algo) {
            return Err(ModuleError::Failed(unknown_algorithm(path, algo)));
        }
        if digest_tool(algo).is_none() {
            return Err(ModuleError::Failed(format!(
                "Could not hash file '{path}' with algorithm '{algo}': hoist computes md5, sha1, \
                 sha224, sha256, sha384, sha512 and blake2b digests"
            )));
        }
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    if ctx.predict {
        let mut out = Vec::new();
        for (algo, path) in wanted {
            let data = ctx.conn.read_file(path).await?;
            out.push(match data {
                Some(d) => local_digest(algo, &d),
                None => None,
            });
        }
        if out.iter().all(Option::is_some) || !wanted.iter().any(|(a, _)| *a == "blake2b") {
            return Ok(out);
        }
    }
    // `tool -- path` per pair; a file it cannot read prints `-`.
    let script = "while [ $# -gt 1 ]; do \"$1\" -- \"$2\" 2>/dev/null || echo -; shift 2; done";
    let mut argv: Vec<String> = vec!["sh".into(), "-c".into(), script.into(), "sh".into()];
    for (algo, path) in wanted {
        argv.push(digest_tool(algo).unwrap_or("false").to_owned());
        argv.push((*path).to_owned());
    }
    let out = match ctx
        .conn
        .exec(&ExecRequest::argv(argv.clone()).read_only())
        .await
    {
        Ok(o) => o,
        Err(e) => {
            let (_, msg) = exec_error(&e, &argv)?;
            return Err(ModuleError::Failed(msg));
        }
    };
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut res = Vec::new();
    for line in text.lines().take(wanted.len()) {
        // Names with backslashes or newlines make the tool start the line
        // with a backslash.
        let line = line.strip_prefix('\\').unwrap_or(line);
        let hex = line.split_whitespace().next().unwrap_or("-");
        res.push((hex != "-" && !hex.is_empty()).then(|| hex.to_ascii_lowercase()));
    }
    res.resize(wanted.len(), None);
    Ok(res)
}

fn local_digest(algo: &str, data: &[u8]) -> Option<String> {
    use sha2::Digest;
    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
    Some(match algo {
        "md5" => hex(&md5::Md5::digest(data)),
        "sha1" => hex(&sha1::Sha1::digest(data)),
        "sha224" => hex(&sha2::Sha224::digest(data)),
        "sha256" => hex(&sha2::Sha256::digest(data)),
        "sha384" => hex(&sha2::Sha384::digest(data)),
        "sha512" => hex(&sha2::Sha512::digest(data)),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_quotes_and_never_leaks_into_argv() {
        let mut req = Request::get("http://h/a b\"c", Sink::File("/t/x $y".into()));
        req.headers.push(("X-A".into(), "a'b \\ $c".into()));
        let o = UrlOpts {
            username: Some("u".into()),
            password: Some("p\"w".into()),
            http_agent: "ansible-httpget".into(),
            timeout: 10,
            validate_certs: true,
            use_proxy: true,
            ..UrlOpts::default()
        };
        let c = curl_config(&req, &o);
        assert!(c.contains("url = \"http://h/a b\\\"c\"\n"), "{c}");
        assert!(c.contains("header = \"X-A: a'b \\\\ $c\"\n"), "{c}");
        assert!(c.contains("user = \"u:p\\\"w\"\nanyauth\n"), "{c}");
        assert!(c.contains("output = \"/t/x $y\"\n"), "{c}");
    }

    #[test]
    fn header_dump_takes_the_final_response() {
        let mut r = Response::default();
        parse_header_dump(
            "HTTP/1.0 302 Found\r\nLocation: /x\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n\
             HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1; Path=/\r\n\
             X-Dup: 1\r\nx-dup: 2\r\n\r\n",
            &mut r,
        );
        assert_eq!(r.status, 200);
        assert_eq!(r.reason, "OK");
        assert_eq!(r.header("x-dup"), Some("1, 2"));
        assert_eq!(r.set_cookies, vec!["a=1; Path=/".to_owned()]);
        assert_eq!(r.msg(), "OK (unknown bytes)");
    }

    #[test]
    fn urls_and_names() {
        assert_eq!(mask_url("http://u:p@h/x"), "http://****:****@h/x");
        assert_eq!(mask_url("http://h/x@y"), "http://h/x@y");
        assert_eq!(url_join("http://h:1/a/b?q", "/c"), "http://h:1/c");
        assert_eq!(url_join("http://h/a/b", "c"), "http://h/a/c");
        assert_eq!(url_path("http://h/a/b%20c?x=1"), "/a/b%20c");
        assert_eq!(unquote("it%27s%20%24x"), "it's $x");
        assert_eq!(unquote("100%"), "100%");
        assert_eq!(quote_plus("y z&a=1"), "y+z%26a%3D1");
        assert_eq!(
            disposition_filename("attachment; filename=\"../a b;c.txt\""),
            Some("a b;c.txt".into())
        );
        assert_eq!(
            disposition_filename("attachment; filename*=UTF-8''x%20y.bin"),
            Some("x y.bin".into())
        );
        assert_eq!(disposition_filename("inline"), None);
        assert_eq!(http_date(0.0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(1_795_496_558.0), "Tue, 24 Nov 2026 05:02:38 GMT");
        let (t, _, sub, cs) = parse_content_type(Some("Application/JSON; charset=\"latin-1\""));
        assert_eq!(
            (t.as_str(), sub.as_str(), cs.as_str()),
            ("application/json", "json", "latin-1")
        );
    }
}
