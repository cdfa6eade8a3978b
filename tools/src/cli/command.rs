//! The commands: a table of their usage and flags, and parsing words into a [`Request`].

use std::time::Duration;

use zookeeper_client as zk;

use super::acl::parse_acl_list;

/// One command's shape: flags without a value, flags with one, and how many positionals.
pub struct Spec {
    pub name: &'static str,
    pub usage: &'static str,
    switches: &'static str,
    valued: &'static str,
    positionals: (usize, usize),
}

/// Every command, in the order `help` lists them (zkCli's: sorted by name, case-sensitively).
pub const SPECS: &[Spec] = &[
    spec("addauth", "addauth scheme auth", "", "", (2, 2)),
    spec("close", "close", "", "", (0, 0)),
    spec("connect", "connect host:port", "", "", (0, 1)),
    spec(
        "create",
        "create [-s] [-e] [-c] [-t ttl] path [data] [acl]",
        "sec",
        "t",
        (1, 3),
    ),
    spec("delete", "delete [-v version] path", "", "v", (1, 1)),
    spec(
        "deleteall",
        "deleteall path [-b batch size]",
        "",
        "b",
        (1, 1),
    ),
    spec("get", "get [-s] [-w] path", "sw", "", (1, 1)),
    spec("getAcl", "getAcl [-s] path", "s", "", (1, 1)),
    spec("help", "help", "", "", (0, 0)),
    spec("history", "history", "", "", (0, 0)),
    spec("ls", "ls [-s] [-w] [-R] path", "swR", "", (1, 1)),
    spec("printwatches", "printwatches on|off", "", "", (0, 1)),
    spec("quit", "quit", "", "", (0, 0)),
    spec("redo", "redo cmdno", "", "", (1, 1)),
    spec("set", "set [-s] [-v version] path data", "s", "v", (2, 2)),
    spec(
        "setAcl",
        "setAcl [-s] [-v version] [-R] path acl",
        "sR",
        "v",
        (2, 2),
    ),
    spec("stat", "stat [-w] path", "w", "", (1, 1)),
    spec("sync", "sync path", "", "", (1, 1)),
];

const fn spec(
    name: &'static str,
    usage: &'static str,
    switches: &'static str,
    valued: &'static str,
    positionals: (usize, usize),
) -> Spec {
    Spec {
        name,
        usage,
        switches,
        valued,
        positionals,
    }
}

/// A parsed command, ready to send.
#[derive(Debug)]
pub enum Request {
    AddAuth {
        scheme: String,
        auth: String,
    },
    /// Ends the session; the shell stays, saying "Not connected" to server commands.
    Close,
    /// Replaces the session with one to `server` (the current server when `None`).
    Connect {
        server: Option<String>,
    },
    Create {
        path: String,
        data: String,
        mode: zk::CreateMode,
        ttl: Option<Duration>,
        acls: Vec<zk::Acl>,
    },
    Delete {
        path: String,
        version: Option<i32>,
    },
    DeleteAll {
        path: String,
    },
    Get {
        path: String,
        stat: bool,
        watch: bool,
    },
    GetAcl {
        path: String,
        stat: bool,
    },
    Help,
    /// Lists the shell's latest commands with their numbers.
    History,
    Ls {
        path: String,
        stat: bool,
        watch: bool,
        recursive: bool,
    },
    /// Shows (`None`) or sets whether watch events are printed.
    PrintWatches {
        on: Option<bool>,
    },
    Quit,
    /// Runs the command numbered `index` in the shell's history again.
    Redo {
        index: usize,
    },
    Set {
        path: String,
        data: String,
        version: Option<i32>,
        stat: bool,
    },
    SetAcl {
        path: String,
        acls: Vec<zk::Acl>,
        version: Option<i32>,
        stat: bool,
        recursive: bool,
    },
    Stat {
        path: String,
        watch: bool,
    },
    Sync {
        path: String,
    },
}

/// Words split out by flag: switches seen, valued flags with their value, positionals.
struct Words {
    switches: String,
    values: Vec<(char, String)>,
    positionals: Vec<String>,
}

impl Words {
    fn has(&self, flag: char) -> bool {
        self.switches.contains(flag)
    }

    fn value(&self, flag: char) -> Option<&str> {
        self.values
            .iter()
            .find(|(f, _)| *f == flag)
            .map(|(_, v)| v.as_str())
    }

    fn take(&mut self) -> String {
        if self.positionals.is_empty() {
            String::new()
        } else {
            self.positionals.remove(0)
        }
    }
}

/// Parses `words` (command name first); the error is the text to print, usage included.
pub fn parse_request(words: &[String]) -> Result<Request, String> {
    let Some((name, rest)) = words.split_first() else {
        return Err("no command given; try help".to_string());
    };
    let Some(spec) = SPECS.iter().find(|spec| spec.name == name) else {
        return Err(format!("unknown command: {name}; try help"));
    };
    let words = split_flags(spec, rest).map_err(|why| format!("{why}\n{}", spec.usage))?;
    build(spec.name, words).map_err(|why| format!("{why}\n{}", spec.usage))
}

