//! brood: a live process tree and multiprocessing lab for Linux.

pub mod app;
pub mod cli;
pub mod collector;
pub mod config;
pub mod effects;
pub mod event;
pub mod events_cli;
pub mod lab;
pub mod proc;
pub mod signals;
pub mod snapshot;
pub mod tui;
pub mod ui;
