//! PromQL queries and series selectors (`match[]`), as the read API parses them.
#![no_main]

use deskd_metrics::promql::eval::parse;
use deskd_metrics::storage::matcher_sets;
use libfuzzer_sys::fuzz_target;
use promql_parser::parser::Expr;

fuzz_target!(|data: &[u8]| {
    let Ok(q) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(Expr::VectorSelector(vs)) = parse(q) {
        let _ = matcher_sets(&vs);
    }
    let _ = deskd_metrics::http::parse_duration(q);
    let _ = deskd_metrics::http::parse_time(q);
});
