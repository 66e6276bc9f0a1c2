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
    /// Killed by `wait_at_most` after its limit (the tool hung).
    pub killed: bool,
    pub stdout: String,
    pub stderr: String,
}

pub struct Running {
    pub child: Child,
    pub started_at: Instant,
    out_files: (tempfile::NamedTempFile, tempfile::NamedTempFile),
    /// Set once wait4 has reaped the child: its pid may then belong to
    /// another process, so Drop must not signal it.
    reaped: bool,
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
    Ok(Running { child, started_at, out_files: (stdout, stderr), reaped: false })
}

impl Running {
    /// What the child has written so far to stdout and stderr (together).
    pub fn output_so_far(&self) -> String {
        let read = |f: &tempfile::NamedTempFile| std::fs::read_to_string(f.path()).unwrap_or_default();
        read(&self.out_files.0) + &read(&self.out_files.1)
    }

    /// Waits until the child's output contains `marker` (true), it exits or
    /// `timeout` passes (false). Polled every 5 ms: good enough to know a
    /// tool is ready, never used to time a verdict.
    pub fn wait_for_output(&mut self, marker: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.output_so_far().contains(marker) {
                return true;
            }
            if !self.is_running() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    /// Whether the child is still running (it has not exited yet).
    pub fn is_running(&mut self) -> bool {
        // try_wait would reap it and leave nothing for wait4's rusage: peek
        // with waitid(WNOWAIT) instead.
        let pid = self.child.id();
        // SAFETY: siginfo is plain data, filled by waitid for this one child.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let r = unsafe {
            libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT)
        };
        r == 0 && unsafe { info.si_pid() } == 0
    }

    /// Waits for the child (no timeout: give the tool one of its own).
    pub fn wait(self) -> anyhow::Result<Finished> {
        self.wait_inner(None)
    }

    /// Waits for the child, killing it (SIGKILL) if it is still running after
    /// `limit`: a safety net for a tool that ignores its own timeout.
    /// `Finished::killed` tells.
    pub fn wait_at_most(self, limit: Duration) -> anyhow::Result<Finished> {
        self.wait_inner(Some(limit))
    }

    fn wait_inner(mut self, limit: Option<Duration>) -> anyhow::Result<Finished> {
        let pid = self.child.id() as libc::pid_t;
        // The watchdog may only signal an unreaped child (a pid is not reused
        // before it is reaped): it is told to stop, and joined, between the
        // moment the child exits (waitid with WNOWAIT leaves it a zombie) and
        // the wait4 that reaps it.
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let watchdog = limit.map(|limit| {
            std::thread::spawn(move || {
                if stopped.recv_timeout(limit) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
                    // SAFETY: plain syscall on our own unreaped child.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    return true;
                }
                false
            })
        });
        // SAFETY: siginfo is plain data, filled by waitid for this one child.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        loop {
            let r = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT) };
            if r == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            anyhow::ensure!(r == 0, "waitid({pid}): {}", std::io::Error::last_os_error());
            break;
        }
        let exited_at = Instant::now();
        drop(stop);
        let killed = watchdog.map(|w| w.join().unwrap_or(false)).unwrap_or(false);

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
        self.reaped = waited == pid;
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
            killed,
            stdout: read(&self.out_files.0),
            stderr: read(&self.out_files.1),
        })
    }
}

impl Drop for Running {
    /// A tool left running (the benchmark failed before waiting for it) is
    /// killed, so no watcher outlives its benchmark.
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
}

/// Runs `command` to the end.
pub fn run(command: &mut Command) -> anyhow::Result<Finished> {
    spawn(command)?.wait()
}
