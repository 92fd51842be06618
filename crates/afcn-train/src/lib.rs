#![doc = include_str!("../README.md")]

pub mod backend;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod distributed;
pub mod inference;
pub mod methods;
pub mod metrics;
pub mod model;
pub mod optim;
pub mod progress;
pub mod run_dir;
pub mod step;
pub mod trainer;
