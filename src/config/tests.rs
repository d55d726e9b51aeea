//! Every rejected input is checked for its message and its position.

use super::*;

const DEVELOPMENT: &str = include_str!("../../environments/development.yaml");

fn rejected(yaml: &str) -> Vec<Problem> {
    parse_environment(yaml, "development").expect_err("the input should be rejected")
}

/// The single problem in `yaml`, with its line and column.
fn only_problem(yaml: &str) -> (Problem, usize, usize) {
    let problems = rejected(yaml);
    assert_eq!(problems.len(), 1, "expected one problem, got {problems:#?}");
    let problem = problems.into_iter().next().unwrap();
    let position = problem.position.expect("problem should have a position");
    (problem, position.line, position.column)
}

fn edit(from: &str, to: &str) -> String {
    assert!(DEVELOPMENT.contains(from), "fixture lacks `{from}`");
    DEVELOPMENT.replacen(from, to, 1)
}

fn line_of(yaml: &str, needle: &str) -> usize {
    yaml.lines().position(|l| l.contains(needle)).expect("needle in yaml") + 1
}

#[test]
fn repository_environments_are_valid_and_differ() {
    let prod = parse_environment(include_str!("../../environments/production.yaml"), "production").unwrap();
    let staging = parse_environment(include_str!("../../environments/staging.yaml"), "staging").unwrap();
    let dev = parse_environment(DEVELOPMENT, "development").unwrap();
    assert_eq!(
        (prod.network.azs, prod.network.nat, prod.protect),
        (3, NatMode::PerAz, true)
    );
    assert_eq!((prod.compute.desired, prod.compute.max), (4, 8));
    assert_eq!(
        (staging.compute.desired, staging.compute.max, staging.network.nat),
        (2, 4, NatMode::Single)
    );
    assert_eq!(
        (dev.load_balancer.kind, dev.compute.kind, dev.compute.desired),
        (LoadBalancerKind::Elb, ComputeKind::Ec2, 1)
    );
    let cidrs = [prod.network.cidr, staging.network.cidr, dev.network.cidr];
    assert!(
        cidrs
            .iter()
            .all(|a| cidrs.iter().filter(|b| a.0.contains(&b.0.network())).count() == 1),
        "VPC ranges overlap"
    );
}

#[test]
fn unknown_key_is_named_with_its_position_and_the_accepted_keys() {
    let yaml = edit("  azs: 2\n", "  azs: 2\n  zones: 2\n");
    let (problem, line, column) = only_problem(&yaml);
    assert_eq!(problem.field, "network");
    assert!(
        problem
            .message
            .starts_with("unknown field `zones`, expected one of `cidr`, `azs`"),
        "{}",
        problem.message
    );
    assert_eq!((line, column), (line_of(&yaml, "zones:"), 3));
    assert_eq!(problem.source_line.as_deref(), Some("  zones: 2"));
}

#[test]
fn unknown_top_level_key_is_rejected() {
    let yaml = format!("{DEVELOPMENT}replicas: 3\n");
    let (problem, line, _) = only_problem(&yaml);
    assert!(
        problem.message.contains("unknown field `replicas`"),
        "{}",
        problem.message
    );
    assert_eq!(line, line_of(&yaml, "replicas"));
}

#[test]
fn malformed_cidr_is_rejected_where_it_is_written() {
    let yaml = edit("cidr: 10.2.0.0/16", "cidr: 10.2.0.300/16");
    let (problem, line, column) = only_problem(&yaml);
    assert_eq!(problem.field, "network.cidr");
    assert_eq!(
        problem.message,
        "invalid CIDR `10.2.0.300/16`: expected an IPv4 network such as 10.0.0.0/16"
    );
    assert_eq!((line, column), (line_of(&yaml, "cidr:"), 3));
}

#[test]
fn cidr_with_host_bits_names_the_network_address() {
    let (problem, ..) = only_problem(&edit("cidr: 10.2.0.0/16", "cidr: 10.2.3.0/16"));
    assert_eq!(
        problem.message,
        "invalid CIDR `10.2.3.0/16`: host bits are set; the network address is 10.2.0.0/16"
    );
}

