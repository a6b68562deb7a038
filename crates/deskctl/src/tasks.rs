//! Asynchronous tasks: remembering the ones this profile started, and `--wait`.
//!
//! Waiting polls `/v1/task/{id}/detail` until every task leaves RUNNING. On a terminal an
//! indicatif bar counts finished items; piped, each item prints one plain line as it ends.
//! The command succeeds only when every item of every task succeeded (else exit 4).

use std::collections::HashSet;
use std::io::IsTerminal;
use std::time::Duration;

use deskd_wire::enums::{ItemBizStatus, TaskStatus};
use deskd_wire::task::{TaskDetail, TaskDetailRequest};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;

use crate::client::{now_ms, Session};
use crate::config::{remember_task, StartedTask};
use crate::error::{Failure, Outcome};

/// How often a task is polled.
const POLL: Duration = Duration::from_millis(250);

/// A task a command started: its id and what it does, in words.
#[derive(Debug, Clone)]
pub struct Started {
    pub task_id: String,
    pub what: String,
}

/// `GET /v1/task/{id}/detail`.
pub fn detail(s: &mut Session, task_id: &str) -> Outcome<TaskDetail> {
    if task_id.is_empty() || task_id.contains('/') {
        return Err(Failure::usage(format!("`{task_id}` is not a task id")));
    }
    s.call(
        Method::PUT,
        &format!("/v1/task/{task_id}/detail"),
        &TaskDetailRequest::default(),
    )
}

/// Records started tasks; waits for them with `wait`, else prints their ids.
pub fn finish(s: &mut Session, started: Vec<Started>, wait: bool) -> Outcome {
    for t in &started {
        remember_task(
            &s.name,
            &StartedTask {
                task_id: t.task_id.clone(),
                what: t.what.clone(),
                started: now_ms(),
            },
        );
    }
    if !wait {
        for t in &started {
            println!("task {} started: {}", t.task_id, t.what);
        }
        return Ok(());
    }
    let failed = wait_all(s, &started)?;
    conclude(failed)
}

/// Exit 4 when anything failed.
pub fn conclude(failed: usize) -> Outcome {
    if failed > 0 {
        return Err(Failure::TaskFailed(format!(
            "{failed} item(s) failed (see above)"
        )));
    }
    Ok(())
}

/// Polls every task until none is RUNNING; prints each item's outcome; returns how many
/// items failed (a task in ERROR with no failed item counts as one).
pub fn wait_all(s: &mut Session, started: &[Started]) -> Outcome<usize> {
    let tty = std::io::stderr().is_terminal();
    let bar = tty.then(|| {
        let b = ProgressBar::new(0);
        b.set_style(
            ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} items {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        b.enable_steady_tick(Duration::from_millis(120));
        b
    });
    let mut reported: HashSet<(usize, String)> = HashSet::new();
    let mut finals: Vec<Option<TaskDetail>> = vec![None; started.len()];
    let mut failed = 0;
    loop {
        let (mut total, mut done) = (0u64, 0u64);
        for (i, t) in started.iter().enumerate() {
            if let Some(d) = &finals[i] {
                total += d.task_item_list.len() as u64;
                done += d.task_item_list.len() as u64;
                continue;
            }
            let d = detail(s, &t.task_id)?;
            total += d.task_item_list.len() as u64;
            for item in &d.task_item_list {
                if item.item_biz_status == ItemBizStatus::RUNNING {
                    continue;
                }
                done += 1;
                if !reported.insert((i, item.id.clone())) {
                    continue;
                }
                let ok = item.item_biz_status == ItemBizStatus::SUCCESS;
                failed += usize::from(!ok);
                let line = format!(
                    "{} {}: {}{}",
                    t.what,
                    item.id,
                    if ok { "SUCCESS" } else { "FAILURE" },
                    if item.item_result.is_empty() {
                        String::new()
                    } else {
                        format!(" {}", item.item_result)
                    }
                );
                match &bar {
                    Some(b) => b.println(line),
                    None if ok => println!("{line}"),
                    None => eprintln!("{line}"),
                }
            }
            if d.task_status != TaskStatus::RUNNING {
                let no_item_failed = d
                    .task_item_list
                    .iter()
                    .all(|i| i.item_biz_status != ItemBizStatus::FAILURE);
                if d.task_status == TaskStatus::ERROR && no_item_failed {
                    failed += 1;
                    eprintln!(
                        "task {} ended in ERROR: {}",
                        t.task_id,
                        d.error_message.as_deref().unwrap_or("no reason given")
                    );
                }
                finals[i] = Some(d);
            }
        }
        if let Some(b) = &bar {
            b.set_length(total);
            b.set_position(done);
        }
        if finals.iter().all(Option::is_some) {
            break;
        }
        std::thread::sleep(POLL);
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    for (t, d) in started.iter().zip(finals.iter().flatten()) {
        println!(
            "task {} {}: {}",
            t.task_id,
            d.task_status.as_str(),
            d.task_result
        );
    }
    Ok(failed)
}
