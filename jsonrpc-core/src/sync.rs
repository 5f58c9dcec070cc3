//! Locking shared state that every operation leaves whole.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, ignoring poisoning.
///
/// For state that each operation leaves whole (single inserts, removes,
/// pushes and pops): a panic elsewhere while the lock was held cannot have
/// left it half-updated, so the next user may go on rather than panic in
/// turn. The peer's own locks are all of this kind.
///
/// ```
/// use std::sync::Mutex;
/// let seen = Mutex::new(Vec::new());
/// jsonrpc_core::sync::lock(&seen).push(1);
/// assert_eq!(*jsonrpc_core::sync::lock(&seen), [1]);
/// ```
pub fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
