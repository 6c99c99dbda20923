//! Asking the person at the terminal for a secret (key passphrases,
//! `--ask-become-pass`). Prompts go to the terminal itself, never to stdout,
//! and one prompt is shown at a time.

use std::io::{BufRead, BufReader, Write};
use std::sync::Mutex;

static PROMPT: Mutex<()> = Mutex::new(());

/// What hides the run's progress bars while a prompt waits (and shows them
/// again): the reporter's, when it draws bars.
pub type Hold = Box<dyn Fn(bool) + Send + Sync>;

static HOLD: Mutex<Option<Hold>> = Mutex::new(None);

/// Sets (or with None, removes) what hides the bars during prompts.
pub fn set_hold(hold: Option<Hold>) {
    if let Ok(mut h) = HOLD.lock() {
        *h = hold;
    }
}

/// Hides the bars until it is dropped.
struct Held;

impl Held {
    fn new() -> Held {
        if let Ok(h) = HOLD.lock()
            && let Some(f) = h.as_ref()
        {
            f(true);
        }
        Held
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Ok(h) = HOLD.lock()
            && let Some(f) = h.as_ref()
        {
            f(false);
        }
    }
}

/// Reads one line from the controlling terminal with echo turned off.
pub fn secret(prompt: &str) -> std::io::Result<String> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    let _one_at_a_time = PROMPT.lock().unwrap_or_else(|p| p.into_inner());
    let _held = Held::new();
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
    let mut out = tty.try_clone()?;
    out.write_all(prompt.as_bytes())?;
    out.flush()?;
    let saved = tcgetattr(&tty).map_err(std::io::Error::other)?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    quiet.local_flags.insert(LocalFlags::ECHONL);
    tcsetattr(&tty, SetArg::TCSANOW, &quiet).map_err(std::io::Error::other)?;
    let mut line = String::new();
    let read = BufReader::new(&tty).read_line(&mut line);
    let _ = tcsetattr(&tty, SetArg::TCSANOW, &saved);
    read?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// Reads one line from the controlling terminal, echoed.
pub fn line(prompt: &str) -> std::io::Result<String> {
    let _one_at_a_time = PROMPT.lock().unwrap_or_else(|p| p.into_inner());
    let _held = Held::new();
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
    let mut out = tty.try_clone()?;
    out.write_all(prompt.as_bytes())?;
    out.flush()?;
    let mut line = String::new();
    BufReader::new(&tty).read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}
