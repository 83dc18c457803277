//! The sweep directory: nothing but files connects a sweep's runs, so the design holds for
//! thousands of runs on a cluster's shared file system.
//!
//! ```text
//! <sweep>/sweep.json        the plan (runs, overrides, SHA-256 of the sweep file and manifests)
//! <sweep>/sweep.toml        a copy of the sweep file
//! <sweep>/runs/<run>/       each run's ordinary run directory (its lock replays it)
//! <sweep>/logs/<run>.log    what each run printed (appended on each attempt)
//! <sweep>/state/<run>.json  each run's last attempt: where, when, how it ended
//! <sweep>/slurm/            job-array scripts, their run lists, submissions.jsonl
//! ```

use std::path::{Path, PathBuf};

use psychrnn_core::npz::write_atomically;
use psychrnn_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::plan::{Plan, PlannedRun, file_sha256};

/// A sweep directory and its plan.
#[derive(Clone, Debug)]
pub struct SweepDir {
    /// The directory.
    pub root: PathBuf,
    /// Its plan (`sweep.json`).
    pub plan: Plan,
}

/// How an attempt at a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The run's files are complete.
    Done,
    /// Training stopped on a NaN or infinite value; the run's files hold the last good weights
    /// (a deterministic result: trying again gives the same).
    Diverged,
    /// Stopped by a signal (Ctrl-C, or the scheduler before its time limit) after writing a
    /// checkpoint: the next attempt resumes.
    Interrupted,
    /// An error (its message is recorded and the log has the rest).
    Failed,
}

/// A run's last attempt (`state/<run>.json`), written when it starts and when it ends. An
/// attempt that never ended (the process was killed) is told apart by its host and process id
/// or its Slurm job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// The machine it ran on.
    pub host: String,
    /// Its process id there.
    pub pid: u32,
    /// The Slurm job (`<array job>_<task>`) when it ran under Slurm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm_job: Option<String>,
    /// Attempts so far, this one included.
    pub number: u32,
    /// When it started (seconds since the Unix epoch).
    pub started_unix: f64,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_unix: Option<f64>,
    /// How it ended (`None`: it has not, or was killed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<AttemptOutcome>,
    /// The error or stop message.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// This machine's host name (`unknown` where it cannot be read).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map_or_else(|| "unknown".into(), |h| h.trim().to_string())
}

impl SweepDir {
    /// The plan's file name in a sweep directory.
    pub const PLAN_FILE: &'static str = "sweep.json";

    /// Opens the sweep directory `root` for `plan`: creates it (writing `sweep.json` and a copy
    /// of the sweep file), or reopens it when it holds the same sweep (same sweep file and
    /// manifests, byte for byte), so running a sweep again continues it.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `root` when it holds another sweep (another sweep file, or a
    /// base manifest changed since), or files that are not a sweep's; [`Error::Write`] if it
    /// cannot be written. Nothing is overwritten.
    pub fn create(root: &Path, plan: &Plan) -> Result<SweepDir> {
        let plan_path = root.join(Self::PLAN_FILE);
        if plan_path.is_file() {
            let dir = Self::open(root)?;
            let old = &dir.plan;
            if old.sweep_sha256 != plan.sweep_sha256 {
                return Err(Error::invalid(
                    root.display().to_string(),
                    format!(
                        "holds the sweep written by {} (sha256 {}), not the one {} describes now (sha256 {}): their runs would mix. Choose another --out, or delete the directory to start over",
                        old.sweep_file.display(),
                        &old.sweep_sha256[..12],
                        plan.sweep_file.display(),
                        &plan.sweep_sha256[..12]
                    ),
                ));
            }
            for (a, b) in old.variants.iter().zip(&plan.variants) {
                if a.manifest_sha256 != b.manifest_sha256 {
                    return Err(Error::invalid(
                        root.display().to_string(),
                        format!(
                            "was planned with another {} (variant `{}`): the manifest changed since (sha256 {} then, {} now). Restore it, or choose another --out",
                            b.manifest.display(),
                            b.name,
                            &a.manifest_sha256[..12],
                            &b.manifest_sha256[..12]
                        ),
                    ));
                }
            }
            return Ok(dir);
        }
        if std::fs::read_dir(root).is_ok_and(|mut e| e.next().is_some()) {
            return Err(Error::invalid(
                root.display().to_string(),
                format!(
                    "is not empty and holds no {}: it is not a sweep directory; choose another --out",
                    Self::PLAN_FILE
                ),
            ));
        }
        for sub in ["runs", "logs", "state"] {
            let d = root.join(sub);
            std::fs::create_dir_all(&d).map_err(|source| Error::Write { path: d, source })?;
        }
        let sweep_text =
            std::fs::read(&plan.sweep_file).map_err(|source| Error::Read { path: plan.sweep_file.clone(), source })?;
        write_atomically(&root.join("sweep.toml"), &sweep_text)?;
        let json = serde_json::to_string_pretty(plan).map_err(|e| Error::invalid(Self::PLAN_FILE, e.to_string()))?;
        write_atomically(&plan_path, json.as_bytes())?;
        Ok(SweepDir { root: root.to_path_buf(), plan: plan.clone() })
    }

    /// Opens an existing sweep directory.
    ///
    /// # Errors
    /// [`Error::Read`] if `root/sweep.json` cannot be read; [`Error::Invalid`] naming it if it
    /// is not a plan.
    pub fn open(root: &Path) -> Result<SweepDir> {
        let path = root.join(Self::PLAN_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Read { path: path.clone(), source })?;
        let plan = serde_json::from_str(&text)
            .map_err(|e| Error::invalid(path.display().to_string(), format!("is not a sweep plan: {e}")))?;
        Ok(SweepDir { root: root.to_path_buf(), plan })
    }

