//! `uri`: an HTTP request from the target, as `ansible.builtin.uri` makes
//! it: method, body (raw, JSON or form-urlencoded), headers, accepted
//! status codes, redirects, basic auth, `return_content`, the response's
//! JSON, `dest` (with `If-Modified-Since` against an existing file),
//! `creates`/`removes`. The response headers come back as lowercase keys
//! with `-` replaced by `_` (`content_type`, `content_length` …).
//!
//! curl runs on the target (see [`super::http`]). The request body and the
//! response body pass through a private `mktemp -d` directory on the target,
//! which is removed afterwards; with `dest` the response lands next to dest
//! and is renamed over it. Like Ansible's, the module has no check mode.

use async_trait::async_trait;
use minijinja::Value;
use minijinja::value::ValueKind;

use super::command::{add_lines, expand_path};
use super::file::{COMMON, add_path_info, finish};
use super::http::{
    Request, Response, Sink, UrlOpts, atomic_move, dict_pairs, digests, disposition_filename,
    find_curl, make_temp_dir, mask_url, parse_content_type, quote_plus, send, temp_name, unquote,
    url_join, url_path, write_body,
};
use super::lineinfile::{check_file_attrs, py_dirname};
use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult, ModuleSpec, Outcome,
    Param, ParamType, is_string,
};
use crate::connection::FileKind;
use crate::template::filters::pyjson::{JsonOptions, dumps, loads};
use crate::template::py_str;

pub struct Uri;

static PARAMS: [Param; 39] = [
    Param::new("url", ParamType::Str).required(),
    Param::new("dest", ParamType::Path),
    Param::new("url_username", ParamType::Str).aliases(&["user"]),
    Param::new("url_password", ParamType::Str).aliases(&["password"]),
    Param::new("body", ParamType::Raw),
    Param::new("body_format", ParamType::Str).choices(&[
        "form-urlencoded",
        "json",
        "raw",
        "form-multipart",
    ]),
    Param::new("src", ParamType::Path),
    Param::new("method", ParamType::Str),
    Param::new("return_content", ParamType::Bool),
    Param::new("follow_redirects", ParamType::Str)
        .choices(&["all", "no", "none", "safe", "urllib2", "yes"]),
    Param::new("creates", ParamType::Path),
    Param::new("removes", ParamType::Path),
    Param::new("status_code", ParamType::List),
    Param::new("timeout", ParamType::Int),
    Param::new("headers", ParamType::Dict),
    Param::new("unix_socket", ParamType::Path),
    Param::new("remote_src", ParamType::Bool),
    Param::new("ca_path", ParamType::Path),
    Param::new("unredirected_headers", ParamType::List),
    Param::new("decompress", ParamType::Bool),
    Param::new("ciphers", ParamType::List),
    Param::new("use_netrc", ParamType::Bool),
    Param::new("force", ParamType::Bool),
    Param::new("http_agent", ParamType::Str),
    Param::new("use_proxy", ParamType::Bool),
    Param::new("validate_certs", ParamType::Bool),
    Param::new("force_basic_auth", ParamType::Bool),
    Param::new("client_cert", ParamType::Path),
    Param::new("client_key", ParamType::Path),
    Param::new("use_gssapi", ParamType::Bool),
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
    name: "uri",
    params: &PARAMS,
    free_form: FreeForm::None,
    mutually_exclusive: &[&["body", "src"]],
    required_one_of: &[],
    check_mode: false,
    controller_only: false,
    summary: "Make an HTTP request from the target and check the response.",
    check_note: "",
    diff: DiffSupport::Partly("changes of the mode and owner of `dest`"),
    notes: &[
        super::http::NOTE_CURL,
        "`body_format: form-multipart` is refused; `unredirected_headers` (curl drops \
         credentials only when the host changes) and `decompress` (of a gzip body that was \
         not asked for) are accepted and ignored.",
        super::file::NOTE_ATTRS_IGNORED,
    ],
};

