//! Checks a request deployer sends against AWS's own API model: botocore's `service-2.json`, as
//! installed with the emulator in the project's virtualenv. The emulator accepts much that AWS
//! rejects (a 33-character name, an enum value AWS does not know, a missing required member);
//! this module is the stricter reader, so a test can fail on a request real AWS would refuse.
//!
//! What it owns: finding the models (under `.venv/lib/python3*/site-packages/botocore/data`, or
//! next to `MOTO_SERVER`), loading the services deployer uses once per test process, naming the
//! service and operation of a request, decoding its body into a tree by the model's own
//! serialization rules (botocore's `serialize.py`: JSON, query, EC2 query), and checking that
//! tree against the operation's input shape: required members, enums, string lengths, patterns,
//! numeric ranges, list and map sizes, number and boolean syntax.
//!
//! What it does not check:
//! - S3 (REST-XML: members live in the path, query string and headers) and any request that is
//!   neither JSON with `X-Amz-Target` nor a form with `Action` and `Version`: no violations.
//! - Services it does not load, and requests no loaded model claims: no violations.
//! - Members the model does not have: the SDK may be newer than the installed botocore.
//! - Patterns the Rust `regex` crate cannot compile (look-arounds, surrogates): skipped and
//!   counted, never reported. Idempotency tokens and timestamps get no pattern check, blobs and
//!   documents no check at all.
//! - Rules the model only states in prose (an ELBv2 target group name's 32 characters are in the
//!   documentation, not in a `max`): this reads constraints, not documentation.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use serde::Deserialize;
use serde_json::{Map, Value};

/// botocore's names for the services deployer calls (S3 aside). `elb` is the classic load
/// balancer API; `cloudwatch` signs as `monitoring`.
const SERVICES: [&str; 17] = [
    "ec2",
    "elb",
    "elbv2",
    "ecs",
    "rds",
    "iam",
    "sts",
    "acm",
    "application-autoscaling",
    "autoscaling",
    "cloudwatch",
    "logs",
    "dynamodb",
    "ecr",
    "sns",
    "ssm",
    "secretsmanager",
];

/// Longest value a violation quotes, in characters.
const QUOTED: usize = 120;

/// One way a request breaks AWS's API model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    /// botocore's name of the service: `ecs`, `elbv2`, `ec2`.
    pub(crate) service: String,
    pub(crate) operation: String,
    /// Where in the input, by the model's member names: `loadBalancers[0].containerPort`; empty
    /// when the operation itself is unknown.
    pub(crate) member: String,
    /// The value sent, truncated; empty for a missing member.
    pub(crate) value: String,
    /// What the model asks: `required`, `one of [a, b]`, `length 1..=32`, `range 1..=65535`,
    /// `count 1..`, `pattern ^[a-z]+$`, `type integer`, `operation in the model`.
    pub(crate) constraint: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            service,
            operation,
            member,
            value,
            constraint,
        } = self;
        if member.is_empty() {
            write!(f, "{service} {operation}: no such operation")?;
        } else if constraint == "required" {
            write!(f, "{service} {operation}: {member} is missing, violates required")?;
        } else {
            write!(f, "{service} {operation}: {member} = {value} violates {constraint}")?;
        }
        write!(f, " (AWS's API model, botocore)")
    }
}

/// The violations of one HTTP request (head as text incl. request line, body bytes); empty when it
/// conforms or is not checked.
pub(crate) fn check_request(head: &str, body: &[u8]) -> Vec<Violation> {
    let Some(request) = Request::parse(head, body) else {
        return Vec::new();
    };
    let Some((model, operation)) = identify(catalog(), &request) else {
        return Vec::new();
    };
    let mut checker = Checker {
        model,
        operation: operation.to_owned(),
        json: matches!(request, Request::Json { .. }),
        found: Vec::new(),
    };
    let Some(spec) = model.operations.get(operation) else {
        checker.report("", "", "operation in the model".to_owned());
        return checker.found;
    };
    // An operation without input has nothing to check.
    let Some(input) = &spec.input else {
        return Vec::new();
    };
    let tree = decode(model, input, &request);
    checker.check(input, &tree, "");
    checker.found
}

// ---------------------------------------------------------------------------------------------
// The models

/// One service's `service-2.json`, reduced to what serialization and validation read (serde
/// skips the documentation, most of the file).
#[derive(Deserialize)]
struct Model {
    metadata: Metadata,
    operations: HashMap<String, Operation>,
    shapes: HashMap<String, Shape>,
    /// botocore's directory name (set after loading).
    #[serde(skip)]
    service: &'static str,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    api_version: String,
    protocol: String,
    #[serde(default)]
    protocols: Vec<String>,
    signing_name: Option<String>,
    endpoint_prefix: String,
    target_prefix: Option<String>,
}

impl Metadata {
    fn speaks(&self, protocol: &str) -> bool {
        self.protocol == protocol || self.protocols.iter().any(|p| p == protocol)
    }
}

