"""Error messages in the caller's language: Simplified Chinese by default, English on request.

Every error answer carries a machine-readable ``code`` and ``field`` that never change with the
language; only ``message`` does. ``CATALOGUE`` holds one Chinese sentence per code (``{field}``
in it is replaced by the field's Chinese name from ``FIELD_NAMES``, or the dotted field itself).
The English message is the one the code raised with, since it often carries a detail (a limit,
a date); ``CATALOGUE``'s English is used only when there is none.

The language comes from ``Accept-Language`` (RFC 9110 §12.5.4): the supported language with the
highest q-value wins (``en``, ``en-US``, ``en-GB`` … are English; ``zh``, ``zh-CN``, ``zh-Hans`` …
are Chinese), ties go to the first named; ``q=0`` refuses a language; anything else, a missing
or unreadable header, is Chinese. A code with no entry falls back to a sentence by HTTP status.
"""

from __future__ import annotations

import re
from typing import Final, Literal, NamedTuple

Language = Literal["zh", "en"]

DEFAULT_LANGUAGE: Final[Language] = "zh"
#: ``Content-Language`` of an answer in each language.
CONTENT_LANGUAGE: Final[dict[Language, str]] = {"zh": "zh-CN", "en": "en"}


class Message(NamedTuple):
    zh: str
    en: str


#: Chinese names of the fields error answers name (the last segment of a dotted field).
FIELD_NAMES: Final[dict[str, str]] = {
    "name": "姓名",
    "id_number": "证件号码",
    "id_type": "证件类型",
    "nationality": "国籍",
    "phone": "手机号码",
    "manager_phone": "负责人手机号码",
    "address": "地址",
    "region_code": "行政区划代码",
    "declaration": "健康申报",
    "symptoms": "症状",
    "temperature": "体温",
    "travel": "旅居史",
    "left_at": "离开时间",
    "contact_with_case": "病例接触史",
    "dependant": "代办（被监护人）",
    "dependant_reason": "代办原因",
    "assisted": "代为申领",
    "link_code": "关联码",
    "residence": "居住地",
    "building": "楼栋单元",
    "venue_id": "场所编号",
    "checkpoint_id": "核验点编号",
    "code": "码",
    "venue_code": "场所码",
    "person_id": "人员编号",
    "reason": "理由",
    "reason_code": "原因代码",
    "status": "状态",
    "colour": "颜色",
    "risk_level": "风险等级",
    "until": "截止时间",
    "diagnosed_at": "确诊时间",
    "sampled_at": "采样时间",
    "result": "检测结果",
    "results": "检测结果",
    "test": "检测项目",
    "location": "位置",
    "credential_type": "证照类型",
    "credential_number": "证照号码",
    "subject_name": "主体名称",
    "type": "类型",
    "parent_venue_id": "上级场所",
    "zone": "功能分区",
    "store_number": "门店编号",
    "join_code": "入驻码",
    "companions": "同行人员",
    "cursor": "分页游标",
    "limit": "每页条数",
    "date": "日期",
    "from": "开始时间",
    "to": "结束时间",
    "sub": "账号",
    "kind": "类型",
    "note": "备注",
    "outcome": "处理结果",
    "level": "风险等级",
    "format": "格式",
    "changes": "修改内容",
    "now": "时间",
    "credit_code": "统一社会信用代码",
    "entities": "市场主体",
    "regions": "行政区划",
    "population": "人口数",
}

