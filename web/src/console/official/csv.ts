/** The daily-scans CSV comes in pages (the next page's cursor in `X-Next-Cursor`): the download
 * joins them into one file with the header line once. */

/** Join CSV pages that each start with the same header line; the file starts with a BOM (as the
 * API's pages do, which reading a Blob as text drops) so spreadsheet programs read it as UTF-8. */
export function joinCsvPages(pages: string[]): string {
  if (pages.length === 0) return "";
  const [first, ...rest] = pages.map((page) => page.replace(/^\uFEFF/, ""));
  const lines = [withNewline(first)];
  for (const page of rest) {
    const cut = page.indexOf("\n");
    if (cut >= 0 && page.length > cut + 1) lines.push(withNewline(page.slice(cut + 1)));
  }
  return `\uFEFF${lines.join("")}`;
}

function withNewline(text: string): string {
  return text === "" || text.endsWith("\n") ? text : `${text}\n`;
}

/** The file name the download is saved under. */
export function csvFileName(regionCode: string, date: string): string {
  return `daily-scans-${regionCode}-${date}.csv`;
}