#[derive(Deserialize)]
struct Operation {
    input: Option<Member>,
}

/// A reference to a shape, with the serialization traits the reference itself adds (botocore
/// merges them over the shape's own).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Member {
    shape: String,
    location_name: Option<String>,
    query_name: Option<String>,
    flattened: Option<bool>,
    #[serde(default)]
    idempotency_token: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Shape {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    members: BTreeMap<String, Member>,
    #[serde(default)]
    required: Vec<String>,
    member: Option<Member>,
    key: Option<Member>,
    value: Option<Member>,
    min: Option<f64>,
    max: Option<f64>,
    pattern: Option<String>,
    #[serde(rename = "enum")]
    values: Option<Vec<String>>,
    location_name: Option<String>,
    query_name: Option<String>,
    #[serde(default)]
    flattened: bool,
    #[serde(default)]
    sensitive: bool,
    #[serde(default)]
    document: bool,
}

/// One api-version directory of a service; its model is read the first time a request needs it.
struct Version {
    api_version: String,
    path: PathBuf,
    model: OnceLock<Model>,
}

impl Version {
    fn model(&self, service: &'static str) -> &Model {
        self.model.get_or_init(|| load(service, &self.path))
    }
}

struct Service {
    name: &'static str,
    /// Newest first: a request without a matching Version dir is read by the newest model.
    versions: Vec<Version>,
}

impl Service {
    fn newest(&self) -> Option<&Model> {
        self.versions.first().map(|v| v.model(self.name))
    }
}

/// Every service's version directories, listed once per test process; each model is parsed on
/// first use (EC2's alone is megabytes of JSON).
fn catalog() -> &'static [Service] {
    static CATALOG: OnceLock<Vec<Service>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let data = data_dir();
        SERVICES.iter().map(|name| list_versions(&data, name)).collect()
    })
}

/// botocore's data directory: beside `MOTO_SERVER` when set (`.venv/bin/moto_server` ->
/// `.venv/lib/python3*/site-packages/botocore/data`), else in the repository's `.venv`. Panics
/// when neither has it: a test asking for the check must not pass by checking nothing.
fn data_dir() -> PathBuf {
    let from_server =
        std::env::var_os("MOTO_SERVER").and_then(|server| Some(Path::new(&server).parent()?.parent()?.to_path_buf()));
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv");
    from_server
        .into_iter()
        .chain([repository])
        .find_map(|venv| botocore_in(&venv))
        .expect("botocore's API models are not installed: run `cargo xtask setup`")
}

fn botocore_in(venv: &Path) -> Option<PathBuf> {
    let mut pythons: Vec<PathBuf> = std::fs::read_dir(venv.join("lib"))
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("python3"))
        })
        .map(|path| path.join("site-packages/botocore/data"))
        .filter(|data| data.is_dir())
        .collect();
    pythons.sort();
    pythons.pop()
}

fn list_versions(data: &Path, name: &'static str) -> Service {
    let mut versions: Vec<Version> = std::fs::read_dir(data.join(name))
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let dir = entry.ok()?.path();
            // Some old version directories hold only examples or paginators.
            let path = dir.join("service-2.json.gz");
            let api_version = dir.file_name()?.to_string_lossy().into_owned();
            path.is_file().then(|| Version {
                api_version,
                path,
                model: OnceLock::new(),
            })
        })
        .collect();
    // Version directories are dates: newest first.
    versions.sort_by(|a, b| b.api_version.cmp(&a.api_version));
    Service { name, versions }
}

fn load(service: &'static str, path: &Path) -> Model {
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .read_to_end(&mut text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut model: Model = serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    model.service = service;
    model
}

impl Model {
    fn shape(&self, member: &Member) -> Option<&Shape> {
        self.shapes.get(&member.shape)
    }

    /// The name the request is signed for: `Credential=…/<this>/aws4_request`.
    fn signing_name(&self) -> &str {
        self.metadata
            .signing_name
            .as_deref()
            .unwrap_or(&self.metadata.endpoint_prefix)
    }
}

// ---------------------------------------------------------------------------------------------
// The request

enum Request {
    /// `X-Amz-Target: <prefix>.<Operation>` and a JSON body.
    Json {
        prefix: String,
        operation: String,
        body: Value,
    },
    /// A form with `Action` and `Version`, signed for `signing` (when signed: STS's web identity
    /// calls are not).
    Query {
        signing: Option<String>,
        version: String,
        action: String,
        form: Vec<(String, String)>,
    },
}

impl Request {
    fn parse(head: &str, body: &[u8]) -> Option<Self> {
        let header = |name: &str| {
            head.lines().skip(1).find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
            })
        };
        if let Some(target) = header("x-amz-target") {
            let (prefix, operation) = target.split_once('.')?;
            // A body that is not JSON is not checked (the emulator rejects it anyway).
            let body = if body.iter().all(u8::is_ascii_whitespace) {
                Value::Object(Map::new())
            } else {
                serde_json::from_slice(body).ok()?
            };
            return Some(Self::Json {
                prefix: prefix.to_owned(),
                operation: operation.to_owned(),
                body,
            });
        }
        // S3 and CBOR bodies are no forms; an S3 object that looks like one still has no form
        // content type.
        if !header("content-type").is_some_and(|t| t.contains("x-www-form-urlencoded")) {
            return None;
        }
        let form: Vec<(String, String)> = String::from_utf8_lossy(body)
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (form_decode(key), form_decode(value))
            })
            .collect();
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let (action, version) = (field("Action")?, field("Version")?);
        let signing = header("authorization").and_then(|auth| {
            let scope = auth.split("Credential=").nth(1)?;
            let scope = scope.split([',', ' ']).next()?;
            // AKID/date/region/service/aws4_request
            scope.split('/').nth(3).map(str::to_owned)
        });
        Some(Self::Query {
            signing,
            version,
            action,
            form,
        })
    }
}

