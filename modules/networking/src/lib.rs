//! The networking module: the default VPC and its subnets, read only (Terraform data sources).

use aws_sdk_ec2::types::Filter;
use aws_sdk_ec2::Client;
use stackctl_contract::{aws_error, ResourceError};

/// One subnet of the default VPC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subnet {
    pub id: String,
    pub availability_zone: String,
}

/// The default VPC and its subnets, sorted by availability zone so every run sees them in the
/// same order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Network {
    pub vpc_id: String,
    pub subnets: Vec<Subnet>,
}

impl Network {
    pub fn subnet_ids(&self) -> Vec<String> {
        self.subnets.iter().map(|s| s.id.clone()).collect()
    }
}

/// Look up the default VPC and all its subnets.
pub async fn lookup(sdk: &aws_types::SdkConfig) -> Result<Network, ResourceError> {
    let ec2 = Client::new(sdk);
    let vpcs = ec2
        .describe_vpcs()
        .filters(Filter::builder().name("is-default").values("true").build())
        .send()
        .await
        .map_err(|e| aws_error("DescribeVpcs", e))?;
    let vpc_id = vpcs
        .vpcs()
        .first()
        .and_then(|v| v.vpc_id())
        .ok_or_else(|| {
            ResourceError::new("DescribeVpcs", "this region has no default VPC").with_hint(
                "create one with `aws ec2 create-default-vpc`, or set aws_region to a region that has one",
            )
        })?
        .to_owned();
    let out = ec2
        .describe_subnets()
        .filters(Filter::builder().name("vpc-id").values(&vpc_id).build())
        .send()
        .await
        .map_err(|e| aws_error("DescribeSubnets", e))?;
    let mut subnets: Vec<Subnet> = out
        .subnets()
        .iter()
        .map(|s| Subnet {
            id: s.subnet_id().unwrap_or_default().to_owned(),
            availability_zone: s.availability_zone().unwrap_or_default().to_owned(),
        })
        .collect();
    subnets.sort_by(|a, b| (&a.availability_zone, &a.id).cmp(&(&b.availability_zone, &b.id)));
    if subnets.is_empty() {
        return Err(ResourceError::new("DescribeSubnets", format!("the default VPC {vpc_id} has no subnets"))
            .with_hint("create a default subnet in each availability zone with `aws ec2 create-default-subnet`"));
    }
    Ok(Network { vpc_id, subnets })
}
