//! One lock for the tests that must not share the machine with each other: those that launch
//! Chromium (heavy, and they count processes and time crash recovery) and those that assert
//! how long something took (shutdown grace, cancellation, navigation deadlines).
//!
//! Every area runs in one test binary, two tests at a time on a 2-core machine, so a test from
//! one area runs beside a test from another. Holding this lock, a test runs beside none of
//! the others that take it; tests that neither launch Chromium nor measure time do not take
//! it.

use tokio::sync::{Mutex, MutexGuard};

static SERIAL: Mutex<()> = Mutex::const_new(());

/// Waits until no other serial test runs; the test runs alone among them while it holds the
/// guard. (A tokio mutex: a test that fails while holding it does not poison it.)
pub async fn lock() -> MutexGuard<'static, ()> {
    SERIAL.lock().await
}
