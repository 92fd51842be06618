//! afcn-backbone
