//! afcn-gradcam
