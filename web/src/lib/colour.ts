/** Colours as the API names them. The hex comes from the API's `display.colour_hex` when the
 * answer has one (the province decides); these are the fallbacks for lists that carry only the
 * colour name. Text on a badge is chosen for at least 4.5:1 contrast. */
import { COLOUR_NAMES } from "./i18n/messages";

const FALLBACK_HEX: Record<string, string> = {
  green: "#1a7f37",
  yellow: "#f2c200",
  orange: "#e06c00",
  red: "#c62828",
};

export function colourName(colour: string): string {
  return COLOUR_NAMES[colour] ?? colour;
}

export function colourHex(colour: string, display?: { colour_hex?: string } | null): string {
  const hex = display?.colour_hex;
  if (hex && /^#[0-9a-fA-F]{6}$/.test(hex)) return hex;
  return FALLBACK_HEX[colour] ?? "#555555";
}

function luminance(hex: string): number {
  const channel = (i: number) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

/** Black or white text, whichever reads better on `hex`. */
export function textOn(hex: string): string {
  const l = luminance(hex);
  return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? "#000000" : "#ffffff";
}
