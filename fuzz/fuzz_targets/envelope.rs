//! The `{"content":{…}}` envelope and its tolerant inputs (D4: booleans as strings, `user_arr`
//! as names or objects, trimmed ids), decoded into the request types that use them.
#![no_main]

use deskd_wire::envelope::decode as parse;
use deskd_wire::{desk, paging, token, user};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse::<paging::PageQuery>(data);
    let _ = parse::<token::TokenRequest>(data);
    let _ = parse::<user::UserBatchRequest>(data);
    let _ = parse::<user::CreateUserRequest>(data);
    let _ = parse::<user::EditUserRequest>(data);
    let _ = parse::<desk::BatchCreateRequest>(data);
    let _ = parse::<desk::BatchDeleteRequest>(data);
    if let Ok(Some(r)) = parse::<user::UserBatchRequest>(data) {
        for u in &r.user_arr {
            let _ = u.name();
        }
    }
});
