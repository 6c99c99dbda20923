#![no_main]
//! `hoist::fuzzing::known_hosts` on the fuzzer's bytes (see docs/fuzzing.md).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hoist::fuzzing::known_hosts(data));
