//! Alertmanager notifications (`alertmanager_url`): the alerts the rule evaluation queues
//! (firing when they start and every minute while they fire, resolved once) are POSTed to
//! `<url>/api/v2/alerts` in Alertmanager's JSON.

use std::sync::Arc;
use std::time::Duration;

use deskd_metrics::rules::Rules;

/// A firing alert is sent again this often (Prometheus's resend delay).
pub const RESEND: Duration = Duration::from_secs(60);
/// How long one POST may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Sends the queued notifications every second until aborted. A batch the receiver refuses
/// or cannot take is logged and dropped; firing alerts come again with the next resend.
pub fn spawn(
    rules: Arc<Rules>,
    alertmanager: &str,
    generator: &str,
) -> tokio::task::JoinHandle<()> {
    rules.enable_notifications(generator, RESEND);
    let url = format!("{}/api/v2/alerts", alertmanager.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .unwrap_or_default();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let alerts = rules.take_notifications();
            if alerts.is_empty() {
                continue;
            }
            let n = alerts.len();
            match client.post(&url).json(&alerts).send().await {
                Ok(r) if r.status().is_success() => {
                    tracing::debug!(alerts = n, "alerts sent to Alertmanager");
                }
                Ok(r) => {
                    tracing::warn!(status = %r.status(), alerts = n, "Alertmanager refused alerts")
                }
                Err(e) => tracing::warn!(error = %e, alerts = n, "cannot reach Alertmanager"),
            }
        }
    })
}
