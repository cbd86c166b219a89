/** Bars as plain SVG (no chart library, nothing fetched): a title for screen readers and the
 * numbers in a visually hidden table beside it. */
export interface Bar {
  label: string;
  value: number;
}

export function BarChart({ title, bars, width = 640, height = 220 }: { title: string; bars: Bar[]; width?: number; height?: number }) {
  const top = Math.max(1, ...bars.map((b) => b.value));
  const gap = 4;
  const bottom = 24;
  const barWidth = bars.length ? (width - gap * (bars.length - 1)) / bars.length : width;
  return (
    <figure class="bar-chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={title}>
        {bars.map((bar, i) => {
          const h = ((height - bottom - 14) * bar.value) / top;
          const x = i * (barWidth + gap);
          return (
            <g key={bar.label}>
              <rect x={x} y={height - bottom - h} width={barWidth} height={h} class="bar" />
              <text x={x + barWidth / 2} y={height - bottom - h - 3} text-anchor="middle" class="bar-value">
                {bar.value}
              </text>
              <text x={x + barWidth / 2} y={height - 6} text-anchor="middle" class="bar-label">
                {bar.label}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption>{title}</figcaption>
      <table class="visually-hidden">
        <caption>{title}</caption>
        <tbody>
          {bars.map((bar) => (
            <tr key={bar.label}>
              <th scope="row">{bar.label}</th>
              <td>{bar.value}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
