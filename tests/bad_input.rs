//! Hostile input, end to end: the real `kspy validate` on generated files
//! that are too large, too deep, not text, alias bombs, absurdly long lines
//! or too many documents. Each must end with exit code 2 and a short error
//! naming the file (and the line and field where there is one), within an
//! address-space limit and without hanging.
//!
//! The limits themselves are in docs/scenario-format.md ("Limits") and
//! `kspy::scenario::{MAX_FILE_BYTES, MAX_DEPTH}`.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kspy::scenario::{MAX_DEPTH, MAX_FILE_BYTES};

/// The child's address space: a loader that tries to expand a bomb or copy
/// a huge file many times dies here instead of taking the machine down.
const ADDRESS_SPACE: u64 = 1 << 30;
/// A liveness guard, not a performance assertion: far above the time any
/// of these takes (a debug build on a busy machine), far below "hung".
const HANG_GUARD: Duration = Duration::from_secs(120);
/// Longest stderr accepted: a few errors with hints, not an echo of the
/// input.
const MAX_STDERR: usize = 64 * 1024;

const HEADER: &str = "apiVersion: kspy.dev/v1alpha1\nkind: Scenario\n";

struct Run {
    code: Option<i32>,
    signal: Option<i32>,
    stdout: String,
    stderr: String,
    max_rss_kib: i64,
}

impl Run {
    fn describe(&self) -> String {
        format!(
            "exit code {:?}, signal {:?}, peak RSS {} KiB\nstdout: {}\nstderr: {}",
            self.code,
            self.signal,
            self.max_rss_kib,
            cut(&self.stdout),
            cut(&self.stderr)
        )
    }
}

fn cut(s: &str) -> String {
    if s.len() <= 2_000 {
        s.to_string()
    } else {
        let end = (0..=2_000)
            .rev()
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(0);
        format!("{}… ({} bytes in all)", &s[..end], s.len())
    }
}

/// `kspy validate PATH` under an address-space limit, killed if it hangs.
fn validate(path: &Path) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_kspy"));
    command
        .arg("validate")
        .arg(path)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"));
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork
    // and exec.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: ADDRESS_SPACE,
                rlim_max: ADDRESS_SPACE,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn().expect("spawn kspy");
    let pid = i32::try_from(child.id()).expect("pid");
    let started = Instant::now();
    let (status, usage) = loop {
        let mut status = 0;
        // SAFETY: plain syscalls on our own child; rusage is written by the kernel.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        assert!(reaped >= 0, "wait4: {}", std::io::Error::last_os_error());
        if reaped == pid {
            break (status, usage);
        }
        if started.elapsed() > HANG_GUARD {
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::wait4(pid, &mut status, 0, &mut usage);
            }
            panic!(
                "kspy validate {} hung: killed after {HANG_GUARD:?}",
                path.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).expect("output")).into_owned();
    Run {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
        stdout: read(&out),
        stderr: read(&err),
        max_rss_kib: usage.ru_maxrss,
    }
}

/// Refused with exit code 2, on a short stderr holding each of `needles`.
fn assert_refused(path: &Path, needles: &[&str]) -> Run {
    let run = validate(path);
    let name = path.display().to_string();
    assert_eq!(run.code, Some(2), "{name}: {}", run.describe());
    assert!(
        run.stderr.len() <= MAX_STDERR,
        "{name}: stderr of {} bytes: {}",
        run.stderr.len(),
        run.describe()
    );
    assert!(
        run.stderr.contains(&format!("error: {name}")),
        "{name} is not named: {}",
        run.describe()
    );
    for needle in needles {
        assert!(
            run.stderr.contains(needle),
            "{name}: expected {needle:?}: {}",
            run.describe()
        );
    }
    run
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(&path, bytes).expect("write");
    path
}

/// A scenario whose only step expects `state` (one flow or block value,
/// written after `- `) of Pod/x; the state starts on line 9.
fn scenario_with_state(state: &str) -> String {
    format!(
        "{HEADER}metadata: {{name: hostile}}\nspec:\n  steps:\n  - expect:\n      target: Pod/x\n      sequence:\n      - {state}\n"
    )
}

fn limit_bytes() -> usize {
    usize::try_from(MAX_FILE_BYTES).expect("fits")
}

