//! Bounds of the engine, each with the reason for its value.
