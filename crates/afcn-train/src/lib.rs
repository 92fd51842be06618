#![doc = include_str!("../README.md")]

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
