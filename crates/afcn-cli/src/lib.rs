#![doc = include_str!("../README.md")]

pub mod audit;
pub mod commands;
pub mod overlays;
pub mod plots;
pub mod report;