    /// The run directory of `run`.
    pub fn run_dir(&self, run: &PlannedRun) -> PathBuf {
        self.root.join("runs").join(&run.name)
    }

    /// The log of `run`.
    pub fn log_path(&self, run: &PlannedRun) -> PathBuf {
        self.root.join("logs").join(format!("{}.log", run.name))
    }

    /// The last-attempt record of `run`.
    pub fn record_path(&self, run: &PlannedRun) -> PathBuf {
        self.root.join("state").join(format!("{}.json", run.name))
    }

    /// The Slurm folder (scripts, run lists, submissions).
    pub fn slurm_dir(&self) -> PathBuf {
        self.root.join("slurm")
    }

    /// The last attempt at `run`, if any (an unreadable record reads as none: the run's own
    /// files decide then).
    pub fn read_attempt(&self, run: &PlannedRun) -> Option<Attempt> {
        std::fs::read_to_string(self.record_path(run)).ok().and_then(|t| serde_json::from_str(&t).ok())
    }

    /// Records `attempt` as `run`'s last.
    ///
    /// # Errors
    /// [`Error::Write`] naming the record.
    pub fn write_attempt(&self, run: &PlannedRun, attempt: &Attempt) -> Result<()> {
        let json = serde_json::to_string_pretty(attempt).map_err(|e| Error::invalid("attempt", e.to_string()))?;
        write_atomically(&self.record_path(run), json.as_bytes())
    }

    /// The last `lines` lines of `run`'s log (empty when it has none).
    pub fn log_tail(&self, run: &PlannedRun, lines: usize) -> String {
        let text = std::fs::read(self.log_path(run)).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Checks that `run`'s base manifest is the one planned.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the manifest if it changed (or is gone).
    pub fn check_manifest(&self, run: &PlannedRun) -> Result<&Path> {
        let variant = self.plan.variant(&run.variant)?;
        let now = file_sha256(&variant.manifest)?;
        if now != variant.manifest_sha256 {
            return Err(Error::invalid(
                variant.manifest.display().to_string(),
                format!(
                    "changed since the sweep {} was planned (sha256 {} then, {} now): its runs would not be one sweep. Restore it, or plan a new sweep",
                    self.root.display(),
                    &variant.manifest_sha256[..12],
                    &now[..12]
                ),
            ));
        }
        Ok(&variant.manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::tempdir;

    #[test]
    fn a_directory_holds_one_sweep_and_reopens_for_it() {
        let dir = tempdir("dir");
        std::fs::write(dir.join("m.toml"), "m").unwrap();
        std::fs::write(dir.join("s.toml"), "manifest = \"m.toml\"\nseeds = [1, 2]\n").unwrap();
        std::fs::write(dir.join("t.toml"), "manifest = \"m.toml\"\nseeds = [1, 2, 3]\n").unwrap();
        let root = dir.join("out");
        let plan = Plan::from_file(&dir.join("s.toml")).unwrap();
        let sweep = SweepDir::create(&root, &plan).unwrap();
        assert!(root.join("sweep.json").is_file() && root.join("sweep.toml").is_file());
        let again = SweepDir::create(&root, &plan).unwrap();
        assert_eq!(again.plan, sweep.plan);
        // Another sweep file: refused, and the directory is untouched.
        let before = std::fs::read(root.join("sweep.json")).unwrap();
        let other = Plan::from_file(&dir.join("t.toml")).unwrap();
        let e = SweepDir::create(&root, &other).unwrap_err().to_string();
        assert!(e.contains("holds the sweep written by") && e.contains("s.toml") && e.contains("another --out"), "{e}");
        assert_eq!(std::fs::read(root.join("sweep.json")).unwrap(), before);
        // A changed manifest: refused at planning and by a run.
        std::fs::write(dir.join("m.toml"), "m2").unwrap();
        let changed = Plan::from_file(&dir.join("s.toml")).unwrap();
        let e = SweepDir::create(&root, &changed).unwrap_err().to_string();
        assert!(e.contains("the manifest changed since"), "{e}");
        let e = sweep.check_manifest(&sweep.plan.runs[0]).unwrap_err().to_string();
        assert!(e.contains("changed since the sweep"), "{e}");
        // A directory of other files is not taken.
        let busy = dir.join("busy");
        std::fs::create_dir_all(&busy).unwrap();
        std::fs::write(busy.join("notes.txt"), "mine").unwrap();
        let e = SweepDir::create(&busy, &plan).unwrap_err().to_string();
        assert!(e.contains("not a sweep directory"), "{e}");
    }

    #[test]
    fn attempts_and_log_tails_round_trip() {
        let dir = tempdir("attempts");
        std::fs::write(dir.join("m.toml"), "m").unwrap();
        std::fs::write(dir.join("s.toml"), "manifest = \"m.toml\"\n").unwrap();
        let sweep = SweepDir::create(&dir.join("out"), &Plan::from_file(&dir.join("s.toml")).unwrap()).unwrap();
        let run = &sweep.plan.runs[0];
        assert!(sweep.read_attempt(run).is_none());
        let a = Attempt {
            host: host_name(),
            pid: 7,
            slurm_job: Some("12_0".into()),
            number: 2,
            started_unix: 1.0,
            ended_unix: Some(2.0),
            outcome: Some(AttemptOutcome::Failed),
            message: "boom".into(),
        };
        sweep.write_attempt(run, &a).unwrap();
        assert_eq!(sweep.read_attempt(run), Some(a));
        std::fs::write(sweep.log_path(run), "one\ntwo\n\nthree\n").unwrap();
        assert_eq!(sweep.log_tail(run, 2), "two\nthree");
    }
}
