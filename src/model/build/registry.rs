//! The environment's image repository.

use super::*;

pub(super) fn repository(config: &EnvironmentConfig) -> Spec {
    Spec::EcrRepository(RepositorySpec {
        name: names::repository(&config.name),
        scan_on_push: true,
        immutable_tags: true,
        encryption: "AES256".into(),
        keep_images: config.registry.keep_images,
        policy: String::new(),
    })
}
