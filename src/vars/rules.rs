//! The rules AWS would enforce later, checked before any request: each returns the rules a
//! value breaks (empty when all hold), for the declarations (declarations.rs) to name.

use super::regions::{closest_region, REGIONS};

/// The longest `{project_name}-{environment}` prefix. The tightest AWS limit on a name built
/// from it is the load balancer name `{prefix}-alb`: 32 characters for ELBv2, so 28. The others
/// are looser: the target group `{prefix}-tg` (ELBv2, 32), the EFS creation token
/// `{prefix}-efs` (64), the RDS identifier `{prefix}-db` (63), the IAM role
/// `{prefix}-ecs-task-execution-role` (64), security groups, the ECS cluster and service, the
/// secrets and the log group `/ecs/{prefix}` (255 or more).
pub const MAX_PREFIX: usize = 28;

/// `rule` when `ok` is false: one broken rule.
pub fn unless(ok: bool, rule: impl Into<String>) -> Vec<String> {
    if ok {
        Vec::new()
    } else {
        vec![rule.into()]
    }
}

/// Every AWS name starts with the prefix; the tightest limit is MAX_PREFIX's.
pub fn prefix_fits(prefix: &str) -> bool {
    prefix.chars().count() <= MAX_PREFIX
}

pub fn region(region: &str) -> Vec<String> {
    unless(
        REGIONS.iter().any(|(code, _, _)| *code == region),
        format!(
            "must be an AWS region such as eu-west-3, got {region:?}{}",
            closest_region(region)
                .map(|r| format!("; did you mean `{r}`?"))
                .unwrap_or_default()
        ),
    )
}

/// A name that goes into the RDS identifier `{prefix}-db`: a letter first, then letters, digits
/// and single hyphens, no hyphen last (RDS's rules). Upper case is allowed: the modules lowercase
/// the names that need it.
pub fn name(value: &str) -> Vec<String> {
    let ok = value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !value.ends_with('-')
        && !value.contains("--");
    unless(
        ok,
        format!(
            "must start with a letter and hold only letters, digits and hyphens, with no two hyphens in a row and none at the end (RDS identifier rule), got {value:?}",
        ),
    )
}

/// Both passwords: at least 8 characters.
pub fn password(s: &str) -> Vec<String> {
    unless(s.chars().count() >= 8, "must be at least 8 characters")
}

/// RDS MySQL's master password, all its rules broken at once.
pub fn db_password(s: &str) -> Vec<String> {
    [
        password(s),
        unless(
            s.chars().count() <= 41,
            "must be at most 41 characters (RDS MySQL limit)",
        ),
        unless(
            !s.chars().any(|c| matches!(c, '/' | '"' | '@' | ' ')),
            "must not contain / \" @ or a space (RDS MySQL rule)",
        ),
        unless(
            s.chars().all(|c| c.is_ascii_graphic()),
            "must hold printable ASCII characters only (RDS MySQL rule)",
        ),
    ]
    .concat()
}

pub fn email(s: &str) -> Vec<String> {
    unless(
        s.contains('@') && !s.starts_with('@') && !s.ends_with('@'),
        format!("must be an email address, got {s:?}"),
    )
}

pub fn instance_class(s: &str) -> Vec<String> {
    unless(
        s.starts_with("db.") && s.matches('.').count() == 2,
        format!("must be an RDS class such as db.t3.micro, got {s:?}"),
    )
}

pub fn storage(gb: &i64) -> Vec<String> {
    unless(
        (20..=65536).contains(gb),
        format!("must be between 20 and 65536 GB for MySQL, got {gb}"),
    )
}

/// RDS keeps automated backups 0 to 35 days; 0 turns them off, which the stack never wants.
pub fn backup_retention(days: &i64) -> Vec<String> {
    unless(
        (1..=35).contains(days),
        format!("must be between 1 and 35 days (RDS automated backups), got {days}"),
    )
}

/// The classes RDS MySQL offers no Performance Insights on: CreateDBInstance would refuse
/// `EnablePerformanceInsights` with them.
const NO_PERFORMANCE_INSIGHTS: &[&str] =
    &["db.t3.micro", "db.t3.small", "db.t4g.micro", "db.t4g.small"];

pub fn performance_insights(on: bool, class: &str) -> Vec<String> {
    unless(
        !on || !NO_PERFORMANCE_INSIGHTS.contains(&class),
        format!("cannot be true with db_instance_class {class:?}: RDS MySQL has no Performance Insights on db.t3.micro, db.t3.small, db.t4g.micro or db.t4g.small; pick db.t3.medium or larger, or set it false"),
    )
}

/// Storage autoscaling's ceiling: off (0), or above the allocated size (RDS refuses one at or
/// below it) and within MySQL's 65536 GiB.
pub fn max_storage(max: &i64, allocated: i64) -> Vec<String> {
    unless(
        *max == 0 || (*max > allocated && *max <= 65536),
        format!("must be 0 (off) or above db_allocated_storage ({allocated}) and at most 65536 GiB, got {max}"),
    )
}

pub fn engine_version(s: &str) -> Vec<String> {
    unless(
        !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.'),
        format!("must be a MySQL version such as 8.4, got {s:?}"),
    )
}

/// A MySQL identifier of at most `max` characters.
fn ident(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// RDS for MySQL: the master user name is 1 to 16 characters.
pub fn db_username(s: &str) -> Vec<String> {
    unless(ident(s, 16), format!("must start with a letter, hold letters, digits and _ only, 1 to 16 characters (RDS MySQL master user), got {s:?}"))
}

pub fn db_name(s: &str) -> Vec<String> {
    unless(
        ident(s, 64),
        format!("must start with a letter, hold letters, digits and _ only, 1 to 64 characters, got {s:?}"),
    )
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

pub fn cpu(cpu: &str) -> Vec<String> {
    unless(
        fargate_memory(cpu).is_some(),
        format!("must be one of 256, 512, 1024, 2048, 4096, 8192, 16384, got {cpu:?}"),
    )
}

/// The memory must fit the CPU; with a CPU that is not Fargate's, only the CPU is wrong.
pub fn memory(memory: &String, cpu: &str) -> Vec<String> {
    let Some(mems) = fargate_memory(cpu) else {
        return Vec::new();
    };
    let ok = memory.parse::<i64>().is_ok_and(|m| mems.contains(&m));
    let list = mems
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    unless(
        ok,
        format!("must be one of {list} with ecs_cpu = {cpu} (Fargate rule), got {memory:?}"),
    )
}

pub fn desired_count(n: &i64) -> Vec<String> {
    unless(
        (0..=5000).contains(n),
        format!("must be between 0 and 5000, got {n}"),
    )
}

pub fn image(s: &str) -> Vec<String> {
    unless(
        !s.trim().is_empty() && !s.contains(char::is_whitespace),
        format!("must be a container image reference, got {s:?}"),
    )
}

pub fn retention(days: &i64) -> Vec<String> {
    // 0 is "never expire", as in Terraform: the log group keeps no retention policy.
    const RETENTION: &[i64] = &[
        0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
        2922, 3288, 3653,
    ];
    unless(RETENTION.contains(days), format!("must be 0 (never expire) or one of CloudWatch's values (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...), got {days}"))
}
