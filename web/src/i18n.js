// Two languages: zh-CN (the document's users) and English. The first visit follows the
// browser's language; the switch in the header remembers the choice (a preference only).
import { useEffect, useState } from 'preact/hooks';

const ENUMS = {
  DeskState: {
    SLEEP: ['休眠', 'Sleeping'],
    RUNNING: ['运行中', 'Running'],
    CLOSE: ['关机', 'Powered off'],
    SHUTTING: ['关机中', 'Shutting down'],
    DELETING: ['删除中', 'Deleting'],
    RESTORING: ['还原中', 'Restoring'],
    UPDATING: ['变更中', 'Updating'],
    START_UP: ['启动中', 'Starting'],
    WAKING: ['唤醒中', 'Waking'],
    CREATING: ['创建中', 'Creating'],
    ERROR: ['故障', 'Faulty'],
    FAILBACKING: ['故障恢复中', 'Recovering from fault'],
    OFF_LINE: ['离线', 'Offline'],
    DOWNLOADING: ['下载更新', 'Downloading update'],
    SNAPSHOT_CREATING: ['快照创建中', 'Creating snapshot'],
    SNAPSHOT_RESTORING: ['快照恢复中', 'Restoring snapshot'],
    MOVING: ['迁移中', 'Migrating'],
    RECOVING: ['恢复中', 'Recovering'],
  },
  DeskType: {
    PERSONAL: ['个性', 'Personal'],
    RECOVERABLE: ['还原', 'Restore on reboot'],
    APP_LAYER: ['应用分发', 'App layer'],
  },
  DeskCategory: { VDI: ['VDI', 'VDI'], IDV: ['IDV', 'IDV'], TCI: ['TCI', 'TCI'] },
  OsName: {
    WIN_7_32: ['Windows 7 32位', 'Windows 7 32-bit'],
    WIN_7_64: ['Windows 7 64位', 'Windows 7 64-bit'],
    WIN_10_32: ['Windows 10 32位', 'Windows 10 32-bit'],
    WIN_10_64: ['Windows 10 64位', 'Windows 10 64-bit'],
    WIN_XP_SP3: ['Windows XP SP3 32位', 'Windows XP SP3 32-bit'],
    UOS_64: ['UOS 64位', 'UOS 64-bit'],
    UBUNTU_64: ['Ubuntu 64位', 'Ubuntu 64-bit'],
    CENTOS_64: ['Fedora 64位', 'CentOS 64-bit'],
  },
  ImageState: {
    AVAILABLE: ['可用', 'Available'],
    DELETING: ['删除中', 'Deleting'],
    EDITING: ['编辑中', 'Editing'],
    CREATING: ['创建中', 'Creating'],
    ERROR: ['错误', 'Error'],
    DISABLED: ['已禁用', 'Disabled'],
    PUBLISHING: ['发布中', 'Publishing'],
  },
  ImageFileState: {
    AVAILABLE: ['可用', 'Available'],
    DELETING: ['删除中', 'Deleting'],
    UPLOADING: ['上传中', 'Uploading'],
    CREATING: ['创建中', 'Creating'],
  },
  UserType: { NORMAL: ['普通用户', 'Normal'], VISITOR: ['访客', 'Visitor'], AD: ['AD', 'AD'], LDAP: ['LDAP', 'LDAP'] },
  UserState: { ENABLE: ['启用', 'Enabled'], DISABLE: ['禁用', 'Disabled'] },
  ClusterState: { ENABLED: ['启用', 'Enabled'], DISABLED: ['禁用', 'Disabled'], DELETING: ['删除中', 'Deleting'] },
  HostState: { ENABLED: ['启用', 'Enabled'], DRAINING: ['排空中', 'Draining'], DISABLED: ['禁用', 'Disabled'] },
  PoolHealth: { HEALTHY: ['健康', 'Healthy'], WARNING: ['警告', 'Warning'], ERROR: ['错误', 'Error'] },
  HostDriver: { sim: ['模拟', 'Simulated'], qemu: ['QEMU', 'QEMU'], libvirt: ['libvirt', 'libvirt'] },
  Redundancy: Object.fromEntries(
    ['RAID1_1D0B', 'CARBON_2B', 'CARBON_3B', 'EC_2D1P', 'EC_4D1P', 'EC_4D2P', 'EC_8D2P'].map((v) => [v, [v, v]]),
  ),
  TaskStatus: { RUNNING: ['执行中', 'Running'], FINISHED: ['完成', 'Finished'], ERROR: ['异常', 'Error'] },
  ItemBizStatus: { RUNNING: ['执行中', 'Running'], SUCCESS: ['成功', 'Success'], FAILURE: ['失败', 'Failure'] },
};

