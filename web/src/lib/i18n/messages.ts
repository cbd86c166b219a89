/** The pages' words, Simplified Chinese. Error texts come from the API (Accept-Language zh-CN);
 * these are the labels the pages themselves show. */
export const ROLE_NAMES: Record<string, string> = {
  citizen: "市民",
  scanner: "卡口工作人员",
  venue_manager: "场所管理员",
  official: "防控工作人员",
  admin: "系统管理员",
  lab: "检测机构",
};

export const COLOUR_NAMES: Record<string, string> = {
  green: "绿码",
  yellow: "黄码",
  orange: "橙码",
  red: "红码",
};

export const t = {
  signIn: "登录",
  signOut: "退出登录",
  signInTitle: "登录健康码",
  role: "身份",
  subject: "用户编号",
  area: "所属地区（行政区划代码）",
  signInWithProvider: "使用统一身份认证登录",
  signingIn: "正在登录…",
  loading: "加载中…",
  retry: "重试",
  myCodes: "我的健康码",
  noCodes: "您还没有健康码。",
  applyForCode: "申领健康码",
  area_label: "地区",
  previous: "上一页",
  next: "下一页",
  required: "请填写此项",
  signInAgain: "登录已失效，请重新登录",
  cameraDenied: "无法打开摄像头，请在浏览器设置中允许使用摄像头",
  signedInAs: "当前身份",
  navigation: "页面导航",
  notForRoleTitle: "此页面不适用于当前身份",
  notForRole: "您当前登录的身份没有可使用的功能。请退出登录后换用其他身份，或前往对应的页面：",
  otherPageH5: "市民及卡口工作人员页面",
  otherPageConsole: "场所管理及防控工作台",
} as const;

export function roleName(role: string): string {
  return ROLE_NAMES[role] ?? role;
}
