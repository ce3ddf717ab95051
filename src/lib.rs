#![forbid(unsafe_code)]
pub mod admin;
pub mod app;
pub mod config;
pub mod demo;
pub mod dns;
pub mod gslb;
pub mod health;
pub mod http;
pub mod metrics;
pub mod name;
pub mod publisher;
pub mod reload;
pub mod snapshot;
pub mod zone;
