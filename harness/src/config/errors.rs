//! What is wrong with a configuration, and where.

use std::fmt;

/// A place in a config text, 1-based; the column counts characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl Location {
    /// The location of byte `offset` of `text`.
    pub fn of_offset(text: &str, offset: usize) -> Location {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Location {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

/// One problem: what is wrong, and where when that is known (a value set on the command
/// line, or a default, is in no file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub at: Option<Location>,
    pub message: String,
}

/// Every problem found in one configuration, named by where it came from (a file, the stored
/// config of a run, the command line). Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl ConfigError {
    /// A single problem.
    pub fn one(file: &str, at: Option<Location>, message: String) -> ConfigError {
        ConfigError {
            file: file.to_owned(),
            problems: vec![Problem { at, message }],
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let problem = |f: &mut fmt::Formatter<'_>, p: &Problem| match p.at {
            Some(at) => write!(f, "{}:{}:{}: {}", self.file, at.line, at.column, p.message),
            None => write!(f, "{}: {}", self.file, p.message),
        };
        match self.problems.as_slice() {
            [one] => problem(f, one),
            all => {
                write!(f, "{} problems in {}:", all.len(), self.file)?;
                for p in all {
                    f.write_str("\n  ")?;
                    problem(f, p)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn offsets_become_lines_and_character_columns() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(
            Location::of_offset(text, 0),
            Location { line: 1, column: 1 }
        );
        let at = text.find("= 2").unwrap();
        assert_eq!(
            Location::of_offset(text, at),
            Location { line: 2, column: 4 }
        );
        // Past the end, or inside a character, still names a place in the text.
        assert_eq!(Location::of_offset(text, 999).line, 3);
        assert_eq!(
            Location::of_offset(text, text.find('é').unwrap() + 1),
            Location { line: 2, column: 2 }
        );
    }

    #[test]
    fn one_problem_is_one_line_and_several_are_listed() {
        let at = Some(Location { line: 3, column: 1 });
        let one = ConfigError::one("gnfc.toml", at, "unknown field `x`".to_owned());
        assert_eq!(one.to_string(), "gnfc.toml:3:1: unknown field `x`");
        let two = ConfigError {
            file: "gnfc.toml".to_owned(),
            problems: vec![
                one.problems[0].clone(),
                Problem {
                    at: None,
                    message: "run.systems is empty".to_owned(),
                },
            ],
        };
        assert_eq!(
            two.to_string(),
            "2 problems in gnfc.toml:\n  gnfc.toml:3:1: unknown field `x`\n  gnfc.toml: run.systems is empty"
        );
    }
}
