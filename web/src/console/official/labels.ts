/** The Chinese words the officials' pages show for the API's codes (statuses, kinds, verdicts).
 * An unknown code is shown as it came: a newer API may send values this page does not know. */

const ALERT_STATUS: Record<string, string> = { open: "待处置", acknowledged: "已处置" };
const SCAN_KIND: Record<string, string> = {
  checkin: "场所扫码",
  verification: "亮码核验",
  paper: "纸质码核验",
  manual: "手工登记",
  manual_registration: "手工登记",
};
const VERDICT: Record<string, string> = { pass: "通行", dissuade: "劝返", isolate: "就地隔离", register: "登记" };
const CASE_STATUS: Record<string, string> = {
  confirmed: "确诊",
  asymptomatic: "无症状感染者",
  suspected: "疑似",
  recovered: "康复出院",
  excluded: "排除",
};
const CONTACT_KIND: Record<string, string> = { close: "密切接触者", secondary: "次密切接触者" };
const REQUEST_KIND: Record<string, string> = {
  override: "人工改码",
  case: "新增病例",
  case_status: "病例状态变更",
  lab_results: "检测结果导入",
  risk_area: "风险地区调整",
  quarantine: "隔离",
  quarantine_lift: "提前解除隔离",
};
const REQUEST_STATUS: Record<string, string> = {
  pending_approval: "待审批",
  applied: "已生效",
  approved: "已批准",
  rejected: "已驳回",
};
const APPEAL_STATUS: Record<string, string> = { open: "待答复", upheld: "申诉成立", dismissed: "申诉驳回" };
const RISK_LEVEL: Record<string, string> = { high: "高风险", medium: "中风险", low: "低风险" };
const TRACING: Record<string, string> = { pending: "流调进行中", done: "流调已完成" };
const ID_TYPE: Record<string, string> = {
  resident_id: "居民身份证",
  passport: "护照",
  hk_macao_permit: "港澳居民来往内地通行证",
  taiwan_permit: "台湾居民来往大陆通行证",
  foreign_permanent_resident: "外国人永久居留身份证",
};
const CAUSE: Record<string, string> = {
  case: "病例",
  close_contact: "密切接触",
  secondary_contact: "次密切接触",
  high_risk_travel: "高风险地区旅居",
  medium_risk_travel: "中风险地区旅居",
  fever: "发热",
  symptoms: "申报症状",
  declared_contact: "申报接触病例",
  quarantine: "隔离",
  prefecture_travel: "跨市州出行",
  same_building: "同楼栋",
  fever_contact: "接触发热人员",
  no_recent_test: "无近期核酸",
  health_monitoring: "健康监测",
};

const AUDIT_ACTION: Record<string, string> = {
  person_search: "按证件号码查询",
  audit_read: "查阅审计日志",
  identity_read: "查看身份信息",
  alert_acknowledged: "处置告警",
  appeal_answered: "答复申诉",
  override_requested: "申请人工改码",
  override_approved: "批准人工改码",
  override_rejected: "驳回人工改码",
  quarantine_placed: "实施隔离",
  venue_changed: "修改场所登记",
  venue_closed: "关闭场所",
  staff_assigned: "指派工作人员",
  staff_removed: "撤销工作人员",
  contact_changed: "联系方式变更",
  colour_change: "健康码变更",
};

function named(table: Record<string, string>, code: string | null | undefined): string {
  if (code === null || code === undefined || code === "") return "—";
  return table[code] ?? code;
}

export const alertStatusName = (code: string) => named(ALERT_STATUS, code);
export const scanKindName = (code: string) => named(SCAN_KIND, code);
export const verdictName = (code: string) => named(VERDICT, code);
export const caseStatusName = (code: string) => named(CASE_STATUS, code);
export const contactKindName = (code: string) => named(CONTACT_KIND, code);
export const requestKindName = (code: string) => named(REQUEST_KIND, code);
export const requestStatusName = (code: string) => named(REQUEST_STATUS, code);
export const appealStatusName = (code: string) => named(APPEAL_STATUS, code);
export const riskLevelName = (code: string) => named(RISK_LEVEL, code);
export const tracingName = (code: string) => named(TRACING, code);
export const idTypeName = (code: string) => named(ID_TYPE, code);
export const auditActionName = (code: string) => `${named(AUDIT_ACTION, code)}${AUDIT_ACTION[code] ? `（${code}）` : ""}`;
export const causeName = (code: string) => named(CAUSE, code);

export const ID_TYPES = Object.keys(ID_TYPE);
export const RISK_LEVELS = ["high", "medium", "low"] as const;
export const CASE_REPORT_STATUSES = ["confirmed", "asymptomatic", "suspected"] as const;
export const REQUEST_KINDS = Object.keys(REQUEST_KIND);
export const VERDICTS = Object.keys(VERDICT);

/** What a case may become next (docs/api.md, PATCH /v1/cases): upgrades, then the two closings. */
export function nextCaseStatuses(status: string): string[] {
  switch (status) {
    case "suspected":
      return ["asymptomatic", "confirmed", "excluded"];
    case "asymptomatic":
      return ["confirmed", "recovered", "excluded"];
    case "confirmed":
      return ["recovered", "excluded"];
    default:
      return [];
  }
}

/** Reasons an official gives for a manual colour change (snake_case codes the API stores). */
export const OVERRIDE_REASONS: Record<string, string> = {
  released_from_quarantine: "解除隔离",
  recovered: "康复",
  appeal_upheld: "申诉成立",
  data_error: "信息有误",
  whitelist: "白名单",
};
