//! Runs one [`Request`] on a session and renders its result as zkCli would.

use zookeeper_client as zk;

use super::acl::format_acl;
use super::command::{help_text, Request};
use super::format::{error_message, format_stat};
use super::limits::SUBTREE_NODES_MAX;

/// What a successful command leaves behind.
#[derive(Default)]
pub struct Outcome {
    /// Text for stdout.
    pub output: String,
    /// Text for stderr that is not a failure: zkCli writes `Created /path` there.
    pub notice: String,
    /// A watch the command set, to be reported when it fires.
    pub watch: Option<zk::OneshotWatcher>,
}

/// Why a command failed; the text goes to stderr.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// Bad words or arguments: exit status 2.
    Usage(String),
    /// The server (or the session) refused: exit status 1.
    Server(String),
}

impl Failure {
    pub fn exit_status(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Server(_) => 1,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Failure::Usage(text) | Failure::Server(text) => text,
        }
    }

    fn on(path: &str) -> impl FnOnce(zk::Error) -> Failure + '_ {
        move |error| match error {
            zk::Error::BadArguments(_) => Failure::Usage(format!("{error}: {path}")),
            other => Failure::Server(error_message(&other, path)),
        }
    }
}

fn text(output: String) -> Outcome {
    Outcome {
        output,
        ..Outcome::default()
    }
}

fn watched(output: String, watch: zk::OneshotWatcher) -> Outcome {
    Outcome {
        output,
        watch: Some(watch),
        ..Outcome::default()
    }
}

/// Sends `request` and renders the answer. The shell's own commands (connect, close,
/// history, redo, printwatches, quit) are the shell's to run; here they are refused.
pub async fn execute(client: &zk::Client, request: Request) -> Result<Outcome, Failure> {
    match request {
        Request::Close
        | Request::Connect { .. }
        | Request::History
        | Request::PrintWatches { .. }
        | Request::Quit
        | Request::Redo { .. } => Err(Failure::Usage(
            "this command belongs to the shell, not to a session".to_string(),
        )),
        Request::AddAuth { scheme, auth } => add_auth(client, scheme, auth).await,
        Request::Create {
            path,
            data,
            mode,
            ttl,
            acls,
        } => {
            create(
                client,
                &path,
                &data,
                mode.with_acls(zk::Acls::new(&acls)),
                ttl,
            )
            .await
        }
        Request::Delete { path, version } => delete(client, &path, version).await,
        Request::DeleteAll { path } => delete_all(client, &path).await,
        Request::Get { path, stat, watch } => get(client, &path, stat, watch).await,
        Request::GetAcl { path, stat } => get_acl(client, &path, stat).await,
        Request::Help => Ok(text(help_text())),
        Request::Ls {
            path,
            recursive: true,
            ..
        } => list_recursive(client, &path).await,
        Request::Ls {
            path, stat, watch, ..
        } => list(client, &path, stat, watch).await,
        Request::Set {
            path,
            data,
            version,
            stat,
        } => {
            let new_stat = client.set_data(&path, data.as_bytes(), version).await;
            Ok(text(stat_if(stat, &new_stat.map_err(Failure::on(&path))?)))
        }
        Request::SetAcl {
            path,
            acls,
            version,
            recursive: true,
            ..
        } => set_acl_recursive(client, &path, &acls, version).await,
        Request::SetAcl {
            path,
            acls,
            version,
            stat,
            ..
        } => {
            let new_stat = client.set_acl(&path, &acls, version).await;
            Ok(text(stat_if(stat, &new_stat.map_err(Failure::on(&path))?)))
        }
        Request::Stat { path, watch } => stat(client, &path, watch).await,
        Request::Sync { path } => sync(client, &path).await,
    }
}

fn stat_if(wanted: bool, stat: &zk::Stat) -> String {
    if wanted {
        format_stat(stat)
    } else {
        String::new()
    }
}

async fn delete(client: &zk::Client, path: &str, version: Option<i32>) -> Result<Outcome, Failure> {
    client
        .delete(path, version)
        .await
        .map_err(Failure::on(path))?;
    Ok(Outcome::default())
}

async fn sync(client: &zk::Client, path: &str) -> Result<Outcome, Failure> {
    client.sync(path).await.map_err(Failure::on(path))?;
    Ok(text("Sync is OK\n".to_string()))
}

async fn add_auth(client: &zk::Client, scheme: String, auth: String) -> Result<Outcome, Failure> {
    let result = client.auth(scheme.clone(), auth.into_bytes()).await;
    result.map_err(|error| Failure::Server(format!("addauth {scheme}: {error}")))?;
    Ok(Outcome::default())
}

async fn create(
    client: &zk::Client,
    path: &str,
    data: &str,
    mut options: zk::CreateOptions<'_>,
    ttl: Option<std::time::Duration>,
) -> Result<Outcome, Failure> {
    if let Some(ttl) = ttl {
        options = options.with_ttl(ttl);
    }
    let (_, sequence) = client
        .create(path, data.as_bytes(), &options)
        .await
        .map_err(Failure::on(path))?;
    let created = if sequence.into_i64() >= 0 {
        format!("{path}{sequence}")
    } else {
        path.to_string()
    };
    Ok(Outcome {
        notice: format!("Created {created}\n"),
        ..Outcome::default()
    })
}

