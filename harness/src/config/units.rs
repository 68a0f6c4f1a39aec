//! Values written with a unit in `gnfc.toml`.

use serde::{Deserialize, Serialize};

/// A size written as `4GiB`, `512MiB`, `64KiB` or plain bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ByteSize(pub u64);

impl TryFrom<String> for ByteSize {
    type Error = String;

    fn try_from(s: String) -> Result<ByteSize, String> {
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (number, unit) = s.split_at(split);
        let not_a_size = || format!("'{s}' is not a size such as \"4GiB\" or \"512MiB\"");
        let multiplier: u64 = match unit.trim() {
            "" | "B" => 1,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            _ => return Err(not_a_size()),
        };
        number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(multiplier))
            .map(ByteSize)
            .ok_or_else(not_a_size)
    }
}

impl From<ByteSize> for String {
    fn from(size: ByteSize) -> String {
        let n = size.0;
        match n {
            0 => "0".to_owned(),
            n if n % (1 << 30) == 0 => format!("{}GiB", n >> 30),
            n if n % (1 << 20) == 0 => format!("{}MiB", n >> 20),
            n if n % (1 << 10) == 0 => format!("{}KiB", n >> 10),
            n => n.to_string(),
        }
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn sizes_read_and_print_in_the_largest_whole_unit() {
        for (text, bytes, printed) in [
            ("4GiB", 4 << 30, "4GiB"),
            ("512MiB", 512 << 20, "512MiB"),
            ("1024KiB", 1 << 20, "1MiB"),
            ("1000", 1000, "1000"),
            ("0B", 0, "0"),
        ] {
            let size = ByteSize::try_from(text.to_owned()).unwrap();
            assert_eq!(size, ByteSize(bytes), "{text}");
            assert_eq!(String::from(size), printed);
        }
        for bad in ["4GB", "GiB", "-1", "99999999999GiB"] {
            let e = ByteSize::try_from(bad.to_owned()).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }
}
