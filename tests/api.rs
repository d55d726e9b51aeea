//! The bundled API over real HTTP, against load balancers and instances made in the emulator
//! through the SDK.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use crate::support::Moto;

/// The environment the API under test belongs to (API_ENVIRONMENT), as the fixture tags it.
const API_ENVIRONMENT: &str = "test";
/// base64("admin:s3cret")
const TOKEN: &str = "YWRtaW46czNjcmV0";
const AUTH: &str = "Basic YWRtaW46czNjcmV0";

struct Response {
    status: u16,
    headers: String,
    body: String,
}

impl Response {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The instance ids of a `GET /elb/{name}` answer, in its order.
    fn instance_ids(&self) -> Vec<String> {
        self.json()["message"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["instanceId"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// One HTTP/1.1 request on its own connection; `headers` as raw lines.
fn http(address: SocketAddr, method: &str, path: &str, headers: &[&[u8]], body: Option<&str>) -> Response {
    http_on(
        std::net::TcpStream::connect(address).unwrap(),
        method,
        path,
        headers,
        body,
    )
}

/// A connection to `address` from the loopback address `source`: another client than
/// 127.0.0.1, as far as the server can tell.
fn connect_from(source: &str, address: SocketAddr) -> std::net::TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
        let stream = socket.connect(address).await.unwrap().into_std().unwrap();
        stream.set_nonblocking(false).unwrap();
        stream
    })
}

/// One HTTP/1.1 request on `stream`, which it closes.
fn http_on(
    mut stream: std::net::TcpStream,
    method: &str,
    path: &str,
    headers: &[&[u8]],
    body: Option<&str>,
) -> Response {
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n").into_bytes();
    for header in headers {
        request.extend_from_slice(header);
        request.extend_from_slice(b"\r\n");
    }
    if let Some(body) = body {
        request.extend_from_slice(
            format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()).as_bytes(),
        );
    }
    request.extend_from_slice(b"\r\n");
    request.extend_from_slice(body.unwrap_or_default().as_bytes());
    stream.write_all(&request).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Response {
        status,
        headers: head.to_ascii_lowercase(),
        body: body.to_owned(),
    }
}

fn authed(address: SocketAddr, method: &str, path: &str, body: Option<&str>) -> Response {
    let header = format!("Authorization: {AUTH}");
    http(address, method, path, &[header.as_bytes()], body)
}

/// What the emulator holds for the tests: a classic ELB `web` with two instances, a third
/// instance not registered, one in another VPC, two more in the VPC of another environment and
/// of none, and an ALB `tasks` with two IP targets; a classic ELB `production-lb` of another
/// environment.
struct Fixture {
    registered: Vec<String>,
    spare: String,
    foreign: String,
    /// In the VPC of `web`, tagged with another environment.
    other_environment: String,
    /// In the VPC of `web`, with no environment tag.
    untagged: String,
}

