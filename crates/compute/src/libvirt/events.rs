//! Domain lifecycle events and connection health: how the libvirt driver notices a guest that
//! powered itself off, crashed, or was destroyed or started outside deskd without waiting for
//! the reconciler's next poll, and a host whose connection dropped.
//!
//! libvirt delivers events (and runs its keepalive) only through a registered event loop, so
//! the first driver registers libvirt's default implementation and runs it on a thread of its
//! own ([`start_loop`]); connections opened before that would never see an event. Every
//! connection a [`Link`] opens gets keepalive probes, a lifecycle callback and a close
//! callback. A lifecycle event of one of deskd's domains bumps the driver's state generation
//! (a `watch` channel the reconciler waits on); a close marks the link dead, which the next
//! call or the reconnect thread replaces by a fresh connection. The callbacks run on the event
//! loop's thread and only touch atomics and the channel, never libvirt: calling back into the
//! connection from its own close callback would deadlock.

use super::{lv, xml};
use crate::driver::DriverError;
use std::ffi::CStr;
use std::os::raw::{c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::watch;
use virt::connect::Connect;
use virt::sys;

/// Keepalive: a probe every this many seconds, and the connection is closed after this many
/// unanswered ones (a host that vanished without closing its socket is noticed in ~20 s).
const KEEPALIVE_SECS: c_int = 5;
const KEEPALIVE_COUNT: u32 = 3;

/// The driver's state generation: bumped by every event that may have changed a VM's state.
pub(crate) type Generation = Arc<watch::Sender<u64>>;

pub(crate) fn bump(gen: &watch::Sender<u64>) {
    gen.send_modify(|g| *g = g.wrapping_add(1));
}

static LOOP: OnceLock<Result<(), String>> = OnceLock::new();

/// Registers libvirt's default event loop and runs it on the thread `libvirt-events` (once per
/// process). Err when libvirt refused: the driver then works by polling alone. Also silences
/// libvirt's default error handler, which prints every error to stderr (a host that is down
/// would print one per reconnect attempt); the driver reports errors through its own log.
pub(crate) fn start_loop() -> Result<(), String> {
    LOOP.get_or_init(|| {
        virt::error::clear_error_callback();
        virt::event::event_register_default_impl().map_err(|e| e.message().to_string())?;
        std::thread::Builder::new()
            .name("libvirt-events".into())
            .spawn(|| loop {
                if let Err(e) = virt::event::event_run_default_impl() {
                    tracing::warn!(error = %e.message(), "libvirt: event loop iteration failed");
                    std::thread::sleep(Duration::from_secs(1));
                }
            })
            .map(drop)
            .map_err(|e| format!("libvirt event thread: {e}"))
    })
    .clone()
}

/// What the callbacks of one connection reach: the driver's generation and the link's health.
struct Sink {
    host_id: String,
    gen: Generation,
    dead: Arc<AtomicBool>,
}

/// One open connection to a host with its event registrations, removed when dropped.
pub(crate) struct Link {
    pub conn: Arc<Connect>,
    /// set by the close callback (EOF, keepalive timeout, error): the connection is useless
    pub dead: Arc<AtomicBool>,
    /// the lifecycle callback's id; None when events could not be had (polling only)
    lifecycle: Option<c_int>,
    close: bool,
}

impl Link {
    /// Opens `uri` and subscribes to its lifecycle events and its close. A connection whose
    /// subscriptions failed is still returned (calls work; state is then polled).
    pub fn open(host_id: &str, uri: &str, gen: &Generation) -> Result<Link, DriverError> {
        let conn = Arc::new(Connect::open(Some(uri)).map_err(|e| lv(uri, e))?);
        let dead = Arc::new(AtomicBool::new(false));
        let mut link = Link {
            conn,
            dead,
            lifecycle: None,
            close: false,
        };
        if let Err(e) = start_loop() {
            tracing::warn!(host_id, error = %e, "libvirt: no event loop; polling only");
            return Ok(link);
        }
        let sink = || {
            Box::into_raw(Box::new(Sink {
                host_id: host_id.to_string(),
                gen: gen.clone(),
                dead: link.dead.clone(),
            }))
            .cast::<c_void>()
        };
        let ptr = link.ptr();
        // SAFETY: `ptr` is a live connection; the keepalive call has no other precondition.
        if unsafe { sys::virConnectSetKeepAlive(ptr, KEEPALIVE_SECS, KEEPALIVE_COUNT) } < 0 {
            tracing::debug!(
                host_id,
                "libvirt: keepalive not supported on this connection"
            );
        }
        let (close_sink, life_sink) = (sink(), sink());
        // SAFETY: the opaque is a boxed Sink that `free_sink` frees once libvirt is done with
        // it (also when registration fails, libvirt does not call freecb: freed below).
        let rc = unsafe {
            sys::virConnectRegisterCloseCallback(ptr, Some(on_close), close_sink, Some(free_sink))
        };
        if rc < 0 {
            // SAFETY: not registered, so still ours
            unsafe { free_sink(close_sink) };
            tracing::warn!(host_id, error = %virt::error::Error::last_error().message(), "libvirt: no close callback");
        } else {
            link.close = true;
        }
        // SAFETY: libvirt calls a lifecycle callback with the lifecycle signature; the generic
        // type is only how the C API takes every kind (its VIR_DOMAIN_EVENT_CALLBACK cast).
        let cb = unsafe {
            std::mem::transmute::<
                unsafe extern "C" fn(
                    sys::virConnectPtr,
                    sys::virDomainPtr,
                    c_int,
                    c_int,
                    *mut c_void,
                ),
                unsafe extern "C" fn(sys::virConnectPtr, sys::virDomainPtr, *mut c_void),
            >(on_lifecycle)
        };
        let id = unsafe {
            // SAFETY: as above; a null domain subscribes to every domain of the connection.
            sys::virConnectDomainEventRegisterAny(
                ptr,
                std::ptr::null_mut(),
                sys::VIR_DOMAIN_EVENT_ID_LIFECYCLE as c_int,
                Some(cb),
                life_sink,
                Some(free_sink),
            )
        };
        if id < 0 {
            // SAFETY: not registered, so still ours
            unsafe { free_sink(life_sink) };
            tracing::warn!(host_id, error = %virt::error::Error::last_error().message(), "libvirt: no lifecycle events; polling only");
        } else {
            link.lifecycle = Some(id);
        }
        Ok(link)
    }

    fn ptr(&self) -> sys::virConnectPtr {
        // SAFETY: the pointer is used only while `self.conn` holds its reference.
        unsafe { self.conn.as_ptr() }
    }

    /// True while the connection delivers lifecycle events: state changes are then reported,
    /// not only found by polling.
    pub fn evented(&self) -> bool {
        self.lifecycle.is_some() && !self.dead.load(Ordering::SeqCst)
    }
}

impl Drop for Link {
    /// Removes the registrations (they hold a reference on the connection, which would
    /// otherwise never close). Errors are expected on a dead connection and ignored.
    fn drop(&mut self) {
        let ptr = self.ptr();
        if let Some(id) = self.lifecycle.take() {
            // SAFETY: `id` was returned by the registration on this connection.
            unsafe { sys::virConnectDomainEventDeregisterAny(ptr, id) };
        }
        if self.close {
            // SAFETY: the callback was registered on this connection.
            unsafe { sys::virConnectUnregisterCloseCallback(ptr, Some(on_close)) };
        }
    }
}

unsafe extern "C" fn free_sink(opaque: *mut c_void) {
    // SAFETY: every opaque handed to libvirt is a `Box<Sink>` made in `Link::open`.
    drop(unsafe { Box::from_raw(opaque.cast::<Sink>()) });
}

/// Names of the lifecycle events, for the log.
fn event_name(event: c_int) -> &'static str {
    match event as u32 {
        sys::VIR_DOMAIN_EVENT_DEFINED => "defined",
        sys::VIR_DOMAIN_EVENT_UNDEFINED => "undefined",
        sys::VIR_DOMAIN_EVENT_STARTED => "started",
        sys::VIR_DOMAIN_EVENT_SUSPENDED => "suspended",
        sys::VIR_DOMAIN_EVENT_RESUMED => "resumed",
        sys::VIR_DOMAIN_EVENT_STOPPED => "stopped",
        sys::VIR_DOMAIN_EVENT_SHUTDOWN => "shutdown",
        sys::VIR_DOMAIN_EVENT_PMSUSPENDED => "pmsuspended",
        sys::VIR_DOMAIN_EVENT_CRASHED => "crashed",
        _ => "other",
    }
}

