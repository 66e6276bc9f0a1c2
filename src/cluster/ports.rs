//! Free loopback ports for the components.

use std::net::{Ipv4Addr, TcpListener};

use super::ClusterError;

/// Asks the kernel for `count` distinct free ports on 127.0.0.1. All
/// listeners are held until every port is picked, so the same port is never
/// handed out twice; another program could still take one before a component
/// binds it, which `up` reports as that component dying.
pub fn free_ports(count: usize) -> Result<Vec<u16>, ClusterError> {
    let listeners = (0..count)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ClusterError::io(std::path::Path::new("127.0.0.1:0"), e))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ClusterError::io(std::path::Path::new("127.0.0.1:0"), e))
}
