//! The checks serde's types cannot express: names that must be defined, commands that must
//! say something, limits Nix can start within. Every problem is collected, each with the key
//! it is about, so one pass over a config reports all of them.

use std::collections::BTreeMap;

use super::locate::KeyPath;
use super::settings::{recipe_of, Config, RegistrySetting};

/// One failed check: the key whose value is wrong, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub key: KeyPath,
    pub message: String,
}

/// Every problem of `config`, in the order of its sections; empty when it is valid.
pub fn check(config: &Config) -> Vec<Invalid> {
    let mut found = Vec::new();
    let mut invalid = |key: KeyPath, message: String| found.push(Invalid { key, message });

    for (i, name) in config.run.implementations.iter().enumerate() {
        if !config.implementations.contains_key(name) {
            invalid(
                KeyPath::new("run").key("implementations").index(i),
                format!(
                    "run.implementations names '{name}', which no [implementations.{name}] \
                     section defines (defined: {})",
                    keys(&config.implementations)
                ),
            );
        }
    }
    for (i, name) in config.run.resolvers.iter().enumerate() {
        if !config.resolvers.contains_key(name) {
            invalid(
                KeyPath::new("run").key("resolvers").index(i),
                format!(
                    "run.resolvers names '{name}', which no [resolvers.{name}] section defines \
                     (defined: {})",
                    keys(&config.resolvers)
                ),
            );
        }
    }
    if config.run.systems.is_empty() {
        invalid(
            KeyPath::new("run").key("systems"),
            "run.systems is empty: name at least one system, e.g. \"x86_64-linux\"".to_owned(),
        );
    }

    if let RegistrySetting::File(path) = &config.run.registry {
        if !path.is_file() {
            invalid(
                KeyPath::new("run").key("registry"),
                format!(
                    "run.registry names {}, which is not a file; give \"global\", \"empty\", a \
                     registry URL or the path of a registry JSON file",
                    path.display()
                ),
            );
        }
    }

    if config.limits.timeout_secs == 0 {
        invalid(
            KeyPath::new("limits").key("timeout_secs"),
            "limits.timeout_secs must be at least 1".to_owned(),
        );
    }
    if !(config.limits.cpus >= 0.0 && config.limits.cpus.is_finite()) {
        invalid(
            KeyPath::new("limits").key("cpus"),
            "limits.cpus must be 0 (no limit) or more".to_owned(),
        );
    }
    if config.limits.memory.0 < 64 << 20 {
        invalid(
            KeyPath::new("limits").key("memory"),
            "limits.memory must be at least 64MiB: Nix needs it to start".to_owned(),
        );
    }
    if config.limits.pids < 16 {
        invalid(
            KeyPath::new("limits").key("pids"),
            "limits.pids must be at least 16: Nix needs them to start".to_owned(),
        );
    }

    for (name, imp) in &config.implementations {
        let key = KeyPath::new("implementations").key(name);
        if imp.command.first().is_none_or(String::is_empty) {
            invalid(
                key.clone().key("command"),
                format!(
                    "implementations.{name}.command is empty: give the nix binary, e.g. [\"nix\"]"
                ),
            );
        }
        if let Err(m) = recipe_of(imp, &config.images) {
            invalid(
                key.key("recipe"),
                format!("implementations.{name}.recipe: {m}"),
            );
        }
    }
    for (name, resolver) in &config.resolvers {
        if !resolver.lock.iter().any(|a| a.contains("{flake}")) {
            invalid(
                KeyPath::new("resolvers").key(name).key("lock"),
                format!(
                    "resolvers.{name}.lock never mentions {{flake}}: the command must be told \
                     which flake to lock"
                ),
            );
        }
    }
    for (i, spec) in config.outputs.iter().enumerate() {
        if let Err(m) = crate::outputs::Pattern::parse(&spec.path) {
            invalid(
                KeyPath::new("outputs").index(i).key("path"),
                format!("outputs: '{}': {m}", spec.path),
            );
        }
    }
    for (i, ulimit) in config.podman.ulimits.iter().enumerate() {
        if let Err(m) = ulimit.parse::<gnfc_containers::Ulimit>() {
            invalid(
                KeyPath::new("podman").key("ulimits").index(i),
                format!("podman.ulimits: {m}"),
            );
        }
    }
    found
}

fn keys<V>(map: &BTreeMap<String, V>) -> String {
    map.keys().cloned().collect::<Vec<_>>().join(", ")
}
