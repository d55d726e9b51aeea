//! Looking up load balancers and their members in AWS, classic ELBs first, then ALBs; and
//! registering or deregistering instances. Every AWS call is counted in the metrics.

use std::collections::HashMap;

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::date_time::Format;
use serde::Serialize;

use crate::metrics::Metrics;

/// One member of a load balancer: an instance (classic ELB, instance target groups) or an IP
/// target (ECS tasks behind an ALB).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// Target health as the load balancer sees it (ALB targets only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("load balancer {0} not found")]
    NotFound(String),
    #[error("instance {0} not found")]
    InstanceNotFound(String),
    /// Answered as `InstanceNotFound` (see `AppError`): the caller learns nothing of other VPCs.
    #[error("instance {instance} is in {instance_vpc}, not in {balancer_vpc} with load balancer {balancer}")]
    WrongVpc {
        instance: String,
        instance_vpc: String,
        balancer: String,
        balancer_vpc: String,
    },
    /// An instance of another environment (or of none); answered as `InstanceNotFound`.
    #[error("instance {instance} {}", owned_by(owner.as_deref(), ours.as_deref()))]
    ForeignInstance {
        instance: String,
        owner: Option<String>,
        ours: Option<String>,
    },
    #[error("instance {instance} is not registered with {balancer}")]
    NotRegistered { instance: String, balancer: String },
    #[error("load balancer {0} routes to IP targets (ECS tasks); instances cannot be registered with it")]
    IpTargets(String),
    #[error("AWS is throttling requests; try again shortly")]
    Throttled,
    #[error("AWS could not be reached; try again shortly")]
    Unavailable,
    #[error("AWS refused the request: {0}")]
    Aws(String),
    /// AWS's AccessDenied: the API's role may not do this (the detail names the role).
    #[error("AWS denied the API's role this call: {0}")]
    Denied(String),
    /// A load balancer of another environment (or of none), refused before any AWS write and
    /// before its members are read; answered as `NotFound`, so names of other environments'
    /// load balancers cannot be probed.
    #[error("load balancer {balancer} {}", owned_by(owner.as_deref(), ours.as_deref()))]
    Foreign {
        balancer: String,
        owner: Option<String>,
        ours: Option<String>,
    },
}

fn owned_by(owner: Option<&str>, ours: Option<&str>) -> String {
    let owner = owner.map_or_else(
        || "belongs to no deployer environment".to_owned(),
        |owner| format!("belongs to environment {owner}"),
    );
    match ours {
        Some(ours) => format!("{owner}; this API serves only environment {ours}'s"),
        None => format!("{owner}; this API serves none (API_ENVIRONMENT is not set)"),
    }
}

/// One instance as DescribeInstances tells it.
#[derive(Debug, Clone, Default)]
struct InstanceDetails {
    kind: String,
    launch: String,
    vpc: String,
    /// Its `deployer:environment` tag.
    environment: Option<String>,
}

/// The tag deployer puts on every resource of an environment.
const ENVIRONMENT_TAG: &str = "deployer:environment";

#[derive(Clone)]
enum Balancer {
    Classic {
        vpc: String,
        instances: Vec<String>,
    },
    Application {
        arn: String,
        vpc: String,
        target_groups: Vec<(String, String)>,
    },
}

#[derive(Clone)]
pub struct Balancers {
    elb: aws_sdk_elasticloadbalancing::Client,
    elbv2: aws_sdk_elasticloadbalancingv2::Client,
    ec2: aws_sdk_ec2::Client,
    metrics: Metrics,
    /// The environment whose load balancers this API may change (API_ENVIRONMENT).
    environment: Option<String>,
}

fn classify<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> LookupError {
    match error {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => LookupError::Unavailable,
        _ => match error.code() {
            Some("Throttling" | "ThrottlingException" | "RequestLimitExceeded" | "TooManyRequestsException") => {
                LookupError::Throttled
            }
            Some(code @ ("AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation")) => {
                LookupError::Denied(format!("{code}: {}", error.message().unwrap_or_default()))
            }
            Some(code) => LookupError::Aws(format!("{code}: {}", error.message().unwrap_or_default())),
            None => LookupError::Aws("unexpected response".into()),
        },
    }
}

