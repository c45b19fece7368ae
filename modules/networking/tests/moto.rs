//! The default VPC and its subnets against moto: one request when default subnets name the
//! VPC, the `DescribeVpcs` fallback when none is left, only default subnets, no default VPC.

use aws_sdk_ec2::Client;
use stackctl_testkit::{FaultProxy, Faults, Moto};

/// The lookup through a counting proxy: the network, and how many of each request it made.
async fn lookup_counted(
    moto: &Moto,
) -> (
    Result<stackctl_networking::Network, stackctl_contract::ResourceError>,
    usize,
    usize,
) {
    let proxy = FaultProxy::start(&moto.endpoint, Faults::none());
    let sdk = moto
        .sdk_config()
        .await
        .to_builder()
        .endpoint_url(&proxy.endpoint)
        .build();
    let net = stackctl_networking::lookup(&sdk).await;
    let events = proxy.events();
    let count = |op: &str| events.iter().filter(|e| e.operation == op).count();
    (net, count("DescribeSubnets"), count("DescribeVpcs"))
}

async fn subnet(ec2: &Client, vpc: &str, cidr: &str, az: &str) -> String {
    ec2.create_subnet()
        .vpc_id(vpc)
        .cidr_block(cidr)
        .availability_zone(az)
        .send()
        .await
        .unwrap()
        .subnet()
        .and_then(|s| s.subnet_id())
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn default_vpc_and_its_subnets() {
    let moto = Moto::start();
    let ec2 = Client::new(&moto.sdk_config().await);
    let default_vpc = ec2
        .describe_vpcs()
        .send()
        .await
        .unwrap()
        .vpcs()
        .iter()
        .find(|v| v.is_default() == Some(true))
        .and_then(|v| v.vpc_id())
        .unwrap()
        .to_owned();

    // moto's account: the default VPC with a default subnet in each of three zones, found in
    // one request.
    let (net, subnets_calls, vpcs_calls) = lookup_counted(&moto).await;
    let net = net.unwrap();
    assert_eq!(net.vpc_id, default_vpc);
    let zones: Vec<&str> = net
        .subnets
        .iter()
        .map(|s| s.availability_zone.as_str())
        .collect();
    assert_eq!(zones, ["eu-west-3a", "eu-west-3b", "eu-west-3c"]);
    assert_eq!((subnets_calls, vpcs_calls), (1, 0));
    let defaults = net.subnet_ids();

    // Another VPC's subnet is not ours; neither is a subnet someone added to the default VPC:
    // it may be private, and a second one in a zone makes the load balancer refuse the set.
    let other_vpc = ec2
        .create_vpc()
        .cidr_block("10.20.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc()
        .and_then(|v| v.vpc_id())
        .unwrap()
        .to_owned();
    let foreign = subnet(&ec2, &other_vpc, "10.20.1.0/24", "eu-west-3a").await;
    let added = subnet(&ec2, &default_vpc, "172.31.200.0/24", "eu-west-3a").await;
    let net = lookup_counted(&moto).await.0.unwrap();
    assert_eq!(net.vpc_id, default_vpc);
    assert!(!net.subnet_ids().contains(&added), "{net:?}");
    assert!(!net.subnet_ids().contains(&foreign), "{net:?}");
    assert_eq!(net.subnet_ids(), defaults, "{net:?}");

    // No default subnet left: the default VPC is asked for; its non-default subnet is still
    // not used, and the error says what to do.
    for id in &defaults {
        ec2.delete_subnet().subnet_id(id).send().await.unwrap();
    }
    let (net, subnets_calls, vpcs_calls) = lookup_counted(&moto).await;
    let err = net.unwrap_err().to_string();
    assert!(err.contains(&default_vpc), "{err}");
    assert!(err.contains("no default subnets"), "{err}");
    assert!(err.contains("create-default-subnet"), "{err}");
    assert_eq!((subnets_calls, vpcs_calls), (1, 1));

    // No default VPC at all (the seed's troubleshooting case): a clear error, not a panic.
    ec2.delete_subnet().subnet_id(&added).send().await.unwrap();
    ec2.delete_vpc().vpc_id(&default_vpc).send().await.unwrap();
    let err = lookup_counted(&moto).await.0.unwrap_err().to_string();
    assert!(err.contains("no default VPC"), "{err}");
    assert!(err.contains("create-default-vpc"), "{err}");
}
