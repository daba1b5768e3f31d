//! compio runtimes for the benchmark's threads (echo servers and the load generator): pinned to
//! a core, with cooperative task running (`IORING_SETUP_COOP_TASKRUN` + `TASKRUN_FLAG`: the
//! kernel does not interrupt a busy thread for each completion; ~1.5× on 16×32 small-message
//! echo here, for every compio peer and for the load generator alike). `EDDY_URING=default`
//! turns it off, `EDDY_URING=defer` uses single issuer + deferred task running instead. If the
//! kernel refuses the flags, the runtime is built without them.

use std::collections::HashSet;

use compio::driver::ProactorBuilder;
use compio::runtime::{Runtime, RuntimeBuilder};

/// The io_uring setup chosen by `EDDY_URING`: `coop` (the default), `defer` or `default`.
pub fn mode() -> &'static str {
    match std::env::var("EDDY_URING").as_deref() {
        Ok("default") => "default",
        Ok("defer") => "defer",
        _ => "coop",
    }
}

pub fn pinned(core: usize) -> std::io::Result<Runtime> {
    let mut proactor = ProactorBuilder::new();
    match mode() {
        "default" => {}
        "defer" => {
            proactor.single_issuer(true).defer_taskrun(true);
        }
        _ => {
            proactor.coop_taskrun(true).taskrun_flag(true);
        }
    }
    let cores = HashSet::from([core]);
    RuntimeBuilder::new()
        .with_proactor(proactor)
        .thread_affinity(cores.clone())
        .build()
        .or_else(|_| RuntimeBuilder::new().thread_affinity(cores).build())
}
