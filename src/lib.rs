//! hoist: agentless configuration management that runs Ansible playbooks.
//!
//! The pipeline is a chain of small named stages:
//! load (YAML → [`yaml::Node`]) → validate ([`playbook`], [`inventory`]) →
//! plan (host selection, variables) → apply ([`executor`]).
//! See `docs/ARCHITECTURE.md` for the bird's-eye view.

pub mod atomic;
pub mod cli;
pub mod config;
pub mod connection;
pub mod diff;
pub mod error;
pub mod executor;
/// The fuzz targets' entry points (`fuzz/`, `docs/fuzzing.md`); not part
/// of hoist's interface.
#[doc(hidden)]
pub mod fuzzing;
pub mod inspect;
pub mod interrupt;
pub mod inventory;
pub mod journal;
pub mod lab;
pub mod modules;
pub mod playbook;
pub mod prompt;
pub mod provenance;
pub mod pyre;
pub mod report;
pub mod secrets;
pub mod tags;
pub mod template;
pub mod vault;
pub mod yaml;