/// `text`, then `#` comment lines, then `tail`: exactly `total` bytes.
fn padded(text: &str, tail: &str, total: usize) -> String {
    let mut out = String::with_capacity(total);
    out.push_str(text);
    let line = format!("#{}\n", "x".repeat(98));
    while out.len() + line.len() + tail.len() <= total {
        out.push_str(&line);
    }
    match total - out.len() - tail.len() {
        0 => {}
        1 => out.push('\n'),
        rest => {
            out.push('#');
            out.push_str(&"x".repeat(rest - 2));
            out.push('\n');
        }
    }
    out.push_str(tail);
    assert_eq!(out.len(), total);
    out
}

/// The valid scenario the size-limit files are padded from.
fn big_scenario() -> String {
    format!("{HEADER}metadata: {{name: big}}\nspec:\n  steps:\n  - sleep: 1s\n")
}

#[test]
fn a_file_one_byte_over_the_limit_is_refused_and_a_sparse_huge_one_is_not_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let valid = big_scenario();
    let over = write(
        dir.path(),
        "over.yaml",
        padded(&valid, "", limit_bytes() + 1),
    );
    let over_limit = format!(
        "file is {} bytes, over the {} MiB limit",
        MAX_FILE_BYTES + 1,
        MAX_FILE_BYTES >> 20
    );
    assert_refused(&over, &[&over_limit]);

    // 64 GiB that take no disk: refused from its size, never read.
    let sparse = dir.path().join("sparse.yaml");
    std::fs::File::create(&sparse)
        .and_then(|f| f.set_len(64 << 30))
        .expect("sparse file");
    assert_refused(&sparse, &["over the 4 MiB limit"]);
}

#[test]
fn a_file_exactly_at_the_limit_is_read_to_its_last_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let valid = big_scenario();
    let at_limit = write(
        dir.path(),
        "at-limit.yaml",
        padded(&valid, "", limit_bytes()),
    );
    let run = validate(&at_limit);
    assert_eq!(run.code, Some(0), "{}", run.describe());

    // The same size with a typo on the last line: found, with its line.
    let typo = "  tiemout: 1s\n";
    let text = padded(&valid, typo, limit_bytes());
    let last_line = text.lines().count();
    let path = write(dir.path(), "typo-at-the-end.yaml", text);
    assert_refused(
        &path,
        &[
            &format!(
                "{}:{last_line}:3: spec.tiemout: unknown key",
                path.display()
            ),
            "did you mean `timeout`?",
        ],
    );
}

#[test]
fn deep_nesting_is_refused_in_block_and_flow_style() {
    let dir = tempfile::tempdir().expect("tempdir");
    let too_deep = format!("nested deeper than {MAX_DEPTH} levels");
    let depth = 10_000;
    // (name, state, line of the error)
    let cases = [
        // Block sequences: `- - - - 1`.
        (
            "block-sequences",
            format!("subset:\n          a:\n          {}1", "- ".repeat(depth)),
            11,
        ),
        // Block mappings, one more space of indentation per level.
        (
            "block-mappings",
            format!(
                "subset:\n{}",
                (0..2_000)
                    .map(|i| format!("{}a:\n", " ".repeat(9 + i)))
                    .collect::<String>()
            ),
            9 + MAX_DEPTH - 6,
        ),
        (
            "flow-sequences",
            format!(
                "subset: {{a: {}{}}}",
                "[".repeat(100 * depth),
                "]".repeat(100 * depth)
            ),
            9,
        ),
        (
            "flow-mappings",
            format!("subset: {}{}", "{a: ".repeat(depth), "}".repeat(depth)),
            9,
        ),
        // Unclosed: the parser must not recurse to the end of the file either.
        (
            "unclosed-flow",
            format!("subset: {}", "[{".repeat(depth * 50)),
            9,
        ),
    ];
    for (name, state, line) in cases {
        let path = write(
            dir.path(),
            &format!("{name}.yaml"),
            scenario_with_state(&state),
        );
        assert_refused(&path, &[&format!("{}:{line}:", path.display()), &too_deep]);
    }

    // The same in a manifest: the error names the `apply` step and the manifest.
    write(
        dir.path(),
        "manifests/deep.yaml",
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: deep}}\ndata: {}{}\n",
            "[".repeat(depth),
            "]".repeat(depth)
        ),
    );
    let path = write(
        dir.path(),
        "applies-deep.yaml",
        format!(
            "{HEADER}metadata: {{name: deep}}\nspec:\n  steps:\n  - apply: manifests/deep.yaml\n"
        ),
    );
    assert_refused(
        &path,
        &[
            &format!(
                "{}:6:12: spec.steps[0].apply: invalid manifest",
                path.display()
            ),
            "deep.yaml:4:",
            &too_deep,
        ],
    );
}

