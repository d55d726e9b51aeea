//! Issue 10: destroy deletes nothing before everything that depends on it. The emulator lets
//! most out-of-order deletes succeed, so a clean round trip proves nothing; instead the
//! dependencies are read from AWS itself before the destroy (which subnets a VPC holds, which
//! groups a load balancer uses, ...), the proxy records when each delete arrived and was
//! answered, and every dependant's delete must be answered before its dependency's arrives.
#![allow(clippy::print_stderr)]

use std::collections::BTreeMap;

use crate::support::proxy::{Call, Proxy};
use crate::support::{Deployer, Moto, block_on, tagged_resources};

/// A resource as a delete call names it: (kind, id).
type Subject = (&'static str, String);

/// "`dependent` uses `dependency`": the dependant must go first.
#[derive(Debug)]
pub(crate) struct Edge {
    dependent: Subject,
    dependency: Subject,
}

fn edge(dependent: (&'static str, &str), dependency: (&'static str, &str)) -> Edge {
    Edge {
        dependent: (dependent.0, short(dependent.1)),
        dependency: (dependency.0, short(dependency.1)),
    }
}

/// ECS names services and clusters by name or ARN; both become the name.
fn short(id: &str) -> String {
    if id.starts_with("arn:aws:ecs:") {
        id.rsplit('/').next().unwrap_or(id).to_owned()
    } else {
        id.to_owned()
    }
}

/// The resource a successful delete call removed.
fn deleted(call: &Call) -> Option<Subject> {
    let param = |name: &str| call.params.get(name).map(|v| short(v));
    let subject = match call.operation.as_str() {
        "DeleteVpc" => ("vpc", param("VpcId")?),
        "DeleteSubnet" => ("subnet", param("SubnetId")?),
        "DeleteSecurityGroup" => ("security-group", param("GroupId")?),
        "DeleteNatGateway" => ("nat-gateway", param("NatGatewayId")?),
        "ReleaseAddress" => ("elastic-ip", param("AllocationId")?),
        "DeleteInternetGateway" => ("internet-gateway", param("InternetGatewayId")?),
        "DeleteLoadBalancer" => (
            "load-balancer",
            param("LoadBalancerArn").or_else(|| param("LoadBalancerName"))?,
        ),
        "DeleteTargetGroup" => ("target-group", param("TargetGroupArn")?),
        "DeleteListener" => ("listener", param("ListenerArn")?),
        "DeleteService" => ("ecs-service", param("service")?),
        "DeleteCluster" => ("ecs-cluster", param("cluster")?),
        "DeleteAutoScalingGroup" => ("auto-scaling-group", param("AutoScalingGroupName")?),
        "DeleteDBInstance" => ("db-instance", param("DBInstanceIdentifier")?),
        "DeleteDBCluster" => ("db-cluster", param("DBClusterIdentifier")?),
        "DeleteDBSubnetGroup" => ("db-subnet-group", param("DBSubnetGroupName")?),
        _ => return None,
    };
    Some(subject)
}

/// The dependencies between `environment`'s resources, as AWS reports them.
pub(crate) fn dependencies(moto: &Moto, environment: &str) -> Vec<Edge> {
    block_on(async {
        let config = moto.sdk_config();
        let ec2 = aws_sdk_ec2::Client::new(&config);
        let ours = |tags: &[aws_sdk_ec2::types::Tag]| {
            tags.iter()
                .any(|t| t.key() == Some("deployer:environment") && t.value() == Some(environment))
        };
        let mut edges = Vec::new();
        for subnet in ec2
            .describe_subnets()
            .send()
            .await
            .unwrap()
            .subnets()
            .iter()
            .filter(|s| ours(s.tags()))
        {
            edges.push(edge(
                ("subnet", subnet.subnet_id().unwrap()),
                ("vpc", subnet.vpc_id().unwrap()),
            ));
        }
        for group in ec2
            .describe_security_groups()
            .send()
            .await
            .unwrap()
            .security_groups()
            .iter()
            .filter(|g| ours(g.tags()))
        {
            edges.push(edge(
                ("security-group", group.group_id().unwrap()),
                ("vpc", group.vpc_id().unwrap()),
            ));
        }
        for gateway in ec2
            .describe_internet_gateways()
            .send()
            .await
            .unwrap()
            .internet_gateways()
            .iter()
            .filter(|g| ours(g.tags()))
        {
            for attachment in gateway.attachments() {
                edges.push(edge(
                    ("internet-gateway", gateway.internet_gateway_id().unwrap()),
                    ("vpc", attachment.vpc_id().unwrap()),
                ));
            }
        }
        for nat in ec2
            .describe_nat_gateways()
            .send()
            .await
            .unwrap()
            .nat_gateways()
            .iter()
            .filter(|n| ours(n.tags()))
        {
            let id = nat.nat_gateway_id().unwrap();
            edges.push(edge(("nat-gateway", id), ("subnet", nat.subnet_id().unwrap())));
            for address in nat.nat_gateway_addresses() {
                edges.push(edge(
                    ("nat-gateway", id),
                    ("elastic-ip", address.allocation_id().unwrap()),
                ));
            }
        }

        let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&config);
        for lb in elbv2.describe_load_balancers().send().await.unwrap().load_balancers() {
            let arn = lb.load_balancer_arn().unwrap();
            if !lb.load_balancer_name().unwrap().starts_with(&format!("{environment}-")) {
                continue;
            }
            for group in lb.security_groups() {
                edges.push(edge(("load-balancer", arn), ("security-group", group)));
            }
            for zone in lb.availability_zones() {
                edges.push(edge(("load-balancer", arn), ("subnet", zone.subnet_id().unwrap())));
            }
            for listener in elbv2
                .describe_listeners()
                .load_balancer_arn(arn)
                .send()
                .await
                .unwrap()
                .listeners()
            {
                let listener_arn = listener.listener_arn().unwrap();
                edges.push(edge(("listener", listener_arn), ("load-balancer", arn)));
                for action in listener.default_actions() {
                    if let Some(group) = action.target_group_arn() {
                        edges.push(edge(("listener", listener_arn), ("target-group", group)));
                    }
                }
            }
        }
        let elb = aws_sdk_elasticloadbalancing::Client::new(&config);
        for lb in elb
            .describe_load_balancers()
            .send()
            .await
            .unwrap()
            .load_balancer_descriptions()
        {
            let name = lb.load_balancer_name().unwrap();
            if !name.starts_with(&format!("{environment}-")) {
                continue;
            }
            for group in lb.security_groups() {
                edges.push(edge(("load-balancer", name), ("security-group", group)));
            }
            for subnet in lb.subnets() {
                edges.push(edge(("load-balancer", name), ("subnet", subnet)));
            }
        }

        let ecs = aws_sdk_ecs::Client::new(&config);
        for cluster in ecs.list_clusters().send().await.unwrap().cluster_arns() {
            if short(cluster) != environment {
                continue;
            }
            let services = ecs.list_services().cluster(cluster).send().await.unwrap();
            if services.service_arns().is_empty() {
                continue;
            }
            let described = ecs
                .describe_services()
                .cluster(cluster)
                .set_services(Some(services.service_arns().to_vec()))
                .send()
                .await
                .unwrap();
            for service in described.services() {
                let name = service.service_name().unwrap();
                edges.push(edge(("ecs-service", name), ("ecs-cluster", cluster)));
                for lb in service.load_balancers() {
                    if let Some(group) = lb.target_group_arn() {
                        edges.push(edge(("ecs-service", name), ("target-group", group)));
                    }
                }
                let network = service.network_configuration().and_then(|n| n.awsvpc_configuration());
                for group in network.map(|n| n.security_groups()).unwrap_or_default() {
                    edges.push(edge(("ecs-service", name), ("security-group", group)));
                }
                for subnet in network.map(|n| n.subnets()).unwrap_or_default() {
                    edges.push(edge(("ecs-service", name), ("subnet", subnet)));
                }
            }
        }

        let asg = aws_sdk_autoscaling::Client::new(&config);
        for group in asg
            .describe_auto_scaling_groups()
            .send()
            .await
            .unwrap()
            .auto_scaling_groups()
        {
            let name = group.auto_scaling_group_name().unwrap();
            if !name.starts_with(&format!("{environment}-")) {
                continue;
            }
            for subnet in group
                .vpc_zone_identifier()
                .unwrap_or_default()
                .split(',')
                .filter(|s| !s.is_empty())
            {
                edges.push(edge(("auto-scaling-group", name), ("subnet", subnet)));
            }
            for lb in group.load_balancer_names() {
                edges.push(edge(("auto-scaling-group", name), ("load-balancer", lb)));
            }
            // Its instances run in the launch template's security groups.
            if let Some(template) = group.launch_template().and_then(|t| t.launch_template_id()) {
                let versions = ec2
                    .describe_launch_template_versions()
                    .launch_template_id(template)
                    .send()
                    .await
                    .unwrap();
                for version in versions.launch_template_versions() {
                    for sg in version
                        .launch_template_data()
                        .map(|d| d.security_group_ids())
                        .unwrap_or_default()
                    {
                        edges.push(edge(("auto-scaling-group", name), ("security-group", sg)));
                    }
                }
            }
        }

        let rds = aws_sdk_rds::Client::new(&config);
        for cluster in rds.describe_db_clusters().send().await.unwrap().db_clusters() {
            let id = cluster.db_cluster_identifier().unwrap();
            if !id.starts_with(&format!("{environment}-")) {
                continue;
            }
            for member in cluster.db_cluster_members() {
                edges.push(edge(
                    ("db-instance", member.db_instance_identifier().unwrap()),
                    ("db-cluster", id),
                ));
            }
            edges.push(edge(
                ("db-cluster", id),
                ("db-subnet-group", cluster.db_subnet_group().unwrap()),
            ));
            for group in cluster.vpc_security_groups() {
                edges.push(edge(
                    ("db-cluster", id),
                    ("security-group", group.vpc_security_group_id().unwrap()),
                ));
            }
        }
        edges
    })
}

