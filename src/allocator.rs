//! How the C allocator is set up for a run: fewer arenas than glibc's default.
//!
//! glibc gives each thread that allocates at once an arena of its own (up to eight per core),
//! and an arena keeps the memory freed into it for its thread. A large load allocates and
//! frees a gigabyte in small pieces on every worker thread, so each arena ends up holding its
//! own high-water mark: on 50,000 migrations, about a third of the process's peak memory was
//! arenas holding freed memory (101 MB resident for a 54 MB peak of live data). Pairs of
//! worker threads sharing an arena measured no slower on 2 cores (check and lint on 10,000
//! migrations) and kept 13 MB less resident.

/// Limits glibc's arenas to one for the main thread and one per two worker threads. Call it
/// first thing in `main`, before any thread exists; elsewhere than glibc it does nothing.
pub fn share_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let workers = usable_cpus();
        let arenas = 1 + workers.div_ceil(2);
        let arenas = libc::c_int::try_from(arenas).unwrap_or(libc::c_int::MAX);
        #[allow(unsafe_code)]
        // SAFETY: `mallopt` only stores a setting that glibc's allocator reads under its own
        // locks; called before any other thread exists, nothing allocates concurrently. A
        // rejected value (it returns 0) leaves glibc's default: more memory, same answers.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}

/// How many CPUs this process may run on: one `sched_getaffinity` call. Not
/// `std::thread::available_parallelism`, which also reads the cgroup's CPU quota through
/// `/proc` and `/sys` files: a third of the start-up of a hook that has nothing to do, for a
/// bound on arenas that an upper estimate serves as well.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn usable_cpus() -> usize {
    #[allow(unsafe_code)]
    // SAFETY: `set` is a plain bit set, zeroed before the call; the kernel writes at most
    // `size_of::<cpu_set_t>()` bytes into it, and CPU_COUNT only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            usize::try_from(libc::CPU_COUNT(&set)).map_or(1, |n| n.max(1))
        } else {
            1
        }
    }
}
