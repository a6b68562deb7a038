//! The task items of desk operations. Each handler is idempotent: after a crash the engine runs
//! an interrupted item again, and the handler picks up from whatever the database and the
//! driver already show (an existing desk row, a VM already defined or already running).

use deskd_domain::ids::{ClusterId, DeskId, HostId, ImageId, NetworkId, StrategyId, UserId};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deskd_compute::{DriverError, Hypervisor, PowerState, ShutdownOutcome};
use deskd_domain::enums::{DeskCategory, DeskState, DeskType, ItemStatus};
use deskd_domain::error::Result;
use deskd_domain::model::{now_ms, Desk, DeskReservation, Reserved};
use deskd_domain::scheduler::Policy;
use deskd_domain::store::{
    DeskStore, EventStore, ImageStore, NetworkStore, StrategyStore, TaskStore,
};

/// What the desk items touch: desks, their audit events and task items, and the strategy and
/// image a VM is built from.
pub trait DeskOpsStore:
    DeskStore + EventStore + TaskStore + StrategyStore + ImageStore + NetworkStore
{
}
impl<T> DeskOpsStore for T where
    T: DeskStore + EventStore + TaskStore + StrategyStore + ImageStore + NetworkStore + ?Sized
{
}
use deskd_domain::task::{Claim, Effect, ItemOutcome, TaskRecord};
use deskd_tasks::{ItemHandler, Registry, TaskFinisher};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::guard::BootGuard;
use super::kinds;
use crate::fleet::vm_spec;

/// What every desk operation needs.
pub struct DeskOps {
    pub store: Arc<dyn DeskOpsStore>,
    pub driver: Arc<dyn Hypervisor>,
    pub guard: Arc<BootGuard>,
    pub policy: Policy,
    pub shutdown_timeout: Duration,
}

/// Registers a handler for every desk task kind, and the batch-create rollback.
pub fn register(registry: &mut Registry, ops: Arc<DeskOps>) {
    for kind in [
        kinds::CREATE,
        kinds::DELETE,
        kinds::START,
        kinds::SHUTDOWN,
        kinds::POWER_OFF,
        kinds::RESTART,
        kinds::MODIFY,
        kinds::STRATEGY,
        kinds::REMARK,
    ] {
        registry.register(
            kind,
            Arc::new(Kind {
                ops: ops.clone(),
                kind,
            }),
        );
    }
    registry.register_finisher(kinds::CREATE, Arc::new(Rollback { ops }));
}

struct Kind {
    ops: Arc<DeskOps>,
    kind: &'static str,
}

#[async_trait]
impl ItemHandler for Kind {
    async fn run(&self, c: &Claim) -> ItemOutcome {
        let o = &self.ops;
        let result = match self.kind {
            kinds::CREATE => o.create(c).await,
            kinds::DELETE => o.delete(c).await,
            kinds::START => o.start(c).await,
            kinds::SHUTDOWN => o.shutdown(c).await,
            kinds::POWER_OFF => o.power_off(c).await,
            kinds::RESTART => o.restart(c).await,
            kinds::MODIFY => o.modify(c).await,
            kinds::STRATEGY => o.strategy(c).await,
            kinds::REMARK => o.remark(c).await,
            other => Ok(ItemOutcome::failure(format!(
                "unknown desk task kind {other}"
            ))),
        };
        result.unwrap_or_else(|e| ItemOutcome::failure(format!("操作失败：{e}")))
    }
}

/// The payload of a create item, fixed at request time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreatePlan {
    pub item_key: Option<String>,
    pub fail_rollback: bool,
    pub desk_name: String,
    pub user_id: UserId,
    pub user_name: String,
    pub image_id: ImageId,
    pub strategy_id: StrategyId,
    pub network_id: NetworkId,
    pub cluster_id: ClusterId,
    pub desk_type: DeskType,
    pub category: DeskCategory,
    pub cpu_cores: i64,
    pub memory_gb: i64,
    pub system_disk_gb: i64,
    pub data_disk_gb: i64,
    pub remark: String,
}

