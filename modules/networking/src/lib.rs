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

/// Look up the default VPC and its default subnets (one per availability zone), usually in one
/// request.
///
/// Every subnet of the region comes back from one `DescribeSubnets`; a subnet that is the
/// default for its availability zone lives in the default VPC, so it names that VPC without a
/// `DescribeVpcs`. Only a default VPC left with no default subnet costs that second request.
///
/// Only default subnets are used, unlike Terraform's `aws_subnets` by `vpc-id`: a subnet
/// someone added to the default VPC may be private (no route to the internet, so tasks with a
/// public IP cannot pull their image) or a second one in a zone, which a load balancer refuses
/// (one subnet per zone). Default subnets are public and there is exactly one per zone.
pub async fn lookup(sdk: &aws_types::SdkConfig) -> Result<Network, ResourceError> {
    let ec2 = Client::new(sdk);
    let mut all = Vec::new();
    let mut pages = ec2.describe_subnets().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("DescribeSubnets", e))?;
        all.extend(page.subnets().iter().cloned());
    }
    let by_default_subnet = all
        .iter()
        .find(|s| s.default_for_az() == Some(true))
        .and_then(|s| s.vpc_id())
        .map(str::to_owned);
    let vpc_id = match by_default_subnet {
        Some(id) => id,
        None => default_vpc(&ec2).await?,
    };
    let mut subnets: Vec<Subnet> = all
        .iter()
        .filter(|s| s.vpc_id() == Some(vpc_id.as_str()) && s.default_for_az() == Some(true))
        .map(|s| Subnet {
            id: s.subnet_id().unwrap_or_default().to_owned(),
            availability_zone: s.availability_zone().unwrap_or_default().to_owned(),
        })
        .collect();
    subnets.sort_by(|a, b| (&a.availability_zone, &a.id).cmp(&(&b.availability_zone, &b.id)));
    if subnets.is_empty() {
        return Err(ResourceError::new("DescribeSubnets", format!("the default VPC {vpc_id} has no default subnets"))
            .with_hint("create a default subnet in each availability zone with `aws ec2 create-default-subnet`"));
    }
    Ok(Network { vpc_id, subnets })
}

/// The default VPC's id, asked for directly.
async fn default_vpc(ec2: &Client) -> Result<String, ResourceError> {
    let vpcs = ec2
        .describe_vpcs()
        .filters(Filter::builder().name("is-default").values("true").build())
        .send()
        .await
        .map_err(|e| aws_error("DescribeVpcs", e))?;
    vpcs.vpcs()
        .first()
        .and_then(|v| v.vpc_id())
        .map(str::to_owned)
        .ok_or_else(|| {
            ResourceError::new("DescribeVpcs", "this region has no default VPC").with_hint(
                "create one with `aws ec2 create-default-vpc`, or set aws_region to a region that has one",
            )
        })
}
