//! Splitting a subcommand's arguments into positionals, boolean flags and options with values.

use std::collections::{BTreeMap, BTreeSet};

/// A subcommand's arguments, checked against what it accepts.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    pub positional: Vec<String>,
    flags: BTreeSet<String>,
    options: BTreeMap<String, String>,
}

impl Parsed {
    pub fn flag(&self, name: &str) -> bool {
        self.flags.contains(name)
    }

    pub fn option(&self, name: &str) -> Option<&str> {
        self.options.get(name).map(String::as_str)
    }
}

/// Parses `args`: `flags` take no value, `options` take one (`--name VALUE` or `--name=VALUE`),
/// anything else not starting with `-` is positional. Unknown and repeated flags are errors, so
/// a typo never silently changes what is inspected.
pub fn parse(args: &[String], flags: &[&str], options: &[&str]) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if !arg.starts_with('-') || arg == "-" {
            parsed.positional.push(arg.clone());
            continue;
        }
        let (name, inline_value) = match arg.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (arg.as_str(), None),
        };
        if flags.contains(&name) && inline_value.is_none() {
            if !parsed.flags.insert(name.to_string()) {
                return Err(format!("{name} given twice"));
            }
        } else if options.contains(&name) {
            let value = match inline_value {
                Some(value) => value,
                None => rest
                    .next()
                    .ok_or_else(|| format!("{name} needs a value"))?
                    .clone(),
            };
            if parsed.options.insert(name.to_string(), value).is_some() {
                return Err(format!("{name} given twice"));
            }
        } else {
            return Err(format!("unknown option {arg}"));
        }
    }
    Ok(parsed)
}

/// The single positional argument a command needs, named `what` in the error.
pub fn one_positional<'a>(parsed: &'a Parsed, what: &str) -> Result<&'a str, String> {
    match parsed.positional.as_slice() {
        [only] => Ok(only),
        [] => Err(format!("missing {what}")),
        [_, extra, ..] => Err(format!("unexpected argument {extra}")),
    }
}

/// A zxid as ZooKeeper tools write it: decimal, or hexadecimal with `0x`.
pub fn parse_zxid(text: &str) -> Result<i64, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16),
        None => text.parse::<i64>(),
    };
    match parsed {
        Ok(zxid) if zxid >= 0 => Ok(zxid),
        _ => Err(format!("--zxid: not a zxid: {text}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|arg| arg.to_string()).collect()
    }

    #[test]
    fn flags_options_and_positionals_are_separated() {
        let parsed = parse(
            &strings(&["dir", "--stat", "--zxid", "0x1f", "--log-dir=/l"]),
            &["--stat", "--acl"],
            &["--zxid", "--log-dir"],
        )
        .expect("valid");
        assert_eq!(parsed.positional, vec!["dir".to_string()]);
        assert!(parsed.flag("--stat"));
        assert!(!parsed.flag("--acl"));
        assert_eq!(parsed.option("--zxid"), Some("0x1f"));
        assert_eq!(parsed.option("--log-dir"), Some("/l"));
        assert_eq!(parse_zxid("0x1f"), Ok(31));
        assert_eq!(parse_zxid("31"), Ok(31));
    }

    #[test]
    fn unknown_repeated_and_valueless_options_are_refused() {
        let unknown = parse(&strings(&["--tree"]), &["--stat"], &[]);
        assert_eq!(unknown, Err("unknown option --tree".to_string()));
        let twice = parse(&strings(&["--stat", "--stat"]), &["--stat"], &[]);
        assert_eq!(twice, Err("--stat given twice".to_string()));
        let valueless = parse(&strings(&["--zxid"]), &[], &["--zxid"]);
        assert_eq!(valueless, Err("--zxid needs a value".to_string()));
        assert!(parse_zxid("-3").is_err());
        assert!(parse_zxid("0xzz").is_err());
    }
}
