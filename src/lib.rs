//! Thin package that owns the workspace examples and cross-crate tests.