/// A form-encoded key or value: `+` is a space, then percent-escapes.
fn form_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// The model and operation name a request is for; `None` when no loaded model claims it.
fn identify<'a>(catalog: &'a [Service], request: &'a Request) -> Option<(&'a Model, &'a str)> {
    match request {
        Request::Json { prefix, operation, .. } => catalog
            .iter()
            .filter_map(Service::newest)
            .find(|m| m.metadata.speaks("json") && m.metadata.target_prefix.as_deref() == Some(prefix.as_str()))
            .map(|m| (m, operation.as_str())),
        Request::Query {
            signing,
            version,
            action,
            ..
        } => {
            // The Version names the API version directory; the signing name tells apart the
            // services sharing one (elb and elbv2 both sign as `elasticloadbalancing`).
            catalog
                .iter()
                .flat_map(|s| {
                    let name = s.name;
                    s.versions
                        .iter()
                        .filter(move |v| v.api_version == *version)
                        .map(move |v| v.model(name))
                })
                .find(|m| {
                    (m.metadata.speaks("query") || m.metadata.speaks("ec2"))
                        && m.metadata.api_version == *version
                        && signing.as_deref().is_none_or(|s| s == m.signing_name())
                })
                .map(|m| (m, action.as_str()))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding: the body as a tree keyed by the model's member names, whatever the protocol, so
// one validator reads all of them. Query scalars stay strings; the validator parses them.

fn decode(model: &Model, input: &Member, request: &Request) -> Value {
    match request {
        Request::Json { body, .. } => from_json(model, input, body),
        Request::Query { form, .. } => {
            let mut root = Node::default();
            for (key, value) in form {
                root.insert(key, value);
            }
            let ec2 = model.metadata.protocol == "ec2";
            from_query(model, input, &root, ec2).unwrap_or(Value::Null)
        }
    }
}

/// JSON members are keyed by locationName when the model gives one (botocore's JSONSerializer),
/// else by member name. Keys the model does not know are dropped: not ours to judge.
fn from_json(model: &Model, member: &Member, value: &Value) -> Value {
    let Some(shape) = model.shape(member) else {
        return value.clone();
    };
    match (shape.kind.as_str(), value) {
        ("structure", Value::Object(object)) if !shape.document => Value::Object(
            shape
                .members
                .iter()
                .filter_map(|(name, m)| {
                    let key = location_name(model, m).unwrap_or(name);
                    let v = object.get(key).filter(|v| !v.is_null())?;
                    Some((name.clone(), from_json(model, m, v)))
                })
                .collect(),
        ),
        ("list", Value::Array(items)) => match &shape.member {
            Some(m) => Value::Array(items.iter().map(|v| from_json(model, m, v)).collect()),
            None => value.clone(),
        },
        ("map", Value::Object(entries)) => match &shape.value {
            Some(m) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), from_json(model, m, v)))
                    .collect(),
            ),
            None => value.clone(),
        },
        _ => value.clone(),
    }
}

/// The form's keys split at dots: `TagSpecification.1.Tag.1.Key` is a path of five nodes.
#[derive(Default)]
struct Node {
    value: Option<String>,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn insert(&mut self, key: &str, value: &str) {
        let node = key
            .split('.')
            .fold(self, |node, part| node.children.entry(part.to_owned()).or_default());
        node.value = Some(value.to_owned());
    }

    /// The children named `1`, `2`, …, in numeric order (`10` after `9`).
    fn indexed(&self) -> Vec<&Node> {
        let mut items: Vec<(usize, &Node)> = self
            .children
            .iter()
            .filter_map(|(k, n)| Some((k.parse().ok()?, n)))
            .collect();
        items.sort_by_key(|(i, _)| *i);
        items.into_iter().map(|(_, n)| n).collect()
    }
}