async fn fixture(moto: &Moto) -> Fixture {
    let config = moto.sdk_config();
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let make_network = |cidr: &'static str| {
        let ec2 = ec2.clone();
        async move {
            let vpc = ec2
                .create_vpc()
                .cidr_block(cidr)
                .send()
                .await
                .unwrap()
                .vpc
                .unwrap()
                .vpc_id
                .unwrap();
            let subnet_cidr = cidr.replace("/16", "/24");
            let subnet = ec2
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block(subnet_cidr)
                .send()
                .await
                .unwrap()
                .subnet
                .unwrap()
                .subnet_id
                .unwrap();
            // An internet-facing load balancer needs the VPC's internet gateway (AWS refuses
            // it otherwise, and so does the test proxy).
            let gateway = ec2
                .create_internet_gateway()
                .send()
                .await
                .unwrap()
                .internet_gateway
                .unwrap()
                .internet_gateway_id
                .unwrap();
            ec2.attach_internet_gateway()
                .internet_gateway_id(gateway)
                .vpc_id(&vpc)
                .send()
                .await
                .unwrap();
            (vpc, subnet)
        }
    };
    let (vpc, subnet) = make_network("10.50.0.0/16").await;
    let (_, foreign_subnet) = make_network("10.60.0.0/16").await;
    let image = ec2.describe_images().owners("amazon").send().await.unwrap().images()[0]
        .image_id()
        .unwrap()
        .to_owned();
    let run = |subnet: String, count: i32, environment: Option<&'static str>| {
        let (ec2, image) = (ec2.clone(), image.clone());
        async move {
            let tags = environment.map(|environment| {
                aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(aws_sdk_ec2::types::ResourceType::Instance)
                    .tags(
                        aws_sdk_ec2::types::Tag::builder()
                            .key("deployer:environment")
                            .value(environment)
                            .build(),
                    )
                    .build()
            });
            let output = ec2
                .run_instances()
                .image_id(image)
                .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                .subnet_id(subnet)
                .min_count(count)
                .max_count(count)
                .set_tag_specifications(tags.map(|t| vec![t]))
                .send()
                .await
                .unwrap();
            output
                .instances()
                .iter()
                .map(|i| i.instance_id().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let mut ours = run(subnet.clone(), 3, Some(API_ENVIRONMENT)).await;
    let foreign = run(foreign_subnet, 1, Some(API_ENVIRONMENT)).await.remove(0);
    let other_environment = run(subnet.clone(), 1, Some("production")).await.remove(0);
    let untagged = run(subnet.clone(), 1, None).await.remove(0);
    let spare = ours.pop().unwrap();

    let elb = aws_sdk_elasticloadbalancing::Client::new(&config);
    let listener = aws_sdk_elasticloadbalancing::types::Listener::builder()
        .protocol("HTTP")
        .load_balancer_port(80)
        .instance_port(8000)
        .build()
        .unwrap();
    let environment = |name: &str| {
        aws_sdk_elasticloadbalancing::types::Tag::builder()
            .key("deployer:environment")
            .value(name)
            .build()
            .unwrap()
    };
    elb.create_load_balancer()
        .load_balancer_name("web")
        .listeners(listener.clone())
        .subnets(&subnet)
        .tags(environment(API_ENVIRONMENT))
        .send()
        .await
        .unwrap();
    // Another environment's load balancer, in the same account.
    elb.create_load_balancer()
        .load_balancer_name("production-lb")
        .listeners(listener)
        .subnets(&subnet)
        .tags(environment("production"))
        .send()
        .await
        .unwrap();
    let instances: Vec<_> = ours
        .iter()
        .map(|id| {
            aws_sdk_elasticloadbalancing::types::Instance::builder()
                .instance_id(id)
                .build()
        })
        .collect();
    elb.register_instances_with_load_balancer()
        .load_balancer_name("web")
        .set_instances(Some(instances))
        .send()
        .await
        .unwrap();

    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let (_, second_subnet) = {
        let s = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block("10.50.1.0/24")
            .availability_zone("us-east-1b")
            .send()
            .await
            .unwrap();
        ((), s.subnet.unwrap().subnet_id.unwrap())
    };
    let alb = elbv2
        .create_load_balancer()
        .name("tasks")
        .subnets(&subnet)
        .subnets(second_subnet)
        .tags(
            aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                .key("deployer:environment")
                .value(API_ENVIRONMENT)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let alb_arn = alb.load_balancers()[0].load_balancer_arn().unwrap().to_owned();
    let group = elbv2
        .create_target_group()
        .name("tasks-ip")
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(8000)
        .vpc_id(&vpc)
        .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Ip)
        .send()
        .await
        .unwrap();
    let group_arn = group.target_groups()[0].target_group_arn().unwrap().to_owned();
    let forward = aws_sdk_elasticloadbalancingv2::types::Action::builder()
        .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Forward)
        .target_group_arn(&group_arn)
        .build();
    elbv2
        .create_listener()
        .load_balancer_arn(alb_arn)
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(80)
        .default_actions(forward)
        .send()
        .await
        .unwrap();
    for ip in ["10.50.0.10", "10.50.0.11"] {
        let target = aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder()
            .id(ip)
            .port(8000)
            .build();
        elbv2
            .register_targets()
            .target_group_arn(&group_arn)
            .targets(target)
            .send()
            .await
            .unwrap();
    }
    Fixture {
        registered: ours,
        spare,
        foreign,
        other_environment,
        untagged,
    }
}

/// The API served in-process on free loopback ports, stopped when the runtime is dropped.
struct Api {
    runtime: tokio::runtime::Runtime,
    address: SocketAddr,
    metrics_address: SocketAddr,
    state: app::AppState,
}

fn start_api(moto: &Moto, cache_ttl_seconds: &str) -> (Api, Fixture) {
    let runtime = runtime();
    let fixture = runtime.block_on(fixture(moto));
    let api = serve_api(runtime, &moto.sdk_config(), &[("CACHE_TTL_SECONDS", cache_ttl_seconds)]);
    (api, fixture)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The API with `API_TOKEN` and `settings` as its environment, talking to AWS through `aws`.
fn serve_api(runtime: tokio::runtime::Runtime, aws: &aws_config::SdkConfig, settings: &[(&str, &str)]) -> Api {
    let config = app::config::Config::from_lookup(|name| {
        let given = settings.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned());
        match name {
            "API_TOKEN" => Some(TOKEN.to_owned()),
            "API_ENVIRONMENT" => given.or_else(|| Some(API_ENVIRONMENT.to_owned())),
            _ => given,
        }
    })
    .unwrap();
    let state = app::AppState::new(&config, aws);
    let bind = || runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let (listener, metrics) = (bind(), bind());
    let (address, metrics_address) = (listener.local_addr().unwrap(), metrics.local_addr().unwrap());
    runtime.spawn(app::serve(listener, metrics, state, std::future::pending()));
    Api {
        runtime,
        address,
        metrics_address,
        state,
    }
}

#[test]
fn healthcheck_needs_no_credentials() {
    let moto = Moto::start();
    let (api, _) = start_api(&moto, "5");
    let response = http(api.address, "GET", "/healthcheck", &[], None);
    assert_eq!(
        (response.status, response.json()),
        (200, serde_json::json!({"message": "ok"}))
    );
}

