//! The Prometheus text exposition format, as scraped from exporters and imported.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = deskd_metrics::text::parse(text);
        let _ = deskd_metrics::text::parse_value(text);
    }
});
