//! Orderings AWS enforces that no reference states: what must be ready before a resource is
//! created although the resource never names it (`waits_for`), and what must be gone before
//! one is deleted (`delete_waits_for`). Pure, derived from the specs, and kept apart from
//! references: a reference is compared and followed on replacement, these only order steps.
//!
//! Each rule names the AWS behaviour it answers; tests/support/proxy.rs refuses the same
//! orderings in every integration test.

use std::collections::{BTreeMap, BTreeSet};

use super::Id;
use super::spec::{ListenerAction, Ref, RouteTarget, Spec};

/// For each resource that must wait, the resources that must be ready first.
pub(super) fn waits_for(specs: &BTreeMap<Id, Spec>) -> BTreeMap<Id, BTreeSet<Id>> {
    let mut after: BTreeMap<Id, BTreeSet<Id>> = BTreeMap::new();
    let attached_gateways: BTreeSet<Id> = specs
        .iter()
        .filter(|(_, spec)| matches!(spec, Spec::InternetGateway(g) if g.vpc.is_some()))
        .map(|(id, _)| id.clone())
        .collect();
    // The listeners forwarding to each target group.
    let mut forwarding: BTreeMap<&Ref, BTreeSet<Id>> = BTreeMap::new();
    for (id, spec) in specs {
        if let Spec::Listener(listener) = spec
            && let ListenerAction::Forward(target) = &listener.action
        {
            forwarding.entry(target).or_default().insert(id.clone());
        }
    }
    // The route tables with a default route (to a NAT or internet gateway), by subnet.
    let mut egress: BTreeMap<&Ref, BTreeSet<Id>> = BTreeMap::new();
    for (id, spec) in specs {
        if let Spec::RouteTable(table) = spec
            && table.routes.iter().any(|route| {
                route.destination == super::build::ANYWHERE
                    && matches!(
                        route.target,
                        RouteTarget::NatGateway(_) | RouteTarget::InternetGateway(_)
                    )
            })
        {
            for subnet in &table.subnets {
                egress.entry(subnet).or_default().insert(id.clone());
            }
        }
    }
    let listeners_of = |target_group: &Ref| forwarding.get(target_group).into_iter().flatten().cloned();
    let routes_of = |subnets: &BTreeSet<Ref>| {
        subnets
            .iter()
            .flat_map(|subnet| egress.get(subnet).into_iter().flatten().cloned())
            .collect::<Vec<_>>()
    };

    for (id, spec) in specs {
        let wait: Vec<Id> = match spec {
            // An internet-facing load balancer in a VPC without an attached internet gateway:
            // `InvalidSubnet: VPC … has no internet gateway`; a public NAT gateway created first
            // fails (`Gateway.NotAttached`). CloudFormation documents the same DependsOn on the
            // gateway attachment ("DependsOn attribute", AWS::EC2::VPCGatewayAttachment).
            Spec::LoadBalancer(_) | Spec::ClassicLoadBalancer(_) | Spec::NatGateway(_) => {
                attached_gateways.iter().cloned().collect()
            }
            // ECS CreateService with a target group no listener forwards to: `InvalidParameter
            // Exception: The target group … does not have an associated load balancer`. Fargate
            // tasks in private subnets pull their image through the NAT route: started before
            // it exists they stop with `CannotPullContainerError` until the circuit breaker
            // fails the rollout.
            Spec::EcsService(service) => service
                .target_group
                .iter()
                .flat_map(listeners_of)
                .chain(routes_of(&service.subnets))
                .collect(),
            // EC2 user data installs Docker from the package mirrors under `set -e`: without
            // the NAT route it fails while the instance still counts as InService.
            Spec::AutoScalingGroup(group) => routes_of(&group.subnets),
            // ALBRequestCountPerTarget names `app/<lb>/…/targetgroup/<tg>/…`: AWS refuses it
            // while the target group is not associated with the load balancer by a listener.
            Spec::ServiceScaling(scaling) => scaling
                .policies
                .requests
                .iter()
                .flat_map(|r| listeners_of(&r.target_group))
                .collect(),
            Spec::GroupScaling(scaling) => scaling
                .policies
                .requests
                .iter()
                .flat_map(|r| listeners_of(&r.target_group))
                .collect(),
            // Two CreateDBInstance calls into one cluster at once: AWS answers, at times,
            // `InvalidDBClusterStateFault` (terraform-provider-aws#50115). Each instance is
            // created after the one before it; the first is the writer.
            Spec::DbInstance(instance) => specs
                .iter()
                .filter(|(other, spec)| {
                    *other < id && matches!(spec, Spec::DbInstance(o) if o.cluster == instance.cluster)
                })
                .map(|(other, _)| other.clone())
                .next_back()
                .into_iter()
                .collect(),
            _ => Vec::new(),
        };
        if !wait.is_empty() {
            after.entry(id.clone()).or_default().extend(wait);
        }
    }
    after
}

/// Whether deleting `this` must wait for the delete of `other` (both as observed).
pub fn delete_waits_for(this: (&Id, &Spec), other: (&Id, &Spec)) -> bool {
    match (this.1, other.1) {
        // Detaching an internet gateway fails while NAT gateways, their addresses or
        // internet-facing load balancers still map public addresses in the VPC
        // (`DependencyViolation: … has some mapped public address(es)`).
        (
            Spec::InternetGateway(_),
            Spec::NatGateway(_) | Spec::ElasticIp(_) | Spec::LoadBalancer(_) | Spec::ClassicLoadBalancer(_),
        ) => true,
        // An Aurora cluster's instances go readers first, the writer (the first one created)
        // last, one at a time: deleting the writer first fails over to a reader only to
        // delete that one next, and concurrent changes to one cluster meet
        // InvalidDBClusterStateFault, as concurrent creates do.
        (Spec::DbInstance(instance), Spec::DbInstance(reader)) => {
            instance.cluster == reader.cluster && other.0 > this.0
        }
        _ => false,
    }
}
