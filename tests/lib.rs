//! Multi-process scenarios live in `tests/`; this crate has no library code.
