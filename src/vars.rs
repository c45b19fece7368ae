//! Input variables: their table, loading from TOML var files, `-var` and the environment, and
//! the checks that catch a bad value before any AWS request is made.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A variable's type, for parsing `-var` strings and checking TOML values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    String,
    Number,
}

/// One entry of the variable table (the seed's `variables.tf`).
pub struct Def {
    pub name: &'static str,
    pub ty: Type,
    pub default: Option<&'static str>,
    /// Its value must never appear in a message, a log or the state.
    pub sensitive: bool,
}

/// The description is documentation only (README's table says the same).
const fn def(
    name: &'static str,
    ty: Type,
    default: Option<&'static str>,
    _description: &'static str,
) -> Def {
    Def {
        name,
        ty,
        default,
        sensitive: false,
    }
}

/// A required, sensitive string variable (a password).
const fn secret(name: &'static str, _description: &'static str) -> Def {
    Def {
        name,
        ty: Type::String,
        default: None,
        sensitive: true,
    }
}

/// Whether `key` names a sensitive variable, whose value no message may show.
pub fn is_sensitive(key: &str) -> bool {
    DEFS.iter().any(|d| d.name == key && d.sensitive)
}

/// Every variable stackctl knows, with the seed's defaults.
pub const DEFS: &[Def] = &[
    def(
        "aws_region",
        Type::String,
        Some("eu-west-3"),
        "AWS region to deploy to",
    ),
    def(
        "project_name",
        Type::String,
        Some("prestashop"),
        "prefix of every resource name",
    ),
    def(
        "environment",
        Type::String,
        Some("dev"),
        "environment (dev, staging, prod); prod keeps a final RDS snapshot",
    ),
    secret(
        "db_password",
        "MySQL master password (8 to 41 characters, no / \" @ or space)",
    ),
    secret("admin_password", "PrestaShop back-office password"),
    def(
        "admin_email",
        Type::String,
        Some("admin@example.com"),
        "PrestaShop back-office login",
    ),
    def(
        "db_instance_class",
        Type::String,
        Some("db.t3.micro"),
        "RDS instance class",
    ),
    def(
        "db_allocated_storage",
        Type::Number,
        Some("20"),
        "RDS storage in GB (20 to 65536)",
    ),
    def(
        "db_engine_version",
        Type::String,
        Some("8.0"),
        "MySQL engine version",
    ),
    def(
        "db_username",
        Type::String,
        Some("prestashop_user"),
        "MySQL master user",
    ),
    def(
        "db_name",
        Type::String,
        Some("prestashop"),
        "MySQL database name",
    ),
    def(
        "ecs_cpu",
        Type::String,
        Some("512"),
        "Fargate task CPU units (256, 512, 1024, 2048, 4096)",
    ),
    def(
        "ecs_memory",
        Type::String,
        Some("1024"),
        "Fargate task memory in MiB, valid for the CPU",
    ),
    def(
        "desired_count",
        Type::Number,
        Some("2"),
        "number of PrestaShop tasks",
    ),
    def(
        "prestashop_image",
        Type::String,
        Some("prestashop/prestashop:latest"),
        "container image",
    ),
    def(
        "log_retention_days",
        Type::Number,
        Some("7"),
        "CloudWatch Logs retention in days",
    ),
];

/// A variable value that must never be printed or stored: Debug and Display show a mask.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<sensitive>")
    }
}

/// The typed, checked variables.
#[derive(Clone, Debug)]
pub struct Vars {
    pub aws_region: String,
    pub project_name: String,
    pub environment: String,
    pub db_password: Secret,
    pub admin_password: Secret,
    pub admin_email: String,
    pub db_instance_class: String,
    pub db_allocated_storage: i64,
    pub db_engine_version: String,
    pub db_username: String,
    pub db_name: String,
    pub ecs_cpu: String,
    pub ecs_memory: String,
    pub desired_count: i64,
    pub prestashop_image: String,
    pub log_retention_days: i64,
}

/// Where a value came from, so an error can point at it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    Flag,
    Env(String),
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(p) => write!(f, "{}", p.display()),
            Origin::Flag => f.write_str("-var"),
            Origin::Env(name) => write!(f, "environment variable {name}"),
            Origin::Default => f.write_str("default"),
        }
    }
}

