//! Which process runs an execution, and whether that process is still alive.
//!
//! Every process that opens a state for writing takes an owner token and holds an exclusive
//! lock (`flock`) on `owners/<token>.lock` in the state directory for as long as it lives. The
//! kernel releases the lock when the process ends, however it ends (`kill -9` included), so
//! "can I take this lock?" answers "is its owner gone?" without trusting process ids, which the
//! system reuses. Executions and concurrency slots record the token of the process running
//! them.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// The folder of lock files inside the state directory.
const OWNERS: &str = "owners";

/// This process's token and the lock it holds; the file is removed when dropped.
#[derive(Debug)]
pub struct Owner {
    token: String,
    path: PathBuf,
    /// Holding the open file holds the lock.
    _file: File,
}

impl Owner {
    /// Take a new token in `state_dir` and lock its file. The file is locked under a temporary
    /// name and then renamed, so that nobody ever sees it unlocked and takes it for dead.
    pub fn claim(state_dir: &Path) -> std::io::Result<Owner> {
        let dir = state_dir.join(OWNERS);
        std::fs::create_dir_all(&dir)?;
        let token = crate::execution::new_id();
        let temporary = dir.join(format!(".{token}.new"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)?;
        file.lock()?;
        let path = dir.join(format!("{token}.lock"));
        std::fs::rename(&temporary, &path)?;
        Ok(Owner {
            token,
            path,
            _file: file,
        })
    }

    pub fn token(&self) -> &str {
        &self.token
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The lock that one `serve` holds on a state, so that two never fire the same ticks: `None`
/// when another process holds it. Released when the file is dropped (or the process ends).
pub fn serve_lock(state_dir: &Path) -> std::io::Result<Option<File>> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(state_dir.join("serve.lock"))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

/// Whether the process that took `token` in `state_dir` is alive: its lock file exists and is
/// locked. A token that is not a plain id (a damaged row) counts as gone. A dead owner's file
/// is removed.
pub fn alive(state_dir: &Path, token: &str) -> bool {
    if token.is_empty() || !token.chars().all(|c| c.is_ascii_alphanumeric()) {
        return false;
    }
    let path = state_dir.join(OWNERS).join(format!("{token}.lock"));
    let Ok(file) = OpenOptions::new().write(true).open(&path) else {
        return false;
    };
    match file.try_lock() {
        Ok(()) => {
            let _ = std::fs::remove_file(&path);
            false
        }
        Err(TryLockError::WouldBlock) => true,
        // The lock cannot be asked about (a file system without locks): assume alive rather
        // than fail an execution that may be running.
        Err(TryLockError::Error(_)) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claimed_token_is_alive_until_dropped() {
        let dir = std::env::temp_dir().join(format!("kflow-owner-{}", std::process::id()));
        let owner = Owner::claim(&dir).unwrap();
        let token = owner.token().to_string();
        assert!(alive(&dir, &token));
        drop(owner);
        assert!(!alive(&dir, &token));
        assert!(!alive(&dir, "../../etc/passwd"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
