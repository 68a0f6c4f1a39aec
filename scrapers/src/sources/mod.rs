//! The places flakes are found.

pub mod github;
pub mod grep_app;
pub mod list;
pub mod sourcegraph;
mod split;
