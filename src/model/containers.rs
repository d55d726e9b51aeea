//! The container definitions the task-definition template renders to, as typed data. Parsing
//! them here means `validate` and `plan` reject a template that `apply` could not register;
//! the ECS adapter only translates these types into the SDK's.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The fields deployer translates; any other field is an error, never silently dropped.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerDefinition {
    pub name: String,
    pub image: String,
    #[serde(default = "yes")]
    pub essential: bool,
    pub user: Option<String>,
    #[serde(default)]
    pub readonly_root_filesystem: bool,
    #[serde(default)]
    pub port_mappings: Vec<PortMapping>,
    #[serde(default)]
    pub environment: Vec<EnvironmentVariable>,
    #[serde(default)]
    pub secrets: Vec<ContainerSecret>,
    pub health_check: Option<ContainerHealthCheck>,
    pub log_configuration: Option<LogConfiguration>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortMapping {
    pub container_port: i32,
    pub host_port: Option<i32>,
    #[serde(default = "tcp")]
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentVariable {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerSecret {
    pub name: String,
    pub value_from: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerHealthCheck {
    pub command: Vec<String>,
    pub interval: Option<i32>,
    pub timeout: Option<i32>,
    pub retries: Option<i32>,
    pub start_period: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogConfiguration {
    pub log_driver: String,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

fn tcp() -> String {
    "tcp".to_owned()
}

/// Reads rendered container definitions (a JSON array of ECS's container shape).
pub fn parse_container_definitions(json: &str) -> Result<Vec<ContainerDefinition>, serde_json::Error> {
    serde_json::from_str(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsupported_field_is_named() {
        let error = parse_container_definitions(r#"[{"name": "api", "image": "x", "privileged": true}]"#).unwrap_err();
        assert!(error.to_string().contains("unknown field `privileged`"), "{error}");
    }

    #[test]
    fn a_wrong_type_is_an_error() {
        let error = parse_container_definitions(
            r#"[{"name": "api", "image": "x", "portMappings": [{"containerPort": "80"}]}]"#,
        )
        .unwrap_err();
        assert!(error.to_string().contains("invalid type"), "{error}");
    }
}
