//! Runs one build command: scrubbed environment, its own process group, stdout and stderr streamed
//! line by line into the build log, and a wall-clock deadline after which the whole group is killed.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::BufReader;

use super::backend::CommandLine;
use super::log::BuildLog;

/// What happened to the command.
#[derive(Debug, Clone, Default)]
pub struct RunResult {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub duration: Duration,
    /// The command's output lines (without timestamps), the last `KEEP_LINES` of them.
    pub lines: Vec<String>,
}

impl RunResult {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }
}

const KEEP_LINES: usize = 20_000;

/// Kill a process group (the child was started as its leader).
pub fn kill_group(pid: u32) {
    // SAFETY: kill(2) with a negative pid signals the group; no memory is touched.
    unsafe {
        libc::kill(-(pid as i32), libc::SIGKILL);
    }
}

/// Run `cmd` in `cwd` with exactly `env`, logging every line; stop it at `deadline`.
pub async fn run(
    cmd: &CommandLine,
    env: &BTreeMap<String, String>,
    cwd: &Path,
    log: &mut BuildLog,
    deadline: Instant,
) -> anyhow::Result<RunResult> {
    let started = Instant::now();
    let mut command = tokio::process::Command::new(&cmd.program);
    command
        .args(&cmd.args)
        .current_dir(cwd)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow::anyhow!("`{}` is not installed or not on PATH", cmd.program)
        } else {
            anyhow::anyhow!("starting `{}`: {e}", cmd.program)
        }
    })?;
    let pid = child.id();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(1024);
    for stream in [
        child.stdout.take().map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        child.stderr.take().map(|s| Box::new(s) as _),
    ]
    .into_iter()
    .flatten()
    {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stream);
            let mut buf = Vec::new();
            while let Ok(n) = crate::untrusted::read_line_async(&mut reader, &mut buf).await {
                if n == 0 || tx.send(String::from_utf8_lossy(&buf).into_owned()).await.is_err() {
                    break;
                }
                buf.clear();
            }
        });
    }
    drop(tx);

    let mut result = RunResult::default();
    let sleep = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline));
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            line = rx.recv() => match line {
                Some(line) => {
                    log.line(&line);
                    if result.lines.len() == KEEP_LINES {
                        result.lines.drain(..KEEP_LINES / 2);
                    }
                    result.lines.push(line.trim_end().to_string());
                }
                None => break,
            },
            _ = &mut sleep => {
                result.timed_out = true;
                if let Some(pid) = pid { kill_group(pid); }
                log.note("time limit reached: killed the build");
                break;
            }
        }
    }
    let status = child.wait().await?;
    if let Some(pid) = pid {
        // Build scripts may leave daemons behind; nothing of the group survives the attempt.
        kill_group(pid);
    }
    use std::os::unix::process::ExitStatusExt;
    result.exit_code = status.code();
    result.signal = status.signal();
    result.duration = started.elapsed();
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> CommandLine {
        CommandLine { program: "/bin/sh".into(), args: vec!["-c".into(), script.into()] }
    }

    #[tokio::test]
    async fn captures_both_streams_and_exit_code() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = BuildLog::create(&dir.path().join("log"), false).unwrap();
        let env = BTreeMap::from([
            ("PATH".to_string(), "/usr/bin:/bin".to_string()),
            ("ONLY".to_string(), "this".to_string()),
        ]);
        let deadline = Instant::now() + Duration::from_secs(30);
        let r = run(
            &sh("echo out; echo err >&2; echo \"$ONLY ${HOME:-nohome}\"; exit 3"),
            &env,
            dir.path(),
            &mut log,
            deadline,
        )
        .await
        .unwrap();
        assert_eq!(r.exit_code, Some(3));
        let mut lines = r.lines.clone();
        lines.sort();
        assert_eq!(lines, ["err", "out", "this nohome"]);
    }

    #[tokio::test]
    async fn deadline_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = BuildLog::create(&dir.path().join("log"), false).unwrap();
        let env = BTreeMap::from([("PATH".to_string(), "/usr/bin:/bin".to_string())]);
        let marker = dir.path().join("survivor");
        let script = format!("(sleep 3; touch {}) & sleep 60", marker.display());
        let r =
            run(&sh(&script), &env, dir.path(), &mut log, Instant::now() + Duration::from_millis(500)).await.unwrap();
        assert!(r.timed_out);
        assert!(r.duration < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert!(!marker.exists(), "a background child of the build survived the kill");
    }
}
