//! What the load-testing examples share that is not about JSON-RPC: a
//! runtime of N threads, waiting for the signal to stop, the exit status. Each example
//! pulls this in with `#[path = "support/mod.rs"] mod support;` (Cargo does
//! not build a folder without a `main.rs` as an example of its own).

#![allow(dead_code)]

/// The exit status for how `main` went, an error reported as `name: error`.
pub fn exit_code(
    name: &str,
    result: Result<(), Box<dyn std::error::Error>>,
) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A current-thread runtime for one thread, a multi-thread one otherwise.
pub fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
}

/// Resolves on Ctrl-C, SIGTERM, or (unless ignored) the end of stdin, and
/// says which.
pub async fn stop_signal(watch_stdin: bool) -> &'static str {
    let stdin_eof = async {
        if !watch_stdin {
            return std::future::pending().await;
        }
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 256];
        loop {
            match tokio::io::AsyncReadExt::read(&mut stdin, &mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    let sigterm = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                eprintln!("cannot watch SIGTERM ({e}); stop with Ctrl-C");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        r = tokio::signal::ctrl_c() => match r {
            Ok(()) => "Ctrl-C",
            Err(e) => {
                eprintln!("cannot watch Ctrl-C ({e})");
                std::future::pending().await
            }
        },
        _ = sigterm => "SIGTERM",
        _ = stdin_eof => "end of standard input (pass --ignore-stdin to keep running)",
    }
}
