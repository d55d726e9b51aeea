//! Rendering `templates/` with tera: EC2 user data and ECS container definitions. The
//! templates are compiled into the binary so deployer runs from any directory.

use serde::Serialize;
use tera::{Context, Tera};

use crate::config::SecretRef;

const USER_DATA: &str = include_str!("../../templates/user-data.sh.tera");
const TASK_DEFINITION: &str = include_str!("../../templates/task-definition.json.tera");

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot render templates/{name}: {detail}")]
    Render { name: &'static str, detail: String },
    #[error("templates/task-definition.json.tera did not render to valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "templates/task-definition.json.tera rendered container definitions deployer cannot register: {0}\n  help: use only the fields listed in src/model/containers.rs"
    )]
    ContainerShape(serde_json::Error),
}

/// Where the API token lives, for the templates.
#[derive(Debug, Serialize)]
struct Token<'a> {
    kind: &'a str,
    name: &'a str,
}

pub(super) struct AppTemplateInput<'a> {
    pub environment: &'a str,
    pub region: &'a str,
    pub image: &'a str,
    pub port: u16,
    pub metrics_port: u16,
    pub token: &'a SecretRef,
    /// The token's ARN, for ECS `secrets.valueFrom`.
    pub token_arn: &'a str,
    pub container_name: &'a str,
    pub log_group: &'a str,
}

impl AppTemplateInput<'_> {
    fn context(&self) -> Context {
        let (kind, name) = match self.token {
            SecretRef::Ssm(path) => ("ssm", path.as_str()),
            SecretRef::SecretsManager(name) => ("secretsmanager", name.as_str()),
            SecretRef::Env(name) => ("env", name.as_str()),
        };
        let mut context = Context::new();
        context.insert("environment", self.environment);
        context.insert("region", self.region);
        context.insert("image", self.image);
        context.insert("port", &self.port);
        context.insert("metrics_port", &self.metrics_port);
        context.insert("token", &Token { kind, name });
        context.insert("token_arn", self.token_arn);
        context.insert("container_name", self.container_name);
        context.insert("log_group", self.log_group);
        context.insert("ecr_registry", &ecr_registry(self.image));
        context
    }
}

/// The ECR registry host an image lives in (`<account>.dkr.ecr.<region>.amazonaws.com`), for
/// Docker's ECR credential helper; None for any other registry.
fn ecr_registry(image: &str) -> Option<&str> {
    let (host, _) = image.split_once('/')?;
    let mut labels = host.split('.');
    let looks_like_ecr = labels.nth(1) == Some("dkr") && labels.next() == Some("ecr");
    looks_like_ecr.then_some(host)
}

pub(super) fn user_data(input: &AppTemplateInput<'_>) -> Result<String, TemplateError> {
    render("user-data.sh.tera", USER_DATA, &input.context())
}

/// The container definitions as canonical JSON (sorted keys), so comparisons with what ECS
/// returns are textual.
pub(super) fn container_definitions(input: &AppTemplateInput<'_>) -> Result<String, TemplateError> {
    let text = render("task-definition.json.tera", TASK_DEFINITION, &input.context())?;
    let value: serde_json::Value = serde_json::from_str(&text)?;
    let canonical = value.to_string();
    super::containers::parse_container_definitions(&canonical).map_err(TemplateError::ContainerShape)?;
    Ok(canonical)
}

fn render(name: &'static str, template: &str, context: &Context) -> Result<String, TemplateError> {
    // Autoescaping is for HTML; these are shell and JSON with values validated upstream.
    Tera::one_off(template, context, false).map_err(|error| TemplateError::Render {
        name,
        detail: crate::error_chain::error_chain(&error),
    })
}

#[cfg(test)]
mod tests {
    use super::ecr_registry;

    #[test]
    fn only_ecr_hosts_get_the_credential_helper() {
        assert_eq!(
            ecr_registry("123456789012.dkr.ecr.eu-west-1.amazonaws.com/deployer/staging/api@sha256:ab"),
            Some("123456789012.dkr.ecr.eu-west-1.amazonaws.com")
        );
        assert_eq!(ecr_registry("ghcr.io/deployer/api:1.0.0"), None);
        assert_eq!(ecr_registry("api:1.0.0"), None);
    }
}
