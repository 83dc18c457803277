//! A run directory in use: while a process writes a run (train, resume, replay, analyze), the
//! directory holds `.psychrnn.lock` with that process's id, and every other writer fails at once
//! naming it. A lock whose process is gone (killed with SIGKILL, machine rebooted) is taken over.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use psychrnn_core::error::{Error, Result};

/// The lock file's name inside a run directory.
pub const LOCK_FILE: &str = ".psychrnn.lock";

/// Holds a run directory for this process until dropped (the lock file is then removed).
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

impl RunLock {
    /// Locks `dir` (created if missing) for this process.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the directory and the holder's pid if another live process
    /// holds it; [`Error::Write`] if the lock file cannot be created.
    pub fn acquire(dir: &Path) -> Result<RunLock> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Write { path: dir.to_path_buf(), source })?;
        let path = dir.join(LOCK_FILE);
        // Two attempts: the second after removing a lock whose holder has died.
        for _ in 0..2 {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    write!(file, "{}", std::process::id())
                        .map_err(|source| Error::Write { path: path.clone(), source })?;
                    return Ok(RunLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path).ok().and_then(|s| s.trim().parse::<u32>().ok());
                    match holder {
                        Some(pid) if is_running(pid) => {
                            return Err(Error::invalid(
                                dir.display().to_string(),
                                format!(
                                    "is in use by process {pid} (another psychrnn train, resume, replay or analyze writing it); wait for it to finish or stop it"
                                ),
                            ));
                        }
                        Some(_) => {
                            // The holder is gone: its lock is stale.
                            let _ = std::fs::remove_file(&path);
                        }
                        None => {
                            return Err(Error::invalid(
                                dir.display().to_string(),
                                format!(
                                    "is locked by {} without a process id; remove that file if no psychrnn process is using the run",
                                    path.display()
                                ),
                            ));
                        }
                    }
                }
                Err(source) => return Err(Error::Write { path, source }),
            }
        }
        Err(Error::invalid(
            dir.display().to_string(),
            "another process took the run directory's lock at the same moment",
        ))
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether process `pid` is alive. On Linux from `/proc`; elsewhere every recorded holder is
/// taken to be alive (a stale lock is then removed by hand, as the error says).
/// Whether process `pid` is alive on this machine (always true off Linux, where it cannot be told).
pub fn is_running(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") { Path::new("/proc").join(pid.to_string()).exists() } else { true }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_directory_is_refused_and_a_dead_holders_lock_is_taken_over() {
        let dir = std::env::temp_dir().join(format!("psychrnn-run-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let lock = RunLock::acquire(&dir).unwrap();
        let err = RunLock::acquire(&dir).unwrap_err().to_string();
        assert!(err.contains(&format!("in use by process {}", std::process::id())), "{err}");
        drop(lock);
        assert!(!dir.join(LOCK_FILE).exists(), "the lock file stays after the lock is dropped");
        // A lock left by a process that no longer exists (pids never reach u32::MAX - 1 on Linux).
        std::fs::write(dir.join(LOCK_FILE), format!("{}", u32::MAX - 1)).unwrap();
        let taken = RunLock::acquire(&dir);
        if cfg!(target_os = "linux") {
            assert!(taken.is_ok(), "a stale lock was not taken over");
        }
        drop(taken);
        std::fs::write(dir.join(LOCK_FILE), "").unwrap();
        assert!(RunLock::acquire(&dir).unwrap_err().to_string().contains("without a process id"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