#[test]
fn classic_elb_members_have_the_original_shape() {
    let moto = Moto::start();
    let (api, fixture) = start_api(&moto, "5");
    let response = authed(api.address, "GET", "/elb/web", None);
    assert_eq!(response.status, 200, "{}", response.body);
    let members = response.json()["message"].as_array().unwrap().clone();
    let mut ids: Vec<&str> = members.iter().map(|m| m["instanceId"].as_str().unwrap()).collect();
    ids.sort_unstable();
    let mut expected: Vec<&str> = fixture.registered.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(ids, expected);
    for member in &members {
        assert_eq!(member["instanceType"], "t3.micro");
        let launch = member["launchDate"].as_str().unwrap();
        assert!(
            launch.len() == 20 && launch.ends_with('Z') && launch.as_bytes()[10] == b'T',
            "{launch}"
        );
        assert_eq!(
            member.as_object().unwrap().len(),
            3,
            "exactly instanceId, instanceType, launchDate: {member}"
        );
    }
}

#[test]
fn every_authentication_failure_is_a_401_with_a_challenge() {
    let moto = Moto::start();
    let (api, _) = start_api(&moto, "5");
    let wrong = b"Authorization: Basic YWRtaW46d3Jvbmc=".as_slice(); // admin:wrong
    let malformed = b"Authorization: Basic !!!".as_slice();
    let bearer = b"Authorization: Bearer YWRtaW46czNjcmV0".as_slice();
    let not_utf8 = b"Authorization: Basic \xff\xfe".as_slice();
    for headers in [&[][..], &[wrong], &[malformed], &[bearer], &[not_utf8]] {
        let response = http(api.address, "GET", "/elb/web", headers, None);
        assert_eq!(response.status, 401, "{headers:?}");
        assert!(
            response.headers.contains("www-authenticate: basic realm=\"deployer\""),
            "{}",
            response.headers
        );
        assert_eq!(
            response.json(),
            serde_json::json!({"message": "authentication required"})
        );
    }
}

#[test]
fn unknown_load_balancer_is_404_and_bad_names_400() {
    let moto = Moto::start();
    let (api, _) = start_api(&moto, "5");
    let response = authed(api.address, "GET", "/elb/nope", None);
    assert_eq!(
        (response.status, response.json()),
        (404, serde_json::json!({"message": "load balancer nope not found"}))
    );
    // The name is percent-decoded before it is checked or looked up.
    let response = authed(api.address, "GET", "/elb/n%6Fpe", None);
    assert_eq!(
        (response.status, response.json()),
        (404, serde_json::json!({"message": "load balancer nope not found"}))
    );
    for bad in [
        "/elb/bad_name",
        "/elb/a%2Fb",
        "/elb/%ff",
        &format!("/elb/{}", "a".repeat(33)),
    ] {
        let response = authed(api.address, "GET", bad, None);
        assert_eq!(response.status, 400, "{bad}");
    }
    let response = http(api.address, "GET", "/nowhere", &[], None);
    assert_eq!(
        (response.status, response.json()["message"].as_str().unwrap()),
        (404, "no route for GET /nowhere")
    );
}

