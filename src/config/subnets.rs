//! Carving public and private subnets out of the VPC range.
//!
//! The VPC range is split into 16 equal blocks; public subnet `i` takes block `i` and private
//! subnet `i` takes block `8 + i`. Adding an AZ therefore never moves an existing subnet (a
//! moved subnet would have to be replaced, and everything in it with it).

use ipnet::Ipv4Net;

use super::schema::{Cidr, NetworkConfig};

/// Extra prefix bits for carved subnets: 16 blocks, so a /16 VPC gets /20 subnets.
pub(super) const CARVE_BITS: u8 = 4;
/// Where private subnets start among the 16 blocks.
const PRIVATE_OFFSET: usize = 8;
/// Carving supports up to 8 AZs; no AWS region has more than 6.
pub(super) const MAX_AZS: u8 = 6;

impl NetworkConfig {
    /// The public subnets, one per AZ, explicit or carved.
    pub fn public_subnet_cidrs(&self) -> Vec<Cidr> {
        self.public_subnets
            .clone()
            .unwrap_or_else(|| carve(self.cidr.0, 0, self.azs))
    }

    /// The private subnets, one per AZ, explicit or carved.
    pub fn private_subnet_cidrs(&self) -> Vec<Cidr> {
        self.private_subnets
            .clone()
            .unwrap_or_else(|| carve(self.cidr.0, PRIVATE_OFFSET, self.azs))
    }
}

fn carve(vpc: Ipv4Net, offset: usize, count: u8) -> Vec<Cidr> {
    let Some(blocks) = vpc.subnets(vpc.prefix_len() + CARVE_BITS).ok() else {
        return Vec::new();
    };
    blocks.skip(offset).take(usize::from(count)).map(Cidr).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::schema::NatMode;

    fn network(cidr: &str, azs: u8) -> NetworkConfig {
        NetworkConfig {
            cidr: cidr.parse().unwrap(),
            azs,
            nat: NatMode::Single,
            public_subnets: None,
            private_subnets: None,
        }
    }

    #[test]
    fn carves_stable_blocks() {
        let net = network("10.1.0.0/16", 3);
        let public: Vec<String> = net.public_subnet_cidrs().iter().map(ToString::to_string).collect();
        let private: Vec<String> = net.private_subnet_cidrs().iter().map(ToString::to_string).collect();
        assert_eq!(public, ["10.1.0.0/20", "10.1.16.0/20", "10.1.32.0/20"]);
        assert_eq!(private, ["10.1.128.0/20", "10.1.144.0/20", "10.1.160.0/20"]);
    }

    #[test]
    fn adding_an_az_keeps_existing_subnets() {
        let two = network("10.1.0.0/16", 2).private_subnet_cidrs();
        let three = network("10.1.0.0/16", 3).private_subnet_cidrs();
        assert_eq!(two[..], three[..2]);
    }
}
