//! A service's blocking loop (the projector's and the archiver's pipelines) on a thread
//! of its own, beside the service's HTTP endpoints on the runtime.
//!
//! The loop and the endpoints stop together: [`stop_signal`] resolves when the process
//! is asked to stop or when the loop cancelled itself (an unrecoverable state), the
//! caller then cancels the loop, which finishes its pending work, and [`Worker::join`]
//! waits for its thread without blocking the runtime.

use std::future::Future;
use tokio_util::sync::CancellationToken;

/// The loop's thread panicked.
#[derive(Debug, thiserror::Error)]
#[error("{name} thread panicked")]
pub struct WorkerPanicked {
    /// The thread's name.
    pub name: String,
}

/// A blocking loop running on a named thread.
pub struct Worker {
    name: String,
    thread: std::thread::JoinHandle<()>,
}

impl Worker {
    /// Starts `run` on a thread called `name`.
    pub fn spawn(name: &str, run: impl FnOnce() + Send + 'static) -> std::io::Result<Self> {
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(run)?;
        Ok(Self {
            name: name.to_owned(),
            thread,
        })
    }

    /// Waits until the loop returns (it must have been told to stop).
    pub async fn join(self) -> Result<(), WorkerPanicked> {
        let Self { name, thread } = self;
        match tokio::task::spawn_blocking(move || thread.join()).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(WorkerPanicked { name }),
        }
    }
}

/// Resolves when `shutdown` does or when `cancel` is cancelled, whichever comes first.
pub async fn stop_signal(shutdown: impl Future<Output = ()>, cancel: CancellationToken) {
    tokio::select! {
        () = shutdown => {},
        () = cancel.cancelled() => {},
    }
}
