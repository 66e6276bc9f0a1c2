//! The four tools measured: kspy (this crate's binary, built by cargo bench
//! with the bench profile) and the peers built by benches/peers/build.sh.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;

pub struct Tools {
    pub kspy: PathBuf,
    pub kubectl: PathBuf,
    pub chainsaw: PathBuf,
    pub kuttl: PathBuf,
}

impl Tools {
    /// Builds the peers when they are not cached yet (minutes, once), or
    /// takes them from KSPY_BENCH_PEERS_BIN (a directory with `kubectl`,
    /// `chainsaw` and `kubectl-kuttl`) when it is set.
    pub fn build() -> anyhow::Result<Tools> {
        if let Some(bin) = std::env::var_os("KSPY_BENCH_PEERS_BIN") {
            return Ok(Tools::in_dir(PathBuf::from(bin)));
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers/build.sh");
        eprintln!("peers: {}", script.display());
        let output = Command::new(&script)
            .stderr(std::process::Stdio::inherit())
            .output()
            .with_context(|| format!("running {}", script.display()))?;
        anyhow::ensure!(output.status.success(), "{} failed ({})", script.display(), output.status);
        let stdout = String::from_utf8_lossy(&output.stdout);
        Ok(Tools::in_dir(PathBuf::from(stdout.lines().last().unwrap_or_default().trim())))
    }

    fn in_dir(bin: PathBuf) -> Tools {
        Tools {
            kspy: PathBuf::from(env!("CARGO_BIN_EXE_kspy")),
            kubectl: bin.join("kubectl"),
            chainsaw: bin.join("chainsaw"),
            kuttl: bin.join("kubectl-kuttl"),
        }
    }

    /// Each tool's own account of its version, for the report.
    pub fn versions(&self) -> Vec<(&'static str, String)> {
        let version = |path: &Path, args: &[&str]| -> String {
            Command::new(path)
                .args(args)
                .output()
                .map(|o| {
                    let text = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
                    text.lines().map(str::trim).filter(|l| !l.is_empty()).take(2).collect::<Vec<_>>().join("; ")
                })
                .unwrap_or_else(|e| format!("unknown ({e})"))
        };
        // A peer built with `go build` reports "dev" or "v0.0.0-master": the
        // version pinned in its benches/peers module says what it is.
        let pinned = |dir: &str, module: &str| match pinned_version(dir, module) {
            Some(v) => format!("{v} (pinned in benches/peers/{dir}/go.mod); "),
            None => String::new(),
        };
        vec![
            ("kspy", format!("{} (bench profile)", env!("CARGO_PKG_VERSION"))),
            ("kubectl", pinned("kubectl", "k8s.io/kubernetes") + &version(&self.kubectl, &["version", "--client"])),
            ("chainsaw", pinned("chainsaw", "github.com/kyverno/chainsaw") + &version(&self.chainsaw, &["version"])),
            ("kuttl", pinned("kuttl", "github.com/kudobuilder/kuttl") + &version(&self.kuttl, &["version"])),
        ]
    }
}

/// The version of `module` that benches/peers/<dir>/go.mod requires.
fn pinned_version(dir: &str, module: &str) -> Option<String> {
    let go_mod = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers").join(dir).join("go.mod");
    let text = std::fs::read_to_string(go_mod).ok()?;
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace().skip_while(|w| *w == "require");
        (words.next()? == module).then(|| words.next().map(str::to_owned)).flatten()
    })
}
