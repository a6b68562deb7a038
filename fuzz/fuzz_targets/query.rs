//! Query conditions (`match_arr`) and sort arrays (`sort_arr`) compiled against every
//! resource's declaration (D5).
#![no_main]

use deskd_domain::query::compile;
use deskd_domain::resources;
use deskd_wire::envelope::decode as parse;
use deskd_wire::paging::PageQuery;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(Some(q)) = parse::<PageQuery>(data) else {
        return;
    };
    for r in [
        &resources::STRATEGIES,
        &resources::DESKS,
        &resources::OS_FILES,
        &resources::USERS,
        &resources::IMAGES,
        &resources::NETWORKS,
        &resources::CLUSTERS,
        &resources::STORAGE_POOLS,
        &resources::HOSTS,
    ] {
        let _ = compile(r, &q);
    }
});