fn location_name<'a>(model: &'a Model, member: &'a Member) -> Option<&'a str> {
    member
        .location_name
        .as_deref()
        .or_else(|| model.shape(member)?.location_name.as_deref())
}

fn flattened(model: &Model, member: &Member) -> bool {
    member
        .flattened
        .unwrap_or_else(|| model.shape(member).is_some_and(|s| s.flattened))
}

/// botocore's `_get_serialized_name`: EC2 takes queryName, else locationName capitalised; the
/// query protocol takes locationName; both else `default`.
fn wire_name(model: &Model, member: &Member, default: &str, ec2: bool) -> String {
    if ec2 {
        let query_name = member
            .query_name
            .as_deref()
            .or_else(|| model.shape(member)?.query_name.as_deref());
        if let Some(name) = query_name {
            return name.to_owned();
        }
        if let Some(name) = location_name(model, member) {
            let mut chars = name.chars();
            return chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect())
                .unwrap_or_default();
        }
        return default.to_owned();
    }
    location_name(model, member).unwrap_or(default).to_owned()
}

fn from_query(model: &Model, member: &Member, node: &Node, ec2: bool) -> Option<Value> {
    let Some(shape) = model.shape(member) else {
        return node.value.clone().map(Value::String);
    };
    match shape.kind.as_str() {
        "structure" => {
            let mut object = Map::new();
            for (name, m) in &shape.members {
                let key = query_member_key(model, m, name, ec2);
                if let Some(v) = node
                    .children
                    .get(&key)
                    .and_then(|child| from_query(model, m, child, ec2))
                {
                    object.insert(name.clone(), v);
                }
            }
            Some(Value::Object(object))
        }
        "list" => {
            let item = shape.member.as_ref()?;
            if node.children.is_empty() {
                // The query protocol sends an empty list as `Name=` (botocore and the Rust SDK
                // alike): that is a list of nothing, not a string.
                return node.value.as_ref().map(|v| {
                    if v.is_empty() {
                        Value::Array(Vec::new())
                    } else {
                        Value::String(v.clone())
                    }
                });
            }
            // EC2 numbers the elements right under the member (`Tag.1`); the query protocol
            // puts the list member's name between (`Subnets.member.1`) unless flattened.
            let items = if ec2 || flattened(model, member) {
                node
            } else {
                let name = location_name(model, item).unwrap_or("member");
                node.children.get(name)?
            };
            let decoded = items
                .indexed()
                .into_iter()
                .map(|n| from_query(model, item, n, ec2).unwrap_or(Value::Null));
            Some(Value::Array(decoded.collect()))
        }
        "map" => {
            let (key, value) = (shape.key.as_ref()?, shape.value.as_ref()?);
            let entries = if flattened(model, member) {
                node
            } else {
                node.children.get("entry")?
            };
            let (key_name, value_name) = (wire_name(model, key, "key", ec2), wire_name(model, value, "value", ec2));
            let mut object = Map::new();
            for entry in entries.indexed() {
                let Some(k) = entry.children.get(&key_name).and_then(|n| n.value.clone()) else {
                    continue;
                };
                let v = entry
                    .children
                    .get(&value_name)
                    .and_then(|n| from_query(model, value, n, ec2))
                    .unwrap_or(Value::Null);
                object.insert(k, v);
            }
            Some(Value::Object(object))
        }
        _ => node.value.clone().map(Value::String),
    }
}

/// The form key of a structure's member. A flattened list whose member has a locationName is
/// sent under that name instead of its own (botocore: "Replace '.Original' with '.{name}'").
fn query_member_key(model: &Model, member: &Member, name: &str, ec2: bool) -> String {
    if !ec2
        && flattened(model, member)
        && let Some(item) = model
            .shape(member)
            .filter(|s| s.kind == "list")
            .and_then(|s| s.member.as_ref())
        && let Some(item_name) = location_name(model, item)
    {
        return item_name.to_owned();
    }
    wire_name(model, member, name, ec2)
}

// ---------------------------------------------------------------------------------------------
// Validation

struct Checker<'a> {
    model: &'a Model,
    operation: String,
    /// JSON carries numbers and booleans typed; the query protocols carry every scalar as text.
    json: bool,
    found: Vec<Violation>,
}

