//! Running a tool as a child process and measuring it: wall time from spawn,
//! the moment it exited, its exit status, and its own peak RSS and CPU time
//! (from wait4, so only that child is counted).

use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

pub struct Finished {
    pub status: ExitStatus,
    pub exited_at: Instant,
    pub wall: Duration,
    pub max_rss_kib: u64,
    pub cpu: Duration,
    pub stdout: String,
    pub stderr: String,
}

pub struct Running {
    pub child: Child,
    pub started_at: Instant,
    out_files: (tempfile::NamedTempFile, tempfile::NamedTempFile),
}

/// Starts `command` with stdout and stderr captured to files (pipes could
/// fill up and stall a chatty tool while the benchmark is busy elsewhere).
pub fn spawn(command: &mut Command) -> anyhow::Result<Running> {
    let stdout = tempfile::NamedTempFile::new()?;
    let stderr = tempfile::NamedTempFile::new()?;
    let started_at = Instant::now();
    let child = command
        .stdin(Stdio::null())
        .stdout(stdout.reopen()?)
        .stderr(stderr.reopen()?)
        .spawn()
        .with_context(|| format!("starting {:?}", command.get_program()))?;
    Ok(Running { child, started_at, out_files: (stdout, stderr) })
}

impl Running {
    /// Waits for the child (no timeout: give the tool one of its own).
    pub fn wait(self) -> anyhow::Result<Finished> {
        let pid = self.child.id() as libc::pid_t;
        let mut status: libc::c_int = 0;
        // SAFETY: rusage is plain data; wait4 fills it for this one child.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let waited = loop {
            let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
            if r == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break r;
        };
        let exited_at = Instant::now();
        anyhow::ensure!(waited == pid, "wait4({pid}): {}", std::io::Error::last_os_error());
        use std::os::unix::process::ExitStatusExt;
        let read = |f: &tempfile::NamedTempFile| std::fs::read_to_string(f.path()).unwrap_or_default();
        let cpu = timeval(usage.ru_utime) + timeval(usage.ru_stime);
        Ok(Finished {
            status: ExitStatus::from_raw(status),
            exited_at,
            wall: exited_at - self.started_at,
            // Linux reports ru_maxrss in KiB.
            max_rss_kib: usage.ru_maxrss as u64,
            cpu,
            stdout: read(&self.out_files.0),
            stderr: read(&self.out_files.1),
        })
    }
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
}

/// Runs `command` to the end.
pub fn run(command: &mut Command) -> anyhow::Result<Finished> {
    spawn(command)?.wait()
}
