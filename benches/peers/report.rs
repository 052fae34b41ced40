//! The table of `run.sh`: medians over runs of each client's CPU per request and requests per
//! second, next to the floor (`openssl speed rsa2048`: one sign and one verify).
//!
//! Two ratios to the floor: to the median of every floor measured, and to the floors measured
//! just before and just after the client (`run.sh` measures one between every two clients).
//! This machine's speed drifts by tens of percent within minutes; the second ratio compares
//! figures taken within seconds of each other.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// A row's key: Node's rows after ours, then the client and the mode.
type Key = (u64, String, String);

/// One row: a client in one mode, its per-run figures.
#[derive(Default)]
struct Row {
    cpu_us: Vec<f64>,
    /// Each run's CPU per request over the mean of the floors measured next to it.
    to_adjacent: Vec<f64>,
    per_second: Vec<f64>,
    peak_rss_kb: Vec<f64>,
}

pub fn print(file: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut floor = Vec::new();
    let mut rows: BTreeMap<Key, Row> = BTreeMap::new();
    // Each client's row and CPU per request, and the floor measured just before it; the floor
    // measured just after it closes it.
    let mut open: Vec<(Key, f64, Option<f64>)> = Vec::new();
    let mut memory = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: Value = serde_json::from_str(line)
            .map_err(|e| format!("{} line {}: {e}", file.display(), i + 1))?;
        let number = |name: &str| {
            v[name]
                .as_f64()
                .ok_or_else(|| format!("{} line {}: no number {name}", file.display(), i + 1))
        };
        if v["floor"].as_bool() == Some(true) {
            let this = (number("sign_s")? + number("verify_s")?) * 1e6;
            for (key, us, before) in open.drain(..) {
                let adjacent = before.map_or(this, |before| (before + this) / 2.0);
                if let Some(row) = rows.get_mut(&key) {
                    row.to_adjacent.push(us / adjacent);
                }
            }
            floor.push(this);
            continue;
        }
        if v["mode"] == "memory" {
            memory.push(v);
            continue;
        }
        let n = number("n")?;
        let client = v["client"].as_str().unwrap_or("?").to_owned();
        let mode = v["mode"].as_str().unwrap_or("?").to_owned();
        // Rows in the order of the script: ours first, then Node.
        let order = u64::from(client != "wechatpay-rs");
        let key = (order, client, mode);
        let us = number("cpu_s")? * 1e6 / n;
        open.push((key.clone(), us, floor.last().copied()));
        let row = rows.entry(key).or_default();
        row.cpu_us.push(us);
        row.per_second.push(n / number("wall_s")?);
        row.peak_rss_kb.push(number("peak_rss_kb").unwrap_or(0.0));
    }
    if floor.is_empty() {
        return Err(format!("{}: no floor line", file.display()));
    }
    let floors = floor.len();
    let runs = rows.values().map(|r| r.cpu_us.len()).max().unwrap_or(0);
    let floor = median(floor);
    println!(
        "| client | mode | CPU µs/request | × floor | × adjacent floors | requests/s | peak RSS MiB |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
    println!("| floor: `openssl speed rsa2048`, sign + verify | | {floor:.0} | 1.00 | 1.00 | | |");
    let mut cpu = BTreeMap::new();
    for ((_, client, mode), row) in &rows {
        let us = median(row.cpu_us.clone());
        cpu.insert((client.as_str(), mode.as_str()), us);
        let adjacent = if row.to_adjacent.is_empty() {
            "".to_owned()
        } else {
            format!("{:.2}", median(row.to_adjacent.clone()))
        };
        println!(
            "| {client} | {mode} | {us:.0} | {:.2} | {adjacent} | {:.0} | {:.1} |",
            us / floor,
            median(row.per_second.clone()),
            median(row.peak_rss_kb.clone()) / 1024.0,
        );
    }
    println!();
    println!(
        "Medians of {runs} run(s) of each client; the floor is the median of {floors} \
         `openssl speed` measurements (one before the first client of each run and one after \
         every client); \"× adjacent floors\" is the median over runs of the client's CPU over \
         the mean of the floors measured just before and just after it."
    );
    let ours = |mode| cpu.get(&("wechatpay-rs", mode)).copied();
    let node = |mode| cpu.get(&("wechatpay-axios-plugin", mode)).copied();
    for (ours_mode, node_mode) in [
        ("blocking", "sequential"),
        ("async", "sequential"),
        ("async-concurrent", "concurrent"),
    ] {
        if let (Some(ours), Some(node)) = (ours(ours_mode), node(node_mode)) {
            println!(
                "wechatpay-axios-plugin {node_mode} / wechatpay-rs {ours_mode}: {:.2}x the CPU per request",
                node / ours
            );
        }
    }
    for v in memory {
        let kb = |value: &Value| value.as_f64().unwrap_or(f64::NAN) / 1024.0;
        let samples: Vec<String> = v["rss_every_tenth_kb"]
            .as_array()
            .map(|a| a.iter().map(|s| format!("{:.1}", kb(s))).collect())
            .unwrap_or_default();
        let heap: Vec<String> = v["heap_in_use_every_tenth_kb"]
            .as_array()
            .map(|a| a.iter().map(|s| format!("{:.1}", kb(s))).collect())
            .unwrap_or_default();
        let fds: Vec<String> = v["open_fds_every_tenth"]
            .as_array()
            .map(|a| a.iter().map(Value::to_string).collect())
            .unwrap_or_default();
        println!(
            "memory: {} async requests, {} in flight, {:.0} requests/s: peak RSS {:.1} MiB; \
             RSS after the first wave {:.1} MiB, then after each tenth: {} MiB; allocated \
             and not freed after each tenth: {} MiB; open file descriptors after each \
             tenth: {}",
            v["n"],
            v["in_flight"],
            v["n"].as_f64().unwrap_or(f64::NAN) / v["wall_s"].as_f64().unwrap_or(f64::NAN),
            kb(&v["peak_rss_kb"]),
            kb(&v["rss_after_warm_up_kb"]),
            samples.join(", "),
            heap.join(", "),
            fds.join(", "),
        );
    }
    Ok(())
}
