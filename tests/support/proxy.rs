//! A fault-injecting proxy between deployer and the emulator, on loopback. It names each call's
//! operation (`Action=` for the query protocols, `X-Amz-Target` for JSON), and with a seeded
//! probability answers it itself, before the emulator sees it, with one of the faults real AWS
//! produces: HTTP 503 without a body, a throttling error in the protocol's own shape, a 500
//! with an error body, or a reset connection. It records every call, so tests can count
//! retries and check the order of deletes. It can also rewrite the emulator's answers, to
//! hold resources in the pending states real AWS keeps them in for minutes (the emulator makes
//! everything ready at once).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The proxy's clock: one tick per arrival or answer.
static TICKS: AtomicU64 = AtomicU64::new(0);
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{api_model, aws_rules};
use aws_rules::AwsRules;

/// What the proxy did with one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Forwarded; the emulator's HTTP status.
    Forwarded(u16),
    /// Answered by the proxy with a fault.
    Fault(Fault),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Fault {
    Unavailable,
    Throttled,
    InternalError,
    Reset,
    /// A client error chosen by the test: (code, message), HTTP 400.
    Rejected(String, String),
    /// Forwarded and carried out by the emulator, then the connection closed without the
    /// answer: a create that succeeded while its caller saw only a dropped connection.
    Lost,
}

const FAULTS: [Fault; 4] = [Fault::Unavailable, Fault::Throttled, Fault::InternalError, Fault::Reset];

#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) operation: String,
    /// The signing name (`ec2`, `monitoring`, ...), and the access key the call was signed with.
    pub(crate) service: String,
    pub(crate) key_id: Option<String>,
    /// The request line's target (S3 names its bucket there).
    pub(crate) target: String,
    /// The JSON protocol's body.
    pub(crate) json: Option<serde_json::Value>,
    /// Under IAM enforcement, the tags of the EC2 resources the call names, as they were when
    /// it arrived (for `iam_evaluator`).
    pub(crate) tags: BTreeMap<String, BTreeMap<String, String>>,
    /// The request's parameters: form fields for the query protocols (decoded), top-level
    /// string and number fields for JSON.
    pub(crate) params: BTreeMap<String, String>,
    pub(crate) answer: Answer,
    /// When the call arrived and when it was answered, on one clock shared by all calls:
    /// a delete that arrived after another was answered came strictly after it.
    pub(crate) arrived: u64,
    pub(crate) answered: u64,
    /// When it arrived and when it was answered, since the proxy started (read by the
    /// benchmark, which shares this module).
    #[allow(dead_code)]
    pub(crate) at: Duration,
    #[allow(dead_code)]
    pub(crate) done_at: Duration,
}

impl Call {
    pub(crate) fn succeeded(&self) -> bool {
        matches!(self.answer, Answer::Forwarded(200..=299))
    }
}

/// Answers of some operations rewritten: `from` replaced by `to` in the body, for `lasting`
/// from the first answer it changed.
struct Rewrite {
    operations: Vec<String>,
    from: String,
    to: String,
    lasting: Duration,
    since: Option<Instant>,
}

/// A scripted error: for calls of `operation` (carrying the parameter `param`, when given),
/// how many more times.
struct Scripted {
    operation: String,
    param: Option<String>,
    left: usize,
    fault: Fault,
}

struct Rules {
    /// AWS's preconditions and its API model, enforced (`Proxy::strict`).
    strict: Option<Strict>,
    started: Instant,
    scripted: Vec<Scripted>,
    rewrites: Vec<Rewrite>,
    /// Secrets of the access keys the harness made (`know_key`), by key id: what lets the
    /// proxy sign again a request it must re-encode for the emulator (`for_moto_signature`).
    secrets: BTreeMap<String, String>,
    /// The key the proxy signs its own calls with once the emulator enforces IAM.
    admin: Option<(String, String)>,
    fault_rate: f64,
    rng: fastrand::Rng,
    next_fault: usize,
    latency: Duration,
}

/// What a strict proxy enforces and what it found.
struct Strict {
    rules: AwsRules,
    /// Requests that broke AWS's API model: each fails the test that made it.
    violations: Vec<String>,
}

pub(crate) struct Proxy {
    pub(crate) endpoint: String,
    calls: Arc<Mutex<Vec<Call>>>,
    rules: Arc<Mutex<Rules>>,
    stop: Arc<AtomicBool>,
    port: u16,
}

