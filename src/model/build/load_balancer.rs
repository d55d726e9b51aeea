//! The load balancer (classic ELB or ALB), its listeners and target group, and its access
//! logs bucket.

use super::access_logs::log_bucket;
use super::*;
use crate::config::{ComputeKind, LoadBalancerKind};

pub(super) fn add_load_balancer(
    config: &EnvironmentConfig,
    facts: &Facts,
    zone_count: usize,
    add: &mut impl FnMut(String, Spec),
) {
    let name = &config.name;
    let lb = &config.load_balancer;
    let access_logs = log_bucket(config, facts).map(|bucket| {
        add("log-bucket".into(), Spec::LogBucket(bucket));
        Ref::to("log-bucket")
    });
    match lb.kind {
        LoadBalancerKind::Elb => add(
            "load-balancer".into(),
            Spec::ClassicLoadBalancer(ClassicLoadBalancerSpec {
                name: names::load_balancer(name),
                subnets: subnets("public", zone_count),
                security_groups: group("lb"),
                // HTTPS replaces HTTP: credentials never cross in clear.
                listener_port: if lb.https.is_some() { HTTPS as u16 } else { lb.port },
                instance_port: config.app.port,
                certificate: lb.https.as_ref().map(|h| h.certificate_arn.clone()),
                ssl_policy: lb.https.as_ref().map(|h| h.tls_policy(LoadBalancerKind::Elb)),
                health_check_target: format!("HTTP:{}{}", config.app.port, lb.health_check_path),
                health_check: health_check(&lb.health_check),
                cross_zone: true,
                connection_draining: lb.deregistration_delay_seconds,
                access_logs,
            }),
        ),
        LoadBalancerKind::Alb => {
            add(
                "load-balancer".into(),
                Spec::LoadBalancer(LoadBalancerSpec {
                    name: names::load_balancer(name),
                    subnets: subnets("public", zone_count),
                    security_groups: group("lb"),
                    drop_invalid_header_fields: true,
                    desync_mitigation_mode: "strictest".into(),
                    deletion_protection: config.protect,
                    access_logs,
                }),
            );
            let target_type = match config.compute.kind {
                ComputeKind::Ec2 => "instance",
                ComputeKind::Ecs => "ip",
            };
            add(
                "target-group".into(),
                Spec::TargetGroup(TargetGroupSpec {
                    name: names::target_group(name, config.app.port, target_type),
                    vpc: Ref::to("vpc"),
                    port: config.app.port,
                    target_type: target_type.into(),
                    health_check_path: lb.health_check_path.clone(),
                    health_check: health_check(&lb.health_check),
                    deregistration_delay: lb.deregistration_delay_seconds,
                }),
            );
            let forward = ListenerAction::Forward(Ref::to("target-group"));
            // With HTTPS, port 80 only sends clients to 443: credentials never cross in clear.
            let http_action = match &lb.https {
                Some(https) => {
                    add(
                        "listener-https".into(),
                        Spec::Listener(ListenerSpec {
                            load_balancer: Ref::to("load-balancer"),
                            port: HTTPS as u16,
                            protocol: "HTTPS".into(),
                            certificate: Some(https.certificate_arn.clone()),
                            ssl_policy: Some(https.tls_policy(LoadBalancerKind::Alb)),
                            action: forward,
                        }),
                    );
                    ListenerAction::RedirectToHttps(HTTPS as u16)
                }
                None => forward,
            };
            add(
                "listener-http".into(),
                Spec::Listener(ListenerSpec {
                    load_balancer: Ref::to("load-balancer"),
                    port: lb.port,
                    protocol: "HTTP".into(),
                    certificate: None,
                    ssl_policy: None,
                    action: http_action,
                }),
            );
        }
    }
}
