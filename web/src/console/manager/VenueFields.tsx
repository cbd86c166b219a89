/** The venue form's fields, for registering (every field) and for changing a registration
 * (type, area and complex are fixed: a venue that moved is registered anew). Each field shows
 * the API's message when the API names it. */
import { useState } from "preact/hooks";
import { Field, fieldError } from "../../lib/components/Field";
import { CREDENTIAL_LABELS, credentialTypesFor, MANAGER_VENUE_TYPES, VENUE_TYPE_LABELS } from "./labels";
import type { VenueFormValues } from "./venueForm";

export const FORM_FIELDS = [
  "name",
  "type",
  "subject_name",
  "credential_type",
  "credential_number",
  "region_code",
  "location",
  "address",
  "manager_phone",
  "zone",
  "store_number",
  "parent_venue_id",
  "join_code",
] as const;

type Update = (changes: Partial<VenueFormValues>) => void;

export function VenueFields(props: {
  values: VenueFormValues;
  onChange: (values: VenueFormValues) => void;
  error: unknown;
  mode: "register" | "edit";
  /** In edit mode: what the API shows masked (hints beside the write-only fields). */
  masked?: { phone: string | null; credential: string | null };
}) {
  const { values, error, mode } = props;
  const update: Update = (changes) => {
    const next = { ...values, ...changes };
    if (changes.type !== undefined) {
      const allowed = credentialTypesFor(next.type);
      if (!allowed.includes(next.credential_type)) next.credential_type = allowed.length === 1 ? allowed[0] : "";
    }
    props.onChange(next);
  };
  const set = (name: keyof VenueFormValues, value: string) => update({ [name]: value });
  const vehicle = values.type === "vehicle";
  const input = (name: keyof VenueFormValues, label: string, extra: { hint?: string; inputMode?: "numeric" | "tel"; autocomplete?: string } = {}) => (
    <Field name={name} label={label} error={error} hint={extra.hint}>
      {(a) => (
        <input {...a} value={values[name]} inputMode={extra.inputMode} autocomplete={extra.autocomplete ?? "off"} onInput={(e) => set(name, e.currentTarget.value)} />
      )}
    </Field>
  );
  return (
    <>
      <fieldset class="mgr-fieldset">
        <legend>场所</legend>
        <div class="mgr-grid">
          {input("name", vehicle ? "车辆名称（如线路或车队）" : "场所名称", { hint: "印在海报上，最多 50 字" })}
          {mode === "register" ? (
            <Field name="type" label="场所类型" error={error}>
              {(a) => (
                <select {...a} value={values.type} onChange={(e) => set("type", e.currentTarget.value)}>
                  <option value="">请选择</option>
                  {MANAGER_VENUE_TYPES.map((type) => (
                    <option key={type} value={type}>
                      {VENUE_TYPE_LABELS[type]}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          ) : null}
          {mode === "register" ? input("region_code", "所在区县（行政区划代码）", { inputMode: "numeric", hint: "6 位数字，如 520102" }) : null}
          {input("address", vehicle ? "车场地址" : "地址", { hint: "印在海报上" })}
          {input("zone", "功能分区（选填）")}
          {input("store_number", "门店编号（选填）")}
        </div>
        <Location values={values} update={update} error={error} vehicle={vehicle} />
      </fieldset>
      <fieldset class="mgr-fieldset">
        <legend>主体与证照</legend>
        <div class="mgr-grid">
          {input("subject_name", vehicle ? "车辆所有人或运营单位" : "主体名称（单位或个体经营者）")}
          <Field name="credential_type" label="证照类型" error={error}>
            {(a) => (
              <select {...a} value={values.credential_type} onChange={(e) => set("credential_type", e.currentTarget.value)}>
                <option value="">请选择</option>
                {credentialTypesFor(values.type).map((kind) => (
                  <option key={kind} value={kind}>
                    {CREDENTIAL_LABELS[kind]}
                  </option>
                ))}
              </select>
            )}
          </Field>
          {input("credential_number", vehicle ? "车牌号" : "证照号码", {
            hint: mode === "edit" ? `当前：${props.masked?.credential ?? "未登记"}；留空表示不修改` : vehicle ? "如 贵A12345，新能源车 8 位" : undefined,
          })}
          {input("manager_phone", "负责人手机号", {
            inputMode: "tel",
            autocomplete: "tel",
            hint: mode === "edit" ? `当前：${props.masked?.phone ?? "—"}；留空表示不修改` : undefined,
          })}
        </div>
      </fieldset>
      {mode === "register" && (
        <fieldset class="mgr-fieldset">
          <legend>门店入驻综合体（选填）</legend>
          <p class="mgr-muted">商场、园区内的门店：填写综合体的场所编号和综合体管理员给您的入驻码。</p>
          <div class="mgr-grid">
            {input("parent_venue_id", "综合体场所编号")}
            {input("join_code", "入驻码")}
          </div>
        </fieldset>
      )}
    </>
  );
}

/** Latitude and longitude side by side, one error for both (the API names `location`), and a
 * button taking the device's position (the guides ask for a fix on site). */
function Location(props: { values: VenueFormValues; update: Update; error: unknown; vehicle: boolean }) {
  const [locating, setLocating] = useState<string | null>(null);
  const message = fieldError(props.error, "location");
  const locate = () => {
    if (!("geolocation" in navigator)) {
      setLocating("此浏览器无法获取位置，请手动填写。");
      return;
    }
    setLocating("正在获取位置…");
    navigator.geolocation.getCurrentPosition(
      (position) => {
        props.update({ lat: position.coords.latitude.toFixed(6), lng: position.coords.longitude.toFixed(6) });
        setLocating("已填入当前位置。");
      },
      () => setLocating("无法获取位置，请手动填写。"),
      { enableHighAccuracy: true, timeout: 10_000 },
    );
  };
  return (
    <fieldset class={`mgr-location${message ? " field-invalid" : ""}`} aria-describedby={message ? "field-location-error" : undefined}>
      <legend>{props.vehicle ? "车辆停放点（车场）位置" : "场所位置"}</legend>
      <div class="field">
        <label for="field-lat">纬度</label>
        <input id="field-lat" name="lat" inputMode="decimal" value={props.values.lat} aria-invalid={Boolean(message)} onInput={(e) => props.update({ lat: e.currentTarget.value })} />
      </div>
      <div class="field">
        <label for="field-lng">经度</label>
        <input id="field-lng" name="lng" inputMode="decimal" value={props.values.lng} aria-invalid={Boolean(message)} onInput={(e) => props.update({ lng: e.currentTarget.value })} />
      </div>
      <button type="button" onClick={locate}>
        使用当前位置
      </button>
      {locating && <span class="mgr-muted" role="status">{locating}</span>}
      {message && (
        <p class="field-error" id="field-location-error">
          {message}
        </p>
      )}
    </fieldset>
  );
}