impl Balancers {
    pub fn new(config: &aws_config::SdkConfig, metrics: Metrics, environment: Option<String>) -> Self {
        Self {
            elb: aws_sdk_elasticloadbalancing::Client::new(config),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(config),
            ec2: aws_sdk_ec2::Client::new(config),
            metrics,
            environment,
        }
    }

    /// Refuses a load balancer that does not carry this API's environment tag, for reads and
    /// before any AWS write: the role's policy refuses writes too, but a role given more
    /// rights by mistake still cannot be used for them, and reads (which AWS cannot scope to
    /// a resource) stay within the environment.
    async fn check_owner(&self, name: &str, balancer: &Balancer) -> Result<(), LookupError> {
        let owner = match balancer {
            Balancer::Classic { .. } => {
                self.metrics.aws_call("DescribeTags");
                let output = self
                    .elb
                    .describe_tags()
                    .load_balancer_names(name)
                    .send()
                    .await
                    .map_err(|e| classify(&e))?;
                output
                    .tag_descriptions()
                    .iter()
                    .flat_map(|d| d.tags())
                    .find(|t| t.key() == ENVIRONMENT_TAG)
                    .and_then(|t| t.value().map(str::to_owned))
            }
            Balancer::Application { arn, .. } => {
                self.metrics.aws_call("DescribeTagsV2");
                let output = self
                    .elbv2
                    .describe_tags()
                    .resource_arns(arn)
                    .send()
                    .await
                    .map_err(|e| classify(&e))?;
                output
                    .tag_descriptions()
                    .iter()
                    .flat_map(|d| d.tags())
                    .find(|t| t.key() == Some(ENVIRONMENT_TAG))
                    .and_then(|t| t.value().map(str::to_owned))
            }
        };
        match (&self.environment, owner) {
            (Some(ours), Some(owner)) if *ours == owner => Ok(()),
            (ours, owner) => Err(LookupError::Foreign {
                balancer: name.to_owned(),
                owner,
                ours: ours.clone(),
            }),
        }
    }

    async fn find(&self, name: &str) -> Result<Balancer, LookupError> {
        self.metrics.aws_call("DescribeLoadBalancers");
        match self
            .elb
            .describe_load_balancers()
            .load_balancer_names(name)
            .send()
            .await
        {
            Ok(output) => {
                if let Some(found) = output.load_balancer_descriptions().first() {
                    return Ok(Balancer::Classic {
                        vpc: found.vpc_id().unwrap_or_default().to_owned(),
                        instances: found
                            .instances()
                            .iter()
                            .filter_map(|i| i.instance_id().map(str::to_owned))
                            .collect(),
                    });
                }
            }
            Err(error) if error.code() == Some("LoadBalancerNotFound") => {}
            Err(error) => return Err(classify(&error)),
        }
        self.metrics.aws_call("DescribeLoadBalancersV2");
        let output = match self.elbv2.describe_load_balancers().names(name).send().await {
            Ok(output) => output,
            Err(error) if error.code() == Some("LoadBalancerNotFound") => {
                return Err(LookupError::NotFound(name.to_owned()));
            }
            Err(error) => return Err(classify(&error)),
        };
        let Some(balancer) = output.load_balancers().first() else {
            return Err(LookupError::NotFound(name.to_owned()));
        };
        self.metrics.aws_call("DescribeTargetGroups");
        let groups = self
            .elbv2
            .describe_target_groups()
            .load_balancer_arn(balancer.load_balancer_arn().unwrap_or_default())
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(Balancer::Application {
            arn: balancer.load_balancer_arn().unwrap_or_default().to_owned(),
            vpc: balancer.vpc_id().unwrap_or_default().to_owned(),
            target_groups: groups
                .target_groups()
                .iter()
                .map(|g| {
                    let kind = g.target_type().map_or("instance", |t| t.as_str()).to_owned();
                    (g.target_group_arn().unwrap_or_default().to_owned(), kind)
                })
                .collect(),
        })
    }

