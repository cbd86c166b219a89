/** The printable paper code of a person just registered: the card the API drew (brand, masked
 * name and ID, validity beside the QR) as an image, and a print button. The print stylesheet
 * prints only the card. */
import { chinaDate } from "../../lib/format";
import { type PaperCode, paperImageUrl } from "../paper";
import { w } from "../words";

export function PaperCard({ paper }: { paper: PaperCode }) {
  const src = paperImageUrl(paper.png_base64);
  return (
    <section class="paper-code" aria-labelledby="paper-heading">
      <h2 id="paper-heading">{w.paperCode}</h2>
      <div class="print-card">{src && <img src={src} alt={w.paperCard} class="paper-image" />}</div>
      <p>
        {w.paperValidUntil} {chinaDate(paper.expires_at)}
      </p>
      <button type="button" class="primary" onClick={() => window.print()}>
        {w.print}
      </button>
    </section>
  );
}
