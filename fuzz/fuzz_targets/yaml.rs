#![no_main]
//! `hoist::fuzzing::yaml` on the fuzzer's bytes (see docs/fuzzing.md).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hoist::fuzzing::yaml(data));
