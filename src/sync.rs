//! Locks that survive a panic elsewhere: a poisoned lock still holds whole
//! data (every critical section here only replaces values), so it is
//! recovered with `into_inner`, the poisoning is logged once and cleared.
//! Input: a lock and what it guards; output: its guard.

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

fn report(what: &'static str) {
    tracing::error!(
        lock = what,
        "a lock was poisoned by a panic; its data is used as left"
    );
}

pub fn lock<'a, T>(m: &'a Mutex<T>, what: &'static str) -> MutexGuard<'a, T> {
    m.lock().unwrap_or_else(|e| {
        report(what);
        m.clear_poison();
        e.into_inner()
    })
}

pub fn read<'a, T>(m: &'a RwLock<T>, what: &'static str) -> RwLockReadGuard<'a, T> {
    m.read().unwrap_or_else(|e| {
        report(what);
        m.clear_poison();
        e.into_inner()
    })
}

pub fn write<'a, T>(m: &'a RwLock<T>, what: &'static str) -> RwLockWriteGuard<'a, T> {
    m.write().unwrap_or_else(|e| {
        report(what);
        m.clear_poison();
        e.into_inner()
    })
}