impl CreatePlan {
    /// The desk row this plan asks for, before placement.
    pub fn desk(&self) -> Desk {
        let p = self;
        let now = now_ms();
        Desk {
            id: DeskId::generate(),
            name: p.desk_name.clone(),
            user_id: p.user_id.clone(),
            image_id: p.image_id.clone(),
            strategy_id: p.strategy_id.clone(),
            network_id: p.network_id.clone(),
            cluster_id: p.cluster_id.clone(),
            host_id: HostId::default(),
            ip: String::new(),
            mac: String::new(),
            desk_type: p.desk_type,
            category: p.category,
            state: DeskState::CREATING,
            cpu_cores: p.cpu_cores,
            memory_gb: p.memory_gb,
            system_disk_gb: p.system_disk_gb,
            data_disk_gb: p.data_disk_gb,
            remark: p.remark.clone(),
            error_reason: String::new(),
            enable_custom: false,
            need_refresh_strategy: false,
            vgpu_type: "QXL".into(),
            desktop_pool_type: "COMMON".into(),
            terminal_ip: String::new(),
            created_at: now,
            updated_at: now,
        }
    }

    /// The reservation that places this plan's desk for item `task_id`.
    pub fn reservation(&self, task_id: &str, policy: Policy) -> DeskReservation {
        DeskReservation {
            desk: self.desk(),
            item_key: self.item_key.clone(),
            task_id: task_id.to_string(),
            policy,
            user_name: self.user_name.clone(),
        }
    }
}

/// How a create item's failure result starts.
pub const CREATE_FAILED: &str = "创建云桌面失败：";

/// The payload of the power actions and of delete: the desk is the item's subject, nothing more.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ActionPlan {}

/// The payload of a strategy-change item (6.1.18).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StrategyPlan {
    pub strategy_id: StrategyId,
}

/// The payload of a remark-edit item (6.1.19).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemarkPlan {
    pub remark: String,
}

/// The payload of a modify item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModifyPlan {
    pub cpu_cores: i64,
    pub memory_gb: i64,
    pub system_disk_gb: i64,
    pub data_disk_gb: i64,
}

fn desk_id(c: &Claim) -> DeskId {
    c.subject.clone().unwrap_or_default().into()
}

fn driver_failed(e: &DriverError) -> String {
    format!("虚拟化平台错误：{e}")
}

fn ok_with(result: String, desk_id: &str) -> ItemOutcome {
    ItemOutcome {
        biz_data: Some(json!({ "desk_id": desk_id })),
        ..ItemOutcome::success(result)
    }
}

impl DeskOps {
    /// Reads the desk an item acts on; `None` when it is gone.
    async fn desk(&self, c: &Claim) -> Result<Option<Desk>> {
        self.store.get_desk(&desk_id(c)).await
    }

    /// Marks a desk ERROR with the driver's reason and fails the item.
    async fn fail(
        &self,
        d: &Desk,
        from: DeskState,
        what: &str,
        e: &DriverError,
    ) -> Result<ItemOutcome> {
        let reason = format!("{what} failed: {e}");
        self.store
            .set_desk_state(&d.id, &[from], DeskState::ERROR, &reason)
            .await?;
        Ok(ItemOutcome::failure(format!(
            "{what}云桌面[{}]失败：{}",
            d.name,
            driver_failed(e)
        )))
    }

