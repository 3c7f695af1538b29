//! brood: a live process tree and multiprocessing lab for Linux.
//!
//! Layers, lowest first; each may use the ones before it, never one after (a test keeps it so):
//! `proc` and `signals` (the process model), `lab` (processes brood owns), `history` (what
//! happened, kept), `message` (what crosses a boundary), `app` (every decision), `ui` (drawing),
//! `runtime` (threads, terminal, side effects); `cli`, `man`, `config`, `snapshot`, `exporter`,
//! `events_cli` and `export` are the edges `main` calls.

pub mod app;
pub mod cli;
pub mod config;
pub mod events_cli;
pub mod export;
pub mod exporter;
pub mod history;
pub mod lab;
pub mod man;
pub mod message;
pub mod proc;
pub mod runtime;
pub mod signals;
pub mod snapshot;
pub mod ui;
