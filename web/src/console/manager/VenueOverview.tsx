/** 场所概况: the venue as registered (masked where the API masks), a note when its
 * registration still lacks the subject credential (补全), and where to go next. */
import { chinaDateTime } from "../../lib/format";
import { currentPath } from "../../lib/router";
import { CREDENTIAL_LABELS, labelOf, VENUE_TYPE_LABELS } from "./labels";
import { Facts, VenueFrame } from "./parts";
import { needsCredential, type Venue } from "./venueForm";

export function VenueOverview({ venueId }: { venueId: string }) {
  const registered = currentPath().includes("registered=1");
  return (
    <VenueFrame venueId={venueId} section="">
      {(venue) => (
        <>
          {registered && (
            <p class="mgr-notice" role="status">
              登记成功。可以在“场所码海报”中预览、打印和下载海报。
            </p>
          )}
          {needsCredential(venue) && (
            <div class="mgr-warning" role="note">
              <strong>登记信息待补全：</strong>尚未登记主体名称或证照。
              <a href={`#/manager/venues/${encodeURIComponent(venue.venue_id)}/edit`}>补全证照信息</a>
            </div>
          )}
          <VenueFacts venue={venue} />
        </>
      )}
    </VenueFrame>
  );
}

function VenueFacts({ venue }: { venue: Venue }) {
  return (
    <Facts
      rows={[
        ["场所编号", <code key="id">{venue.venue_id}</code>],
        ["场所类型", venue.type_label ?? labelOf(VENUE_TYPE_LABELS, venue.type)],
        ["地址", venue.address],
        ["区县代码", venue.region_code],
        ["位置（纬度, 经度）", venue.location ? `${venue.location.lat}, ${venue.location.lng}` : "—"],
        ["功能分区", venue.zone ?? "—"],
        ["门店编号", venue.store_number ?? "—"],
        ["所属综合体", venue.parent_venue_id ? <a key="p" href={`#/manager/venues/${encodeURIComponent(venue.parent_venue_id)}`}>{venue.parent_venue_id}</a> : "—"],
        ["主体名称", venue.subject_name ?? "未登记"],
        ["证照", venue.credential_type ? `${labelOf(CREDENTIAL_LABELS, venue.credential_type)} ${venue.credential_masked ?? ""}` : "未登记"],
        ["负责人手机", venue.manager_phone_masked ?? "—"],
        ["场所码版本", venue.code_generation ? `第 ${venue.code_generation} 版` : "—"],
        ["登记时间", venue.created_at ? chinaDateTime(venue.created_at) : "—"],
      ]}
    />
  );
}
