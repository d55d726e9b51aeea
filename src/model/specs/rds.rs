//! The Aurora specs: subnet group, cluster, instances.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::model::Ref;
use crate::model::spec::{Attribute, Reference, ResourceSpec};
use crate::model::tags::TAG_FINAL_SNAPSHOT;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DbSubnetGroupSpec {
    pub name: String,
    pub subnets: BTreeSet<Ref>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DbClusterSpec {
    pub identifier: String,
    pub engine: String,
    pub engine_version: String,
    pub subnet_group: Ref,
    pub security_groups: BTreeSet<Ref>,
    pub storage_encrypted: bool,
    pub deletion_protection: bool,
    pub backup_retention_days: u8,
    pub master_username: String,
    pub database_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DbInstanceSpec {
    pub identifier: String,
    pub cluster: Ref,
    pub instance_class: String,
    pub engine: String,
    /// Where it is created: instances go round-robin over the environment's zones, so losing
    /// one zone leaves a reader to promote. Not compared: AWS cannot move an instance, and an
    /// instance placed before deployer chose zones is not worth a failover.
    pub availability_zone: String,
}

/// The attribute names `aws/` acts on, spelled once.
impl DbSubnetGroupSpec {
    pub const SUBNETS: &'static str = "subnets";
}

impl ResourceSpec for DbSubnetGroupSpec {
    fn physical_name(&self) -> Option<&str> {
        Some(&self.name)
    }

    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::set(Self::SUBNETS, &self.subnets),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        Reference::weak_all(Self::SUBNETS, &self.subnets).collect()
    }
}

/// The attribute names `aws/` acts on, spelled once.
impl DbClusterSpec {
    pub const BACKUP_RETENTION_DAYS: &'static str = "backup_retention_days";
    pub const DELETION_PROTECTION: &'static str = "deletion_protection";
    pub const ENGINE_VERSION: &'static str = "engine_version";
    pub const SECURITY_GROUPS: &'static str = "security_groups";
}

impl ResourceSpec for DbClusterSpec {
    fn physical_name(&self) -> Option<&str> {
        Some(&self.identifier)
    }

    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("identifier", &self.identifier, true),
            Attribute::scalar("engine", &self.engine, true),
            Attribute::version(Self::ENGINE_VERSION, &self.engine_version),
            Attribute::scalar("subnet_group", &self.subnet_group, true),
            Attribute::set(Self::SECURITY_GROUPS, &self.security_groups),
            Attribute::scalar("storage_encrypted", self.storage_encrypted, true),
            Attribute::protection(Self::DELETION_PROTECTION, self.deletion_protection),
            Attribute::scalar(Self::BACKUP_RETENTION_DAYS, self.backup_retention_days, false),
            Attribute::scalar("master_username", &self.master_username, true),
            Attribute::scalar("database_name", &self.database_name, true),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        let mut refs = vec![Reference::strong("subnet_group", &self.subnet_group)];
        refs.extend(Reference::weak_all(Self::SECURITY_GROUPS, &self.security_groups));
        refs
    }

    /// Production-like environments keep a final snapshot when the cluster goes.
    fn own_tags(&self, protect: bool) -> Vec<(&'static str, String)> {
        if protect || self.deletion_protection {
            vec![(TAG_FINAL_SNAPSHOT, "true".to_owned())]
        } else {
            Vec::new()
        }
    }
}

/// The attribute names `aws/` acts on, spelled once.
impl DbInstanceSpec {
    pub const INSTANCE_CLASS: &'static str = "instance_class";
}

impl ResourceSpec for DbInstanceSpec {
    fn physical_name(&self) -> Option<&str> {
        Some(&self.identifier)
    }

    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("identifier", &self.identifier, true),
            Attribute::scalar("cluster", &self.cluster, true),
            Attribute::scalar(Self::INSTANCE_CLASS, &self.instance_class, false),
            Attribute::scalar("engine", &self.engine, true),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        vec![Reference::strong("cluster", &self.cluster)]
    }
}
