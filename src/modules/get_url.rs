//! `get_url`: downloads a file over HTTP(S) or FTP to the target, from the
//! target (its network view, as Ansible's module runs there), as
//! `ansible.builtin.get_url` does: checksums (`<algorithm>:<hex>` or
//! `<algorithm>:<url of a checksum file>`), `force`, `If-Modified-Since`
//! against an existing dest, a dest directory (the name comes from
//! `Content-Disposition` or the URL), backup, and mode/owner/group.
//!
//! The request is made by curl on the target (see [`super::http`]); the body
//! goes to a temporary file next to dest (or in `tmp_dest`), is compared by
//! sha1 with dest and renamed over it, so dest is never half-written.
//! Digests are computed on the target with coreutils (`sha256sum` …).
//! Check mode sends a HEAD request, as Ansible does, and writes nothing.

use async_trait::async_trait;
use minijinja::Value;

use super::command::expand_path;
use super::copy::backup_local;
use super::file::{COMMON, add_path_info, finish};
use super::http::{
    Request, Sink, UrlOpts, atomic_move, dict_pairs, digests, disposition_filename, find_curl,
    mask_url, send, temp_name, url_path, url_scheme,
};
use super::lineinfile::{check_file_attrs, py_dirname};
use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult, ModuleSpec, Outcome,
    Param, ParamType,
};
use crate::connection::FileKind;

pub struct GetUrl;

static PARAMS: [Param; 30] = [
    Param::new("url", ParamType::Str).required(),
    Param::new("dest", ParamType::Path).required(),
    Param::new("tmp_dest", ParamType::Path),
    Param::new("force", ParamType::Bool),
    Param::new("backup", ParamType::Bool),
    Param::new("checksum", ParamType::Str),
    Param::new("use_proxy", ParamType::Bool),
    Param::new("validate_certs", ParamType::Bool),
    Param::new("timeout", ParamType::Int),
    Param::new("headers", ParamType::Dict),
    Param::new("url_username", ParamType::Str).aliases(&["username"]),
    Param::new("url_password", ParamType::Str).aliases(&["password"]),
    Param::new("force_basic_auth", ParamType::Bool),
    Param::new("client_cert", ParamType::Path),
    Param::new("client_key", ParamType::Path),
    Param::new("http_agent", ParamType::Str),
    Param::new("unredirected_headers", ParamType::List),
    Param::new("use_gssapi", ParamType::Bool),
    Param::new("use_netrc", ParamType::Bool),
    Param::new("ciphers", ParamType::List),
    Param::new("decompress", ParamType::Bool),
    COMMON[0],
    COMMON[1],
    COMMON[2],
    COMMON[3],
    COMMON[4],
    COMMON[5],
    COMMON[6],
    COMMON[7],
    COMMON[8],
];

static SPEC: ModuleSpec = ModuleSpec {
    name: "get_url",
    params: &PARAMS,
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Download a file over HTTP, HTTPS or FTP onto the target.",
    check_note: "supported: a HEAD request is sent, as Ansible does, and nothing is written",
    diff: DiffSupport::Partly("changes of the file's mode and owner"),
    notes: &[
        super::http::NOTE_CURL,
        "The body goes to a temporary file next to `dest` (or in `tmp_dest`), is compared by \
         sha1 and renamed over `dest`; an existing `dest` is asked for with \
         `If-Modified-Since`.",
        "Checksums are computed with coreutils on the target: md5, sha1, sha224, sha256, \
         sha384, sha512 and blake2b (not sha3, blake2s or shake).",
        "`unredirected_headers` and `decompress` are accepted and ignored.",
        super::file::NOTE_ATTRS_IGNORED,
    ],
};

/// `url_filename`: the last path component of a URL, as it is (no
/// `%`-decoding), or `index.html`.
fn url_filename(url: &str) -> String {
    let p = url_path(url);
    let base = p.rsplit('/').next().unwrap_or("");
    if base.is_empty() {
        "index.html".into()
    } else {
        base.to_owned()
    }
}

