import type { Session } from "../../lib/auth";
import { chinaDateTime } from "../../lib/format";
import { roleName } from "../../lib/i18n/messages";

/** Who is signed in and until when (decoded from the token for display only). */
export function Account({ session }: { session: Session }) {
  return (
    <dl class="account">
      <dt>用户编号</dt>
      <dd>{session.sub}</dd>
      <dt>身份</dt>
      <dd>{session.roles.map(roleName).join("、")}</dd>
      <dt>所属地区</dt>
      <dd>{session.region ?? "—"}</dd>
      <dt>登录有效至</dt>
      <dd>{chinaDateTime(new Date(session.exp * 1000))}</dd>
    </dl>
  );
}
