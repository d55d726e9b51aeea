//! The `api` binary: configuration from the environment, serve until SIGTERM or Ctrl-C.
//! `api healthcheck` probes a running instance (the container's HEALTHCHECK).
//! The binary reports start-up failures and the health probe on the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

/// The probe must answer well within the container runtime's health-check timeout.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        return probe();
    }
    let config = match app::config::Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("api: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("api: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("api: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: app::config::Config) -> std::io::Result<()> {
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(app::https_client())
        .load()
        .await;
    let state = app::AppState::new(&config, &aws);
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.port)).await?;
    let metrics = tokio::net::TcpListener::bind(("0.0.0.0", config.metrics_port)).await?;
    eprintln!(
        "api: listening on {}, /metrics on {}",
        listener.local_addr()?,
        metrics.local_addr()?
    );
    app::serve(listener, metrics, state, shutdown_signal()).await?;
    eprintln!("api: stopped");
    Ok(())
}

/// SIGTERM (what container runtimes send) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    eprintln!("api: shutting down; finishing requests in flight");
}

/// GET /healthcheck on the local port; exit 0 on HTTP 200.
fn probe() -> ExitCode {
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(8000);
    let answer = (|| -> std::io::Result<String> {
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut stream = std::net::TcpStream::connect_timeout(&address, PROBE_TIMEOUT)?;
        stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
        stream.write_all(b"GET /healthcheck HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        Ok(response)
    })();
    match answer {
        Ok(response) if response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200") => {
            ExitCode::SUCCESS
        }
        Ok(response) => {
            eprintln!(
                "api healthcheck: {}",
                response.lines().next().unwrap_or("empty response")
            );
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("api healthcheck: {error}");
            ExitCode::FAILURE
        }
    }
}