/// `parse_digest_lines`: (digest, file name) pairs of a checksum file, in
/// GNU (`hex  name`, `hex *name`) or BSD (`SHA256 (name) = hex`) format; a
/// file with one word is the digest of `filename`.
fn parse_digest_lines(filename: &str, lines: &[String]) -> Vec<(String, String)> {
    let word = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
    };
    if lines.len() == 1 && lines[0].split_whitespace().count() == 1 {
        return vec![(lines[0].clone(), filename.to_owned())];
    }
    let mut out = Vec::new();
    for line in lines {
        // BSD: `ALGO (path) = digest` (the space before `(` optional).
        if let Some(open) = line.find('(')
            && let Some(close) = line.rfind(") = ").or_else(|| line.rfind(")= "))
            && close > open
            && word(line[..open].trim_end_matches(' '))
            && !line[..open].trim_end_matches(' ').contains(' ')
        {
            let after = &line[close..];
            let digest = after
                .trim_start_matches(')')
                .trim_start()
                .trim_start_matches('=');
            let digest = digest.strip_prefix(' ').unwrap_or(digest);
            let path = &line[open + 1..close];
            if word(digest) && !path.is_empty() {
                out.push((digest.to_owned(), path.to_owned()));
                continue;
            }
        }
        // GNU: `digest<spaces>[*|./|.]path`.
        let Some(end) = line.find(char::is_whitespace) else {
            continue;
        };
        let digest = &line[..end];
        if !word(digest) {
            continue;
        }
        let rest = line[end..].trim_start();
        let rest = rest
            .strip_prefix('*')
            .or_else(|| rest.strip_prefix("./"))
            .or_else(|| rest.strip_prefix('.'))
            .unwrap_or(rest);
        if rest.is_empty() {
            continue;
        }
        out.push((
            digest.to_owned(),
            rest.trim_start_matches(['.', '/']).to_owned(),
        ));
    }
    out
}

/// The result keys every get_url result starts with.
fn base_result(dest: &str, url: &str) -> Outcome {
    Outcome::changed(false)
        .with("checksum_dest", Value::from(()))
        .with("checksum_src", Value::from(()))
        .with("dest", dest)
        .with("elapsed", 0)
        .with("url", mask_url(url))
}

/// A failure keeping the result built so far (plus dest's path info, as
/// `fail_json` adds it).
async fn fail_result(
    ctx: &ModuleCtx<'_>,
    mut out: Outcome,
    msg: impl Into<String>,
) -> ModuleResult {
    out.failed = true;
    out.changed = false;
    out.msg = Some(msg.into());
    finish(add_path_info(ctx, &mut out).await.map(|_| out))
}

async fn exit_result(
    ctx: &ModuleCtx<'_>,
    mut out: Outcome,
    msg: impl Into<String>,
) -> ModuleResult {
    out.msg = Some(msg.into());
    finish(add_path_info(ctx, &mut out).await.map(|_| out))
}

async fn remove_quietly(ctx: &ModuleCtx<'_>, path: &str) {
    if !ctx.check_mode {
        let _ = ctx.conn.remove(path, false).await;
    }
}

#[async_trait]
impl Module for GetUrl {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        let conn = ctx.conn;
        let url = args.str_or("url", "");
        let mut dest = expand_path(conn, &args.str_or("dest", "")).await?;
        let backup = args.bool_or("backup", false);
        let mut force = args.bool_or("force", false);
        let checksum_arg = args.str_or("checksum", "");
        let opts = UrlOpts::from_args(args, 10);
        let headers = args.get("headers").map(dict_pairs).unwrap_or_default();
        let tmp_dest = match args.str("tmp_dest").filter(|t| !t.is_empty()) {
            Some(t) => Some(expand_path(conn, &t).await?),
            None => None,
        };
        let mut result = base_result(&dest, &url);

        let dest_is_dir = conn
            .stat(&dest, true)
            .await?
            .is_some_and(|s| s.kind == FileKind::Directory);
        let mut last_mod_time = None;

        let mut algorithm = String::new();
        let mut checksum = String::new();
        let mut curl = None;
        if !checksum_arg.is_empty() {
            let Some((algo, value)) = checksum_arg.split_once(':') else {
                return fail_result(
                    ctx,
                    result,
                    "The checksum parameter has to be in format <algorithm>:<checksum>",
                )
                .await;
            };
            algorithm = algo.to_owned();
            checksum = value.to_owned();
            if url_scheme(value)
                .is_some_and(|s| matches!(s.as_str(), "http" | "https" | "ftp" | "file"))
            {
                let c = find_curl(ctx, "get_url").await?;
                let checksum_url = value.to_owned();
                let mut req = Request::get(&checksum_url, Sink::Stdout);
                req.headers = headers.clone();
                req.force = force;
                req.read_only = true;
                let resp = send(ctx, &c, &req, &opts).await?;
                curl = Some(c);
                if let Some(done) = request_failed(ctx, &resp, &checksum_url, &dest).await? {
                    return Ok(done);
                }
                let text = String::from_utf8_lossy(&resp.body).replace("\r\n", "\n");
                let lines: Vec<String> = text
                    .replace('\r', "\n")
                    .split_inclusive('\n')
                    .map(|l| l.trim_end_matches('\n').to_owned())
                    .collect();
                let filename = url_filename(&url);
                let map = parse_digest_lines(&filename, &lines);
                match map.into_iter().find(|(_, f)| *f == filename) {
                    Some((d, _)) => checksum = d,
                    None => {
                        return Ok(Outcome::failure(format!(
                            "Unable to find a checksum for file '{filename}' in '{}'",
                            mask_url(&checksum_url)
                        )));
                    }
                }
            }
            // Only word characters count (zero-width spaces and the like go).
            checksum = checksum
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
                .to_lowercase();
            if checksum.is_empty() || !checksum.chars().all(|c| c.is_ascii_hexdigit()) {
                return fail_result(ctx, result, "The checksum format is invalid").await;
            }
        }

