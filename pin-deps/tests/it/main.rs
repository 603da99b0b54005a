//! Integration tests: they run the `pin-deps` binary against package folders built on the fly.

mod conflicts;
mod index;
mod inputs;
mod resolve;
mod testenv;
