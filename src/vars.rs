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
    /// `true` or `false`: a TOML boolean, or those words from `-var` and the environment.
    Bool,
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
        "environment (dev, staging, prod); prod keeps a final RDS snapshot; second part of every name",
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
        Some("8.4"),
        "MySQL engine version (8.0 costs RDS extended support since 2026-07-31)",
    ),
    def(
        "db_username",
        Type::String,
        Some("prestashop_user"),
        "MySQL master user (1 to 16 characters)",
    ),
    def(
        "db_name",
        Type::String,
        Some("prestashop"),
        "MySQL database name",
    ),
    def(
        "apply_immediately",
        Type::Bool,
        Some("false"),
        "apply RDS class, storage and engine changes now, with an outage, instead of in the maintenance window",
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
        "CloudWatch Logs retention in days (0: never expire)",
    ),
];

/// Every region stackctl accepts: (code, partition, name). A region that does not exist would
/// only fail at the first AWS request, after the lock is taken, with a DNS error that does not
/// name the variable; a typo such as `eu-west-33` is caught here instead. The list is the AWS
/// SDK's partition table (aws-sdk-* `endpoint_lib`, 2026) for the three partitions stackctl
/// builds ARNs for; the isolated partitions (`aws-iso*`) and the European Sovereign Cloud
/// (`aws-eusc`) are left out. A region AWS opens later needs a new row here, hence a new
/// release. README's table of variables lists the same regions.
pub const REGIONS: &[(&str, &str, &str)] = &[
    ("us-east-1", "aws", "US East (N. Virginia)"),
    ("us-east-2", "aws", "US East (Ohio)"),
    ("us-west-1", "aws", "US West (N. California)"),
    ("us-west-2", "aws", "US West (Oregon)"),
    ("af-south-1", "aws", "Africa (Cape Town)"),
    ("ap-east-1", "aws", "Asia Pacific (Hong Kong)"),
    ("ap-east-2", "aws", "Asia Pacific (Taipei)"),
    ("ap-northeast-1", "aws", "Asia Pacific (Tokyo)"),
    ("ap-northeast-2", "aws", "Asia Pacific (Seoul)"),
    ("ap-northeast-3", "aws", "Asia Pacific (Osaka)"),
    ("ap-south-1", "aws", "Asia Pacific (Mumbai)"),
    ("ap-south-2", "aws", "Asia Pacific (Hyderabad)"),
    ("ap-southeast-1", "aws", "Asia Pacific (Singapore)"),
    ("ap-southeast-2", "aws", "Asia Pacific (Sydney)"),
    ("ap-southeast-3", "aws", "Asia Pacific (Jakarta)"),
    ("ap-southeast-4", "aws", "Asia Pacific (Melbourne)"),
    ("ap-southeast-5", "aws", "Asia Pacific (Malaysia)"),
    ("ap-southeast-6", "aws", "Asia Pacific (New Zealand)"),
    ("ap-southeast-7", "aws", "Asia Pacific (Thailand)"),
    ("ca-central-1", "aws", "Canada (Central)"),
    ("ca-west-1", "aws", "Canada West (Calgary)"),
    ("eu-central-1", "aws", "Europe (Frankfurt)"),
    ("eu-central-2", "aws", "Europe (Zurich)"),
    ("eu-north-1", "aws", "Europe (Stockholm)"),
    ("eu-south-1", "aws", "Europe (Milan)"),
    ("eu-south-2", "aws", "Europe (Spain)"),
    ("eu-west-1", "aws", "Europe (Ireland)"),
    ("eu-west-2", "aws", "Europe (London)"),
    ("eu-west-3", "aws", "Europe (Paris)"),
    ("il-central-1", "aws", "Israel (Tel Aviv)"),
    ("me-central-1", "aws", "Middle East (UAE)"),
    ("me-south-1", "aws", "Middle East (Bahrain)"),
    ("mx-central-1", "aws", "Mexico (Central)"),
    ("sa-east-1", "aws", "South America (Sao Paulo)"),
    ("cn-north-1", "aws-cn", "China (Beijing)"),
    ("cn-northwest-1", "aws-cn", "China (Ningxia)"),
    ("us-gov-east-1", "aws-us-gov", "AWS GovCloud (US-East)"),
    ("us-gov-west-1", "aws-us-gov", "AWS GovCloud (US-West)"),
];