#[test]
fn register_and_deregister_round_trip() {
    let moto = Moto::start();
    let (api, fixture) = start_api(&moto, "60");
    let members = |api: &Api| authed(api.address, "GET", "/elb/web", None).instance_ids();
    assert!(!members(&api).contains(&fixture.spare));
    let body = format!(r#"{{"instanceId":"{}"}}"#, fixture.spare);

    let response = authed(api.address, "POST", "/elb/web", Some(&body));
    assert_eq!(response.status, 201, "{}", response.body);
    assert_eq!(
        response.json()["message"],
        format!("{} registered with web", fixture.spare)
    );
    assert!(
        members(&api).contains(&fixture.spare),
        "a write invalidates the 60 s cache"
    );

    let response = authed(api.address, "DELETE", "/elb/web", Some(&body));
    assert_eq!(response.status, 200, "{}", response.body);
    assert!(!members(&api).contains(&fixture.spare));
    let response = authed(api.address, "DELETE", "/elb/web", Some(&body));
    assert_eq!(response.status, 404, "{}", response.body);
    assert_eq!(
        response.json()["message"],
        format!("instance {} is not registered with web", fixture.spare)
    );
}

#[test]
fn bad_writes_get_the_right_status() {
    let moto = Moto::start();
    let (api, fixture) = start_api(&moto, "5");
    let cases = [
        ("{not json", 400),
        (r#"{"instance":"i-0123456789abcdef0"}"#, 422),
        (r#"{"instanceId":"web-1"}"#, 422),
        (r#"{"instanceId":"i-00000000deadbeef0"}"#, 404),
    ];
    for (body, status) in cases {
        let response = authed(api.address, "POST", "/elb/web", Some(body));
        assert_eq!(response.status, status, "{body}: {}", response.body);
        assert!(response.json()["message"].is_string(), "{}", response.body);
    }
    let foreign = format!(r#"{{"instanceId":"{}"}}"#, fixture.foreign);
    let response = authed(api.address, "POST", "/elb/tasks", Some(&foreign));
    assert_eq!(
        response.status, 409,
        "IP target groups take no instances: {}",
        response.body
    );
}

#[test]
fn only_the_environments_own_instances_can_be_registered_and_refusals_look_like_unknown_ids() {
    let moto = Moto::start();
    let (api, fixture) = start_api(&moto, "5");
    let unknown = "i-00000000deadbeef0";
    for instance in [unknown, &fixture.foreign, &fixture.other_environment, &fixture.untagged] {
        let body = format!(r#"{{"instanceId":"{instance}"}}"#);
        let response = authed(api.address, "POST", "/elb/web", Some(&body));
        // Another VPC, another environment, none: all answered as an id that does not exist.
        assert_eq!(
            (response.status, response.json()),
            (
                404,
                serde_json::json!({"message": format!("instance {instance} not found")})
            ),
            "{instance}"
        );
    }
    let members = authed(api.address, "GET", "/elb/web", None).json()["message"].clone();
    for instance in [&fixture.other_environment, &fixture.untagged] {
        assert!(!members.to_string().contains(instance.as_str()), "{members}");
    }
    // The environment's own spare instance is registered.
    let body = format!(r#"{{"instanceId":"{}"}}"#, fixture.spare);
    assert_eq!(authed(api.address, "POST", "/elb/web", Some(&body)).status, 201);
}

#[test]
fn alb_lists_ip_targets_with_health() {
    let moto = Moto::start();
    let (api, _) = start_api(&moto, "5");
    let response = authed(api.address, "GET", "/elb/tasks", None);
    assert_eq!(response.status, 200, "{}", response.body);
    let mut ips: Vec<(String, i64, String)> = response.json()["message"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["ip"].as_str().unwrap().to_owned(),
                m["port"].as_i64().unwrap(),
                m["health"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    ips.sort();
    assert_eq!(
        ips,
        [
            ("10.50.0.10".to_owned(), 8000, "healthy".to_owned()),
            ("10.50.0.11".to_owned(), 8000, "healthy".to_owned())
        ]
    );
}

#[test]
fn concurrent_requests_share_one_lookup_and_metrics_count_them() {
    let moto = Moto::start();
    let (api, _) = start_api(&moto, "30");
    let before = api.state.metrics().aws_calls_total();
    let address = api.address;
    let threads: Vec<_> = (0..64)
        .map(|_| std::thread::spawn(move || authed(address, "GET", "/elb/web", None).status))
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap(), 200);
    }
    // One DescribeLoadBalancers, one DescribeTags (its environment) and one DescribeInstances
    // for all 64 requests.
    assert_eq!(api.state.metrics().aws_calls_total() - before, 3);

    // Only on the metrics port, which the load balancer does not forward.
    assert_eq!(http(api.address, "GET", "/metrics", &[], None).status, 404);
    let metrics = http(api.metrics_address, "GET", "/metrics", &[], None);
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .body
            .contains(r#"http_requests_total{method="GET",route="/elb/{name}",status="200"} 64"#),
        "{}",
        metrics.body
    );
    assert!(
        metrics
            .body
            .contains(r#"http_request_duration_seconds_bucket{route="/elb/{name}",le="0.25"}"#),
        "{}",
        metrics.body
    );
    assert!(
        metrics
            .body
            .contains(r#"aws_calls_total{operation="DescribeInstances"} 1"#),
        "{}",
        metrics.body
    );
    drop(api.runtime);
}

#[test]
fn openapi_document_lists_every_route() {
    let moto = Moto::start();
    let (api, _) = start_api(&moto, "5");
    let response = http(api.address, "GET", "/openapi.json", &[], None);
    assert_eq!(response.status, 200);
    let document = response.json();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let paths = document["paths"].as_object().unwrap();
    let mut routes: Vec<String> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "parameters" && *k != "servers")
                .map(move |m| format!("{m} {path}"))
        })
        .collect();
    routes.sort();
    assert_eq!(
        routes,
        [
            "delete /elb/{name}",
            "get /elb/{name}",
            "get /healthcheck",
            "get /metrics",
            "get /openapi.json",
            "post /elb/{name}"
        ]
    );
    // Every documented route answers something other than "no route".
    for route in &routes {
        let (method, path) = route.split_once(' ').unwrap();
        // A path with servers of its own (/metrics) is served on the metrics port.
        let address = if paths[path].get("servers").is_some() {
            api.metrics_address
        } else {
            api.address
        };
        let path = path.replace("{name}", "web");
        let response = authed(address, &method.to_uppercase(), &path, Some("{}"));
        assert!(!response.body.contains("no route for"), "{route}: {}", response.body);
    }
}

/// The `api` binary next to `deployer` in the target directory, built if this test run did not.
fn api_binary() -> std::path::PathBuf {
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_deployer")).with_file_name("api");
    if !binary.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "--package", "app", "--bin", "api"])
            .status()
            .unwrap();
        assert!(status.success(), "building the api binary failed");
    }
    binary
}

#[test]
fn binary_runs_as_the_image_does_and_stops_on_sigterm() {
    let moto = Moto::start();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let child = std::process::Command::new(api_binary())
        .env_clear()
        .env("PORT", &port)
        .env("METRICS_PORT", &metrics_port)
        .env("API_TOKEN", TOKEN)
        .env("LOG_FORMAT", "json")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The image's HEALTHCHECK command, retried while the server starts.
    let healthy = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        std::process::Command::new(api_binary())
            .arg("healthcheck")
            .env("PORT", &port)
            .status()
            .unwrap()
            .success()
    });
    assert!(healthy, "api healthcheck never succeeded");
    let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    assert_eq!(authed(address, "GET", "/elb/absent", None).status, 404);

    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "graceful shutdown exits 0: {output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("shutting down; finishing requests in flight"),
        "{stderr}"
    );
    // LOG_FORMAT=json: one JSON object per request on stdout.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(
        (line["status"].as_u64(), line["method"].as_str(), line["path"].as_str()),
        (Some(404), Some("GET"), Some("/elb/absent"))
    );
    let after = std::process::Command::new(api_binary())
        .arg("healthcheck")
        .env("PORT", &port)
        .status()
        .unwrap();
    assert!(!after.success(), "the healthcheck fails once the server is gone");
}