/// A deterministic stream of bytes (xorshift), so a failure reproduces.
fn garbage(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

#[test]
fn binary_garbage_and_non_utf8_text_are_refused_with_where() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        dir.path(),
        "garbage.yaml",
        garbage(1 << 20, 0x9e37_79b9_7f4a_7c15),
    );
    assert_refused(
        &path,
        &[&format!("{}:1:", path.display()), "not a text file"],
    );

    // An ELF header, as when a binary is passed by mistake.
    let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
    elf.extend(garbage(4096, 7));
    let path = write(dir.path(), "kspy.yaml", elf);
    assert_refused(&path, &["not a text file"]);

    // Latin-1 text: valid YAML but for one byte, on line 3.
    let mut latin1 = format!("{HEADER}metadata: {{name: caf, description: \"caf").into_bytes();
    latin1.push(0xE9);
    latin1.extend_from_slice(b"\"}\nspec:\n  steps:\n  - sleep: 1s\n");
    let path = write(dir.path(), "latin1.yaml", latin1);
    assert_refused(&path, &[&format!("{}:3:", path.display()), "invalid UTF-8"]);

    // UTF-16, as some Windows editors save.
    let utf16: Vec<u8> = "\u{feff}apiVersion: kspy.dev/v1alpha1\n"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let path = write(dir.path(), "utf16.yaml", utf16);
    assert_refused(&path, &["not a text file"]);
}

fn billion_laughs() -> String {
    let mut text = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (prev, name) in ('a'..='i').zip('b'..='j') {
        let refs = vec![format!("*{prev}"); 9].join(",");
        text.push_str(&format!("{name}: &{name} [{refs}]\n"));
    }
    text
}

#[test]
fn alias_bombs_are_refused_in_scenarios_and_manifests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bomb = "aliases expand to too many nodes";
    let path = write(dir.path(), "billion-laughs.yaml", billion_laughs());
    assert_refused(&path, &[bomb]);

    // The same bomb inside a state of a scenario.
    let indented: String = billion_laughs()
        .lines()
        .map(|l| format!("          {l}\n"))
        .collect();
    let path = write(
        dir.path(),
        "bomb-in-subset.yaml",
        scenario_with_state(&format!("subset:\n{indented}")),
    );
    assert_refused(&path, &[bomb]);

    // Few aliases of one big anchor: 900 copies of 1 MiB would be 900 MiB.
    let big = "x".repeat(1 << 20);
    let copies = vec!["*big"; 900].join(", ");
    let path = write(
        dir.path(),
        "wide-alias.yaml",
        scenario_with_state(&format!("subset: {{a: &big \"{big}\", b: [{copies}]}}")),
    );
    assert_refused(&path, &["over kspy's limits"]);
    // The same with enough decoy anchors that aliases are not many more
    // than anchors.
    let decoys: String = (0..200).map(|i| format!("d{i}: &d{i} {i}, ")).collect();
    let path = write(
        dir.path(),
        "wide-alias-decoys.yaml",
        scenario_with_state(&format!(
            "subset: {{{decoys}a: &big \"{big}\", b: [{copies}]}}"
        )),
    );
    assert_refused(&path, &["over kspy's limits"]);

    // In a manifest referenced by `apply`.
    let indented: String = billion_laughs()
        .lines()
        .map(|l| format!("  {l}\n"))
        .collect();
    write(
        dir.path(),
        "manifests/bomb.yaml",
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: bomb}}\ndata:\n{indented}"),
    );
    let path = write(
        dir.path(),
        "applies-bomb.yaml",
        format!(
            "{HEADER}metadata: {{name: bomb}}\nspec:\n  steps:\n  - apply: manifests/bomb.yaml\n"
        ),
    );
    assert_refused(
        &path,
        &[
            &format!(
                "{}:6:12: spec.steps[0].apply: invalid manifest",
                path.display()
            ),
            bomb,
        ],
    );
}

