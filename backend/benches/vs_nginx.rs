//! The data plane against nginx: the local workspace's scoring router and nginx's
//! `split_clients`, both splitting 90/10 over the *same* two instance processes (blue and
//! green), and the blue instance called directly, each loaded by `wrk` at 1 and at 8
//! connections. Prints throughput (router / nginx), the latency each proxy adds over the
//! direct call at p50 and p99, and each proxy's own CPU time per request (nginx's workers, the
//! router's scoring thread: what the proxy itself costs, apart from the machine's noise).
//! A benchmark, not a test: it asserts nothing about the numbers,
//! but it fails (exit status 1) if any request fails or nginx / wrk are missing.
//!
//! nginx runs unprivileged from a temporary prefix (`-p DIR -c nginx.conf`, `daemon off`, pid
//! and logs in DIR, `access_log off`), with one worker per CPU (the router serves its scoring
//! plane from one thread; at 1 connection one nginx worker serves too), an upstream `keepalive` pool per deployment so it reuses connections to the instances
//! as the router does, and the endpoint key checked, as the router checks it.
//!
//! Settings (environment): `DATAPLANE_SECONDS` per wrk run (5), `DATAPLANE_ROUNDS` (3): each
//! round runs direct, nginx and router in turn, so drift falls on all three alike.
//!
//! Run with `make bench` (`cargo bench -p backend --bench vs_nginx`).

mod support;

use anyhow::{bail, ensure, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{count, examples_dir, Control};

const ENDPOINT: &str = "dataplane";
const MODEL: &str = "regression-v1";
const CONNECTIONS: [usize; 2] = [1, 8];

/// What one wrk run measured.
#[derive(Debug, Clone, Copy)]
struct Run {
    per_second: f64,
    p50_us: f64,
    p99_us: f64,
    /// The proxy's own CPU time per request (not the instance's, nor wrk's), when known.
    cpu_us: Option<f64>,
}

/// The threads whose CPU time is a proxy's own: their `schedstat` files in `/proc`, whose
/// first field is the nanoseconds they ran — exact, where `stat`'s ticks are 10 ms.
#[derive(Debug, Clone, Default)]
struct Threads(Vec<PathBuf>);

impl Threads {
    /// The scoring plane's thread of this process (named in `emulator::scoring_plane`).
    fn scoring_plane() -> Self {
        let tasks = std::fs::read_dir("/proc/self/task").into_iter().flatten();
        Self(
            tasks
                .flatten()
                .filter(|task| {
                    std::fs::read_to_string(task.path().join("comm"))
                        .is_ok_and(|name| name.trim() == "scoring-plane")
                })
                .map(|task| task.path().join("schedstat"))
                .collect(),
        )
    }

    /// nginx's worker processes: the children of its master, `parent`.
    fn children_of(parent: u32) -> Self {
        let processes = std::fs::read_dir("/proc").into_iter().flatten();
        Self(
            processes
                .flatten()
                .filter(|process| {
                    // `pid (comm) state ppid ...`: the fields after the last `)`.
                    std::fs::read_to_string(process.path().join("stat")).is_ok_and(|stat| {
                        stat.rsplit_once(')')
                            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                            .is_some_and(|ppid| ppid == parent.to_string())
                    })
                })
                .map(|process| process.path().join("schedstat"))
                .collect(),
        )
    }

    /// Nanoseconds on CPU, all threads together; `None` when there are none or one is gone.
    fn cpu_ns(&self) -> Option<u64> {
        if self.0.is_empty() {
            return None;
        }
        self.0.iter().try_fold(0u64, |sum, path| {
            let text = std::fs::read_to_string(path).ok()?;
            Some(sum + text.split_whitespace().next()?.parse::<u64>().ok()?)
        })
    }
}

/// Runs `wrk` against `url` with `connections` connections for `seconds`; fails on any error.
/// `threads` are the proxy's, whose CPU time per request is reported.
fn wrk(
    script: &Path,
    url: &str,
    threads: &Threads,
    connections: usize,
    seconds: u64,
) -> Result<Run> {
    let cpu_before = threads.cpu_ns();
    let output = Command::new("wrk")
        .args(["-t1", "--latency", "--timeout", "10s"])
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .arg("-s")
        .arg(script)
        .arg(url)
        .output()
        .context("running wrk (install it: scripts/setup.sh bench)")?;
    let cpu_after = threads.cpu_ns();
    let text = String::from_utf8_lossy(&output.stdout);
    ensure!(output.status.success(), "wrk failed: {text}");
    for bad in ["Non-2xx or 3xx responses", "Socket errors"] {
        if let Some(line) = text.lines().find(|l| l.trim_start().starts_with(bad)) {
            bail!("{url}: {}", line.trim());
        }
    }
    let field = |prefix: &str| -> Result<&str> {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
            .with_context(|| format!("no {prefix:?} in wrk's output: {text}"))
    };
    // `  12345 requests in 5.00s, 1.23MB read`
    let requests: f64 = text
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.trim().parse().ok())
        .with_context(|| format!("no request count in wrk's output: {text}"))?;
    let cpu_us = match (cpu_before, cpu_after) {
        (Some(before), Some(after)) if requests > 0.0 => {
            Some(after.saturating_sub(before) as f64 / 1e3 / requests)
        }
        _ => None,
    };
    Ok(Run {
        per_second: field("Requests/sec:")?.parse()?,
        p50_us: micros(field("50%")?)?,
        p99_us: micros(field("99%")?)?,
        cpu_us,
    })
}

