//! The Jupyter kernel: `helixfold kernel --connection-file FILE` serves one persistent
//! [`crate::session::Session`] over the Jupyter messaging protocol 5.3 (ZeroMQ), and
//! `helixfold kernel install` registers it with Jupyter.
pub mod client;
pub mod connection;
pub mod execute;
pub mod history;
pub mod introspection;
pub mod kernelspec;
pub mod live_plot;
pub mod message;
pub mod rust_cells;
pub mod server;
pub mod wire;

pub use connection::ConnectionInfo;
pub use server::run;