/// Checks every edge against the delete calls; returns how many edges it checked.
pub(crate) fn assert_dependants_deleted_first(edges: &[Edge], calls: &[Call]) -> usize {
    let mut answered: BTreeMap<Subject, u64> = BTreeMap::new();
    let mut arrived: BTreeMap<Subject, u64> = BTreeMap::new();
    for call in calls.iter().filter(|c| c.succeeded()) {
        if let Some(subject) = deleted(call) {
            answered.entry(subject.clone()).or_insert(call.answered);
            arrived.entry(subject).or_insert(call.arrived);
        }
    }
    let mut checked = 0;
    let mut violations = Vec::new();
    for edge in edges {
        let (Some(done), Some(started)) = (answered.get(&edge.dependent), arrived.get(&edge.dependency)) else {
            continue;
        };
        checked += 1;
        if done > started {
            violations.push(format!(
                "{:?} deleted before its dependant {:?} was",
                edge.dependency, edge.dependent
            ));
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
    checked
}

/// Every resource an edge names was deleted (so the order check covered them all).
fn assert_all_deleted(edges: &[Edge], calls: &[Call]) {
    let deleted: Vec<Subject> = calls.iter().filter(|c| c.succeeded()).filter_map(deleted).collect();
    for edge in edges {
        for subject in [&edge.dependent, &edge.dependency] {
            assert!(deleted.contains(subject), "{subject:?} was never deleted: {deleted:#?}");
        }
    }
}

#[test]
fn development_destroy_deletes_dependants_first_even_when_killed_and_resumed() {
    let moto = Moto::start();
    Deployer::new(&moto)
        .args(["apply", "development", "--auto-approve"])
        .run()
        .expect_status(0);
    let edges = dependencies(&moto, "development");
    let proxy = Proxy::start(&moto.endpoint, 0.0, 1);

    // Slow enough that the kill lands half-way; then a second destroy finishes the job.
    proxy.set_latency(std::time::Duration::from_millis(40));
    let mut first = Deployer::new(&moto)
        .through(&proxy)
        .args(["destroy", "development", "--auto-approve", "--parallelism", "3"])
        .spawn();
    let killed_after = loop {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let deletes = proxy
            .calls_so_far()
            .iter()
            .filter(|c| c.succeeded() && deleted(c).is_some())
            .count();
        if deletes >= 4 {
            break deletes;
        }
        assert!(
            first.try_wait().unwrap().is_none(),
            "destroy ended before it could be killed"
        );
    };
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(
        !tagged_resources(&moto, "development").is_empty(),
        "the kill came too late"
    );
    proxy.set_latency(std::time::Duration::ZERO);
    // The killed run's lock outlives it: its owner breaks it, as the error says to.
    Deployer::new(&moto)
        .args(["unlock", "development", "--auto-approve"])
        .run()
        .expect_status(0);
    Deployer::new(&moto)
        .through(&proxy)
        .args(["destroy", "development", "--auto-approve"])
        .run()
        .expect_status(0);
    assert_eq!(tagged_resources(&moto, "development"), Vec::<String>::new());

    let calls = proxy.take_calls();
    let checked = assert_dependants_deleted_first(&edges, &calls);
    assert_all_deleted(&edges, &calls);
    assert!(checked >= 15, "only {checked} dependencies checked: {edges:#?}");
    eprintln!("development: killed after {killed_after} deletes; {checked} dependencies held in order");
}

#[test]
#[should_panic(expected = "(\"vpc\", \"vpc-1\") deleted before its dependant (\"subnet\", \"subnet-1\") was")]
fn the_check_catches_a_vpc_deleted_while_its_subnet_still_exists() {
    use crate::support::proxy::Answer;
    let call = |operation: &str, param: &str, id: &str, arrived: u64, answered: u64| Call {
        operation: operation.into(),
        service: "ec2".into(),
        key_id: None,
        target: "/".into(),
        json: None,
        tags: BTreeMap::new(),
        params: BTreeMap::from([(param.to_owned(), id.to_owned())]),
        answer: Answer::Forwarded(200),
        arrived,
        answered,
        at: std::time::Duration::ZERO,
        done_at: std::time::Duration::ZERO,
    };
    // The VPC's delete arrived before the subnet's was answered.
    let calls = [
        call("DeleteSubnet", "SubnetId", "subnet-1", 0, 3),
        call("DeleteVpc", "VpcId", "vpc-1", 2, 4),
    ];
    assert_dependants_deleted_first(&[edge(("subnet", "subnet-1"), ("vpc", "vpc-1"))], &calls);
}