impl Proxy {
    /// A proxy in front of `upstream` (`http://127.0.0.1:PORT`) that fails `fault_rate` of the
    /// calls, chosen by a generator seeded with `seed`, cycling through the kinds of fault.
    pub(crate) fn start(upstream: &str, fault_rate: f64, seed: u64) -> Self {
        Self::launch(upstream, fault_rate, seed, None)
    }

    /// A proxy that refuses what AWS refuses and the emulator accepts: every request checked
    /// against AWS's API model (`api_model`), and AWS's preconditions (`aws_rules`) answered
    /// with AWS's own errors. Every integration test's emulator sits behind one.
    /// The proxy's own calls to the emulator (`aws_rules::EmulatorFacts`) are signed with
    /// this key from now on.
    pub(crate) fn sign_own_calls_as(&self, id: &str, secret: &str) {
        self.rules.lock().unwrap().admin = Some((id.to_owned(), secret.to_owned()));
    }

    /// Tells the proxy an access key's secret (see `for_moto_signature`).
    pub(crate) fn know_key(&self, id: &str, secret: &str) {
        self.rules
            .lock()
            .unwrap()
            .secrets
            .insert(id.to_owned(), secret.to_owned());
    }

    pub(crate) fn strict(upstream: &str) -> Self {
        let strict = Strict {
            rules: AwsRules::new(),
            violations: Vec::new(),
        };
        Self::launch(upstream, 0.0, 0, Some(strict))
    }

