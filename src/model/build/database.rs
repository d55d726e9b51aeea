//! The Aurora PostgreSQL cluster, its instances and subnet group.

use super::*;

pub(super) fn add_database(config: &EnvironmentConfig, zones: &[String], add: &mut impl FnMut(String, Spec)) {
    let Some(database) = &config.database else { return };
    let name = &config.name;
    add(
        "db-subnet-group".into(),
        // Not `{name}-db`: physical ids must be unique across kinds, and that is the cluster's.
        Spec::DbSubnetGroup(DbSubnetGroupSpec {
            name: names::database_subnet_group(name),
            subnets: subnets("private", zones.len()),
        }),
    );
    add(
        "db-cluster".into(),
        Spec::DbCluster(DbClusterSpec {
            identifier: names::database(name),
            engine: "aurora-postgresql".into(),
            engine_version: database.engine_version.clone(),
            subnet_group: Ref::to("db-subnet-group"),
            security_groups: group("db"),
            storage_encrypted: true,
            deletion_protection: database.deletion_protection,
            backup_retention_days: database.backup_retention_days,
            master_username: "deployer".into(),
            database_name: "app".into(),
        }),
    );
    for number in 1..=database.instances {
        add(
            format!("db-instance-{number}"),
            Spec::DbInstance(DbInstanceSpec {
                identifier: names::database_instance(name, usize::from(number)),
                cluster: Ref::to("db-cluster"),
                instance_class: database.instance_class.clone(),
                engine: "aurora-postgresql".into(),
                availability_zone: zones[(usize::from(number) - 1) % zones.len()].clone(),
            }),
        );
    }
}