#[test]
fn binary_refuses_to_start_without_credentials() {
    let output = std::process::Command::new(api_binary())
        .env_clear()
        .env("PORT", "0")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no credentials configured: set API_TOKEN"), "{stderr}");
}

/// An SDK configuration for `endpoint`, one attempt per call so tests do not sit through
/// retries.
fn aws_at(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .http_client(app::https_client())
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
        .credentials_provider(aws_sdk_ec2::config::SharedCredentialsProvider::new(
            aws_sdk_ec2::config::Credentials::new("test", "test", None, None, "tests"),
        ))
        .build()
}

#[test]
fn unreachable_aws_is_a_503_with_a_short_message() {
    // Nothing listens on port 1.
    let api = serve_api(runtime(), &aws_at("http://127.0.0.1:1"), &[]);
    let response = authed(api.address, "GET", "/elb/web", None);
    assert_eq!(
        (response.status, response.json()),
        (
            503,
            serde_json::json!({"message": "AWS could not be reached; try again shortly"})
        )
    );
}

#[test]
fn an_aws_refusal_reaches_the_caller_as_a_request_id_not_as_aws_text() {
    let moto = Moto::start();
    let proxy = crate::support::proxy::Proxy::start(&moto.endpoint, 0.0, 1);
    proxy.reject(
        "DescribeLoadBalancers",
        1,
        "InvalidConfigurationRequest",
        "Load balancer arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/staging-task is in a state that does not allow this",
    );
    let api = serve_api(runtime(), &aws_at(&proxy.endpoint), &[]);
    let response = authed(api.address, "GET", "/elb/web", None);
    assert_eq!(response.status, 502, "{}", response.body);
    for secret in ["arn:", "123456789012", "InvalidConfigurationRequest", "staging-task"] {
        assert!(
            !response.body.contains(secret),
            "`{secret}` reached the caller: {}",
            response.body
        );
    }
    let id = response.json()["requestId"].as_str().unwrap().to_owned();
    assert!(
        response.headers.contains(&format!("x-request-id: {id}")),
        "{}",
        response.headers
    );
    assert!(response.json()["message"].as_str().unwrap().contains(&id));
}

#[test]
fn made_up_methods_do_not_grow_the_metrics() {
    let api = serve_api(runtime(), &aws_at("http://127.0.0.1:1"), &[]);
    for i in 0..300 {
        let response = http(api.address, &format!("XM{i}"), "/elb/web", &[], None);
        assert!(response.status >= 400, "{}", response.status);
    }
    let metrics = http(api.metrics_address, "GET", "/metrics", &[], None);
    assert!(!metrics.body.contains("XM1"), "{}", metrics.body);
    assert!(metrics.body.contains(r#"method="other""#), "{}", metrics.body);
    assert!(
        metrics.body.len() < 8192,
        "/metrics grew to {} bytes",
        metrics.body.len()
    );
}

/// Reads until the server closes the connection, or gives up after `limit`; how long it took.
fn time_until_closed(stream: &mut std::net::TcpStream, limit: Duration) -> Option<Duration> {
    let started = std::time::Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => return Some(started.elapsed()),
            Err(_) => return None,
        }
    }
}

