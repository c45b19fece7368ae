//! The DB subnet group and DB instance kinds against moto: create, read back, adopt, update,
//! delete with a final snapshot.

use serde_json::json;
use stackctl_contract::Values;
use stackctl_testkit::{assert_converged, security_group, Moto};

#[tokio::test]
async fn subnet_group_and_instance_against_moto() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let net = stackctl_networking::lookup(&sdk).await.unwrap();
    let sg = security_group(&sdk, &net.vpc_id, "t-rds-sg").await;
    let rds = aws_sdk_rds::Client::new(&sdk);
    let kinds = stackctl_rds::kinds(&sdk);
    let (group_kind, db_kind) = (&kinds[0], &kinds[1]);
    assert_eq!(group_kind.type_name(), "aws_db_subnet_group");
    assert_eq!(db_kind.type_name(), "aws_db_instance");
    assert_eq!(db_kind.sensitive(), &["password"]);

    let mut subnet_ids = net.subnet_ids();
    subnet_ids.sort();
    let group_desired = Values::from([
        ("name".to_owned(), json!("t-db-subnet-group")),
        ("description".to_owned(), json!("Subnets of the t database")),
        ("subnet_ids".to_owned(), json!(subnet_ids)),
        (
            "tags".to_owned(),
            json!({ "ManagedBy": "stackctl", "Name": "t-db-subnet-group" }),
        ),
    ]);
    let group = group_kind.create(&group_desired).await.unwrap();
    assert_eq!(group.id, "t-db-subnet-group");
    assert_converged("DB subnet group", &group_desired, &group);
    assert!(group.attrs["arn"].as_str().unwrap().contains(":subgrp:"));
    assert_converged(
        "DB subnet group",
        &group_desired,
        &group_kind.read(&group).await.unwrap().unwrap(),
    );
    assert_eq!(
        group_kind.adopt(&group_desired).await.unwrap().unwrap().id,
        group.id
    );

    // Tags change in place (moto 5.2.5 drops a group on ModifyDBSubnetGroup, so the
    // subnet/description path is left to real AWS).
    let mut group_desired = group_desired;
    group_desired.insert(
        "tags".into(),
        json!({ "ManagedBy": "stackctl", "Name": "t-db-subnet-group", "x": "y" }),
    );
    let group = group_kind
        .update(&group, &group_desired, &["tags".into()])
        .await
        .unwrap();
    assert_converged("DB subnet group", &group_desired, &group);
    group_desired.insert("tags".into(), json!({ "x": "y" }));
    let group = group_kind
        .update(&group, &group_desired, &["tags".into()])
        .await
        .unwrap();
    assert_converged("DB subnet group", &group_desired, &group);

    let mut desired = Values::from([
        ("identifier".to_owned(), json!("t-db")),
        ("engine".to_owned(), json!("mysql")),
        ("engine_version".to_owned(), json!("8.0")),
        ("instance_class".to_owned(), json!("db.t3.micro")),
        ("allocated_storage".to_owned(), json!(20)),
        ("storage_encrypted".to_owned(), json!(true)),
        ("backup_retention_period".to_owned(), json!(7)),
        ("max_allocated_storage".to_owned(), json!(0)),
        ("multi_az".to_owned(), json!(false)),
        ("deletion_protection".to_owned(), json!(false)),
        ("performance_insights_enabled".to_owned(), json!(false)),
        ("publicly_accessible".to_owned(), json!(false)),
        ("vpc_security_group_ids".to_owned(), json!([sg])),
        ("db_subnet_group_name".to_owned(), json!(group.id)),
        ("db_name".to_owned(), json!("prestashop")),
        ("username".to_owned(), json!("admin")),
        ("password".to_owned(), json!("s3cret-Passw0rd")),
        ("skip_final_snapshot".to_owned(), json!(false)),
        ("final_snapshot_identifier".to_owned(), json!("t-db-final")),
        (
            "tags".to_owned(),
            json!({ "ManagedBy": "stackctl", "Name": "t-db" }),
        ),
    ]);
    let db = db_kind.create(&desired).await.unwrap();
    assert_eq!(db.id, "t-db");
    assert_converged("DB instance", &desired, &db);
    assert_eq!(db.attrs["id"], json!("t-db"));
    assert_eq!(db.attrs["status"], json!("available"));
    assert!(db.attrs["arn"].as_str().unwrap().ends_with(":db:t-db"));
    let address = db.attrs["address"].as_str().unwrap().to_owned();
    assert_eq!(db.attrs["port"], json!(3306));
    assert_eq!(db.attrs["endpoint"], json!(format!("{address}:3306")));

    // A refresh keeps what AWS cannot say (the password, the deletion settings) from the state,
    // even when the state holds only the password's fingerprint.
    let mut stored = db.clone();
    stored
        .attrs
        .insert("password".into(), json!("fingerprint:abc"));
    let read = db_kind.read(&stored).await.unwrap().unwrap();
    assert_eq!(read.attrs["password"], json!("fingerprint:abc"));
    let mut expect = desired.clone();
    expect.insert("password".into(), json!("fingerprint:abc"));
    assert_converged("DB instance", &expect, &read);

    let adopted = db_kind.adopt(&desired).await.unwrap().unwrap();
    assert_eq!(adopted.id, db.id);
    assert_converged("DB instance", &desired, &adopted);

    // In-place update: class, storage, a tag.
    desired.insert("instance_class".into(), json!("db.t3.small"));
    desired.insert("allocated_storage".into(), json!(30));
    desired.insert(
        "tags".into(),
        json!({ "ManagedBy": "stackctl", "Name": "t-db", "x": "y" }),
    );
    let changed = [
        "instance_class".to_owned(),
        "allocated_storage".to_owned(),
        "tags".to_owned(),
    ];
    let db = db_kind.update(&db, &desired, &changed).await.unwrap();
    assert_converged("DB instance", &desired, &db);
    assert_converged(
        "DB instance",
        &desired,
        &db_kind.read(&db).await.unwrap().unwrap(),
    );

    // Delete keeps a final snapshot named after final_snapshot_identifier plus a timestamp.
    db_kind.delete(&db).await.unwrap();
    assert!(db_kind.read(&db).await.unwrap().is_none());
    let snapshots = rds.describe_db_snapshots().send().await.unwrap();
    let finals: Vec<&str> = snapshots
        .db_snapshots()
        .iter()
        .filter_map(|s| s.db_snapshot_identifier())
        .filter(|s| s.starts_with("t-db-final-"))
        .collect();
    assert_eq!(finals.len(), 1, "{finals:?}");
    assert_eq!(
        finals[0].len(),
        "t-db-final-20261122-021345-beef".len(),
        "{finals:?}"
    );
    // Deleting what is already gone is not an error (an interrupted destroy re-run).
    db_kind.delete(&db).await.unwrap();

    group_kind.delete(&group).await.unwrap();
    assert!(group_kind.read(&group).await.unwrap().is_none());
    group_kind.delete(&group).await.unwrap();
}

