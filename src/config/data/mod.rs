//! Readers for BFE's JSON data files, one per file, plus the JSON walking
//! helpers they share. Each reader validates what it can see alone; checks
//! across files are made in `config::snapshot`.

pub mod cluster_conf;
pub mod cluster_table;
pub mod gslb;
pub mod host_rule;
pub mod json;
pub mod name_conf;
pub mod route_rule;
pub mod tls_conf;
pub mod vip_rule;