    /// Instance type, launch time, VPC and environment of each known instance.
    async fn instances(&self, ids: &[String]) -> Result<HashMap<String, InstanceDetails>, LookupError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        self.metrics.aws_call("DescribeInstances");
        // A load balancer can list an instance twice (the emulator does, after a deregister and
        // register of a group's instance); each id is asked for once.
        let mut unique = ids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let output = match self
            .ec2
            .describe_instances()
            .set_instance_ids(Some(unique))
            .send()
            .await
        {
            Ok(output) => output,
            // One unknown id fails the whole call; an unknown instance simply has no details.
            Err(error) if error.code().is_some_and(|c| c.starts_with("InvalidInstanceID")) => {
                if ids.len() == 1 {
                    return Ok(HashMap::new());
                }
                let mut details = HashMap::new();
                for id in ids {
                    details.extend(Box::pin(self.instances(std::slice::from_ref(id))).await?);
                }
                return Ok(details);
            }
            Err(error) => return Err(classify(&error)),
        };
        Ok(output
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter_map(|i| {
                let launch = i
                    .launch_time()
                    .and_then(|t| t.fmt(Format::DateTime).ok())
                    .unwrap_or_default();
                let kind = i.instance_type().map(|t| t.as_str().to_owned()).unwrap_or_default();
                let environment = i
                    .tags()
                    .iter()
                    .find(|t| t.key() == Some(ENVIRONMENT_TAG))
                    .and_then(|t| t.value().map(str::to_owned));
                Some((
                    i.instance_id()?.to_owned(),
                    InstanceDetails {
                        kind,
                        launch,
                        vpc: i.vpc_id().unwrap_or_default().to_owned(),
                        environment,
                    },
                ))
            })
            .collect())
    }

    fn instance_member(id: String, details: &HashMap<String, InstanceDetails>) -> Member {
        let found = details.get(&id);
        Member {
            instance_type: found.map(|d| d.kind.clone()),
            launch_date: found.map(|d| d.launch.clone()),
            instance_id: Some(id),
            ip: None,
            port: None,
            health: None,
        }
    }

    pub async fn members(&self, name: &str) -> Result<Vec<Member>, LookupError> {
        let balancer = self.find(name).await?;
        self.check_owner(name, &balancer).await?;
        self.members_of(balancer).await
    }

    async fn members_of(&self, balancer: Balancer) -> Result<Vec<Member>, LookupError> {
        match balancer {
            Balancer::Classic { instances, .. } => {
                let details = self.instances(&instances).await?;
                Ok(instances
                    .into_iter()
                    .map(|id| Self::instance_member(id, &details))
                    .collect())
            }
            Balancer::Application { target_groups, .. } => {
                let mut members = Vec::new();
                for (arn, kind) in target_groups {
                    self.metrics.aws_call("DescribeTargetHealth");
                    let health = self
                        .elbv2
                        .describe_target_health()
                        .target_group_arn(&arn)
                        .send()
                        .await
                        .map_err(|e| classify(&e))?;
                    let targets: Vec<(String, Option<i32>, Option<String>)> = health
                        .target_health_descriptions()
                        .iter()
                        .filter_map(|d| {
                            let target = d.target()?;
                            let state = d.target_health().and_then(|h| h.state()).map(|s| s.as_str().to_owned());
                            Some((target.id()?.to_owned(), target.port(), state))
                        })
                        .collect();
                    if kind == "instance" {
                        let ids: Vec<String> = targets.iter().map(|t| t.0.clone()).collect();
                        let details = self.instances(&ids).await?;
                        for (id, port, state) in targets {
                            members.push(Member {
                                port,
                                health: state,
                                ..Self::instance_member(id, &details)
                            });
                        }
                    } else {
                        for (ip, port, state) in targets {
                            members.push(Member {
                                instance_id: None,
                                instance_type: None,
                                launch_date: None,
                                ip: Some(ip),
                                port,
                                health: state,
                            });
                        }
                    }
                }
                Ok(members)
            }
        }
    }

    /// Checks the instance exists, sits in the load balancer's VPC and belongs to this API's
    /// environment.
    async fn check_instance(&self, instance: &str, name: &str, vpc: &str) -> Result<(), LookupError> {
        let details = self.instances(&[instance.to_owned()]).await?;
        let Some(found) = details.get(instance) else {
            return Err(LookupError::InstanceNotFound(instance.to_owned()));
        };
        if !vpc.is_empty() && found.vpc != vpc {
            return Err(LookupError::WrongVpc {
                instance: instance.to_owned(),
                instance_vpc: found.vpc.clone(),
                balancer: name.to_owned(),
                balancer_vpc: vpc.to_owned(),
            });
        }
        match (&self.environment, &found.environment) {
            (Some(ours), Some(owner)) if ours == owner => Ok(()),
            (ours, owner) => Err(LookupError::ForeignInstance {
                instance: instance.to_owned(),
                owner: owner.clone(),
                ours: ours.clone(),
            }),
        }
    }

    pub async fn register(&self, name: &str, instance: &str) -> Result<(), LookupError> {
        let balancer = self.find(name).await?;
        self.check_owner(name, &balancer).await?;
        match balancer {
            Balancer::Classic { vpc, .. } => {
                self.check_instance(instance, name, &vpc).await?;
                self.metrics.aws_call("RegisterInstancesWithLoadBalancer");
                let target = aws_sdk_elasticloadbalancing::types::Instance::builder()
                    .instance_id(instance)
                    .build();
                self.elb
                    .register_instances_with_load_balancer()
                    .load_balancer_name(name)
                    .instances(target)
                    .send()
                    .await
                    .map_err(|e| classify(&e))?;
            }
            Balancer::Application { vpc, target_groups, .. } => {
                if target_groups.iter().any(|(_, kind)| kind != "instance") {
                    return Err(LookupError::IpTargets(name.to_owned()));
                }
                self.check_instance(instance, name, &vpc).await?;
                for (arn, _) in target_groups {
                    self.metrics.aws_call("RegisterTargets");
                    let target = aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder()
                        .id(instance)
                        .build();
                    self.elbv2
                        .register_targets()
                        .target_group_arn(arn)
                        .targets(target)
                        .send()
                        .await
                        .map_err(|e| classify(&e))?;
                }
            }
        }
        Ok(())
    }

    pub async fn deregister(&self, name: &str, instance: &str) -> Result<(), LookupError> {
        let balancer = self.find(name).await?;
        self.check_owner(name, &balancer).await?;
        let members = self.members_of(balancer.clone()).await?;
        if !members.iter().any(|m| m.instance_id.as_deref() == Some(instance)) {
            return Err(LookupError::NotRegistered {
                instance: instance.to_owned(),
                balancer: name.to_owned(),
            });
        }
        match balancer {
            Balancer::Classic { .. } => {
                self.metrics.aws_call("DeregisterInstancesFromLoadBalancer");
                let target = aws_sdk_elasticloadbalancing::types::Instance::builder()
                    .instance_id(instance)
                    .build();
                self.elb
                    .deregister_instances_from_load_balancer()
                    .load_balancer_name(name)
                    .instances(target)
                    .send()
                    .await
                    .map_err(|e| classify(&e))?;
            }
            Balancer::Application { target_groups, .. } => {
                for (arn, _) in target_groups {
                    self.metrics.aws_call("DeregisterTargets");
                    let target = aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder()
                        .id(instance)
                        .build();
                    self.elbv2
                        .deregister_targets()
                        .target_group_arn(arn)
                        .targets(target)
                        .send()
                        .await
                        .map_err(|e| classify(&e))?;
                }
            }
        }
        Ok(())
    }
}
