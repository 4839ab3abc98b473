//! Runnable examples of the pos8583 crates; see the `examples/` folder of this package.
