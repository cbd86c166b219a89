import { t } from "../i18n/messages";

/** Signed cursors (`next_cursor` in list answers): the page keeps the cursors it has been
 * through so "previous" goes back without the API having to sign backward cursors. */
export function Pager(props: { hasPrevious: boolean; nextCursor: string | null | undefined; onPrevious: () => void; onNext: (cursor: string) => void }) {
  return (
    <nav class="pager" aria-label="分页">
      <button type="button" disabled={!props.hasPrevious} onClick={props.onPrevious}>
        {t.previous}
      </button>
      <button type="button" disabled={!props.nextCursor} onClick={() => props.nextCursor && props.onNext(props.nextCursor)}>
        {t.next}
      </button>
    </nav>
  );
}