#: One entry per error code the service raises (a unit test walks the source for codes).
CATALOGUE: Final[dict[str, Message]] = {
    # -- generic, by status (errors.py defaults) --------------------------------------------------
    "bad_request": Message("请求无效。", "the request is not valid"),
    "unauthorized": Message("未登录或登录已失效，请重新登录。", "sign in first"),
    "forbidden": Message("无权进行此操作。", "not allowed"),
    "not_found": Message("未找到请求的内容。", "not found"),
    "conflict": Message("请求与当前数据冲突，请刷新后重试。", "the request conflicts with the current state"),
    "payload_too_large": Message("请求内容过大。", "the request body is too large"),
    "invalid_input": Message("{field}填写有误，请检查后重试。", "a value is not valid"),
    "throttled": Message("请求过于频繁，请稍后再试。", "too many requests"),
    "rate_limited": Message("操作次数已达上限，请稍后再试。", "this account reached its limit; try later"),
    "route_not_found": Message("请求的接口不存在。", "no such route"),
    "internal_error": Message("服务暂时不可用，请稍后再试。", "internal error"),
    # -- request shape --------------------------------------------------------------------------
    "invalid_json": Message("请求内容不是有效的 JSON 对象。", "the body is not a JSON object"),
    "unknown_field": Message("表单中没有“{field}”这一项。", "unknown field"),
    "missing_field": Message("请填写{field}。", "a required field is missing"),
    "invalid_type": Message("{field}的数据类型不正确。", "wrong type"),
    "invalid_format": Message("导出格式只能是 json 或 csv。", "format must be json or csv"),
    "invalid_idempotency_key": Message(
        "Idempotency-Key 须为 1 至 128 个可见 ASCII 字符。", "invalid Idempotency-Key"
    ),
    "idempotency_key_reused": Message(
        "该 Idempotency-Key 已用于另一请求。", "this Idempotency-Key was used for another request"
    ),
    "idempotency_conflict": Message("同一请求重试过快，请稍后再试。", "retried too fast; try again"),
    "invalid_cursor": Message("分页游标无效，请从第一页重新查询。", "invalid cursor"),
    "invalid_next": Message("分页标记无效，请从第一页重新查询。", "invalid next token"),
    "invalid_limit": Message("每页条数须为 1 至该列表上限之间的整数。", "invalid limit"),
    "invalid_date": Message("{field}不是有效的日期。", "invalid date"),
    "invalid_time": Message(
        "{field}须为带时区的 ISO 8601 时间，如 2022-05-18T10:00:00+08:00。", "invalid time"
    ),
    "concurrent_update": Message("数据已被同时修改，请重新提交。", "changed meanwhile; try again"),
    "concurrent_change": Message("数据已被同时修改，请重试。", "changed meanwhile; try again"),
    # -- people and documents -------------------------------------------------------------------
    "invalid_name": Message("姓名填写有误，请按证件上的姓名填写。", "invalid name"),
    "invalid_id_number": Message("证件号码有误，请核对后重新输入。", "invalid ID number"),
    "invalid_id_type": Message(
        "证件类型有误，可选：居民身份证、护照、港澳居民来往内地通行证、台湾居民来往大陆通行证、外国人永久居留身份证。",
        "invalid document type",
    ),
    "invalid_nationality": Message(
        "国籍须为护照上印制的三位字母国家代码（ISO 3166-1），如 CHN、USA。", "invalid nationality"
    ),
    "nationality_not_allowed": Message("仅护照需要填写国籍。", "nationality is for passports only"),
    "invalid_phone": Message("手机号码有误，请输入 11 位中国大陆手机号。", "invalid mobile number"),
    "phone_required": Message("请填写手机号码；没有手机的人员请由工作人员代为申领。", "phone is required"),
    "invalid_address": Message("地址填写有误，请填写完整的居住地址。", "invalid address"),
    "invalid_building": Message("楼栋单元填写有误。", "invalid building"),
    "invalid_region_code": Message("{field}不是现行有效的行政区划代码。", "invalid region code"),
    "region_too_coarse": Message("请选择到区县一级的行政区划。", "choose the county"),
    "invalid_temperature": Message("体温数值超出合理范围。", "invalid temperature"),
    "unknown_symptom": Message("症状不在可申报的范围内。", "unknown symptom"),
    "too_many_trips": Message("旅居史条目过多。", "too many trips"),
    "travel_in_future": Message("离开时间不能晚于当前时间，请申报已发生的行程。", "trip in the future"),
    "not_a_dependant": Message(
        "被代办人须为未成年人或 60 岁以上老人；其他成年人请说明代办原因或自行申领。", "not a dependant"
    ),
    "invalid_dependant_reason": Message(
        "代办原因须为：未成年（minor）、老年（elderly）或残障（disability）。", "invalid dependant reason"
    ),
    "dependant_reason_required": Message(
        "为成年人代办健康码须说明代办原因（老年或残障）。", "an adult dependant needs a dependant_reason"
    ),
    "identity_mismatch": Message("姓名与该证件号码登记的姓名不一致。", "the name does not match"),
    "person_exists": Message("该人员已登记。", "the person exists"),
    "person_not_found": Message("未找到该人员。", "person not found"),
    "person_required": Message("请提供人员编号或证件号码（二选一）。", "give person_id or id_number"),
    "duplicate_person": Message("同一人员在一次核验中只能登记一次。", "each person checks in once"),
    "invalid_person_id": Message("人员编号格式有误。", "invalid person id"),
    "personal_data_in_text": Message(
        "{field}中不能包含证件号码或手机号码（该内容会记入审计记录）。", "no ID or phone numbers in text"
    ),
    # -- personal codes -------------------------------------------------------------------------
    "code_not_found": Message("未找到该健康码。", "no such code"),
    "managed_by_another_account": Message(
        "该证件号码的健康码由其他账号管理，请向该账号索取关联码。", "managed by another account"
    ),
    "own_code_exists": Message(
        "本账号已有本人健康码，为他人申领请选择代办。", "this account already has its own code"
    ),
    "too_many_dependants": Message("本账号代办的健康码数量已达上限。", "too many dependants"),
    "invalid_link_code": Message("关联码无效，请向管理该健康码的账号确认。", "invalid link code"),
    "link_code_expired": Message("关联码已过期，请重新获取。", "the link code has expired"),
    "no_paper_code": Message("尚未签发纸质码，或纸质码已过期。", "no paper code"),
    "invalid_reason": Message("{field}须为 1 至 500 个字符，且不含控制字符。", "invalid reason"),
    "nothing_to_appeal": Message("绿码无需申诉。", "a green code has nothing to appeal"),
    "appeal_not_found": Message("未找到该申诉。", "appeal not found"),
    "code_expired": Message("码已过期，请刷新后重新出示。", "the code has expired"),
    "invalid_code": Message("无法识别该码，请出示有效的健康码。", "invalid code"),
    # -- staff and checkpoints ------------------------------------------------------------------
    "forbidden_role": Message("当前账号的角色无权进行此操作。", "this role may not do this"),
    "not_assigned": Message("您未被指派到该核验点，无法在此登记。", "not assigned to this checkpoint"),
    "outside_area": Message("该对象不在您的管辖区域内。", "outside your area"),
    "own_acts_only": Message(
        "卫生健康工作人员只能查询本人的操作记录；其他账号的操作记录由管理员查询。",
        "officials read their own acts only",
    ),
    "invalid_subject": Message(
        "查询对象须为人员编号（p-…）、场所编号（v-…）或 person#…、venue#…、account#… 形式。",
        "invalid subject",
    ),
    "invalid_actor": Message("操作人须为有效的账号编号。", "invalid actor"),
    "invalid_query": Message(
        "请在查询对象（subject）与操作人（actor）中二选一填写。", "give subject or actor"
    ),
    "alert_not_found": Message("未找到该预警。", "alert not found"),
    "alert_already_acknowledged": Message("该预警已被处置确认，无需重复确认。", "alert already acknowledged"),
    "invalid_verdict": Message("核验结论取值有误。", "invalid verdict"),
    "invalid_sub": Message("账号标识格式有误。", "invalid account id"),
    "checkpoint_needs_official": Message(
        "道路卡口须由卫生健康部门工作人员登记。", "an official registers it"
    ),
    "not_your_person": Message("只能为本人及本人代办的人员登记。", "yourself and your dependants only"),
    "invalid_companions": Message("同行人员填写有误。", "invalid companions"),
    "too_many_companions": Message("同行人员过多。", "too many companions"),
    # -- venues ---------------------------------------------------------------------------------
    "venue_not_found": Message("未找到该场所。", "venue not found"),
    "venue_exists": Message("该场所已登记。", "the venue exists"),
    "invalid_venue_code": Message("场所码无效，请扫描场所张贴的最新场所码。", "invalid venue code"),
    "invalid_venue_type": Message("场所类型有误。", "invalid venue type"),
    "invalid_location": Message("位置坐标有误。", "invalid location"),
    "location_mismatch": Message("您当前的位置离该场所过远，请在场所现场扫码。", "too far from the venue"),
    "not_venue_manager": Message("只有场所负责人可以进行此操作。", "not the venue's manager"),
    "not_parent_manager": Message("只有上级场所的负责人可以登记其下属场所。", "not the parent's manager"),
    "region_outside_province": Message("该行政区划不属于本省。", "the region is outside the province"),
    "invalid_venue_id": Message("场所编号格式有误。", "invalid venue id"),
    "invalid_subject_name": Message("主体名称填写有误。", "invalid subject name"),
    "parent_not_found": Message("未找到上级场所。", "parent venue not found"),
    "parent_outside_province": Message("未找到上级场所。", "parent venue not found"),
    "phone_has_venue": Message(
        "该手机号码已申领场所码（每个手机号码限一个）。", "this phone holds a venue code"
    ),
    "applicant_code_required": Message(
        "申领场所码须持有绿色健康码，请先申领本人健康码。", "apply for your own code first"
    ),
    "applicant_not_green": Message("申领场所码须持有绿色健康码。", "a green code is needed"),
    "invalid_credential": Message("证照号码有误，请核对后重新输入。", "invalid credential number"),
    "invalid_credential_type": Message("证照类型有误。", "invalid credential type"),
    "credential_type_mismatch": Message(
        "证照类型与场所类型不符：交通工具以车牌号登记，道路卡口以主管单位的统一社会信用代码或营业执照登记。",
        "the credential type does not fit the venue type",
    ),
    "invalid_zone": Message("功能分区填写有误（1至50个字符）。", "invalid zone"),
    "invalid_store_number": Message("门店编号填写有误（1至32个字符）。", "invalid store number"),
    "empty_change": Message("请至少填写一项要修改的内容。", "name at least one field to change"),
    "invalid_join_code": Message(
        "入驻码无效，请向上级场所（如商场）负责人索取本场所的入驻码。", "invalid join code"
    ),
    "join_code_expired": Message("入驻码已过期，请向上级场所负责人重新索取。", "the join code has expired"),
    "join_code_used": Message("该入驻码已被使用（一码仅限一个门店）。", "the join code has been used"),
    "venue_changed": Message("场所信息正在被修改，请稍后重试。", "the venue is being changed: try again"),
    "venue_closed": Message("该场所已注销。", "the venue is closed"),
    "venue_code_revoked": Message(
        "该场所码已更换，请扫描场所张贴的最新场所码。",
        "this venue code was replaced: scan the current poster",
    ),
    "parent_closed": Message("上级场所已注销，不能在其下登记场所。", "the parent venue is closed"),
    # -- officials ------------------------------------------------------------------------------
    "case_not_found": Message("未找到该病例。", "case not found"),
    "status_unchanged": Message("病例已是该状态。", "the case already has this status"),
    "case_closed": Message(
        "该病例已康复出院或已排除，不能再变更；新的病例请另行报告。", "the case is closed"
    ),
    "invalid_status_change": Message("病例状态不能这样变更。", "this status change is not allowed"),
    "invalid_status": Message("状态取值有误。", "invalid status"),
    "invalid_diagnosed_at": Message("确诊时间有误。", "invalid diagnosis time"),
    "diagnosed_in_future": Message("确诊时间不能晚于当前时间。", "diagnosed in the future"),
    "invalid_results": Message("检测结果填写有误。", "invalid results"),
    "too_many_results": Message("一次提交的检测结果过多。", "too many results"),
    "invalid_colour": Message("颜色取值有误，可选：绿、黄、橙、红。", "invalid colour"),
    "ambiguous_colour": Message("该颜色对应多个风险等级，请同时给出风险等级。", "give risk_level"),
    "invalid_level": Message("风险等级取值有误。", "invalid level"),
    "invalid_risk_level": Message("风险等级取值有误。", "invalid risk level"),
    "invalid_reason_code": Message("原因代码有误。", "invalid reason code"),
    "invalid_until": Message("截止时间有误，须晚于当前时间。", "invalid until"),
    # -- quarantine, residence, whitelist (province rules) ---------------------------------------
    "invalid_quarantine_kind": Message("隔离方式取值有误，可选：集中、居家。", "invalid quarantine kind"),
    "invalid_from": Message("开始时间有误，须为带时区的时间，且最迟为 7 天后。", "invalid from"),
    "unknown_venue": Message("居住场所须为已登记的小区或村（居）。", "not a registered residential venue"),
    "whitelist_not_in_policy": Message("本省未设白名单。", "this province keeps no whitelist"),
    "invalid_outcome": Message("处理结果取值有误。", "invalid outcome"),
    "invalid_answer": Message("答复内容须为 1 至 500 个字符。", "invalid answer"),
    "invalid_evidence_ref": Message("证据编号格式有误。", "invalid evidence reference"),
    "invalid_note": Message("备注内容有误。", "invalid note"),
    "override_exists": Message("该人工调整编号已被使用。", "this override id is taken"),
    "override_not_found": Message("未找到该人工调整。", "override not found"),
    "override_expired": Message("该人工调整已过期。", "the override has expired"),
    "request_not_found": Message("未找到该待审批事项。", "request not found"),
    "already_decided": Message("该事项已被审批。", "already decided"),
    "cannot_approve_own": Message(
        "不能审批自己发起的事项，须由另一名工作人员审批。", "approve another's act"
    ),
    # -- registers and indicators ----------------------------------------------------------------
    "invalid_credit_code": Message(
        "统一社会信用代码有误，请核对（18 位，含两位校验码）。", "invalid unified social credit code"
    ),
    "invalid_entity_name": Message("市场主体名称须为 1 至 200 个字符，不含控制字符。", "invalid entity name"),
    "invalid_entity_type": Message(
        "市场主体类型取值有误，可选：企业、个体工商户、农民专业合作社、其他。", "invalid entity type"
    ),
    "duplicate_credit_code": Message("该统一社会信用代码在本次上传中重复出现。", "credit code given twice"),
    "invalid_row": Message("该行格式有误。", "invalid row"),
    "invalid_csv": Message(
        "CSV 文件须为 UTF-8 编码，首行为 credit_code,name,region_code,type。", "invalid CSV"
    ),
    "too_many_rows": Message("一次上传的行数过多，请分批上传。", "too many rows"),
    "invalid_population": Message("人口数须为 0 至 2 亿之间的整数。", "invalid population"),
    "duplicate_region_code": Message("同一行政区划在本次提交中重复出现。", "region given twice"),
    "invalid_range": Message("开始日期不能晚于结束日期。", "from is after to"),
    "range_too_long": Message("统计时段最长 31 天。", "the span is too long"),
}