/// `form_urlencoded`: a dict (or list of pairs) as `k=v&k=v`, list values
/// repeated, `None` values left out.
fn form_urlencoded(body: &Value) -> Result<String, String> {
    let mut pairs: Vec<(String, Value)> = Vec::new();
    match body.kind() {
        ValueKind::Map => {
            for k in body.try_iter().map_err(|e| e.to_string())? {
                let v = body.get_item(&k).map_err(|e| e.to_string())?;
                pairs.push((py_str(&k), v));
            }
        }
        ValueKind::Seq => {
            for item in body.try_iter().map_err(|e| e.to_string())? {
                let parts: Vec<Value> = item
                    .try_iter()
                    .map_err(|_| "cannot form-urlencode body, expect list or dict".to_owned())?
                    .collect();
                let [k, v] = parts.as_slice() else {
                    return Err("too many values to unpack (expected 2)".into());
                };
                pairs.push((py_str(k), v.clone()));
            }
        }
        _ => return Ok(py_str(body)),
    }
    let mut out = Vec::new();
    for (k, v) in pairs {
        let values: Vec<Value> =
            if is_string(&v) || !matches!(v.kind(), ValueKind::Seq | ValueKind::Map) {
                vec![v]
            } else {
                v.try_iter().map(|it| it.collect()).unwrap_or_default()
            };
        for value in values {
            if value.is_none() || value.is_undefined() {
                continue;
            }
            out.push(format!(
                "{}={}",
                quote_plus(&k),
                quote_plus(&py_str(&value))
            ));
        }
    }
    Ok(out.join("&"))
}

/// The status codes `status_code` accepts, as ints.
fn status_codes(args: &Args) -> Result<Vec<i64>, String> {
    let Some(list) = args.list("status_code") else {
        return Ok(vec![200]);
    };
    list.iter()
        .map(|v| {
            if let Ok(n) = i64::try_from(v.clone()) {
                return Ok(n);
            }
            let s = py_str(v);
            s.trim().parse::<i64>().map_err(|_| {
                format!(
                    "Elements value for option 'status_code' is of type {} and we were unable \
                     to convert to int: invalid literal for int() with base 10: '{s}'",
                    if is_string(v) {
                        "<class 'str'>"
                    } else {
                        "<class 'float'>"
                    }
                )
            })
        })
        .collect()
}

fn py_list(codes: &[i64]) -> String {
    let items: Vec<String> = codes.iter().map(i64::to_string).collect();
    format!("[{}]", items.join(", "))
}

struct Prepared {
    body: Option<Vec<u8>>,
    headers: Vec<(String, String)>,
    /// A body file already on the target (`src` with `remote_src`).
    src_file: Option<String>,
}

#[async_trait]
impl Module for Uri {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        let conn = ctx.conn;
        let url = args.str_or("url", "");
        let method = args.str_or("method", "GET").to_uppercase();
        let body_format = args.str_or("body_format", "raw").to_lowercase();
        let status_code = match status_codes(args) {
            Ok(c) => c,
            Err(e) => return Ok(Outcome::failure(e)),
        };
        if method.is_empty() || !method.chars().all(|c| c.is_ascii_uppercase()) {
            return Ok(Outcome::failure(
                "Parameter 'method' needs to be a single word in uppercase, like GET or POST.",
            ));
        }
        let mut headers = args.get("headers").map(dict_pairs).unwrap_or_default();
        let has_ctype = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        let body = args.get("body").cloned();
        let mut prepared = Prepared {
            body: None,
            headers: Vec::new(),
            src_file: None,
        };
        match body_format.as_str() {
            "json" => {
                let text = match &body {
                    Some(b) if is_string(b) => py_str(b),
                    Some(b) => dumps(b, &JsonOptions::default())
                        .map_err(|e| ModuleError::Failed(e.to_string()))?,
                    None => "null".into(),
                };
                prepared.body = Some(text.into_bytes());
                if !has_ctype {
                    headers.push(("Content-Type".into(), "application/json".into()));
                }
            }
            "form-urlencoded" => {
                if let Some(b) = &body {
                    let text = form_urlencoded(b).map_err(|e| {
                        ModuleError::Failed(format!("failed to parse body as form_urlencoded: {e}"))
                    })?;
                    prepared.body = Some(text.into_bytes());
                }
                if !has_ctype {
                    headers.push((
                        "Content-Type".into(),
                        "application/x-www-form-urlencoded".into(),
                    ));
                }
            }
            "form-multipart" => {
                return Ok(Outcome::failure(
                    "body_format form-multipart is not supported by hoist's uri",
                ));
            }
            _ => prepared.body = body.as_ref().map(|b| py_str(b).into_bytes()),
        }
        prepared.headers = headers;