async fn get(client: &zk::Client, path: &str, stat: bool, watch: bool) -> Result<Outcome, Failure> {
    let render = |data: &[u8], node: &zk::Stat| {
        format!("{}\n{}", String::from_utf8_lossy(data), stat_if(stat, node))
    };
    if watch {
        let (data, node, watcher) = client
            .get_and_watch_data(path)
            .await
            .map_err(Failure::on(path))?;
        return Ok(watched(render(&data, &node), watcher));
    }
    let (data, node) = client.get_data(path).await.map_err(Failure::on(path))?;
    Ok(text(render(&data, &node)))
}

async fn get_acl(client: &zk::Client, path: &str, stat: bool) -> Result<Outcome, Failure> {
    let (acls, node) = client.get_acl(path).await.map_err(Failure::on(path))?;
    let mut output: String = acls.iter().map(format_acl).collect();
    output.push_str(&stat_if(stat, &node));
    Ok(text(output))
}

async fn stat(client: &zk::Client, path: &str, watch: bool) -> Result<Outcome, Failure> {
    let missing = || Failure::Server(error_message(&zk::Error::NoNode, path));
    if watch {
        let (node, watcher) = client
            .check_and_watch_stat(path)
            .await
            .map_err(Failure::on(path))?;
        return Ok(watched(format_stat(&node.ok_or_else(missing)?), watcher));
    }
    let node = client.check_stat(path).await.map_err(Failure::on(path))?;
    Ok(text(format_stat(&node.ok_or_else(missing)?)))
}

async fn list(
    client: &zk::Client,
    path: &str,
    stat: bool,
    watch: bool,
) -> Result<Outcome, Failure> {
    let render = |mut children: Vec<String>, node: &zk::Stat| {
        children.sort_unstable();
        format!("[{}]\n{}", children.join(", "), stat_if(stat, node))
    };
    if watch {
        let (children, node, watcher) = client
            .get_and_watch_children(path)
            .await
            .map_err(Failure::on(path))?;
        return Ok(watched(render(children, &node), watcher));
    }
    let (children, node) = client.get_children(path).await.map_err(Failure::on(path))?;
    Ok(text(render(children, &node)))
}

async fn list_recursive(client: &zk::Client, path: &str) -> Result<Outcome, Failure> {
    let nodes = subtree(client, path).await?;
    Ok(text(nodes.iter().map(|node| format!("{node}\n")).collect()))
}

/// Sets the ACL of every node of the subtree at `path`. As in zkCli, a node that refuses is
/// reported and the walk goes on; the command fails only when the walk itself cannot start.
async fn set_acl_recursive(
    client: &zk::Client,
    path: &str,
    acls: &[zk::Acl],
    version: Option<i32>,
) -> Result<Outcome, Failure> {
    let nodes = subtree(client, path).await?;
    let mut notice = String::new();
    for node in &nodes {
        if let Err(error) = client.set_acl(node, acls, version).await {
            notice.push_str(&error_message(&error, node));
            notice.push('\n');
        }
    }
    Ok(Outcome {
        notice,
        ..Outcome::default()
    })
}

/// Deletes the subtree at `path`, children before their parent.
async fn delete_all(client: &zk::Client, path: &str) -> Result<Outcome, Failure> {
    let nodes = subtree(client, path).await?;
    for node in nodes.iter().rev() {
        match client.delete(node, None).await {
            Ok(()) | Err(zk::Error::NoNode) => {}
            Err(error) => return Err(Failure::on(node)(error)),
        }
    }
    Ok(Outcome::default())
}

/// The paths of the subtree at `path` in depth-first pre-order, children sorted by name;
/// nodes deleted while the walk runs are skipped.
async fn subtree(client: &zk::Client, path: &str) -> Result<Vec<String>, Failure> {
    client.get_children(path).await.map_err(Failure::on(path))?;
    let mut nodes = Vec::new();
    let mut stack = vec![path.to_string()];
    while let Some(node) = stack.pop() {
        if nodes.len() >= SUBTREE_NODES_MAX {
            return Err(Failure::Server(format!(
                "{path} has more than {SUBTREE_NODES_MAX} nodes; stopping"
            )));
        }
        let mut children = match client.get_children(&node).await {
            Ok((children, _)) => children,
            Err(zk::Error::NoNode) => continue,
            Err(error) => return Err(Failure::on(&node)(error)),
        };
        children.sort_unstable_by(|a, b| b.cmp(a));
        stack.extend(children.iter().map(|child| child_path(&node, child)));
        nodes.push(node);
    }
    Ok(nodes)
}

fn child_path(parent: &str, child: &str) -> String {
    if parent.ends_with('/') {
        format!("{parent}{child}")
    } else {
        format!("{parent}/{child}")
    }
}