impl Origin {
    /// `path: ` / `-var: ` before a message; nothing for a default, which has no place to point
    /// at.
    fn prefix(&self) -> String {
        match self {
            Origin::Default => String::new(),
            other => format!("{other}: "),
        }
    }

    /// Where to fix the value of `key`.
    fn fix_hint(&self, key: &str) -> String {
        match self {
            Origin::File(p) => format!("fix `{key}` in {}", p.display()),
            Origin::Flag => format!("fix the -var {key}=... argument"),
            Origin::Env(name) => format!("fix the environment variable {name}"),
            Origin::Default => format!(
                "the default of `{key}` does not fit the other values: set it in a var file or with -var {key}=..."
            ),
        }
    }

    /// How to write a value of this type where the bad one came from.
    fn example(&self, key: &str, ty: Type) -> String {
        let value = if ty == Type::Number { "3" } else { "\"...\"" };
        match self {
            Origin::File(p) => format!("write `{key} = {value}` in {}", p.display()),
            Origin::Flag => format!("write -var {key}={}", value.trim_matches('"')),
            Origin::Env(name) => format!("set {name}={}", value.trim_matches('"')),
            Origin::Default => format!("set {key} with -var {key}=..."),
        }
    }
}

/// A bad variable input, with where it came from and what to do. No message shows the value of
/// a sensitive variable.
#[derive(Debug, thiserror::Error)]
pub enum VarError {
    #[error("cannot read var file {path}: {error}\n  hint: check the path; var files are TOML, for example examples/dev.toml")]
    Read {
        path: PathBuf,
        /// In the message; not named `source`, which `{:#}` would print a second time.
        error: std::io::Error,
    },
    /// The source line is not quoted back: it may hold a password.
    #[error("{path}, line {line}, column {column}{}: not valid TOML: {message}\n  hint: write one `name = value` per line, strings in double quotes, numbers bare, as in examples/dev.toml",
        key.as_ref().map(|k| format!(" (variable `{k}`)")).unwrap_or_default())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        key: Option<String>,
        message: String,
    },
    #[error("{origin}: unknown variable `{key}`{}\n  hint: {}",
        suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default(),
        suggestion.as_ref().map(|s| format!("rename it to `{s}`")).unwrap_or_else(known_names))]
    Unknown {
        origin: Origin,
        key: String,
        suggestion: Option<String>,
    },
    #[error("{}variable `{key}` must be a {}, got {got}\n  hint: {}", origin.prefix(), type_name(*want), origin.example(key, *want))]
    Type {
        origin: Origin,
        key: String,
        want: Type,
        /// The value's type, and the value itself unless the variable is sensitive.
        got: String,
    },
    #[error("-var {arg:?} is not KEY=VALUE\n  hint: write -var desired_count=3")]
    Flag { arg: String },
    #[error("variable `{key}` is required and has no value\n  hint: set it with -var {key}=..., or the environment variable STACKCTL_VAR_{key} (keep passwords out of var files)")]
    Missing { key: String },
    #[error("{}variable `{key}` {rule}\n  hint: {}", origin.prefix(), origin.fix_hint(key))]
    Invalid {
        origin: Origin,
        key: String,
        rule: String,
    },
}

fn type_name(ty: Type) -> &'static str {
    match ty {
        Type::Number => "whole number",
        Type::String => "string",
    }
}

fn known_names() -> String {
    let names: Vec<&str> = DEFS.iter().map(|d| d.name).collect();
    format!("the variables are {}", names.join(", "))
}

/// A value for a type error: its TOML type, and the value itself unless `key` is sensitive.
fn describe(key: &str, value: &toml::Value) -> String {
    if is_sensitive(key) {
        format!(
            "a value of type {} (not shown: sensitive)",
            value.type_str()
        )
    } else {
        format!("{} {value}", value.type_str())
    }
}

/// A `-var` argument without `=`, as it may be quoted back: if it starts with a sensitive
/// variable's name (`db_password:xyz`), what follows may be the password.
fn shown_flag(arg: &str) -> String {
    DEFS.iter()
        .filter(|d| d.sensitive)
        .find(|d| arg.trim_start().starts_with(d.name) && arg.trim() != d.name)
        .map(|d| format!("{}...", d.name))
        .unwrap_or_else(|| arg.to_owned())
}

