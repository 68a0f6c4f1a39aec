//! Which outputs of a flake are evaluated, and how they are named and addressed.
//!
//! Output patterns (`packages.<system>.<name>`) come from the config. Enumeration is one Nix
//! evaluation that walks the flake's outputs along every pattern, listing attribute names
//! without forcing any output's value: an output that throws is found here and fails later,
//! on its own, in the eval stage — which is what makes `partial` distinguishable from
//! `enumerate-fail`.

use serde::{Deserialize, Serialize};

const SYSTEM: &str = "<system>";
const NAME: &str = "<name>";

/// How the outputs a pattern finds are evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvalMode {
    /// Evaluate the output's `drvPath`: comparable across implementations.
    #[default]
    DrvPath,
    /// List the attribute names only (for `legacyPackages`, which is all of nixpkgs).
    AttrNames,
}

/// One entry of the config's `outputs`: a pattern and how what it finds is evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    pub path: String,
    #[serde(default)]
    pub eval: EvalMode,
}

/// A parsed output pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    segments: Vec<String>,
}

impl Pattern {
    pub fn parse(path: &str) -> Result<Pattern, String> {
        let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
        if segments.iter().any(String::is_empty) {
            return Err("empty attribute segment (two dots, or a leading or trailing dot)".into());
        }
        if let Some(bad) = segments
            .iter()
            .find(|s| s.starts_with('<') && *s != SYSTEM && *s != NAME)
        {
            return Err(format!("unknown placeholder {bad}: use <system> or <name>"));
        }
        Ok(Pattern { segments })
    }
}

/// One output found by enumeration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Attribute names from the flake's outputs down to the evaluated value.
    pub segments: Vec<String>,
    pub eval: EvalMode,
}

impl Output {
    /// The attribute path as people read it, quoting names that are not identifiers.
    pub fn display(&self) -> String {
        self.segments
            .iter()
            .map(|s| quote_if_needed(s))
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The installable attribute path Nix parses (every segment quoted, so `hls-1.2` and
    /// `x86_64-linux` survive), or why this output cannot be addressed.
    pub fn installable_path(&self) -> Result<String, String> {
        let mut out = Vec::with_capacity(self.segments.len());
        for s in &self.segments {
            // Nix's attribute path syntax has no escape for a quote inside a quoted name.
            if s.contains('"') {
                return Err(format!(
                    "gnfc: attribute name {s:?} contains a double quote, which no Nix \
                     attribute path can address; output not evaluated"
                ));
            }
            out.push(format!("\"{s}\""));
        }
        Ok(out.join("."))
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '\'' | '-'))
}

fn quote_if_needed(s: &str) -> String {
    if is_identifier(s) {
        s.to_owned()
    } else {
        nix_string(s)
    }
}

/// A Nix string literal holding `s` exactly.
pub fn nix_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' if chars.peek() == Some(&'{') => out.push_str("\\$"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The Nix expression that lists, for each pattern, the outputs of flake `flake_ref` it
/// matches, as JSON: a list (one entry per pattern) of lists of attribute paths.
pub fn enumerate_expr(flake_ref: &str, specs: &[OutputSpec], systems: &[String]) -> String {
    let list = |items: &mut dyn Iterator<Item = String>| {
        format!("[ {} ]", items.collect::<Vec<_>>().join(" "))
    };
    let patterns = list(
        &mut specs
            .iter()
            .map(|spec| list(&mut spec.path.split('.').map(nix_string))),
    );
    let systems = list(&mut systems.iter().map(|s| nix_string(s)));
    format!(
        r#"let
  outputs = (builtins.getFlake {flake}).outputs;
  systems = {systems};
  patterns = {patterns};
  isWild = s: s == "{SYSTEM}" || s == "{NAME}";
  walk = value: prefix: segs:
    if segs == [ ] then [ prefix ]
    else if prefix != [ ] && !(builtins.any isWild segs) then [ (prefix ++ segs) ]
    else if !(builtins.isAttrs value) then [ ]
    else
      let seg = builtins.head segs; rest = builtins.tail segs; in
      if seg == "{SYSTEM}" then
        builtins.concatMap (s: if value ? ${{s}} then walk value.${{s}} (prefix ++ [ s ]) rest else [ ]) systems
      else if seg == "{NAME}" then
        builtins.concatMap (n: walk value.${{n}} (prefix ++ [ n ]) rest) (builtins.attrNames value)
      else if value ? ${{seg}} then walk value.${{seg}} (prefix ++ [ seg ]) rest
      else [ ];
in
map (walk outputs [ ]) patterns"#,
        flake = nix_string(flake_ref),
    )
}

/// Reads the enumeration's JSON back into outputs, in pattern order.
pub fn parse_enumeration(json: &[u8], specs: &[OutputSpec]) -> Result<Vec<Output>, String> {
    let per_pattern: Vec<Vec<Vec<String>>> = serde_json::from_slice(json).map_err(|e| {
        format!("gnfc: the enumeration printed something that is not the expected JSON: {e}")
    })?;
    if per_pattern.len() != specs.len() {
        return Err(format!(
            "gnfc: the enumeration returned {} pattern results for {} patterns",
            per_pattern.len(),
            specs.len()
        ));
    }
    let mut outputs = Vec::new();
    for (paths, spec) in per_pattern.into_iter().zip(specs) {
        for segments in paths {
            let output = Output {
                segments,
                eval: spec.eval,
            };
            // Two patterns can reach the same attribute; evaluate it once.
            if !outputs.contains(&output) {
                outputs.push(output);
            }
        }
    }
    Ok(outputs)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn patterns_are_validated() {
        assert!(Pattern::parse("packages.<system>.<name>").is_ok());
        assert!(Pattern::parse("packages..x").is_err());
        assert!(Pattern::parse("packages.<sys>")
            .unwrap_err()
            .contains("<sys>"));
    }

    #[test]
    fn names_are_quoted_for_people_and_for_nix() {
        let o = Output {
            segments: vec!["packages".into(), "x86_64-linux".into(), "hls-1.2".into()],
            eval: EvalMode::DrvPath,
        };
        assert_eq!(o.display(), "packages.x86_64-linux.\"hls-1.2\"");
        assert_eq!(
            o.installable_path().unwrap(),
            "\"packages\".\"x86_64-linux\".\"hls-1.2\""
        );
        let q = Output {
            segments: vec!["a\"b".into()],
            eval: EvalMode::DrvPath,
        };
        assert!(q.installable_path().is_err());
    }

    #[test]
    fn nix_strings_escape_interpolation() {
        assert_eq!(nix_string("a\"b\\c${d}$e"), r#""a\"b\\c\${d}$e""#);
    }

    #[test]
    fn enumeration_json_is_read_in_pattern_order() {
        let specs = vec![
            OutputSpec {
                path: "packages.<system>.<name>".into(),
                eval: EvalMode::DrvPath,
            },
            OutputSpec {
                path: "legacyPackages.<system>".into(),
                eval: EvalMode::AttrNames,
            },
        ];
        let json = br#"[[["packages","x","a"],["packages","x","b"]],[["legacyPackages","x"]]]"#;
        let outs = parse_enumeration(json, &specs).unwrap();
        assert_eq!(outs.len(), 3);
        assert_eq!(outs[2].eval, EvalMode::AttrNames);
        assert!(parse_enumeration(b"not json", &specs).is_err());
    }
}
