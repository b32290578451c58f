//! Test support: starts real `kechuang-central` and `kechuang-node`
//! processes on ephemeral loopback ports, each in its own directory of a
//! temp dir, and drives them through their command-line verbs.
//!
//! Processes are killed when dropped. When a test panics the logs of every
//! process are printed; `KECHUANG_TEST_KEEP_DIR=1` keeps the directory. A
//! network still alive after 15 minutes aborts its test binary with its logs.
//! Only for tests: never a dependency of the binaries.

mod browser;
mod cluster;
mod postgres;
mod process;
mod proxy;
pub mod sample;
mod watchdog;

pub use browser::{Browser, Loaded, Page};
pub use cluster::{Central, Cluster, Node, Watch};
pub use postgres::{Postgres, server_binaries};
pub use process::{Daemon, binary, command, eventually};
pub use proxy::FaultProxy;
