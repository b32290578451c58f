//! Size limits of text fields, lists and batches, shared by every layer.

/// Longest title, in characters.
pub const TITLE: usize = 120;
/// Longest description or abstract, in characters.
pub const LONG_TEXT: usize = 4_000;
/// Longest short text (names, institutions, contact fields), in characters.
pub const SHORT_TEXT: usize = 100;
/// Longest single keyword, in characters.
pub const KEYWORD: usize = 30;
/// Most keywords or fields on one record.
pub const KEYWORDS: usize = 20;
/// Most availability windows on one expert.
pub const WINDOWS: usize = 12;
/// Longest operator reference (`external_id`), in characters.
pub const EXTERNAL_ID: usize = 64;
/// Largest amount of money, in 万元.
pub const MONEY_WAN: f64 = 10_000_000.0;
/// Most changes in one push batch.
pub const BATCH: usize = 2_000;
/// Largest gRPC message, in bytes.
pub const MESSAGE_BYTES: usize = 8 * 1024 * 1024;
