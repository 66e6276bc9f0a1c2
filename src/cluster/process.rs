//! Starting, watching and stopping the component processes.
//!
//! Components are started in their own process group, so a Ctrl-C meant for
//! the terminal that ran `kspy cluster up` does not reach them, and they keep
//! running after `up` returns. Their pids are saved in the state file; `down`
//! finds them again from any process.

use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::ClusterError;

/// A component this process started. A thread waits on the child so it is
/// reaped the moment it exits (no zombie outlives it) and its exit status is
/// known to `up`, which must fail rather than hang when a component dies.
pub struct Started {
    pub record: ComponentRecord,
    exit: Arc<Mutex<Option<String>>>,
}

/// What the state file keeps about a component.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComponentRecord {
    pub name: String,
    pub pid: u32,
    pub binary: PathBuf,
    pub log: PathBuf,
    /// The port it serves on, if any.
    pub port: Option<u16>,
    /// The arguments it was started with, so it can be restarted
    /// ([`restart_component`](super::restart_component)). Empty in state
    /// files written before they were recorded.
    #[serde(default)]
    pub args: Vec<String>,
}

impl Started {
    /// `Some(status)` once the process has exited.
    pub fn exit_status(&self) -> Option<String> {
        self.exit.lock().ok().and_then(|s| s.clone())
    }

    /// The error `up` reports for a component that died: its status and the
    /// end of its log.
    pub fn died(&self, status: String) -> ClusterError {
        ClusterError::ComponentDied {
            component: self.record.name.clone(),
            status,
            log: self.record.log.clone(),
            tail: log_tail(&self.record.log, 20),
        }
    }
}

/// Starts `binary args...` with stdout and stderr going to `log`.
pub fn spawn(
    name: &str,
    binary: &Path,
    args: &[String],
    log: &Path,
    port: Option<u16>,
) -> Result<Started, ClusterError> {
    let out = File::create(log).map_err(|e| ClusterError::io(log, e))?;
    spawn_with_log(name, binary, args, out, log, port)
}

/// Starts a recorded component again, with the same binary and arguments,
/// appending to its log.
pub fn respawn(record: &ComponentRecord) -> Result<Started, ClusterError> {
    let out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&record.log)
        .map_err(|e| ClusterError::io(&record.log, e))?;
    spawn_with_log(&record.name, &record.binary, &record.args, out, &record.log, record.port)
}

fn spawn_with_log(
    name: &str,
    binary: &Path,
    args: &[String],
    out: File,
    log: &Path,
    port: Option<u16>,
) -> Result<Started, ClusterError> {
    let err = out.try_clone().map_err(|e| ClusterError::io(log, e))?;
    let mut child = Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| ClusterError::io(binary, e))?;
    let pid = child.id();
    let exit = Arc::new(Mutex::new(None));
    let exit_for_reaper = exit.clone();
    std::thread::Builder::new()
        .name(format!("reap-{name}"))
        .spawn(move || {
            let status = match child.wait() {
                Ok(status) => status.to_string(),
                Err(e) => format!("unknown: {e}"),
            };
            if let Ok(mut slot) = exit_for_reaper.lock() {
                *slot = Some(status);
            }
        })
        .map_err(|e| ClusterError::io(binary, e))?;
    Ok(Started {
        record: ComponentRecord {
            name: name.to_string(),
            pid,
            binary: binary.to_path_buf(),
            log: log.to_path_buf(),
            port,
            args: args.to_vec(),
        },
        exit,
    })
}

/// Whether the recorded process still runs. The command line is compared
/// too, so a pid reused by an unrelated program is not mistaken for ours.
pub fn is_alive(record: &ComponentRecord) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{}/stat", record.pid)) else {
        return false;
    };
    // The state letter follows the parenthesised command name.
    let zombie = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('Z'));
    if zombie != Some(false) {
        return false;
    }
    let Ok(cmdline) = fs::read(format!("/proc/{}/cmdline", record.pid)) else {
        return false;
    };
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    argv0 == record.binary.as_os_str().as_encoded_bytes()
}

/// Stops a component: SIGTERM, then SIGKILL if it has not exited after
/// `grace`. Returns once the process is gone.
pub fn stop(record: &ComponentRecord, grace: Duration) {
    if !is_alive(record) {
        return;
    }
    let pid = Pid::from_raw(record.pid as i32);
    let _ = signal::kill(pid, Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while is_alive(record) {
        if Instant::now() >= deadline {
            let _ = signal::kill(pid, Signal::SIGKILL);
            // SIGKILL cannot be ignored; give the kernel a moment to reap.
            let hard_deadline = Instant::now() + Duration::from_secs(5);
            while is_alive(record) && Instant::now() < hard_deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The last `lines` lines of a log file, for error messages.
pub fn log_tail(log: &Path, lines: usize) -> String {
    match fs::read_to_string(log) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            let start = all.len().saturating_sub(lines);
            all[start..].iter().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
        }
        Err(e) => format!("  (cannot read the log: {e})"),
    }
}