#[test]
fn unknown_enum_value_lists_the_accepted_ones() {
    let yaml = edit("nat: single", "nat: double");
    let (problem, line, _) = only_problem(&yaml);
    assert_eq!(problem.field, "network.nat");
    assert!(
        problem
            .message
            .contains("unknown variant `double`, expected one of `single`, `per-az`, `none`"),
        "{}",
        problem.message
    );
    assert_eq!(line, line_of(&yaml, "nat:"));
}

#[test]
fn wrong_type_is_rejected() {
    let yaml = edit("  desired: 1", "  desired: one");
    let (problem, line, _) = only_problem(&yaml);
    assert_eq!(problem.field, "compute.desired");
    assert!(
        problem.message.contains("invalid type: string \"one\""),
        "{}",
        problem.message
    );
    assert_eq!(line, line_of(&yaml, "desired:"));
}

#[test]
fn missing_required_field_is_named() {
    let yaml = edit("  kind: ec2\n", "");
    let (problem, ..) = only_problem(&yaml);
    assert_eq!(problem.field, "compute");
    assert!(problem.message.contains("missing field `kind`"), "{}", problem.message);
}

#[test]
fn yaml_syntax_error_has_a_position() {
    let yaml = edit("  azs: 2\n", "  azs: [2\n");
    let problems = rejected(&yaml);
    let position = problems[0].position.expect("syntax errors carry a position");
    assert!(position.line >= line_of(&yaml, "azs: [2"), "{position:?}");
}

#[test]
fn desired_above_max_points_at_desired() {
    let yaml = edit("  desired: 1", "  desired: 5");
    let (problem, line, column) = only_problem(&yaml);
    assert_eq!(problem.field, "compute.desired");
    assert_eq!(problem.message, "5 is more than compute.max (1)");
    assert_eq!(
        problem.help.as_deref(),
        Some("raise compute.max or lower compute.desired")
    );
    assert_eq!((line, column), (line_of(&yaml, "desired:"), 3));
}

#[test]
fn min_above_desired_is_rejected() {
    let yaml = edit("  min: 1\n  desired: 1\n  max: 1", "  min: 3\n  desired: 2\n  max: 4");
    let (problem, line, _) = only_problem(&yaml);
    assert_eq!(problem.field, "compute.min");
    assert_eq!(line, line_of(&yaml, "min: 3"));
}

#[test]
fn zero_max_is_rejected() {
    let yaml = edit("  min: 1\n  desired: 1\n  max: 1", "  min: 0\n  desired: 0\n  max: 0");
    let (problem, ..) = only_problem(&yaml);
    assert_eq!(problem.field, "compute.max");
    assert_eq!(problem.message, "must be at least 1");
}

#[test]
fn overlapping_subnets_point_at_the_later_one() {
    let yaml = edit(
        "  nat: single\n",
        "  nat: single\n  public_subnets: [10.2.0.0/24, 10.2.1.0/24]\n  private_subnets:\n    - 10.2.10.0/24\n    - 10.2.0.128/25\n",
    );
    let (problem, line, column) = only_problem(&yaml);
    assert_eq!(problem.field, "network.private_subnets[1]");
    assert_eq!(
        problem.message,
        "10.2.0.128/25 overlaps 10.2.0.0/24 (network.public_subnets[0])"
    );
    assert_eq!((line, column), (line_of(&yaml, "10.2.0.128/25"), 7));
}

#[test]
fn subnet_outside_the_vpc_is_rejected() {
    let yaml = edit(
        "  nat: single\n",
        "  nat: single\n  public_subnets: [10.2.0.0/24, 10.9.1.0/24]\n",
    );
    let (problem, ..) = only_problem(&yaml);
    assert_eq!(problem.field, "network.public_subnets[1]");
    assert_eq!(problem.message, "10.9.1.0/24 is not inside the VPC range 10.2.0.0/16");
}

#[test]
fn subnet_count_must_match_azs() {
    let yaml = edit("  nat: single\n", "  nat: single\n  public_subnets: [10.2.0.0/24]\n");
    let (problem, line, _) = only_problem(&yaml);
    assert_eq!(problem.field, "network.public_subnets");
    assert_eq!(problem.message, "1 subnets listed for 2 availability zones");
    assert_eq!(line, line_of(&yaml, "public_subnets"));
}

#[test]
fn vpc_prefix_outside_aws_limits_is_rejected() {
    let (problem, ..) = only_problem(&edit("cidr: 10.2.0.0/16", "cidr: 10.0.0.0/8"));
    assert_eq!(problem.field, "network.cidr");
    assert_eq!(problem.message, "/8 is outside what AWS allows for a VPC");
}

