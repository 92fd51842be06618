//! afcn-train