    fn launch(upstream: &str, fault_rate: f64, seed: u64, strict: Option<Strict>) -> Self {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let rules = Arc::new(Mutex::new(Rules {
            strict,
            started: Instant::now(),
            scripted: Vec::new(),
            rewrites: Vec::new(),
            secrets: BTreeMap::new(),
            admin: None,
            fault_rate,
            rng: fastrand::Rng::with_seed(seed),
            next_fault: 0,
            latency: Duration::ZERO,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (calls_, rules_, stop_) = (calls.clone(), rules.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop_.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (calls, rules, upstream) = (calls_.clone(), rules_.clone(), upstream.clone());
                std::thread::spawn(move || {
                    // A proxy thread that panics would look like a dropped connection to the
                    // client; say it instead, and fail the test that met it.
                    let answer = stream.try_clone();
                    let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        serve(stream, &upstream, &calls, &rules);
                    }));
                    if let (Err(panic), Ok(mut client)) = (served, answer) {
                        let what = panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                            .unwrap_or_default();
                        let body = format!("the test proxy failed: {what}");
                        #[allow(clippy::print_stderr)]
                        {
                            eprintln!("{body}");
                        }
                        let _ = write!(
                            client,
                            "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        if let Ok(mut rules) = rules.lock()
                            && let Some(strict) = &mut rules.strict
                        {
                            strict.violations.push(body);
                        }
                    }
                });
            }
        });
        Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            calls,
            rules,
            stop,
            port,
        }
    }

    /// Answers the next `times` calls of `operation` with a 400 error `code` and `message`.
    pub(crate) fn reject(&self, operation: &str, times: usize, code: &str, message: &str) {
        self.script(operation, None, times, code, message);
    }

    /// As `reject`, for calls of `operation` that carry the parameter `param` (a describe by
    /// id, not the tag-filtered discovery): what AWS answers for seconds after a create.
    pub(crate) fn reject_with(&self, operation: &str, param: &str, times: usize, code: &str, message: &str) {
        self.script(operation, Some(param), times, code, message);
    }

    fn script(&self, operation: &str, param: Option<&str>, times: usize, code: &str, message: &str) {
        self.script_fault(
            operation,
            param,
            times,
            Fault::Rejected(code.to_owned(), message.to_owned()),
        );
    }

    /// Carries out the next `times` calls of `operation` and drops their answers (`Fault::Lost`).
    pub(crate) fn lose_answer(&self, operation: &str, times: usize) {
        self.script_fault(operation, None, times, Fault::Lost);
    }

    fn script_fault(&self, operation: &str, param: Option<&str>, times: usize, fault: Fault) {
        self.rules.lock().unwrap().scripted.push(Scripted {
            operation: operation.to_owned(),
            param: param.map(str::to_owned),
            left: times,
            fault,
        });
    }

    /// Rewrites `from` into `to` in the answers of `operations`, for `lasting` from the first
    /// answer it changes: `hold(&["DescribeNatGateways"], "<state>available</state>",
    /// "<state>pending</state>", 3 s)` keeps a new NAT gateway pending for 3 s.
    pub(crate) fn hold(&self, operations: &[&str], from: &str, to: &str, lasting: Duration) {
        self.rules.lock().unwrap().rewrites.push(Rewrite {
            operations: operations.iter().map(|o| (*o).to_owned()).collect(),
            from: from.to_owned(),
            to: to.to_owned(),
            lasting,
            since: None,
        });
    }

    /// How long a new IAM role stays unusable to ECS (strict proxies).
    pub(crate) fn set_role_propagation(&self, delay: Duration) {
        if let Some(strict) = &mut self.rules.lock().unwrap().strict {
            strict.rules.set_role_propagation(delay);
        }
    }

    /// The calls AWS's rules refused so far: (operation, error code).
    pub(crate) fn refusals(&self) -> Vec<(String, String)> {
        self.rules
            .lock()
            .unwrap()
            .strict
            .as_ref()
            .map(|s| s.rules.refusals.clone())
            .unwrap_or_default()
    }

    /// The requests that broke AWS's API model so far, described; and forgets them (a test
    /// of the check itself takes what it caused, so that its end does not fail it).
    pub(crate) fn take_violations(&self) -> Vec<String> {
        self.rules
            .lock()
            .unwrap()
            .strict
            .as_mut()
            .map(|s| std::mem::take(&mut s.violations))
            .unwrap_or_default()
    }

    /// The requests that broke AWS's API model so far, described.
    pub(crate) fn violations(&self) -> Vec<String> {
        self.rules
            .lock()
            .unwrap()
            .strict
            .as_ref()
            .map(|s| s.violations.clone())
            .unwrap_or_default()
    }

    /// Ends every `hold`.
    pub(crate) fn release(&self) {
        self.rules.lock().unwrap().rewrites.clear();
    }

    /// From now on, hold every call this long before answering it.
    pub(crate) fn set_latency(&self, latency: Duration) {
        self.rules.lock().unwrap().latency = latency;
    }

    /// Every call answered so far, kept.
    pub(crate) fn calls_so_far(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// Every call so far, in the order they were answered; and forgets them.
    pub(crate) fn take_calls(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Calls, faults and forwarded calls per operation, as a table for the test log.
pub(crate) fn summary(calls: &[Call]) -> String {
    let mut per_operation: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for call in calls {
        let entry = per_operation.entry(&call.operation).or_default();
        entry.0 += 1;
        if matches!(call.answer, Answer::Fault(_)) {
            entry.1 += 1;
        }
    }
    let faults = calls.iter().filter(|c| matches!(c.answer, Answer::Fault(_))).count();
    let mut text = format!("{} calls, {faults} faults injected\n", calls.len());
    for (operation, (count, failed)) in per_operation {
        text.push_str(&format!("  {operation:40} {count:4} calls {failed:3} faults\n"));
    }
    text
}

struct Request {
    head: String,
    /// The JSON protocol's body, parsed.
    json: Option<serde_json::Value>,
    body: Vec<u8>,
    operation: String,
    params: BTreeMap<String, String>,
    protocol: Protocol,
}

#[derive(Clone, Copy)]
enum Protocol {
    /// EC2's query dialect: `<Response><Errors><Error>`.
    Ec2,
    /// ELB, RDS, Auto Scaling, IAM, STS: `<ErrorResponse><Error>`.
    Query,
    /// ECS, ECR: `{"__type": ...}`.
    Json,
    /// S3: REST with `<Error><Code>` at the root, the operation in the method and query.
    RestXml,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let end = line == "\r\n";
        head.push_str(&line);
        if end {
            break;
        }
    }
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (key, value) = l.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
        })
    };
    let length: usize = header("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let (operation, params, protocol) = if let Some(target) = header("x-amz-target") {
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let params = json
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| {
                let value = v
                    .as_str()
                    .map(str::to_owned)
                    .or_else(|| v.is_number().then(|| v.to_string()))?;
                Some((k.clone(), value))
            })
            .collect();
        (
            target.rsplit('.').next().unwrap_or_default().to_owned(),
            params,
            Protocol::Json,
        )
    } else {
        let form = String::from_utf8_lossy(&body);
        let params: BTreeMap<String, String> = form
            .split('&')
            .filter_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                let decode = |s: &str| {
                    percent_encoding::percent_decode_str(&s.replace('+', " "))
                        .decode_utf8_lossy()
                        .into_owned()
                };
                Some((decode(key), decode(value)))
            })
            .collect();
        match params.get("Action") {
            Some(action) if params.get("Version").map(String::as_str) == Some("2016-11-15") => {
                (action.clone(), params, Protocol::Ec2)
            }
            Some(action) => (action.clone(), params, Protocol::Query),
            None => (
                s3_operation(head.lines().next().unwrap_or_default()),
                BTreeMap::new(),
                Protocol::RestXml,
            ),
        }
    };
    let json = matches!(protocol, Protocol::Json)
        .then(|| serde_json::from_slice(&body).ok())
        .flatten();
    Some(Request {
        head,
        json,
        body,
        operation,
        params,
        protocol,
    })
}