/// 1-based line and column of byte `offset` in `text`, and the bare key at the start of that
/// line, if any, to name in a syntax error without quoting the line.
fn locate(text: &str, offset: usize) -> (usize, usize, Option<String>) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text
        .get(line_start..offset)
        .map_or(1, |s| s.chars().count() + 1);
    let line_text = text[line_start..].lines().next().unwrap_or_default();
    let key = line_text.split_once('=').and_then(|(k, _)| {
        let k = k.trim();
        (!k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .then(|| k.to_owned())
    });
    (line, column, key)
}

/// Raw values gathered from all sources, before typing and checks.
#[derive(Default)]
pub struct Raw {
    values: BTreeMap<String, (String, Origin)>,
}

impl Raw {
    /// Gather values. Precedence is Terraform's: environment (`STACKCTL_VAR_name`) lowest, then
    /// var files in the order given, then `-var` flags, the last one winning.
    pub fn gather(
        files: &[PathBuf],
        flags: &[String],
        env: impl Iterator<Item = (String, String)>,
    ) -> Result<Raw, VarError> {
        let mut raw = Raw::default();
        for (k, v) in env {
            if let Some(name) = k.strip_prefix("STACKCTL_VAR_") {
                let origin = Origin::Env(k.clone());
                let def = lookup(name, &origin)?;
                raw.values.insert(def.name.to_owned(), (v, origin));
            }
        }
        for path in files {
            raw.load_file(path)?;
        }
        for arg in flags {
            let (k, v) = arg.split_once('=').ok_or_else(|| VarError::Flag {
                arg: shown_flag(arg),
            })?;
            let def = lookup(k.trim(), &Origin::Flag)?;
            raw.values
                .insert(def.name.to_owned(), (v.to_owned(), Origin::Flag));
        }
        Ok(raw)
    }

    fn load_file(&mut self, path: &Path) -> Result<(), VarError> {
        let text = std::fs::read_to_string(path).map_err(|error| VarError::Read {
            path: path.to_owned(),
            error,
        })?;
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let (line, column, key) = locate(&text, e.span().map_or(0, |s| s.start));
            VarError::Syntax {
                path: path.to_owned(),
                line,
                column,
                key,
                message: e.message().trim_end().to_owned(),
            }
        })?;
        let origin = Origin::File(path.to_owned());
        for (key, value) in table {
            let def = lookup(&key, &origin)?;
            // A number for a string is fine (`ecs_cpu = 256`); a float, a boolean, an array or
            // a table is not, nor a float for a whole number (`desired_count = 1.5`).
            let text = match &value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                other => {
                    return Err(VarError::Type {
                        got: describe(&key, other),
                        origin,
                        key,
                        want: def.ty,
                    })
                }
            };
            self.values.insert(key, (text, origin.clone()));
        }
        Ok(())
    }

    /// The project and environment only, for commands that need no passwords (destroy, output)
    /// to find the state file.
    pub fn project_env(&self) -> (String, String) {
        let get = |k: &str| {
            self.values
                .get(k)
                .map(|(v, _)| v.clone())
                .unwrap_or_else(|| default_of(k))
        };
        (get("project_name"), get("environment"))
    }

    pub fn region(&self) -> String {
        self.values
            .get("aws_region")
            .map(|(v, _)| v.clone())
            .unwrap_or_else(|| default_of("aws_region"))
    }

    /// Type and check every variable.
    pub fn check(&self) -> Result<Vars, VarError> {
        let get = |key: &str| -> Result<(String, Origin), VarError> {
            match self.values.get(key) {
                Some(v) => Ok(v.clone()),
                None => match DEFS.iter().find(|d| d.name == key).and_then(|d| d.default) {
                    Some(d) => Ok((d.to_owned(), Origin::Default)),
                    None => Err(VarError::Missing {
                        key: key.to_owned(),
                    }),
                },
            }
        };
        let string = |key: &str| get(key).map(|(v, _)| v);
        let number = |key: &str| -> Result<i64, VarError> {
            let (v, origin) = get(key)?;
            v.trim().parse::<i64>().map_err(|_| VarError::Type {
                got: if is_sensitive(key) {
                    "a value of type string (not shown: sensitive)".to_owned()
                } else {
                    format!("{v:?}")
                },
                origin,
                key: key.to_owned(),
                want: Type::Number,
            })
        };
        let vars = Vars {
            aws_region: string("aws_region")?,
            project_name: string("project_name")?,
            environment: string("environment")?,
            db_password: Secret(string("db_password")?),
            admin_password: Secret(string("admin_password")?),
            admin_email: string("admin_email")?,
            db_instance_class: string("db_instance_class")?,
            db_allocated_storage: number("db_allocated_storage")?,
            db_engine_version: string("db_engine_version")?,
            db_username: string("db_username")?,
            db_name: string("db_name")?,
            ecs_cpu: string("ecs_cpu")?,
            ecs_memory: string("ecs_memory")?,
            desired_count: number("desired_count")?,
            prestashop_image: string("prestashop_image")?,
            log_retention_days: number("log_retention_days")?,
        };
        let origin = |key: &str| get(key).map(|(_, o)| o).unwrap_or(Origin::Default);
        if let Some((key, rule)) = rules(&vars).into_iter().next() {
            return Err(VarError::Invalid {
                origin: origin(key),
                key: key.to_owned(),
                rule,
            });
        }
        Ok(vars)
    }
}

