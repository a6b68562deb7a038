//! Remote-write bodies: snappy-compressed protobuf. The input is tried as a body, and
//! compressed first so the protobuf decoder behind snappy is reached too.
#![no_main]

use deskd_metrics::remote::decode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode(data);
    if let Ok(body) = snap::raw::Encoder::new().compress_vec(data) {
        let _ = decode(&body);
    }
});
