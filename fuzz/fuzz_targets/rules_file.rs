//! The Prometheus rule file (YAML groups of recording and alerting rules).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = deskd_metrics::rules::check_text("fuzz.yaml", text);
    }
});