fn default_of(key: &str) -> String {
    DEFS.iter()
        .find(|d| d.name == key)
        .and_then(|d| d.default)
        .unwrap_or_default()
        .to_owned()
}

fn lookup(key: &str, origin: &Origin) -> Result<&'static Def, VarError> {
    DEFS.iter()
        .find(|d| d.name == key)
        .ok_or_else(|| VarError::Unknown {
            origin: origin.clone(),
            key: key.to_owned(),
            suggestion: DEFS
                .iter()
                .map(|d| (strsim::jaro_winkler(key, d.name), d.name))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, n)| n.to_owned()),
        })
}

/// Fargate's valid memory sizes (MiB) for each CPU size.
fn fargate_memory(cpu: &str) -> Option<Vec<i64>> {
    let gb = |from: i64, to: i64, step: i64| {
        (from..=to)
            .step_by(step as usize)
            .map(|g| g * 1024)
            .collect::<Vec<_>>()
    };
    Some(match cpu {
        "256" => vec![512, 1024, 2048],
        "512" => gb(1, 4, 1),
        "1024" => gb(2, 8, 1),
        "2048" => gb(4, 16, 1),
        "4096" => gb(8, 30, 1),
        "8192" => gb(16, 60, 4),
        "16384" => gb(32, 120, 8),
        _ => return None,
    })
}

