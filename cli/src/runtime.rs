//! The process's one tokio runtime, made on first use: every command's async work and the
//! Lambda handler's run on it.

/// Run async work on the process's one tokio runtime (made on first use, shared by every call).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("tokio runtime starts")
        })
        .block_on(f)
}
