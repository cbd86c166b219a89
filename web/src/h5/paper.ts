/** The paper code a manual registration may return: `{token, expires_at, png_base64}`. */
export interface PaperCode {
  token: string;
  expires_at: string;
  png_base64: string;
}

/** The card as a data: URL (the CSP allows data: images); anything but base64 is refused. */
export function paperImageUrl(png: string): string | null {
  const compact = png.replace(/\s+/g, "");
  return compact.length > 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(compact) ? `data:image/png;base64,${compact}` : null;
}
