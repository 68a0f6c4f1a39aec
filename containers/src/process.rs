//! What every process gnfc starts for a sandbox shares.

/// Asks the kernel to SIGKILL the command when gnfc dies, so a killed run leaves no
/// orphaned evaluations behind (its process group is its own, out of reach of the shell's
/// Ctrl-C).
#[allow(unsafe_code)]
pub(crate) fn die_with_parent(cmd: &mut tokio::process::Command) {
    // SAFETY: the closure runs in the forked child before exec and only makes one prctl(2)
    // call, which is async-signal-safe; it touches no memory shared with the parent.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
                .map_err(std::io::Error::from)
        });
    }
}
