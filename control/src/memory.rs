//! Giving freed memory back to the OS after the few jobs that use a lot of it at once.

/// Hands free heap pages back to the OS. glibc raises its mmap threshold after the first
/// large free, so later big allocations are served from the heap arenas and stay resident
/// when freed: one login (Argon2's 19 MiB) tripled the idle RSS of the server (10 MB → 30
/// MB), and an hour-long VOD transcode (FFmpeg's and x264's buffers in per-thread arenas)
/// left hundreds of MB resident after it ended.
#[allow(unsafe_code)]
pub fn release() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of glibc's heaps to the kernel; it does
    // not touch memory in use and is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}
