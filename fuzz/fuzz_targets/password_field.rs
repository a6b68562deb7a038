//! The AES-or-plaintext password field (D6): Base64, AES-128-ECB, PKCS#7, UTF-8.
#![no_main]

use deskd_domain::auth::transport_password;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let value = String::from_utf8_lossy(data);
    let keys = ["0123456789abcdef".to_string(), "fedcba9876543210".to_string()];
    let _ = transport_password(&value, &keys);
});
