//! The yardstick of `cargo xtask bench api`: a bare axum handler answering `GET /elb/{name}`
//! with the body the API gave (read from `BODY_FILE`), served by `axum::serve` on `PORT`, with
//! no authentication, cache, metrics, log, limit or timeout. The API's throughput is printed
//! as a fraction of this one's, measured on the same cores with the same load.
#![allow(clippy::print_stderr)]

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::routing::get;

fn main() -> std::process::ExitCode {
    let setting = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    let run = || -> Result<(), String> {
        let port: u16 = setting("PORT")?.parse().map_err(|e| format!("PORT: {e}"))?;
        let path = setting("BODY_FILE")?;
        let body = Bytes::from(std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?);
        let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
        runtime.block_on(async move {
            let app = Router::new().route(
                "/elb/{name}",
                get(move || {
                    let body = body.clone();
                    async move { ([(header::CONTENT_TYPE, "application/json")], body) }
                }),
            );
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .map_err(|e| e.to_string())?;
            axum::serve(listener, app).await.map_err(|e| e.to_string())
        })
    };
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bare_api: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