/// The ARN partition of `region`: `aws`, `aws-cn` or `aws-us-gov`. A checked region is always
/// in [`REGIONS`]; any other string gets the partition its prefix implies, so a caller never
/// needs to handle a failure.
pub fn partition_of(region: &str) -> &'static str {
    match REGIONS.iter().find(|(code, _, _)| *code == region) {
        Some((_, partition, _)) => partition,
        None if region.starts_with("cn-") => "aws-cn",
        None if region.starts_with("us-gov-") => "aws-us-gov",
        None => "aws",
    }
}

/// The known region closest to a refused one, if one is close enough to be the intended one
/// (`eu-west-33` -> `eu-west-3`).
fn closest_region(region: &str) -> Option<&'static str> {
    let region = region.trim().to_ascii_lowercase();
    REGIONS
        .iter()
        .map(|(code, _, _)| (strsim::jaro_winkler(&region, code), *code))
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, code)| code)
}

/// The longest `{project_name}-{environment}` prefix. The tightest AWS limit on a name built
/// from it is the load balancer name `{prefix}-alb`: 32 characters for ELBv2, so 28. The others
/// are looser: the target group `{prefix}-tg` (ELBv2, 32), the EFS creation token
/// `{prefix}-efs` (64), the RDS identifier `{prefix}-db` (63), the IAM role
/// `{prefix}-ecs-task-execution-role` (64), security groups, the ECS cluster and service, the
/// secrets and the log group `/ecs/{prefix}` (255 or more).
pub const MAX_PREFIX: usize = 28;

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
    /// Terraform's `apply_immediately` for the database: without it, changes that restart it
    /// wait for its maintenance window.
    pub apply_immediately: bool,
    pub ecs_cpu: String,
    pub ecs_memory: String,
    pub desired_count: i64,
    pub prestashop_image: String,
    pub log_retention_days: i64,
}

impl Vars {
    /// `{project_name}-{environment}`: the start of every AWS name, so that two environments of
    /// one project can live in one account without their names colliding.
    pub fn name_prefix(&self) -> String {
        format!("{}-{}", self.project_name, self.environment)
    }

    /// Values that are valid but probably not wanted, for the commands to print as
    /// `Warning: ...` without failing.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        let version = self.db_engine_version.as_str();
        if version == "8.0" || version.starts_with("8.0.") {
            warnings.push(format!(
                "db_engine_version {version}: MySQL 8.0 left RDS standard support on 2026-07-31; RDS now bills extended support for it. Use 8.4 unless you must stay on 8.0."
            ));
        }
        warnings
    }
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
        let value = match ty {
            Type::Number => "3",
            Type::Bool => "true",
            Type::String => "\"...\"",
        };
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
    /// `rule` is one or more rules of this key, joined; never the value of a sensitive key.
    #[error("{}variable `{key}` {rule}\n  hint: {}{}", origin.prefix(), origin.fix_hint(key), more_hint(key))]
    Invalid {
        origin: Origin,
        key: String,
        rule: String,
    },
    /// Two variables together: each is valid alone, but every AWS name starts with both.
    #[error("variables `project_name` and `environment` make the name prefix {prefix:?}, {} characters; at most {MAX_PREFIX} fit in the load balancer name `{prefix}-alb` (ELBv2 allows 32)\n  hint: shorten project_name ({project}) or environment ({environment}): every AWS name starts with project_name-environment", prefix.chars().count())]
    Prefix {
        prefix: String,
        /// Where each of the two values came from.
        project: Origin,
        environment: Origin,
    },
    /// A bad `[backend]` table (src/engine/backend): the file, the setting, what to do.
    #[error("{}: {message}\n  hint: {hint}", path.display())]
    Backend {
        path: PathBuf,
        message: String,
        hint: String,
    },
    /// Several of the errors above, all reported by one run rather than one per run.
    #[error("{}", list(.0))]
    Many(Vec<VarError>),
}

