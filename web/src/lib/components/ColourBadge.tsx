import { colourHex, colourName, textOn } from "../colour";

/** The colour as a badge: its Chinese name on the colour (never colour alone). */
export function ColourBadge({ colour, display }: { colour: string; display?: { colour_hex?: string } | null }) {
  const background = colourHex(colour, display);
  return (
    <span class="colour-badge" style={{ background, color: textOn(background) }}>
      {colourName(colour)}
    </span>
  );
}
