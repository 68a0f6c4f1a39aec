//! The rules shipped with gnfc, compiled in so the binary needs no data files.

/// `classifier/rules/*.toml` in name order: (origin for messages, text).
pub(crate) const FILES: &[(&str, &str)] = &[
    (
        "built-in rules/10-setup.toml",
        include_str!("../rules/10-setup.toml"),
    ),
    (
        "built-in rules/20-crashes-and-limits.toml",
        include_str!("../rules/20-crashes-and-limits.toml"),
    ),
    (
        "built-in rules/30-flake-format.toml",
        include_str!("../rules/30-flake-format.toml"),
    ),
    (
        "built-in rules/40-network.toml",
        include_str!("../rules/40-network.toml"),
    ),
    (
        "built-in rules/50-parse.toml",
        include_str!("../rules/50-parse.toml"),
    ),
    (
        "built-in rules/60-eval.toml",
        include_str!("../rules/60-eval.toml"),
    ),
];

#[cfg(test)]
mod unit {
    /// A new file in `rules/` must be listed above, in name order, or it would silently not
    /// ship.
    #[test]
    fn every_rules_file_is_built_in_in_name_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".toml"))
            .collect();
        on_disk.sort();
        let listed: Vec<String> = super::FILES
            .iter()
            .map(|(origin, _)| origin.trim_start_matches("built-in rules/").to_owned())
            .collect();
        assert_eq!(listed, on_disk);
    }
}
