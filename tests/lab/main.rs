//! Tests on real sshd hosts: a `hoist lab` (a gateway and targets in
//! network namespaces) that `scripts/test` brings up before and takes down
//! after the suite. `HOIST_LAB_DIR` names it; without it (outside the test
//! script) these tests are skipped, except on CI where that is a failure.

mod accounts;
mod boot;
mod common;
mod conformance;
#[path = "../integration/conformance_cases.rs"]
mod conformance_cases;
mod deploy;
mod faults;
mod filemods;
mod http;
mod packages;
mod site;
mod ssh;
mod vcs;
mod verbosity;
mod waits;
