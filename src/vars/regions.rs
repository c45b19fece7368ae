//! The regions stackctl accepts, with their ARN partitions, and the closest one to a typo.

/// Every region stackctl accepts: (code, partition, name). A region that does not exist would
/// only fail at the first AWS request, after the lock is taken, with a DNS error that does not
/// name the variable; a typo such as `eu-west-33` is caught here instead. The list is the AWS
/// SDK's partition table (aws-sdk-* `endpoint_lib`, 2026) for the three partitions stackctl
/// builds ARNs for; the isolated partitions (`aws-iso*`) and the European Sovereign Cloud
/// (`aws-eusc`) are left out. A region AWS opens later needs a new row here, hence a new
/// release. README's list of regions is rendered from this one (readme.rs).
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
pub fn closest_region(region: &str) -> Option<&'static str> {
    let region = region.trim().to_ascii_lowercase();
    REGIONS
        .iter()
        .map(|(code, _, _)| (strsim::jaro_winkler(&region, code), *code))
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, code)| code)
}
