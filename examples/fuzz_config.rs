//! Mutation fuzzing of the environment-file loader: the three files in `environments/`, mangled
//! at random (bytes flipped, lines dropped, doubled, swapped or cut, YAML oddities and extreme
//! values spliced in), go through parsing, validation and the model built from them
//! (`check_without_aws`, which renders the templates). Nothing may panic. Run with
//! `cargo xtask fuzz [SECONDS] [SEED]`; inputs that panic are kept under
//! `target/fuzz-config/`. A dumb fuzzer (cargo fuzz needs a nightly toolchain these machines
//! cannot fetch), bounded in time, outside CI.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use deployer::config::parse_environment;
use deployer::model::check_without_aws;

const SEEDS: [(&str, &str); 3] = [
    ("development", include_str!("../environments/development.yaml")),
    ("staging", include_str!("../environments/staging.yaml")),
    ("production", include_str!("../environments/production.yaml")),
];

/// Fragments that stress YAML and the schema: anchors, tags, flow collections, numbers at and
/// past the limits, CIDR edge cases, unicode, control characters.
const TOKENS: &[&str] = &[
    "~",
    "null",
    "[]",
    "{}",
    "&a",
    "*a",
    "!!binary",
    "!!str",
    "<<: *a",
    "-1",
    "0",
    "255",
    "256",
    "65535",
    "65536",
    "4294967296",
    "18446744073709551616",
    "1e309",
    ".nan",
    "0.0.0.0/0",
    "10.0.0.0/33",
    "10.0.0.1/16",
    "255.255.255.255/32",
    "::/0",
    "\t",
    "\u{0}",
    "\u{feff}",
    "é",
    "🦀",
    "'",
    "\"",
    ": ",
    "- ",
    "#",
    "ssm:",
    "env:X",
    "secretsmanager:",
    "kind: ecs",
    "kind: ec2",
    "kind: elb",
    "nat: per-az",
    "azs: 6",
    "azs: 0",
    "instances: 16",
    "keep_images: 0",
    "image: x",
    "port: 0",
    "cpu: 4096",
    "memory: 30720",
    "protect: true",
    "region: ''",
];

fn mutate(rng: &mut fastrand::Rng, text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for _ in 0..rng.usize(1..=4) {
        if lines.is_empty() {
            lines.push(String::new());
        }
        let at = rng.usize(..lines.len());
        match rng.u8(..7) {
            0 => drop(lines.remove(at)),
            1 => lines.insert(at, lines[at].clone()),
            2 => {
                let other = rng.usize(..lines.len());
                lines.swap(at, other);
            }
            3 => {
                let token = TOKENS[rng.usize(..TOKENS.len())];
                let line = &mut lines[at];
                let cut = floor_char_boundary(line, rng.usize(..=line.len()));
                line.insert_str(cut, token);
            }
            4 => {
                // Replace a value, keep the key.
                if let Some((key, _)) = lines[at].split_once(':') {
                    lines[at] = format!("{key}: {}", TOKENS[rng.usize(..TOKENS.len())]);
                }
            }
            5 => {
                let line = &mut lines[at];
                let cut = floor_char_boundary(line, rng.usize(..=line.len()));
                line.truncate(cut);
            }
            _ => {
                let mut bytes = lines[at].clone().into_bytes();
                if !bytes.is_empty() {
                    let i = rng.usize(..bytes.len());
                    bytes[i] ^= 1 << rng.u8(..7);
                }
                lines[at] = String::from_utf8_lossy(&bytes).into_owned();
            }
        }
    }
    lines.join("\n")
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(60);
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut rng = fastrand::Rng::with_seed(seed);
    let crashes = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-config");
    std::panic::set_hook(Box::new(|_| {}));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut runs, mut parsed, mut modelled, mut panics) = (0u64, 0u64, 0u64, 0u64);
    while Instant::now() < deadline {
        let (name, seed_text) = SEEDS[rng.usize(..SEEDS.len())];
        let input = mutate(&mut rng, seed_text);
        runs += 1;
        let outcome = catch_unwind(AssertUnwindSafe(|| match parse_environment(&input, name) {
            Ok(config) => (true, check_without_aws(&config).is_ok()),
            Err(problems) => {
                assert!(!problems.is_empty(), "an error with no problem in it");
                (false, false)
            }
        }));
        match outcome {
            Ok((ok, model)) => {
                parsed += u64::from(ok);
                modelled += u64::from(model);
            }
            Err(_) => {
                panics += 1;
                std::fs::create_dir_all(&crashes).expect("crash directory");
                std::fs::write(crashes.join(format!("{name}-{runs}.yaml")), &input).expect("crash file");
            }
        }
    }
    println!(
        "{runs} inputs in {seconds}s (seed {seed}): {parsed} valid files, {modelled} built a model, {} rejected with positioned errors, {panics} panics{}",
        runs - parsed,
        if panics > 0 {
            format!(" (inputs in {})", crashes.display())
        } else {
            String::new()
        }
    );
    if panics > 0 {
        std::process::exit(1);
    }
}