impl Checker<'_> {
    fn report(&mut self, member: &str, value: &str, constraint: String) {
        self.found.push(Violation {
            service: self.model.service.to_owned(),
            operation: self.operation.clone(),
            member: member.to_owned(),
            value: truncated(value),
            constraint,
        });
    }

    fn check(&mut self, member: &Member, value: &Value, path: &str) {
        let model = self.model;
        let Some(shape) = model.shape(member) else {
            return;
        };
        // A password's value stays out of test output.
        let quoted = if shape.sensitive {
            "(sensitive)".to_owned()
        } else {
            quote(value)
        };
        match shape.kind.as_str() {
            "structure" if !shape.document => {
                let Value::Object(object) = value else {
                    return self.report(path, &quoted, "type structure".to_owned());
                };
                for name in &shape.required {
                    if !object.contains_key(name) {
                        self.report(&join(path, name), "", "required".to_owned());
                    }
                }
                for (name, m) in &shape.members {
                    if let Some(v) = object.get(name) {
                        self.check(m, v, &join(path, name));
                    }
                }
            }
            "list" => {
                let Value::Array(items) = value else {
                    return self.report(path, &quoted, "type list".to_owned());
                };
                if !within(items.len() as f64, shape.min, shape.max) {
                    self.report(
                        path,
                        &format!("{} elements", items.len()),
                        format!("count {}", bounds(shape)),
                    );
                }
                if let Some(item) = &shape.member {
                    for (i, v) in items.iter().enumerate() {
                        self.check(item, v, &format!("{path}[{i}]"));
                    }
                }
            }
            "map" => {
                let Value::Object(entries) = value else {
                    return self.report(path, &quoted, "type map".to_owned());
                };
                if !within(entries.len() as f64, shape.min, shape.max) {
                    self.report(
                        path,
                        &format!("{} entries", entries.len()),
                        format!("count {}", bounds(shape)),
                    );
                }
                for (k, v) in entries {
                    if let Some(key) = &shape.key {
                        self.check(key, &Value::String(k.clone()), &format!("{path} key {k:?}"));
                    }
                    if let Some(m) = &shape.value {
                        self.check(m, v, &format!("{path}[{k:?}]"));
                    }
                }
            }
            "string" => {
                let Value::String(text) = value else {
                    return self.report(path, &quoted, "type string".to_owned());
                };
                if let Some(values) = &shape.values
                    && !values.contains(text)
                {
                    self.report(path, &quoted, one_of(values));
                }
                if !within(text.chars().count() as f64, shape.min, shape.max) {
                    self.report(path, &quoted, format!("length {}", bounds(shape)));
                }
                if let Some(pattern) = &shape.pattern
                    && !member.idempotency_token
                    && satisfies(pattern, text) == Some(false)
                {
                    self.report(path, &quoted, format!("pattern {pattern}"));
                }
            }
            kind @ ("integer" | "long" | "float" | "double") => {
                let integral = matches!(kind, "integer" | "long");
                let number = match value {
                    Value::Number(n) if self.json => n.as_f64().filter(|f| !integral || f.fract() == 0.0),
                    Value::String(s) if !self.json => {
                        if integral {
                            s.parse::<i64>().ok().map(|i| i as f64)
                        } else {
                            s.parse::<f64>().ok()
                        }
                    }
                    _ => None,
                };
                match number {
                    None => self.report(path, &quoted, format!("type {kind}")),
                    Some(n) if !within(n, shape.min, shape.max) => {
                        self.report(path, &quoted, format!("range {}", bounds(shape)));
                    }
                    Some(_) => {}
                }
            }
            "boolean" => {
                let ok = match value {
                    Value::Bool(_) => self.json,
                    Value::String(s) => !self.json && (s == "true" || s == "false"),
                    _ => false,
                };
                if !ok {
                    self.report(path, &quoted, "type boolean".to_owned());
                }
            }
            // Timestamps, blobs and documents: their encoding is the SDK's business.
            _ => {}
        }
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn within(n: f64, min: Option<f64>, max: Option<f64>) -> bool {
    min.is_none_or(|min| n >= min) && max.is_none_or(|max| n <= max)
}

/// `1..=32`, `1..`, `..=32`: the shape's min and max as a Rust range.
fn bounds(shape: &Shape) -> String {
    let number = |n: f64| {
        if n.fract() == 0.0 && n.abs() < 1e18 {
            format!("{}", n as i64)
        } else {
            format!("{n}")
        }
    };
    let min = shape.min.map(number).unwrap_or_default();
    let max = shape.max.map(|m| format!("={}", number(m))).unwrap_or_default();
    format!("{min}..{max}")
}

/// `one of [a, b]`; EC2's longest enums (instance types) are cut after a dozen.
fn one_of(values: &[String]) -> String {
    const SHOWN: usize = 12;
    let mut listed = values
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if values.len() > SHOWN {
        listed.push_str(&format!(", … ({} in all)", values.len()));
    }
    format!("one of [{listed}]")
}

fn quote(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn truncated(text: &str) -> String {
    if text.chars().count() <= QUOTED {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(QUOTED).collect();
        cut.push('…');
        cut
    }
}

// ---------------------------------------------------------------------------------------------
// Patterns

/// Patterns compiled so far (`None`: the regex crate cannot compile it), shared by all tests.
static PATTERNS: Mutex<BTreeMap<String, Option<regex::Regex>>> = Mutex::new(BTreeMap::new());

/// How many distinct patterns were skipped because they do not compile.
static UNCOMPILABLE: AtomicUsize = AtomicUsize::new(0);

/// Whether `text` satisfies `pattern` as AWS applies it; `None` when it cannot be compiled.
///
/// Smithy says patterns are not implicitly anchored, but AWS's services match the whole value
/// (Java's `Pattern.matches`): IAM refuses the role name `my role` although `[\w+=,.@-]+` finds
/// `my` in it, and the models' many unanchored character whitelists mean nothing otherwise. So
/// the pattern is wrapped in `^(?:…)$`, a no-op for the patterns that anchor themselves.
fn satisfies(pattern: &str, text: &str) -> Option<bool> {
    let compiled = {
        let mut cache = PATTERNS.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry(pattern.to_owned())
            .or_insert_with(|| {
                let compiled = regex::Regex::new(&format!("^(?:{})$", java_classes(pattern))).ok();
                if compiled.is_none() {
                    UNCOMPILABLE.fetch_add(1, Ordering::Relaxed);
                }
                compiled
            })
            .clone()
    };
    compiled.map(|r| r.is_match(text))
}

/// The pattern with Java's ASCII-only classes spelled as the regex crate's ASCII classes: its
/// `\w \d \s` are Unicode, and would let `rôle` pass where AWS refuses it; Java's POSIX names
/// (`\p{Print}`, `\p{Alnum}`) it does not know, or reads as Unicode properties.
fn java_classes(pattern: &str) -> String {
    const POSIX: [(&str, &str); 13] = [
        ("Lower", "lower"),
        ("Upper", "upper"),
        ("ASCII", "ascii"),
        ("Alpha", "alpha"),
        ("Digit", "digit"),
        ("Alnum", "alnum"),
        ("Punct", "punct"),
        ("Graph", "graph"),
        ("Print", "print"),
        ("Blank", "blank"),
        ("Cntrl", "cntrl"),
        ("XDigit", "xdigit"),
        ("Space", "space"),
    ];
    let mut out = String::with_capacity(pattern.len());
    let mut depth = 0usize;
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(next) = chars.next() else {
                    out.push(c);
                    break;
                };
                let class = match next {
                    'w' | 'W' => Some(("word", next == 'W')),
                    'd' | 'D' => Some(("digit", next == 'D')),
                    's' | 'S' => Some(("space", next == 'S')),
                    'p' | 'P' => {
                        let rest = chars.as_str();
                        let posix = rest
                            .strip_prefix('{')
                            .and_then(|r| r.split_once('}'))
                            .and_then(|(name, _)| POSIX.iter().find(|(java, _)| *java == name));
                        posix.map(|(java, ascii)| {
                            // Past `{Name}`.
                            chars = rest[java.len() + 2..].chars();
                            (*ascii, next == 'P')
                        })
                    }
                    _ => None,
                };
                match class {
                    Some((name, negated)) => {
                        let class = format!("[:{}{name}:]", if negated { "^" } else { "" });
                        // Inside brackets an ASCII class stands as it is; outside it needs its own.
                        if depth > 0 {
                            out.push_str(&class);
                        } else {
                            out.push('[');
                            out.push_str(&class);
                            out.push(']');
                        }
                    }
                    None => {
                        out.push('\\');
                        out.push(next);
                    }
                }
            }
            '[' => {
                depth += 1;
                out.push(c);
            }
            ']' if depth > 0 => {
                depth -= 1;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNED: &str = "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1";

    /// A query request as the Rust SDK sends it, signed for `signing`.
    fn query(signing: &str, body: &str) -> Vec<Violation> {
        let head = format!(
            "POST / HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/x-www-form-urlencoded\r\n\
             authorization: {SIGNED}/{signing}/aws4_request, SignedHeaders=host, Signature=0\r\n\
             content-length: {}\r\n\r\n",
            body.len()
        );
        check_request(&head, body.as_bytes())
    }

    fn json(target: &str, body: &Value) -> Vec<Violation> {
        let body = body.to_string();
        let head = format!(
            "POST / HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/x-amz-json-1.1\r\n\
             x-amz-target: {target}\r\nauthorization: {SIGNED}/ecs/aws4_request\r\n\
             content-length: {}\r\n\r\n",
            body.len()
        );
        check_request(&head, body.as_bytes())
    }

    /// (member, constraint) of each violation, to assert exactly.
    fn found(violations: &[Violation]) -> Vec<(&str, &str)> {
        violations
            .iter()
            .map(|v| (v.member.as_str(), v.constraint.as_str()))
            .collect()
    }

    fn model(service: &str) -> &'static Model {
        catalog()
            .iter()
            .find(|s| s.name == service)
            .and_then(Service::newest)
            .unwrap()
    }

    /// The decoded tree of a query request, to see what the validator is handed.
    fn decoded(service: &str, body: &str) -> Value {
        let form = body
            .split('&')
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap();
                (form_decode(k), form_decode(v))
            })
            .collect::<Vec<_>>();
        let action = form.iter().find(|(k, _)| k == "Action").unwrap().1.clone();
        let model = model(service);
        let input = model.operations[&action].input.as_ref().unwrap();
        let request = Request::Query {
            signing: None,
            version: model.metadata.api_version.clone(),
            action,
            form,
        };
        decode(model, input, &request)
    }

    const VPC: &str = "Action=CreateVpc&Version=2016-11-15&CidrBlock=10.0.0.0%2F16\
        &TagSpecification.1.ResourceType=vpc&TagSpecification.1.Tag.1.Key=Name\
        &TagSpecification.1.Tag.1.Value=staging+vpc&TagSpecification.1.Tag.2.Key=deployer%3Aenvironment\
        &TagSpecification.1.Tag.2.Value=staging";

    #[test]
    fn an_ec2_create_vpc_with_tags_conforms() {
        assert_eq!(query("ec2", VPC), []);
        // It conforms because its members were read, not skipped: EC2 lists are `Name.N`.
        let tree = decoded("ec2", VPC);
        assert_eq!(tree["TagSpecifications"][0]["ResourceType"], "vpc");
        assert_eq!(tree["TagSpecifications"][0]["Tags"][0]["Value"], "staging vpc");
        assert_eq!(tree["TagSpecifications"][0]["Tags"][1]["Key"], "deployer:environment");
        let wrong = VPC.replace("ResourceType=vpc", "ResourceType=vpcs");
        let violations = query("ec2", &wrong);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].member, "TagSpecifications[0].ResourceType");
        assert!(violations[0].constraint.starts_with("one of ["), "{}", violations[0]);
    }

    #[test]
    fn elbv2_target_group_lengths_and_ranges() {
        let name = "a".repeat(33);
        let body = format!(
            "Action=CreateTargetGroup&Version=2015-12-01&Name={name}&Protocol=HTTP&Port=80&VpcId=vpc-1\
             &HealthCheckPath=&HealthCheckIntervalSeconds=301"
        );
        // AWS limits a target group's name to 32 characters in its documentation only: the
        // model's TargetGroupName has no max, so the 33 characters pass here.
        assert_eq!(
            found(&query("elasticloadbalancing", &body)),
            [
                ("HealthCheckIntervalSeconds", "range 5..=300"),
                ("HealthCheckPath", "length 1..=1024"),
            ]
        );
    }

    #[test]
    fn an_elbv2_scheme_outside_the_enum_is_reported() {
        let body = "Action=CreateLoadBalancer&Version=2015-12-01&Name=web&Scheme=public\
            &Subnets.member.1=subnet-1&Subnets.member.2=subnet-2";
        let violations = query("elasticloadbalancing", body);
        assert_eq!(found(&violations), [("Scheme", "one of [internet-facing, internal]")]);
        assert_eq!(
            violations[0].to_string(),
            "elbv2 CreateLoadBalancer: Scheme = public violates one of [internet-facing, internal] \
             (AWS's API model, botocore)"
        );
        assert_eq!(query("elasticloadbalancing", &body.replace("public", "internal")), []);
    }

    #[test]
    fn an_empty_query_list_is_a_list_of_nothing() {
        let body = "Action=CreateLoadBalancer&Version=2015-12-01&Name=web&Subnets=";
        assert_eq!(decoded("elbv2", body)["Subnets"], serde_json::json!([]));
        // Subnets has no minimum; the tag list's is 1.
        assert_eq!(query("elasticloadbalancing", body), []);
        assert_eq!(
            found(&query("elasticloadbalancing", &format!("{body}&Tags="))),
            [("Tags", "count 1..")]
        );
    }

    #[test]
    fn ecs_create_service_required_and_ranges() {
        let service = serde_json::json!({
            "cluster": "staging",
            "serviceName": "api",
            "desiredCount": 2,
            // The model gives containerPort no range (BoxedInteger): 0 is not its to refuse.
            "loadBalancers": [{"targetGroupArn": "arn:aws:elasticloadbalancing:tg", "containerPort": 0}],
            "capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1001}],
        });
        let target = "AmazonEC2ContainerServiceV20141113.CreateService";
        let violations = json(target, &service);
        assert_eq!(
            found(&violations),
            [("capacityProviderStrategy[0].weight", "range 0..=1000")]
        );
        assert_eq!(violations[0].service, "ecs");
        assert_eq!(violations[0].value, "1001");
        let mut nameless = service.clone();
        nameless.as_object_mut().unwrap().remove("serviceName");
        nameless["capacityProviderStrategy"][0]["weight"] = 1.into();
        let violations = json(target, &nameless);
        assert_eq!(found(&violations), [("serviceName", "required")]);
        assert_eq!(
            violations[0].to_string(),
            "ecs CreateService: serviceName is missing, violates required (AWS's API model, botocore)"
        );
    }

    #[test]
    fn rds_create_db_cluster_needs_its_identifier_and_engine() {
        let body = "Action=CreateDBCluster&Version=2014-10-31&MasterUsername=app\
            &VpcSecurityGroupIds.VpcSecurityGroupId.1=sg-1&VpcSecurityGroupIds.VpcSecurityGroupId.2=sg-2";
        assert_eq!(
            found(&query("rds", body)),
            [("DBClusterIdentifier", "required"), ("Engine", "required")]
        );
        // RDS names its list members: `VpcSecurityGroupIds.VpcSecurityGroupId.N`.
        assert_eq!(
            decoded("rds", body)["VpcSecurityGroupIds"],
            serde_json::json!(["sg-1", "sg-2"])
        );
        let complete = format!("{body}&DBClusterIdentifier=staging&Engine=aurora-postgresql");
        assert_eq!(query("rds", &complete), []);
    }

    #[test]
    fn an_iam_role_name_with_a_space_breaks_the_pattern() {
        let policy = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        let body = format!("Action=CreateRole&Version=2010-05-08&RoleName=my+role&AssumeRolePolicyDocument={policy}");
        assert_eq!(found(&query("iam", &body)), [("RoleName", r"pattern [\w+=,.@-]+")]);
        assert_eq!(query("iam", &body.replace("my+role", "my-role")), []);
        // Java's \w is ASCII, as AWS reads it.
        assert_eq!(found(&query("iam", &body.replace("my+role", "r%C3%B4le"))).len(), 1);
    }

    #[test]
    fn unknown_services_and_operations() {
        // An operation the model lacks, for a service it knows.
        let violations = query("elasticloadbalancing", "Action=Frobnicate&Version=2015-12-01");
        assert_eq!(found(&violations), [("", "operation in the model")]);
        assert_eq!(violations[0].service, "elbv2");
        // A service it does not know, by signing name or by version: not checked.
        assert_eq!(query("frobnicator", "Action=CreateLoadBalancer&Version=2015-12-01"), []);
        assert_eq!(
            query("elasticloadbalancing", "Action=Frobnicate&Version=1999-01-01"),
            []
        );
        assert_eq!(json("Frobnicator_2020.Create", &serde_json::json!({})), []);
        // S3 is REST-XML: not checked.
        assert_eq!(
            check_request("PUT /bucket?policy HTTP/1.1\r\nhost: x\r\n\r\n", b"{}"),
            []
        );
        // elb and elbv2 share a signing name; the Version tells them apart.
        let classic = query("elasticloadbalancing", "Action=CreateLoadBalancer&Version=2012-06-01");
        assert_eq!(
            found(&classic),
            [("LoadBalancerName", "required"), ("Listeners", "required")]
        );
        assert_eq!(classic[0].service, "elb");
    }

    #[test]
    fn java_classes_are_ascii() {
        assert_eq!(java_classes(r"[\w+=,.@-]+"), r"[[:word:]+=,.@-]+");
        assert_eq!(java_classes(r"\d{12}\S"), r"[[:digit:]]{12}[[:^space:]]");
        assert_eq!(
            java_classes(r"\p{Print}+\P{Alnum}\p{L}\\w"),
            r"[[:print:]]+[[:^alnum:]]\p{L}\\w"
        );
        assert_eq!(satisfies(r"\p{Print}+", "tab\there"), Some(false));
        assert_eq!(satisfies(r"\p{Print}+", "plain text"), Some(true));
    }

    /// Loads every model afresh (not through the shared catalog, which another test may have
    /// filled) and compiles every pattern: how long the first check of a process costs.
    #[test]
    #[allow(clippy::print_stderr)]
    fn every_model_loads() {
        let started = std::time::Instant::now();
        let data = data_dir();
        let services: Vec<Service> = SERVICES.iter().map(|name| list_versions(&data, name)).collect();
        let models: Vec<&Model> = services.iter().filter_map(Service::newest).collect();
        let loaded = started.elapsed();
        assert_eq!(
            models.len(),
            SERVICES.len(),
            "a service has no model under {}",
            data.display()
        );
        let patterns: std::collections::BTreeSet<&str> = models
            .iter()
            .flat_map(|m| m.shapes.values().filter_map(|s| s.pattern.as_deref()))
            .collect();
        let skipped: Vec<&str> = patterns
            .iter()
            .copied()
            .filter(|p| satisfies(p, "").is_none())
            .collect();
        // Each distinct pattern is counted once, whichever test met it first.
        assert_eq!(UNCOMPILABLE.load(Ordering::Relaxed), skipped.len());
        eprintln!(
            "api_model: {} models ({} shapes) loaded in {loaded:?}; {} distinct patterns, {} the regex \
             crate cannot compile, all compiled by {:?}: {skipped:?}",
            models.len(),
            models.iter().map(|m| m.shapes.len()).sum::<usize>(),
            patterns.len(),
            skipped.len(),
            started.elapsed(),
        );
    }
}