        let dest_st = conn.stat(&dest, true).await?;
        if !dest_is_dir && let Some(st) = &dest_st {
            let mut mismatch = false;
            if !force && !checksum.is_empty() {
                let d = digests(ctx, &[(algorithm.as_str(), dest.as_str())]).await?;
                mismatch = d.first().cloned().flatten().as_deref() != Some(checksum.as_str());
            }
            if !force && !checksum.is_empty() && !mismatch {
                let mut changed = false;
                let mut msg = String::new();
                let mut diffs = Vec::new();
                check_file_attrs(ctx, args, &dest, &mut changed, &mut msg, &mut diffs).await?;
                result.changed = changed;
                let msg = if changed {
                    "file already exists but file attributes changed"
                } else {
                    "file already exists"
                };
                return exit_result(ctx, result, msg).await;
            }
            last_mod_time = Some(st.mtime);
            if mismatch {
                force = true;
            }
        }

        // Where the body lands first.
        let tmp_dir = match &tmp_dest {
            Some(t) => {
                match conn.stat(t, true).await? {
                    Some(s) if s.kind == FileKind::Directory => {}
                    Some(_) => {
                        return Ok(Outcome::failure(format!(
                            "{t} is a file but should be a directory."
                        ))
                        .with("elapsed", 0));
                    }
                    None => {
                        return Ok(Outcome::failure(format!("{t} directory does not exist."))
                            .with("elapsed", 0));
                    }
                }
                t.clone()
            }
            None if dest_is_dir => dest.clone(),
            None => {
                let dir = py_dirname(&dest);
                if !dir.is_empty() && conn.stat(&dir, true).await?.is_none() {
                    return fail_result(ctx, result, format!("Destination {dir} does not exist"))
                        .await;
                }
                dir
            }
        };
        let tmpsrc = temp_name(&tmp_dir, "get_url");
        let curl = match curl {
            Some(c) => c,
            None => find_curl(ctx, "get_url").await?,
        };
        let mut req = Request::get(
            &url,
            if ctx.check_mode {
                Sink::Discard
            } else {
                Sink::File(tmpsrc.clone())
            },
        );
        if ctx.check_mode {
            req.method = "HEAD".into();
            req.read_only = true;
        }
        req.headers = headers;
        req.force = force;
        req.last_mod_time = last_mod_time;
        let resp = send(ctx, &curl, &req, &opts).await?;
        if let Some(done) = request_failed(ctx, &resp, &url, &dest).await? {
            remove_quietly(ctx, &tmpsrc).await;
            return Ok(done);
        }
        result.set("elapsed", resp.elapsed);
        result.set("src", tmpsrc.as_str());

        if dest_is_dir {
            let filename = resp
                .header("content-disposition")
                .and_then(disposition_filename)
                .unwrap_or_else(|| url_filename(&resp.url));
            dest = super::file::join(&dest, &filename);
            result.set("dest", dest.as_str());
        }
        let dest_st = conn.stat(&dest, true).await?;

        // One round trip for every digest needed.
        let mut wanted: Vec<(&str, &str)> = Vec::new();
        if !ctx.check_mode {
            wanted.push(("sha1", &tmpsrc));
            wanted.push(("md5", &tmpsrc));
            if !checksum.is_empty() {
                wanted.push((algorithm.as_str(), &tmpsrc));
            }
        }
        if dest_st.is_some() {
            wanted.push(("sha1", &dest));
        }
        let sums = match digests(ctx, &wanted).await {
            Ok(s) => s,
            Err(e) => {
                remove_quietly(ctx, &tmpsrc).await;
                return Err(e);
            }
        };
        let (checksum_src, md5_src, tmp_digest) = if ctx.check_mode {
            // HEAD: an empty body.
            (
                Some("da39a3ee5e6b4b0d3255bfef95601890afd80709".to_owned()),
                None,
                None,
            )
        } else {
            (
                sums.first().cloned().flatten(),
                sums.get(1).cloned().flatten(),
                (!checksum.is_empty())
                    .then(|| sums.get(2).cloned().flatten())
                    .flatten(),
            )
        };
        let checksum_dest = if dest_st.is_some() {
            sums.last().cloned().flatten()
        } else {
            None
        };
        if checksum_src.is_none() {
            return fail_result(ctx, result, format!("Source {tmpsrc} is not readable")).await;
        }
        result.set("checksum_src", Value::from(checksum_src.clone()));
        if dest_st.is_some() {
            result.set("checksum_dest", Value::from(checksum_dest.clone()));
        } else {
            let dir = py_dirname(&dest);
            if !dir.is_empty() && conn.stat(&dir, true).await?.is_none() {
                remove_quietly(ctx, &tmpsrc).await;
                return fail_result(ctx, result, format!("Destination {dir} does not exist")).await;
            }
        }

