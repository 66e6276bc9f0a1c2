//! Shared by the integration tests: one real local control plane per test
//! binary, and helpers to watch objects through the watch API.
#![allow(dead_code)] // each test binary uses a different part of this module

pub mod cluster;
pub mod token;
pub mod watch;
