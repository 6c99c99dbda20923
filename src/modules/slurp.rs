//! `slurp`: a file's content from the target, base64-encoded.

use async_trait::async_trait;
use base64::Engine;

use super::command::expand_path;
use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult, ModuleSpec, Outcome,
    Param, ParamType,
};
use crate::connection::{Connection, FileKind};

pub struct Slurp;

static SPEC: ModuleSpec = ModuleSpec {
    name: "slurp",
    params: &[Param::new("src", ParamType::Path)
        .required()
        .aliases(&["path"])],
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Read a file from the target, base64-encoded.",
    check_note: "",
    diff: DiffSupport::No,
    notes: &[],
};

/// Reads a whole file as slurp does, with slurp's messages for a missing,
/// unreadable or directory source.
pub(crate) async fn slurp(conn: &dyn Connection, src: &str) -> Result<Vec<u8>, ModuleError> {
    if let Some(st) = conn.stat(src, true).await?
        && st.kind == FileKind::Directory
    {
        return Err(ModuleError::Failed(format!(
            "Source is a directory and must be a file: {src}"
        )));
    }
    match conn.read_file(src).await {
        Ok(Some(data)) => Ok(data),
        Ok(None) => Err(ModuleError::Failed(format!("File not found: {src}"))),
        Err(e) if e.kind == crate::connection::ConnErrorKind::Unreachable => Err(e.into()),
        Err(e) => {
            let lower = e.msg.to_ascii_lowercase();
            if lower.contains("permission denied") || lower.contains("not permitted") {
                Err(ModuleError::Failed(format!("File is not readable: {src}")))
            } else if lower.contains("no such file") {
                Err(ModuleError::Failed(format!("File not found: {src}")))
            } else {
                Err(ModuleError::Failed(format!("Unable to slurp file: {src}")))
            }
        }
    }
}

#[async_trait]
impl Module for Slurp {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        let src = expand_path(ctx.conn, &args.str_or("src", "")).await?;
        let data = slurp(ctx.conn, &src).await?;
        Ok(Outcome::changed(false)
            .with(
                "content",
                base64::engine::general_purpose::STANDARD.encode(&data),
            )
            .with("source", src)
            .with("encoding", "base64"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{TestEnv, run};

    #[tokio::test]
    async fn content_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a $x \"q'.txt");
        std::fs::write(&f, b"hi\x00\xff").unwrap();
        let e = TestEnv::new(dir.path(), &[]);
        let y = format!("src: '{}'", f.display().to_string().replace('\'', "''"));
        let out = run(&Slurp, &y, &e, true, false).await.unwrap();
        assert!(!out.changed);
        assert_eq!(out.data["content"].as_str(), Some("aGkA/w=="));
        assert_eq!(out.data["encoding"].as_str(), Some("base64"));
        assert_eq!(out.data["source"].as_str(), Some(f.to_str().unwrap()));
        let y = format!("path: {}/nope", dir.path().display());
        let err = run(&Slurp, &y, &e, false, false).await.unwrap_err();
        assert!(matches!(err, ModuleError::Failed(m) if m.starts_with("File not found: ")));
        let y = format!("path: {}", dir.path().display());
        let err = run(&Slurp, &y, &e, false, false).await.unwrap_err();
        assert!(
            matches!(err, ModuleError::Failed(m) if m.starts_with("Source is a directory and must be a file: "))
        );
    }
}
