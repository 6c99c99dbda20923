//! End-to-end tests: real playbooks in temporary directories, run through
//! the real `hoist` binary against the local connection.

mod bench;
mod boot;
mod common;
mod conditions;
mod config;
mod conformance;
mod conformance_cases;
mod control;
mod corpus;
mod doc;
mod engine;
mod filemods;
mod fuzz_regressions;
mod http;
mod inspect;
mod journal;
mod keywords;
mod loops;
mod modules;
mod output;
mod packages;
mod roles;
mod secrets;
mod strategy;
mod terminal;
mod validation;
mod vars;
mod vault;
mod vcs;
mod verbosity;