        if let Some(src) = args.str("src").filter(|s| !s.is_empty()) {
            if args.bool_or("remote_src", false) {
                let p = expand_path(conn, &src).await?;
                if conn.stat(&p, true).await?.is_none() {
                    return Ok(Outcome::failure(format!("Unable to open source file {p}"))
                        .with("elapsed", 0));
                }
                prepared.src_file = Some(p);
            } else {
                let found = ctx.env.find_file("files", &src);
                match found.and_then(|f| std::fs::read(f).ok()) {
                    Some(d) => prepared.body = Some(d),
                    None => {
                        return Ok(
                            Outcome::failure(format!("Unable to open source file {src}"))
                                .with("elapsed", 0),
                        );
                    }
                }
            }
        }

        if let Some(creates) = args.str("creates") {
            let p = expand_path(conn, &creates).await?;
            if conn.stat(&p, true).await?.is_some() {
                let mut out =
                    Outcome::changed(false).with("stdout", format!("skipped, since '{p}' exists"));
                add_lines(&mut out);
                return Ok(out);
            }
        }
        if let Some(removes) = args.str("removes") {
            let p = expand_path(conn, &removes).await?;
            if conn.stat(&p, true).await?.is_none() {
                let mut out = Outcome::changed(false)
                    .with("stdout", format!("skipped, since '{p}' does not exist"));
                add_lines(&mut out);
                return Ok(out);
            }
        }

        let curl = find_curl(ctx, "uri").await?;
        let tmp_dir = make_temp_dir(ctx).await?;
        let res = request(
            args,
            ctx,
            &curl,
            &tmp_dir,
            &url,
            &method,
            prepared,
            &status_code,
        )
        .await;
        let _ = conn.remove(&tmp_dir, true).await;
        res
    }
}

#[allow(clippy::too_many_arguments)]
async fn request(
    args: &Args,
    ctx: &ModuleCtx<'_>,
    curl: &str,
    tmp_dir: &str,
    url: &str,
    method: &str,
    prepared: Prepared,
    status_code: &[i64],
) -> ModuleResult {
    let conn = ctx.conn;
    let return_content = args.bool_or("return_content", false);
    let opts = UrlOpts::from_args(args, 30);
    let dest = match args.str("dest").filter(|d| !d.is_empty()) {
        Some(d) => Some(expand_path(conn, &d).await?),
        None => None,
    };
    let dest_st = match &dest {
        Some(d) => conn.stat(d, true).await?,
        None => None,
    };
    let dest_is_dir = dest_st
        .as_ref()
        .is_some_and(|s| s.kind == FileKind::Directory);

    let body_file = match (&prepared.src_file, &prepared.body) {
        (Some(f), _) => Some(f.clone()),
        (None, Some(b)) => {
            let p = format!("{tmp_dir}/body");
            write_body(ctx, &p, b).await?;
            Some(p)
        }
        (None, None) => None,
    };
    // The response goes next to dest (so it can replace it), else to the
    // private directory.
    let out_file = match &dest {
        Some(d) if dest_is_dir => temp_name(d, "uri"),
        Some(d) => temp_name(&py_dirname(d), "uri"),
        None => format!("{tmp_dir}/response"),
    };
    let follow = match args.str_or("follow_redirects", "safe").as_str() {
        "all" | "yes" | "urllib2" => true,
        "safe" => matches!(method, "GET" | "HEAD"),
        _ => false,
    };
    let req = Request {
        url: url.to_owned(),
        method: method.to_owned(),
        headers: prepared.headers,
        body_file,
        follow,
        force: args.bool_or("force", false),
        last_mod_time: dest_st
            .as_ref()
            .filter(|s| s.kind == FileKind::File)
            .map(|s| s.mtime),
        sink: Sink::File(out_file.clone()),
        read_only: false,
    };
    let resp = send(ctx, curl, &req, &opts).await?;
    let res = respond(
        args,
        ctx,
        url,
        &resp,
        &out_file,
        dest,
        status_code,
        return_content,
    )
    .await;
    let _ = conn.remove(&out_file, false).await;
    res
}

