//! The process's arguments and the splitting of a command line into words.

/// What the process was asked to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Invocation {
    Help,
    /// Run `command` once, or read commands from stdin when it is `None`.
    Run {
        server: String,
        command: Option<Vec<String>>,
    },
}

pub const DEFAULT_SERVER: &str = "127.0.0.1:2181";

/// Parses `[-server HOST:PORT] [-c 'CMD'] [CMD ARGS...]` (also `--server`, `-h`, `--help`).
pub fn parse_invocation(args: &[String]) -> Result<Invocation, String> {
    let mut server = DEFAULT_SERVER.to_string();
    let mut command = None;
    let mut index = 0;
    while index < args.len() {
        let value = args.get(index + 1);
        match args[index].as_str() {
            "-h" | "--help" | "-help" => return Ok(Invocation::Help),
            "-server" | "--server" => {
                server = value.ok_or("-server needs HOST:PORT")?.clone();
            }
            "-c" => {
                let line = value.ok_or("-c needs a command")?;
                command = Some(split_words(line)?);
            }
            _ if command.is_none() => {
                command = Some(args[index..].to_vec());
                break;
            }
            other => return Err(format!("unexpected argument after -c: {other}")),
        }
        index += 2;
    }
    Ok(Invocation::Run { server, command })
}

/// Splits a line on whitespace; `'...'` and `"..."` make one word without the quotes.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else {
            return Ok(words);
        };
        let mut word = String::new();
        if first == '\'' || first == '"' {
            chars.next();
            let mut closed = false;
            for c in chars.by_ref() {
                if c == first {
                    closed = true;
                    break;
                }
                word.push(c);
            }
            if !closed {
                return Err(format!("unterminated {first} quote"));
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                word.push(c);
            }
        }
        words.push(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn quoted_words_keep_their_spaces() {
        assert_eq!(
            split_words("  set /x 'hello world' \"a b\"  "),
            Ok(strings(&["set", "/x", "hello world", "a b"]))
        );
        assert!(split_words("set /x 'oops").is_err());
    }

    #[test]
    fn trailing_words_are_the_command() {
        assert_eq!(
            parse_invocation(&strings(&["--server", "h:1", "ls", "-s", "/"])),
            Ok(Invocation::Run {
                server: "h:1".to_string(),
                command: Some(strings(&["ls", "-s", "/"])),
            })
        );
        assert_eq!(
            parse_invocation(&[]),
            Ok(Invocation::Run {
                server: DEFAULT_SERVER.to_string(),
                command: None,
            })
        );
    }
}
