//! Latch edge.
