//! The secret kind against moto: create, read, adopt, update, delete, and re-create after a
//! destroy or over a secret scheduled for deletion.

use serde_json::json;
use stackctl_contract::{Ref, Tags, Val, Values};
use stackctl_secrets::{Inputs, ADMIN_CREDENTIALS, DB_CONFIG, DB_PASSWORD};
use stackctl_testkit::{assert_converged, Known, Moto};

const RDS: &str = "module.rds.aws_db_instance.main";

fn secret(name: &str, value: &str) -> Values {
    Values::from([
        ("name".to_owned(), json!(name)),
        ("description".to_owned(), json!("test secret")),
        ("secret_string".to_owned(), json!(value)),
        ("tags".to_owned(), Tags::stack("t", "test").to_json()),
    ])
}

#[tokio::test]
async fn secret_lifecycle_against_moto() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let kind = stackctl_secrets::kinds(&sdk).remove(0);
    assert_eq!(kind.sensitive(), &["secret_string"]);

    let mut desired = secret("t-test-db-password", "s3cret");
    let created = kind.create(&desired).await.unwrap();
    assert_converged("secret", &desired, &created);
    assert_eq!(created.attrs["id"], json!(created.id));
    assert_eq!(created.attrs["arn"], json!(created.id));

    let read = kind.read(&created).await.unwrap().unwrap();
    assert_eq!(read, created);
    let adopted = kind.adopt(&desired).await.unwrap().unwrap();
    assert_eq!(adopted.id, created.id);

    // New value and one more tag, in place.
    desired.insert("secret_string".into(), json!("n3w-s3cret"));
    desired.insert(
        "tags".into(),
        Tags::stack("t", "test").with("team", "shop").to_json(),
    );
    let updated = kind
        .update(&created, &desired, &["secret_string".into(), "tags".into()])
        .await
        .unwrap();
    assert_eq!(updated.id, created.id);
    assert_converged("secret", &desired, &updated);
    assert_converged(
        "secret",
        &desired,
        &kind.read(&updated).await.unwrap().unwrap(),
    );

    // And the description, and a tag removed again.
    desired.insert("description".into(), json!("changed"));
    desired.insert("tags".into(), Tags::stack("t", "test").to_json());
    let updated = kind
        .update(&updated, &desired, &["description".into(), "tags".into()])
        .await
        .unwrap();
    assert_converged("secret", &desired, &updated);

    // A read trusts the value it recorded while the current version is the recorded one (the
    // state holds a fingerprint, which is what comes back), and fetches it once it is not.
    let version = updated.attrs["version_id"].clone();
    assert!(version.is_string(), "{updated:?}");
    let mut recorded = updated.clone();
    recorded
        .attrs
        .insert("secret_string".into(), json!("fingerprint:sha256:00"));
    let read = kind.read(&recorded).await.unwrap().unwrap();
    assert_eq!(read.attrs["secret_string"], json!("fingerprint:sha256:00"));
    assert_eq!(read.attrs["version_id"], version);
    aws_sdk_secretsmanager::Client::new(&sdk)
        .put_secret_value()
        .secret_id(&updated.id)
        .secret_string("set-by-hand")
        .send()
        .await
        .unwrap();
    let read = kind.read(&recorded).await.unwrap().unwrap();
    assert_eq!(read.attrs["secret_string"], json!("set-by-hand"));
    assert_ne!(read.attrs["version_id"], version);
    let updated = kind
        .update(&read, &desired, &["secret_string".into()])
        .await
        .unwrap();
    assert_converged("secret", &desired, &updated);

    kind.delete(&updated).await.unwrap();
    assert!(kind.read(&updated).await.unwrap().is_none());
    assert!(kind.adopt(&desired).await.unwrap().is_none());
    kind.delete(&updated).await.unwrap();

    // Re-apply after a destroy: the name is free again at once.
    let again = kind.create(&desired).await.unwrap();
    assert_converged("secret", &desired, &again);
    kind.delete(&again).await.unwrap();
}

#[tokio::test]
async fn create_reuses_a_secret_scheduled_for_deletion() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let kind = stackctl_secrets::kinds(&sdk).remove(0);
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);

    let first = kind
        .create(&secret("t-test-admin-credentials", "old"))
        .await
        .unwrap();
    // Deleted by hand with the default recovery window: it lingers, holding the name.
    sm.delete_secret()
        .secret_id(&first.id)
        .recovery_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert!(kind.read(&first).await.unwrap().is_none());
    let mut desired = secret("t-test-admin-credentials", "new");
    desired.insert(
        "tags".into(),
        Tags::stack("t", "test").with("team", "shop").to_json(),
    );
    assert!(kind.adopt(&desired).await.unwrap().is_none());

    let reused = kind.create(&desired).await.unwrap();
    assert_eq!(reused.id, first.id);
    assert_converged("secret", &desired, &reused);
    assert_converged(
        "secret",
        &desired,
        &kind.read(&reused).await.unwrap().unwrap(),
    );
}

#[tokio::test]
async fn specs_build_canonical_secret_values() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let inputs = Inputs {
        project: "shop".into(),
        environment: "dev".into(),
        db_password: "pw".into(),
        admin_email: "a@example.com".into(),
        admin_password: "apw".into(),
        db_username: "ps".into(),
        db_name: "prestashop".into(),
        db_host: Ref::new(RDS, "address"),
        db_port: Ref::new(RDS, "port"),
        tags: Tags::stack("shop", "dev"),
    };
    let specs = stackctl_secrets::specs(&sdk, &inputs);
    let get = |address: &str| specs.iter().find(|s| s.address == address).unwrap();

    let mut known = Known::default();
    let pw = get(DB_PASSWORD).desired(&known);
    assert_eq!(pw["name"], Val::from("shop-dev-db-password"));
    assert_eq!(pw["secret_string"], Val::from("pw"));
    let admin = get(ADMIN_CREDENTIALS).desired(&known);
    assert_eq!(admin["name"], Val::from("shop-dev-admin-credentials"));
    assert_eq!(
        admin["secret_string"],
        Val::from(r#"{"admin_email":"a@example.com","admin_password":"apw"}"#)
    );

    // The connection settings wait for the database, and depend on it.
    let config = get(DB_CONFIG);
    assert_eq!(config.desired(&known)["secret_string"], Val::Unknown);
    assert!(config.dependencies().contains(RDS));
    known.set(RDS, "address", json!("db.example"));
    known.set(RDS, "port", json!(3306));
    let cfg = config.desired(&known);
    assert_eq!(cfg["name"], Val::from("shop-dev-db-config"));
    assert_eq!(
        cfg["secret_string"],
        Val::from(
            r#"{"dbname":"prestashop","host":"db.example","password":"pw","port":3306,"username":"ps"}"#
        )
    );

    // And every spec creates for real.
    let kind = stackctl_secrets::kinds(&sdk).remove(0);
    for spec in &specs {
        let desired: Values = spec
            .desired(&known)
            .into_iter()
            .map(|(k, v)| (k, v.known().cloned().unwrap()))
            .collect();
        let inst = kind.create(&desired).await.unwrap();
        assert_converged("secret", &desired, &inst);
    }
}
