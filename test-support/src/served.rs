//! A service under test served on a task of the test's runtime, with its graceful
//! shutdown: what every service's `spawn_app` fixture needs besides its configuration.

use std::future::Future;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The shutdown signal handed to a service's `run_until`.
pub type ShutdownSignal = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// A running service: its base URL and the handle that stops it.
pub struct ServedApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl ServedApp {
    /// Spawns `run(signal)` (a service's `run_until`) for the service listening on `port`.
    pub fn spawn<Run, Served>(port: u16, run: Run) -> Self
    where
        Run: FnOnce(ShutdownSignal) -> Served,
        Served: Future<Output = ()> + Send + 'static,
    {
        let (sender, receiver) = oneshot::channel::<()>();
        let signal: ShutdownSignal = Box::pin(async move {
            let _ = receiver.await;
        });
        Self {
            address: format!("http://127.0.0.1:{port}"),
            shutdown: Some(sender),
            server: Some(tokio::spawn(run(signal))),
        }
    }

    /// Starts the graceful shutdown and waits for it to finish.
    pub async fn shut_down(&mut self) {
        if let Some(sender) = self.shutdown.take() {
            let _ = sender.send(());
        }
        if let Some(server) = self.server.take() {
            if let Err(error) = server.await {
                panic!("the server task failed: {error}");
            }
        }
    }
}