/// Every rule AWS would enforce later, checked now: (key, what is wrong). Empty when all hold.
fn rules(v: &Vars) -> Vec<(&'static str, String)> {
    let mut bad = Vec::new();
    let mut check = |ok: bool, key: &'static str, rule: String| {
        if !ok {
            bad.push((key, rule));
        }
    };
    let region_ok = {
        let parts: Vec<&str> = v.aws_region.split('-').collect();
        parts.len() >= 3
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            })
            && parts
                .last()
                .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
    };
    check(
        region_ok,
        "aws_region",
        format!(
            "must be an AWS region such as eu-west-3, got {:?}",
            v.aws_region
        ),
    );
    let name_ok = !v.project_name.is_empty()
        && v.project_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        && v.project_name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
        && !v.project_name.ends_with('-')
        // It prefixes the RDS identifier `{project}-db`, where RDS refuses `--`.
        && !v.project_name.contains("--");
    check(
        name_ok,
        "project_name",
        format!(
            "must start with a letter and hold only letters, digits and hyphens, with no two hyphens in a row and none at the end (RDS identifier rule), got {:?}",
            v.project_name
        ),
    );
    // `{project}-alb` and `{project}-tg` are limited to 32 characters by ELBv2;
    // `{project}-ecs-task-execution-role` to 64 by IAM, the tighter of the two.
    check(
        v.project_name.len() <= 28,
        "project_name",
        format!(
            "is {} characters; at most 28 fit in the load balancer name `{}-alb` (ELBv2 allows 32)",
            v.project_name.len(),
            v.project_name
        ),
    );
    let env_ok = !v.environment.is_empty()
        && v.environment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    check(
        env_ok,
        "environment",
        format!(
            "must hold only letters, digits and hyphens, got {:?}",
            v.environment
        ),
    );
    for (key, secret) in [
        ("db_password", &v.db_password),
        ("admin_password", &v.admin_password),
    ] {
        let s = secret.expose();
        check(
            s.chars().count() >= 8,
            key,
            "must be at least 8 characters".into(),
        );
        if key == "db_password" {
            check(
                s.chars().count() <= 41,
                key,
                "must be at most 41 characters (RDS MySQL limit)".into(),
            );
            check(
                !s.chars().any(|c| matches!(c, '/' | '"' | '@' | ' ')),
                key,
                "must not contain / \" @ or a space (RDS MySQL rule)".into(),
            );
            check(
                s.chars().all(|c| c.is_ascii_graphic()),
                key,
                "must hold printable ASCII characters only (RDS MySQL rule)".into(),
            );
        }
    }
    check(
        v.admin_email.contains('@')
            && !v.admin_email.starts_with('@')
            && !v.admin_email.ends_with('@'),
        "admin_email",
        format!("must be an email address, got {:?}", v.admin_email),
    );
    check(
        v.db_instance_class.starts_with("db.") && v.db_instance_class.matches('.').count() == 2,
        "db_instance_class",
        format!(
            "must be an RDS class such as db.t3.micro, got {:?}",
            v.db_instance_class
        ),
    );
    check(
        (20..=65536).contains(&v.db_allocated_storage),
        "db_allocated_storage",
        format!(
            "must be between 20 and 65536 GB for MySQL, got {}",
            v.db_allocated_storage
        ),
    );
    check(
        !v.db_engine_version.is_empty()
            && v.db_engine_version
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.'),
        "db_engine_version",
        format!(
            "must be a MySQL version such as 8.0, got {:?}",
            v.db_engine_version
        ),
    );
    let ident = |s: &str, max: usize| {
        !s.is_empty()
            && s.len() <= max
            && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    check(ident(&v.db_username, 32), "db_username", format!("must start with a letter, hold letters, digits and _ only, 1 to 32 characters, got {:?}", v.db_username));
    check(ident(&v.db_name, 64), "db_name", format!("must start with a letter, hold letters, digits and _ only, 1 to 64 characters, got {:?}", v.db_name));
    match fargate_memory(&v.ecs_cpu) {
        None => check(
            false,
            "ecs_cpu",
            format!(
                "must be one of 256, 512, 1024, 2048, 4096, 8192, 16384, got {:?}",
                v.ecs_cpu
            ),
        ),
        Some(mems) => {
            let ok = v.ecs_memory.parse::<i64>().is_ok_and(|m| mems.contains(&m));
            let list = mems
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            check(
                ok,
                "ecs_memory",
                format!(
                    "must be one of {list} with ecs_cpu = {} (Fargate rule), got {:?}",
                    v.ecs_cpu, v.ecs_memory
                ),
            );
        }
    }
    check(
        (0..=5000).contains(&v.desired_count),
        "desired_count",
        format!("must be between 0 and 5000, got {}", v.desired_count),
    );
    check(
        !v.prestashop_image.trim().is_empty() && !v.prestashop_image.contains(char::is_whitespace),
        "prestashop_image",
        format!(
            "must be a container image reference, got {:?}",
            v.prestashop_image
        ),
    );
    const RETENTION: &[i64] = &[
        1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
        2922, 3288, 3653,
    ];
    check(RETENTION.contains(&v.log_retention_days), "log_retention_days", format!("must be one of CloudWatch's values (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...), got {}", v.log_retention_days));
    bad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(flags: &[&str]) -> Result<Vars, VarError> {
        let mut all = vec!["db_password=Secret123!", "admin_password=Admin456!"];
        all.extend_from_slice(flags);
        let flags: Vec<String> = all.iter().map(|s| s.to_string()).collect();
        Raw::gather(&[], &flags, std::iter::empty())?.check()
    }

    #[test]
    fn defaults_fill_the_rest() {
        let v = check(&[]).unwrap();
        assert_eq!(v.aws_region, "eu-west-3");
        assert_eq!(v.desired_count, 2);
        assert_eq!(v.ecs_cpu, "512");
        assert_eq!(format!("{:?}", v.db_password), "<sensitive>");
    }

    #[test]
    fn unknown_key_suggests_the_closest() {
        let err = check(&["desired_cout=3"]).unwrap_err().to_string();
        assert!(err.contains("did you mean `desired_count`"), "{err}");
    }

    #[test]
    fn later_sources_win_and_env_is_lowest() {
        let env = vec![("STACKCTL_VAR_desired_count".to_owned(), "5".to_owned())];
        let raw = Raw::gather(
            &[],
            &[
                "desired_count=3".into(),
                "db_password=Secret123!".into(),
                "admin_password=Admin456!".into(),
            ],
            env.into_iter(),
        )
        .unwrap();
        assert_eq!(raw.check().unwrap().desired_count, 3);
    }

    #[test]
    fn bad_values_name_the_key_and_rule() {
        for (flag, key) in [
            ("desired_count=-1", "desired_count"),
            ("ecs_memory=512", "ecs_memory"),
            ("db_allocated_storage=10", "db_allocated_storage"),
            ("db_password=has space 123", "db_password"),
            (
                "project_name=a-very-long-project-name-over-28",
                "project_name",
            ),
            ("aws_region=mars", "aws_region"),
            ("log_retention_days=8", "log_retention_days"),
        ] {
            let err = check(&[flag]).unwrap_err().to_string();
            assert!(err.contains(&format!("`{key}`")), "{flag}: {err}");
            assert!(!err.contains("Secret123!"), "{err}");
        }
    }

    fn from_file(content: &str) -> (PathBuf, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, content).unwrap();
        let err = Raw::gather(
            std::slice::from_ref(&path),
            &[
                "db_password=Secret123!".into(),
                "admin_password=Admin456!".into(),
            ],
            std::iter::empty(),
        )
        .and_then(|r| r.check())
        .unwrap_err()
        .to_string();
        (path, err)
    }

    #[test]
    fn syntax_errors_name_file_line_and_key_but_never_quote_the_line() {
        let (path, err) = from_file("desired_count = 1\ndb_password = Unquoted9Zq\n");
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(
            err.contains("line 2, column 15 (variable `db_password`)"),
            "{err}"
        );
        assert!(err.contains("not valid TOML"), "{err}");
        assert!(err.contains("hint:"), "{err}");
        assert!(!err.contains("Unquoted9Zq"), "{err}");
    }

    #[test]
    fn type_errors_are_clear_and_never_show_a_secret() {
        let (path, err) = from_file("desired_count = 1.5\n");
        assert!(
            err.contains(&format!(
                "{}: variable `desired_count` must be a whole number, got float 1.5",
                path.display()
            )),
            "{err}"
        );
        let (_, err) = from_file("db_password = [\"Arr4yPass9Zq\"]\n");
        assert!(
            err.contains("`db_password` must be a string, got a value of type array (not shown"),
            "{err}"
        );
        assert!(!err.contains("Arr4yPass9Zq"), "{err}");
        let (_, err) = from_file("project_name = true\n");
        assert!(err.contains("must be a string, got boolean true"), "{err}");
    }

    #[test]
    fn a_var_without_equals_never_quotes_a_password() {
        let err = check(&["db_password:Colon9Zq"]).unwrap_err().to_string();
        assert!(err.contains("db_password..."), "{err}");
        assert!(!err.contains("Colon9Zq"), "{err}");
        let err = check(&["desired_count"]).unwrap_err().to_string();
        assert!(
            err.contains("-var \"desired_count\" is not KEY=VALUE"),
            "{err}"
        );
    }

    #[test]
    fn every_error_has_a_hint() {
        for flag in [
            "desired_count=x",
            "desired_cout=1",
            "ecs_cpu=1024",
            "aws_region=mars",
        ] {
            let err = check(&[flag]).unwrap_err().to_string();
            assert!(err.contains("\n  hint: "), "{flag}: {err}");
        }
        // The default memory (1024) does not fit 1024 CPU units: the hint says to set it.
        let err = check(&["ecs_cpu=1024"]).unwrap_err().to_string();
        assert!(err.starts_with("variable `ecs_memory`"), "{err}");
        assert!(err.contains("-var ecs_memory="), "{err}");
    }

    #[test]
    fn missing_password_says_how_to_set_it() {
        let err = Raw::gather(&[], &[], std::iter::empty())
            .unwrap()
            .check()
            .unwrap_err()
            .to_string();
        assert!(err.contains("STACKCTL_VAR_db_password"), "{err}");
    }
}