/// A domain's lifecycle changed: when it is one of deskd's, bump the generation.
unsafe extern "C" fn on_lifecycle(
    _conn: sys::virConnectPtr,
    dom: sys::virDomainPtr,
    event: c_int,
    detail: c_int,
    opaque: *mut c_void,
) {
    // SAFETY: the opaque is the Sink registered with this callback, alive until freecb.
    let sink = unsafe { &*opaque.cast::<Sink>() };
    // SAFETY: `dom` is valid for the callback; the name is owned by the domain (not freed).
    let name = unsafe { sys::virDomainGetName(dom) };
    if name.is_null() {
        return;
    }
    // SAFETY: libvirt returns a NUL-terminated string.
    let name = unsafe { CStr::from_ptr(name) }.to_string_lossy();
    if xml::vm_of_domain(&name).is_none() {
        return;
    }
    tracing::debug!(host_id = %sink.host_id, domain = %name, event = event_name(event), detail, "libvirt: lifecycle event");
    bump(&sink.gen);
}

/// The connection closed (EOF, keepalive timeout, error or client close).
unsafe extern "C" fn on_close(_conn: sys::virConnectPtr, reason: c_int, opaque: *mut c_void) {
    // SAFETY: the opaque is the Sink registered with this callback, alive until freecb.
    let sink = unsafe { &*opaque.cast::<Sink>() };
    let why = match reason as u32 {
        sys::VIR_CONNECT_CLOSE_REASON_EOF => "end of file",
        sys::VIR_CONNECT_CLOSE_REASON_KEEPALIVE => "keepalive timeout",
        sys::VIR_CONNECT_CLOSE_REASON_CLIENT => "closed by deskd",
        _ => "error",
    };
    if reason as u32 != sys::VIR_CONNECT_CLOSE_REASON_CLIENT {
        tracing::warn!(host_id = %sink.host_id, why, "libvirt: connection lost; polling until it is back");
    }
    sink.dead.store(true, Ordering::SeqCst);
    bump(&sink.gen);
}
