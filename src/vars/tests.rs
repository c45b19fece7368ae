//! The variables' unit tests: sources, precedence, types, rules and every message's wording.

use std::path::PathBuf;

use super::errors::VarError;
use super::regions::REGIONS;
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
        ("db_backup_retention_days=0", "db_backup_retention_days"),
        ("db_max_allocated_storage=20", "db_max_allocated_storage"),
        ("db_max_allocated_storage=70000", "db_max_allocated_storage"),
        ("db_backup_retention_days=36", "db_backup_retention_days"),
        ("db_multi_az=yes", "db_multi_az"),
        ("db_deletion_protection=1", "db_deletion_protection"),
        ("db_performance_insights=on", "db_performance_insights"),
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
        Raw::gather(std::slice::from_ref(&path), &flags, std::iter::empty()).and_then(|r| r.check())
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
        assert!(
            w[0].starts_with(&format!(
                "db_engine_version {version}: MySQL 8.0 left RDS standard support on 2026-07-31"
            )),
            "{w:?}"
        );
        assert!(w[0].contains("Use 8.4"), "{w:?}");
    }
    assert!(check(&["db_engine_version=8.4.3"])
        .unwrap()
        .warnings()
        .is_empty());
}

#[test]
fn the_database_protections_default_to_dev_and_take_prods_values() {
    let v = check(&[]).unwrap();
    assert!(!v.db_multi_az && !v.db_deletion_protection && !v.db_performance_insights);
    assert_eq!(v.db_backup_retention_days, 7);
    let v = check(&[
        "db_multi_az=true",
        "db_deletion_protection=true",
        "db_backup_retention_days=35",
        "db_instance_class=db.t3.medium",
        "db_performance_insights=true",
    ])
    .unwrap();
    assert!(v.db_multi_az && v.db_deletion_protection && v.db_performance_insights);
    assert_eq!(v.db_backup_retention_days, 35);
    let err = check(&["db_backup_retention_days=0"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`db_backup_retention_days` must be between 1 and 35 days (RDS automated backups), got 0"),
        "{err}"
    );
}

#[test]
fn performance_insights_is_refused_on_the_classes_that_have_none() {
    for class in ["db.t3.micro", "db.t3.small", "db.t4g.micro", "db.t4g.small"] {
        let flag = format!("db_instance_class={class}");
        assert!(check(&[&flag]).is_ok(), "{class} without it");
        let err = check(&[&flag, "db_performance_insights=true"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`db_performance_insights`"), "{err}");
        assert!(
            err.contains(&format!(
                "cannot be true with db_instance_class \"{class}\""
            )),
            "{err}"
        );
        assert!(err.contains("pick db.t3.medium or larger"), "{err}");
    }
    for class in ["db.t3.medium", "db.t4g.medium", "db.m6g.large"] {
        let flag = format!("db_instance_class={class}");
        assert!(
            check(&[&flag, "db_performance_insights=true"]).is_ok(),
            "{class}"
        );
    }
}

#[test]
fn the_examples_set_each_environments_database_protections() {
    for (env, on, days) in [("dev", false, 7), ("staging", false, 7), ("prod", true, 14)] {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("examples/{env}.toml"));
        let flags = [
            "db_password=Secret123!".into(),
            "admin_password=Admin456!".into(),
        ];
        let v = Raw::gather(&[path], &flags, std::iter::empty())
            .and_then(|r| r.check())
            .unwrap();
        assert_eq!(v.db_multi_az, on, "{env}");
        assert_eq!(v.db_deletion_protection, on, "{env}");
        assert_eq!(v.db_performance_insights, on, "{env}");
        assert_eq!(v.db_backup_retention_days, days, "{env}");
        let ceiling = if on { 2 * v.db_allocated_storage } else { 0 };
        assert_eq!(v.db_max_allocated_storage, ceiling, "{env}");
    }
}

#[test]
fn storage_autoscaling_is_off_or_above_the_allocated_size() {
    assert_eq!(check(&[]).unwrap().db_max_allocated_storage, 0);
    let v = check(&["db_allocated_storage=100", "db_max_allocated_storage=200"]).unwrap();
    assert_eq!(v.db_max_allocated_storage, 200);
    for bad in ["100", "50", "-1", "65537"] {
        let flag = format!("db_max_allocated_storage={bad}");
        let err = check(&["db_allocated_storage=100", &flag])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("`db_max_allocated_storage` must be 0 (off) or above db_allocated_storage (100) and at most 65536 GiB, got {bad}")),
            "{err}"
        );
    }
}

#[test]
fn efs_backup_is_off_by_default_and_on_in_the_prod_example() {
    assert!(!check(&[]).unwrap().efs_backup);
    assert!(check(&["efs_backup=true"]).unwrap().efs_backup);
    let err = check(&["efs_backup=daily"]).unwrap_err().to_string();
    assert!(
        err.contains("`efs_backup` must be a boolean (true or false), got \"daily\""),
        "{err}"
    );
    let flags = [
        "db_password=Secret123!".into(),
        "admin_password=Admin456!".into(),
    ];
    for (env, on) in [("dev", false), ("staging", false), ("prod", true)] {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(format!("{env}.toml"));
        let vars = Raw::gather(&[file], &flags, std::iter::empty())
            .and_then(|r| r.check())
            .unwrap();
        assert_eq!(vars.efs_backup, on, "{env}");
    }
}