    async fn create(&self, c: &Claim) -> Result<ItemOutcome> {
        let plan: CreatePlan = c.payload()?;
        let reservation = plan.reservation(&c.task_id, self.policy);
        let t0 = std::time::Instant::now();
        let (desk, owner, ours) = match self.store.reserve_desk(&reservation).await {
            Ok(Reserved::New(d)) => (d, plan.user_name.clone(), true),
            // This task's own desk: reserved when the batch was submitted, or by an earlier
            // run of this item before a crash.
            Ok(Reserved::Existing { desk, task_id }) if task_id == c.task_id => {
                (desk, plan.user_name.clone(), true)
            }
            // Another task's desk (the caller repeated an item id): reported, never ours.
            Ok(Reserved::Existing { desk, .. }) => {
                let owner = self
                    .store
                    .desk_view(&desk.id)
                    .await?
                    .map(|v| v.user_name)
                    .unwrap_or_default();
                (desk, owner, false)
            }
            Err(e) => return Ok(ItemOutcome::failure(format!("{CREATE_FAILED}{e}"))),
        };
        let t1 = t0.elapsed();
        if desk.state == DeskState::CREATING {
            let spec = vm_spec(self.store.as_ref(), &desk).await?;
            if let Err(e) = self.driver.define(&spec).await {
                // Nothing of a failed create stays behind: no VM, address or capacity.
                let _ = self.driver.destroy(&desk.id).await;
                self.store.remove_desk(&desk.id).await?;
                return Ok(ItemOutcome::failure(format!(
                    "创建云桌面[{}]失败：{}",
                    desk.name,
                    driver_failed(&e)
                )));
            }
        }
        // Where a create's time goes (placement transaction vs. the whole item), for tuning.
        tracing::debug!(
            reserve_us = t1.as_micros() as u64,
            total_us = t0.elapsed().as_micros() as u64,
            "create timing"
        );
        Ok(ItemOutcome {
            biz_data: Some(json!({"desk_name": desk.name, "user_name": owner, "desk_id": desk.id})),
            resource: Some(json!({"desk_name": desk.name, "desk_id": desk.id})),
            effects: create_effects(&desk, ours),
            ..ItemOutcome::success(format!("创建云桌面[{}]成功", desk.name))
        })
    }

    async fn delete(&self, c: &Claim) -> Result<ItemOutcome> {
        let id = desk_id(c);
        let name = self
            .desk(c)
            .await?
            .map(|d| d.name)
            .unwrap_or_else(|| id.to_string());
        if let Err(e) = self.driver.destroy(&id).await {
            if let Some(d) = self.desk(c).await? {
                return self.fail(&d, DeskState::DELETING, "删除", &e).await;
            }
        }
        Ok(ItemOutcome {
            effects: vec![Effect::RemoveDesk {
                desk_id: id.clone(),
            }],
            ..ok_with(format!("删除云桌面[{name}]成功"), &id)
        })
    }

    async fn start(&self, c: &Claim) -> Result<ItemOutcome> {
        let Some(d) = self.desk(c).await? else {
            return Ok(ItemOutcome::failure(format!(
                "云桌面[{}]已被删除",
                desk_id(c)
            )));
        };
        match d.state {
            DeskState::RUNNING => return Ok(ok_with(format!("启动云桌面[{}]成功", d.name), &d.id)),
            DeskState::START_UP => {}
            other => {
                return Ok(ItemOutcome::failure(format!(
                    "云桌面[{}]启动被取消：当前状态 {other}",
                    d.name
                )))
            }
        }
        let _slot = self.guard.enter(&d.cluster_id, &d.host_id).await;
        // While it queued, the desk may have been deleted or powered off.
        let Some(d) = self
            .desk(c)
            .await?
            .filter(|d| d.state == DeskState::START_UP)
        else {
            return Ok(ItemOutcome::failure(format!(
                "云桌面[{}]启动被取消：状态已改变",
                desk_id(c)
            )));
        };
        // A sleeping desk's VM is paused: starting it means waking it.
        let paused =
            matches!(self.driver.info(&d.id).await, Ok(Some(vm)) if vm.power == PowerState::Paused);
        let started = if paused {
            self.driver.resume(&d.id).await
        } else {
            self.driver.start(&d.id).await
        };
        if let Err(e) = started {
            return self.fail(&d, DeskState::START_UP, "启动", &e).await;
        }
        if !self
            .store
            .set_desk_state(&d.id, &[DeskState::START_UP], DeskState::RUNNING, "")
            .await?
        {
            return Ok(ItemOutcome::failure(format!(
                "云桌面[{}]启动期间状态已改变",
                d.name
            )));
        }
        Ok(ok_with(format!("启动云桌面[{}]成功", d.name), &d.id))
    }

