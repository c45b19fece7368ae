//! checkov, the policy checker that tests/ecosystem.rs runs on JSON plans: where it is (as the
//! test kit finds moto), a run's findings per check and resource type, and the resources it
//! reads out of a plan.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as J;

/// The pinned release; keep in step with scripts/install-checkov.sh.
pub const CHECKOV_VERSION: &str = "3.3.30";

/// The checkov executable: `CHECKOV` if set, else the venv scripts/install-checkov.sh makes,
/// else `checkov` on the PATH.
pub fn checkov_path() -> PathBuf {
    if let Some(p) = std::env::var_os("CHECKOV") {
        return PathBuf::from(p);
    }
    if let Some(home) = std::env::var_os("HOME") {
        let p = PathBuf::from(home).join(format!(
            ".cache/stackctl/checkov-{CHECKOV_VERSION}/bin/checkov"
        ));
        if p.exists() {
            return p;
        }
    }
    PathBuf::from("checkov")
}

/// What one checkov run found.
#[derive(Debug)]
pub struct Findings {
    /// (check id, resource type) -> (passed, failed): resources counted by type, since
    /// stackctl's addresses are inside modules and its names are its own.
    pub results: BTreeMap<(String, String), (usize, usize)>,
    pub resource_count: u64,
    pub parsing_errors: u64,
    pub exit_code: i32,
    pub stderr: String,
}

impl Findings {
    pub fn passed(&self) -> usize {
        self.results.values().map(|r| r.0).sum()
    }

    pub fn failed(&self) -> usize {
        self.results.values().map(|r| r.1).sum()
    }

    /// Checks that ran, counted once per resource they ran on.
    pub fn checks(&self) -> usize {
        self.passed() + self.failed()
    }

    /// The checks that ran on `type_name`.
    pub fn on_type(&self, type_name: &str) -> usize {
        self.results
            .iter()
            .filter(|((_, t), _)| t == type_name)
            .map(|(_, (p, f))| p + f)
            .sum()
    }

    /// No check errored and no file failed to parse: checkov logs an erroring check and its
    /// exception on stderr, and counts files it could not read as parsing errors.
    #[track_caller]
    pub fn assert_clean(&self) {
        assert_eq!(self.parsing_errors, 0, "{}", self.stderr);
        for sign in ["Failed to run check", "Traceback", "ERROR"] {
            assert!(!self.stderr.contains(sign), "checkov: {}", self.stderr);
        }
        assert!(
            self.exit_code == 0 || self.exit_code == 1,
            "checkov exited {}: {}",
            self.exit_code,
            self.stderr
        );
    }
}

/// The resource type of a checkov `resource`: `module.ecs.aws_ecs_service.main` and
/// `aws_efs_mount_target.main["subnet-1"]` are resources of their type; a provider's check
/// names `aws.default`, the provider.
pub fn resource_type(resource: &str) -> String {
    let base = resource.split('[').next().unwrap_or(resource);
    let parts: Vec<&str> = base.split('.').collect();
    parts[parts.len().saturating_sub(2)].to_owned()
}

/// Run checkov on a plan file (`-f`) or a directory (`-d`) of them, terraform_plan framework
/// only, offline, JSON out.
pub fn checkov(flag: &str, target: &Path) -> Findings {
    let out = Command::new(checkov_path())
        .args([flag])
        .arg(target)
        .args([
            "--framework",
            "terraform_plan",
            "-o",
            "json",
            "--skip-download",
        ])
        .env("LOG_LEVEL", "WARNING")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}): run scripts/install-checkov.sh, or set CHECKOV",
                checkov_path().display()
            )
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc: J = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("checkov's output is not JSON ({e}):\n{stdout}\n{stderr}"));
    // Nothing found is a bare summary; several frameworks would be a list of reports.
    let report = match doc {
        J::Array(mut reports) => {
            assert_eq!(reports.len(), 1, "one framework asked for");
            reports.remove(0)
        }
        other => other,
    };
    let summary = report.get("summary").unwrap_or(&report);
    let mut results: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    for (key, passed) in [("passed_checks", true), ("failed_checks", false)] {
        let checks = report["results"][key]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for c in checks {
            let id = c["check_id"].as_str().unwrap_or_default().to_owned();
            let t = resource_type(c["resource"].as_str().unwrap_or_default());
            let e = results.entry((id, t)).or_default();
            if passed {
                e.0 += 1
            } else {
                e.1 += 1
            }
        }
    }
    Findings {
        results,
        resource_count: summary["resource_count"].as_u64().unwrap_or(0),
        parsing_errors: summary["parsing_errors"].as_u64().unwrap_or(0),
        exit_code: out.status.code().unwrap_or(-1),
        stderr,
    }
}

/// The resources checkov reads out of a plan, by type, sorted: its own plan parser's
/// (`checkov.terraform.plan_parser`), run by checkov's Python, so that a resource no check
/// applies to (a mount target) counts too.
pub fn resource_types(plan: &Path) -> Vec<String> {
    let script = r#"
import json, sys
from checkov.terraform.plan_parser import parse_tf_plan
definitions, _ = parse_tf_plan(sys.argv[1], {})
types = [t for block in (definitions or {}).get("resource", []) for t in block]
print(json.dumps(sorted(types)))
"#;
    let out = Command::new(checkov_python())
        .arg("-c")
        .arg(script)
        .arg(plan)
        .output()
        .expect("run checkov's python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON list of types")
}

/// The Python checkov runs with: its executable's `#!` line, as pip writes it.
fn checkov_python() -> PathBuf {
    let path = checkov_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let line = text.lines().next().unwrap_or_default();
    let interpreter = line
        .strip_prefix("#!")
        .map(str::trim)
        .filter(|i| !i.is_empty() && !i.contains(' '))
        .unwrap_or_else(|| panic!("{}: no #! line naming its python", path.display()));
    PathBuf::from(interpreter)
}