#[tokio::test]
async fn instance_without_final_snapshot_against_moto() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let net = stackctl_networking::lookup(&sdk).await.unwrap();
    let kinds = stackctl_rds::kinds(&sdk);
    let group = kinds[0]
        .create(&Values::from([
            ("name".to_owned(), json!("u-db-subnet-group")),
            ("description".to_owned(), json!("u")),
            ("subnet_ids".to_owned(), json!(net.subnet_ids())),
            ("tags".to_owned(), json!({})),
        ]))
        .await
        .unwrap();
    let desired = Values::from([
        ("identifier".to_owned(), json!("u-db")),
        ("engine".to_owned(), json!("mysql")),
        ("engine_version".to_owned(), json!("8.0")),
        ("instance_class".to_owned(), json!("db.t3.micro")),
        ("allocated_storage".to_owned(), json!(20)),
        ("storage_encrypted".to_owned(), json!(true)),
        ("backup_retention_period".to_owned(), json!(7)),
        ("max_allocated_storage".to_owned(), json!(0)),
        ("multi_az".to_owned(), json!(false)),
        ("deletion_protection".to_owned(), json!(false)),
        ("performance_insights_enabled".to_owned(), json!(false)),
        ("publicly_accessible".to_owned(), json!(false)),
        ("vpc_security_group_ids".to_owned(), json!([])),
        ("db_subnet_group_name".to_owned(), json!(group.id)),
        ("db_name".to_owned(), json!("prestashop")),
        ("username".to_owned(), json!("admin")),
        ("password".to_owned(), json!("s3cret-Passw0rd")),
        ("skip_final_snapshot".to_owned(), json!(true)),
        ("final_snapshot_identifier".to_owned(), json!(null)),
        ("tags".to_owned(), json!({})),
    ]);
    let db = kinds[1].create(&desired).await.unwrap();
    assert_eq!(db.attrs["final_snapshot_identifier"], json!(null));
    kinds[1].delete(&db).await.unwrap();
    assert!(kinds[1].read(&db).await.unwrap().is_none());
    let rds = aws_sdk_rds::Client::new(&sdk);
    let snapshots = rds.describe_db_snapshots().send().await.unwrap();
    assert!(
        snapshots.db_snapshots().iter().all(|s| !s
            .db_snapshot_identifier()
            .unwrap_or_default()
            .starts_with("u-db")),
        "no snapshot when skip_final_snapshot"
    );
    kinds[0].delete(&group).await.unwrap();
}