impl VarError {
    /// `Ok` for no error, the error itself for one (its message unchanged), `Many` for more.
    fn all(errors: Vec<VarError>) -> Result<(), VarError> {
        let mut flat = Vec::new();
        for e in errors {
            match e {
                VarError::Many(inner) => flat.extend(inner),
                other => flat.push(other),
            }
        }
        match flat.len() {
            0 => Ok(()),
            1 => Err(flat.remove(0)),
            _ => Err(VarError::Many(flat)),
        }
    }

    /// The variable the error is about, if it is about one, to sort and de-duplicate.
    fn key(&self) -> Option<&str> {
        match self {
            VarError::Unknown { key, .. }
            | VarError::Type { key, .. }
            | VarError::Missing { key }
            | VarError::Invalid { key, .. } => Some(key),
            VarError::Syntax { key, .. } => key.as_deref(),
            VarError::Prefix { .. } => Some("project_name"),
            VarError::Read { .. }
            | VarError::Flag { .. }
            | VarError::Backend { .. }
            | VarError::Many(_) => None,
        }
    }
}

/// Each error with its own hint, a blank line between them, and the count last.
fn list(errors: &[VarError]) -> String {
    let each: Vec<String> = errors.iter().map(ToString::to_string).collect();
    format!(
        "{}\n\n{} problems in the variables",
        each.join("\n\n"),
        errors.len()
    )
}

/// What a key's hint says beyond where to fix it.
fn more_hint(key: &str) -> &'static str {
    match key {
        "aws_region" => "; README.md's table of variables lists the regions this stackctl knows (`stackctl validate` checks against the same list); a region AWS opened after this release needs a newer stackctl",
        _ => "",
    }
}

fn type_name(ty: Type) -> &'static str {
    match ty {
        Type::Number => "whole number",
        Type::String => "string",
        Type::Bool => "boolean (true or false)",
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
    /// The `[backend]` table of the last var file that has one: where the state is kept, not
    /// a variable of the stack.
    pub backend: Option<crate::engine::backend::BackendConfig>,
}

impl Raw {
    /// Gather values. Precedence is Terraform's: environment (`STACKCTL_VAR_name`) lowest, then
    /// var files in the order given, then `-var` flags, the last one winning. Every unreadable
    /// file, unknown name, wrong type and malformed `-var` is reported together.
    pub fn gather(
        files: &[PathBuf],
        flags: &[String],
        env: impl Iterator<Item = (String, String)>,
    ) -> Result<Raw, VarError> {
        let mut raw = Raw::default();
        let mut errors = Vec::new();
        // Sorted, so that errors come in the same order on every run.
        let mut env: Vec<(String, String)> = env
            .filter(|(k, _)| k.starts_with("STACKCTL_VAR_"))
            .collect();
        env.sort();
        for (k, v) in env {
            let origin = Origin::Env(k.clone());
            match lookup(&k["STACKCTL_VAR_".len()..], &origin) {
                Ok(def) => {
                    raw.values.insert(def.name.to_owned(), (v, origin));
                }
                Err(e) => errors.push(e),
            }
        }
        for path in files {
            raw.load_file(path, &mut errors);
        }
        for arg in flags {
            let Some((k, v)) = arg.split_once('=') else {
                errors.push(VarError::Flag {
                    arg: shown_flag(arg),
                });
                continue;
            };
            match lookup(k.trim(), &Origin::Flag) {
                Ok(def) => {
                    raw.values
                        .insert(def.name.to_owned(), (v.to_owned(), Origin::Flag));
                }
                Err(e) => errors.push(e),
            }
        }
        VarError::all(errors)?;
        Ok(raw)
    }