/// S3's name for a REST call, from its request line (`PUT /bucket?policy HTTP/1.1`): the
/// bucket sub-resources deployer uses, `METHOD ?query` for anything else.
fn s3_operation(request_line: &str) -> String {
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let sub = query
        .split('&')
        .next()
        .unwrap_or_default()
        .split('=')
        .next()
        .unwrap_or_default();
    // `/bucket/?tagging` is the bucket's, as `/bucket?tagging` is.
    let object = path.trim_matches('/').contains('/');
    let named = match (method, sub, object) {
        ("GET", "", false) if path == "/" => "ListBuckets",
        ("GET", "x-id", false) if path == "/" => "ListBuckets",
        ("PUT", "", false) => "CreateBucket",
        ("DELETE", "", false) => "DeleteBucket",
        (verb, "policy", false) => return format!("{}BucketPolicy", title(verb)),
        (verb, "tagging", false) => return format!("{}BucketTagging", title(verb)),
        (verb, "lifecycle", false) => return format!("{}BucketLifecycleConfiguration", title(verb)),
        (verb, "encryption", false) => return format!("{}BucketEncryption", title(verb)),
        (verb, "publicAccessBlock", false) => return format!("{}PublicAccessBlock", title(verb)),
        ("GET", "versions", false) => "ListObjectVersions",
        ("POST", "delete", false) => "DeleteObjects",
        _ => return format!("{method} ?{sub}"),
    };
    named.to_owned()
}

fn title(verb: &str) -> &'static str {
    match verb {
        "GET" => "Get",
        "PUT" => "Put",
        "DELETE" => "Delete",
        _ => "Call",
    }
}

