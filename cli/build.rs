//! Links the `eventlake` command as a position-dependent executable on Linux.
//!
//! The command links DataFusion, arrow and parquet: as a position-independent executable
//! (rustc's default) it carries ~227,000 relative relocations (5.4 MB of `.rela.dyn`) that
//! the loader applies at every start, faulting in and dirtying ~1,100 pages: an empty
//! `eventlake invoke` takes 4.2 ms. Linked with `-no-pie` the addresses are fixed at link
//! time and the same run takes 1.5 ms (docs/performance.md, "Whole-process `eventlake invoke`").
//!
//! The cost: the executable's own code and data load at a fixed address (no ASLR for the
//! image; the heap, stack and shared libraries stay randomised). This is a local command
//! reading the user's own files; the Lambda binary, which reads production data, is a
//! separate crate and stays position-independent. Set `EVENTLAKE_CLI_PIE=1` when building
//! to keep the default PIE link.

fn main() {
    println!("cargo:rerun-if-env-changed=EVENTLAKE_CLI_PIE");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if linux && std::env::var_os("EVENTLAKE_CLI_PIE").is_none() {
        println!("cargo:rustc-link-arg-bin=eventlake=-no-pie");
    }
}