    async fn shutdown(&self, c: &Claim) -> Result<ItemOutcome> {
        let Some(d) = self.desk(c).await? else {
            return Ok(ItemOutcome::failure(format!(
                "云桌面[{}]已被删除",
                desk_id(c)
            )));
        };
        if d.state == DeskState::CLOSE {
            return Ok(ok_with(format!("关闭云桌面[{}]成功", d.name), &d.id));
        }
        let how = match self.driver.shutdown(&d.id, self.shutdown_timeout).await {
            Ok(ShutdownOutcome::Graceful) => "",
            Ok(ShutdownOutcome::Forced) => "（客户机未响应，已强制关机）",
            Err(e) => return self.fail(&d, DeskState::SHUTTING, "关闭", &e).await,
        };
        self.store
            .set_desk_state(&d.id, &[DeskState::SHUTTING], DeskState::CLOSE, "")
            .await?;
        Ok(ok_with(format!("关闭云桌面[{}]成功{how}", d.name), &d.id))
    }

    async fn power_off(&self, c: &Claim) -> Result<ItemOutcome> {
        let Some(d) = self.desk(c).await? else {
            return Ok(ItemOutcome::failure(format!(
                "云桌面[{}]已被删除",
                desk_id(c)
            )));
        };
        if d.state == DeskState::CLOSE {
            return Ok(ok_with(format!("强制关闭云桌面[{}]成功", d.name), &d.id));
        }
        if let Err(e) = self.driver.power_off(&d.id).await {
            return self.fail(&d, DeskState::SHUTTING, "强制关闭", &e).await;
        }
        self.store
            .set_desk_state(&d.id, &[DeskState::SHUTTING], DeskState::CLOSE, "")
            .await?;
        Ok(ok_with(format!("强制关闭云桌面[{}]成功", d.name), &d.id))
    }

    async fn restart(&self, c: &Claim) -> Result<ItemOutcome> {
        let Some(d) = self.desk(c).await? else {
            return Ok(ItemOutcome::failure(format!(
                "云桌面[{}]已被删除",
                desk_id(c)
            )));
        };
        if let Err(e) = self.driver.reset(&d.id).await {
            return self.fail(&d, DeskState::RUNNING, "重启", &e).await;
        }
        Ok(ok_with(format!("重启云桌面[{}]成功", d.name), &d.id))
    }

    async fn modify(&self, c: &Claim) -> Result<ItemOutcome> {
        let plan: ModifyPlan = c.payload()?;
        let Some(d) = self.desk(c).await? else {
            return Ok(ItemOutcome::failure(format!(
                "云桌面[{}]已被删除",
                desk_id(c)
            )));
        };
        let old = (d.cpu_cores, d.memory_gb, d.system_disk_gb, d.data_disk_gb);
        if let Err(e) = self
            .store
            .modify_desk(
                &d.id,
                plan.cpu_cores,
                plan.memory_gb,
                plan.system_disk_gb,
                plan.data_disk_gb,
            )
            .await
        {
            self.store
                .set_desk_state(&d.id, &[DeskState::UPDATING], DeskState::CLOSE, "")
                .await?;
            return Ok(ItemOutcome::failure(format!(
                "修改云桌面[{}]配置失败：{e}",
                d.name
            )));
        }
        let data = (plan.data_disk_gb > 0).then_some(plan.data_disk_gb as u64);
        let resized = self
            .driver
            .resize(
                &d.id,
                deskd_compute::VmShape {
                    cpu_cores: plan.cpu_cores as u32,
                    memory_mb: plan.memory_gb as u64 * 1024,
                    system_disk_gb: plan.system_disk_gb as u64,
                    data_disk_gb: data,
                },
            )
            .await;
        if let Err(e) = resized {
            self.store
                .modify_desk(&d.id, old.0, old.1, old.2, old.3)
                .await?;
            self.store
                .set_desk_state(&d.id, &[DeskState::UPDATING], DeskState::CLOSE, "")
                .await?;
            return Ok(ItemOutcome::failure(format!(
                "修改云桌面[{}]配置失败：{}",
                d.name,
                driver_failed(&e)
            )));
        }
        self.store
            .set_desk_state(&d.id, &[DeskState::UPDATING], DeskState::CLOSE, "")
            .await?;
        Ok(ok_with(format!("修改云桌面[{}]配置成功", d.name), &d.id))
    }