fn serve(stream: TcpStream, upstream: &str, calls: &Mutex<Vec<Call>>, rules: &Mutex<Rules>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let Some(mut request) = read_request(&mut reader) else {
        return;
    };
    let (key_id, service, region) = credential_scope(&request.head);
    let secret = key_id
        .as_ref()
        .and_then(|id| rules.lock().unwrap().secrets.get(id).cloned());
    if let Some(secret) = secret {
        for_moto_signature(&mut request, &secret);
    }
    let arrived = TICKS.fetch_add(1, Ordering::SeqCst);
    let at = rules.lock().unwrap().started.elapsed();
    let call = aws_rules::Call {
        operation: &request.operation,
        service: &service,
        form: &request.params,
        json: request.json.as_ref(),
    };
    let admin = rules.lock().unwrap().admin.clone();
    let facts = aws_rules::EmulatorFacts {
        upstream,
        region: &region,
        admin: admin.as_ref(),
    };
    // Read before the call, so that a delete's resource still has its tags.
    let ids: Vec<String> = request
        .params
        .iter()
        .filter(|(key, _)| {
            !["Filter", "TagSpecification", "Tag."]
                .iter()
                .any(|p| key.starts_with(p))
        })
        .map(|(_, value)| value)
        .filter(|value| {
            [
                "vpc-",
                "subnet-",
                "sg-",
                "rtb-",
                "igw-",
                "eipalloc-",
                "nat-",
                "lt-",
                "i-",
            ]
            .iter()
            .any(|p| value.starts_with(p))
        })
        .cloned()
        .collect();
    let tags = if admin.is_some() && service == "ec2" && !ids.is_empty() {
        facts.ec2_tags(&ids)
    } else {
        BTreeMap::new()
    };
    // The model check is pure and the slowest part (patterns compile on first use): done
    // before the lock, so concurrent calls are not queued behind it.
    let strict = rules.lock().unwrap().strict.is_some();
    let broken = if strict {
        api_model::check_request(&request.head, &request.body)
    } else {
        Vec::new()
    };
    let (fault, latency) = {
        let mut rules = rules.lock().unwrap();
        let refused = rules.strict.as_mut().and_then(|strict| {
            if let Some(first) = broken.first() {
                // Said at once as well: a refused call can stall the test before its end.
                #[allow(clippy::print_stderr)]
                {
                    eprintln!("test proxy: refused by AWS's API model: {first}");
                }
                strict.violations.extend(broken.iter().map(ToString::to_string));
                return Some(Fault::Rejected("ValidationException".into(), first.to_string()));
            }
            strict
                .rules
                .before(&call, &facts)
                .map(|refusal| Fault::Rejected(refusal.code, refusal.message))
        });
        let scripted = rules
            .scripted
            .iter_mut()
            .find(|rule| {
                rule.operation == request.operation
                    && rule.left > 0
                    && rule.param.as_ref().is_none_or(|p| request.params.contains_key(p))
            })
            .map(|rule| {
                rule.left -= 1;
                rule.fault.clone()
            });
        let fault = refused.or(scripted).or_else(|| {
            (rules.rng.f64() < rules.fault_rate).then(|| {
                let fault = FAULTS[rules.next_fault % FAULTS.len()].clone();
                rules.next_fault += 1;
                fault
            })
        });
        (fault, rules.latency)
    };
    std::thread::sleep(latency);
    let mut client = stream;
    // The answer's tick is taken before the client can see the answer, so a call it makes
    // next always arrives later.
    let (answer, answered) = match fault {
        Some(Fault::Lost) => {
            let (status, mut response) = forward(upstream, &request);
            if (200..300).contains(&status)
                && let Some(strict) = &mut rules.lock().unwrap().strict
            {
                learn(&mut response, |body| strict.rules.after(&call, body, &facts));
            }
            let answered = TICKS.fetch_add(1, Ordering::SeqCst);
            let _ = client.shutdown(Shutdown::Both);
            (Answer::Fault(Fault::Lost), answered)
        }
        Some(fault) => {
            let answered = TICKS.fetch_add(1, Ordering::SeqCst);
            answer_fault(&mut client, &fault, request.protocol);
            (Answer::Fault(fault), answered)
        }
        None => {
            let (status, mut response) = forward(upstream, &request);
            rewrite(&mut response, &request.operation, &mut rules.lock().unwrap().rewrites);
            if (200..300).contains(&status)
                && let Some(strict) = &mut rules.lock().unwrap().strict
            {
                learn(&mut response, |body| strict.rules.after(&call, body, &facts));
            }
            let answered = TICKS.fetch_add(1, Ordering::SeqCst);
            let _ = client.write_all(&response);
            let _ = client.shutdown(Shutdown::Both);
            (Answer::Forwarded(status), answered)
        }
    };
    calls.lock().unwrap().push(Call {
        operation: request.operation,
        service,
        key_id,
        target: request
            .head
            .lines()
            .next()
            .unwrap_or_default()
            .split(' ')
            .nth(1)
            .unwrap_or_default()
            .to_owned(),
        json: request.json,
        tags,
        params: request.params,
        answer,
        arrived,
        answered,
        at,
        done_at: rules.lock().unwrap().started.elapsed(),
    });
}

