//! afcn-data
