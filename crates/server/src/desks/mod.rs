//! Cloud desktops (chapter 6.1): the HTTP handlers ([`api`]), the task items that carry out
//! every desk operation ([`ops`]), the boot-storm guard ([`guard`]) and the consoles
//! ([`console`]: tickets and the RFB websocket proxy, issue 8).

pub mod api;
pub mod console;
pub mod guard;
pub mod ops;

/// Task kinds of desk operations; one handler each in [`ops`].
pub mod kinds {
    pub const CREATE: &str = "desk.create";
    pub const DELETE: &str = "desk.delete";
    pub const START: &str = "desk.start";
    pub const SHUTDOWN: &str = "desk.shutdown";
    pub const POWER_OFF: &str = "desk.power_off";
    pub const RESTART: &str = "desk.restart";
    pub const MODIFY: &str = "desk.modify";
    pub const STRATEGY: &str = "desk.strategy";
    pub const REMARK: &str = "desk.remark";
}
