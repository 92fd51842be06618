//! afcn-losses
