//! Tests that cross modules: each reads types from several of them.

mod every_type;
mod host_steps;
mod map;