        if ctx.check_mode {
            result.changed = checksum_src != checksum_dest;
            return exit_result(ctx, result, resp.msg()).await;
        }

        if !checksum.is_empty() {
            let got = tmp_digest.unwrap_or_default();
            if got != checksum {
                remove_quietly(ctx, &tmpsrc).await;
                return fail_result(
                    ctx,
                    result,
                    format!("The checksum for {tmpsrc} did not match {checksum}; it was {got}."),
                )
                .await;
            }
        }

        let mut backup_file = None;
        if checksum_src != checksum_dest {
            if backup && dest_st.is_some() {
                match backup_local(conn, &dest).await {
                    Ok(b) => backup_file = Some(b),
                    Err(e) => {
                        remove_quietly(ctx, &tmpsrc).await;
                        return Err(e);
                    }
                }
            }
            if let Err(e) = atomic_move(ctx, &tmpsrc, &dest, dest_st.as_ref()).await {
                remove_quietly(ctx, &tmpsrc).await;
                let msg = match e {
                    ModuleError::Failed(m) => m,
                    ModuleError::Unreachable(m) => return Err(ModuleError::Unreachable(m)),
                };
                return fail_result(ctx, result, msg).await;
            }
            result.changed = true;
        } else {
            remove_quietly(ctx, &tmpsrc).await;
        }

        let mut changed = result.changed;
        let mut msg = String::new();
        let mut diffs = Vec::new();
        check_file_attrs(ctx, args, &dest, &mut changed, &mut msg, &mut diffs).await?;
        result.changed = changed;
        result.set("md5sum", Value::from(md5_src));
        if let Some(b) = backup_file {
            result.set("backup_file", b);
        }
        // urllib has no status for file: URLs.
        let is_file = url_scheme(&url).is_some_and(|s| s == "file");
        result.set(
            "status_code",
            if is_file {
                Value::from(())
            } else {
                Value::from(resp.status)
            },
        );
        exit_result(ctx, result, resp.msg()).await
    }
}

/// What `url_get` does with a response that is not a 200: a 304 ends the
/// module unchanged, anything else fails it.
async fn request_failed(
    ctx: &ModuleCtx<'_>,
    resp: &super::http::Response,
    url: &str,
    dest: &str,
) -> Result<Option<Outcome>, ModuleError> {
    let base = || {
        Outcome::changed(false)
            .with("url", mask_url(url))
            .with("dest", dest)
    };
    if resp.error.is_none() && resp.status == 304 {
        let mut out = base()
            .with("status_code", 304)
            .with("elapsed", resp.elapsed);
        out.msg = Some(resp.msg());
        add_path_info(ctx, &mut out).await.map_err(stop_err)?;
        return Ok(Some(out));
    }
    if resp.error.is_some() {
        let mut out = base().with("elapsed", resp.elapsed);
        out.failed = true;
        out.msg = Some(resp.msg());
        return Ok(Some(out));
    }
    let ok = resp.status == 200
        || url.starts_with("file:/")
        || (url.starts_with("ftp:/") && resp.msg().starts_with("OK"));
    if !ok {
        let mut out = base()
            .with("status_code", resp.status)
            .with("response", resp.msg())
            .with("elapsed", resp.elapsed);
        out.failed = true;
        out.msg = Some("Request failed".into());
        return Ok(Some(out));
    }
    Ok(None)
}

fn stop_err(s: super::file::Stop) -> ModuleError {
    match finish(Err(s)) {
        Ok(o) => ModuleError::Failed(o.msg.unwrap_or_default()),
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_and_digest_files() {
        assert_eq!(url_filename("http://h/a/it%27s.txt?x=1"), "it%27s.txt");
        assert_eq!(url_filename("http://h/"), "index.html");
        assert_eq!(url_filename("http://h"), "index.html");
        let lines: Vec<String> = [
            "abc123  hello.txt",
            "def456 *./bin/tool",
            "SHA256 (x y.tar.gz) = 0a1b",
            "garbage",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let m = parse_digest_lines("hello.txt", &lines);
        assert_eq!(
            m,
            vec![
                ("abc123".into(), "hello.txt".into()),
                ("def456".into(), "bin/tool".into()),
                ("0a1b".into(), "x y.tar.gz".into()),
            ]
        );
        let one = parse_digest_lines("f.bin", &["cafe".to_owned()]);
        assert_eq!(one, vec![("cafe".into(), "f.bin".into())]);
    }
}
