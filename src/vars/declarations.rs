//! The stack's variables, each declared once: README's notes, name, type, default and rules.
//!
//! To add a variable: add its line below (doc comment = README's notes, then
//! `name: Type = default => rule`; no default makes it required, `Secret` makes it sensitive),
//! with its rule in rules.rs if it needs a new one; use the new field of `Vars` where the stack
//! needs it; add a test in tests.rs; then `STACKCTL_WRITE_README=1 cargo test --bin stackctl
//! readme` writes its row in README.md. See [`variables!`](super::declare::variables).

use super::declare::{variables, Secret};
use super::rules;

variables! {
    /// The typed, checked variables.
    pub struct Vars {
        /// Must be a region AWS has (listed below the table): `eu-west-33` is refused with
        /// "did you mean `eu-west-3`?". It wins over `AWS_REGION` and the profile's region.
        aws_region: String = "eu-west-3" => |r, _| rules::region(r),
        /// With `environment`, the prefix `<project>-<environment>` of every name. A letter
        /// first, then letters, digits and single hyphens. The prefix is at most 28
        /// characters, so `<prefix>-alb` fits ELBv2's 32.
        project_name: String = "prestashop" => |n, _| rules::name(n),
        /// Same rules as `project_name`. `prod` makes destroy keep a final RDS snapshot.
        environment: String = "dev" => |n, _| rules::name(n),
        /// Sensitive. 8 to 41 characters, without `/ " @` or a space.
        db_password: Secret => |p, _| rules::db_password(p.expose()),
        /// Sensitive. At least 8 characters.
        admin_password: Secret => |p, _| rules::password(p.expose()),
        /// PrestaShop back-office login.
        admin_email: String = "admin@example.com" => |e, _| rules::email(e),
        db_instance_class: String = "db.t3.micro" => |c, _| rules::instance_class(c),
        /// GB, from 20 to 65536. RDS storage only grows, by 10 % or more, and not within 6
        /// hours of the last change nor while it is being optimized: `plan` refuses any other
        /// change before it calls AWS, naming the current size.
        db_allocated_storage: i64 = 20 => |gb, _| rules::storage(gb),
        /// GiB: RDS grows the storage by itself up to this ceiling, and plans take the grown
        /// size as no change. `0` is off; otherwise above `db_allocated_storage`, at most 65536.
        db_max_allocated_storage: i64 = 0 => |m, v| rules::max_storage(m, v.db_allocated_storage),
        /// `8.0` gets a warning: MySQL 8.0 left RDS standard support on 2026-07-31 and now
        /// costs extended-support fees.
        db_engine_version: String = "8.4" => |e, _| rules::engine_version(e),
        /// 1 to 16 characters (RDS MySQL's master user limit).
        db_username: String = "prestashop_user" => |u, _| rules::db_username(u),
        db_name: String = "prestashop" => |n, _| rules::db_name(n),
        /// As Terraform's. `false`: RDS class, storage, engine and subnet group changes wait
        /// for the database's maintenance window, and the plan marks them `# deferred to the
        /// next maintenance window`. Once AWS holds them as pending, plans list them under
        /// `Pending in AWS` and do not send them again. `true`: they are applied during apply,
        /// and a class or engine change restarts the database. Turning it on also applies what
        /// is pending.
        apply_immediately: bool = false,
        /// A standby database in a second zone that RDS fails over to. Without
        /// `apply_immediately`, turning it on or off waits for the maintenance window.
        db_multi_az: bool = false,
        /// RDS refuses to delete the database while it is on, and `destroy` (or a plan that
        /// would replace the database) refuses before it deletes anything: apply with it
        /// `false` first.
        db_deletion_protection: bool = false,
        /// Days RDS keeps automated backups, 1 to 35.
        db_backup_retention_days: i64 = 7 => |d, _| rules::backup_retention(d),
        /// Performance Insights on the database. RDS MySQL has none on db.t3.micro, db.t3.small,
        /// db.t4g.micro and db.t4g.small: `true` with those classes is refused.
        db_performance_insights: bool = false => |on, v| rules::performance_insights(*on, &v.db_instance_class),
        /// With `ecs_memory`, must be a valid Fargate pair.
        ecs_cpu: String = "512" => |c, _| rules::cpu(c),
        /// With `ecs_cpu`, must be a valid Fargate pair.
        ecs_memory: String = "1024" => |m, v| rules::memory(m, &v.ecs_cpu),
        desired_count: i64 = 2 => |n, _| rules::desired_count(n),
        prestashop_image: String = "prestashop/prestashop:latest" => |i, _| rules::image(i),
        /// Must be one of CloudWatch's allowed values, or `0` for never expire (as in
        /// Terraform).
        log_retention_days: i64 = 7 => |d, _| rules::retention(d),
        /// AWS Backup's automatic daily backups of the EFS file system (the shop's uploaded
        /// files), kept 35 days (`aws_efs_backup_policy`). Turning it off disables them; backups
        /// already taken stay in the `aws/efs/automatic-backup-vault` vault until they expire.
        efs_backup: bool = false,
    }
}

/// Whether `key` names a sensitive variable, whose value no message may show.
pub fn is_sensitive(key: &str) -> bool {
    DEFS.iter().any(|d| d.name == key && d.sensitive)
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