const S = {
  appName: ['deskd 云桌面', 'deskd cloud desktops'],
  signIn: ['登录', 'Sign in'],
  signOut: ['退出', 'Sign out'],
  userName: ['用户名', 'User name'],
  password: ['密码', 'Password'],
  operator: ['管理员', 'Operator'],
  desktopUser: ['桌面用户', 'Desktop user'],
  accountKind: ['账号类型', 'Account kind'],
  language: ['语言', 'Language'],
  signInFailed: ['登录失败', 'Sign-in failed'],
  overview: ['概览', 'Overview'],
  desks: ['云桌面', 'Desks'],
  tasks: ['任务', 'Tasks'],
  users: ['用户', 'Users'],
  images: ['镜像', 'Images'],
  osFiles: ['系统文件', 'OS files'],
  strategies: ['桌面策略', 'Strategies'],
  networks: ['网络', 'Networks'],
  clusters: ['集群', 'Clusters'],
  hosts: ['主机', 'Hosts'],
  pools: ['存储池', 'Storage pools'],
  charts: ['监控图表', 'Charts'],
  alerts: ['告警', 'Alerts'],
  desksPerState: ['各状态桌面数', 'Desks per state'],
  hostsUpDown: ['主机在线/离线', 'Hosts up / down'],
  up: ['在线', 'up'],
  down: ['离线', 'down'],
  firingAlerts: ['正在触发的告警', 'Firing alerts'],
  bootQueue: ['启动排队', 'Boot-storm queue'],
  waiting: ['排队中', 'waiting'],
  startingNow: ['启动中', 'starting'],
  startingSlots: ['启动中 / 上限', 'Starting / limit'],
  bootLimits: ['同时启动上限', 'Starts at once'],
  perHost: ['每主机', 'per host'],
  perCluster: ['每集群', 'per cluster'],
  busiestHosts: ['最忙的主机', 'Busiest hosts'],
  openItems: ['未完成的任务项', 'Open task items'],
  none: ['无', 'none'],
  total: ['总数', 'Total'],
  name: ['名称', 'Name'],
  state: ['状态', 'State'],
  type: ['类型', 'Type'],
  user: ['用户', 'User'],
  image: ['镜像', 'Image'],
  host: ['主机', 'Host'],
  ip: ['IP', 'IP'],
  created: ['创建时间', 'Created'],
  filter: ['筛选', 'Filter'],
  allStates: ['全部状态', 'All states'],
  apply: ['应用', 'Apply'],
  clear: ['清除', 'Clear'],
  page: ['页', 'Page'],
  prev: ['上一页', 'Previous'],
  next: ['下一页', 'Next'],
  perPage: ['每页', 'Per page'],
  selected: ['已选', 'Selected'],
  start: ['开机', 'Start'],
  shutdown: ['关机', 'Shut down'],
  powerOff: ['强制关机', 'Power off'],
  restart: ['重启', 'Restart'],
  delete: ['删除', 'Delete'],
  console: ['控制台', 'Console'],
  batchCreate: ['批量创建', 'Batch create'],
  count: ['数量', 'Count'],
  namePrefix: ['名称前缀', 'Name prefix'],
  strategy: ['策略', 'Strategy'],
  network: ['网络', 'Network'],
  create: ['创建', 'Create'],
  progress: ['进度', 'Progress'],
  done: ['成功', 'done'],
  failed: ['失败', 'failed'],
  results: ['结果', 'Results'],
  item: ['项目', 'Item'],
  task: ['任务', 'Task'],
  dismiss: ['关闭', 'Dismiss'],
  loading: ['加载中…', 'Loading…'],
  noRows: ['没有数据', 'Nothing here'],
  groups: ['用户组', 'Groups'],
  allGroups: ['全部用户组', 'All groups'],
  group: ['用户组', 'Group'],
  realName: ['姓名', 'Real name'],
  enable: ['启用', 'Enable'],
  disable: ['禁用', 'Disable'],
  newUser: ['新建用户', 'New user'],
  importCsv: ['从 CSV 导入', 'Import from CSV'],
  csvHelp: ['每行：用户名,用户组路径,姓名,密码', 'One user a line: user name,group path,real name,password'],
  preview: ['预览', 'Preview'],
  problem: ['问题', 'Problem'],
  ok: ['可以导入', 'OK'],
  importRows: ['导入无问题的行', 'Import the rows without problems'],
  imported: ['已导入', 'Imported'],
  upload: ['上传', 'Upload'],
  file: ['文件', 'File'],
  size: ['大小', 'Size'],
  cpu: ['CPU', 'CPU'],
  memory: ['内存', 'Memory'],
  disk: ['磁盘', 'Disk'],
  net: ['网络', 'Network'],
  fleet: ['全局', 'Fleet'],
  lastHour: ['最近一小时', 'Last hour'],
  severity: ['级别', 'Severity'],
  summary: ['摘要', 'Summary'],
  since: ['开始于', 'Since'],
  myDesks: ['我的云桌面', 'My desktops'],
  open: ['打开', 'Open'],
  starting: ['正在启动…', 'Starting…'],
  back: ['返回', 'Back'],
  ctrlAltDel: ['发送 Ctrl-Alt-Del', 'Send Ctrl-Alt-Del'],
  fullScreen: ['全屏', 'Full screen'],
  scale: ['缩放到窗口', 'Scale to window'],
  clipboard: ['剪贴板', 'Clipboard'],
  sendClipboard: ['发送到桌面', 'Send to desktop'],
  reconnect: ['重新连接', 'Reconnect'],
  connected: ['已连接', 'Connected'],
  connecting: ['连接中…', 'Connecting…'],
  disconnected: ['连接已断开', 'Disconnected'],
  reconnecting: ['连接断开，正在重连…', 'Connection lost, reconnecting…'],
  noConsole: ['该桌面没有控制台', 'This desk has no console'],
  notRunning: ['桌面未运行，请先开机', 'The desk is not running: start it first'],
  simulated: ['该桌面由模拟驱动运行，没有图形控制台', 'This desk runs on the simulated driver, which has no graphical console'],
  cores: ['核', 'cores'],
  refresh: ['刷新', 'Refresh'],
  actions: ['操作', 'Actions'],
  selectRow: ['选择', 'Select'],
  selectAll: ['全选本页', 'Select the whole page'],
  sortBy: ['排序', 'Sort by'],
  edit: ['编辑', 'Edit'],
  new: ['新建', 'New'],
  save: ['保存', 'Save'],
  cancel: ['取消', 'Cancel'],
  osFile: ['系统文件', 'OS file'],
  memoryGb: ['内存 (GB)', 'Memory (GB)'],
  systemDiskGb: ['系统盘 (GB)', 'System disk (GB)'],
  dataDiskGb: ['数据盘 (GB)', 'Data disk (GB)'],
  storageGb: ['存储 (GB)', 'Storage (GB)'],
  capacityGb: ['容量 (GB)', 'Capacity (GB)'],
  note: ['备注', 'Note'],
  category: ['桌面类别', 'Category'],
  description: ['描述', 'Description'],
  cluster: ['集群', 'Cluster'],
  cidr: ['网段 (CIDR)', 'Subnet (CIDR)'],
  gateway: ['网关', 'Gateway'],
  poolStart: ['地址池起始', 'Address pool start'],
  poolEnd: ['地址池结束', 'Address pool end'],
  dns1: ['首选 DNS', 'Primary DNS'],
  dns2: ['备用 DNS', 'Secondary DNS'],
  vlan: ['VLAN', 'VLAN'],
  driver: ['驱动', 'Driver'],
  uri: ['libvirt URI', 'libvirt URI'],
  cpuOvercommit: ['CPU 超分比', 'CPU overcommit'],
  memoryOvercommit: ['内存超分比', 'Memory overcommit'],
  exporterUrl: ['采集地址', 'Exporter URL'],
  directory: ['目录', 'Directory'],
  redundancy: ['冗余策略', 'Redundancy'],
  editUser: ['编辑用户', 'Edit user'],
  phone: ['手机号', 'Phone'],
  email: ['邮箱', 'E-mail'],
  expires: ['账号到期日（空为永不过期）', 'Account expires (empty: never)'],
  invalidDays: ['失效天数（0 为永不失效）', 'Days idle before invalid (0: never)'],
  changePassword: ['修改密码', 'Change password'],
  changePasswordHelp: [
    '文档的修改密码接口（6.2.9）需要当前密码',
    "The document's password endpoint (6.2.9) needs the current password",
  ],
  oldPassword: ['当前密码', 'Current password'],
  newPassword: ['新密码', 'New password'],
  confirmPassword: ['确认新密码', 'Confirm the new password'],
  passwordMismatch: ['两次输入的新密码不一致', 'The new passwords differ'],
  passwordChanged: ['密码已修改', 'Password changed'],
  wrongOldPassword: ['当前密码错误，剩余尝试次数', 'Wrong current password; tries left'],
  userLocked: ['用户已锁定，分钟数', 'The user is locked; minutes'],
  saved: ['已保存', 'Saved'],
  resetPassword: ['重置密码', 'Reset password'],
  resetPasswordHelp: [
    '管理员直接设置新密码，无需当前密码（deskd 扩展接口）；用户的锁定随之解除',
    'Sets a new password without the current one (a deskd extension); a locked user is unlocked',
  ],
  passwordReset: ['密码已重置', 'Password reset'],
  confirmDelete: ['确认删除', 'Delete'],
  deleteWhat: ['删除后无法恢复。确定删除', 'This cannot be undone. Delete'],
  deleteRefused: ['服务器拒绝删除', 'The server refused the delete'],
  deleting: ['删除中…', 'Deleting…'],
  language_zh: ['中文', '中文'],
  language_en: ['English', 'English'],
};