#[test]
fn a_huge_manifest_referenced_by_apply_is_refused_at_the_apply_step() {
    let dir = tempfile::tempdir().expect("tempdir");
    let object = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n";
    write(
        dir.path(),
        "manifests/huge.yaml",
        padded(object, "", limit_bytes() + 4096),
    );
    let path = write(
        dir.path(),
        "applies-huge.yaml",
        format!(
            "{HEADER}metadata: {{name: huge}}\nspec:\n  steps:\n  - apply: {{file: manifests/huge.yaml}}\n"
        ),
    );
    assert_refused(
        &path,
        &[
            &format!(
                "{}:6:19: spec.steps[0].apply.file: cannot read manifest file",
                path.display()
            ),
            "huge.yaml",
            "over the 4 MiB limit",
        ],
    );
}

#[test]
fn extremely_long_lines_give_short_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let long = "a".repeat(3 << 20);
    let cases = [
        // A name far over 63 characters.
        (
            "long-name",
            format!("{HEADER}metadata: {{name: {long}}}\nspec:\n  steps:\n  - sleep: 1s\n"),
            "3:18: metadata.name: invalid scenario name",
        ),
        // An unknown key 3 MiB long (an explicit `?` key: implicit ones
        // are limited to 1024 characters by YAML itself).
        (
            "long-key",
            format!(
                "{HEADER}metadata: {{name: k}}\nspec:\n  steps:\n  - sleep: 1s\n  ? {long}\n  : 1\n"
            ),
            "unknown key `aaaa",
        ),
        // A JSONPath, a regex and a duration of 3 MiB each.
        (
            "long-jsonpath",
            scenario_with_state(&format!(
                "field: {{path: \"{{.{long}[?(@.a==1)]x}}\", exists: true}}"
            )),
            "9:23: spec.steps[0].expect.sequence[0].field.path: invalid JSONPath",
        ),
        (
            "long-regex",
            scenario_with_state(&format!("condition: {{type: Ready, message: \"({long}\"}}")),
            "9:43: spec.steps[0].expect.sequence[0].condition.message: invalid regex",
        ),
        (
            "long-duration",
            scenario_with_state(&format!("{{phase: Running, within: {long}}}")),
            "9:34: spec.steps[0].expect.sequence[0].within: invalid duration",
        ),
        // One line of flow YAML that never closes: a million nodes.
        (
            "long-flow-line",
            format!("{HEADER}metadata: {{name: [{}", "a, ".repeat(1 << 20)),
            "over kspy's limits",
        ),
    ];
    for (name, text, needle) in cases {
        let path = write(dir.path(), &format!("{name}.yaml"), text);
        let run = assert_refused(&path, &[needle]);
        // The value is quoted shortened, not echoed whole.
        assert!(
            !run.stderr.contains(&"a".repeat(1_000)),
            "{name}: the long value is echoed: {}",
            run.describe()
        );
    }
}

#[test]
fn too_many_documents_or_errors_are_refused_briefly() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Empty documents: 300,000 `---` lines.
    let path = write(dir.path(), "many-empty.yaml", "---\n".repeat(300_000));
    assert_refused(&path, &["over kspy's limits"]);
    // Scenario documents, each with an error.
    let doc = format!("{HEADER}metadata: {{name: d}}\nspec:\n  steps:\n  - sleep: forever\n");
    let path = write(
        dir.path(),
        "many-scenarios.yaml",
        format!("---\n{doc}").repeat(2_000),
    );
    assert_refused(&path, &["over kspy's limits"]);
    // One document with 5,000 errors: the first ones, and how many more.
    let steps = "  - sleep: forever\n".repeat(5_000);
    let path = write(
        dir.path(),
        "many-errors.yaml",
        format!("{HEADER}metadata: {{name: e}}\nspec:\n  steps:\n{steps}"),
    );
    assert_refused(
        &path,
        &[
            &format!(
                "{}:6:12: spec.steps[0].sleep: invalid duration",
                path.display()
            ),
            "4900 more errors in this file",
        ],
    );
}
