//! Where `{% include %}`, `{% import %}` and `{% extends %}` in a template
//! file find other templates: as Ansible's template action does, under
//! `templates/` of each search directory and then in the directory itself.
//! The search directories are `ansible_search_path` (the role, the task
//! file's directory, the playbook's), then the template file's own
//! directory; the `template` lookup looks in the file's own directory
//! first.
//!
//! Names are Jinja template names, not paths: they are split on `/`, a `..`
//! piece is refused and a leading `/` is ignored (so an absolute name is
//! looked up under each search directory, as Jinja's `FileSystemLoader`
//! does).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use minijinja::{Environment, Error, ErrorKind};

/// The candidate files for `name` in the directories `dirs` (already
/// expanded by [`search_dirs`] or as a caller needs), in search order;
/// `None` when the name can never be found (a `..` piece).
pub fn candidates(dirs: &[PathBuf], name: &str) -> Option<Vec<PathBuf>> {
    let mut rel = PathBuf::new();
    for piece in name.split('/') {
        match piece {
            ".." => return None,
            "" | "." => {}
            p => rel.push(p),
        }
    }
    if rel.as_os_str().is_empty() {
        return None;
    }
    Some(dirs.iter().map(|d| d.join(&rel)).collect())
}

/// Each directory's `templates/` then the directory, as Ansible lists them.
pub fn search_dirs(dirs: &[PathBuf]) -> Vec<PathBuf> {
    dirs.iter()
        .flat_map(|d| [d.join("templates"), d.clone()])
        .collect()
}

/// Names a loader was asked for and could not find, with whether they
/// were searched for at all (a name with `..` is not).
#[derive(Clone, Default)]
pub struct Missing(Arc<Mutex<Vec<(String, bool)>>>);

impl Missing {
    /// Ansible's message for the first name that was not found, if any.
    pub fn message(&self, dirs: &[PathBuf]) -> Option<String> {
        let first = self.0.lock().ok()?.first().cloned()?;
        Some(match first {
            (name, true) => not_found_message(&name, dirs),
            (name, false) => name,
        })
    }
}

/// Installs a loader searching the directories `dirs` in order on `env`;
/// names it cannot find are recorded in the returned [`Missing`].
pub fn install(env: &mut Environment<'_>, dirs: Vec<PathBuf>) -> Missing {
    let missing = Missing::default();
    let record = missing.clone();
    env.set_loader(move |name| {
        let paths = candidates(&dirs, name);
        let searched = paths.is_some();
        match paths.unwrap_or_default().into_iter().find(|p| p.is_file()) {
            Some(path) => read(&path).map(Some),
            None => {
                if let Ok(mut m) = record.0.lock() {
                    m.push((name.to_owned(), searched));
                }
                Ok(None)
            }
        }
    });
    missing
}

fn read(path: &Path) -> Result<String, Error> {
    let bytes = std::fs::read(path).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("could not read template '{}': {e}", path.display()),
        )
    })?;
    // Jinja drops one trailing newline of a loaded template
    // (`keep_trailing_newline` is off in Ansible's environment); only the
    // file the template module renders keeps its own.
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("template '{}' is not utf-8 encoded text", path.display()),
        )
    })?;
    Ok(strip_trailing_newline(text))
}

fn strip_trailing_newline(mut text: String) -> String {
    for end in ["\r\n", "\n", "\r"] {
        if text.ends_with(end) {
            text.truncate(text.len() - end.len());
            break;
        }
    }
    text
}

/// Ansible's message for a template name not found in `dirs`.
pub fn not_found_message(name: &str, dirs: &[PathBuf]) -> String {
    let paths: Vec<String> = dirs.iter().map(|p| format!("'{}'", p.display())).collect();
    format!("'{name}' not found in search paths: {}", paths.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_searched_under_templates_then_the_directory() {
        let dirs = search_dirs(&[PathBuf::from("/r"), PathBuf::from("/p")]);
        assert_eq!(
            candidates(&dirs, "a/b.j2").unwrap(),
            vec![
                PathBuf::from("/r/templates/a/b.j2"),
                PathBuf::from("/r/a/b.j2"),
                PathBuf::from("/p/templates/a/b.j2"),
                PathBuf::from("/p/a/b.j2"),
            ]
        );
        // A leading slash does not escape the search path.
        assert_eq!(
            candidates(&dirs, "/etc/passwd").unwrap()[1],
            PathBuf::from("/r/etc/passwd")
        );
        assert_eq!(candidates(&dirs, "../secret"), None);
        assert_eq!(candidates(&dirs, "a/../../b"), None);
        assert_eq!(candidates(&dirs, "./"), None);
    }

    #[test]
    fn one_trailing_newline_is_dropped() {
        assert_eq!(strip_trailing_newline("a\n\n".into()), "a\n");
        assert_eq!(strip_trailing_newline("a\r\n".into()), "a");
        assert_eq!(strip_trailing_newline("a".into()), "a");
    }

    #[test]
    fn the_message_lists_every_directory_searched() {
        let dirs = search_dirs(&[PathBuf::from("/r"), PathBuf::from("/p")]);
        assert_eq!(
            not_found_message("x", &dirs),
            "'x' not found in search paths: '/r/templates', '/r', '/p/templates', '/p'"
        );
    }
}
