//! The `deployer` binary: parse arguments, run, print any error once, map it to an exit code.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use clap::Parser;
use deployer::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    deployer::ui::configure_colors(cli.global.no_color);
    init_logging(cli.global.verbose);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(deployer::cli::run(cli)) {
        Ok(status) => ExitCode::from(status.code()),
        Err(error) => {
            // An error may quote AWS or a file: no control character of theirs reaches the terminal.
            let text = format!("{error:#}");
            eprintln!(
                "{} {}",
                console::style("error:").red().bold(),
                deployer::printable::printable(&text)
            );
            ExitCode::FAILURE
        }
    }
}

/// `DEPLOYER_LOG_SECRETS=1`: let the SDK's trace logging (which holds tokens) through.
const LOG_SECRETS: &str = "DEPLOYER_LOG_SECRETS";

/// Crates whose trace events print request or response bodies, headers or identities.
const SECRET_LOGGING_TARGETS: [&str; 8] = [
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http",
    "aws_smithy_http_client",
    "aws_sigv4",
    "aws_config",
    "hyper",
    "hyper_util",
];

fn init_logging(verbose: u8) {
    let filter = match verbose {
        0 => "warn",
        1 => "warn,deployer=info",
        2 => "info,deployer=debug,aws_smithy_runtime=debug",
        _ => "trace",
    };
    let mut filter = tracing_subscriber::EnvFilter::try_from_env("DEPLOYER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    // At trace the SDK logs whole requests and responses: the ECR push token, session tokens,
    // signatures. Capped at debug unless the operator says secrets may appear.
    // (Added only at trace: a directive sets a target's level, so at `warn` it would raise it.)
    let at_trace = filter.max_level_hint() == Some(tracing_subscriber::filter::LevelFilter::TRACE);
    if at_trace && std::env::var_os(LOG_SECRETS).is_none_or(|value| value != "1") {
        for target in SECRET_LOGGING_TARGETS {
            if let Ok(directive) = format!("{target}=debug").parse() {
                filter = filter.add_directive(directive);
            }
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
