//! Cross-tool end-to-end tests live in `tests/`.