fn split_flags(spec: &Spec, rest: &[String]) -> Result<Words, String> {
    let mut words = Words {
        switches: String::new(),
        values: Vec::new(),
        positionals: Vec::new(),
    };
    let mut iter = rest.iter();
    while let Some(word) = iter.next() {
        let flag = match word
            .strip_prefix('-')
            .map(|f| f.chars().collect::<Vec<_>>())
        {
            // `-5` is data or a version, not a flag.
            Some(flag) if flag.len() == 1 && flag[0].is_ascii_alphabetic() => flag[0],
            _ => {
                words.positionals.push(word.clone());
                continue;
            }
        };
        if spec.switches.contains(flag) {
            words.switches.push(flag);
        } else if spec.valued.contains(flag) {
            let value = iter.next().ok_or(format!("-{flag} needs a value"))?;
            words.values.push((flag, value.clone()));
        } else {
            return Err(format!("unknown option -{flag}"));
        }
    }
    let (min, max) = spec.positionals;
    if words.positionals.len() < min || words.positionals.len() > max {
        return Err("wrong number of arguments".to_string());
    }
    Ok(words)
}

fn build(name: &str, mut w: Words) -> Result<Request, String> {
    let version = parse_number::<i32>(w.value('v'), "version")?;
    let path = w.take();
    Ok(match name {
        "addauth" => Request::AddAuth {
            scheme: path,
            auth: w.take(),
        },
        "close" => Request::Close,
        "connect" => Request::Connect {
            server: Some(path).filter(|server| !server.is_empty()),
        },
        "create" => build_create(path, w)?,
        "delete" => Request::Delete { path, version },
        "deleteall" => {
            // zkCli batches its deletes; here the value is checked but each node is one request.
            parse_number::<u32>(w.value('b'), "batch size")?;
            Request::DeleteAll { path }
        }
        "get" => Request::Get {
            path,
            stat: w.has('s'),
            watch: w.has('w'),
        },
        "getAcl" => Request::GetAcl {
            path,
            stat: w.has('s'),
        },
        "help" => Request::Help,
        "history" => Request::History,
        "ls" => Request::Ls {
            path,
            stat: w.has('s'),
            watch: w.has('w'),
            recursive: w.has('R'),
        },
        "printwatches" => Request::PrintWatches {
            on: match path.as_str() {
                "" => None,
                word => Some(word == "on"),
            },
        },
        "quit" => Request::Quit,
        "redo" => Request::Redo {
            index: parse_number::<usize>(Some(path.as_str()), "cmdno")?.unwrap_or(0),
        },
        "set" => Request::Set {
            path,
            data: w.take(),
            version,
            stat: w.has('s'),
        },
        "setAcl" => Request::SetAcl {
            acls: parse_acl_list(&w.take())?,
            path,
            version,
            stat: w.has('s'),
            recursive: w.has('R'),
        },
        "stat" => Request::Stat {
            path,
            watch: w.has('w'),
        },
        "sync" => Request::Sync { path },
        other => return Err(format!("unknown command: {other}")),
    })
}

fn build_create(path: String, mut w: Words) -> Result<Request, String> {
    let (ephemeral, sequential, container) = (w.has('e'), w.has('s'), w.has('c'));
    let ttl_ms = parse_number::<u64>(w.value('t'), "ttl")?;
    if container && (ephemeral || sequential) {
        return Err("-c cannot be combined with -s or -e".to_string());
    }
    if ttl_ms.is_some() && (ephemeral || container) {
        return Err("TTLs cannot be used with ephemeral or container znodes".to_string());
    }
    let mode = match (ephemeral, sequential, container) {
        (true, true, _) => zk::CreateMode::EphemeralSequential,
        (true, false, _) => zk::CreateMode::Ephemeral,
        (false, true, _) => zk::CreateMode::PersistentSequential,
        (false, false, true) => zk::CreateMode::Container,
        (false, false, false) => zk::CreateMode::Persistent,
    };
    let data = w.take();
    let acls = match w.take() {
        text if text.is_empty() => vec![zk::Acl::new(zk::Permission::ALL, zk::AuthId::anyone())],
        text => parse_acl_list(&text)?,
    };
    Ok(Request::Create {
        path,
        data,
        mode,
        ttl: ttl_ms.map(Duration::from_millis),
        acls,
    })
}

fn parse_number<T: std::str::FromStr>(text: Option<&str>, what: &str) -> Result<Option<T>, String> {
    text.map(|t| {
        t.parse::<T>()
            .map_err(|_| format!("{what} is not a number: {t}"))
    })
    .transpose()
}

/// The text `help` prints.
pub fn help_text() -> String {
    let mut text = String::from("corral-cli commands:\n");
    for spec in SPECS {
        text.push_str(&format!("\t{}\n", spec.usage));
    }
    text
}
