//! Process facts from `/proc` (Linux): resident memory and CPU time of a process or of the
//! calling thread, and the open-files limit. Read-only except `raise_fd_limit`.

/// Clock ticks per second of `/proc/*/stat` times (`USER_HZ`, 100 on every Linux ABI).
const TICKS_PER_SEC: f64 = 100.0;

fn status_kib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()
}

/// Current resident memory of `pid` in KiB.
pub fn rss_kib(pid: u32) -> Option<f64> {
    status_kib(pid, "VmRSS:")
}

/// Peak resident memory of `pid` in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<f64> {
    status_kib(pid, "VmHWM:")
}

/// User + system CPU seconds from a `stat` file's contents (fields 14 and 15; the command name
/// in parentheses may hold spaces, so fields are counted after its closing parenthesis).
fn stat_cpu_secs(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SEC)
}

/// CPU seconds `pid` has used so far (all its threads).
pub fn cpu_secs(pid: u32) -> Option<f64> {
    stat_cpu_secs(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// CPU seconds the calling thread has used so far.
pub fn thread_cpu_secs() -> Option<f64> {
    stat_cpu_secs(&std::fs::read_to_string("/proc/thread-self/stat").ok()?)
}

/// Nanoseconds the calling thread has run on a CPU (`/proc/thread-self/schedstat`: scheduler
/// accounting, not the 10 ms ticks of `stat`).
pub fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Nanoseconds all threads of `pid` have run on a CPU (their schedstat summed; threads that
/// already exited are not counted).
pub fn process_cpu_ns(pid: u32) -> Option<u64> {
    let mut total = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = task.ok()?.path().join("schedstat");
        if let Some(ns) = std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()))
        {
            total = total.saturating_add(ns);
        }
    }
    Some(total)
}

/// Raises this process's soft open-files limit to its hard limit (children inherit it); returns
/// the new soft limit.
pub fn raise_fd_limit() -> std::io::Result<u64> {
    let (_, hard) = rlimit::Resource::NOFILE.get()?;
    rlimit::Resource::NOFILE.set(hard, hard)?;
    Ok(hard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_a_name_with_spaces() {
        let stat = "42 (a b) c) S 1 2 3 4 5 6 7 8 9 10 250 150 0 0 20 0";
        assert_eq!(stat_cpu_secs(stat), Some(4.0));
        assert_eq!(stat_cpu_secs("garbage"), None);
    }

    #[test]
    fn own_process_is_visible() {
        let pid = std::process::id();
        assert!(rss_kib(pid).is_some_and(|k| k > 0.0));
        assert!(peak_rss_kib(pid).is_some_and(|k| k >= rss_kib(pid).unwrap_or(0.0) * 0.5));
        let spin = std::time::Instant::now();
        while spin.elapsed() < std::time::Duration::from_millis(50) {
            std::hint::black_box(0u64);
        }
        assert!(thread_cpu_secs().is_some());
        // The kernel brings a running thread's sum up to date at ticks: allow it to lag.
        let spun = thread_cpu_ns();
        assert!(spun.is_some_and(|ns| ns >= 25_000_000), "{spun:?}");
        // This thread's time, read first, is part of the process's, read after it.
        let own = thread_cpu_ns().unwrap_or(u64::MAX);
        assert!(process_cpu_ns(pid).is_some_and(|ns| ns >= own));
        assert!(cpu_secs(pid).is_some());
        assert!(raise_fd_limit().is_ok_and(|n| n > 0));
    }
}