    async fn strategy(&self, c: &Claim) -> Result<ItemOutcome> {
        let StrategyPlan { strategy_id } = c.payload()?;
        let Some(d) = self.desk(c).await? else {
            return Ok(ItemOutcome::failure(format!(
                "云桌面[{}]不存在",
                desk_id(c)
            )));
        };
        if self.store.get_strategy(&strategy_id).await?.is_none() {
            return Ok(ItemOutcome::failure(format!(
                "云桌面策略[{strategy_id}]不存在"
            )));
        }
        // A running desk takes its new strategy at its next start.
        let refresh = d.state != DeskState::CLOSE;
        self.store
            .set_desk_strategy(&d.id, &strategy_id, refresh)
            .await?;
        Ok(ok_with(format!("更换云桌面[{}]策略成功", d.name), &d.id))
    }

    async fn remark(&self, c: &Claim) -> Result<ItemOutcome> {
        let RemarkPlan { remark } = c.payload()?;
        let Some(d) = self.desk(c).await? else {
            return Ok(ItemOutcome::failure(format!(
                "云桌面[{}]不存在",
                desk_id(c)
            )));
        };
        self.store.set_desk_remark(&d.id, &remark).await?;
        Ok(ok_with(format!("编辑云桌面[{}]标签成功", d.name), &d.id))
    }
}

/// The audit-log kind of a desk creation.
const CREATED: &str = "desk.created";

/// `fail_rollback`: when any item of a batch create failed, the desks the other items created
/// are deleted again and those items report the rollback.
struct Rollback {
    ops: Arc<DeskOps>,
}

#[async_trait]
impl TaskFinisher for Rollback {
    async fn finish(&self, task: &TaskRecord) -> Result<()> {
        let wanted = task
            .items
            .iter()
            .any(|i| i.payload["fail_rollback"].as_bool() == Some(true));
        let failed = task.items.iter().any(|i| i.status == ItemStatus::FAILURE);
        if !wanted || !failed {
            return Ok(());
        }
        for item in task
            .items
            .iter()
            .filter(|i| i.status == ItemStatus::SUCCESS)
        {
            let Some(desk_id) = item.biz_data.as_ref().and_then(|b| b["desk_id"].as_str()) else {
                continue;
            };
            let desk_id = &DeskId::from(desk_id);
            // Only desks this task created; an item that reported an earlier batch's desk keeps it.
            let events = self.ops.store.events_for(desk_id).await?;
            if !events
                .iter()
                .any(|e| e.kind == CREATED && e.task_id.as_deref() == Some(task.id.as_str()))
            {
                continue;
            }
            if let Err(e) = self.ops.driver.destroy(desk_id).await {
                tracing::warn!(desk = %desk_id, error = %e, "rollback could not destroy the VM; the reconciler will");
            }
            self.ops.store.remove_desk(desk_id).await?;
            let name = item
                .biz_data
                .as_ref()
                .and_then(|b| b["desk_name"].as_str())
                .unwrap_or(desk_id);
            let text = format!("云桌面[{name}]已创建，因批次中其他云桌面创建失败已回滚");
            self.ops
                .store
                .amend_item(&task.id, item.seq, false, &text)
                .await?;
        }
        Ok(())
    }
}

/// What a finished create records with its outcome: the defined desk leaves CREATING, and the
/// audit record of a creation by this task (which also tells a rollback which desks it made).
fn create_effects(desk: &Desk, ours: bool) -> Vec<Effect> {
    let mut effects = vec![Effect::DeskState {
        desk_id: desk.id.clone(),
        from: vec![DeskState::CREATING],
        to: DeskState::CLOSE,
    }];
    if ours {
        effects.push(Effect::Event {
            kind: CREATED.into(),
            subject: desk.id.clone().into(),
            detail: desk.name.clone(),
        });
    }
    effects
}