#[test]
fn alb_and_aurora_need_two_azs() {
    let yaml = edit("kind: elb", "kind: alb").replacen("azs: 2", "azs: 1", 1);
    let problems = rejected(&yaml);
    let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "an ALB needs subnets in at least 2 availability zones",
            "Aurora needs a DB subnet group spanning at least 2 availability zones"
        ]
    );
    assert!(
        problems
            .iter()
            .all(|p| p.field == "network.azs" && p.position.unwrap().line == line_of(&yaml, "azs:"))
    );
}

#[test]
fn name_must_match_the_file() {
    let (problem, line, _) = only_problem(&edit("name: development", "name: dev"));
    assert_eq!(problem.message, "`dev` does not match the file name `development.yaml`");
    assert_eq!(line, line_of(DEVELOPMENT, "name:"));
}

#[test]
fn secret_reference_must_name_a_known_source() {
    let yaml = edit(
        "token_from: ssm:/deployer/development/api-token",
        "token_from: vault:api",
    );
    let (problem, line, _) = only_problem(&yaml);
    assert_eq!(problem.field, "app.auth.token_from");
    assert!(
        problem.message.starts_with("unknown secret source `vault`"),
        "{}",
        problem.message
    );
    assert_eq!(line, line_of(&yaml, "token_from"));
}

#[test]
fn nat_none_is_rejected_because_compute_is_private() {
    let (problem, ..) = only_problem(&edit("nat: single", "nat: none"));
    assert_eq!(problem.field, "network.nat");
}

#[test]
fn reserved_tag_keys_are_rejected() {
    let yaml = format!("{DEVELOPMENT}tags:\n  deployer:environment: other\n");
    let (problem, line, _) = only_problem(&yaml);
    assert_eq!(problem.field, "tags.deployer:environment");
    assert_eq!(line, line_of(&yaml, "deployer:environment"));
}

#[test]
fn every_problem_is_reported_at_once() {
    let yaml = edit("  desired: 1", "  desired: 9").replacen("instance_type: t3.micro", "instance_type: large", 1);
    let fields: Vec<String> = rejected(&yaml).into_iter().map(|p| p.field).collect();
    assert_eq!(fields, ["compute.desired", "compute.instance_type"]);
}

#[test]
fn rendered_error_shows_file_line_caret_and_help() {
    let yaml = edit("  desired: 1", "  desired: 5");
    let problems = rejected(&yaml);
    let error = ConfigError::Invalid {
        path: "environments/development.yaml".into(),
        problems,
    };
    let line = line_of(&yaml, "desired:");
    assert_eq!(
        error.to_string(),
        format!(
            "environments/development.yaml:{line}:3: compute.desired: 5 is more than compute.max (1)\n   |\n{line} |   desired: 5\n   |   ^\n  help: raise compute.max or lower compute.desired"
        )
    );
}

const STAGING: &str = include_str!("../../environments/staging.yaml");

fn staging_problems(from: &str, to: &str) -> Vec<Problem> {
    assert!(STAGING.contains(from), "fixture lacks `{from}`");
    parse_environment(&STAGING.replacen(from, to, 1), "staging").expect_err("the input should be rejected")
}

#[test]
fn clear_text_token_source_is_rejected_with_the_ssm_alternative() {
    let (problem, ..) = only_problem(&edit(
        "token_from: ssm:/deployer/development/api-token",
        "token_from: env:API_TOKEN",
    ));
    assert_eq!(problem.field, "app.auth.token_from");
    assert!(problem.message.contains("clear text"), "{}", problem.message);
    assert!(
        problem
            .help
            .unwrap()
            .contains("token_from: ssm:/deployer/development/api-token")
    );
}

#[test]
fn fargate_sizes_must_be_a_valid_pair() {
    let problems = staging_problems("  memory: 512\n", "  memory: 4096\n");
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(problems[0].field, "compute.memory");
    assert_eq!(problems[0].message, "4096 MiB does not fit 256 CPU units on Fargate");
    let problems = staging_problems("  cpu: 256\n", "  cpu: 300\n");
    assert_eq!(problems[0].message, "300 is not a Fargate CPU size");
}