fn answer_fault(client: &mut TcpStream, fault: &Fault, protocol: Protocol) {
    let (status, content_type, body) = match (fault, protocol) {
        (Fault::Reset | Fault::Lost, _) => {
            // Closing without an answer: what a dropped connection looks like to the client.
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
        (Fault::Unavailable, _) => ("503 Service Unavailable", "text/plain", String::new()),
        (Fault::Rejected(code, message), Protocol::Ec2) => (
            "400 Bad Request",
            "text/xml",
            format!("<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>proxy</RequestID></Response>"),
        ),
        (Fault::Rejected(code, message), Protocol::Query) => (
            "400 Bad Request",
            "text/xml",
            format!("<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>proxy</RequestId></ErrorResponse>"),
        ),
        (Fault::Rejected(code, message), Protocol::Json) => (
            "400 Bad Request",
            "application/x-amz-json-1.1",
            serde_json::json!({"__type": code, "message": message}).to_string(),
        ),
        (Fault::Throttled, Protocol::Ec2) => (
            "503 Service Unavailable",
            "text/xml",
            "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>proxy</RequestID></Response>".into(),
        ),
        (Fault::Throttled, Protocol::Query) => (
            "400 Bad Request",
            "text/xml",
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>proxy</RequestId></ErrorResponse>".into(),
        ),
        (Fault::Throttled, Protocol::Json) => (
            "400 Bad Request",
            "application/x-amz-json-1.1",
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into(),
        ),
        (Fault::InternalError, Protocol::Ec2) => (
            "500 Internal Server Error",
            "text/xml",
            "<Response><Errors><Error><Code>InternalError</Code><Message>An internal error has occurred</Message></Error></Errors><RequestID>proxy</RequestID></Response>".into(),
        ),
        (Fault::InternalError, Protocol::Query) => (
            "500 Internal Server Error",
            "text/xml",
            "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>internal failure</Message></Error><RequestId>proxy</RequestId></ErrorResponse>".into(),
        ),
        (Fault::Rejected(code, message), Protocol::RestXml) => (
            "400 Bad Request",
            "application/xml",
            format!("<Error><Code>{code}</Code><Message>{message}</Message><RequestId>proxy</RequestId></Error>"),
        ),
        // S3 slows callers down with 503 SlowDown.
        (Fault::Throttled, Protocol::RestXml) => (
            "503 Service Unavailable",
            "application/xml",
            "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>proxy</RequestId></Error>".into(),
        ),
        (Fault::InternalError, Protocol::RestXml) => (
            "500 Internal Server Error",
            "application/xml",
            "<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message><RequestId>proxy</RequestId></Error>".into(),
        ),
        (Fault::InternalError, Protocol::Json) => (
            "500 Internal Server Error",
            "application/x-amz-json-1.1",
            r#"{"__type":"ServerException","message":"internal failure"}"#.into(),
        ),
    };
    let _ = write!(
        client,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// Sends the request to the emulator on a fresh connection; its status and whole answer
/// (nothing, status 0, when the emulator cannot be reached: the client sees a reset).
fn forward(upstream: &str, request: &Request) -> (u16, Vec<u8>) {
    // A busy emulator's accept queue can refuse a connection for a moment.
    let connected = (0..5).find_map(|attempt| {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(100 * attempt));
        }
        TcpStream::connect(upstream).ok()
    });
    let Some(mut server) = connected else {
        return (0, Vec::new());
    };
    let head: String = request
        .head
        .lines()
        .filter(|l| !l.is_empty() && !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    let _ = server.write_all(format!("{head}Connection: close\r\n\r\n").as_bytes());
    let _ = server.write_all(&request.body);
    let mut response = Vec::new();
    let _ = server.read_to_end(&mut response);
    let status = String::from_utf8_lossy(&response[..response.len().min(16)])
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}

/// The access key id, the signing name and the region of a request's credential scope
/// (`Credential=AKID/20261201/us-east-1/ec2/aws4_request`).
fn credential_scope(head: &str) -> (Option<String>, String, String) {
    let scope = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
        .and_then(|l| l.split("Credential=").nth(1))
        .unwrap_or_default();
    let parts: Vec<&str> = scope.split(['/', ',']).collect();
    let part = |i: usize| parts.get(i).map_or_else(String::new, |p| (*p).to_owned());
    let key = Some(part(0)).filter(|key| !key.is_empty());
    (key, part(3), part(2))
}

/// Hands a whole HTTP answer's body to `look` (which may change it), keeping Content-Length
/// true.
fn learn(response: &mut Vec<u8>, look: impl FnOnce(&mut String)) {
    let Some(split) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return;
    };
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let before = String::from_utf8_lossy(&response[split + 4..]).into_owned();
    let mut body = before.clone();
    look(&mut body);
    if body != before {
        *response = with_body(&head, &body);
    }
}

/// An HTTP answer with `head`'s status and headers and a new body.
fn with_body(head: &str, body: &str) -> Vec<u8> {
    assert!(
        !head.to_ascii_lowercase().contains("transfer-encoding: chunked"),
        "the proxy rewrites only answers with a Content-Length"
    );
    let head: Vec<String> = head
        .lines()
        .map(|line| {
            if line.to_ascii_lowercase().starts_with("content-length:") {
                format!("Content-Length: {}", body.len())
            } else {
                line.to_owned()
            }
        })
        .collect();
    format!("{}\r\n\r\n{body}", head.join("\r\n")).into_bytes()
}

/// Applies the rewrites that concern `operation` to a whole HTTP answer, keeping its
/// Content-Length true.
fn rewrite(response: &mut Vec<u8>, operation: &str, rewrites: &mut [Rewrite]) {
    let Some(split) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return;
    };
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let mut body = String::from_utf8_lossy(&response[split + 4..]).into_owned();
    let mut changed = false;
    for rule in rewrites
        .iter_mut()
        .filter(|r| r.operations.iter().any(|o| o == operation))
    {
        if rule.since.is_some_and(|since| since.elapsed() >= rule.lasting) || !body.contains(&rule.from) {
            continue;
        }
        rule.since.get_or_insert_with(Instant::now);
        body = body.replace(&rule.from, &rule.to);
        changed = true;
    }
    if changed {
        *response = with_body(&head, &body);
    }
}

