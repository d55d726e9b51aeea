//! The bundled API. This is the skeleton from issue 3; issue 5 fills it in.

use axum::{Json, Router, routing::get};

async fn healthcheck() -> Json<serde_message::Message> {
    Json(serde_message::Message { message: "ok" })
}

mod serde_message {
    #[derive(serde::Serialize)]
    pub(crate) struct Message {
        pub(crate) message: &'static str,
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(8000);
    let app = Router::new().route("/healthcheck", get(healthcheck));
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
    axum::serve(listener, app).await
}
