//! Integration tests: they run the `pin-deps` binary.
