/** The venue managers' words for what the API names by code: venue types (as the API's own
 * `type_label`, which only the single-venue answer carries), credential types, scan kinds and
 * verdicts. An unknown code is shown as sent. */

export const VENUE_TYPE_LABELS: Record<string, string> = {
  residential: "居民小区",
  village: "行政村",
  school: "学校",
  kindergarten: "托幼机构",
  enterprise: "企业",
  office: "写字楼/办公场所",
  factory: "工厂",
  construction_site: "建筑工地",
  government_service: "政务服务场所",
  farmers_market: "农贸市场",
  mall: "商场",
  supermarket: "超市",
  restaurant: "餐饮门店",
  hotel: "宾馆酒店",
  hospital: "医院",
  clinic: "诊所",
  pharmacy: "药店",
  elderly_care: "养老机构",
  park: "公园",
  scenic_spot: "旅游景区",
  sports: "体育场馆",
  library_museum: "图书馆/博物馆",
  cinema_entertainment: "影剧院/娱乐场所",
  internet_cafe: "网吧",
  transit_hub: "交通场站",
  vehicle: "交通工具（公交、出租车、网约车）",
  public_toilet: "公共厕所",
  express_point: "快递网点",
  other: "其他场所",
};

/** Types a venue manager registers (a roadside checkpoint is registered by officials only). */
export const MANAGER_VENUE_TYPES = Object.keys(VENUE_TYPE_LABELS);

export const CREDENTIAL_LABELS: Record<string, string> = {
  uscc: "统一社会信用代码",
  business_licence: "工商注册号",
  id_number: "身份证号（个体经营者）",
  licence_plate: "车牌号",
};

/** The credential types a venue of `type` may register under: a vehicle only by its plate,
 * anything else never by one (the API answers `credential_type_mismatch` otherwise). */
export function credentialTypesFor(type: string): string[] {
  return type === "vehicle" ? ["licence_plate"] : ["uscc", "business_licence", "id_number"];
}

export const KIND_LABELS: Record<string, string> = {
  checkin: "市民扫场所码",
  verification: "亮码核验",
  manual: "手工登记",
};

export const VERDICT_LABELS: Record<string, string> = {
  pass: "通行",
  dissuade: "劝返",
  isolate: "隔离",
  register: "登记",
};

export const STATUS_LABELS: Record<string, string> = {
  active: "使用中",
  closed: "已关闭",
};

export const REISSUE_REASONS: Record<string, string> = {
  damaged: "海报损坏",
  forwarded: "海报被转发",
  lost: "海报遗失",
  changed: "场所信息变更",
  other: "其他原因",
};

export function labelOf(labels: Record<string, string>, code: string | null | undefined): string {
  if (!code) return "—";
  return labels[code] ?? code;
}