#[test]
fn instance_type_does_not_apply_to_ecs_nor_cpu_to_ec2() {
    let problems = staging_problems("  cpu: 256\n", "  cpu: 256\n  instance_type: t3.small\n");
    assert_eq!(problems[0].field, "compute.instance_type");
    assert!(
        problems[0].message.starts_with("only applies to `kind: ec2`"),
        "{}",
        problems[0].message
    );
    let (problem, ..) = only_problem(&edit(
        "  instance_type: t3.micro\n",
        "  instance_type: t3.micro\n  cpu: 256\n",
    ));
    assert_eq!(problem.field, "compute.cpu");
}

#[test]
fn image_reference_must_be_safe_to_template() {
    let (problem, ..) = only_problem(&edit("  port: 8000\n", "  image: 'api:1.0; rm -rf /'\n  port: 8000\n"));
    assert_eq!(problem.field, "app.image");
    assert!(
        problem
            .message
            .starts_with("`api:1.0; rm -rf /` is not a container image reference: expected [host[:port]/]path"),
        "{}",
        problem.message
    );
    // The security review's example: quotes and a redirection into root's user data.
    let (problem, ..) = only_problem(&edit(
        "  port: 8000\n",
        "  image: \"ghcr.io/x/api:1';id>/tmp/p;'\"\n  port: 8000\n",
    ));
    assert_eq!(problem.field, "app.image");
}

#[test]
fn registry_keeps_at_least_two_images() {
    let (problem, ..) = only_problem(&edit("protect: false", "registry:\n  keep_images: 1\nprotect: false"));
    assert_eq!(problem.field, "registry.keep_images");
    assert_eq!(problem.message, "1 would leave no earlier image to go back to");
}

#[test]
fn alarm_thresholds_and_email_are_checked_by_field() {
    let (problem, line, _) = only_problem(&edit("alarms: {}", "alarms:\n  cpu_percent: 100"));
    assert_eq!(problem.field, "alarms.cpu_percent");
    assert_eq!(problem.message, "100 is not a percentage the metric can pass");
    assert_eq!(line, line_of(DEVELOPMENT, "alarms:") + 1);
    let (problem, ..) = only_problem(&edit("alarms: {}", "alarms:\n  email: on call@example"));
    assert_eq!(problem.field, "alarms.email");
    assert!(problem.help.as_deref().unwrap().contains("oncall@example.com"));
    let (problem, ..) = only_problem(&edit("alarms: {}", "alarms:\n  latency_p99_ms: 0"));
    assert_eq!(problem.field, "alarms.latency_p99_ms");
    let (problem, ..) = only_problem(&edit("alarms: {}", "alarms:\n  cpu_precent: 90"));
    assert!(problem.message.contains("cpu_precent"), "{}", problem.message);
}

#[test]
fn names_aws_refuses_are_refused_before_anything_is_built() {
    // Each would pass the character rules yet fail on AWS: `staging--db` and
    // `deployer/dev-/api`; a security group `sg-…`; a load balancer `internal-…`.
    for (name, says) in [
        ("dev-", "ends with `-` or has `--`"),
        ("dev--x", "ends with `-` or has `--`"),
        ("sg", "which AWS refuses"),
        ("sg-blue", "which AWS refuses"),
        ("internal-api", "which AWS refuses"),
    ] {
        let yaml = edit("name: development", &format!("name: {name}"));
        let problems = parse_environment(&yaml, name).expect_err(name);
        assert_eq!(problems.len(), 1, "{name}: {problems:#?}");
        assert_eq!(problems[0].field, "name");
        assert!(problems[0].message.contains(says), "{name}: {}", problems[0].message);
        assert_eq!(problems[0].position.unwrap().line, line_of(&yaml, "name:"));
    }
    // A name merely containing those words is fine.
    let yaml = edit("name: development", "name: sgx-internal");
    parse_environment(&yaml, "sgx-internal").unwrap();
}

#[test]
fn fargate_behind_a_classic_elb_is_refused_with_the_field_and_the_fix() {
    let yaml = edit("kind: ec2", "kind: ecs");
    let problems = parse_environment(&yaml, "development").expect_err("ecs behind elb");
    let problem = problems
        .iter()
        .find(|p| p.field == "load_balancer.kind")
        .unwrap_or_else(|| panic!("{problems:#?}"));
    assert_eq!(problem.message, "a classic ELB cannot serve ECS Fargate tasks");
    assert!(problem.help.as_deref().unwrap().contains("use `kind: alb`"));
    assert_eq!(problem.position.unwrap().line, line_of(&yaml, "kind: elb"));
}