#[allow(clippy::too_many_arguments)]
async fn respond(
    args: &Args,
    ctx: &ModuleCtx<'_>,
    url: &str,
    resp: &Response,
    out_file: &str,
    dest: Option<String>,
    status_code: &[i64],
    return_content: bool,
) -> ModuleResult {
    let conn = ctx.conn;
    let masked_url = mask_url(url);
    let got_response = resp.error.is_none();
    let mut dest = dest;
    if got_response
        && let Some(d) = &dest
        && conn
            .stat(d, true)
            .await?
            .is_some_and(|s| s.kind == FileKind::Directory)
    {
        let name = resp
            .header("content-disposition")
            .and_then(disposition_filename)
            .or_else(|| {
                let p = url_path(&resp.url).trim_end_matches('/');
                let base = p.rsplit('/').next().unwrap_or("");
                (!base.is_empty()).then(|| unquote(base))
            })
            .unwrap_or_else(|| "index.html".into());
        dest = Some(super::file::join(d, &name));
    }
    let (_, _, sub_type, _) = if got_response {
        parse_content_type(resp.header("content-type"))
    } else {
        parse_content_type(None)
    };
    let json_like = |s: &str| matches!(s.to_ascii_lowercase().as_str(), "json" | "javascript");
    let maybe_json = got_response
        && match sub_type.split_once('+') {
            Some((_, suffix)) => json_like(suffix),
            None => json_like(&sub_type),
        };
    let in_codes = status_code.contains(&resp.status);
    let maybe_output = maybe_json || return_content || !in_codes;
    let content: Option<Vec<u8>> = if got_response {
        conn.read_file(out_file).await?
    } else {
        None
    };

    let mut data: indexmap::IndexMap<String, Value> = indexmap::IndexMap::new();
    data.insert("redirected".into(), Value::from(resp.url != masked_url));
    let info_body = (!maybe_output).then_some(content.as_deref().unwrap_or_default());
    for (k, v) in resp.info(info_body) {
        data.insert(k, v);
    }
    data.insert("elapsed".into(), Value::from(resp.elapsed));
    let mut changed = false;
    let mut diffs = Vec::new();

    if got_response && let Some(d) = &dest {
        if in_codes && resp.status != 304 {
            let st = conn.stat(d, true).await?;
            let sums = digests(
                ctx,
                &[("sha1", out_file), ("sha1", d.as_str())][..if st.is_some() { 2 } else { 1 }],
            )
            .await?;
            let src_sum = sums.first().cloned().flatten();
            let dest_sum = sums.get(1).cloned().flatten();
            if src_sum != dest_sum
                && let Err(e) = atomic_move(ctx, out_file, d, st.as_ref()).await
            {
                return match e {
                    ModuleError::Failed(m) => {
                        let m = if m.starts_with("failed to copy") {
                            m
                        } else {
                            format!("failed to copy {out_file} to {d}: {m}")
                        };
                        let mut out = Outcome::failure(format!("{m} {}", resp.msg()));
                        out.data = data;
                        Ok(out)
                    }
                    e => Err(e),
                };
            }
            changed = true;
            let mut msg = String::new();
            check_file_attrs(ctx, args, d, &mut changed, &mut msg, &mut diffs).await?;
        }
        data.insert("path".into(), Value::from(d.as_str()));
    }

    // `-` becomes `_` and keys are lowercase, as Ansible's result has them.
    let mut out = Outcome::changed(changed);
    let mut msg = None;
    for (k, v) in data {
        let key = k.replace('-', "_").to_lowercase();
        if key == "msg" {
            msg = Some(py_str(&v));
            continue;
        }
        let v = if key == "location" {
            Value::from(url_join(&masked_url, &py_str(&v)))
        } else {
            v
        };
        out.data.insert(key, v);
    }
    let u_content = maybe_output
        .then(|| String::from_utf8_lossy(content.as_deref().unwrap_or_default()).into_owned());
    if maybe_json
        && let Some(text) = &u_content
        && let Ok(js) = loads(text)
    {
        out.set("json", js);
    }
    let msg = msg.unwrap_or_default();
    if !in_codes {
        out.failed = true;
        out.changed = false;
        out.msg = Some(format!(
            "Status code was {} and not {}: {msg}",
            resp.status,
            py_list(status_code)
        ));
        if return_content {
            out.set("content", Value::from(u_content));
        }
    } else {
        out.msg = Some(msg);
        if return_content {
            out.set("content", Value::from(u_content));
        }
    }
    if out.data.contains_key("path") {
        return finish(add_path_info(ctx, &mut out).await.map(|_| out));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies() {
        let v = loads(r#"{"a": 1, "b": ["x", "y z"], "c": null, "d": true, "e": "1&2"}"#).unwrap();
        assert_eq!(form_urlencoded(&v).unwrap(), "a=1&b=x&b=y+z&d=True&e=1%262");
        assert_eq!(form_urlencoded(&Value::from("k=v")).unwrap(), "k=v");
        assert_eq!(py_list(&[200, 201]), "[200, 201]");
    }
}