#[test]
fn half_sent_heads_are_cut_off_and_idle_connections_kept_for_their_own_timeout() {
    let api = serve_api(
        runtime(),
        &aws_at("http://127.0.0.1:1"),
        &[("HEADER_READ_TIMEOUT_SECONDS", "1"), ("IDLE_TIMEOUT_SECONDS", "3")],
    );
    // Half a request head: cut off after the header-read timeout.
    let mut slow = std::net::TcpStream::connect(api.address).unwrap();
    slow.write_all(b"GET /healthcheck HTTP/1.1\r\nHost: x\r\n").unwrap();
    let closed = time_until_closed(&mut slow, Duration::from_secs(10)).expect("a half-sent head is cut off");
    assert!(closed < Duration::from_secs(3), "cut off after {closed:?}");

    // A kept-alive connection after its answer: kept for the idle timeout, not the header one.
    let mut idle = std::net::TcpStream::connect(api.address).unwrap();
    idle.write_all(b"GET /healthcheck HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut answer = [0u8; 512];
    let read = idle.read(&mut answer).unwrap();
    assert!(String::from_utf8_lossy(&answer[..read]).starts_with("HTTP/1.1 200"));
    let closed = time_until_closed(&mut idle, Duration::from_secs(10)).expect("an idle connection is closed");
    assert!(
        closed >= Duration::from_millis(2500) && closed < Duration::from_secs(5),
        "idle connection closed after {closed:?}, expected about 3 s"
    );
}

#[test]
fn past_the_concurrency_limit_requests_get_a_503_at_once() {
    // An AWS endpoint that accepts connections and never answers: the first request waits.
    let stall = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", stall.local_addr().unwrap());
    let api = serve_api(
        runtime(),
        &aws_at(&endpoint),
        &[("MAX_CONCURRENT_REQUESTS", "1"), ("REQUEST_TIMEOUT_SECONDS", "4")],
    );
    let address = api.address;
    let first = std::thread::spawn(move || authed(address, "GET", "/elb/web", None));
    let _held = (0..50).find_map(|_| {
        std::thread::sleep(Duration::from_millis(50));
        stall.set_nonblocking(true).unwrap();
        stall.accept().ok()
    });
    let started = std::time::Instant::now();
    let second = authed(api.address, "GET", "/elb/other", None);
    assert_eq!(second.status, 503, "{}", second.body);
    assert!(
        second.json()["message"]
            .as_str()
            .unwrap()
            .contains("limit of 1 requests at once"),
        "{}",
        second.body
    );
    assert!(started.elapsed() < Duration::from_secs(1), "the 503 waited");
    // One limit for every method: with the GET in flight, writes are past it too.
    for method in ["POST", "DELETE"] {
        let started = std::time::Instant::now();
        let write = authed(
            api.address,
            method,
            "/elb/other",
            Some(r#"{"instanceId":"i-0123456789abcdef0"}"#),
        );
        assert_eq!(write.status, 503, "{method}: {}", write.body);
        assert!(
            write.json()["message"]
                .as_str()
                .unwrap()
                .contains("limit of 1 requests at once"),
            "{method}: {}",
            write.body
        );
        assert!(started.elapsed() < Duration::from_secs(1), "{method}: the 503 waited");
    }
    // The load balancer's health check is not part of the limit.
    assert_eq!(http(api.address, "GET", "/healthcheck", &[], None).status, 200);
    assert_eq!(first.join().unwrap().status, 503, "the stalled request times out");
}

#[test]
fn another_environments_load_balancer_is_answered_as_unknown_and_never_written() {
    let moto = Moto::start();
    let proxy = crate::support::proxy::Proxy::start(&moto.endpoint, 0.0, 1);
    let runtime = runtime();
    let fixture = runtime.block_on(fixture(&moto));
    let api = serve_api(runtime, &aws_at(&proxy.endpoint), &[]);
    let body = format!(r#"{{"instanceId":"{}"}}"#, fixture.spare);
    let unknown = |name: &str| serde_json::json!({"message": format!("load balancer {name} not found")});
    proxy.take_calls();
    // Reads and writes alike: the same status and body as a name that does not exist, so a
    // caller cannot probe other environments' names.
    for (method, body) in [
        ("GET", None),
        ("POST", Some(body.as_str())),
        ("DELETE", Some(body.as_str())),
    ] {
        for name in ["production-lb", "nope"] {
            let response = authed(api.address, method, &format!("/elb/{name}"), body);
            assert_eq!(
                (response.status, response.json()),
                (404, unknown(name)),
                "{method} {name}"
            );
        }
    }
    let calls: Vec<String> = proxy.take_calls().into_iter().map(|c| c.operation).collect();
    let writes: Vec<&String> = calls
        .iter()
        .filter(|o| o.starts_with("Register") || o.starts_with("Deregister"))
        .collect();
    assert_eq!(writes, Vec::<&String>::new(), "a refused write reached AWS");
    assert!(
        !calls.iter().any(|o| o == "DescribeInstances"),
        "another environment's members were read: {calls:?}"
    );
    // The environment's own load balancer still answers.
    assert_eq!(authed(api.address, "GET", "/elb/web", None).status, 200);

    // Without API_ENVIRONMENT the API serves no load balancer.
    let runtime = self::runtime();
    let unset = serve_api(runtime, &aws_at(&moto.endpoint), &[("API_ENVIRONMENT", "")]);
    for (method, body) in [("GET", None), ("POST", Some(body.as_str()))] {
        let response = authed(unset.address, method, "/elb/web", body);
        assert_eq!((response.status, response.json()), (404, unknown("web")), "{method}");
    }
}

#[test]
fn access_denied_from_aws_is_a_403_naming_only_a_request_id() {
    let moto = Moto::start();
    let proxy = crate::support::proxy::Proxy::start(&moto.endpoint, 0.0, 1);
    let runtime = runtime();
    let fixture = runtime.block_on(fixture(&moto));
    let api = serve_api(runtime, &aws_at(&proxy.endpoint), &[]);
    proxy.reject(
        "RegisterInstancesWithLoadBalancer",
        1,
        "AccessDenied",
        "User: arn:aws:sts::123456789012:assumed-role/test-task/abc is not authorized to perform: elasticloadbalancing:RegisterInstancesWithLoadBalancer",
    );
    let body = format!(r#"{{"instanceId":"{}"}}"#, fixture.spare);
    let response = authed(api.address, "POST", "/elb/web", Some(&body));
    assert_eq!(response.status, 403, "{}", response.body);
    assert!(!response.body.contains("arn:"), "{}", response.body);
    assert!(response.json()["requestId"].is_string(), "{}", response.body);
}

#[test]
fn password_guessing_is_throttled_per_address_the_load_balancer_saw() {
    let api = serve_api(
        runtime(),
        &aws_at("http://127.0.0.1:1"),
        &[
            ("AUTH_FAILURE_LIMIT", "3"),
            ("AUTH_LOCKOUT_SECONDS", "60"),
            // The tests' connections come from loopback: here, the load balancer's address.
            ("TRUSTED_PROXY_CIDRS", "10.0.0.0/16, 127.0.0.0/8"),
        ],
    );
    let wrong = b"Authorization: Basic d3Jvbmc6d3Jvbmc=".as_slice(); // wrong:wrong
    let right = format!("Authorization: {AUTH}");
    // The load balancer appends the address it saw; what comes before is the client's to forge.
    let from = |forged: &str, seen: &str| format!("X-Forwarded-For: {forged}, {seen}");
    for attempt in 0..3 {
        let xff = from(&format!("10.0.0.{attempt}"), "203.0.113.9");
        let response = http(api.address, "GET", "/elb/web", &[wrong, xff.as_bytes()], None);
        assert_eq!(response.status, 401, "attempt {attempt}: {}", response.body);
    }
    // Locked out: even the right password gets 429, with Retry-After, and no comparison. The
    // entries of every header are one list, read from the right past the trusted proxies (a
    // second header from a proxy of the VPC does not make the client that proxy), and the
    // IPv4-mapped form is the same address.
    let first = b"X-Forwarded-For: 192.0.2.1, 203.0.113.9".as_slice();
    let second = b"X-Forwarded-For: 10.0.2.2".as_slice();
    let mapped = b"X-Forwarded-For: 192.0.2.1, ::ffff:203.0.113.9".as_slice();
    for headers in [&[wrong, first, second][..], &[wrong, mapped]] {
        let response = http(api.address, "GET", "/elb/web", headers, None);
        assert_eq!(response.status, 429, "{headers:?}: {}", response.body);
    }
    let xff = from("192.0.2.1", "203.0.113.9");
    let locked = http(
        api.address,
        "GET",
        "/elb/web",
        &[right.as_bytes(), xff.as_bytes()],
        None,
    );
    assert_eq!(locked.status, 429, "{}", locked.body);
    let retry_after: u64 = locked
        .headers
        .lines()
        .find_map(|l| l.strip_prefix("retry-after: "))
        .expect("Retry-After")
        .trim()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    // Another address is answered at full speed.
    let other = from("203.0.113.9", "198.51.100.4");
    let fine = http(
        api.address,
        "GET",
        "/elb/web",
        &[right.as_bytes(), other.as_bytes()],
        None,
    );
    assert_eq!(fine.status, 503, "past authentication (AWS unreachable): {}", fine.body);
    let metrics = http(api.metrics_address, "GET", "/metrics", &[], None);
    assert!(metrics.body.contains("auth_throttled_total 3"), "{}", metrics.body);
}

#[test]
fn x_forwarded_for_from_a_peer_that_is_not_a_trusted_proxy_is_ignored() {
    let wrong = b"Authorization: Basic d3Jvbmc6d3Jvbmc=".as_slice(); // wrong:wrong
    let right = format!("Authorization: {AUTH}");
    let get = |api: &Api, source: &str, headers: &[&[u8]]| {
        http_on(connect_from(source, api.address), "GET", "/elb/web", headers, None).status
    };
    // No TRUSTED_PROXY_CIDRS, or one that does not hold the peers (loopback here).
    for trusted in ["", "10.0.0.0/16"] {
        let api = serve_api(
            runtime(),
            &aws_at("http://127.0.0.1:1"),
            &[
                ("AUTH_FAILURE_LIMIT", "3"),
                ("AUTH_LOCKOUT_SECONDS", "60"),
                ("TRUSTED_PROXY_CIDRS", trusted),
            ],
        );
        // A new header per guess is not a new address: the guesser is locked out.
        for attempt in 0..3 {
            let xff = format!("X-Forwarded-For: 198.51.100.{attempt}");
            assert_eq!(get(&api, "127.0.0.2", &[wrong, xff.as_bytes()]), 401, "{trusted:?}");
        }
        let xff = b"X-Forwarded-For: 198.51.100.200".as_slice();
        assert_eq!(get(&api, "127.0.0.2", &[right.as_bytes(), xff]), 429, "{trusted:?}");
        // Guesses naming a victim's address lock out the guesser, not the victim.
        let victim = b"X-Forwarded-For: 127.0.0.4".as_slice();
        for _ in 0..3 {
            assert_eq!(get(&api, "127.0.0.3", &[wrong, victim]), 401, "{trusted:?}");
        }
        assert_eq!(get(&api, "127.0.0.3", &[right.as_bytes()]), 429, "{trusted:?}");
        // Past authentication (AWS unreachable).
        assert_eq!(get(&api, "127.0.0.4", &[right.as_bytes()]), 503, "{trusted:?}");
    }
}

#[test]
fn a_peer_reached_over_ipv6_as_a_mapped_address_is_its_ipv4_address() {
    let runtime = runtime();
    let config = app::config::Config::from_lookup(|name| match name {
        "API_TOKEN" => Some(TOKEN.to_owned()),
        "AUTH_FAILURE_LIMIT" => Some("2".to_owned()),
        "TRUSTED_PROXY_CIDRS" => Some("127.0.0.0/8".to_owned()),
        _ => None,
    })
    .unwrap();
    let state = app::AppState::new(&config, &aws_at("http://127.0.0.1:1"));
    // A dual-stack socket: IPv4 peers arrive as ::ffff:127.0.0.1.
    let bind = |address: &str| {
        runtime
            .block_on(tokio::net::TcpListener::bind(address.to_owned()))
            .unwrap()
    };
    let (listener, metrics) = (bind("[::]:0"), bind("127.0.0.1:0"));
    let port = listener.local_addr().unwrap().port();
    runtime.spawn(app::serve(listener, metrics, state, std::future::pending()));
    let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let wrong = b"Authorization: Basic d3Jvbmc6d3Jvbmc=".as_slice();
    let right = format!("Authorization: {AUTH}");
    // The peer ::ffff:127.0.0.1 is inside 127.0.0.0/8: its X-Forwarded-For is believed.
    for _ in 0..2 {
        let response = http(
            address,
            "GET",
            "/elb/web",
            &[wrong, b"X-Forwarded-For: 203.0.113.9"],
            None,
        );
        assert_eq!(response.status, 401);
    }
    let locked = http(
        address,
        "GET",
        "/elb/web",
        &[right.as_bytes(), b"X-Forwarded-For: 203.0.113.9"],
        None,
    );
    assert_eq!(locked.status, 429, "{}", locked.body);
    let other = http(
        address,
        "GET",
        "/elb/web",
        &[right.as_bytes(), b"X-Forwarded-For: 203.0.113.10"],
        None,
    );
    assert_eq!(other.status, 503, "another client, past authentication: {}", other.body);
}

/// The API as deployed on EC2, under IAM enforcement, signing as a user holding exactly the
/// policy deployer gave the instance role: listing, deregistering and registering work.
#[test]
fn the_api_works_holding_only_the_instance_roles_policy() {
    let mut moto = Moto::start();
    moto.enforce_least_privilege("development");
    crate::support::Deployer::new(&moto)
        .args(["apply", "development", "--auto-approve"])
        .run()
        .expect_status(0);
    let policy = crate::support::deployer_policy(&moto, "development-us-east-1-instance");
    let keys = moto.user_holding("api-instance-role", &[policy]);
    let api = serve_api(
        runtime(),
        &moto.sdk_config_as(&keys),
        &[("API_ENVIRONMENT", "development"), ("CACHE_TTL_SECONDS", "0")],
    );
    let calls = |moto: &Moto| -> String {
        let calls = moto.strict.calls_so_far();
        let theirs = calls.iter().filter(|c| c.key_id.as_deref() == Some(keys.id.as_str()));
        theirs
            .filter(|c| !c.succeeded())
            .map(|c| format!("{} {:?} {:?}", c.operation, c.answer, c.params))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let members = |api: &Api| -> Vec<String> {
        let response = authed(api.address, "GET", "/elb/development-lb", None);
        assert_eq!(response.status, 200, "{}: {}", response.body, calls(&moto));
        response.instance_ids()
    };
    let registered = members(&api);
    let instance = registered.first().expect("the group's instance is registered").clone();
    let body = format!(r#"{{"instanceId":"{instance}"}}"#);
    // Each write was allowed (a refusal answers 403 with a request id). The emulator lists an
    // Auto Scaling group's instances as its load balancer's whatever was deregistered, so the
    // membership itself is checked by `register_and_deregister_round_trip`, not here.
    let response = authed(api.address, "DELETE", "/elb/development-lb", Some(&body));
    assert_eq!(response.status, 200, "{}", response.body);
    let response = authed(api.address, "POST", "/elb/development-lb", Some(&body));
    assert_eq!(response.status, 201, "{}", response.body);
    assert!(members(&api).contains(&instance));
}
