//! afcn-certainty