/// An enforcing emulator checks a query-protocol request's signature over the form it
/// re-encodes from the parameters it parsed, the way Python does (a space as `+`), not over
/// the bytes sent: the Rust SDK's `%20` (as correct: both mean a space) fails that check, which
/// is why moto refuses the SDK's PutMetricAlarm (its descriptions have spaces; shared/MOTO.md).
/// The same request is forwarded with `+` for `%20`, signed again with the caller's own key, so
/// the emulator still checks its action against the caller's policies.
fn for_moto_signature(request: &mut Request, secret: &str) {
    let form = request.head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("content-type: application/x-www-form-urlencoded")
    });
    let body = String::from_utf8_lossy(&request.body);
    if !form || !body.contains("%20") {
        return;
    }
    request.body = body.replace("%20", "+").into_bytes();
    request.head = signed_again(&request.head, &request.body, secret);
}

/// `head` with its Content-Length set to `body`'s, signed again (SigV4, by `aws-sigv4`, as the
/// SDK signs) with the access key, region and service of its signature and `secret`, over the
/// headers it signed before.
pub(super) fn signed_again(head: &str, body: &[u8], secret: &str) -> String {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let mut lines = head.lines().filter(|l| !l.is_empty());
    let request_line = lines.next().unwrap().to_owned();
    let mut headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    for (name, value) in &mut headers {
        if name == "content-length" {
            *value = body.len().to_string();
        }
    }
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let authorization = header("authorization").unwrap();
    let part = |name: &str| {
        let at = authorization.find(name).unwrap() + name.len();
        authorization[at..].split([',', ' ']).next().unwrap().to_owned()
    };
    let (credential, signed_headers) = (part("Credential="), part("SignedHeaders="));
    let scope: Vec<&str> = credential.split('/').collect();
    let (key_id, region, service) = (scope[0], scope[2], scope[3]);
    // What the signer writes itself is left out; the rest it signed before, it signs again.
    let written = ["authorization", "x-amz-date", "x-amz-security-token"];
    let signed: Vec<(&str, &str)> = headers
        .iter()
        .filter(|(name, _)| signed_headers.split(';').any(|s| s == name) && !written.contains(&name.as_str()))
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let identity =
        aws_credential_types::Credentials::new(key_id, secret, header("x-amz-security-token"), None, "proxy").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let (method, target) = request_line.split_once(' ').unwrap();
    let target = target.split(' ').next().unwrap();
    let uri = format!("http://{}{target}", header("host").unwrap());
    let request = SignableRequest::new(method, uri, signed.into_iter(), SignableBody::Bytes(body)).unwrap();
    let (instructions, _) = sign(request, &params).unwrap().into_parts();
    let (new, _) = instructions.into_parts();
    headers.retain(|(name, _)| !new.iter().any(|h| h.name().eq_ignore_ascii_case(name)));
    headers.extend(new.iter().map(|h| (h.name().to_owned(), h.value().to_owned())));
    std::iter::once(request_line)
        .chain(headers.into_iter().map(|(name, value)| format!("{name}: {value}")))
        .map(|l| format!("{l}\r\n"))
        .collect::<String>()
        + "\r\n"
}