    /// Load one var file, adding what is wrong with it to `errors`. A file that cannot be read
    /// or parsed is one error; otherwise every bad key in it is one.
    fn load_file(&mut self, path: &Path, errors: &mut Vec<VarError>) {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                errors.push(VarError::Read {
                    path: path.to_owned(),
                    error,
                });
                return;
            }
        };
        let table: toml::Table = match text.parse() {
            Ok(table) => table,
            Err(e) => {
                let e: toml::de::Error = e;
                let (line, column, key) = locate(&text, e.span().map_or(0, |s| s.start));
                errors.push(VarError::Syntax {
                    path: path.to_owned(),
                    line,
                    column,
                    key,
                    message: e.message().trim_end().to_owned(),
                });
                return;
            }
        };
        let origin = Origin::File(path.to_owned());
        for (key, value) in table {
            if key == "backend" {
                match crate::engine::backend::BackendConfig::parse(path, &value) {
                    Ok(config) => self.backend = Some(config),
                    Err(e) => errors.extend(e),
                }
                continue;
            }
            let def = match lookup(&key, &origin) {
                Ok(def) => def,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            // A number for a string is fine (`ecs_cpu = 256`); a float, a boolean, an array or
            // a table is not, nor a float for a whole number (`desired_count = 1.5`). A boolean
            // takes `true`, `false`, or those words quoted, as `-var` gives them.
            let text = match (&value, def.ty) {
                (toml::Value::String(s), _) => s.clone(),
                (toml::Value::Integer(i), Type::String | Type::Number) => i.to_string(),
                (toml::Value::Boolean(b), Type::Bool) => b.to_string(),
                (other, _) => {
                    errors.push(VarError::Type {
                        got: describe(&key, other),
                        origin: origin.clone(),
                        key,
                        want: def.ty,
                    });
                    continue;
                }
            };
            self.values.insert(key, (text, origin.clone()));
        }
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

    /// The value of `key` and where it came from, if a var file, a flag or the environment set
    /// it (a default is not "given").
    pub fn given(&self, key: &str) -> Option<(String, String)> {
        self.values
            .get(key)
            .map(|(v, origin)| (v.clone(), origin.to_string()))
    }

    pub fn region(&self) -> String {
        self.values
            .get("aws_region")
            .map(|(v, _)| v.clone())
            .unwrap_or_else(|| default_of("aws_region"))
    }

    /// Type and check every variable, reporting every bad one at once.
    pub fn check(&self) -> Result<Vars, VarError> {
        let mut errors = Vec::new();
        // A missing or mistyped value gets a stand-in so the other checks still run; the rules
        // of its key are dropped below, since its own error says more.
        let e = &mut errors;
        let vars = Vars {
            aws_region: self.string("aws_region", e),
            project_name: self.string("project_name", e),
            environment: self.string("environment", e),
            db_password: Secret(self.string("db_password", e)),
            admin_password: Secret(self.string("admin_password", e)),
            admin_email: self.string("admin_email", e),
            db_instance_class: self.string("db_instance_class", e),
            db_allocated_storage: self.number("db_allocated_storage", e),
            db_engine_version: self.string("db_engine_version", e),
            db_username: self.string("db_username", e),
            db_name: self.string("db_name", e),
            apply_immediately: self.boolean("apply_immediately", e),
            ecs_cpu: self.string("ecs_cpu", e),
            ecs_memory: self.string("ecs_memory", e),
            desired_count: self.number("desired_count", e),
            prestashop_image: self.string("prestashop_image", e),
            log_retention_days: self.number("log_retention_days", e),
        };
        let failed: Vec<String> = errors
            .iter()
            .filter_map(|e| e.key().map(str::to_owned))
            .collect();
        let origin = |key: &str| {
            self.values
                .get(key)
                .map_or(Origin::Default, |(_, o)| o.clone())
        };
        // One error per key, with all its broken rules.
        let mut by_key: Vec<(&'static str, Vec<String>)> = Vec::new();
        for problem in rules(&vars) {
            match problem {
                Problem::Rule(key, _) if failed.iter().any(|f| f == key) => {}
                Problem::Rule(key, rule) => match by_key.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, rules)) => rules.push(rule),
                    None => by_key.push((key, vec![rule])),
                },
                Problem::Prefix(prefix) => errors.push(VarError::Prefix {
                    prefix,
                    project: origin("project_name"),
                    environment: origin("environment"),
                }),
            }
        }
        errors.extend(by_key.into_iter().map(|(key, rules)| VarError::Invalid {
            origin: origin(key),
            key: key.to_owned(),
            rule: rules.join(", and "),
        }));
        // In the table's order, whatever check found them.
        errors.sort_by_key(|e| {
            e.key()
                .and_then(|k| DEFS.iter().position(|d| d.name == k))
                .unwrap_or(usize::MAX)
        });
        VarError::all(errors)?;
        Ok(vars)
    }

    /// The value of `key` and where it came from, its default if it has one; `None` if it is
    /// required and has no value.
    fn get(&self, key: &str) -> Option<(String, Origin)> {
        match self.values.get(key) {
            Some(v) => Some(v.clone()),
            None => DEFS
                .iter()
                .find(|d| d.name == key)
                .and_then(|d| d.default)
                .map(|d| (d.to_owned(), Origin::Default)),
        }
    }

    /// A string variable; an empty stand-in if it is missing, with the error in `errors`.
    fn string(&self, key: &str, errors: &mut Vec<VarError>) -> String {
        match self.get(key) {
            Some((v, _)) => v,
            None => {
                errors.push(VarError::Missing {
                    key: key.to_owned(),
                });
                String::new()
            }
        }
    }

    /// A whole-number variable; a stand-in 0 if it is missing or not a number, with the error
    /// in `errors`.
    fn number(&self, key: &str, errors: &mut Vec<VarError>) -> i64 {
        let Some((v, origin)) = self.get(key) else {
            errors.push(VarError::Missing {
                key: key.to_owned(),
            });
            return 0;
        };
        v.trim().parse::<i64>().unwrap_or_else(|_| {
            errors.push(VarError::Type {
                got: if is_sensitive(key) {
                    "a value of type string (not shown: sensitive)".to_owned()
                } else {
                    format!("{v:?}")
                },
                origin,
                key: key.to_owned(),
                want: Type::Number,
            });
            0
        })
    }

    /// A boolean variable: `true` or `false`; a stand-in `false` (the safe choice: nothing
    /// restarts) if it is neither, with the error in `errors`.
    fn boolean(&self, key: &str, errors: &mut Vec<VarError>) -> bool {
        let Some((v, origin)) = self.get(key) else {
            errors.push(VarError::Missing {
                key: key.to_owned(),
            });
            return false;
        };
        match v.trim() {
            "true" => true,
            "false" => false,
            _ => {
                errors.push(VarError::Type {
                    got: format!("{v:?}"),
                    origin,
                    key: key.to_owned(),
                    want: Type::Bool,
                });
                false
            }
        }
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

/// One broken rule, found by [`rules`].
enum Problem {
    /// (key, what is wrong with its value).
    Rule(&'static str, String),
    /// `{project_name}-{environment}`, too long for the names built from it.
    Prefix(String),
}

/// A name that goes into the RDS identifier `{prefix}-db`: a letter first, then letters, digits
/// and single hyphens, no hyphen last (RDS's rules). Upper case is allowed: the modules lowercase
/// the names that need it.
fn name_ok(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// Every rule AWS would enforce later, checked now. Empty when all hold.
fn rules(v: &Vars) -> Vec<Problem> {
    let mut bad = Vec::new();
    // Every AWS name starts with the prefix; the tightest limit is MAX_PREFIX's.
    let prefix = v.name_prefix();
    if prefix.chars().count() > MAX_PREFIX {
        bad.push(Problem::Prefix(prefix));
    }
    let mut check = |ok: bool, key: &'static str, rule: String| {
        if !ok {
            bad.push(Problem::Rule(key, rule));
        }
    };
    check(
        REGIONS.iter().any(|(code, _, _)| *code == v.aws_region),
        "aws_region",
        format!(
            "must be an AWS region such as eu-west-3, got {:?}{}",
            v.aws_region,
            closest_region(&v.aws_region)
                .map(|r| format!("; did you mean `{r}`?"))
                .unwrap_or_default()
        ),
    );
    for (key, value) in [
        ("project_name", &v.project_name),
        ("environment", &v.environment),
    ] {
        check(
            name_ok(value),
            key,
            format!(
                "must start with a letter and hold only letters, digits and hyphens, with no two hyphens in a row and none at the end (RDS identifier rule), got {value:?}",
            ),
        );
    }
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
            "must be a MySQL version such as 8.4, got {:?}",
            v.db_engine_version
        ),
    );
    let ident = |s: &str, max: usize| {
        !s.is_empty()
            && s.len() <= max
            && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    // RDS for MySQL: the master user name is 1 to 16 characters.
    check(ident(&v.db_username, 16), "db_username", format!("must start with a letter, hold letters, digits and _ only, 1 to 16 characters (RDS MySQL master user), got {:?}", v.db_username));
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
    // 0 is "never expire", as in Terraform: the log group keeps no retention policy.
    const RETENTION: &[i64] = &[
        0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
        2922, 3288, 3653,
    ];
    check(RETENTION.contains(&v.log_retention_days), "log_retention_days", format!("must be 0 (never expire) or one of CloudWatch's values (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...), got {}", v.log_retention_days));
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
            ("environment=2024", "environment"),
            ("db_username=abcdefghijklmnopq", "db_username"),
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

    #[test]
    fn one_bad_value_keeps_its_single_message() {
        let err = check(&["desired_count=-1"]).unwrap_err().to_string();
        assert_eq!(
            err,
            "-var: variable `desired_count` must be between 0 and 5000, got -1\n  hint: fix the -var desired_count=... argument"
        );
    }

    #[test]
    fn every_bad_value_is_reported_in_one_run() {
        let err = check(&[
            "aws_region=eu-west-33",
            "db_username=abcdefghijklmnopq",
            "db_password=short",
        ])
        .unwrap_err();
        assert!(
            matches!(&err, VarError::Many(all) if all.len() == 3),
            "{err:?}"
        );
        let err = err.to_string();
        for key in ["`aws_region`", "`db_username`", "`db_password`"] {
            assert!(err.contains(key), "{key}: {err}");
        }
        // Each keeps its hint; in the table's order; the count comes last.
        assert_eq!(err.matches("\n  hint: ").count(), 3, "{err}");
        let at = |s: &str| err.find(s).unwrap();
        assert!(at("`aws_region`") < at("`db_password`"), "{err}");
        assert!(at("`db_password`") < at("`db_username`"), "{err}");
        assert!(err.ends_with("\n\n3 problems in the variables"), "{err}");
        assert!(!err.contains("short"), "{err}");
    }

    #[test]
    fn all_broken_rules_of_one_key_make_one_error() {
        let err = check(&["db_password=a/b"]).unwrap_err().to_string();
        assert!(
            err.contains("must be at least 8 characters, and must not contain / \" @"),
            "{err}"
        );
        assert_eq!(err.matches("hint:").count(), 1, "{err}");
        assert!(!err.contains("a/b"), "{err}");
    }

    #[test]
    fn both_missing_passwords_are_reported_together() {
        let err = Raw::gather(&[], &[], std::iter::empty())
            .unwrap()
            .check()
            .unwrap_err()
            .to_string();
        assert!(err.contains("variable `db_password` is required"), "{err}");
        assert!(
            err.contains("variable `admin_password` is required"),
            "{err}"
        );
        assert!(err.ends_with("2 problems in the variables"), "{err}");
    }

    #[test]
    fn a_missing_password_and_a_bad_value_are_reported_together() {
        let flags = [
            "admin_password=Admin456!".to_owned(),
            "ecs_cpu=300".to_owned(),
        ];
        let err = Raw::gather(&[], &flags, std::iter::empty())
            .unwrap()
            .check()
            .unwrap_err()
            .to_string();
        assert!(err.contains("`db_password` is required"), "{err}");
        assert!(err.contains("`ecs_cpu` must be one of"), "{err}");
        // The stand-in empty password breaks no rule of its own: it is only "required".
        assert!(!err.contains("at least 8"), "{err}");
        assert!(err.ends_with("2 problems in the variables"), "{err}");
    }

    #[test]
    fn number_type_errors_are_reported_together() {
        let err = check(&["desired_count=x", "log_retention_days=a week"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`desired_count` must be a whole number, got \"x\""),
            "{err}"
        );
        assert!(
            err.contains("`log_retention_days` must be a whole number, got \"a week\""),
            "{err}"
        );
        // The stand-in 0 is not also reported as out of range.
        assert!(!err.contains("CloudWatch"), "{err}");
        assert!(err.ends_with("2 problems in the variables"), "{err}");
    }

    #[test]
    fn gather_reports_every_bad_key_of_every_source() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("two.toml");
        std::fs::write(&path, "desired_cout = 1\nproject_name = true\n").unwrap();
        let env = vec![("STACKCTL_VAR_regoin".to_owned(), "x".to_owned())];
        let err = Raw::gather(
            std::slice::from_ref(&path),
            &["db_pasword=Hidden9Zq".into(), "desired_count".into()],
            env.into_iter(),
        )
        .err()
        .unwrap()
        .to_string();
        for part in [
            "STACKCTL_VAR_regoin: unknown variable `regoin`",
            "unknown variable `desired_cout`",
            "`project_name` must be a string",
            "-var: unknown variable `db_pasword`",
            "-var \"desired_count\" is not KEY=VALUE",
            "5 problems in the variables",
        ] {
            assert!(err.contains(part), "{part}: {err}");
        }
        assert!(!err.contains("Hidden9Zq"), "{err}");
    }

    #[test]
    fn regions_that_do_not_exist_are_refused_naming_the_closest() {
        let err = check(&["aws_region=eu-west-33"]).unwrap_err().to_string();
        assert!(
            err.starts_with("-var: variable `aws_region` must be an AWS region such as eu-west-3, got \"eu-west-33\"; did you mean `eu-west-3`?"),
            "{err}"
        );
        assert!(err.contains("README.md"), "{err}");
        assert!(err.contains("needs a newer stackctl"), "{err}");
        let err = check(&["aws_region=mars-north-1"]).unwrap_err().to_string();
        assert!(err.contains("`aws_region`"), "{err}");
        assert!(err.contains("\"mars-north-1\""), "{err}");
        let err = check(&["aws_region=EU-WEST-3"]).unwrap_err().to_string();
        assert!(err.contains("did you mean `eu-west-3`?"), "{err}");
        let err = check(&["aws_region=banana"]).unwrap_err().to_string();
        assert!(!err.contains("did you mean"), "{err}");
    }

    #[test]
    fn every_known_region_is_accepted_with_its_partition() {
        for (region, partition, _) in REGIONS {
            let flag = format!("aws_region={region}");
            let v = check(&[&flag]).unwrap();
            assert_eq!(partition_of(&v.aws_region), *partition);
        }
        for new in [
            "ap-southeast-5",
            "ap-southeast-6",
            "ap-southeast-7",
            "mx-central-1",
            "ap-east-2",
        ] {
            assert!(REGIONS.iter().any(|(r, _, _)| r == &new), "{new}");
        }
        assert_eq!(partition_of("eu-west-3"), "aws");
        assert_eq!(partition_of("cn-northwest-1"), "aws-cn");
        assert_eq!(partition_of("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_of("cn-south-9"), "aws-cn");
        assert_eq!(partition_of(""), "aws");
    }

    #[test]
    fn db_username_is_at_most_16_characters() {
        let v = check(&["db_username=abcdefghijklmnop"]).unwrap();
        assert_eq!(v.db_username.len(), 16);
        let err = check(&["db_username=abcdefghijklmnopq"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`db_username`"), "{err}");
        assert!(err.contains("1 to 16 characters"), "{err}");
    }

    #[test]
    fn the_name_prefix_holds_both_and_is_at_most_28_characters() {
        let v = check(&[]).unwrap();
        assert_eq!(v.name_prefix(), "prestashop-dev");
        // 24 + "-" + 3 = 28: fits.
        let v = check(&["project_name=abcdefghijklmnopqrstuvwx"]).unwrap();
        assert_eq!(v.name_prefix().len(), 28);
        // 25 + "-" + 3 = 29.
        let err = check(&["project_name=abcdefghijklmnopqrstuvwxy"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`project_name` and `environment`"), "{err}");
        assert!(err.contains("29 characters; at most 28"), "{err}");
        assert!(
            err.contains("project_name (-var) or environment (default)"),
            "{err}"
        );
        // The environment alone can make it too long.
        let err = check(&["environment=a-very-long-environment-name"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`environment`"), "{err}");
        assert!(err.contains("at most 28"), "{err}");
    }

    #[test]
    fn environment_follows_the_project_name_rules() {
        for bad in ["", "2024", "dev-", "dev--1", "dev_1", "dév"] {
            let flag = format!("environment={bad}");
            let err = check(&[&flag]).unwrap_err().to_string();
            assert!(
                err.contains("variable `environment` must start with a letter"),
                "{bad}: {err}"
            );
        }
        for good in ["prod", "Staging", "qa-2"] {
            let flag = format!("environment={good}");
            assert!(check(&[&flag]).is_ok(), "{good}");
        }
    }

    #[test]
    fn apply_immediately_is_a_boolean_off_by_default() {
        assert!(!check(&[]).unwrap().apply_immediately);
        assert!(
            check(&["apply_immediately=true"])
                .unwrap()
                .apply_immediately
        );
        assert!(
            !check(&["apply_immediately=false"])
                .unwrap()
                .apply_immediately
        );
        let err = check(&["apply_immediately=yes"]).unwrap_err().to_string();
        assert_eq!(
            err,
            "-var: variable `apply_immediately` must be a boolean (true or false), got \"yes\"\n  hint: write -var apply_immediately=true"
        );
        let env = vec![(
            "STACKCTL_VAR_apply_immediately".to_owned(),
            "true".to_owned(),
        )];
        let flags = [
            "db_password=Secret123!".into(),
            "admin_password=Admin456!".into(),
        ];
        let raw = Raw::gather(&[], &flags, env.into_iter()).unwrap();
        assert!(raw.check().unwrap().apply_immediately);
    }

    #[test]
    fn apply_immediately_in_a_var_file_takes_a_toml_boolean() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prod.toml");
        let flags = [
            "db_password=Secret123!".into(),
            "admin_password=Admin456!".into(),
        ];
        let load = |text: &str| {
            std::fs::write(&path, text).unwrap();
            Raw::gather(std::slice::from_ref(&path), &flags, std::iter::empty())
                .and_then(|r| r.check())
        };
        assert!(
            load("apply_immediately = true\n")
                .unwrap()
                .apply_immediately
        );
        assert!(
            !load("apply_immediately = \"false\"\n")
                .unwrap()
                .apply_immediately
        );
        let err = load("apply_immediately = 1\n").unwrap_err().to_string();
        assert!(
            err.contains("`apply_immediately` must be a boolean (true or false), got integer 1"),
            "{err}"
        );
        assert!(err.contains("write `apply_immediately = true` in"), "{err}");
        // And a boolean is still no string.
        let err = load("db_name = true\n").unwrap_err().to_string();
        assert!(err.contains("`db_name` must be a string"), "{err}");
    }

    #[test]
    fn mysql_8_0_is_valid_with_a_warning() {
        let v = check(&[]).unwrap();
        assert_eq!(v.db_engine_version, "8.4");
        assert!(v.warnings().is_empty());
        for version in ["8.0", "8.0.39"] {
            let flag = format!("db_engine_version={version}");
            let w = check(&[&flag]).unwrap().warnings();
            assert_eq!(w.len(), 1, "{version}");
            assert!(w[0].starts_with(&format!("db_engine_version {version}: MySQL 8.0 left RDS standard support on 2026-07-31")), "{w:?}");
            assert!(w[0].contains("Use 8.4"), "{w:?}");
        }
        assert!(check(&["db_engine_version=8.4.3"])
            .unwrap()
            .warnings()
            .is_empty());
    }
}
