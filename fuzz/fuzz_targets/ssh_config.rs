#![no_main]
//! `hoist::fuzzing::ssh_config` on the fuzzer's bytes (see docs/fuzzing.md).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hoist::fuzzing::ssh_config(data));
