/** The last 14 days' scans as stacked SVG bars, a segment per code colour; a legend names each
 * colour in words, and the table under the chart gives every number (colour is never the only
 * signal). Drawn from chart.ts's layout; nothing fetched. */
import { colourHex, colourName } from "../../lib/colour";
import { type Box, type DayCount, layoutBars, niceScale, tickY } from "./chart";
import { shortDay } from "./days";

const BOX: Box = { width: 1100, height: 300, left: 48, right: 8, top: 24, bottom: 30, gap: 14 };

function segmentColour(colour: string): string {
  return colour === "other" ? "#767676" : colourHex(colour);
}

function segmentName(colour: string): string {
  return colour === "other" ? "未记录颜色" : colourName(colour);
}

export function DailyChart({ days, title }: { days: DayCount[]; title: string }) {
  const scale = niceScale(Math.max(0, ...days.map((d) => d.scans)));
  const bars = layoutBars(days, scale, BOX);
  const colours = [...new Set(bars.flatMap((b) => b.segments.map((s) => s.colour)))];
  return (
    <figure class="mgr-chart">
      <svg viewBox={`0 0 ${BOX.width} ${BOX.height}`} role="img" aria-label={title}>
        {scale.ticks.map((tick) => {
          const y = tickY(tick, scale, BOX);
          return (
            <g key={tick}>
              <line x1={BOX.left} x2={BOX.width - BOX.right} y1={y} y2={y} class="mgr-grid-line" />
              <text x={BOX.left - 6} y={y + 4} text-anchor="end" class="mgr-axis-text">
                {tick}
              </text>
            </g>
          );
        })}
        {bars.map((bar) => (
          <g key={bar.date}>
            {bar.segments.map((s) => (
              <rect key={s.colour} x={bar.x} y={s.y} width={bar.width} height={s.height} fill={segmentColour(s.colour)}>
                <title>{`${bar.date} ${segmentName(s.colour)} ${s.count} 次`}</title>
              </rect>
            ))}
            <text x={bar.x + bar.width / 2} y={bar.top - 5} text-anchor="middle" class="mgr-axis-text">
              {bar.scans}
            </text>
            <text x={bar.x + bar.width / 2} y={BOX.height - 10} text-anchor="middle" class="mgr-axis-text">
              {shortDay(bar.date)}
            </text>
          </g>
        ))}
        <line x1={BOX.left} x2={BOX.width - BOX.right} y1={BOX.height - BOX.bottom} y2={BOX.height - BOX.bottom} class="mgr-axis-line" />
      </svg>
      <figcaption>
        {title}（纵轴：扫码次数；横轴：日期）
        {colours.length > 0 && (
          <ul class="mgr-legend" aria-label="图例">
            {colours.map((colour) => (
              <li key={colour}>
                <span class="mgr-swatch" style={{ background: segmentColour(colour) }} aria-hidden="true" />
                {segmentName(colour)}
              </li>
            ))}
          </ul>
        )}
      </figcaption>
    </figure>
  );
}