#[test]
fn user_tags_leave_room_for_deployers_six() {
    let tags = |n: usize| {
        let lines: String = (0..n).map(|i| format!("  team{i}: x\n")).collect();
        format!("{DEVELOPMENT}\ntags:\n{lines}")
    };
    parse_environment(&tags(44), "development").unwrap();
    let problems = parse_environment(&tags(45), "development").expect_err("45 tags");
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(problems[0].field, "tags");
    assert!(problems[0].help.as_deref().unwrap().contains("at most 44"));
}

#[test]
fn the_instance_type_must_run_the_architecture() {
    assert!(Architecture::Arm64.runs_on("t4g.micro") && Architecture::Arm64.runs_on("c7gn.large"));
    assert!(Architecture::Arm64.runs_on("a1.medium"));
    assert!(Architecture::X86_64.runs_on("t3.micro") && Architecture::X86_64.runs_on("g5.xlarge"));
    assert!(!Architecture::X86_64.runs_on("m7g.large") && !Architecture::Arm64.runs_on("m5dn.large"));
    let yaml = edit(
        "  instance_type: t3.micro\n",
        "  architecture: arm64\n  instance_type: t3.small\n",
    );
    let problems = parse_environment(&yaml, "development").expect_err("t3 on arm64");
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(problems[0].field, "compute.instance_type");
    assert_eq!(
        problems[0].message,
        "`t3.small` does not run arm64 images (compute.architecture is arm64)"
    );
    assert_eq!(problems[0].position.unwrap().line, line_of(&yaml, "instance_type"));
    // Without an instance type, arm64 picks a Graviton one.
    let yaml = edit("  instance_type: t3.micro\n", "  architecture: arm64\n");
    assert_eq!(
        parse_environment(&yaml, "development").unwrap().compute.instance_type(),
        "t4g.micro"
    );
}

#[test]
fn aliases_are_refused_where_they_stand() {
    let mut yaml = edit("name: development", "name: &n development");
    yaml.push_str("labels: *n\n");
    let (problem, line, _) = only_problem(&yaml);
    assert!(problem.message.contains("aliases"), "{problem:?}");
    assert_eq!(line, line_of(&yaml, "labels: *n"));
}

/// A billion laughs: nine levels of ten aliases would be 10^9 strings; refused at the first.
#[test]
fn an_alias_bomb_is_refused_without_expanding_it() {
    let mut yaml = String::from("a0: &a0 [\"lol\"]\n");
    for level in 1..10 {
        let refs = vec![format!("*a{}", level - 1); 10].join(", ");
        yaml.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
    }
    let (problem, line, _) = only_problem(&yaml);
    assert!(problem.message.contains("aliases"), "{problem:?}");
    assert_eq!(line, 2);
}

#[test]
fn deep_nesting_is_refused_at_its_depth_and_quickly() {
    let yaml = format!("name: development\nx: {}{}\n", "[".repeat(40_000), "]".repeat(40_000));
    let started = std::time::Instant::now();
    let (problem, line, column) = only_problem(&yaml);
    assert!(
        problem.message.contains("nested more than 16 levels"),
        "{}",
        problem.message
    );
    assert_eq!(line, 2, "column {column}");
    // Not a timing assertion of the product: a guard against the check itself going quadratic.
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn a_name_is_checked_before_it_becomes_a_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret.yaml"), "password: hunter2\n").unwrap();
    let inner = dir.path().join("environments");
    std::fs::create_dir(&inner).unwrap();
    for name in ["../secret", "/etc/passwd", "a/b", "", "Staging", "dev\u{1b}[2K"] {
        let error = load_environment(&inner, name).unwrap_err().to_string();
        assert!(error.contains("is not an environment name"), "{name:?}: {error}");
        assert!(!error.contains("hunter2") && !error.contains('\u{1b}'), "{error}");
    }
}

#[test]
fn an_oversized_file_is_refused_before_it_is_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let big = format!("{DEVELOPMENT}#{}\n", "x".repeat(300 * 1024));
    std::fs::write(dir.path().join("development.yaml"), big).unwrap();
    let error = load_environment(dir.path(), "development").unwrap_err().to_string();
    assert!(
        error.contains("environment files are limited to 262144 bytes"),
        "{error}"
    );
}