const LANGS = ['zh-CN', 'en'];
const PREF = 'deskd.lang';

function initial() {
  try {
    const saved = localStorage.getItem(PREF);
    if (LANGS.includes(saved)) return saved;
  } catch {
    // Storage may be off; the browser's language decides.
  }
  const nav = (navigator.languages || [navigator.language || 'en']).map((l) => l.toLowerCase());
  return nav.find((l) => l.startsWith('zh') || l.startsWith('en'))?.startsWith('zh') ? 'zh-CN' : 'en';
}

let lang = initial();
const subs = new Set();

export function getLang() {
  return lang;
}

export function setLang(l) {
  lang = l;
  document.documentElement.lang = l;
  try {
    localStorage.setItem(PREF, l);
  } catch {
    // A preference only.
  }
  subs.forEach((f) => f(l));
}

/** Re-renders the component when the language changes; answers the translator. */
export function useLang() {
  const [, set] = useState(lang);
  useEffect(() => {
    subs.add(set);
    return () => subs.delete(set);
  }, []);
  return lang;
}

const idx = () => (lang === 'zh-CN' ? 0 : 1);

/** A UI string. */
export function t(key) {
  const s = S[key];
  return s ? s[idx()] : key;
}

/** The label of an enumeration value (the document's Chinese label in zh-CN). */
export function label(kind, value) {
  const e = ENUMS[kind] && ENUMS[kind][value];
  return e ? e[idx()] : value;
}

export const ENUM_VALUES = (kind) => Object.keys(ENUMS[kind] || {});

document.documentElement.lang = lang;
