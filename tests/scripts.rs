//! The scripts a newcomer runs first: they name no path of one particular machine, they parse,
//! and `scripts/demo.sh` (on the binary under test, via STACKCTL_BIN) runs moto on a free
//! loopback port in a temporary directory and leaves neither behind, on success, with KEEP=1
//! and on SIGTERM.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under the directories that hold scripts and CI configuration.
fn script_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    for dir in ["scripts", ".ci", ".github"] {
        walk(&repo().join(dir), &mut files);
    }
    files.sort();
    files
}

#[test]
fn scripts_and_ci_name_no_path_of_one_machine() {
    // Home directories and this project's build machine: a user's machine has neither.
    let forbidden = ["/work/", "/root/", "/home/", "/Users/"];
    let files = script_files();
    assert!(files.len() >= 6, "found only {files:?}");
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if forbidden.iter().any(|f| line.contains(f)) {
                found.push(format!("{}:{}: {line}", file.display(), n + 1));
            }
        }
    }
    assert!(found.is_empty(), "machine paths:\n{}", found.join("\n"));
}

#[test]
fn every_script_parses() {
    let scripts: Vec<_> = script_files()
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "sh") || f.ends_with(".ci/run"))
        .collect();
    assert!(scripts.len() >= 5, "found only {scripts:?}");
    for script in scripts {
        let out = Command::new("bash")
            .arg("-n")
            .arg(&script)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "bash -n {}: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `scripts/demo.sh` on the binary under test, with its temporary directory under `tmp`.
fn demo(tmp: &Path) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(repo().join("scripts/demo.sh"))
        .env("STACKCTL_BIN", env!("CARGO_BIN_EXE_stackctl"))
        .env("TMPDIR", tmp)
        .env_remove("KEEP")
        .env_remove("STACKCTL_REAL_AWS")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null());
    cmd
}

/// The port and pid of the demo's emulator and the working directory it printed.
struct Printed {
    port: u16,
    moto_pid: u32,
    workdir: PathBuf,
}

fn printed(stdout: &str) -> Printed {
    let moto = stdout
        .lines()
        .find(|l| l.starts_with("== local AWS emulator (moto, pid "))
        .unwrap_or_else(|| panic!("no emulator line in:\n{stdout}"));
    let moto_pid = moto["== local AWS emulator (moto, pid ".len()..]
        .split(')')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let port = moto
        .split("http://127.0.0.1:")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let dir = stdout
        .lines()
        .find_map(|l| l.strip_prefix("== working directory "))
        .unwrap_or_else(|| panic!("no working directory line in:\n{stdout}"));
    let workdir = PathBuf::from(dir.split(':').next().unwrap());
    Printed {
        port,
        moto_pid,
        workdir,
    }
}

#[track_caller]
fn assert_emulator_gone(p: &Printed) {
    assert!(
        !Path::new(&format!("/proc/{}", p.moto_pid)).exists(),
        "moto (pid {}) still runs",
        p.moto_pid
    );
    assert!(
        TcpStream::connect(("127.0.0.1", p.port)).is_err(),
        "something still listens on 127.0.0.1:{}",
        p.port
    );
}

#[test]
fn demo_applies_on_a_free_port_and_removes_what_it_made() {
    let tmp = tempfile::tempdir().unwrap();
    let out = demo(tmp.path()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    let p = printed(&stdout);
    assert!(p.workdir.starts_with(tmp.path()), "{}", p.workdir.display());
    assert!(
        stdout.contains(&format!(
            "state in {}/.stackctl/demo-dev.json",
            p.workdir.display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("== stackctl output load_balancer_url\nhttp://demo-dev-alb"),
        "{stdout}"
    );
    // The emulator's address cannot be opened: the demo says so, and prints no raw log line.
    assert!(
        stdout.contains(
            "== that address is the emulator's made-up load balancer name: it does not resolve"
        ),
        "{stdout}"
    );
    assert!(!stderr.contains(" WARN "), "{stderr}");
    assert!(stdout.contains("== removed "), "{stdout}");
    assert_emulator_gone(&p);
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().collect();
    assert!(left.is_empty(), "the demo left {left:?}");
    // Nothing in the clone: the state went to the temporary directory.
    assert!(!repo().join(".stackctl/demo-dev.json").exists());
}

#[test]
fn demo_with_keep_leaves_the_state_without_secrets_and_stops_moto() {
    let tmp = tempfile::tempdir().unwrap();
    let out = demo(tmp.path())
        .env("KEEP", "1")
        .env("STACKCTL_VAR_db_password", "KeepDemoDbPass-91c2")
        .env("STACKCTL_VAR_admin_password", "KeepDemoAdminPass-7d04")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "demo failed:\n{stdout}");
    let p = printed(&stdout);
    assert!(stdout.contains(&format!("== kept {}", p.workdir.display())));
    assert_emulator_gone(&p);
    let state = std::fs::read_to_string(p.workdir.join(".stackctl/demo-dev.json")).unwrap();
    assert!(state.contains("\"serial\""), "{state}");
    for secret in ["KeepDemoDbPass-91c2", "KeepDemoAdminPass-7d04"] {
        assert!(!state.contains(secret), "the state holds {secret}");
        assert!(!stdout.contains(secret), "the demo printed {secret}");
    }
}

#[test]
fn demo_stopped_by_sigterm_cleans_up() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = demo(tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    // Stop it once stackctl runs, so the signal meets the emulator and the working directory.
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "the demo ended first:\n{seen}"
        );
        seen.push_str(&line);
        if line.starts_with("== stackctl plan") {
            break;
        }
    }
    let p = printed(&seen);
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "{seen}{rest}");
    assert!(rest.contains("== stopped the emulator"), "{rest}");
    assert_emulator_gone(&p);
    assert!(!p.workdir.exists(), "{} is left", p.workdir.display());
}
