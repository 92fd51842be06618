//! The AFCN trainer: wires data, backbone, attention, certainty and losses together, and the
//! `afcn` command line.
//!
//! It is the only crate of the workspace that depends on all the others; see
//! `docs/architecture.md` for the crate graph.

pub mod audit;
pub mod backend;
pub mod commands;
pub mod config;
pub mod data;
pub mod distributed;
pub mod methods;
pub mod metrics;
pub mod model;
pub mod overlays;
pub mod plots;
pub mod report;
pub mod run_dir;
pub mod step;
pub mod trainer;
