import { bucketLabel, type DistributionBucket, histogramLayout, type TimelinessFigures, timelinessScale } from "./charts";
import { duration } from "./dates";

const WIDTH = 1120;
const LEFT = 150;
const RIGHT = 30;
const ROW = 30;
const TOP = 36;

/** The distribution of colour-change delays by cause: a line from zero to the longest delay,
 * with marks at the median (circle), the 95th percentile (square) and the maximum (bar), each
 * named in the legend and in the table beneath (the API gives these figures, not raw delays). */
export function TimelinessChart({ rows }: { rows: { label: string; figures: TimelinessFigures }[] }) {
  const scale = timelinessScale(rows.map((r) => r.figures));
  const x = (seconds: number) => LEFT + (seconds / scale.top) * (WIDTH - LEFT - RIGHT);
  const height = TOP + rows.length * ROW + 10;
  const title = `变码及时性分布：各原因的中位数、95 分位数和最长用时（共 ${rows.length} 行）`;
  return (
    <figure class="figure">
      <ul class="legend" aria-label="图例">
        <li>
          <span class="legend-swatch mark-p50-swatch" aria-hidden="true">●</span>绿色圆点：中位数
        </li>
        <li>
          <span class="legend-swatch mark-p95-swatch" aria-hidden="true">■</span>红色方块：95 分位数
        </li>
        <li>
          <span class="legend-swatch mark-max-swatch" aria-hidden="true">|</span>黑色竖线：最长
        </li>
      </ul>
      <svg viewBox={`0 0 ${WIDTH} ${height}`} role="img" aria-label={title}>
        {scale.ticks.map((tick) => (
          <g key={tick}>
            <line class="grid-line" x1={x(tick)} x2={x(tick)} y1={TOP - 8} y2={height} />
            <text class="axis-text" x={x(tick)} y={TOP - 14} text-anchor="middle">
              {duration(tick)}
            </text>
          </g>
        ))}
        {rows.map((row, i) => {
          const y = TOP + i * ROW + ROW / 2;
          const f = row.figures;
          return (
            <g key={row.label}>
              <text class="row-text" x={LEFT - 8} y={y + 4} text-anchor="end">
                {`${row.label}（${f.count}）`}
              </text>
              {f.max_seconds !== null && <line class="range-line" x1={x(0)} x2={x(f.max_seconds)} y1={y} y2={y} />}
              {f.max_seconds !== null && <rect class="mark-max" x={x(f.max_seconds) - 1.5} y={y - 9} width={3} height={18} />}
              {f.p95_seconds !== null && <rect class="mark-p95" x={x(f.p95_seconds) - 5} y={y - 5} width={10} height={10} />}
              {f.p50_seconds !== null && <circle class="mark-p50" cx={x(f.p50_seconds)} cy={y} r={6} />}
            </g>
          );
        })}
      </svg>
      <figcaption>{title}</figcaption>
      <table class="table">
        <caption>变码及时性（用时）</caption>
        <thead>
          <tr>
            <th scope="col">原因</th>
            <th scope="col" class="num">
              次数
            </th>
            <th scope="col" class="num">
              中位数
            </th>
            <th scope="col" class="num">
              95 分位数
            </th>
            <th scope="col" class="num">
              最长
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.label}>
              <th scope="row">{row.label}</th>
              <td class="num">{row.figures.count}</td>
              <td class="num">{duration(row.figures.p50_seconds)}</td>
              <td class="num">{duration(row.figures.p95_seconds)}</td>
              <td class="num">{duration(row.figures.max_seconds)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

const HISTOGRAM = { width: 1120, left: 56, right: 16, top: 30, base: 220, gap: 14 };
const HISTOGRAM_HEIGHT = 250;

/** How long colour changes took, as the API buckets them: one bar per bucket for the first row
 * (all causes), its count written above it and its bound beneath (≤10秒 … >24小时), on a count
 * axis; the table beneath gives every row's count per bucket, so no figure is only drawn. */
export function TimelinessHistogram({ rows }: { rows: { label: string; buckets: DistributionBucket[] }[] }) {
  const [drawn] = rows;
  if (!drawn || drawn.buckets.length === 0) return null;
  const { bars, scale, yOf } = histogramLayout(drawn.buckets, HISTOGRAM);
  const total = drawn.buckets.reduce((sum, b) => sum + b.count, 0);
  const title = `变码用时直方图：${drawn.label}共 ${total} 次变码，按用时分档的次数`;
  return (
    <figure class="figure">
      <svg viewBox={`0 0 ${HISTOGRAM.width} ${HISTOGRAM_HEIGHT}`} role="img" aria-label={title}>
        {scale.ticks.map((tick) => (
          <g key={tick}>
            <line class="grid-line" x1={HISTOGRAM.left} x2={HISTOGRAM.width - HISTOGRAM.right} y1={yOf(tick)} y2={yOf(tick)} />
            <text class="axis-text" x={HISTOGRAM.left - 8} y={yOf(tick) + 4} text-anchor="end">
              {tick}
            </text>
          </g>
        ))}
        <line class="axis-line" x1={HISTOGRAM.left} x2={HISTOGRAM.width - HISTOGRAM.right} y1={HISTOGRAM.base} y2={HISTOGRAM.base} />
        {bars.map((bar) => (
          <g key={bar.label}>
            <rect class="bar" x={bar.x} y={bar.y} width={bar.width} height={bar.height} />
            <text class="row-text histogram-count" x={bar.x + bar.width / 2} y={bar.y - 5} text-anchor="middle">
              {bar.count}
            </text>
            <text class="axis-text histogram-label" x={bar.x + bar.width / 2} y={HISTOGRAM.base + 18} text-anchor="middle">
              {bar.label}
            </text>
          </g>
        ))}
      </svg>
      <figcaption>{title}</figcaption>
      <table class="table">
        <caption>变码用时分布（次数）</caption>
        <thead>
          <tr>
            <th scope="col">用时</th>
            {rows.map((row) => (
              <th scope="col" class="num" key={row.label}>
                {row.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {drawn.buckets.map((bucket, i) => (
            <tr key={bars[i].label}>
              <th scope="row">{bucketLabel(bucket, drawn.buckets)}</th>
              {rows.map((row) => (
                <td class="num" key={row.label}>
                  {row.buckets[i]?.count ?? 0}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
