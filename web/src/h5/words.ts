/** The mobile page's own words (Simplified Chinese). Error texts come from the API; these are the
 * labels, headings and hints the H5 pages show. */
export const w = {
  // navigation
  navCodes: "我的健康码",
  navScan: "扫场所码",
  navVerify: "扫码核验",
  navRegister: "人工登记",
  nav: "主要功能",
  // apply
  apply: "申领健康码",
  applyFor: "为谁申领",
  forSelf: "本人",
  forDependant: "家属（被监护人）",
  dependantReason: "代为申领的原因",
  dependantReasonHint: "18 至 59 岁或证件上没有出生日期的家属须选择原因；未满 18 岁或 60 岁以上可不选。",
  name: "姓名",
  idType: "证件类型",
  idNumber: "证件号码",
  nationality: "国籍（护照上的三位字母代码，如 USA）",
  phone: "手机号码",
  address: "居住地址",
  regionCode: "所在地区（行政区划代码）",
  regionHint: "六位数字，例如 520102（贵阳市南明区）",
  declaration: "健康申报",
  symptoms: "近 14 天是否有以下症状（可多选）",
  temperature: "体温（°C，选填）",
  contactWithCase: "近 14 天接触过确诊或疑似病例",
  contactWithFever: "近 14 天接触过发热或有呼吸道症状的人员",
  travel: "近 14 天到访的其他地区",
  travelRegion: "到访地区代码",
  travelLeft: "离开日期",
  addTrip: "添加到访地区",
  removeTrip: "删除此行",
  noTravel: "没有到访其他地区。",
  submitApply: "提交申领",
  submitting: "提交中…",
  // code page
  codeFor: "健康码",
  qrAlt: "健康码二维码",
  refreshIn: "后自动刷新",
  validUntil: "有效期至",
  refreshNow: "立即刷新",
  refreshing: "正在刷新…",
  reasons: "赋码原因",
  noReasons: "无异常情况。",
  until: "预计",
  tests: "检测结果",
  noTests: "暂无检测记录。",
  sampledAt: "采样时间",
  history: "赋码记录",
  appeals: "申诉",
  // history
  noHistory: "暂无颜色变化记录。",
  steps: "人工处理记录",
  // appeals
  appealReason: "申诉理由",
  appealHint: "请说明您认为当前颜色有误的原因（500 字以内）。",
  submitAppeal: "提交申诉",
  appealSent: "申诉已提交，请等待工作人员答复。",
  noAppeals: "您还没有提交过申诉。",
  myAppeals: "申诉记录",
  answer: "答复",
  waiting: "尚未答复",
  // scan a venue poster
  scanVenue: "扫场所码",
  scanHint: "请将摄像头对准场所张贴的场所码。",
  camera: "摄像头画面",
  startCamera: "打开摄像头",
  stopCamera: "停止扫码",
  scanning: "正在识别…",
  scanAgain: "重新扫码",
  typedCode: "或手动输入场所码",
  useTyped: "使用输入的场所码",
  scanned: "已识别场所码",
  whoChecksIn: "签到人员",
  companions: "同行家属（可多选）",
  noCodeToCheckIn: "请先申领健康码再签到。",
  locating: "正在获取位置…",
  locationDenied: "无法获取您的位置，请在浏览器设置中允许定位后重试。",
  checkIn: "确认签到",
  checkedIn: "签到成功",
  venue: "场所",
  scannedAt: "签到时间",
  verdict: "核验结论",
  // staff
  checkpoint: "卡口编号",
  checkpointHint: "您被分配到的卡口或场所的编号（v-…），向场所管理员索取。",
  saveCheckpoint: "保存卡口",
  changeCheckpoint: "更换卡口",
  atCheckpoint: "当前卡口",
  personalCode: "已识别健康码",
  staffTemperature: "体温（°C，选填）",
  verify: "核验",
  verifying: "核验中…",
  nextPerson: "继续核验",
  person: "人员",
  abnormal: "异常：已记录并通知防控部门",
  normal: "正常",
  temperatureRequired: "体温（°C）",
  issuePaperCode: "同时打印纸质健康码（适用于没有智能手机的人员）",
  register: "提交登记",
  registered: "登记完成",
  paperCode: "纸质健康码",
  paperCard: "纸质健康码卡片",
  print: "打印纸质码",
  paperValidUntil: "纸质码有效期至",
  phoneOptional: "手机号码（选填）",
  newRegistration: "登记下一位",
} as const;

export const ID_TYPES: Record<string, string> = {
  resident_id: "居民身份证",
  passport: "护照",
  hk_macao_permit: "港澳居民来往内地通行证",
  taiwan_permit: "台湾居民来往大陆通行证",
  foreign_permanent_resident: "外国人永久居留身份证",
};

export const DEPENDANT_REASONS: Record<string, string> = {
  minor: "未成年人",
  elderly: "老年人",
  disability: "残疾人或行动不便",
};

export const SYMPTOM_NAMES: Record<string, string> = {
  fever: "发热",
  cough: "咳嗽",
  sore_throat: "咽痛",
  shortness_of_breath: "气促",
  fatigue: "乏力",
  loss_of_taste_or_smell: "嗅觉或味觉减退",
  diarrhoea: "腹泻",
  muscle_ache: "肌肉酸痛",
  headache: "头痛",
  runny_nose: "流涕",
};

export const TEST_NAMES: Record<string, string> = {
  nucleic_acid: "核酸检测",
  igg_antibody: "IgG 抗体检测",
};

export const TEST_RESULTS: Record<string, string> = {
  negative: "阴性",
  positive: "阳性",
};

export const APPEAL_STATUS: Record<string, string> = {
  open: "处理中",
  upheld: "申诉成立",
  dismissed: "申诉未成立",
};

export const STEP_NAMES: Record<string, string> = {
  override_requested: "人工改码申请",
  override_approved: "人工改码已批准",
  override_rejected: "人工改码被驳回",
  appeal_answered: "申诉已答复",
};
