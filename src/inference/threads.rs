//! How many intra-op threads each ONNX Runtime session gets when the user does not say.
//!
//! Left at 0, ONNX Runtime creates one thread per physical core of the whole machine and pins each to a
//! core, ignoring the process's CPU set (`taskset`, a container's `cpuset`) and CPU quota: a node confined to
//! 2 cores of a 12-core Jetson would start 12 pinned threads per session, three sessions deep. So the count
//! is always set — the physical cores among the CPUs this process may run on, capped by what the scheduler
//! grants it (`available_parallelism` reads the cgroup quota) — which also leaves the threads unpinned.

use std::collections::BTreeSet;
use std::path::Path;

/// Intra-op threads per session when unset: the physical cores this process may use, at least 1.
pub fn default_intra_threads() -> usize {
    let granted = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let status = std::fs::read_to_string("/proc/self/status").ok();
    let allowed = status.as_deref().and_then(allowed_cpus);
    let physical = allowed.and_then(|cpus| {
        physical_cores(&cpus, |cpu| {
            let path = format!("/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list");
            std::fs::read_to_string(Path::new(&path)).ok()
        })
    });
    physical.unwrap_or(granted).min(granted).max(1)
}

/// The CPUs in `/proc/self/status`'s `Cpus_allowed_list` (e.g. `0-3,8`).
fn allowed_cpus(status: &str) -> Option<Vec<usize>> {
    let line = status.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:"))?;
    parse_cpu_list(line.trim())
}

/// A kernel CPU list (`0-3,8,10-11`) as CPU numbers; None if it does not parse.
fn parse_cpu_list(list: &str) -> Option<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
                if b < a {
                    return None;
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.parse().ok()?),
        }
    }
    (!cpus.is_empty()).then_some(cpus)
}

/// How many distinct physical cores `cpus` spans: CPUs sharing a `thread_siblings_list` are one core
/// (hyper-threads). None when a CPU's topology cannot be read.
fn physical_cores(cpus: &[usize], siblings_of: impl Fn(usize) -> Option<String>) -> Option<usize> {
    let mut cores = BTreeSet::new();
    for &cpu in cpus {
        let siblings = parse_cpu_list(siblings_of(cpu)?.trim())?;
        cores.insert(siblings);
    }
    Some(cores.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse_as_the_kernel_writes_them() {
        assert_eq!(parse_cpu_list("0-3,8,10-11"), Some(vec![0, 1, 2, 3, 8, 10, 11]));
        assert_eq!(parse_cpu_list("5"), Some(vec![5]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list(""), None);
        let status = "Name:\tpixel-sail\nCpus_allowed:\tf\nCpus_allowed_list:\t2-3\nMems_allowed_list:\t0\n";
        assert_eq!(allowed_cpus(status), Some(vec![2, 3]));
    }

    #[test]
    fn hyper_threads_of_one_core_count_once() {
        // 4 cores with 2 threads each: CPU n and n + 4 are siblings
        let siblings = |cpu: usize| Some(format!("{},{}", cpu % 4, cpu % 4 + 4));
        assert_eq!(physical_cores(&[0, 1, 2, 3, 4, 5, 6, 7], siblings), Some(4));
        // a CPU set holding both threads of core 0 and one of core 1
        assert_eq!(physical_cores(&[0, 4, 1], siblings), Some(2));
        // no hyper-threading
        assert_eq!(physical_cores(&[0, 1], |cpu| Some(cpu.to_string())), Some(2));
        assert_eq!(physical_cores(&[0, 1], |_| None), None);
    }

    #[test]
    fn the_default_is_within_what_the_process_may_use() {
        let n = default_intra_threads();
        assert!(n >= 1 && n <= std::thread::available_parallelism().unwrap().get(), "{n}");
    }
}