/// wrk's `123.45us`, `1.23ms` or `1.00s`, in microseconds.
fn micros(text: &str) -> Result<f64> {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1e6)
    } else {
        bail!("unknown wrk duration {text:?}")
    };
    Ok(number.parse::<f64>()? * scale)
}

/// A free loopback port (bound, then released for nginx).
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The nginx configuration: `split_clients` 90/10 on a per-request random key, upstream
/// keep-alive, no access log, the key checked.
fn nginx_conf(dir: &Path, port: u16, blue: &str, green: &str, key: &str) -> String {
    let dir = dir.display();
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    format!(
        "daemon off;
worker_processes {workers};
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    split_clients \"$request_id\" $deployment {{
        90% blue;
        * green;
    }}
    upstream blue {{ server {blue}; keepalive 32; }}
    upstream green {{ server {green}; keepalive 32; }}
    server {{
        listen 127.0.0.1:{port};
        location /score {{
            if ($http_authorization != \"Bearer {key}\") {{ return 401; }}
            proxy_pass http://$deployment/score;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }}
    }}
}}
"
    )
}

/// nginx in the foreground from `dir`; stopped with its workers when dropped.
struct Nginx(Child);

impl Nginx {
    fn start(dir: &Path, conf: &str, port: u16) -> Result<Self> {
        std::fs::write(dir.join("nginx.conf"), conf)?;
        let binary = ["/usr/sbin/nginx", "nginx"]
            .into_iter()
            .find(|b| Path::new(b).exists())
            .unwrap_or("nginx");
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting nginx (install it: scripts/setup.sh bench)")?;
        let nginx = Self(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            ensure!(Instant::now() < deadline, "nginx did not start listening");
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(nginx)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers, then exits (SIGKILL would orphan the workers).
        let stopped = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if !stopped {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// The wrk script: POST the sample request with the key.
fn wrk_script(dir: &Path, body: &str, key: &str) -> Result<PathBuf> {
    ensure!(
        !body.contains("]==]"),
        "the sample request can't be quoted for Lua"
    );
    let path = dir.join("score.lua");
    std::fs::write(
        &path,
        format!(
            "wrk.method = \"POST\"\nwrk.body = [==[{body}]==]\n\
             wrk.headers[\"Content-Type\"] = \"application/json\"\n\
             wrk.headers[\"Authorization\"] = \"Bearer {key}\"\n"
        ),
    )?;
    Ok(path)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// `median (min–max)` of one figure over the rounds.
fn spread(values: &[f64], digits: usize) -> String {
    let mut sorted = values.to_vec();
    let mid = median(&mut sorted);
    format!(
        "{mid:.digits$} ({:.digits$}–{:.digits$})",
        sorted[0],
        sorted[sorted.len() - 1]
    )
}

/// Rounds of direct / nginx / router at each connection count; prints the table.
fn measure(
    script: &Path,
    urls: [(&str, String, Threads); 3],
    seconds: u64,
    rounds: usize,
) -> Result<()> {
    for connections in CONNECTIONS {
        // Warm-up: connections opened, code paths hot.
        for (_, url, threads) in &urls {
            wrk(script, url, threads, connections, 1)?;
        }
        let mut runs: Vec<[Run; 3]> = Vec::new();
        for _ in 0..rounds {
            let mut round = Vec::new();
            for (_, url, threads) in &urls {
                round.push(wrk(script, url, threads, connections, seconds)?);
            }
            runs.push([round[0], round[1], round[2]]);
        }
        let series = |f: &dyn Fn(&[Run; 3]) -> f64| runs.iter().map(f).collect::<Vec<_>>();
        println!();
        println!("{connections} connection(s), {rounds} rounds of {seconds} s: median (min–max)");
        println!(
            "{:<8} {:>24} {:>24} {:>24}",
            "", "req/s", "p50 µs", "p99 µs"
        );
        for (i, (name, _, _)) in urls.iter().enumerate() {
            println!(
                "{:<8} {:>24} {:>24} {:>24}",
                name,
                spread(&series(&|r| r[i].per_second), 0),
                spread(&series(&|r| r[i].p50_us), 0),
                spread(&series(&|r| r[i].p99_us), 0),
            );
        }
        println!(
            "router / nginx throughput: {}",
            spread(&series(&|r| r[2].per_second / r[1].per_second), 2)
        );
        for (i, name) in [(1, "nginx"), (2, "router")] {
            println!(
                "{name:<6} adds over direct: p50 {} µs, p99 {} µs",
                spread(&series(&|r| r[i].p50_us - r[0].p50_us), 0),
                spread(&series(&|r| r[i].p99_us - r[0].p99_us), 0),
            );
        }
        for (i, name) in [(1, "nginx"), (2, "router")] {
            match runs
                .iter()
                .map(|r| r[i].cpu_us)
                .collect::<Option<Vec<f64>>>()
            {
                Some(cpu) => println!(
                    "{name:<6} CPU per request (its own threads): {} µs",
                    spread(&cpu, 1)
                ),
                None => println!("{name:<6} CPU per request: unknown (no /proc schedstat)"),
            }
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let seconds = u64::try_from(count("DATAPLANE_SECONDS", 5)?)?;
    let rounds = count("DATAPLANE_ROUNDS", 3)?;
    let state = tempfile::tempdir().context("creating a state directory")?;
    let emulator = support::start_emulator(state.path()).await?;
    let http = reqwest::Client::builder().no_proxy().build()?;
    let control = Control {
        http: &http,
        base: &emulator.control_url,
    };
    let max_concurrent = CONNECTIONS[CONNECTIONS.len() - 1];
    let key = control.endpoint(ENDPOINT).await?;
    for deployment in ["blue", "green"] {
        control
            .deployment(ENDPOINT, deployment, MODEL, max_concurrent)
            .await?;
    }
    control
        .traffic(ENDPOINT, serde_json::json!({ "blue": 90, "green": 10 }))
        .await?;
    let address = |deployment: &str| -> Result<String> {
        let pool = emulator
            .workspace
            .pool(ENDPOINT, deployment)
            .with_context(|| format!("{deployment} has no instance pool"))?;
        let ready = pool.ready_instances();
        let instance = ready
            .first()
            .with_context(|| format!("{deployment} has no ready instance"))?;
        Ok(instance.address.to_string())
    };
    let (blue, green) = (address("blue")?, address("green")?);

    let dir = tempfile::tempdir().context("creating nginx's directory")?;
    let body = std::fs::read_to_string(examples_dir().join(MODEL).join("sample-request.json"))
        .context("reading the sample request")?;
    let script = wrk_script(dir.path(), body.trim(), &key)?;
    let port = free_port()?;
    let _nginx = Nginx::start(
        dir.path(),
        &nginx_conf(dir.path(), port, &blue, &green, &key),
        port,
    )?;
    let urls = [
        ("direct", format!("http://{blue}/score"), Threads::default()),
        (
            "nginx",
            format!("http://127.0.0.1:{port}/score"),
            Threads::children_of(_nginx.0.id()),
        ),
        (
            "router",
            format!("{}/endpoints/{ENDPOINT}/score", emulator.scoring_url),
            Threads::scoring_plane(),
        ),
    ];
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!();
    println!(
        "Data plane vs nginx: {MODEL}, blue and green 1 instance each, 90/10, {cpus} CPUs, wrk -t1"
    );
    println!("direct = blue's instance; nginx = split_clients 90/10 + upstream keepalive; router = the local workspace's scoring URI");
    let outcome = tokio::task::spawn_blocking(move || measure(&script, urls, seconds, rounds))
        .await
        .context("the measuring thread panicked")?;
    drop(_nginx);
    emulator.shutdown().await;
    outcome
}