#: By HTTP status: the sentence for a code with no entry.
_BY_STATUS: Final[dict[int, str]] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "payload_too_large",
    422: "invalid_input",
    429: "throttled",
}

_LANGUAGE_RANGE = re.compile(
    r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]{1,5}))?\s*$"
)


def language_of(accept_language: str | None) -> Language:
    """The answer's language for an ``Accept-Language`` header (see the module docstring)."""
    if not accept_language or len(accept_language) > 1000:
        return DEFAULT_LANGUAGE
    best: tuple[float, Language] | None = None
    for part in accept_language.split(",")[:50]:
        matched = _LANGUAGE_RANGE.match(part)
        if matched is None:
            continue
        tag, raw_q = matched.group(1).lower(), matched.group(2)
        try:
            q = 1.0 if raw_q is None else float(raw_q)
        except ValueError:
            continue
        if not 0 < q <= 1:
            continue
        primary = tag.split("-", 1)[0]
        language: Language | None = "en" if primary == "en" else "zh" if primary in ("zh", "*") else None
        if language is not None and (best is None or q > best[0]):
            best = (q, language)
    return DEFAULT_LANGUAGE if best is None else best[1]


def field_name(field: str | None) -> str:
    """The Chinese name of a (dotted) field, or the field itself when it has none."""
    if not field:
        return ""
    segments = [segment for segment in field.split(".") if not segment.isdigit()]
    last = segments[-1] if segments else field
    return FIELD_NAMES.get(last, field)


def entry(code: str, status: int = 400) -> Message:
    """The catalogue entry of ``code``; for a code with no entry, the one of its status."""
    found = CATALOGUE.get(code)
    if found is not None:
        return found
    return CATALOGUE[_BY_STATUS.get(status, "bad_request")]


def render(
    code: str, *, language: Language, english: str | None = None, field: str | None = None, status: int = 400
) -> str:
    """The message of an error in ``language``: the catalogue's Chinese sentence (with the field's
    name), or the English the error was raised with (the catalogue's when there is none)."""
    message = entry(code, status)
    if language == "en":
        return english or message.en
    named = field_name(field) or "输入内容"
    return message.zh.replace("{field}", named)
