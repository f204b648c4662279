//! The process's allocator, shared by the Rust side and the embedded JVM's
//! native allocations: one glibc malloc arena for everything, and freed
//! memory given back to the system after each answer. Input: a call at
//! start ([`limit_malloc_arenas`]) and a nudge after each answer
//! ([`release_free_memory_soon`]); output: less resident memory, nothing else.

use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

/// Keeps glibc's malloc to one arena for the whole process (the embedded
/// JVM's native allocations included); call once, first thing in `main`.
///
/// glibc gives each thread that allocates concurrently an arena of its own
/// and keeps what a scrape freed there: ksbridge's tokio workers, the shim's
/// reader threads and the JVM's own threads each held a few MiB, 12-24 MiB
/// more resident memory serving a 2,000-bean target than one arena (the
/// default allows eight per core), at
/// the same scrape latency (`scripts/bench.sh`, flags part). An explicit
/// `MALLOC_ARENA_MAX` in the environment is left as it is.
pub fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    // Safety: `mallopt` only changes a tuning parameter of glibc's
    // allocator; it is called before any other thread exists, and an
    // unsupported parameter is reported by its return value (ignored: the
    // default then stays).
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// How long the trimmer waits after a nudge, so that the answer's own
/// buffers are freed first and a burst of answers shares one trim.
const SETTLE: Duration = Duration::from_millis(50);

/// Gives the memory the allocator holds free back to the system, soon and
/// off the caller's thread (one trim for a burst of calls).
///
/// A scrape allocates the read's snapshot, the families and the encoded
/// answer, and frees them all when the answer is sent; glibc keeps the freed
/// pages resident because a few longer-lived allocations sit between them.
/// `malloc_trim` returns every whole free page: 12 MiB less resident memory
/// between scrapes of a 2,000-bean target (`scripts/bench.sh`, flags part).
pub fn release_free_memory_soon() {
    static NUDGE: OnceLock<Option<mpsc::SyncSender<()>>> = OnceLock::new();
    let nudge = NUDGE.get_or_init(|| {
        let (tx, rx) = mpsc::sync_channel::<()>(1);
        std::thread::Builder::new()
            .name("ksbridge-trim".into())
            .stack_size(64 << 10)
            .spawn(move || {
                while rx.recv().is_ok() {
                    std::thread::sleep(SETTLE);
                    while rx.try_recv().is_ok() {}
                    trim();
                }
            })
            .ok()
            .map(|_| tx)
    });
    if let Some(tx) = nudge {
        // Full: a trim is already due, which covers this call too.
        let _ = tx.try_send(());
    }
}

fn trim() {
    // Safety: `malloc_trim` takes the allocator's own locks and only
    // releases pages no allocation uses; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_memory_goes_back_to_the_system() {
        // Many small blocks (below the mmap threshold, so on the heap), then
        // one kept block above them so the top of the heap cannot shrink on
        // its own: only a trim gives the freed pages back.
        let blocks: Vec<Vec<u8>> = (0..20_000).map(|i| vec![i as u8; 1000]).collect();
        let keep = vec![1u8; 1000];
        let before = resident_kib();
        drop(blocks);
        trim();
        let after = resident_kib();
        assert_eq!(keep[0], 1);
        assert!(
            after + 8 * 1024 < before,
            "resident {before} KiB before, {after} KiB after the trim"
        );
    }

    #[test]
    fn nudges_coalesce_without_blocking() {
        for _ in 0..1000 {
            release_free_memory_soon();
        }
    }

    fn resident_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS")
    }
}
